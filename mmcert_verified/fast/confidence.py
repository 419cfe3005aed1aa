"""Clopper-Pearson bounds in float64, moved outward and checked (spec clause F.3).

scipy's ``betaincinv`` / ``betainccinv`` propose the bounds; each is moved
outward by a relative ``OUTWARD = 2**-30`` and then checked with the *forward*
function (``betainc`` / ``betaincc``), whose relative error is far smaller
than the check's margin ``CHECK = 2**-40``: a lower bound L is kept only if
I_L(s, N-s+1) <= t (1 - CHECK), an upper bound U only if
1 - I_U(s+1, N-s) <= t (1 - CHECK).  Entries failing the check are replaced
by the reference engine's verified bounds rounded outward to float64.

Assumption (stated in spec F.3, tested in tests/differential): scipy's forward
regularized incomplete beta has relative error below 2**-40 on the tabulated
domain.  The error bound the callers use for the gap between these bounds and
the reference's is :data:`REL_SLACK` (relative): the check also requires the
bound moved by REL_SLACK towards the quantile to cross it, so a kept bound
lies within REL_SLACK of the true quantile (hence of the reference's).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import special

from ..reference.clopper_pearson import cp_lower, cp_upper

OUTWARD = 2.0**-30
CHECK = 2.0**-40
#: |fast bound - reference bound| <= REL_SLACK * bound (outward move plus scipy's inverse error)
REL_SLACK = 2.0**-28


def _down(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, -np.inf)


def _up(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, np.inf)


def level_float_down(level: Fraction) -> float:
    """The largest float64 <= level (so checks against it are never lenient)."""
    f = float(level)
    return float(_down(np.float64(f))) if Fraction(f) > level else f


def lower_bounds(s: np.ndarray, N: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized CP.1 in float64: (bounds, ok) where ok marks entries that passed the check."""
    s, N, t = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(N, np.float64), np.asarray(t, np.float64))
    with np.errstate(all="ignore"):
        raw = special.betaincinv(np.maximum(s, 1), N - s + 1, t)
        low = _down(raw * (1 - OUTWARD))
        low = np.where(np.isfinite(low), np.clip(low, 0.0, 1.0), 0.0)
        check = special.betainc(np.maximum(s, 1), N - s + 1, low)
        close = special.betainc(np.maximum(s, 1), N - s + 1, np.minimum(low * (1 + REL_SLACK), 1.0))
        ok = np.isfinite(raw) & (check <= t * (1 - CHECK)) & (close >= t * (1 + CHECK))
    low = np.where(s == 0, 0.0, low)
    ok = ok | (s == 0)
    return low, ok


def upper_bounds(s: np.ndarray, N: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized CP.2 in float64: (bounds, ok)."""
    s, N, t = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(N, np.float64), np.asarray(t, np.float64))
    with np.errstate(all="ignore"):
        b = np.maximum(N - s, 1)
        raw = special.betainccinv(s + 1, b, t)
        up = _up(raw * (1 + OUTWARD))
        up = np.where(np.isfinite(up), np.clip(up, 0.0, 1.0), 1.0)
        # Pr[Bin(N, U) <= s] = 1 - I_U(s+1, N-s) = betaincc(s+1, N-s, U)
        check = special.betaincc(s + 1, b, up)
        close = special.betaincc(s + 1, b, up * (1 - REL_SLACK))
        ok = np.isfinite(raw) & (check <= t * (1 - CHECK)) & (close >= t * (1 + CHECK))
    up = np.where(s >= N, 1.0, up)
    ok = ok | (s >= N)
    return up, ok


def _outward_float(value: Fraction, down: bool) -> float:
    f = float(value)
    if down and Fraction(f) > value:
        f = float(_down(np.float64(f)))
    if not down and Fraction(f) < value:
        f = float(_up(np.float64(f)))
    return f


@lru_cache(maxsize=64)
def cp_table(N: int, level: Fraction) -> tuple[np.ndarray, np.ndarray]:
    """Clause F.3: (lower[0..N], upper[0..N]) float64 for one-sided level ``level``.

    lower[s] <= the reference's cp_lower(s, N, level) <= true quantile, and
    upper[s] >= the true upper quantile; both within REL_SLACK of the reference.
    """
    s = np.arange(N + 1, dtype=np.float64)
    t = level_float_down(level)
    low, ok_l = lower_bounds(s, np.float64(N), np.float64(t))
    up, ok_u = upper_bounds(s, np.float64(N), np.float64(t))
    for i in np.flatnonzero(~ok_l):
        low[i] = _outward_float(cp_lower(int(i), N, level), down=True)
    for i in np.flatnonzero(~ok_u):
        up[i] = _outward_float(cp_upper(int(i), N, level), down=False)
    low.setflags(write=False)
    up.setflags(write=False)
    return low, up
