"""Element attacks that add and delete elements, for models that take inputs of any size (spec ATK.13).

MMCert's threat model (clause S2) lets the attacker, per modality, *modify*, *add* or *delete* at most
``r_i`` elements.  Addition and deletion change the number of elements, so they apply only to models
that accept a variable number of elements (an order-invariant set model, a sequence model with
masking); the fixed-shape reference models cannot take them (``docs/attacks.md``).  The attacked
input's ensemble sub-samples ``k_i`` of its own ``n'_i`` elements (:func:`resized_plan`), as Theorem 1
assumes (clause S3: ``n'_i = n_i + r_i`` for addition, ``n_i - r_i`` for deletion).

:class:`VariableSizeElementAttack`, per restart:

1. deletion modalities: ``r_i`` greedy rounds; each round tries ``candidates`` elements (all when fewer;
   else a seeded random subset) and deletes the one whose removal gives the lowest mean base-model margin
   ``z_A - max_{l != A} z_l`` over ``samples`` sub-samples drawn with the same seed for every candidate
   (common random numbers);
2. addition modalities: ``r_i`` new elements inserted at seeded random positions, values uniform in the box;
   modification modalities: ``r_i`` seeded random positions overwritten with values uniform in the box;
3. the new values (added and modified) by signed-gradient ascent on the mean over fresh sub-samples of
   ``logsumexp_{l != A} z_l - z_A`` (as :class:`~mmcert_verified.attacks.element.GreedyElementAttack`);
4. the candidate's ensemble margin ``(N_A - max_{l != A} N_l) / N`` from ``eval_votes`` votes.

The candidate with the lowest margin is returned (the unattacked input competes).  Every returned input
is in S(M, R): exactly ``r_i`` elements modified, added or deleted per modality.  Deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import Modality, SamplingPlan
from mmcert_verified.threat_model import Attack, Budget, attacked_sizes

from .box_search import random_values, signed_gradient_ascent, untargeted_margin_objective, value_boxes
from .element import ElementAttackResult, element_view, encode_differentiable, ensemble_counts, from_element_view, margin
from .ensemble_search import EnsembleSearch


def resized(m: Modality, x: torch.Tensor) -> Modality:
    """``m`` with the element count of ``x`` (its element dimension resized; everything else must match)."""
    shape = tuple(x.shape)
    if shape == m.shape:
        return m
    if len(shape) != len(m.shape) or len(m.element_dims) != 1 or any(
            a != b for d, (a, b) in enumerate(zip(shape, m.shape)) if d not in m.element_dims):
        raise InvalidParameterError(
            f"modality {m.name!r}: an input of shape {shape} is not the shape {m.shape} with another number "
            f"of elements (variable sizes need exactly one element dimension)")
    return dataclasses.replace(m, shape=shape)


def resized_plan(plan: SamplingPlan, inputs: Sequence[torch.Tensor]) -> SamplingPlan:
    """The plan for ``inputs``: every modality resized to its input's element count, the same k and method."""
    mods = tuple(resized(m, torch.as_tensor(x)) for m, x in zip(plan.modalities, inputs))
    return plan if mods == plan.modalities else SamplingPlan(mods, plan.k, plan.method)


def delete_elements(m: Modality, x: torch.Tensor, positions: Sequence[int]) -> torch.Tensor:
    """``x`` without the elements at ``positions`` (differentiable in the kept values)."""
    view = element_view(m, x)
    keep = torch.ones(view.shape[0], dtype=torch.bool, device=x.device)
    keep[list(positions)] = False
    out = view[keep]
    return from_element_view(dataclasses.replace(m, shape=_shape_with(m, out.shape[0])), out)


def insert_elements(m: Modality, x: torch.Tensor, positions: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``x`` with ``values`` (r, values per element) inserted so that they sit at ``positions`` (sorted, in
    [0, n + r)) of the result; the old elements keep their order (differentiable in x and values)."""
    view = element_view(m, x)
    total = view.shape[0] + values.shape[0]
    is_new = torch.zeros(total, dtype=torch.bool, device=x.device)
    is_new[positions] = True
    # the result's row t is old row (t - #new before t) or new row (#new before t)
    new_rank = torch.cumsum(is_new.to(torch.int64), 0) - is_new.to(torch.int64)
    rows = torch.arange(total, device=x.device)
    index = torch.where(is_new, view.shape[0] + new_rank, rows - new_rank)
    out = torch.cat([view, values.to(view.dtype)], 0)[index]
    return from_element_view(dataclasses.replace(m, shape=_shape_with(m, total)), out)


def _shape_with(m: Modality, n: int) -> tuple[int, ...]:
    shape = list(m.shape)
    shape[m.element_dims[0]] = n
    return tuple(shape)


class VariableSizeElementAttack(EnsembleSearch):
    """Modify, add and delete elements (one attack per modality, from the budget); see the module docstring."""

    DEFAULTS = {"restarts": 4, "steps": 20, "step_size": 0.1, "samples": 64, "candidates": 16, "eval_votes": 200,
                "seed": 0, "boxes": None, "batch_size": 256}

    def __init__(self, model: torch.nn.Module, plan: SamplingPlan, classes: int, **search) -> None:
        super().__init__(model, plan, classes, **search)
        for m in plan.modalities:
            if len(m.element_dims) != 1:
                raise InvalidParameterError(f"modality {m.name!r}: variable sizes need one element dimension")

    def _mean_margin(self, inputs, label: int, seed: int) -> float:
        plan = resized_plan(self.plan, inputs)
        gen = torch.Generator(device=inputs[0].device).manual_seed(seed)
        with torch.no_grad():
            z = self.model(*plan.sample(inputs, gen, self.samples))
        others = torch.cat([z[:, :label], z[:, label + 1:]], dim=1)
        return float((z[:, label] - others.max(dim=1).values).mean())

    def _delete(self, inputs, i: int, r: int, label: int, gen) -> tuple[tuple[torch.Tensor, ...], tuple[int, ...]]:
        m = resized(self.plan.modalities[i], inputs[i])
        current, original = list(inputs), list(range(m.n))
        removed = []
        for _ in range(r):
            mi = resized(m, current[i])
            pool = torch.arange(mi.n) if mi.n <= self.candidates else \
                torch.randperm(mi.n, generator=gen, device=inputs[0].device)[: self.candidates].sort().values
            round_seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=inputs[0].device))
            best = None
            for p in pool.tolist():
                cand = list(current)
                cand[i] = delete_elements(mi, current[i], [p])
                score = self._mean_margin(tuple(cand), label, round_seed)
                if best is None or score < best[0]:
                    best = (score, p, cand)
            _, p, current = best
            removed.append(original.pop(p))
        return tuple(current), tuple(sorted(removed))

    def _refine(self, base, specs, values, label, gen, boxes):
        """Signed-gradient ascent on the expected base-model margin over the added / modified values."""
        def objective(current):
            cand = self._build(base, specs, current)
            plan = resized_plan(self.plan, cand)
            keep = plan.draw(gen, self.samples)
            logits = self.model(*(encode_differentiable(m, c, kp) for m, c, kp in zip(plan.modalities, cand, keep)))
            return untargeted_margin_objective(logits, label)

        return signed_gradient_ascent(values, objective, boxes, self.steps, self.step_size)

    def _build(self, base, specs, values):
        out = []
        for m, x, (kind, pos), val in zip(self.plan.modalities, base, specs, values):
            m = resized(m, x)
            if kind is Attack.ADD and len(pos):
                out.append(insert_elements(m, x, pos, val))
            elif kind is Attack.MODIFY and len(pos):
                view = element_view(m, x).clone()
                view[pos] = val.to(view.dtype)
                out.append(from_element_view(m, view))
            else:
                out.append(x)
        return tuple(out)

    def __call__(self, inputs: Sequence[torch.Tensor], label: int, budget: Budget) -> ElementAttackResult:
        """Attack one input (one tensor per modality, no batch dimension) labelled ``label``; ``positions``
        lists per modality the modified, inserted (in the result) or deleted (in the clean input) elements."""
        attacked_sizes(self.plan.setting, budget)  # the budget must fit: r <= n, n' >= k (clause S3)
        inputs = tuple(torch.as_tensor(x) for x in inputs)
        device = inputs[0].device
        gen = torch.Generator(device=device).manual_seed(self.seed)

        def score(cand) -> float:
            plan = resized_plan(self.plan, cand)
            return margin(ensemble_counts(self.model, plan, cand, self.classes, self.eval_votes, gen,
                                          self.batch_size), label)

        best = ElementAttackResult(inputs, tuple(() for _ in inputs), score(inputs))
        if sum(budget.r) == 0:
            return best
        boxes = value_boxes(self.boxes, inputs)
        for _ in range(self.restarts):
            base, deleted = list(inputs), [()] * len(inputs)
            for i, (r, att) in enumerate(zip(budget.r, budget.attack)):
                if r and att is Attack.DELETE:
                    base_t, deleted[i] = self._delete(tuple(base), i, r, label, gen)
                    base = list(base_t)
            specs, values = [], []
            for m, x, r, att, box in zip(self.plan.modalities, base, budget.r, budget.attack, boxes):
                width = element_view(resized(m, x), x).shape[1]
                n = resized(m, x).n
                if att is Attack.ADD:
                    pos = torch.randperm(n + r, generator=gen, device=device)[:r].sort().values
                elif att is Attack.MODIFY:
                    pos = torch.randperm(n, generator=gen, device=device)[:r].sort().values
                else:
                    pos = torch.zeros(0, dtype=torch.int64, device=device)
                specs.append((att, pos))
                values.append(random_values(box, len(pos), width, gen, x))
            values = self._refine(tuple(base), specs, values, label, gen, boxes)
            with torch.no_grad():
                cand = tuple(t.detach() for t in self._build(tuple(base), specs, values))
            s = score(cand)
            if s < best.estimated_margin:
                positions = tuple(d if att is Attack.DELETE else tuple(int(p) for p in sp[1])
                                  for d, att, sp in zip(deleted, budget.attack, specs))
                best = ElementAttackResult(cand, positions, s)
        return best


__all__ = ["VariableSizeElementAttack", "delete_elements", "insert_elements", "resized", "resized_plan"]
