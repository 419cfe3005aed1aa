"""Clopper-Pearson bounds in float64, moved outward and checked (spec clause F.3).

scipy's ``betaincinv`` / ``betainccinv`` propose the bounds; each is moved
outward by a relative ``OUTWARD(N) = 4 CHECK(N)`` and then checked with the
*forward* function (``betainc`` / ``betaincc``): a lower bound L is kept only if
I_L(s, N-s+1) <= t (1 - CHECK(N)), an upper bound U only if
1 - I_U(s+1, N-s) <= t (1 - CHECK(N)), with CHECK(N) = 2**-38 max(1, sqrt(N/100));
and the bound moved REL(N) = 8 CHECK(N) towards the quantile must fail the same
check by the same margin, so a kept bound lies within REL(N) of the true
quantile (hence of the reference's).  Entries failing the check are replaced by the reference
engine's verified bounds rounded outward to float64.

The check is only as good as scipy's forward function.  Assumption F.3-A
(spec clause F.3): for N <= :data:`N_MAX` and true tail values >= :data:`LEVEL_MIN`
the relative error of scipy's betainc / betaincc is below CHECK(N) / 4.  It was
measured against python-flint ball arithmetic (worst seen: 1.6 * 2**-40 at
N ~ 10**3 = 0.13 CHECK(N), 37 * 2**-40 at N ~ 10**7 = 0.03 CHECK(N); a fixed
2**-40 margin, as before, was too small from N ~ 10**3 on; scipy returns 0.0 for
true tails near 1e-258 and is off by 2x near 1e-294), and
``tests/differential/test_scipy_assumption.py`` re-measures it.  **Outside that range the fast engine never decides**: levels
below LEVEL_MIN and N above N_MAX go to the reference engine entry by entry.

Only the entries a call needs are computed (sparse, memoised per (N, level) in
a cache bounded by :data:`CACHE_ENTRIES`), so a single input at N = 10**6 costs
two scipy calls, not a table of 10**6 + 1 entries.
"""

from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction

import numpy as np
from scipy import special

from ..reference.clopper_pearson import cp_lower, cp_upper

def check_margin(N) -> np.ndarray:
    """CHECK(N) = 2**-38 max(1, sqrt(N / 100)): the relative tail margin of the forward check (F.3).

    Assumption F.3-A is that scipy's forward error is below CHECK(N) / 4; measured against arb, the
    worst seen was 0.13 CHECK(N) (N ~ 10**3) and 0.03 CHECK(N) at N ~ 10**7.
    """
    return 2.0**-38 * np.maximum(1.0, np.sqrt(np.asarray(N, np.float64) / 100.0))


def outward_rel(N) -> np.ndarray:
    """OUTWARD(N) = 4 CHECK(N): how far (relative) a proposal is moved before it is checked."""
    return 4 * check_margin(N)


def rel_slack(N) -> np.ndarray:
    """REL(N) = 8 CHECK(N): |fast bound - true quantile| <= REL(N) * bound for every kept entry."""
    return 8 * check_margin(N)


#: largest N for which assumption F.3-A was measured
N_MAX = 10**7
#: smallest one-sided level t for which assumption F.3-A was measured (2**-664 ~ 1.0e-200; a normal double)
LEVEL_MIN = 2.0**-664
#: at most this many memoised entries across all (N, level) keys (spec F.3: the cache is bounded)
CACHE_ENTRIES = 1 << 18


def _down(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, -np.inf)


def _up(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, np.inf)


def level_float_down(level: Fraction) -> float:
    """The largest float64 <= level (so checks against it are never lenient)."""
    f = float(level)
    return float(_down(np.float64(f))) if Fraction(f) > level else f


def in_verified_range(N, t) -> np.ndarray:
    """Where assumption F.3-A holds: N <= N_MAX and the one-sided level t >= LEVEL_MIN."""
    return (np.asarray(N, np.float64) <= N_MAX) & (np.asarray(t, np.float64) >= LEVEL_MIN)


#: per-entry closeness: never claimed tighter than 2**-48 (float64 products carry u = 2**-53) nor looser than
#: 2**-26 relative (spec F.3)
REL_MIN = 2.0**-48
REL_MAX = 2.0**-26
#: every entry is within this of the true quantile (the largest per-entry rel)
REL_SLACK = REL_MAX
#: closeness claimed for an entry taken from the reference (40-digit decimals, verified; rounded outward)
REL_REFERENCE = 1e-30


def _sensitivity(a: np.ndarray, b: np.ndarray, x: np.ndarray, t: np.ndarray, upper: bool) -> np.ndarray:
    """|d log tail / d log x| at x, about x Beta(a, b)-pdf(x) / t: how much the tail moves per relative
    move of x (an estimate that only chooses how far to move; the checks decide)."""
    with np.errstate(all="ignore"):
        logpdf = (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - special.betaln(a, b)
        sens = np.exp(np.log(x) + logpdf - np.log(t))
    return np.where(np.isfinite(sens) & (sens > 0), sens, 1.0)


def _moves(chk: np.ndarray, sens: np.ndarray, adaptive: bool) -> tuple[np.ndarray, np.ndarray]:
    """(OUTWARD, REL) per entry: relative moves of x with tail effect ~4 CHECK (adaptive) or 4 CHECK x-relative."""
    if adaptive:
        rel = np.clip(8 * chk / np.maximum(sens, 1.0), REL_MIN, REL_MAX)
    else:
        rel = np.minimum(8 * chk, REL_MAX)
    return rel / 2, rel


def _lower_try(s, N, t, chk, adaptive: bool):
    a, b = np.maximum(s, 1), N - s + 1
    with np.errstate(all="ignore"):
        raw = special.betaincinv(a, b, t)
        out, rel = _moves(chk, _sensitivity(a, b, raw, t, False), adaptive)
        low = _down(raw * (1 - out))
        low = np.where(np.isfinite(low), np.clip(low, 0.0, 1.0), 0.0)
        check = special.betainc(a, b, low)
        close = special.betainc(a, b, np.minimum(low * (1 + rel), 1.0))
        ok = np.isfinite(raw) & (check <= t * (1 - chk)) & (close >= t * (1 + chk))
    return raw, low, ok, rel


def _upper_try(s, N, t, chk, adaptive: bool):
    a, b = s + 1, np.maximum(N - s, 1)
    with np.errstate(all="ignore"):
        raw = special.betainccinv(a, b, t)
        out, rel = _moves(chk, _sensitivity(a, b, raw, t, True), adaptive)
        up = _up(raw * (1 + out))
        up = np.where(np.isfinite(up), np.clip(up, 0.0, 1.0), 1.0)
        # Pr[Bin(N, U) <= s] = 1 - I_U(s+1, N-s) = betaincc(s+1, N-s, U)
        check = special.betaincc(a, b, up)
        close = special.betaincc(a, b, up * (1 - rel))
        ok = np.isfinite(raw) & (check <= t * (1 - chk)) & (close >= t * (1 + chk))
    return raw, up, ok, rel


def _checked(attempt, s, N, t):
    """Try the adaptive move first, then the conservative one for the entries that failed its checks."""
    chk = check_margin(N)
    raw, val, ok, rel = attempt(s, N, t, chk, True)
    if not ok.all():
        raw2, val2, ok2, rel2 = attempt(s, N, t, chk, False)
        redo = ~ok & ok2
        raw, val, ok, rel = (np.where(redo, raw2, raw), np.where(redo, val2, val), ok | ok2,
                             np.where(redo, rel2, rel))
    return raw, val, ok, rel


def lower_bounds(s: np.ndarray, N: np.ndarray, t: np.ndarray, with_rel: bool = False):
    """Vectorized CP.1 in float64: (bounds, ok[, rel]) where ok marks entries that passed the check.

    A kept entry L satisfies L <= the true quantile and L >= q / (1 + rel) (spec F.3).  An entry
    outside the verified range of F.3-A is never ok (except the exact s = 0 edge, rel 0).
    """
    s, N, t = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(N, np.float64), np.asarray(t, np.float64))
    raw, low, ok, rel = _checked(_lower_try, s, N, t)
    ok &= in_verified_range(N, t)
    low = np.where(s == 0, 0.0, low)
    ok = ok | (s == 0)
    rel = np.where(s == 0, 0.0, rel)
    return (low, ok, rel) if with_rel else (low, ok)


def upper_bounds(s: np.ndarray, N: np.ndarray, t: np.ndarray, with_rel: bool = False):
    """Vectorized CP.2 in float64: (bounds, ok[, rel]); U >= the true quantile, U <= q / (1 - rel)."""
    s, N, t = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(N, np.float64), np.asarray(t, np.float64))
    raw, up, ok, rel = _checked(_upper_try, s, N, t)
    ok &= in_verified_range(N, t)
    up = np.where(s >= N, 1.0, up)
    ok = ok | (s >= N)
    rel = np.where(s >= N, 0.0, rel)
    return (up, ok, rel) if with_rel else (up, ok)


def outward_float(value: Fraction, down: bool) -> float:
    """The float64 next to ``value`` on the safe side (below it when ``down``, else above)."""
    f = float(value)
    if down and Fraction(f) > value:
        f = float(_down(np.float64(f)))
    if not down and Fraction(f) < value:
        f = float(_up(np.float64(f)))
    return f


class _EntryCache:
    """Memoised bounds per (N, level, side), evicting the least recently used keys past CACHE_ENTRIES."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.maps: OrderedDict[tuple, dict[int, float]] = OrderedDict()

    def get(self, key: tuple) -> dict[int, float]:
        m = self.maps.get(key)
        if m is None:
            m = self.maps[key] = {}
        self.maps.move_to_end(key)
        return m

    def added(self, count: int) -> None:
        self.size += count
        while self.size > self.limit and len(self.maps) > 1:
            _, old = self.maps.popitem(last=False)
            self.size -= len(old)

    def clear(self) -> None:
        self.maps.clear()
        self.size = 0


_CACHE = _EntryCache(CACHE_ENTRIES)


def cache_size() -> int:
    """Number of memoised entries (bounded by CACHE_ENTRIES)."""
    return _CACHE.size


def clear_cache() -> None:
    _CACHE.clear()


def _entries(N: int, level: Fraction, s: np.ndarray, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(s, dtype=np.int64)
    uniq, inverse = np.unique(s, return_inverse=True)
    memo = _CACHE.get((int(N), level, lower))
    todo = [int(x) for x in uniq if int(x) not in memo]
    if todo:
        t = level_float_down(level)
        arr = np.array(todo, dtype=np.float64)
        vals, ok, rel = (lower_bounds if lower else upper_bounds)(arr, np.float64(N), np.float64(t), with_rel=True)
        for i, si in enumerate(todo):
            if ok[i]:
                memo[si] = (float(vals[i]), float(rel[i]))
            elif lower:
                memo[si] = (outward_float(cp_lower(si, int(N), level), down=True), REL_REFERENCE)
            else:
                memo[si] = (outward_float(cp_upper(si, int(N), level), down=False), REL_REFERENCE)
        _CACHE.added(len(todo))
    got = [memo[int(x)] for x in uniq]
    idx = inverse.reshape(-1)
    values = np.array([v for v, _ in got], dtype=np.float64)[idx].reshape(s.shape)
    rels = np.array([r for _, r in got], dtype=np.float64)[idx].reshape(s.shape)
    return values, rels


def lower_entries(N: int, level: Fraction, s, with_rel: bool = False):
    """Clause F.3: float64 lower bounds for counts ``s``: each <= cp_lower(s, N, level), and within its
    rel (returned with ``with_rel``) of the true quantile."""
    values, rels = _entries(N, Fraction(level), s, True)
    return (values, rels) if with_rel else values


def upper_entries(N: int, level: Fraction, s, with_rel: bool = False):
    """Clause F.3: float64 upper bounds for counts ``s``: each >= cp_upper(s, N, level), within its rel."""
    values, rels = _entries(N, Fraction(level), s, False)
    return (values, rels) if with_rel else values


def cp_table(N: int, level: Fraction) -> tuple[np.ndarray, np.ndarray]:
    """Clause F.3: (lower[0..N], upper[0..N]) float64 for one-sided level ``level`` (all counts).

    lower[s] <= the reference's cp_lower(s, N, level) <= true quantile, and
    upper[s] >= the true upper quantile; both within REL_SLACK of the reference.
    """
    s = np.arange(N + 1)
    low, up = lower_entries(N, level, s), upper_entries(N, level, s)
    low.setflags(write=False)
    up.setflags(write=False)
    return low, up
