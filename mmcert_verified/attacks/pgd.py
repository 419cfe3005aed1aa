"""Projected gradient descent on a continuous modality (spec ``spec/attacks.md``, clause ATK.1).

Madry et al.'s PGD: from a random start inside the ball (uniform in the l_inf cube; for l2 a
uniform direction with radius ``eps * U^(1/d)``), take ``steps`` steps of size ``alpha`` along the
sign of the gradient (l_inf) or the normalised gradient (l2) of a per-example objective, project
back onto the ball of radius ``eps`` around the clean input and onto the valid range
``[low, high]``.  The objective is *maximised*; the returned input is the iterate with the
highest objective seen (so more steps never return a weaker attack).

Guarantee: every returned example lies in the ball and in the range (up to one float rounding of
the projection), and the same seed, inputs and device give the same output.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import torch

from mmcert_verified.errors import InvalidParameterError

Objective = Callable[[torch.Tensor], torch.Tensor]


class Norm(str, enum.Enum):
    """The perturbation ball."""

    LINF = "linf"
    L2 = "l2"


def _flat_norm(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).norm(dim=1).view(-1, *([1] * (x.dim() - 1)))


def project(delta: torch.Tensor, norm: Norm, eps: float) -> torch.Tensor:
    """The projection of each example's ``delta`` onto the ``norm`` ball of radius ``eps``."""
    if norm is Norm.LINF:
        return delta.clamp(-eps, eps)
    scale = (eps / _flat_norm(delta).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


def random_start(shape: torch.Size, norm: Norm, eps: float, generator: torch.Generator, device, dtype) -> torch.Tensor:
    """A uniform random point of the ball (l_inf: the cube; l2: the Euclidean ball)."""
    if norm is Norm.LINF:
        return (torch.rand(shape, generator=generator, device=device, dtype=dtype) * 2 - 1) * eps
    direction = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    direction = direction / _flat_norm(direction).clamp_min(1e-12)
    d = direction[0].numel()
    radius = torch.rand((shape[0],), generator=generator, device=device, dtype=dtype) ** (1.0 / d) * eps
    return direction * radius.view(-1, *([1] * (len(shape) - 1)))


@dataclass(frozen=True)
class PGD:
    """PGD in the ``norm`` ball of radius ``eps`` with ``steps`` steps of size ``alpha``.

    ``attack(x, objective)``: ``x`` (B, ...) clean inputs; ``objective(x_adv)`` returns (B,) values to
    maximise (each example's value may depend only on its own input).  Returns (B, ...) adversarial
    inputs on ``x``'s device.  ``eps = 0`` returns ``x`` unchanged.
    """

    eps: float
    alpha: float
    steps: int
    norm: Norm = Norm.LINF
    random_start: bool = True
    seed: int = 0
    low: float | None = 0.0
    high: float | None = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", Norm(self.norm))
        if not (self.eps >= 0 and self.alpha >= 0):
            raise InvalidParameterError(f"PGD eps and alpha must be non-negative, got {self.eps}, {self.alpha}")
        if self.steps < 0:
            raise InvalidParameterError(f"PGD steps must be non-negative, got {self.steps}")

    def _clip(self, x: torch.Tensor) -> torch.Tensor:
        if self.low is None and self.high is None:
            return x
        return x.clamp(self.low, self.high)

    def __call__(self, x: torch.Tensor, objective: Objective) -> torch.Tensor:
        x = x.detach()
        if self.eps == 0:
            return x.clone()
        generator = torch.Generator(device=x.device).manual_seed(self.seed)
        delta = torch.zeros_like(x)
        if self.random_start:
            delta = random_start(x.shape, self.norm, self.eps, generator, x.device, x.dtype)
        adv = self._clip(x + delta)
        best = adv.clone()
        with torch.no_grad():
            best_value = objective(best).detach()
        for _ in range(self.steps):
            adv = adv.detach().requires_grad_(True)
            value = objective(adv)
            (grad,) = torch.autograd.grad(value.sum(), adv)
            with torch.no_grad():
                if self.norm is Norm.LINF:
                    step = grad.sign()
                else:
                    step = grad / _flat_norm(grad).clamp_min(1e-12)
                adv = self._clip(x + project(adv + self.alpha * step - x, self.norm, self.eps))
                new_value = objective(adv)
                better = new_value > best_value
                shape = (-1, *([1] * (x.dim() - 1)))
                best = torch.where(better.view(shape), adv, best)
                best_value = torch.where(better, new_value, best_value)
        return best.detach()
