"""Reference FCSB and radius (clauses FS.2-FS.4, FS.G) against an independent mpmath computation.

Soundness (one-sided, zero slack): every reported lower bound is <= the exact value computed by
`mp_reference` at 100 digits. Closeness (separate, two-sided): within 1e-25 (the CLI contract; the
engine rounds at 1e-30). Expected values for the edge cases come from the closed forms in
spec/feature_smoothing.md FS.2-FS.4 (S = 0, S = 1, eps = 0).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import pytest
from hypothesis import example, given

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.feature_smoothing import certified, fcsb, inner_lower, radius
from mmcert_verified.feature_smoothing.gaussian import (
    ceil_decimal,
    endpoint_fraction,
    floor_decimal,
    phi_inverse,
    working_precision,
)

from . import mp_reference as mp
from .strategies import epsilons, scores, sigmas, taus

CLOSE = Fraction(1, 10**25)  # the contract
MP_ACCURACY = Fraction(1, 10**90)  # mp_reference works at 100 digits


@given(scores)
@example(Fraction(1, 2))
@example(Fraction(1, 10**300))
@example(1 - Fraction(1, 10**60))
def test_phi_inverse_ball_contains_the_root(p):
    with working_precision(128):
        ball = phi_inverse(p)
        lo, hi = endpoint_fraction(ball.lower()), endpoint_fraction(ball.upper())
    exact = mp.fraction_of(mp.phi_inverse(p))
    # containment; the 1e-90 is the accuracy of the 100-digit mpmath root, not slack on the ball
    assert lo <= exact + MP_ACCURACY and exact - MP_ACCURACY <= hi
    assert hi - lo < Fraction(1, 10**30)  # and the ball is narrow


@given(scores, sigmas, epsilons)
@example(Fraction(9, 10), Fraction(1, 4), Fraction(1, 10))
@example(Fraction(1, 10**300), Fraction(1), Fraction(3))
@example(1 - Fraction(1, 10**60), Fraction(1, 2), Fraction(2))
@example(Fraction(1, 2), Fraction(1), Fraction(1, 10**20))
def test_inner_lower_is_sound_and_within_1e_25(score, sigma, eps):
    got = inner_lower(score, sigma, eps)
    exact = mp.fraction_of(mp.inner(score, sigma, eps))
    if eps == 0:
        assert got == 2 * score - 1  # FS.2: exact at eps = 0
        return
    assert got <= exact  # soundness, zero slack
    assert exact - got <= CLOSE


@given(scores, sigmas, taus)
@example(Fraction(9, 10), Fraction(1, 4), Fraction(1, 2))
@example(Fraction(3, 4), Fraction(1, 2), Fraction(1, 2))  # S = (1 + tau)/2: radius exactly 0
def test_radius_is_sound_and_within_1e_25(score, sigma, tau):
    r = radius(score, sigma, tau)
    level = (1 + tau) / 2
    if score < level or tau == 1:
        assert r.value is None and not r.unbounded  # FS.4: none when 2S - 1 < tau
        return
    if score == level:
        assert r.value == 0
        return
    exact = mp.fraction_of(mp.radius(score, sigma, tau))
    assert r.value <= exact
    assert exact - r.value <= CLOSE


@given(scores, sigmas, epsilons, taus)
def test_certified_decision_matches_radius(score, sigma, eps, tau):
    r = radius(score, sigma, tau)
    exact_r = None if r.value is None else mp.fraction_of(mp.radius(score, sigma, tau)) if r.value else Fraction(0)
    decided = certified(score, sigma, eps, tau)
    if exact_r is None:
        assert not decided
    elif abs(eps - exact_r) > Fraction(1, 10**60):  # away from the boundary mpmath decides it too
        assert decided == (eps <= exact_r)


@given(scores, sigmas, epsilons)
@example(1 - Fraction(1, 10**8), Fraction(1, 8), Fraction(0))
def test_cosine_lower_is_inner_lower_when_nonnegative_else_minus_one(score, sigma, eps):
    b = fcsb(score, sigma, eps)
    # eps = 0: L = 2S - 1 exactly (FS.2); else the 100-digit mpmath value
    exact = 2 * score - 1 if eps == 0 else mp.fraction_of(mp.inner(score, sigma, eps))
    assert b.cosine_lower <= max(exact, Fraction(-1)) if exact >= 0 else b.cosine_lower == -1
    if exact > Fraction(1, 10**60):
        assert b.nonnegative and b.cosine_lower == max(b.inner_lower, 0)
    if exact < -Fraction(1, 10**60):
        assert not b.nonnegative and b.cosine_lower == -1


@given(scores, scores, sigmas, epsilons)
def test_monotone_in_score(s1, s2, sigma, eps):
    lo, hi = min(s1, s2), max(s1, s2)
    assert inner_lower(lo, sigma, eps) <= inner_lower(hi, sigma, eps) + Fraction(1, 10**30)


def test_edge_values():
    # FS.2 edges: S = 1 -> 1 for every eps; S = 0 -> -1; eps = 0 -> 2S - 1 exactly
    assert inner_lower(Fraction(1), Fraction(1, 4), Fraction(100)) == 1
    assert inner_lower(Fraction(0), Fraction(1, 4), Fraction(0)) == -1
    assert inner_lower(Fraction(3, 5), Fraction(1, 4), Fraction(0)) == Fraction(1, 5)
    assert radius(Fraction(1), Fraction(1, 4)).unbounded
    assert radius(Fraction(7, 10), Fraction(1, 4)).value is None  # 2S - 1 = 0.4 < 0.5


@pytest.mark.parametrize(
    "args",
    [(Fraction(-1, 10), 1, 1), (Fraction(11, 10), 1, 1), (Fraction(1, 2), 0, 1), (Fraction(1, 2), 1, -1)],
)
def test_bad_input_raises_invalid_parameter(args):
    with pytest.raises(InvalidParameterError):
        inner_lower(*map(Fraction, args))


def test_bad_tau():
    with pytest.raises(InvalidParameterError):
        radius(Fraction(1, 2), Fraction(1), Fraction(3, 2))


def test_decimal_rounding_is_outward_from_the_ball_ends():
    """FS.G3: floor_decimal rounds the ball's lower end down, ceil_decimal its upper end up (10^-30)."""
    from flint import arb

    x = arb(0.1, 2.0**-20)  # a ball around the double nearest 0.1 of radius (at least) 2^-20
    lo, hi = endpoint_fraction(x.lower()), endpoint_fraction(x.upper())  # its ends (rounded outward by arb)
    assert lo <= Fraction(0.1) - Fraction(1, 2**20) and hi >= Fraction(0.1) + Fraction(1, 2**20)
    scale = 10**30
    # expected: the definitions, in exact rationals (math.floor / math.ceil of the scaled end)
    assert floor_decimal(x) == Fraction(math.floor(lo * scale), scale)
    assert ceil_decimal(x) == Fraction(math.ceil(hi * scale), scale)
    assert floor_decimal(x) <= lo < floor_decimal(x) + Fraction(1, scale)
    neg = -x  # negative ends round away from the ball as well (negation is exact: ends -hi, -lo)
    assert floor_decimal(neg) == Fraction(math.floor(-hi * scale), scale)
    assert ceil_decimal(neg) == Fraction(math.ceil(-lo * scale), scale)
