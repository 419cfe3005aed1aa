"""The box-constrained value search that the element attacks share (spec ATK.6, ATK.9, ATK.13).

An element attack writes values into the chosen elements of modality ``i`` from a box ``[low_i, high_i]``
(clause S2 says nothing about the values; the box is the attacker's choice).  This module owns that box:

* :func:`default_box` / :func:`value_boxes`: the box per modality (given, or the input's range widened);
* :func:`random_values`: a start uniform in the box;
* :func:`signed_gradient_ascent`: ``steps`` signed-gradient steps of size ``step_size * (high - low)`` on an
  objective, each projected back onto the box.

Every value it returns lies in its modality's box, so the attacked input stays in S(M, R) whatever
positions the caller writes them to.  Deterministic for a generator on a given device.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch


def default_box(x: torch.Tensor) -> tuple[float, float]:
    """The attacker's value box when none is given: the input's range widened by half its width."""
    lo, hi = float(x.min()), float(x.max())
    pad = (hi - lo) / 2 if hi > lo else 1.0
    return lo - pad, hi + pad


def value_boxes(boxes: Sequence[tuple[float, float]] | None, inputs: Sequence[torch.Tensor]) -> list[tuple[float, float]]:
    """The box of each modality: ``boxes[i]`` when given, else :func:`default_box` of input ``i``."""
    return [boxes[i] if boxes is not None else default_box(x) for i, x in enumerate(inputs)]


def random_values(box: tuple[float, float], count: int, width: int, generator: torch.Generator,
                  like: torch.Tensor) -> torch.Tensor:
    """(count, width) values uniform in ``box``, on ``like``'s device and dtype."""
    lo, hi = box
    return lo + (hi - lo) * torch.rand((count, width), generator=generator, device=like.device, dtype=like.dtype)


def signed_gradient_ascent(values: Sequence[torch.Tensor], objective: Callable[[list[torch.Tensor]], torch.Tensor],
                           boxes: Sequence[tuple[float, float]], steps: int, step_size: float) -> list[torch.Tensor]:
    """``steps`` rounds of ``v <- clamp(v + step_size * (hi - lo) * sign(d objective / d v), lo, hi)`` per
    modality (a value with no gradient does not move); stops early when no modality has values.

    ``objective(values)`` returns the scalar to raise; it is called once per step (it may draw fresh
    sub-samples).  Returns detached copies; the inputs are not changed.
    """
    values = [v.clone() for v in values]
    for _ in range(steps):
        if not any(v.numel() for v in values):
            break
        for v in values:
            v.requires_grad_(True)
        total = objective(values)
        used = [v for v in values if v.numel()]
        grads = iter(torch.autograd.grad(total, used, allow_unused=True))
        with torch.no_grad():
            new = []
            for v, (lo, hi) in zip(values, boxes):
                if v.numel() == 0:
                    new.append(v.detach())
                    continue
                g = next(grads)
                step = torch.zeros_like(v) if g is None else g.sign()
                new.append((v + step_size * (hi - lo) * step).clamp(lo, hi).detach())
            values = new
    return values


def untargeted_margin_objective(logits: torch.Tensor, label: int) -> torch.Tensor:
    """Mean over rows of ``logsumexp_{l != A} z_l - z_A`` for ``logits`` (S, C): what the attacks raise."""
    others = torch.cat([logits[:, :label], logits[:, label + 1:]], dim=1)
    return (torch.logsumexp(others, dim=1) - logits[:, label]).mean()


__all__ = ["default_box", "random_values", "signed_gradient_ascent", "untargeted_margin_objective", "value_boxes"]
