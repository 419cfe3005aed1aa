"""The fast engine's float tables against exact values (spec clauses F.2-F.4, CP.1-CP.2, T1.1-T1.4).

What the fast engine's decisions rest on, checked entry by entry:

* CP tables (clause F.3, ``fast/confidence.py``): lower[s] <= the reference's cp_lower and
  upper[s] >= the reference's cp_upper (soundness, zero slack); and the REL_SLACK
  closeness that ``gap_bounds`` relies on for its *upper* end: cp_lower <= lower[s] (1 + REL_SLACK)
  and cp_upper >= upper[s] (1 - REL_SLACK) (two-sided closeness, separate tests).
* log binomial-ratio tables (clause F.2, ``fast/ratios.py``): |value - exact| <= the carried
  err, where "exact" is log of the ratio of two ``math.comb`` integers evaluated by mpmath at
  400 bits (an independent formula: the tables sum log1p terms; these are logs of big integers).
* Delta = K / P_n (clause T1.4/F.4): Delta_lo <= K/P_n <= Delta_hi as exact rationals, with
  K and P_n the reference's exact integers (``SubsampleMasses``).
* the vote gap (clause T1.2/F.4): G_lo <= (a - b)/P_n <= G_hi as exact rationals, with a, b the
  reference's integers (``theorem1.decide``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import assume, example, given
from hypothesis import strategies as st

from mmcert_verified.fast.classify import gap_bounds
from mmcert_verified.fast.delta import delta_bounds, float_exact
from mmcert_verified.fast.confidence import REL_SLACK, cp_table
from mmcert_verified.fast.ratios import log_comb_lower, log_ratio_table
from mmcert_verified.reference import certify as ref
from mmcert_verified.reference.clopper_pearson import cp_lower, cp_upper
from mmcert_verified.reference.theorem1 import SubsampleMasses, decide
from mmcert_verified.threat_model import Attack, Budget, Method, Setting, attacked_sizes
from mmcert_verified.votes import Votes

REL = Fraction(REL_SLACK)

# --------------------------------------------------------------------------- strategies


@st.composite
def alphas(draw) -> Fraction:
    """alpha in [1e-12, 0.5], log-uniform, as the exact rational the CLI would use."""
    e = draw(st.floats(min_value=-12.0, max_value=math.log10(0.5)))
    return ref.alpha_fraction(min(10.0**e, 0.5))


@st.composite
def cp_cases(draw):
    """(N, level, counts to check): N up to 3e4 (rarely; 1e5 pinned), level = alpha / C."""
    bucket = draw(st.integers(0, 29))
    if bucket == 29:
        N = draw(st.integers(10**4, 3 * 10**4))  # N = 1e5 is pinned by @example (the reference costs ~1 s a bound)
    elif bucket >= 20:
        N = draw(st.integers(201, 5000))
    else:
        N = draw(st.integers(1, 200))
    C = draw(st.integers(1, 10))
    level = draw(alphas()) / C
    if N <= 40:
        ss = list(range(N + 1))
    else:
        k = 3 if N >= 10**4 else 10
        ss = draw(st.lists(st.integers(0, N), min_size=1, max_size=k, unique=True))
        ss += [N, N - 1, 0, 1]  # the edges: all-or-nothing closed forms and the s = 0 / s = N specials
    return N, level, sorted(set(ss))


PAPER_CP = dict(N=100, level=Fraction(1, 7000), ss=list(range(101)))  # RAVDESS: alpha 0.001, C = 7


# --------------------------------------------------------------------------- CP tables


@given(cp_cases())
@example((100, Fraction(1, 7000), list(range(101))))
@example((1, Fraction(1, 2 * 10**12), [0, 1]))
@example((10**5, Fraction(1, 2000), [0, 1, 50_000, 99_999, 10**5]))
def test_cp_table_never_above_reference_lower_nor_below_reference_upper(case):
    # soundness, zero slack: the fast lower bound is at or below the reference's verified
    # lower bound, and the fast upper bound at or above the reference's verified upper bound
    N, level, ss = case
    low, up = cp_table(N, level)
    assert low.shape == up.shape == (N + 1,)
    for s in ss:
        assert Fraction(float(low[s])) <= cp_lower(s, N, level), (N, level, s)
        assert Fraction(float(up[s])) >= cp_upper(s, N, level), (N, level, s)


@given(cp_cases())
@example((100, Fraction(1, 7000), list(range(101))))
@example((10**5, Fraction(1, 2000), [0, 1, 50_000, 99_999, 10**5]))
def test_cp_table_within_rel_slack_of_reference(case):
    # closeness (two-sided, separate): gap_bounds' upper end assumes
    # reference lower <= fast lower * (1 + REL_SLACK) and reference upper >= fast upper * (1 - REL_SLACK)
    N, level, ss = case
    low, up = cp_table(N, level)
    for s in ss:
        lo_f, up_f = Fraction(float(low[s])), Fraction(float(up[s]))
        assert cp_lower(s, N, level) <= lo_f * (1 + REL), (N, level, s)
        assert cp_upper(s, N, level) >= up_f * (1 - REL), (N, level, s)


@pytest.mark.parametrize("N", [1, 2, 37, 100, 1000])
def test_cp_table_edges(N):
    # CP.1/CP.2: lower[0] = 0 and upper[N] = 1 exactly; tables are monotone in s (source: the
    # quantiles of Beta(s, N-s+1) increase with s)
    low, up = cp_table(N, Fraction(1, 7000))
    assert low[0] == 0.0 and up[N] == 1.0
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(up) >= 0)
    assert not low.flags.writeable and not up.flags.writeable


# --------------------------------------------------------------------------- log-ratio tables


def exact_log_ratio(n: int, k: int, r: int, grow: bool):
    """log C(n -/+ r, k) / C(n, k) from math.comb big integers at 400 bits; None for ratio 0."""
    top = math.comb(n + r, k) if grow else math.comb(n - r, k)
    if top == 0:
        return None
    with mpmath.workprec(400):
        return mpmath.log(mpmath.mpf(top)) - mpmath.log(mpmath.mpf(math.comb(n, k)))


@st.composite
def ratio_cases(draw):
    n = draw(st.one_of(st.integers(1, 60), st.integers(61, 50_000), st.integers(50_001, 10**7)))
    k = draw(st.one_of(st.integers(1, min(n, 40)), st.integers(1, min(n, 3000)), st.integers(max(1, n - 30), n)))
    grow = draw(st.booleans())
    cap = 200_000 if grow else min(n, 200_000)  # shrink tables only make sense up to r = n
    length = draw(st.integers(1, cap + 1))
    rs = draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=6))
    rs += [0, length - 1, min(1, length - 1)]
    return n, k, length, grow, sorted(set(rs))


@given(ratio_cases())
@example((108, 5, 109, False, [0, 1, 50, 103, 104, 108]))  # RAVDESS audio: ratio 0 from r = 104
@example((79380, 1000, 2000, True, [0, 1, 1999]))
@example((10**7, 1, 200_001, False, [0, 1, 200_000]))
@example((10**7, 3000, 200_001, True, [0, 7, 200_000]))
@example((5, 5, 6, False, [0, 1, 5]))
def test_log_ratio_table_error_is_carried(case):
    # F.2: |values[r] - exact| <= err[r]; ratio 0 <=> -inf (zero slack, exact comparison at 400 bits)
    n, k, length, grow, rs = case
    tab = log_ratio_table(n, k, length, grow)
    assert tab.values.shape == tab.err.shape == (length,)
    for r in rs:
        exact = exact_log_ratio(n, k, r, grow)
        v, e = float(tab.values[r]), float(tab.err[r])
        if exact is None:
            assert v == -math.inf, (n, k, r, grow)
            continue
        assert math.isfinite(v) and e >= 0, (n, k, r, grow, v, e)
        with mpmath.workprec(400):
            assert abs(mpmath.mpf(v) - exact) <= mpmath.mpf(e), (n, k, r, grow, v, e, exact)


@pytest.mark.parametrize("n,k", [(10, 3), (465_750, 500), (10**7, 1)])
def test_log_comb_lower_is_a_lower_bound(n, k):
    # the 2/P_n term of gap_bounds uses exp(-log_comb_lower): it must not exceed log C(n, k)
    with mpmath.workprec(200):
        exact = mpmath.log(mpmath.mpf(math.comb(n, k)))
        assert mpmath.mpf(log_comb_lower(np.array([n]), np.array([k]))) <= exact


# --------------------------------------------------------------------------- Delta and the gap


@st.composite
def setting_budget(draw):
    """A valid (setting, budget): T <= 4 modalities, either method, mixed attacks, r up to ~2e5."""
    T = draw(st.integers(1, 4))
    method = draw(st.sampled_from([Method.MMCERT, Method.ABLATION]))
    n = [draw(st.one_of(st.integers(2, 60), st.integers(2, 20_000), st.integers(2, 10**7))) for _ in range(T)]
    if method is Method.MMCERT:
        k = [draw(st.one_of(st.integers(1, min(ni, 30)), st.integers(1, min(ni, 3000)))) for ni in n]
    else:
        k = [draw(st.integers(1, min(sum(n), 3000)))]
    attacks = [draw(st.sampled_from(list(Attack))) for _ in range(T)]
    r = []
    for i in range(T):
        scale = max(1, n[i] // (k[i] if method is Method.MMCERT else k[0]))
        hi = 200_000 if attacks[i] is Attack.ADD else n[i]
        r.append(min(hi, draw(st.one_of(st.integers(0, 3), st.integers(0, min(hi, 2 * scale)), st.integers(0, hi)))))
    setting = Setting(tuple(n), tuple(k), method)
    budget = Budget(tuple(r), tuple(attacks))
    try:
        attacked_sizes(setting, budget)
    except Exception:
        assume(False)
    return setting, budget


def _masses(setting: Setting, budget: Budget) -> SubsampleMasses:
    return SubsampleMasses.of(attacked_sizes(setting, budget))


@given(setting_budget())
@example((Setting((108, 79380), (5, 1000)), Budget((1, 1), (Attack.MODIFY, Attack.MODIFY))))
@example((Setting((108, 79380), (1005,), Method.ABLATION), Budget((3, 7), (Attack.DELETE, Attack.ADD))))
@example((Setting((465_750, 465_750), (500, 500)), Budget((10, 10), (Attack.MODIFY, Attack.MODIFY))))
@example((Setting((10**7,), (1,)), Budget((5_000_000,), (Attack.MODIFY,))))
@example((Setting((515,), (515,), Method.ABLATION), Budget((515,), (Attack.ADD,))))  # P_n'/P_n = C(1030, 515) overflows
def test_delta_bounds_contain_exact_threshold(case):
    # F.2/F.4 soundness, zero slack: Delta_lo <= (P_n + P_n' - 2 P_e) / P_n <= Delta_hi, exact rationals
    setting, budget = case
    m = _masses(setting, budget)
    d = delta_bounds(setting, np.array([budget.r]), budget.attack)
    exact = Fraction(m.threshold, m.p_n)
    lo, hi = float(d.lo[0]), float(d.hi[0])
    if lo == -math.inf:
        # outside F.2's float range (n + r >= 2**53 or a table longer than TABLE_MAX): undecidable, and
        # only there; the caller hands every such budget to the reference
        assert hi == math.inf and not float_exact(setting, np.array([budget.r])), (setting, budget)
        return
    if m.p_e == 0:
        # P_e = 0 can never be certified (T1.4 needs a - b > P_n + P_n' >= P_n): inf is allowed
        assert lo == math.inf or Fraction(lo) <= exact
        return
    assert lo <= hi
    if lo == math.inf:
        # overflow (e.g. P_n' / P_n > 2^1024) is reported as "never certifiable": allowed only where the
        # reference cannot certify either: a - b <= P_n <= K, i.e. K / P_n >= 1
        assert exact >= 1, (setting, budget)
        return
    assert Fraction(lo) <= exact, (setting, budget, lo, float(exact))
    if math.isfinite(hi):
        assert exact <= Fraction(hi), (setting, budget, hi, float(exact))


@given(setting_budget())
@example((Setting((108, 79380), (5, 1000)), Budget((1, 1), (Attack.MODIFY, Attack.MODIFY))))
def test_delta_bounds_are_tight(case):
    # closeness (two-sided, separate): the bracket is narrow wherever certification is possible
    # (Delta < 1).  Bound: F.4's E = 8u (r_tot + 8)(1 + rho' + 2 rho_e) per side, from spec/clauses.md.
    setting, budget = case
    m = _masses(setting, budget)
    exact = Fraction(m.threshold, m.p_n)
    assume(m.p_e > 0 and exact < 1)
    d = delta_bounds(setting, np.array([budget.r]), budget.attack)
    u = 2.0**-53
    rho_p = m.p_n_prime / m.p_n
    rho_e = m.p_e / m.p_n
    E = 8 * u * (sum(budget.r) + 8) * (1 + rho_p + 2 * rho_e)
    assert float(d.hi[0]) - float(d.lo[0]) <= 2 * E, (setting, budget)


@st.composite
def gap_cases(draw):
    setting, budget = draw(setting_budget())
    C = draw(st.integers(1, 8))
    N = draw(st.one_of(st.integers(1, 150), st.integers(1, 2000)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    B = draw(st.integers(1, 4))
    conc = draw(st.sampled_from([0.05, 0.5, 5.0]))
    counts = [rng.multinomial(N, rng.dirichlet([conc] * C)).tolist() for _ in range(B)]
    return setting, counts, draw(alphas())


@given(gap_cases())
@example((Setting((108, 79380), (5, 1000)), [[100, 0, 0, 0, 0, 0, 0], [60, 40, 0, 0, 0, 0, 0]], Fraction(1, 1000)))
@example((Setting((3,), (3,)), [[1]], Fraction(1, 2)))  # P_n = 1: the 2/P_n term is 2
def test_gap_bounds_contain_reference_gap(case):
    # F.3/F.4 soundness (lower end) and exactness (upper end), zero slack:
    # G_lo <= (a - b)/P_n <= G_hi with the reference's a = floor(p_A P_n), b = ceil(p_B P_n)
    setting, counts, alpha = case
    lists = list(zip(setting.n, setting.k)) if setting.method is Method.MMCERT else [(sum(setting.n), setting.k[0])]
    p_n = 1
    for n_i, k_i in lists:
        p_n *= math.comb(n_i, k_i)
    lpl = log_comb_lower(np.array([a for a, _ in lists]), np.array([b for _, b in lists]))
    g = gap_bounds(torch.tensor(counts, dtype=torch.int64), alpha, lpl)
    masses = SubsampleMasses(p_n, p_n, p_n)  # only a and b are used
    for i, c in enumerate(counts):
        lb = ref.label_bounds(Votes(tuple(c)), alpha)
        dec = decide(lb.p_a_lower, lb.p_b_upper, masses)
        exact = Fraction(dec.a - dec.b, p_n)
        assert int(g.label[i]) == lb.label
        assert Fraction(float(g.lo[i])) <= exact, (c, alpha, setting)
        assert exact <= Fraction(float(g.hi[i])), (c, alpha, setting)
