"""Theorem 1 (clauses T1.1-T1.5) on cases computed by hand, and the paper's RAVDESS setting.

Integer form of the condition (clause T1.4, derived in spec/algebra.py):
    certified  <=>  a - b > P_n + P_n' - 2 P_e,   a = floor(p_A P_n), b = ceil(p_B P_n).

Hand values of the bounds used below (closed forms, see test_clopper_pearson.py):
with counts (N, 0), C = 2 and alpha = 0.002 the level is 0.001, so
    p_A lower = 0.001^(1/100) = 10^(-0.03) = 0.9332543...   (N = 100)
    p_B upper = 1 - 0.001^(1/100)          = 0.0667457...
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import pytest

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.binomial_tail import exact_tail_ge, exact_tail_le
from mmcert_verified.reference.certify import certify, label_bounds, radius
from mmcert_verified.reference.clopper_pearson import cp_lower, cp_upper
from mmcert_verified.reference.theorem1 import SubsampleMasses, ceil_mul, comb, decide, floor_mul
from mmcert_verified.threat_model import Budget, Setting, attacked_sizes
from mmcert_verified.votes import Votes


def masses(n, k, r, attack, method="mmcert"):
    return SubsampleMasses.of(attacked_sizes(Setting(n, k, method), Budget(r, (attack,))))


# ---------------------------------------------------------------------------
# T1.1: the masses, by hand
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n,k,r,attack,expected",
    [
        # C(10,2) = 10*9/2 = 45; modify r=1: e = 9, C(9,2) = 36; n' = 10
        ((10,), (2,), (1,), "modify", (45, 45, 36)),
        # add r=1: n' = 11, C(11,2) = 55; e = 10, C(10,2) = 45
        ((10,), (2,), (1,), "add", (45, 55, 45)),
        # delete r=1: n' = e = 9, C(9,2) = 36
        ((10,), (2,), (1,), "delete", (45, 36, 36)),
        # T = 2: C(6,1) C(5,1) = 30; modify r=(1,0): C(5,1) C(5,1) = 25
        ((6, 5), (1, 1), (1, 0), "modify", (30, 30, 25)),
        # T = 2: C(6,1) C(5,2) = 6*10 = 60; add r=(2,1): C(8,1) C(6,2) = 8*15 = 120; e = n: 60
        ((6, 5), (1, 2), (2, 1), "add", (60, 120, 60)),
        # modify everything: e = 0 < k, C(0,2) = 0
        ((4,), (2,), (4,), "modify", (6, 6, 0)),
    ],
)
def test_masses_by_hand(n, k, r, attack, expected):
    m = masses(n, k, r, attack)
    assert (m.p_n, m.p_n_prime, m.p_e) == expected
    assert m.threshold == expected[0] + expected[1] - 2 * expected[2]


def test_comb_is_exact_big_integer():
    # C(79380, 1000) has 2,183 digits (log10 by lgamma, below); exact integers, no float
    v = comb(79380, 1000)
    assert isinstance(v, int)
    digits = (math.lgamma(79381) - math.lgamma(1001) - math.lgamma(78381)) / math.log(10)
    assert len(str(v)) == math.floor(digits) + 1
    assert comb(5, 6) == 0


# ---------------------------------------------------------------------------
# T1.2-T1.4: the integer condition by hand, including the strict boundary
# ---------------------------------------------------------------------------


def test_strict_boundary_modify_n10_k2_r1():
    # P_n = P_n' = 45, P_e = 36, threshold = 45 + 45 - 72 = 18.
    m = masses((10,), (2,), (1,), "modify")
    assert m.threshold == 18
    # p_A = 30/45, p_B = 12/45: a = 30, b = 12, a - b = 18 = threshold -> NOT certified (strict)
    d = decide(Fraction(30, 45), Fraction(12, 45), m)
    assert (d.a, d.b, d.threshold, d.certified) == (30, 12, 18, False)
    assert d.gap == 0  # Eq.4 = (30-45+36)/45 = 21/45, Eq.5 = (12+45-36)/45 = 21/45
    assert (d.lower_a, d.upper_b) == (Fraction(21, 45), Fraction(21, 45))
    # p_B = 11/45: a - b = 19 > 18 -> certified; gap = (21 - 20)/45
    d = decide(Fraction(30, 45), Fraction(11, 45), m)
    assert (d.a, d.b, d.certified, d.gap) == (30, 11, True, Fraction(1, 45))


def test_rounding_delta_l_delta_u():
    # a = floor(p_A P_n): p_A a hair below 30/45 gives a = 29 (delta_l > 0), and then
    # a - b = 29 - 11 = 18 is no longer > 18.  b = ceil(p_B P_n): a hair above 11/45 gives b = 12.
    m = masses((10,), (2,), (1,), "modify")
    eps = Fraction(1, 10**30)
    d = decide(Fraction(30, 45) - eps, Fraction(11, 45), m)
    assert (d.a, d.certified) == (29, False)
    d = decide(Fraction(30, 45), Fraction(11, 45) + eps, m)
    assert (d.b, d.certified) == (12, False)
    # helpers: exact floor/ceil of p*m
    assert floor_mul(Fraction(2, 3), 45) == 30 and ceil_mul(Fraction(2, 3), 45) == 30
    assert floor_mul(Fraction(2, 3) - eps, 45) == 29 and ceil_mul(Fraction(2, 3) + eps, 45) == 31


@pytest.mark.parametrize(
    "attack,thr",
    [
        ("modify", 18),  # 45 + 45 - 2*36
        ("add", 10),  # 45 + 55 - 2*45
        ("delete", 9),  # 45 + 36 - 2*36
    ],
)
def test_threshold_per_attack(attack, thr):
    m = masses((10,), (2,), (1,), attack)
    assert m.threshold == thr
    # a - b = thr + 1 certifies, a - b = thr does not (p's chosen as exact multiples of 1/45)
    assert decide(Fraction(thr + 1, 45), Fraction(0), m).certified
    assert not decide(Fraction(thr, 45), Fraction(0), m).certified


def test_never_certifiable_when_pe_zero():
    # e < k: P_e = 0, threshold = P_n + P_n' > P_n >= a - b, whatever the bounds (clause T1.4)
    m = masses((4,), (2,), (3,), "modify")  # e = 1 < k = 2
    assert m.p_e == 0 and m.threshold == 12
    assert not decide(Fraction(1), Fraction(0), m).certified


# ---------------------------------------------------------------------------
# full pipeline on tiny settings (counts -> CP bounds -> Theorem 1), by hand
# ---------------------------------------------------------------------------

COUNTS = (100, 0)
ALPHA = Fraction(2, 1000)  # level = alpha / C = 0.001


def test_pipeline_bounds_hand():
    b = label_bounds(Votes(COUNTS), ALPHA)
    assert b.level == Fraction(1, 1000)
    # 0.001^(1/100) = 0.93325430079699...; 1 - that = 0.06674569920300...
    assert abs(float(b.p_a_lower) - 0.9332543007969910) < 1e-15
    assert abs(float(b.p_b_upper) - 0.0667456992030090) < 1e-15


@pytest.mark.parametrize(
    "r,certified",
    [
        # a = floor(45 * 0.93325) = floor(41.996) = 41; b = ceil(45 * 0.066746) = ceil(3.0036) = 4; a - b = 37
        (1, True),  # e = 9: threshold = 90 - 2*36 = 18 < 37
        (2, True),  # e = 8: C(8,2) = 28, threshold = 90 - 56 = 34 < 37
        (3, False),  # e = 7: C(7,2) = 21, threshold = 90 - 42 = 48 >= 37
    ],
)
def test_pipeline_modify_hand(r, certified):
    c = certify(COUNTS, ALPHA, (10,), (2,), (r,), "modify")
    assert (c.decision.a, c.decision.b) == (41, 4)
    assert c.certified is certified


def test_pipeline_radius_hand():
    # from the three rows above: radius 2 for modification;
    # add: threshold 45 + C(10+r,2) - 90: r=3 -> 78 - 45 = 33 < 37, r=4 -> 91 - 45 = 46 >= 37 -> radius 3;
    # delete: threshold 45 - C(10-r,2): r=5 -> 45 - 10 = 35 < 37, r=6 -> 45 - 6 = 39 -> radius 5.
    assert radius(COUNTS, ALPHA, (10,), (2,), (1,), "modify").radius == 2
    assert radius(COUNTS, ALPHA, (10,), (2,), (1,), "add").radius == 3
    assert radius(COUNTS, ALPHA, (10,), (2,), (1,), "delete").radius == 5


@pytest.mark.parametrize(
    "r,certified",
    [
        # n = (6,5), k = (1,1): P_n = 30; a = floor(30 * 0.93325) = floor(27.998) = 27,
        # b = ceil(30 * 0.066746) = ceil(2.0024) = 3; a - b = 24
        ((1, 0), True),  # P_e = 5*5 = 25: threshold = 60 - 50 = 10
        ((1, 1), True),  # P_e = 5*4 = 20: threshold = 20
        ((2, 0), True),  # P_e = 4*5 = 20: threshold = 20
        ((2, 1), False),  # P_e = 4*4 = 16: threshold = 28 >= 24
        ((0, 3), False),  # P_e = 6*2 = 12: threshold = 36
    ],
)
def test_pipeline_two_modalities_hand(r, certified):
    c = certify(COUNTS, ALPHA, (6, 5), (1, 1), r, "modify")
    assert (c.decision.a, c.decision.b) == (27, 3)
    assert c.certified is certified


def test_pipeline_ablation_hand():
    # pooled n = 11, k = 2: C(11,2) = 55; modify r = (1,0): e = 10, C(10,2) = 45, threshold = 110 - 90 = 20;
    # a = floor(55 * 0.93325) = floor(51.33) = 51, b = ceil(55 * 0.066746) = ceil(3.671) = 4: 47 > 20
    c = certify(COUNTS, ALPHA, (6, 5), (2,), (1, 0), "modify", method="ablation")
    assert (c.masses.p_n, c.masses.p_e, c.masses.threshold) == (55, 45, 20)
    assert (c.decision.a, c.decision.b, c.certified) == (51, 4, True)


# ---------------------------------------------------------------------------
# the paper's RAVDESS setting (Section 5.1 "Parameter Settings"; Figure 1)
# ---------------------------------------------------------------------------

RAVDESS = dict(n=(108, 79380), k=(5, 1000))
RAV_COUNTS = (100, 0, 0, 0, 0, 0, 0)  # 100 of 100 votes for one of the 7 emotions
RAV_ALPHA = Fraction(1, 1000)


def _shared_fraction(n, k, r):
    """P_e/P_n for modification, as prod_i prod_{j<r_i} (n_i - k_i - j)/(n_i - j)
    (C(n-r,k)/C(n,k) telescoped by hand), independent of math.comb."""
    out = Fraction(1)
    for n_i, k_i, r_i in zip(n, k, r):
        for j in range(r_i):
            out *= Fraction(n_i - k_i - j, n_i - j)
    return out


def test_ravdess_radius_is_8():
    # Hand/independent check: with P_n = P_n', the condition is (up to the floor/ceil,
    # which move a - b by < 2 out of P_n ~ 10^2190) p_A - p_B > 2 (1 - P_e/P_n).
    # p_A = (1/7000)^(1/100) = 0.91527, p_B = 1 - p_A, so p_A - p_B = 0.83054:
    # t = 8: P_e/P_n = 0.6754 (image: 100*99*98*97*96/(108*...*104)) * 0.9035 (audio) = 0.6103,
    #        2(1 - 0.6103) = 0.779 < 0.8305  -> certified
    # t = 9: P_e/P_n = 0.5724, 2(1 - 0.5724) = 0.855 > 0.8305  -> not certified
    with mpmath.workdps(50):
        pa = mpmath.power(mpmath.mpf(1) / 7000, mpmath.mpf(1) / 100)
        margin = {}
        for t in (8, 9):
            rho = _shared_fraction(RAVDESS["n"], RAVDESS["k"], (t, t))
            margin[t] = (2 * pa - 1) - 2 * (1 - mpmath.mpf(rho.numerator) / rho.denominator)
    assert margin[8] > mpmath.mpf("0.05") and margin[9] < mpmath.mpf("-0.02")
    # the engine agrees, at the radius and at both neighbours
    res = radius(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], RAVDESS["k"], (1, 1), "modify")
    assert res.radius == 8
    assert certify(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], RAVDESS["k"], (8, 8), "modify").certified
    assert not certify(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], RAVDESS["k"], (9, 9), "modify").certified


def test_ravdess_baseline_below_8():
    # Paper, Figure 1 / Section 5.2: MMCert certifies r1 = r2 = 8 here while randomized
    # ablation (pooled, k = 3000) does not.  Hand: pooled n = 79488, budget 16:
    # P_e/P_n = prod_{j<16} (76488 - j)/(79488 - j) = 0.5403 (first order: exp(-3000*16/79488)
    # = 0.547), 2(1 - 0.5403) = 0.919 > 0.8305, i.e. rho is below 1 - 0.8305/2 = 0.5847,
    # the least rho the condition accepts.
    rho = _shared_fraction((79488,), (3000,), (16,))
    assert 0.54 < float(rho) < 0.55 < 1 - 0.83054 / 2  # condition p_A - p_B > 2(1 - rho) fails
    c = certify(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], (3000,), (8, 8), "modify", method="ablation")
    assert not c.certified
    res = radius(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], (3000,), (1, 1), "modify", method="ablation")
    assert res.radius is not None and res.radius < 8


@pytest.mark.parametrize("ratio", [(1, 2), (1, 3), (1, 4)])
def test_ravdess_mmcert_beats_baseline_every_ratio(ratio):
    # Paper, Section 5.2: MMCert outperforms randomized ablation for every r1:r2 ratio
    mm = radius(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], RAVDESS["k"], ratio, "modify").radius
    base = radius(RAV_COUNTS, RAV_ALPHA, RAVDESS["n"], (3000,), ratio, "modify", method="ablation").radius
    assert mm is not None and base is not None and mm > base


# ---------------------------------------------------------------------------
# the printed Eq. 7 is not an upper bound
# ---------------------------------------------------------------------------


def eq7_bracket(s: int, N: int, level: Fraction, iters: int = 80) -> tuple[Fraction, Fraction]:
    """Rationals lo < q <= hi around q = Eq. 7 = the (1 - level)-quantile of Beta(s, N - s + 1),
    by exact bisection on I_x(s, N - s + 1) = Pr[Bin(N, x) >= s] (s >= 1)."""
    lo, hi = Fraction(0), Fraction(1)
    for _ in range(iters):
        mid = (lo + hi) / 2
        if exact_tail_ge(N, s, mid) >= 1 - level:
            hi = mid
        else:
            lo = mid
    return lo, hi


def test_eq7_is_not_an_upper_bound():
    # Counts (90, 10), C = 2, alpha = 0.001: level = 0.0005, N_B = 10.
    # If the true p_B equals hi (just above Eq. 7's value q), then every draw with
    # N_B <= 10 yields an Eq. 7 "upper bound" <= q < p_B (Eq. 7 increases with N_B),
    # and that happens with probability Pr[Bin(100, hi) <= 10] = 0.00137 > 0.0005 (exact).
    level = Fraction(1, 2000)
    lo, hi = eq7_bracket(10, 100, level)
    assert hi - lo < Fraction(1, 10**20)
    miss = exact_tail_le(100, 10, hi)
    assert miss > level
    assert abs(float(miss) - 0.0013657) < 1e-6  # value printed for the record
    # the correct bound (CP.2: Beta(s+1, N-s)) sits above Eq. 7 and does cover
    U = cp_upper(10, 100, level)
    assert U > hi
    assert exact_tail_le(100, 10, U) <= level
    # and with N_B = 0 Eq. 7 is Beta(0, N+1): a point mass at 0, so it claims p_B <= 0;
    # yet p_B = 0.01 gives N_B = 0 with probability 0.99^100 = 0.366 > level
    assert exact_tail_le(100, 0, Fraction(1, 100)) == Fraction(99, 100) ** 100 > level


def test_eq7_would_certify_what_theorem1_must_not():
    # Same votes: n = 1000, k = 10, modify r = 31.  With the correct p_B upper bound the
    # engine refuses; with Eq. 7's smaller value (hi, rounded against Eq. 7) it would certify.
    alpha = Fraction(1, 1000)
    bounds = label_bounds(Votes((90, 10)), alpha)
    _, hi = eq7_bracket(10, 100, alpha / 2)
    m = masses((1000,), (10,), (31,), "modify")
    assert not decide(bounds.p_a_lower, bounds.p_b_upper, m).certified
    assert decide(bounds.p_a_lower, hi, m).certified
    assert not certify((90, 10), alpha, (1000,), (10,), (31,), "modify").certified
    assert certify((90, 10), alpha, (1000,), (10,), (30,), "modify").certified


def test_bounds_use_alpha_over_c():
    # clause CP.4: each bound at alpha / C; C counts every label, voted for or not
    b = label_bounds(Votes(RAV_COUNTS), RAV_ALPHA)
    assert b.level == Fraction(1, 7000)
    assert b.p_a_lower == cp_lower(100, 100, Fraction(1, 7000))
    assert b.p_b_upper == cp_upper(0, 100, Fraction(1, 7000))
    assert (b.label, b.runner_up) == (0, 1)  # B = lowest index among the tied zeros


def test_float_alpha_is_the_decimal_it_prints_as():
    # clause CP.4: a float alpha is read as the decimal it prints as, 0.001 -> 1/1000 exactly; its binary
    # value 0.001000000000000000020816681711721685... (exact: Fraction(0.001)) is larger, the permissive side
    assert Fraction(0.001) > Fraction(1, 1000)
    b = label_bounds(Votes(RAV_COUNTS), 0.001)
    assert b.level == Fraction(1, 7000)
    assert b == label_bounds(Votes(RAV_COUNTS), "0.001") == label_bounds(Votes(RAV_COUNTS), Fraction(1, 1000))


# ---------------------------------------------------------------------------
# radius search must terminate
# ---------------------------------------------------------------------------


def test_radius_terminates_when_added_modality_is_never_sampled(monkeypatch):
    # Hand: modality 1 keeps k_1 = 0 of its elements, so adding to it is invisible to the
    # ensemble; at every t, P_n = P_n' = P_e = C(10,2) = 45, threshold 0, a - b = 37 > 0.
    # A terminating search needs at most ~2 log2(limit) + 2 evaluations; allow 400.
    import mmcert_verified.reference.certify as ref

    calls = {"n": 0}
    real = ref.certified_at

    def counting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 400:
            raise RuntimeError("radius search did not terminate within 400 Theorem-1 evaluations")
        return real(*args, **kwargs)

    monkeypatch.setattr(ref, "certified_at", counting)
    try:
        res = radius((100, 0), Fraction(2, 1000), (10, 10), (0, 2), (1, 0), "add")
    except InvalidParameterError:
        return  # an explicit refusal is an acceptable fix
    assert res.radius is not None  # any finite, terminating answer


def test_ablation_radius_stops_at_modality_size():
    # certified with all 10 elements of modality 1 modified (engine: pooled P_e/P_n = 0.818,
    # p_A - p_B = 0.854 > 2(1 - 0.818) = 0.364), and r = (11, 0) is not a valid budget:
    # so the radius is 10.
    assert certify((100, 0), "0.001", (10, 1000), (20,), (10, 0), "modify", method="ablation").certified
    with pytest.raises(InvalidParameterError):
        certify((100, 0), "0.001", (10, 1000), (20,), (11, 0), "modify", method="ablation")
    res = radius((100, 0), "0.001", (10, 1000), (20,), (1, 0), "modify", method="ablation")
    assert res.radius == 10
