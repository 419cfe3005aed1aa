"""l0 element attacks against a sub-sampled ensemble (MMCert's threat model; spec ``spec/attacks.md``, ATK.6).

The attacker may change at most ``r_i`` basic elements of modality ``i`` (clause S2).  The attacks
here *modify*: they overwrite ``r_i`` elements of each modality (every value of an element, i.e.
all its channels) with values inside a box ``[low_i, high_i]``.  Addition and deletion change the
input's size: :mod:`.variable_size` does them for models that take any number of elements (ATK.13);
the tiny instances of the enumeration oracles (:mod:`mmcert_verified.enumeration`) cover them exhaustively.

* :class:`RandomElementAttack`: ``restarts`` random choices of positions and values; keeps the one
  whose estimated ensemble margin is lowest.
* :class:`GreedyElementAttack`: per restart, random positions, then the values of the chosen elements
  are optimised by signed-gradient ascent on the base model's untargeted margin
  ``logsumexp_{l != A} z_l - z_A`` averaged over fresh sub-samples (expectation over the ensemble's
  own randomness, as EOT), projected onto the box; among restarts (and the random start of each)
  the candidate with the lowest estimated ensemble margin ``(votes_A - max_{l != A} votes_l) / N``
  is returned.

Element positions follow :class:`~mmcert_verified.sampling.Modality` (row-major over
``element_dims``).  The attack only ever writes ``r_i`` elements, so every returned input is in
S(M, R) for modification.  Deterministic for a seed on a given device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import Modality, SamplingPlan
from mmcert_verified.sampling.counting import first_argmax
from mmcert_verified.threat_model import Attack, Budget

from .box_search import default_box, random_values, signed_gradient_ascent, untargeted_margin_objective
from .ensemble_search import EnsembleSearch


def element_view(m: Modality, x: torch.Tensor) -> torch.Tensor:
    """``x`` (shape ``m.shape``) as (n, values per element): a permuted copy, elements first."""
    other = [d for d in range(len(m.shape)) if d not in m.element_dims]
    return x.permute(*m.element_dims, *other).reshape(m.n, -1)


def from_element_view(m: Modality, view: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`element_view`."""
    other = [d for d in range(len(m.shape)) if d not in m.element_dims]
    order = [*m.element_dims, *other]
    shaped = view.reshape([m.shape[d] for d in order])
    inverse = [order.index(d) for d in range(len(m.shape))]
    return shaped.permute(*inverse).contiguous()


def encode_differentiable(m: Modality, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """:meth:`Modality.encode` (clause SAMP.2) for one input ``x`` and masks ``keep`` (B, n), through autograd.

    Equal to ``m.encode(x, keep)`` value for value (tested); ``Modality.encode`` writes into a
    preallocated output and cannot carry gradients.
    """
    batch = keep.shape[0]
    keep_b = keep.reshape(batch, *(s if d in m.element_dims else 1 for d, s in enumerate(m.shape)))
    xb = x.unsqueeze(0).expand(batch, *m.shape)
    values = torch.where(keep_b, xb, torch.tensor(m.ablation.fill, dtype=x.dtype, device=x.device))
    if not m.ablation.mask_channel:
        return values
    dim = 1 + m.channel_dim
    mask_shape = list(values.shape)
    mask_shape[dim] = 1
    return torch.cat([values, keep_b.to(x.dtype).expand(mask_shape)], dim=dim)


def ensemble_counts(model: torch.nn.Module, plan: SamplingPlan, inputs: Sequence[torch.Tensor], classes: int,
                    votes: int, generator: torch.Generator, batch_size: int = 256) -> torch.Tensor:
    """(C,) int64 counts of the base model's labels over ``votes`` fresh sub-samples (clause V1)."""
    counts = torch.zeros(classes, dtype=torch.int64, device=inputs[0].device)
    done = 0
    with torch.no_grad():
        while done < votes:
            b = min(batch_size, votes - done)
            labels = first_argmax(model(*plan.sample(inputs, generator, b)))
            counts += torch.bincount(labels.flatten(), minlength=classes)[:classes]
            done += b
    return counts


def margin(counts: torch.Tensor, label: int) -> float:
    """(votes_A - max_{l != A} votes_l) / N: negative when the ensemble no longer says A."""
    others = torch.cat([counts[:label], counts[label + 1:]])
    return float(counts[label] - others.max()) / float(counts.sum())


def check_modify_budget(plan: SamplingPlan, budget: Budget) -> None:
    """Raise :class:`InvalidParameterError` unless ``budget`` has one entry per modality of ``plan``, only
    modifies, and modifies at most ``n_i`` elements of modality ``i`` (what the fixed-shape attacks can do)."""
    if len(budget.r) != len(plan.modalities):
        raise InvalidParameterError(f"budget {budget.r} does not have one entry per modality")
    for m, r, att in zip(plan.modalities, budget.r, budget.attack):
        if r and att is not Attack.MODIFY:
            raise InvalidParameterError(
                f"modality {m.name!r}: element attacks on torch models modify only (got {att.value})")
        if r > m.n:
            raise InvalidParameterError(f"modality {m.name!r}: cannot modify {r} of {m.n} elements")


def write_elements(modalities: Sequence[Modality], inputs, positions, values) -> tuple[torch.Tensor, ...]:
    """Copies of ``inputs`` with ``values[i]`` (r_i, values per element) written at the elements
    ``positions[i]`` of modality ``i`` (differentiable in the values)."""
    out = []
    for m, x, pos, val in zip(modalities, inputs, positions, values):
        view = element_view(m, x).clone()
        view[pos] = val
        out.append(from_element_view(m, view))
    return tuple(out)


@dataclass(frozen=True)
class ElementAttackResult:
    inputs: tuple[torch.Tensor, ...]
    positions: tuple[tuple[int, ...], ...]
    estimated_margin: float


class _ElementAttack(EnsembleSearch):
    """Shared set-up: the model, its plan, the class count and the search sizes (:class:`EnsembleSearch`)."""

    DEFAULTS = {"restarts": 4, "eval_votes": 200, "seed": 0, "boxes": None, "batch_size": 256}

    def _box(self, i: int, x: torch.Tensor) -> tuple[float, float]:
        return self.boxes[i] if self.boxes is not None else default_box(x)

    def _positions(self, gen: torch.Generator, budget: Budget, device) -> tuple[torch.Tensor, ...]:
        return tuple(torch.randperm(m.n, generator=gen, device=device)[:r].sort().values
                     for m, r in zip(self.plan.modalities, budget.r))

    def _score(self, candidate, label, gen) -> float:
        counts = ensemble_counts(self.model, self.plan, candidate, self.classes, self.eval_votes, gen, self.batch_size)
        return margin(counts, label)

    def _random_values(self, inputs, positions, gen):
        return [random_values(self._box(i, x), len(pos), element_view(m, x).shape[1], gen, x)
                for i, (m, x, pos) in enumerate(zip(self.plan.modalities, inputs, positions))]

    def _refine(self, inputs, positions, values, label, gen):
        return values

    def __call__(self, inputs: Sequence[torch.Tensor], label: int, budget: Budget) -> ElementAttackResult:
        """Attack one input (a tuple with one tensor per modality, no batch dimension) labelled ``label``
        by the ensemble, within ``budget``; returns the attacked input with the lowest estimated margin."""
        check_modify_budget(self.plan, budget)
        inputs = tuple(torch.as_tensor(x) for x in inputs)
        device = inputs[0].device
        gen = torch.Generator(device=device).manual_seed(self.seed)
        best = ElementAttackResult(inputs, tuple(() for _ in inputs), self._score(inputs, label, gen))
        if sum(budget.r) == 0:
            return best
        for _ in range(self.restarts):
            positions = self._positions(gen, budget, device)
            values = self._refine(inputs, positions, self._random_values(inputs, positions, gen), label, gen)
            cand = write_elements(self.plan.modalities, inputs, positions, values)
            score = self._score(cand, label, gen)
            if score < best.estimated_margin:
                best = ElementAttackResult(cand, tuple(tuple(int(p) for p in pos) for pos in positions), score)
        return best


class RandomElementAttack(_ElementAttack):
    """Random positions, random values in the box; the best of ``restarts``."""


class GreedyElementAttack(_ElementAttack):
    """Random positions, values optimised by signed gradient on the expected base-model margin."""

    DEFAULTS = {**_ElementAttack.DEFAULTS, "steps": 20, "step_size": 0.1, "samples": 128}

    def _refine(self, inputs, positions, values, label, gen):
        boxes = [self._box(i, x) for i, x in enumerate(inputs)]

        def objective(current):
            keep = self.plan.draw(gen, self.samples)
            cand = write_elements(self.plan.modalities, inputs, positions, current)
            logits = self.model(*(encode_differentiable(m, c, kp) for m, c, kp in zip(self.plan.modalities, cand, keep)))
            if logits.dim() > 2:  # segmentation: average the margin over the spatial positions
                logits = logits.flatten(2).mean(-1)
            return untargeted_margin_objective(logits, label)

        return signed_gradient_ascent(values, objective, boxes, self.steps, self.step_size)
