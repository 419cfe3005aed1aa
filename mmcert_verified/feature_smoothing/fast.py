"""FCSB, radius and decisions for many inputs at once in torch float64, CPU or CUDA (clause FS.8).

Values are lower bounds: the float result minus a stated error bound, so never above the reference
engine's exact value. Decisions (is L >= 0, is the cosine bound >= tau at eps) are answered in float
only where the margin exceeds the error bound; the rest are handed to the reference engine
(:mod:`.bound`), so every decision equals the reference's.

Error model (spec FS.8; an assumption about torch's float64 special functions, measured by
``tests/feature_smoothing/test_fast.py::test_special_function_accuracy_assumption``):
|ndtri(p) - Phi^-1(p)| <= Z_REL (1 + |Phi^-1(p)|) for p >= TINY, |erf(y) - erf_exact(y)| <= ERF_ABS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from ..errors import InvalidParameterError
from . import bound as reference

#: assumed relative error of torch.special.ndtri in float64 (measured errors are ~1e-16)
Z_REL = 1e-13
#: assumed absolute error of torch.special.erf in float64 (measured errors are ~1e-16)
ERF_ABS = 1e-14
#: float64 rounding of the few remaining arithmetic steps
ARITH = 1e-15
#: scores below this go to the reference (ndtri's tail accuracy is only assumed above it)
TINY = 1e-300
U = 2.0**-53
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi) * (1 + 1e-15)


@dataclass(frozen=True)
class FastFCSB:
    """Clause FS.8: per input, ``inner_lower`` <= L, ``cosine_lower`` <= the FS.3 cosine bound,
    ``nonnegative`` exactly the reference's decision L >= 0; ``deferred`` inputs went to the reference."""

    inner_lower: torch.Tensor
    cosine_lower: torch.Tensor
    nonnegative: torch.Tensor
    deferred: int


@dataclass(frozen=True)
class FastRadius:
    """Clause FS.8: ``value`` <= R (NaN where no radius exists, +inf where S = 1)."""

    value: torch.Tensor
    deferred: int


def _as_float64(x, device) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64, device=device)
    if torch.isnan(t).any():
        raise InvalidParameterError("NaN input")
    return t


def _check(score: torch.Tensor, eps: torch.Tensor | None, sigma: float) -> None:
    if not (sigma > 0 and math.isfinite(sigma)):
        raise InvalidParameterError(f"sigma must be positive and finite, got {sigma}")
    if ((score < 0) | (score > 1)).any():
        raise InvalidParameterError("scores must lie in [0, 1]")
    if eps is not None and ((eps < 0) | ~torch.isfinite(eps)).any():
        raise InvalidParameterError("eps must be finite and non-negative")


def _z_error(z: torch.Tensor) -> torch.Tensor:
    return Z_REL * (1 + z.abs())


def fcsb_batch(score, sigma: float, eps, device: torch.device | str | None = None) -> FastFCSB:
    """Clauses FS.2-FS.3, FS.8 for tensors ``score`` and ``eps`` (broadcast), one sigma."""
    score = _as_float64(score, device)
    eps = _as_float64(eps, score.device)
    score, eps = torch.broadcast_tensors(score, eps)
    sigma = float(sigma)
    _check(score, eps, sigma)
    t = eps / sigma
    t_err = t.abs() * 2 * U
    z = torch.special.ndtri(score)
    y = z - t
    value = torch.special.erf(y / math.sqrt(2))  # 2 Phi(y) - 1
    e_z = _z_error(z) + t_err
    e_l = _SQRT_2_OVER_PI * e_z + ERF_ABS + ARITH
    inner = torch.clamp(value - e_l, min=-1.0)
    margin = y
    nonneg = margin > e_z
    sure = (margin.abs() > e_z) & (score >= TINY) & (score < 1)
    # exact cases: S = 1 -> L = 1; S = 0 -> L = -1; eps = 0 -> L = 2S - 1 (decided exactly below)
    one = score == 1
    inner = torch.where(one, torch.ones_like(inner), inner)
    nonneg = torch.where(one, torch.ones_like(nonneg), nonneg)
    zero = score == 0
    inner = torch.where(zero, -torch.ones_like(inner), inner)
    nonneg = torch.where(zero, torch.zeros_like(nonneg), nonneg)
    todo = ~(sure | one | zero)
    idx = torch.nonzero(todo.reshape(-1)).reshape(-1).tolist()
    if idx:
        flat_inner = inner.reshape(-1).clone()
        flat_nonneg = nonneg.reshape(-1).clone()
        s_cpu = score.reshape(-1)[idx].cpu().tolist()
        e_cpu = eps.reshape(-1)[idx].cpu().tolist()
        sig = Fraction(sigma)
        for j, s, e in zip(idx, s_cpu, e_cpu):
            b = reference.fcsb(Fraction(s), sig, Fraction(e))
            flat_inner[j] = _float_down(b.inner_lower)
            flat_nonneg[j] = b.nonnegative
        inner = flat_inner.reshape(inner.shape)
        nonneg = flat_nonneg.reshape(nonneg.shape)
    cosine = torch.where(nonneg, torch.clamp(inner, min=0.0), -torch.ones_like(inner))
    return FastFCSB(inner, cosine, nonneg, len(idx))


def _level(tau) -> Fraction:
    tau = Fraction(tau)
    if not 0 <= tau <= 1:
        raise InvalidParameterError(f"tau must lie in [0, 1], got {tau}")
    return (1 + tau) / 2


def radius_batch(score, sigma: float, tau=Fraction(1, 2), device: torch.device | str | None = None) -> FastRadius:
    """Clauses FS.4, FS.8: lower bounds on R = sigma (Phi^-1(S) - Phi^-1((1 + tau)/2))."""
    score = _as_float64(score, device)
    sigma = float(sigma)
    _check(score, None, sigma)
    level = _level(tau)
    level_f = float(level)
    if level == 1:
        value = torch.where(score == 1, math.inf, math.nan).to(torch.float64)
        return FastRadius(value, 0)
    z_level = float(torch.special.ndtri(torch.tensor(level_f, dtype=torch.float64)))
    z_level_err = 0.0 if level == Fraction(1, 2) else Z_REL * (1 + abs(z_level)) + abs(z_level) * 2 * U
    z = torch.special.ndtri(score)
    r = sigma * (z - z_level)
    e_r = sigma * (_z_error(z) + z_level_err) * (1 + 1e-15) + r.abs() * 4 * U + ARITH
    value = torch.clamp(r - e_r, min=0.0)
    value = torch.where(score < level_f, torch.full_like(value, math.nan), value)
    value = torch.where(score == 1, torch.full_like(value, math.inf), value)
    todo = (score == level_f) | ((score < TINY) & (score > 0))
    todo = todo & (score < 1)
    idx = torch.nonzero(todo.reshape(-1)).reshape(-1).tolist()
    if idx:
        flat = value.reshape(-1).clone()
        for j, s in zip(idx, score.reshape(-1)[idx].cpu().tolist()):
            res = reference.radius(Fraction(s), Fraction(sigma), Fraction(tau))
            flat[j] = math.nan if res.value is None else _float_down(res.value)
        value = flat.reshape(value.shape)
    return FastRadius(value, len(idx))


def certified_batch(score, sigma: float, eps, tau=Fraction(1, 2), device: torch.device | str | None = None):
    """Clauses FS.4, FS.8: whether the cosine bound at eps is >= tau; equal to the reference's decision.

    Returns ``(decisions, deferred)``.
    """
    score = _as_float64(score, device)
    eps = _as_float64(eps, score.device)
    score, eps = torch.broadcast_tensors(score, eps)
    sigma = float(sigma)
    _check(score, eps, sigma)
    level = _level(tau)
    if level == 1:
        return score == 1, 0
    z_level = float(torch.special.ndtri(torch.tensor(float(level), dtype=torch.float64)))
    z_level_err = 0.0 if level == Fraction(1, 2) else Z_REL * (1 + abs(z_level)) + abs(z_level) * 2 * U
    z = torch.special.ndtri(score)
    margin = sigma * (z - z_level) - eps  # = R - eps in exact arithmetic
    err = sigma * (_z_error(z) + z_level_err) * (1 + 1e-15) + (margin.abs() + eps) * 4 * U + ARITH
    decided = margin > 0
    sure = (margin.abs() > err) & (score >= TINY) & (score < 1) & (eps > 0)
    decided = torch.where(score == 1, torch.ones_like(decided), decided)
    decided = torch.where(score == 0, torch.zeros_like(decided), decided)
    todo = ~(sure | (score == 1) | (score == 0))
    idx = torch.nonzero(todo.reshape(-1)).reshape(-1).tolist()
    if idx:
        flat = decided.reshape(-1).clone()
        s_cpu = score.reshape(-1)[idx].cpu().tolist()
        e_cpu = eps.reshape(-1)[idx].cpu().tolist()
        for j, s, e in zip(idx, s_cpu, e_cpu):
            flat[j] = reference.certified(Fraction(s), Fraction(sigma), Fraction(e), Fraction(tau))
        decided = flat.reshape(decided.shape)
    return decided, len(idx)


def _float_down(q: Fraction) -> float:
    """The largest float <= q."""
    f = float(q)
    return f if Fraction(f) <= q else math.nextafter(f, -math.inf)
