"""Encoders whose Gaussian smoothing has a closed form (clause FS.2-FS.3 oracles).

Each oracle gives the base encoder f (unit-norm features), the exact smoothed encoder F in torch
float64 (differentiable, for PGD on the exact smoothed function) and in ball arithmetic (for a
rigorous check of an attack point), and a rigorous lower bound on the score S(x).

* :class:`HalfSpaceEncoder`: f(x) = sign(<w, x> + b) u, F(x) = erf((<w, x> + b)/(sqrt2 sigma ||w||)) u.
  The FCSB is attained (x' = x - eps w/||w||): the bound is tight.
* :class:`SignVectorEncoder`: f(x) = (sign(x_1), ..., sign(x_k))/sqrt k,
  F(x)_i = erf(x_i/(sqrt2 sigma))/sqrt k (independent coordinates).
* :class:`SlabEncoder`: f(x) = u if |<w, x>| <= a else v (||w|| = 1, u, v unit), F(x) = p u + (1 - p) v
  with p = Phi((a - s)/sigma) - Phi((-a - s)/sigma), s = <w, x>.

sign(0) is +1. Inputs are float64 vectors; in ball arithmetic they are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from flint import arb

from .gaussian import floor_decimal, phi, to_arb, working_precision


def _sign(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t >= 0, 1.0, -1.0).to(t.dtype)


def _arb_vec(x) -> list[arb]:
    return [to_arb(Fraction(float(v))) for v in np.asarray(x, np.float64).reshape(-1)]


def _dot(a: list[arb], b: list[arb]) -> arb:
    total = arb(0)
    for p, q in zip(a, b):
        total += p * q
    return total


def _erf_ball(y: arb) -> arb:
    return 2 * phi(y * arb(2).sqrt()) - 1  # erf(y) = 2 Phi(sqrt2 y) - 1


class ClosedFormEncoder:
    """Interface: ``feature``, ``smoothed`` (torch), ``smoothed_ball`` and ``feature_exact`` (arb)."""

    sigma: float

    def feature(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def smoothed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def smoothed_ball(self, x) -> list[arb]:  # pragma: no cover - interface
        raise NotImplementedError

    def feature_exact(self, x) -> list[arb]:  # pragma: no cover - interface
        raise NotImplementedError

    def inner_ball(self, x, x_prime) -> arb:
        """A ball containing <f(x), F(x')> (x, x' float64 vectors, taken exactly)."""
        with working_precision(160):
            return _dot(self.feature_exact(x), self.smoothed_ball(x_prime))

    def cosine_ball(self, x, x_prime) -> arb:
        """A ball containing cos(F(x'), f(x)) (f(x) is unit norm)."""
        with working_precision(160):
            fx, fxp = self.feature_exact(x), self.smoothed_ball(x_prime)
            return _dot(fx, fxp) / _dot(fxp, fxp).sqrt()

    def score_lower(self, x) -> Fraction:
        """A rigorous lower bound on S(x) = (1 + <f(x), F(x)>)/2 (within 10^-30)."""
        with working_precision(160):
            return max(Fraction(0), floor_decimal((1 + self.inner_ball(x, x)) / 2))


@dataclass(frozen=True)
class HalfSpaceEncoder(ClosedFormEncoder):
    w: tuple[float, ...]
    b: float
    u: tuple[float, ...]  # unit vector
    sigma: float

    def _s(self, x: torch.Tensor) -> torch.Tensor:
        return x @ torch.tensor(self.w, dtype=x.dtype) + self.b

    def feature(self, x):
        return _sign(self._s(x))[..., None] * torch.tensor(self.u, dtype=x.dtype)

    def smoothed(self, x):
        scale = math.sqrt(2) * self.sigma * math.sqrt(sum(v * v for v in self.w))
        return torch.special.erf(self._s(x) / scale)[..., None] * torch.tensor(self.u, dtype=x.dtype)

    def _s_ball(self, x) -> arb:
        return _dot(_arb_vec(self.w), _arb_vec(x)) + to_arb(Fraction(self.b))

    def smoothed_ball(self, x):
        w = _arb_vec(self.w)
        scale = arb(2).sqrt() * to_arb(Fraction(self.sigma)) * _dot(w, w).sqrt()
        m = _erf_ball(self._s_ball(x) / scale)
        return [m * ui for ui in _arb_vec(self.u)]

    def feature_exact(self, x):
        s = self._s_ball(x)
        if s.contains(0) and not s.is_zero():
            raise ArithmeticError("x is too close to the hyperplane to decide the sign")
        sign = 1 if (s >= 0) else -1
        return [sign * ui for ui in _arb_vec(self.u)]


@dataclass(frozen=True)
class SignVectorEncoder(ClosedFormEncoder):
    k: int
    sigma: float

    def feature(self, x):
        return _sign(x[..., : self.k]) / math.sqrt(self.k)

    def smoothed(self, x):
        return torch.special.erf(x[..., : self.k] / (math.sqrt(2) * self.sigma)) / math.sqrt(self.k)

    def smoothed_ball(self, x):
        xs = _arb_vec(x)[: self.k]
        scale = arb(2).sqrt() * to_arb(Fraction(self.sigma))
        rk = arb(self.k).sqrt()
        return [_erf_ball(v / scale) / rk for v in xs]

    def feature_exact(self, x):
        rk = arb(self.k).sqrt()
        return [(1 if float(v) >= 0 else -1) / rk for v in np.asarray(x, np.float64).reshape(-1)[: self.k]]


@dataclass(frozen=True)
class SlabEncoder(ClosedFormEncoder):
    w: tuple[float, ...]  # unit vector
    a: float
    u: tuple[float, ...]
    v: tuple[float, ...]
    sigma: float

    def _s(self, x):
        return x @ torch.tensor(self.w, dtype=x.dtype)

    def _p(self, s: torch.Tensor) -> torch.Tensor:
        def ndtr(t):
            return torch.special.ndtr(t)

        return ndtr((self.a - s) / self.sigma) - ndtr((-self.a - s) / self.sigma)

    def feature(self, x):
        inside = (self._s(x).abs() <= self.a).to(x.dtype)[..., None]
        u, v = torch.tensor(self.u, dtype=x.dtype), torch.tensor(self.v, dtype=x.dtype)
        return inside * u + (1 - inside) * v

    def smoothed(self, x):
        p = self._p(self._s(x))[..., None]
        u, v = torch.tensor(self.u, dtype=x.dtype), torch.tensor(self.v, dtype=x.dtype)
        return p * u + (1 - p) * v

    def smoothed_ball(self, x):
        s = _dot(_arb_vec(self.w), _arb_vec(x))
        a, sig = to_arb(Fraction(self.a)), to_arb(Fraction(self.sigma))
        p = phi((a - s) / sig) - phi((-a - s) / sig)
        return [p * ui + (1 - p) * vi for ui, vi in zip(_arb_vec(self.u), _arb_vec(self.v))]

    def feature_exact(self, x):
        s = abs(float(np.dot(np.asarray(self.w), np.asarray(x, np.float64))))
        if abs(s - self.a) < 1e-9:
            raise ArithmeticError("x is too close to the slab boundary to decide f(x)")
        return _arb_vec(self.u) if s <= self.a else _arb_vec(self.v)
