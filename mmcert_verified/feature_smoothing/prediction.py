"""Prediction-wise certificate with a cosine prototype head on smoothed features (clause FS.7).

The smoothed classifier predicts argmax_c cos(F(x'), p_c) = argmax_c <F(x'), p_c>. With probability at
least 1 - alpha over the noise, the returned label is that prediction for every ||x' - x||_2 < radius:
the top class A is chosen on ``n0`` selection samples, then on ``n`` fresh samples a lower bound on
G_A = (1 + <F(x), p_A>)/2 and upper bounds on every other G_c are taken at alpha/C each (Bonferroni),
and radius = (sigma/2)(Phi^-1(lo_A) - Phi^-1(max hi_c)). Abstains (``label`` None) when lo_A <= max hi_c.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from ..errors import InvalidParameterError
from .encoder import SmoothedEncoder
from .estimation import ScoreBound, score_lower, score_upper, statistics_from_cosines
from .gaussian import floor_decimal, phi_inverse, precisions, radius_ok, to_arb, working_precision


@dataclass(frozen=True)
class PredictionCertificate:
    """Clause FS.7: ``label`` (None = abstain), ``radius`` (exclusive, rounded down), the bounds used."""

    label: int | None
    radius: Fraction | None
    lower: Fraction
    upper: Fraction
    runner_up: int | None


def _class_cosines(enc: SmoothedEncoder, x: torch.Tensor, prototypes: torch.Tensor, n: int, seed: int,
                   index: int) -> np.ndarray:
    p = prototypes.to(enc.device, torch.float64)
    p = p / p.norm(dim=-1, keepdim=True)
    parts = [torch.clamp(f @ p.T, -1.0, 1.0).cpu() for f in enc.noisy_features(x, n, seed, index)]
    return torch.cat(parts).numpy()  # (n, C)


def prediction_radius(lower: Fraction, upper: Fraction, sigma: Fraction) -> Fraction | None:
    """(sigma/2)(Phi^-1(lower) - Phi^-1(upper)) rounded down, None unless lower > upper."""
    if not lower > upper:
        return None
    if lower == 1 or upper == 0:
        return None  # cannot happen with finite samples and the clamped bounds below; refuse rather than guess
    for bits in precisions():
        with working_precision(bits):
            ball = (phi_inverse(lower) - phi_inverse(upper)) * to_arb(sigma) / 2
            if radius_ok(ball):
                return max(Fraction(0), floor_decimal(ball))
    raise ArithmeticError("prediction radius did not converge")


def certify_prediction(enc: SmoothedEncoder, x: torch.Tensor, prototypes: torch.Tensor, n0: int, n: int,
                       alpha, bound: ScoreBound = ScoreBound.HOEFFDING, seed: int = 0,
                       index: int = 0) -> PredictionCertificate:
    """Clause FS.7 (see the module docstring for the guarantee)."""
    if prototypes.ndim != 2 or prototypes.shape[0] < 2:
        raise InvalidParameterError("prototypes must be a (C, m) tensor with C >= 2")
    alpha = Fraction(alpha)
    C = prototypes.shape[0]
    select = _class_cosines(enc, x, prototypes, n0, seed, 2 * index)
    top = int(np.argmax(select.mean(axis=0)))
    est = _class_cosines(enc, x, prototypes, n, seed, 2 * index + 1)
    level = alpha / C
    lo = score_lower(statistics_from_cosines(est[:, top]), level, bound)
    others = [c for c in range(C) if c != top]
    ups = [score_upper(statistics_from_cosines(est[:, c]), level, bound) for c in others]
    hi = max(ups)
    j = others[ups.index(hi)]
    lo_c = max(lo, Fraction(1, 10**30))  # a lower bound of 0 certifies nothing; keep Phi^-1 finite
    hi_c = min(hi, 1 - Fraction(1, 10**30))
    r = prediction_radius(lo_c, hi_c, Fraction(enc.sigma)) if lo > hi else None
    return PredictionCertificate(top if r is not None else None, r, lo, hi, j)
