"""Element (l0) attacks on a segmentation ensemble, aimed at its certified pixels (spec ATK.9).

The threat model is MMCert's modification (clause S2): at most ``r_i`` basic elements of modality
``i`` are overwritten (every value of an element) with values in a box ``[low_i, high_i]``.  Where a
modality's elements are the output's pixels (``m.n`` equals the number of output pixels, row-major --
the road model's RGB and depth), the attack is *local*: each restart picks a **centre** among the
target pixels (the weakest first: lowest clean vote margin, ties broken by a seeded permutation), takes
the ``r_i`` elements nearest to it (Euclidean distance on the pixel grid, ties by index), and optimises
their values by signed-gradient ascent on

    mean over fresh sub-samples of  sum_{target j within `window` of the centre} logsumexp_{l != A_j} z_l(j) - z_{A_j}(j)

(expectation over the ensemble's own randomness, as EOT), projected onto the box.  Other modalities get
random positions.  Among restarts the candidate whose estimated minimum vote margin over *all* target
pixels, ``min_j (N_{A_j}^j - max_{l != A_j} N_l^j) / N``, is lowest wins (the unattacked input competes
too).  Every returned input is in S(M, R) for modification by construction.  Deterministic for a seed
on a given device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import SamplingPlan
from mmcert_verified.sampling.counting import VoteCounter
from mmcert_verified.threat_model import Budget

from .box_search import random_values, signed_gradient_ascent, value_boxes
from .element import check_modify_budget, element_view, encode_differentiable, write_elements
from .ensemble_search import EnsembleSearch


def pixel_counts(model: torch.nn.Module, plan: SamplingPlan, inputs: Sequence[torch.Tensor], classes: int,
                 votes: int, generator: torch.Generator, batch_size: int = 100) -> np.ndarray:
    """(C, *spatial) int64 per-pixel counts of the base model's labels over ``votes`` fresh sub-samples
    (clause V1 per pixel, counted by :class:`~mmcert_verified.sampling.counting.VoteCounter`)."""
    counter = None
    done = 0
    with torch.no_grad():
        while done < votes:
            b = min(batch_size, votes - done)
            logits = model(*plan.sample(inputs, generator, b))
            if counter is None:
                counter = VoteCounter(classes, tuple(logits.shape[2:]), logits.device)
            counter.add_logits(logits, rows=b)
            done += b
    return counter.counts()


def pixel_margins(counts: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per pixel ``(N_{A_j} - max_{l != A_j} N_l) / N`` for the labels ``pred`` (flattened, float64)."""
    flat = counts.reshape(counts.shape[0], -1).astype(np.int64)
    p = pred.reshape(-1).astype(np.int64)
    own = np.take_along_axis(flat, p[None], axis=0)[0]
    others = flat.copy()
    np.put_along_axis(others, p[None], -1, axis=0)
    return (own - others.max(axis=0)) / flat[:, 0].sum() if flat.shape[0] > 1 else np.ones(p.shape)


@dataclass(frozen=True)
class PixelAttackResult:
    """The attacked input, the modified element positions per modality, the pixel the winning restart
    aimed at (None for the unattacked input) and the winner's estimated minimum target margin."""

    inputs: tuple[torch.Tensor, ...]
    positions: tuple[tuple[int, ...], ...]
    centre: int | None
    estimated_min_margin: float


class PixelElementAttack(EnsembleSearch):
    """Local modification attack on the target pixels of a segmentation ensemble (module docstring)."""

    DEFAULTS = {"restarts": 2, "steps": 10, "step_size": 0.1, "samples": 64, "eval_votes": 100, "window": 2,
                "seed": 0, "boxes": None, "batch_size": 100}

    def _positions(self, gen, budget: Budget, centre: int, grid: tuple[int, int], device) -> tuple[torch.Tensor, ...]:
        h, w = grid
        cy, cx = divmod(centre, w)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        dist = ((ys - cy) ** 2 + (xs - cx) ** 2).reshape(-1)
        # stable sort: equal distances keep index order
        nearest = torch.sort(dist, stable=True).indices
        out = []
        for m, r in zip(self.plan.modalities, budget.r):
            if m.n == h * w:
                out.append(nearest[:r].sort().values.to(device))
            else:
                out.append(torch.randperm(m.n, generator=gen, device=device)[:r].sort().values)
        return tuple(out)

    def _refine(self, inputs, positions, values, pred_t, window_mask, gen, boxes):
        def objective(current):
            keep = self.plan.draw(gen, self.samples)
            cand = write_elements(self.plan.modalities, inputs, positions, current)
            logits = self.model(*(encode_differentiable(m, c, kp) for m, c, kp in zip(self.plan.modalities, cand, keep)))
            z = logits.flatten(2)[:, :, window_mask]  # (S, C, J)
            a = pred_t[window_mask]
            own = z.gather(1, a.view(1, 1, -1).expand(z.shape[0], 1, -1)).squeeze(1)
            others = z.scatter(1, a.view(1, 1, -1).expand(z.shape[0], 1, -1), float("-inf"))
            return (torch.logsumexp(others, dim=1) - own).sum(1).mean()

        return signed_gradient_ascent(values, objective, boxes, self.steps, self.step_size)

    def _score(self, candidate, pred, targets, gen) -> float:
        counts = pixel_counts(self.model, self.plan, candidate, self.classes, self.eval_votes, gen, self.batch_size)
        return float(pixel_margins(counts, pred)[targets].min())

    def __call__(self, inputs: Sequence[torch.Tensor], pred, targets, budget: Budget) -> PixelAttackResult:
        """Attack one input (one tensor per modality, no batch dimension) whose ensemble labels are
        ``pred`` (H, W), aiming at the pixels where ``targets`` (H, W, bool) is true, within ``budget``."""
        check_modify_budget(self.plan, budget)
        inputs = tuple(torch.as_tensor(x) for x in inputs)
        pred = np.asarray(pred)
        targets = np.asarray(targets, dtype=bool).reshape(-1)
        if pred.ndim != 2 or targets.size != pred.size:
            raise InvalidParameterError(f"pred must be (H, W) and targets the same size, got {pred.shape}, {targets.size}")
        device = inputs[0].device
        gen = torch.Generator(device=device).manual_seed(self.seed)
        none = tuple(() for _ in inputs)
        if not targets.any():
            return PixelAttackResult(inputs, none, None, float("inf"))
        clean = pixel_counts(self.model, self.plan, inputs, self.classes, self.eval_votes, gen, self.batch_size)
        margins = pixel_margins(clean, pred)
        best = PixelAttackResult(inputs, none, None, float(margins[targets].min()))
        if sum(budget.r) == 0:
            return best
        grid = tuple(pred.shape)
        candidates = np.flatnonzero(targets)
        tie_break = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(self.seed)).numpy()
        order = candidates[np.lexsort((tie_break, margins[candidates]))]
        pred_t = torch.as_tensor(pred.reshape(-1), dtype=torch.int64, device=device)
        ys, xs = np.divmod(np.arange(pred.size), grid[1])
        boxes = value_boxes(self.boxes, inputs)
        for t in range(self.restarts):
            centre = int(order[t % len(order)])
            cy, cx = divmod(centre, grid[1])
            near = (np.abs(ys - cy) <= self.window) & (np.abs(xs - cx) <= self.window) & targets
            window_mask = torch.as_tensor(near, device=device)
            positions = self._positions(gen, budget, centre, grid, device)
            values = [random_values(box, len(pos), element_view(m, x).shape[1], gen, x)
                      for box, m, x, pos in zip(boxes, self.plan.modalities, inputs, positions)]
            values = self._refine(inputs, positions, values, pred_t, window_mask, gen, boxes)
            cand = write_elements(self.plan.modalities, inputs, positions, values)
            score = self._score(cand, pred, targets, gen)
            if score < best.estimated_min_margin:
                best = PixelAttackResult(cand, tuple(tuple(int(p) for p in pos) for pos in positions), centre, score)
        return best


__all__ = ["PixelAttackResult", "PixelElementAttack", "pixel_counts", "pixel_margins"]
