"""Certified segmentation in torch, batched over pixels and images (spec clauses F.5, SEG.1-SEG.7).

The per-pixel work stays on the votes' device: argmax, top-two counts, the
distinct (N_A, N_B) pairs (a dense count where the pairs' range is small,
torch.unique otherwise), the certified mask and the stable confusion matrix.
Only the distinct pairs and C x C confusion counts cross to the host.

alpha* per pair is the reference's grid value (clause SEG.2) for the chosen
bound method, decided in float64 with error bounds (clause F.5):

* where p_B is a function of p_A (C = 1; C = 2 for every method, by the
  symmetry CP.2(N - s) = 1 - CP.1(s); ``complement`` for any C) the decision
  at level a is "p_A above a threshold x", so two forward tails per pair,
  Pr[Bin(N, x) >= N_A] at the thresholds of "surely certified" and "surely
  not", give every grid level's decision at once (no root finding);
* otherwise a float root of the gap proposes a grid index g, confirmed by
  F.4's error-bounded decisions at g and g - 1;
* any pair neither decides is computed by the reference engine.

Values are cached per (N, C, alpha, bound, setting, budget, floor) as grid
codes; Holm runs on the codes with exact comparisons where the float test is
inside its error bound.  The certified masks, alpha* values and metrics equal
the reference engine's.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..bounds.rules import bound_rule
from ..errors import InvalidParameterError
from ..reference import segmentation as ref
from .confidence import LEVEL_MIN, N_MAX, check_margin, level_float_down, lower_bounds, outward_float, upper_bounds
from .delta import delta_bounds, log_pn_lower
from .ratios import U

#: alpha* cache: problem key -> _Store, least recently used problems evicted first
_CACHE: OrderedDict[tuple, "_Store"] = OrderedDict()
#: at most this many pairs are memoised over all problems (issue 10: the cache is bounded)
CACHE_PAIRS = 1 << 18

#: alpha* codes: a grid index (>= 0) stands for ref.grid_value(index); these two for alpha and 1
CODE_ALPHA = -1
CODE_ONE = -2
#: not decided in float (internal: such pairs go to the reference)
_UNDECIDED = -3
#: grid values at or above this are exact doubles whose products with level factors stay normal
EXACT_MIN = 2.0**-1000
#: Holm's float test: |computed / exact - 1| <= 3.1 u; closer than this to a threshold is compared exactly
HOLM_MARGIN = 2.0**-40
#: segment_budgets holds at most about this many (budget, pair) codes at a time
CODE_MATRIX_ELEMENTS = 1 << 22
#: segment_budgets' combined int64 keys stay below this (else it keys by stacked columns)
KEY_LIMIT = 2**62


# --------------------------------------------------------------------------- the grid in float64

def grid_floor_float(x: np.ndarray) -> np.ndarray:
    """``ref.grid_floor`` of positive doubles, vectorized and exact (frexp: x = m 2**e, m in [1/2, 1))."""
    m, e = np.frexp(np.asarray(x, dtype=np.float64))
    mant = np.floor(m * 2.0 ** (ref.GRID_BITS + 1)).astype(np.int64)
    return (e.astype(np.int64) + 2000) * 2**ref.GRID_BITS + (mant - 2**ref.GRID_BITS)


def grid_value_float(index: np.ndarray) -> np.ndarray:
    """float64 of ``ref.grid_value(index)``: exact where the value is >= EXACT_MIN (a 21-bit mantissa)."""
    e, off = np.divmod(np.asarray(index, dtype=np.int64), 2**ref.GRID_BITS)
    mant = (off + 2**ref.GRID_BITS).astype(np.float64)
    return np.ldexp(mant, (e - 2000 - (ref.GRID_BITS + 1)).astype(np.int32))


def code_fraction(code: int, alpha: Fraction) -> Fraction:
    """The exact alpha* a code stands for."""
    if code == CODE_ONE:
        return Fraction(1)
    if code == CODE_ALPHA:
        return alpha
    return ref.grid_value(int(code))


def code_of(value: Fraction, alpha: Fraction) -> int:
    """The code of a reference alpha* (1, alpha, or a grid level)."""
    if value == 1:
        return CODE_ONE
    g = ref.grid_floor(value)
    if ref.grid_value(g) == value:
        return g
    if value == alpha:
        return CODE_ALPHA
    raise AssertionError(f"alpha* {value} is neither 1, alpha nor a grid level")  # SEG.2 returns only these


def code_floats(codes: np.ndarray, alpha: Fraction) -> np.ndarray:
    """float64 of each code's value, equal to ``float(code_fraction(...))`` (correctly rounded)."""
    codes = np.asarray(codes, dtype=np.int64)
    out = np.where(codes == CODE_ONE, 1.0, float(alpha))
    grid = codes >= 0
    out[grid] = grid_value_float(codes[grid])
    flat, cflat = out.reshape(-1), codes.reshape(-1)  # views: any shape
    for i in np.flatnonzero(grid & (out < EXACT_MIN)):  # below EXACT_MIN ldexp may round: convert exactly
        flat[i] = float(ref.grid_value(int(cflat[i])))
    return out


class _Levels:
    """Float brackets [down, up] of level(a) = a c for exact grid levels a (c: a method's exact factor)."""

    def __init__(self, c: Fraction):
        f = float(c)
        self.down = f if Fraction(f) <= c else float(np.nextafter(f, 0.0))
        self.up = f if Fraction(f) >= c else float(np.nextafter(f, np.inf))
        # a power of two times a 21-bit grid value is exact (while normal)
        self.exact = Fraction(f) == c and math.frexp(f)[0] == 0.5

    def bracket(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t_down <= a c <= t_up) for float grid values a (exact); 0 / inf where a < EXACT_MIN."""
        with np.errstate(under="ignore"):
            lo, hi = a * self.down, a * self.up
            if not self.exact:
                lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        small = a < EXACT_MIN
        return np.where(small, 0.0, lo), np.where(small, np.inf, hi)


# --------------------------------------------------------------------------- one problem's float constants

class _Problem:
    """What the float decisions of one (N, C, bound, setting, budget, alpha, floor) need (clauses F.4, F.5)."""

    def __init__(self, N: int, C: int, prob: ref.SegmentationProblem, floor):
        self.N, self.C, self.prob, self.floor = N, C, prob, floor
        self.alpha = prob.alpha
        self.rule = bound_rule(prob.bound)
        d = delta_bounds(prob.setting, np.asarray([prob.budget.r]), prob.budget.attack)
        self.dlo, self.dhi = float(d.lo[0]), float(d.hi[0])
        lp = log_pn_lower(prob.setting)
        self.two_over_pn = 2.0 * math.exp(-lp) if lp < 700 else 0.0
        self.top = ref.grid_floor(self.alpha)  # exact: grid_value(top) <= alpha
        self.bottom = min(ref.grid_floor(ref.MIN_LEVEL if floor is None else floor), self.top)
        ca = self.rule.level_a(Fraction(1), C)
        cb = self.rule.level_b(Fraction(1), C) if C > 1 else None
        # the float paths assume levels proportional to alpha (true of every registered method)
        linear = self.rule.level_a(self.alpha, C) == self.alpha * ca and (
            cb is None or self.rule.level_b(self.alpha, C) == self.alpha * cb)
        self.ca, self.cb = ca, cb
        self.lev_a = _Levels(ca)
        self.lev_b = None if cb is None else _Levels(cb)
        self.scale_a, self.scale_b = float(ca), None if cb is None else float(cb)
        # one-sided levels at alpha itself, rounded outward
        la = self.rule.level_a(self.alpha, C)
        self.ta_alpha = (level_float_down(la), outward_float(la, down=False))
        self.tb_alpha = None if cb is None else level_float_down(self.rule.level_b(self.alpha, C))
        self.float_ok = linear and N <= N_MAX and self.ta_alpha[0] >= LEVEL_MIN
        self.chk = float(check_margin(N))

    # ------------------------------------------------------------------ p_B a function of p_A
    def one_dimensional(self, n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
        """Pairs whose p_B is a function of p_A: C = 1; C = 2 with level_b = level_a (N_B = N - N_A, so
        CP.2(N_B) = 1 - CP.1(N_A)); or a method whose only upper statement is 1 - p_A."""
        if self.C == 1:
            return n_a > 0
        if self.rule.complement and self.lev_b is None:
            return n_a > 0
        if self.C == 2 and self.cb == self.ca:
            return (n_a > 0) & (n_a + n_b == self.N)
        return np.zeros(n_a.shape, dtype=bool)

    def threshold_codes(self, n_a: np.ndarray) -> np.ndarray:
        """Clause F.5's threshold path: codes (or _UNDECIDED) for pairs whose p_B is a function of p_A.

        Certified surely when L(t) >= x_yes, surely not when L(t) <= x_no (L: the true CP.1 quantile;
        the reference's bounds are within 1e-30 of it, covered by the 8u terms).  L(t) > x iff
        T(x) = Pr[Bin(N, x) >= N_A] < t, so with scipy's forward tail T_f (relative error < CHECK / 4,
        F.3-A): surely certified at one-sided level t >= LEVEL_MIN when t >= T_f(x_yes) (1 + CHECK),
        surely not when t <= T_f(x_no) (1 - CHECK).
        """
        from scipy import special

        N = self.N
        if self.C == 1:  # p_B = 0: p_A - 2/P_n > Delta_hi, or p_A <= Delta_lo
            x_yes = self.dhi + self.two_over_pn + 8 * U
            x_no = self.dlo - 8 * U
        else:  # p_B = 1 - p_A (+- 1e-30): 2 p_A - 1 - 2/P_n > Delta_hi, or 2 p_A - 1 <= Delta_lo
            x_yes = 0.5 * (1 + self.dhi + self.two_over_pn) + 8 * U
            x_no = 0.5 * (1 + self.dlo) - 8 * U
        a, b = n_a.astype(np.float64), (N - n_a + 1).astype(np.float64)
        with np.errstate(all="ignore"):  # T(x) for x >= 1 is 1, for x <= 0 it is 0 (N_A >= 1)
            tail_yes = special.betainc(a, b, np.clip(x_yes, 0.0, 1.0))
            tail_no = special.betainc(a, b, np.clip(x_no, 0.0, 1.0))
            tau_yes = np.where(np.isfinite(tail_yes), tail_yes * (1 + self.chk), np.inf)
            tau_no = np.where(np.isfinite(tail_no), tail_no * (1 - self.chk), 0.0)
        codes = np.full(n_a.shape, _UNDECIDED, dtype=np.int64)

        def yes(g):
            lo, _ = self.lev_a.bracket(grid_value_float(g))
            return (lo >= tau_yes) & (lo >= LEVEL_MIN)

        def no(g):
            lo, hi = self.lev_a.bracket(grid_value_float(g))
            return (hi <= tau_no) & (lo >= LEVEL_MIN)

        with np.errstate(all="ignore"):
            est = np.where(tau_yes > 0, tau_yes / self.scale_a, ref.MIN_LEVEL)
        est = np.where(np.isfinite(est), np.clip(est, ref.MIN_LEVEL, 2.0), 2.0)
        g0 = np.clip(grid_floor_float(est), self.bottom, self.top + 1)
        found = np.zeros(n_a.shape, dtype=bool)
        for shift in (-1, 0, 1, 2):  # the smallest surely-certified index near the estimate
            g = np.maximum(g0 + shift, self.bottom)
            hit = ~found & (g <= self.top) & yes(g)
            ok = hit & ((g == self.bottom) | no(g - 1))
            codes[ok] = g[ok]
            found |= hit
        # nothing surely certified up to the top grid level: alpha itself, or 1
        rest = ~found & (g0 + 2 >= self.top)
        if rest.any():
            top = np.full(n_a.shape, self.top)
            alpha_yes = (self.ta_alpha[0] >= tau_yes) & (self.ta_alpha[0] >= LEVEL_MIN)
            alpha_no = (self.ta_alpha[1] <= tau_no) & (self.ta_alpha[0] >= LEVEL_MIN)
            codes[rest & alpha_no] = CODE_ONE
            codes[rest & alpha_yes & no(top)] = CODE_ALPHA
        return codes

    # ------------------------------------------------------------------ the general path
    def decide(self, n_a, n_b, t_a, t_b) -> tuple[np.ndarray, np.ndarray]:
        """(surely certified, surely not) per pair at one-sided levels t_a (p_A) and t_b (the per-label
        p_B), floats rounded down (clause F.4's slack; CP.8's bracket of 1 - p_A for the complement)."""
        N = self.N
        p_a, ok, rel_a = lower_bounds(n_a, N, t_a, with_rel=True)
        if self.C == 1:
            pb_hi = pb_lo = np.zeros_like(p_a)
        else:
            pb_hi = np.full(p_a.shape, np.inf)
            pb_lo = np.full(p_a.shape, np.inf)
            if self.lev_b is not None:
                p_b, ok_b, rel_b = upper_bounds(n_b, N, t_b, with_rel=True)
                pb_hi, pb_lo = p_b, p_b * (1 - rel_b - 4 * U)
                ok = ok & ok_b
            if self.rule.complement:
                # exact p_A in [p_a, p_a (1 + rel_a)]: 1 - p_A in [1 - p_a (1 + rel_a), 1 - p_a], +- rounding
                pb_hi = np.minimum(pb_hi, 1 - p_a + 2 * U)
                pb_lo = np.minimum(pb_lo, 1 - p_a * (1 + rel_a + 4 * U) - 4 * U)
        g_lo = p_a - pb_hi - self.two_over_pn - 8 * U
        g_hi = p_a * (1 + rel_a + 4 * U) - pb_lo + 8 * U
        return ok & (g_lo > self.dhi), ok & (g_hi <= self.dlo)

    def decide_grid(self, n_a, n_b, g) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`decide` at grid indices ``g`` (one per pair)."""
        a = grid_value_float(g)
        t_a, _ = self.lev_a.bracket(a)
        t_b = self.lev_b.bracket(a)[0] if self.lev_b is not None else t_a
        return self.decide(n_a, n_b, t_a, t_b)

    def gap(self, n_a, n_b, log_alpha) -> np.ndarray:
        """Float gap p_A - p_B - Delta_mid at family level exp(log_alpha) (scipy; a guide, not a decision)."""
        from scipy import special

        N, C = self.N, self.C
        a = np.exp(log_alpha)
        with np.errstate(all="ignore"):
            pa = np.where(n_a > 0, special.betaincinv(np.maximum(n_a, 1), N - n_a + 1, a * self.scale_a), 0.0)
            if C == 1:
                pb = 0.0
            else:
                pb = np.full(pa.shape, np.inf)
                if self.scale_b is not None:
                    pb = np.where(n_b < N, special.betainccinv(n_b + 1, np.maximum(N - n_b, 1), a * self.scale_b), 1.0)
                if self.rule.complement:
                    pb = np.minimum(pb, 1 - pa)
        return pa - pb - 0.5 * (self.dlo + self.dhi)

    def float_root(self, n_a, n_b, log_hi: float, log_lo: float) -> np.ndarray:
        """Float estimate of alpha* per pair: the root in log(alpha) of the float gap, in [log_lo, log_hi].

        Illinois (regula falsi with halving) on the gap, which increases with alpha, to a bracket of
        2**-24 in log alpha (the grid's spacing is 2**-20 relative), with a bisection every 8th step;
        a guess only: the grid index it proposes is confirmed by error-bounded decisions.
        """
        lo = np.full(n_a.shape, float(log_lo))
        hi = np.full(n_a.shape, float(log_hi))
        f_lo = self.gap(n_a, n_b, lo)
        f_hi = self.gap(n_a, n_b, hi)
        done = ~(np.isfinite(f_lo) & np.isfinite(f_hi)) | (f_lo > 0) | (f_hi <= 0)
        hi = np.where(f_lo > 0, lo, hi)
        side = np.zeros(n_a.shape, dtype=np.int8)
        for step in range(200):
            active = ~done & (hi - lo > 2.0**-24)
            if not active.any():
                break
            ia = np.flatnonzero(active)
            l, h, fl, fh = lo[ia], hi[ia], f_lo[ia], f_hi[ia]
            x = h - fh * (h - l) / (fh - fl)
            bad = ~np.isfinite(x) | (x <= l) | (x >= h) | (step % 8 == 7)
            x = np.where(bad, 0.5 * (l + h), x)
            fx = self.gap(n_a[ia], n_b[ia], x)
            up = fx > 0  # certified at x: the root is below
            sd = side[ia]
            new_fl = np.where(up, np.where(sd == 1, fl / 2, fl), fx)
            new_fh = np.where(up, fx, np.where(sd == -1, fh / 2, fh))
            hi[ia] = np.where(up, x, h)
            lo[ia] = np.where(up, l, x)
            f_lo[ia], f_hi[ia] = new_fl, new_fh
            side[ia] = np.where(up, 1, -1)
        return np.exp(hi)

    def root_codes(self, n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
        """Clause F.5's general path: a float root proposes g; certified at g and surely not at g - 1."""
        codes = np.full(n_a.shape, _UNDECIDED, dtype=np.int64)
        if not n_a.size:
            return codes
        bottom, top = self.bottom, self.top
        low_value = float(ref.grid_value(bottom))
        log_lo = math.log(low_value) - 1e-3 if low_value > 0 else -745.0
        roots = self.float_root(n_a, n_b, math.log(float(self.alpha)), max(log_lo, -745.0))
        g = np.clip(grid_floor_float(np.where(roots > 0, roots, ref.MIN_LEVEL)), bottom, top)
        yes0, no0 = self.decide_grid(n_a, n_b, g)
        _, no_m = self.decide_grid(n_a, n_b, np.maximum(g - 1, bottom))
        ok = yes0 & ((g == bottom) | no_m)
        codes[ok] = g[ok]
        up = (codes == _UNDECIDED) & no0 & (g < top)  # the root was a little low: try g + 1
        if up.any():
            i = np.flatnonzero(up)
            y1, _ = self.decide_grid(n_a[i], n_b[i], g[i] + 1)
            codes[i[y1]] = g[i][y1] + 1
        down = (codes == _UNDECIDED) & yes0 & (g > bottom)  # a little high: g - 1 if surely not at g - 2
        if down.any():
            i = np.flatnonzero(down)
            ym, _ = self.decide_grid(n_a[i], n_b[i], g[i] - 1)
            _, nm2 = self.decide_grid(n_a[i], n_b[i], np.maximum(g[i] - 2, bottom))
            hit = ym & ((g[i] - 1 == bottom) | nm2)
            codes[i[hit]] = g[i][hit] - 1
        rest = np.flatnonzero(codes == _UNDECIDED)
        if rest.size:  # not certified at alpha (1), or certified at alpha but surely not at the top level
            ta = np.full(rest.size, self.ta_alpha[0])
            tb = np.full(rest.size, self.tb_alpha if self.tb_alpha is not None else self.ta_alpha[0])
            y_alpha, n_alpha = self.decide(n_a[rest], n_b[rest], ta, tb)
            _, n_top = self.decide_grid(n_a[rest], n_b[rest], np.full(rest.size, top))
            codes[rest[n_alpha]] = CODE_ONE
            codes[rest[y_alpha & n_top & ~n_alpha]] = CODE_ALPHA
        return codes

    def codes(self, n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
        """alpha* codes of the pairs, the reference's values (clause F.5); undecided pairs by the reference."""
        codes = np.full(n_a.shape, _UNDECIDED, dtype=np.int64)
        if self.float_ok:
            one = self.one_dimensional(n_a, n_b)
            codes[one] = self.threshold_codes(n_a[one])
            rest = np.flatnonzero(codes == _UNDECIDED)
            codes[rest] = self.root_codes(n_a[rest], n_b[rest])
        problem = ref.PixelProblem(self.N, self.C, self.prob.sizes_masses, self.prob.bound)
        for i in np.flatnonzero(codes == _UNDECIDED):  # inside the float error bounds: the reference decides
            value = ref.alpha_star((int(n_a[i]), int(n_b[i])), problem, self.alpha, self.floor)
            codes[i] = code_of(value, self.alpha)
        return codes


# --------------------------------------------------------------------------- the cache

class _Store:
    """One problem's memoised alpha* codes (sorted pair keys N_A (N + 1) + N_B) and its float constants."""

    def __init__(self, problem: _Problem):
        self.problem = problem
        self.keys = np.empty(0, dtype=np.int64)
        self.codes = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.keys.size)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(codes, found) for ``keys``; codes are _UNDECIDED where not found."""
        if not self.keys.size:
            return np.full(keys.shape, _UNDECIDED, dtype=np.int64), np.zeros(keys.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        found = self.keys[pos] == keys
        return np.where(found, self.codes[pos], _UNDECIDED), found

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        k = np.concatenate([self.keys, keys])
        order = np.argsort(k, kind="stable")
        self.keys, self.codes = k[order], np.concatenate([self.codes, codes])[order]


#: the running total of len(store) over _CACHE (kept by _store, _remember and _evict; O(1) per call)
_PAIRS = [0]


def _store(N: int, C: int, prob: ref.SegmentationProblem, floor) -> _Store:
    key = (N, C, prob.alpha, prob.bound, prob.setting, prob.budget, floor)
    store = _CACHE.get(key)
    if store is None:
        store = _CACHE[key] = _Store(_Problem(N, C, prob, floor))
    _CACHE.move_to_end(key)
    return store


def _remember(store: _Store, keys: np.ndarray, codes: np.ndarray) -> None:
    store.add(keys, codes)
    _PAIRS[0] += int(keys.size)


def _evict() -> None:
    """Drop the least recently used problems while more than CACHE_PAIRS pairs are memoised (the newest
    problem always stays)."""
    while _PAIRS[0] > CACHE_PAIRS and len(_CACHE) > 1:
        _, old = _CACHE.popitem(last=False)
        _PAIRS[0] -= len(old)


def clear_cache() -> None:
    """Forget every memoised alpha* (the benchmarks measure the cold path after it)."""
    _CACHE.clear()
    _PAIRS[0] = 0


def cache_pairs() -> int:
    """Number of memoised alpha* values (at most CACHE_PAIRS once a new problem arrives)."""
    return sum(len(s) for s in _CACHE.values())


def alpha_star_codes(n_a: np.ndarray, n_b: np.ndarray, N: int, C: int, prob: ref.SegmentationProblem,
                     floor=None) -> np.ndarray:
    """Clause F.5: the codes of the reference's alpha* (``ref.alpha_star`` with the same ``floor`` and
    ``prob.bound``) for the distinct pairs (n_a[i], n_b[i]); memoised per problem."""
    n_a = np.asarray(n_a, dtype=np.int64)
    n_b = np.asarray(n_b, dtype=np.int64)
    store = _store(N, C, prob, floor)
    _evict()
    if (N + 1) ** 2 >= 2**62:  # pair keys would overflow int64: no memo (F.3-A's N_MAX is far below)
        return store.problem.codes(n_a, n_b)
    keys = n_a * (N + 1) + n_b
    codes, found = store.lookup(keys)
    if not found.all():
        miss = np.flatnonzero(~found)
        codes[miss] = store.problem.codes(n_a[miss], n_b[miss])
        _remember(store, keys[miss], codes[miss])
    return codes


def alpha_stars(
    pairs: list[tuple[int, int]], N: int, C: int, prob: ref.SegmentationProblem, floor=None
) -> list[Fraction]:
    """Clause F.5: the reference's grid alpha* (``ref.alpha_star`` with the same ``floor``, method
    ``prob.bound``) for each pair, computed fast where the floats are sure."""
    if not pairs:
        return []
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    codes = alpha_star_codes(arr[:, 0], arr[:, 1], N, C, prob, floor)
    return [code_fraction(int(c), prob.alpha) for c in codes]


# --------------------------------------------------------------------------- Holm on codes

def holm_accept_codes(codes: np.ndarray, mult: np.ndarray, alpha: Fraction) -> np.ndarray:
    """Clause SEG.3 on alpha* codes: the same acceptance as ``ref.holm_accept_values`` on their values
    (one row of :func:`holm_accept_rows`)."""
    return holm_accept_rows(np.asarray(codes, dtype=np.int64)[None], mult, alpha)[0]


def holm_accept_rows(codes: np.ndarray, mult: np.ndarray, alpha: Fraction) -> np.ndarray:
    """Clause SEG.3 on each row of a (budgets, pairs) code matrix, pairs of multiplicities ``mult``: row by
    row the same acceptance as ``ref.holm_accept_values`` on the codes' values.

    Codes sort as their values (grid indices are increasing; alpha lies in [grid_value(top),
    grid_value(top + 1)), and equals grid_value(top) only when no pair has the code CODE_ALPHA).  The test
    value (m + 1 - j) <= alpha is taken in float where it is further than HOLM_MARGIN from equality (the
    float quotient is within 3.1 u of the exact one), and exactly otherwise.
    """
    codes = np.asarray(codes, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    width = codes.shape[1]
    top = ref.grid_floor(alpha)
    key = np.where(codes >= 0, 2 * codes, np.where(codes == CODE_ALPHA, 2 * top + 1, np.iinfo(np.int64).max))
    order = np.argsort(key, axis=1, kind="stable")
    c_sorted, m_sorted = np.take_along_axis(codes, order, axis=1), mult[order]
    m = int(mult.sum())
    remaining = m - (np.cumsum(m_sorted, axis=1) - m_sorted)  # m + 1 - j at each group's first position j
    values = code_floats(c_sorted, alpha)
    alpha_f = float(alpha)
    if alpha_f >= EXACT_MIN:
        with np.errstate(all="ignore"):
            ratio = values * remaining.astype(np.float64) / alpha_f
        passed = ratio <= 1 - HOLM_MARGIN
        unsure = ~passed & (ratio < 1 + HOLM_MARGIN) | (values < EXACT_MIN)
    else:
        passed = np.zeros(codes.shape, dtype=bool)
        unsure = np.ones(codes.shape, dtype=bool)
    for i, j in zip(*np.nonzero(unsure)):
        passed[i, j] = code_fraction(int(c_sorted[i, j]), alpha) * int(remaining[i, j]) <= alpha
    stop = np.where(passed.all(axis=1), width, np.argmin(passed, axis=1))  # the step-down stops at the first fail
    accept = np.zeros(codes.shape, dtype=bool)
    np.put_along_axis(accept, order, np.arange(width) < stop[:, None], axis=1)
    return accept


# --------------------------------------------------------------------------- votes

def top_two(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per pixel of (C, P) votes: (A = argmax with the lowest index on ties, N_A, N_B) (clause V1).

    A running top-two over the C contiguous rows, cheaper than a strided argmax.
    A tie with the current maximum leaves A unchanged (lowest index) and sets N_B.
    """
    pred = torch.zeros(v.shape[1], dtype=torch.int64, device=v.device)
    top1 = v[0].clone()
    top2 = torch.full_like(top1, -1) if v.shape[0] > 1 else torch.zeros_like(top1)
    for c in range(1, v.shape[0]):
        x = v[c]
        gt = x > top1
        top2 = torch.where(gt, top1, torch.maximum(top2, x))
        top1 = torch.where(gt, x, top1)
        pred = torch.where(gt, torch.full_like(pred, c), pred)
    return pred, top1, top2


def distinct_pairs(n_a: torch.Tensor, n_b: torch.Tensor, C: int, P: int):
    """The distinct (N_A, N_B) pairs of an image: (n_a, n_b) int64 numpy arrays, multiplicities, and a
    per-pixel index into them (on the votes' device).

    With C <= 2, N_B = N - N_A, so N_A alone is the key.  Keys span a small range on real images, so a
    dense count (no sort) is used when the range is at most max(4 P, 2**16); torch.unique otherwise.
    """
    a_min = int(n_a.min())
    ka = n_a - a_min
    if C <= 2:
        key, span, b_min, rb = ka, int(ka.max()) + 1, 0, 1
    else:
        b_min = int(n_b.min())
        kb = n_b - b_min
        rb = int(kb.max()) + 1
        span = (int(ka.max()) + 1) * rb
        key = ka * rb + kb if span < 2**62 else None
    if key is None:  # keys would overflow int64 (N > 3e9): unique over the stacked pairs
        uniq2, inverse = torch.unique(torch.stack([n_a, n_b]), dim=1, return_inverse=True)
        mult = torch.bincount(inverse, minlength=uniq2.shape[1])
        ua, ub = uniq2[0].cpu().numpy(), uniq2[1].cpu().numpy()
        return ua, ub, mult.cpu().numpy(), inverse
    if span <= max(4 * P, 1 << 16):
        dense = torch.bincount(key, minlength=span)
        uniq = torch.nonzero(dense)[:, 0]
        mult = dense[uniq]
        index = torch.full((span,), -1, dtype=torch.int64, device=key.device)
        index[uniq] = torch.arange(uniq.numel(), device=key.device)
        inverse = index[key]
    else:
        uniq, inverse = torch.unique(key, return_inverse=True)
        mult = torch.bincount(inverse, minlength=uniq.numel())
    u = uniq.cpu().numpy()
    if C <= 2:
        ua = u + a_min
        ub = np.zeros_like(ua) if C == 1 else None
    else:
        ua, ub = u // rb + a_min, u % rb + b_min
    return ua, ub, mult.cpu().numpy(), inverse


def _check_votes(counts, device) -> torch.Tensor:
    if isinstance(counts, torch.Tensor):
        t = counts
    else:
        arr = np.asarray(counts)
        t = torch.from_numpy(np.ascontiguousarray(arr)) if arr.dtype != object else None
        if t is None:
            raise InvalidParameterError("votes must be a numeric array")
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
        raise InvalidParameterError(f"votes must be an integer array, got dtype {t.dtype}")
    if t.ndim not in (2, 3, 4):
        raise InvalidParameterError(f"votes must have shape (C, H, W), (C, P) or (B, C, H, W), got {tuple(t.shape)}")
    if device is not None:
        t = t.to(device)
    t = t.to(torch.int64)
    if t.numel() and int(t.min()) < 0:
        raise InvalidParameterError("votes must be non-negative")
    return t


def _check_labels(labels, flat: torch.Tensor, batched: bool, spatial: tuple[int, ...], shape) -> torch.Tensor | None:
    """Labels as (B, P) int64 on the votes' device (None when not given), checked against the votes."""
    if labels is None:
        return None
    B, C = flat.shape[:2]
    lt = labels if isinstance(labels, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(labels)))
    if lt.dtype.is_floating_point or lt.dtype == torch.bool:
        raise InvalidParameterError(f"labels must be an integer array, got dtype {lt.dtype}")
    lt = lt.to(flat.device).to(torch.int64)
    lb = lt if batched else lt[None]
    if tuple(lb.shape) != (B,) + spatial:
        raise InvalidParameterError(f"labels of shape {tuple(lt.shape)} do not match votes of shape {tuple(shape)}")
    if lb.numel() and (int(lb.min()) < 0 or int(lb.max()) >= C):
        raise InvalidParameterError(f"labels must lie in [0, {C - 1}] (C = {C} classes)")
    return lb.reshape(B, -1)


@dataclass(frozen=True)
class _Image:
    """What of one image no budget changes: N, the prediction, the distinct (N_A, N_B) pairs with their
    multiplicities, each pixel's pair (``inverse``), and, with labels, the confusion cells per pair as
    (pair, cell, count) triples and the predicted-class counts."""

    N: int
    pred: np.ndarray
    n_a: np.ndarray
    n_b: np.ndarray
    mult: np.ndarray
    inverse: np.ndarray
    cells: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    pred_count: np.ndarray | None


def _image(v: torch.Tensor, y: torch.Tensor | None, C: int, P: int) -> _Image:
    totals = v.sum(dim=0)
    N = int(totals[0])
    if bool((totals != N).any()):
        bad = int(torch.nonzero(totals != N)[0, 0])
        raise InvalidParameterError(
            f"votes must total the same N at every pixel: pixel 0 has {N}, pixel {bad} has {int(totals[bad])}"
        )
    if N <= 0:
        raise InvalidParameterError("votes total N = 0: nothing to certify")
    pred, n_a, n_b = top_two(v)
    ua, ub, mult, inverse = distinct_pairs(n_a, n_b, C, P)
    if ub is None:  # C = 2: N_B = N - N_A
        ub = N - ua
    cells = pred_count = None
    if y is not None:
        cell = pred * C + y
        if (len(ua) + 1) * C * C < KEY_LIMIT:  # one int64 key per pixel
            combo, count = torch.unique(inverse * (C * C) + cell, return_counts=True)
            combo = combo.cpu().numpy()
            cells = (combo // (C * C), combo % (C * C), count.cpu().numpy())
        else:
            uniq, count = torch.unique(torch.stack([inverse, cell]), dim=1, return_counts=True)
            cells = (uniq[0].cpu().numpy(), uniq[1].cpu().numpy(), count.cpu().numpy())
        pred_count = torch.bincount(pred, minlength=C).cpu().numpy()
    return _Image(N, pred.cpu().numpy(), ua, ub, mult, inverse.cpu().numpy(), cells, pred_count)


def _pair_codes(images: Sequence[_Image], C: int, probs, floor) -> list[np.ndarray]:
    """Per image, the (budgets, pairs) alpha* codes: one memoised lookup per budget and distinct N over the
    union of the images' pairs."""
    out: list[np.ndarray | None] = [None] * len(images)
    if any((im.N + 1) ** 2 >= KEY_LIMIT for im in images):  # pair keys would overflow int64: image by image
        return [np.stack([alpha_star_codes(im.n_a, im.n_b, im.N, C, prob, floor) for prob in probs])
                for im in images]
    for N in sorted({im.N for im in images}):
        group = [i for i, im in enumerate(images) if im.N == N]
        keys = np.concatenate([images[i].n_a * (N + 1) + images[i].n_b for i in group])
        _, first, where = np.unique(keys, return_index=True, return_inverse=True)
        n_a = np.concatenate([images[i].n_a for i in group])[first]
        n_b = np.concatenate([images[i].n_b for i in group])[first]
        table = np.stack([alpha_star_codes(n_a, n_b, N, C, prob, floor) for prob in probs])
        start = 0
        for i in group:
            size = images[i].n_a.size
            out[i] = table[:, where[start:start + size]]
            start += size
    return out  # type: ignore[return-value]


def segment_budgets(
    counts, alpha, n: Sequence[int], k: Sequence[int], budgets: Sequence[tuple[Sequence[int], Any]],
    method="mmcert", labels=None, segmented_attack=None, r_o: int = 0, segmented_modality: int = 0,
    device=None, bound="bonferroni",
) -> list[ref.SegmentationResult]:
    """Clause SEG at several budgets ``[(r, attack), ...]``: ``[segment(counts, ..., r, attack, ...) for
    (r, attack) in budgets]``, equal result for result (clause SEG.7).

    What does not depend on the budget (the checks, top two, distinct pairs,
    confusion cells) is computed once per image; per budget only the alpha*
    codes of the distinct pairs (memoised), Holm on them (all budgets of an
    image in one :func:`holm_accept_rows`) and the metrics (once per distinct
    certified set).  Guarantee: each result equals the reference engine's at
    its budget (clauses F.1, F.5).
    """
    votes = _check_votes(counts, device)
    batched = votes.ndim == 4
    batch = votes if batched else votes[None]
    B, C = batch.shape[:2]
    spatial = tuple(batch.shape[2:])
    flat = batch.reshape(B, C, -1)
    P = flat.shape[2]
    lab = _check_labels(labels, flat, batched, spatial, votes.shape)
    probs = [ref.segmentation_problem(P, alpha, n, k, r, attack, method, segmented_attack, r_o, segmented_modality,
                                      bound) for r, attack in budgets]
    if not probs:
        return []
    family = probs[0].alpha
    floor = ref.holm_floor(family, P)
    images = [_image(flat[b], None if lab is None else lab[b], C, P) for b in range(B)]
    per_image: list[list[ref.ImageResult]] = [[] for _ in images]
    memos: list[dict[tuple, ref.SegmentationMetrics]] = [{} for _ in images]
    step = max(1, CODE_MATRIX_ELEMENTS // max(1, sum(im.n_a.size for im in images)))
    for start in range(0, len(probs), step):  # a bounded (budgets, pairs) matrix at a time
        chunk = probs[start:start + step]
        for im, codes, rows, metrics_of in zip(images, _pair_codes(images, C, chunk, floor), per_image, memos):
            accept = holm_accept_rows(codes, im.mult, family)
            values = code_floats(codes, family)
            pred = im.pred.reshape(spatial)
            for j, prob in enumerate(chunk):
                metrics = None
                if im.cells is not None:
                    key = (accept[j].tobytes(), prob.segmented_attack, prob.r_o)  # SEG.5: r_o may follow the budget
                    if key not in metrics_of:
                        pair, cell, count = im.cells
                        keep = accept[j][pair]
                        conf = np.zeros(C * C, dtype=np.int64)
                        np.add.at(conf, cell[keep], count[keep])  # exact integers: the stable confusion matrix
                        metrics_of[key] = ref.metrics_from_confusion(conf.reshape(C, C), im.pred_count, P,
                                                                     prob.segmented_attack, prob.r_o)
                    metrics = metrics_of[key]
                rows.append(ref.ImageResult(accept[j][im.inverse].reshape(spatial), pred,
                                            values[j][im.inverse].reshape(spatial), metrics))
    return [
        ref.SegmentationResult(
            tuple(rows[j] for rows in per_image), batched, prob.setting.method, prob.alpha, prob.setting,
            prob.budget, prob.segmented_attack, prob.r_o, C, images[0].N if images else 0, bound=prob.bound,
        )
        for j, prob in enumerate(probs)
    ]


def segment(counts, alpha, n: Sequence[int], k: Sequence[int], r: Sequence[int], attack="modify",
            method="mmcert", labels=None, segmented_attack=None, r_o: int = 0, segmented_modality: int = 0,
            device=None, bound="bonferroni") -> ref.SegmentationResult:
    """Clause SEG with the fast engine: same arguments and results as the reference ``segment``.

    ``counts`` and ``labels`` may be numpy arrays or torch tensors (on any
    device; ``device`` moves them).  The decisions are made in float64 with
    F.4's float64 slack (there is no dtype choice here).  ``bound`` is the bound method (CP.4-CP.7).
    Guarantee: the certified masks and metrics equal the reference engine's (clause F.1, F.5).
    """
    return segment_budgets(counts, alpha, n, k, [(r, attack)], method, labels, segmented_attack, r_o,
                           segmented_modality, device, bound)[0]


#: the multi-budget entry point (pipeline.certifier uses it when an engine offers one)
segment.budgets = segment_budgets  # type: ignore[attr-defined]
