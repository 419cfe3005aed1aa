"""Betting lower confidence bound on S (clause FS.12; Waudby-Smith & Ramdas 2024, capital process).

Expected values: the defining property of the bound, K(m) = prod_j (1 + lambda_j (h_j - m)) >= 1/alpha
at the returned m, evaluated independently with mpmath at 60 digits (soundness: one-sided, no slack;
closeness: K(m + 1e-25) < 1/alpha, i.e. the returned m is within 1e-25 of the exact root); the bets
against a plain-Python loop of the WSR formula; coverage by the same one-sided binomial test as the
Hoeffding / Bernstein simulations in test_estimation.py.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import binom

from mmcert_verified.cli import main
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.feature_smoothing.estimation import (
    BETTING_CAP,
    ScoreBound,
    betting_bets,
    score_lower,
    score_lower_betting,
    score_lower_betting_float,
    statistics_from_cosines,
)

from .test_estimation import DISTRIBUTIONS

cosine_arrays = arrays(
    np.float64, st.integers(1, 80),
    elements=st.one_of(st.floats(-1, 1), st.floats(0.9, 1), st.sampled_from([1.0, -1.0, 0.0, 1 - 2**-53])),
)
alphas = st.sampled_from([Fraction(1, 5), Fraction(1, 1000), Fraction(1, 10**8)])


def mp_capital(c: np.ndarray, alpha: Fraction, m: Fraction) -> mpmath.mpf:
    """K(m) at 60 digits with the library's bets (a definition, checked separately) and exact h_j."""
    lam = betting_bets((1.0 + c) / 2, alpha)
    with mpmath.workdps(60):
        mm = mpmath.mpf(m.numerator) / m.denominator
        k = mpmath.mpf(1)
        for lj, cj in zip(lam.tolist(), c.tolist()):
            k *= 1 + mpmath.mpf(lj) * ((1 + mpmath.mpf(cj)) / 2 - mm)
        return k


def mp_threshold(alpha: Fraction) -> mpmath.mpf:
    with mpmath.workdps(60):
        return mpmath.mpf(alpha.denominator) / alpha.numerator


@settings(max_examples=25)
@given(cosine_arrays, alphas)
def test_returned_bound_has_capital_at_least_one_over_alpha(c, alpha):
    low = score_lower_betting(c, alpha)
    assert 0 <= low < 1
    if low > 0:  # soundness: K(low) >= 1/alpha, so low <= inf{m : K(m) < 1/alpha}
        assert mp_capital(c, alpha, low) >= mp_threshold(alpha)


@settings(max_examples=25)
@given(cosine_arrays, alphas)
def test_returned_bound_is_within_1e_25_of_the_root(c, alpha):
    low = score_lower_betting(c, alpha)
    # closeness: at low + 1e-25 the capital is already below 1/alpha (K is non-increasing in m)
    assert mp_capital(c, alpha, low + Fraction(1, 10**25)) < mp_threshold(alpha)


def test_bets_are_predictable_capped_and_follow_the_formula():
    h = np.random.default_rng(1).uniform(0.5, 1.0, 40)
    alpha = Fraction(1, 100)
    lam = betting_bets(h, alpha)
    assert (lam > 0).all() and (lam <= BETTING_CAP).all()
    for k in (0, 7, 39):  # changing h_k leaves lambda_1..lambda_k (0-based: indices <= k) unchanged
        g = h.copy()
        g[k] = 0.0
        assert np.array_equal(betting_bets(g, alpha)[: k + 1], lam[: k + 1])
    # WSR 2024 eqs. 26-27 written as a plain loop (s_0 = 1/4, means and variances with priors 1/2, 1/4)
    n, ell = len(h), math.log(100)
    total, dev, prev, want = 0.0, 0.0, 0.25, []
    for t, x in enumerate(h.tolist(), start=1):
        want.append(min(BETTING_CAP, math.sqrt(2 * ell / (n * prev))))
        total += x
        mu = (0.5 + total) / (t + 1)
        dev += (x - mu) ** 2
        prev = (0.25 + dev) / (t + 1)
    assert np.allclose(lam, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_coverage_simulation(name):
    sampler, mu = DISTRIBUTIONS[name]
    rng = np.random.default_rng(21)
    trials, n, alpha = 4000, 50, 0.2  # a large alpha makes the test sensitive
    lower = score_lower_betting_float(sampler(rng, (trials, n)), alpha)
    failures = int((lower > mu).sum())
    assert failures <= binom.ppf(1 - 1e-6, trials, alpha)


def test_coverage_of_the_exact_version():
    rng = np.random.default_rng(6)
    trials, n, alpha, mu = 200, 40, Fraction(1, 5), Fraction(9, 10)
    fails = sum(score_lower_betting(2 * rng.binomial(1, 0.9, n).astype(float) - 1, alpha) > mu for _ in range(trials))
    assert fails <= binom.ppf(1 - 1e-6, trials, float(alpha))


@settings(max_examples=25)
@given(cosine_arrays, alphas)
def test_float_version_is_below_and_close_to_exact(c, alpha):
    exact = score_lower_betting(c, alpha)
    approx = Fraction(float(score_lower_betting_float((1.0 + c) / 2, alpha)))
    assert approx <= exact  # soundness of the float version used in simulations
    assert exact - approx <= Fraction(2, 10**9)  # closeness (slack 1e-9 plus float error)


def test_betting_is_tighter_than_hoeffding_and_bernstein_here():
    # cosines in [0.98, 1] (a smooth encoder), N = 1000, alpha = 0.001: the three bounds side by side
    c = np.random.default_rng(0).uniform(0.98, 1.0, 1000)
    stats, alpha = statistics_from_cosines(c), Fraction(1, 1000)
    bet = score_lower_betting(c, alpha)
    assert bet > score_lower(stats, alpha, ScoreBound.BERNSTEIN) > score_lower(stats, alpha, ScoreBound.HOEFFDING)


def test_edge_cases_and_bad_input():
    assert score_lower_betting(np.ones(3), Fraction(1, 1000)) == 0  # K(0) <= 1.75^3 < 1000: nothing to bet on
    assert score_lower_betting(np.ones(2000), Fraction(1, 1000)) > Fraction(99, 100)
    for bad in (np.array([np.nan]), np.array([1.5]), np.zeros((2, 2)), np.array([], dtype=float)):
        with pytest.raises(InvalidParameterError):
            score_lower_betting(bad, Fraction(1, 10))
    with pytest.raises(InvalidParameterError):
        score_lower_betting(np.ones(3), Fraction(1))


def test_cli_bound_betting(tmp_path, capsys):
    c = np.random.default_rng(3).uniform(0.7, 1.0, 500)
    np.save(tmp_path / "c.npy", c)
    code = main(["fs", "score", "--cosines", str(tmp_path / "c.npy"), "--alpha", "0.001", "--bound", "betting",
                 "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["bound"] == "betting" and doc["N"] == 500
    assert Fraction(doc["score_lower"]) == score_lower_betting(c, Fraction(1, 1000))
    code = main(["fs", "score", "--cosines", str(tmp_path / "c.npy"), "--alpha", "0.001", "--bound", "betting",
                 "--json", "--out", str(tmp_path / "x.json"), "--sigma", "1", "--eps", "0.1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.json").exists()
