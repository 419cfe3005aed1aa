"""Confidence bounds on S (clauses FS.5, FS.6): exact statistics, exact formulas, coverage simulations.

Expected values: the bounds' formulas in spec/feature_smoothing.md FS.5-FS.6, evaluated independently
with mpmath at 100 digits from statistics summed with Python Fractions. Coverage: the fraction of
simulated draws whose bound exceeds the true mean must not exceed alpha beyond the binomial 1 - 1e-6
quantile (a one-sided test of the guarantee; the bounds are conservative, so the counts sit far below).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import binom

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.feature_smoothing import ScoreBound, score_lower, score_upper, statistics_from_cosines
from mmcert_verified.feature_smoothing.estimation import ScoreStatistics, score_lower_float

from . import mp_reference as mp

cosine_arrays = arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.one_of(
        st.floats(-1, 1, allow_subnormal=True),
        st.sampled_from([-1.0, 1.0, 0.0, 5e-324, -5e-324, 1 - 2**-53]),
    ),
)
alphas = st.sampled_from([Fraction(1, 10), Fraction(1, 1000), Fraction(1, 10**6), Fraction(3, 7)])


@given(cosine_arrays)
@example(np.array([5e-324, -1.0, 1.0]))
def test_statistics_are_exact(c):
    st_ = statistics_from_cosines(c)
    h = [(1 + Fraction(float(v))) / 2 for v in c]  # Fraction(float) is the float's exact value
    assert st_.n == len(h)
    assert st_.total == sum(h)
    assert st_.total_squares == sum(x * x for x in h)


def mp_bound(stats: ScoreStatistics, alpha: Fraction, method: ScoreBound) -> Fraction:
    with mpmath.workdps(mp.DPS):
        n = stats.n
        mean = mp.mpq(stats.mean)
        a = mp.mpq(alpha)
        if method is ScoreBound.HOEFFDING:
            v = mean - mpmath.sqrt(mpmath.log(1 / a) / (2 * n))
        else:
            lt = mpmath.log(2 / a)
            v = mean - mpmath.sqrt(2 * mp.mpq(stats.variance) * lt / n) - 7 * lt / (3 * (n - 1))
        return mp.fraction_of(v)


@given(cosine_arrays, alphas, st.sampled_from(list(ScoreBound)))
def test_bounds_are_the_formula_rounded_down(c, alpha, method):
    stats = statistics_from_cosines(c)
    if stats.n < method.min_samples:
        with pytest.raises(InvalidParameterError):
            score_lower(stats, alpha, method)
        return
    got = score_lower(stats, alpha, method)
    exact = mp_bound(stats, alpha, method)
    if exact <= 0:
        assert got == 0  # clamped
    else:
        assert got <= exact  # zero slack
        assert exact - got <= Fraction(1, 10**25)


@given(cosine_arrays, alphas, st.sampled_from(list(ScoreBound)))
def test_upper_bound_is_one_minus_lower_bound_of_complement(c, alpha, method):
    stats = statistics_from_cosines(c)
    if stats.n < method.min_samples:
        return
    up = score_upper(stats, alpha, method)
    exact = 1 - mp_bound(stats.complement(), alpha, method)
    assert up >= min(exact, Fraction(1))
    assert up - min(exact, Fraction(1)) <= Fraction(1, 10**25)


@given(arrays(np.float64, st.integers(2, 200), elements=st.floats(0, 1)), st.sampled_from([0.1, 1e-3]),
       st.sampled_from(list(ScoreBound)))
def test_float_version_is_below_and_close_to_exact(h, alpha, method):
    c = 2 * h - 1
    exact = score_lower(statistics_from_cosines(c), Fraction(alpha), method)
    fl = float(score_lower_float((1 + c) / 2, alpha, method))
    assert Fraction(fl) <= exact  # soundness of the float version
    assert float(exact) - fl <= 3e-12  # closeness (FLOAT_SLACK = 1e-12 plus float rounding)


DISTRIBUTIONS = {
    # name: (sampler of h in [0, 1], true mean)
    "bernoulli_0.5": (lambda rng, size: rng.binomial(1, 0.5, size).astype(float), 0.5),
    "bernoulli_0.97": (lambda rng, size: rng.binomial(1, 0.97, size).astype(float), 0.97),
    "beta_40_2": (lambda rng, size: rng.beta(40, 2, size), 40 / 42),
    "two_point_0.9_1": (lambda rng, size: np.where(rng.random(size) < 0.5, 0.9, 1.0), 0.95),
}


@pytest.mark.parametrize("method", list(ScoreBound))
@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_coverage_simulation(name, method):
    sampler, mu = DISTRIBUTIONS[name]
    rng = np.random.default_rng(12)
    trials, n, alpha = 4000, 50, 0.2  # a large alpha makes the test sensitive
    h = sampler(rng, (trials, n))
    lower = score_lower_float(h, alpha, method)
    failures = int((lower > mu).sum())
    assert failures <= binom.ppf(1 - 1e-6, trials, alpha)


def test_coverage_of_the_exact_version():
    # the exact engine on fewer draws (Bernoulli 0.9, alpha = 0.2): same one-sided test
    rng = np.random.default_rng(5)
    trials, n, alpha, mu = 300, 40, Fraction(1, 5), Fraction(9, 10)
    fails = {m: 0 for m in ScoreBound}
    for _ in range(trials):
        h = rng.binomial(1, 0.9, n).astype(float)
        stats = statistics_from_cosines(2 * h - 1)
        for m in ScoreBound:
            fails[m] += score_lower(stats, alpha, m) > mu
    for m in ScoreBound:
        assert fails[m] <= binom.ppf(1 - 1e-6, trials, float(alpha))


def test_bernstein_is_tighter_at_small_variance():
    # cosines in [0.98, 1] (a smooth encoder): variance ~ 3e-5, so the empirical Bernstein bound wins
    c = np.random.default_rng(0).uniform(0.98, 1.0, 1000)
    stats = statistics_from_cosines(c)
    a = Fraction(1, 1000)
    assert score_lower(stats, a, ScoreBound.BERNSTEIN) > score_lower(stats, a, ScoreBound.HOEFFDING)


@pytest.mark.parametrize("bad", [np.array([0.5, np.nan]), np.array([1.5]), np.array([-1.0000001]),
                                 np.zeros((2, 2)), np.array([], dtype=float), np.array([1, 0])])
def test_bad_cosines_are_rejected(bad):
    with pytest.raises(InvalidParameterError):
        statistics_from_cosines(bad)


def test_inconsistent_statistics_are_rejected():
    with pytest.raises(InvalidParameterError):
        ScoreStatistics(2, Fraction(1), Fraction(2))  # sum h^2 > sum h
    with pytest.raises(InvalidParameterError):
        ScoreStatistics(2, Fraction(2), Fraction(1))  # N sum h^2 < (sum h)^2
