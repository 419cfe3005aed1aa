"""Gaussian smoothing of any torch encoder: seeded noise on the model's device, streamed (clause FS.9).

``SmoothedEncoder(encoder, sigma)`` wraps a module (or callable) mapping a batch (B, *shape) to
features (B, m). Its outputs are L2-normalised, so the certified base encoder f is
x -> encoder(x)/||encoder(x)|| as computed (D15). For input ``index`` under ``seed`` the noise
delta_j ~ N(0, sigma^2 I) comes from ``input_generator(seed, index, device)`` (clause SAMP.3), in
batches of ``batch_size``, one draw per sample, so an input's noise depends neither on the other
inputs nor on the batch size (the model's float output may still round differently per batch size).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidParameterError
from ..sampling.seeds import input_generator
from .bound import FCSB, Radius, fcsb, radius
from .estimation import ScoreBound, ScoreStatistics, score_lower, statistics_from_cosines


@dataclass(frozen=True)
class FSResult:
    """Clause FS.2-FS.6 for one input: with probability >= 1 - alpha over the noise, every bound holds."""

    statistics: ScoreStatistics
    alpha: Fraction
    bound: ScoreBound
    score_lower: Fraction
    bounds: tuple[FCSB, ...]
    radius: Radius


def _device_of(module) -> torch.device:
    if isinstance(module, nn.Module):
        for p in module.parameters():
            return p.device
        for b in module.buffers():
            return b.device
    return torch.device("cpu")


class SmoothedEncoder:
    """F(x) = E f(x + delta) for f = normalised ``encoder`` (clause FS.9)."""

    def __init__(self, encoder: Callable[[torch.Tensor], torch.Tensor], sigma: float, batch_size: int = 256,
                 device: torch.device | str | None = None) -> None:
        if not sigma > 0:
            raise InvalidParameterError(f"sigma must be positive, got {sigma}")
        if batch_size < 1:
            raise InvalidParameterError(f"batch_size must be positive, got {batch_size}")
        self.encoder = encoder
        self.sigma = float(sigma)
        self.batch_size = int(batch_size)
        self.device = torch.device(device) if device is not None else _device_of(encoder)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised features of a batch (B, *shape) -> (B, m), float64."""
        out = self.encoder(x.to(self.device)).to(torch.float64)
        norm = out.norm(dim=-1, keepdim=True)
        if (norm == 0).any() or not torch.isfinite(out).all():
            raise InvalidParameterError("the encoder produced a zero or non-finite feature")
        return out / norm

    @torch.no_grad()
    def noisy_features(self, x: torch.Tensor, n: int, seed: int = 0, index: int = 0):
        """Yield normalised features of x + delta_j, j = 0..n-1, in batches (seeded per input)."""
        if n < 1:
            raise InvalidParameterError(f"the number of samples must be positive, got {n}")
        x = x.to(self.device)
        gen = input_generator(seed, index, self.device)
        done = 0
        while done < n:
            b = min(self.batch_size, n - done)
            # one draw per sample, so the stream does not depend on the batch size (torch's CPU randn
            # switches algorithm with the tensor size)
            noise = torch.stack(
                [torch.randn(x.shape, generator=gen, device=self.device, dtype=x.dtype) for _ in range(b)]
            ) * self.sigma
            yield self.features(x.unsqueeze(0) + noise)
            done += b

    def sample_cosines(self, x: torch.Tensor, n: int, seed: int = 0, index: int = 0) -> np.ndarray:
        """c_j = cos(f(x + delta_j), f(x)) clamped to [-1, 1], float64 (clause FS.1)."""
        clean = self.features(x.unsqueeze(0))[0]
        parts = [torch.clamp(f @ clean, -1.0, 1.0).cpu() for f in self.noisy_features(x, n, seed, index)]
        return torch.cat(parts).numpy()

    def smoothed_feature(self, x: torch.Tensor, n: int, seed: int = 0, index: int = 0) -> torch.Tensor:
        """A Monte Carlo estimate of F(x) (no guarantee; for inspection and attacks)."""
        total = None
        for f in self.noisy_features(x, n, seed, index):
            s = f.sum(0)
            total = s if total is None else total + s
        return total / n

    def certify(self, x: torch.Tensor, n: int, alpha, eps: Sequence, tau=Fraction(1, 2),
                bound: ScoreBound = ScoreBound.HOEFFDING, seed: int = 0, index: int = 0) -> FSResult:
        """Clauses FS.2-FS.6: sample n cosines, bound S at 1 - alpha, then the FCSB per eps and the radius."""
        stats = statistics_from_cosines(self.sample_cosines(x, n, seed, index))
        alpha = Fraction(alpha)
        low = score_lower(stats, alpha, ScoreBound(bound))
        sig = Fraction(self.sigma)
        bounds = tuple(fcsb(low, sig, Fraction(e)) for e in eps)
        return FSResult(stats, alpha, ScoreBound(bound), low, bounds, radius(low, sig, Fraction(tau)))
