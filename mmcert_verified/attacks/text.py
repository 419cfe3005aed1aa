"""Greedy token substitution within a word budget (spec ``spec/attacks.md``, clause ATK.2).

In the spirit of BERT-Attack, over a fixed candidate table instead of a masked language model:
``candidates[t]`` lists the tokens that may replace token ``t`` (for the reference image-text
model, :func:`reference_models.image_text_data.meaning_preserving`: a filler for a filler, a
synonym for an attribute word).  For ``budget`` rounds, every still-unchanged position and every
candidate for it is scored and the single best substitution is applied if it raises the
objective; a position is changed at most once, so at most ``budget`` words differ.

Two guides (:class:`Guide`):

* ``LOSS``: every (position, candidate) substitution is evaluated exactly (one batched forward);
* ``GRADIENT``: substitutions are ranked by the first-order change of the objective, the dot
  product of the gradient on the token embeddings with ``E[c] - E[t]`` (HotFlip), and only the
  ``top`` best are evaluated exactly.

Deterministic: no randomness; ties go to the lowest (position, candidate) index.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from mmcert_verified.errors import InvalidParameterError

#: (tokens (M, L), rows (M,) index of the example each row belongs to) -> (M,) objective to maximise
TokenObjective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: (embeddings (B, L, E), mask (B, L)) -> (B,) the same objective on embedded tokens, for the gradient
EmbeddingObjective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Guide(str, enum.Enum):
    """How candidate substitutions are ranked."""

    LOSS = "loss"
    GRADIENT = "gradient"


def candidate_table(candidates: Sequence[Sequence[int]], device) -> torch.Tensor:
    """(V, C) int64: row t lists token t's replacements, padded with -1."""
    width = max(1, max((len(c) for c in candidates), default=1))
    table = torch.full((len(candidates), width), -1, dtype=torch.int64)
    for t, row in enumerate(candidates):
        if row:
            table[t, : len(row)] = torch.tensor(list(row), dtype=torch.int64)
    return table.to(device)


@dataclass(frozen=True)
class TokenSubstitution:
    """Substitute at most ``budget`` tokens per sequence to maximise an objective.

    ``attack(tokens, objective, embedding_objective=None, embedding=None)``: ``tokens`` (B, L) int64;
    ``objective(variants, rows)`` scores token sequences; for ``Guide.GRADIENT`` also the
    objective on embeddings and the embedding matrix (V, E).  Returns (B, L) adversarial tokens.
    """

    candidates: Sequence[Sequence[int]] = field(repr=False)
    budget: int = 1
    guide: Guide = Guide.LOSS
    top: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "guide", Guide(self.guide))
        if self.budget < 0 or self.top < 1:
            raise InvalidParameterError(f"text attack budget must be >= 0 and top >= 1, got {self.budget}, {self.top}")

    def __call__(self, tokens: torch.Tensor, objective: TokenObjective,
                 embedding_objective: EmbeddingObjective | None = None,
                 embedding: torch.Tensor | None = None) -> torch.Tensor:
        table = candidate_table(self.candidates, tokens.device)
        adv = tokens.clone()
        b, length = tokens.shape
        width = table.shape[1]
        changed = torch.zeros_like(tokens, dtype=torch.bool)
        rows = torch.arange(b, device=tokens.device)
        with torch.no_grad():
            current = objective(adv, rows)
        for _ in range(self.budget):
            cand = table[adv]  # (B, L, C)
            valid = (cand >= 0) & ~changed.unsqueeze(-1)
            if self.guide is Guide.GRADIENT:
                if embedding_objective is None or embedding is None:
                    raise InvalidParameterError("the gradient guide needs the embedding objective and matrix")
                emb = embedding[adv].detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(embedding_objective(emb, adv != 0).sum(), emb)
                delta = embedding[cand.clamp_min(0)] - embedding[adv].unsqueeze(2)  # (B, L, C, E)
                score = (delta * grad.unsqueeze(2)).sum(-1).masked_fill(~valid, float("-inf"))
                keep = min(self.top, length * width)
                chosen = score.flatten(1).topk(keep, dim=1).indices  # (B, keep)
                ok = score.flatten(1).gather(1, chosen) > float("-inf")
            else:
                chosen = torch.arange(length * width, device=tokens.device).expand(b, -1)
                ok = valid.flatten(1)
            pos = chosen // width
            new_tok = cand.flatten(1).gather(1, chosen)
            ex, j = ok.nonzero(as_tuple=True)
            if ex.numel() == 0:
                break
            variants = adv[ex].clone()
            variants[torch.arange(ex.numel(), device=tokens.device), pos[ex, j]] = new_tok[ex, j]
            with torch.no_grad():
                values = objective(variants, ex)
            scores = torch.full(chosen.shape, float("-inf"), device=tokens.device, dtype=values.dtype)
            scores[ex, j] = values
            best_value, best_j = scores.max(dim=1)  # first maximum: lowest index on ties
            improve = best_value > current
            if not improve.any():
                break
            idx = improve.nonzero(as_tuple=True)[0]
            p = pos[idx, best_j[idx]]
            adv[idx, p] = new_tok[idx, best_j[idx]]
            changed[idx, p] = True
            current = torch.where(improve, best_value, current)
        return adv
