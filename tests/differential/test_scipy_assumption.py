"""Assumption F.3-A, re-measured: scipy's forward regularized incomplete beta vs python-flint arb.

Spec F.3: for 1 <= N <= N_MAX and true tail values >= LEVEL_MIN, the relative error of scipy's
betainc / betaincc must stay below CHECK(N) / 4, the fast engine's check margin over four.  The exact
values are arb enclosures (ball arithmetic, 128 bits; points whose ball is wider than 2^-60 relative are
skipped, never counted as passing).  Points: random (N, s) with x = scipy's own quantile at a random
level in [LEVEL_MIN, 1) -- where the fast engine evaluates the check.  A measurement, not a proof (the
spec says so); the slow variant samples 20x more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from flint import arb, ctx
from scipy import special

from mmcert_verified.fast.confidence import LEVEL_MIN, N_MAX, check_margin


def _worst_ratio(points: int, seed: int) -> tuple[float, int]:
    rng = np.random.default_rng(seed)
    worst, measured = 0.0, 0
    saved = ctx.prec
    try:
        ctx.prec = 128
        for _ in range(points):
            N = int(10 ** rng.uniform(0, math.log10(N_MAX)))
            s = int(rng.integers(1, N + 1))
            t = 10 ** rng.uniform(math.log10(LEVEL_MIN), 0)
            upper = bool(rng.integers(2))
            if upper:  # the upper-bound check: Pr[Bin(N, U) <= s'] = betaincc(s'+1, N-s', U), s' = s - 1
                a, b = s, N - s + 1
                x = float(special.betainccinv(a, b, t))
            else:
                a, b = s, N - s + 1
                x = float(special.betaincinv(a, b, t))
            if not 0 < x < 1:
                continue
            ball = arb(x).beta_lower(a, b, regularized=True)
            if upper:
                ball = 1 - ball
            if not ball.is_finite() or ball.rel_accuracy_bits() < 60:
                continue
            exact = float(ball.mid())
            if exact < LEVEL_MIN:
                continue
            got = float(special.betaincc(a, b, x) if upper else special.betainc(a, b, x))
            worst = max(worst, abs(got - exact) / exact / float(check_margin(N)))
            measured += 1
    finally:
        ctx.prec = saved
    return worst, measured


def test_scipy_forward_error_within_a_quarter_of_the_margin():
    worst, measured = _worst_ratio(250, seed=1)
    assert measured >= 100  # the sweep really measured (not all skipped)
    assert worst < 0.25, worst


@pytest.mark.slow
def test_scipy_forward_error_within_a_quarter_of_the_margin_large_sweep():
    worst, measured = _worst_ratio(4000, seed=2)
    assert measured >= 1500
    assert worst < 0.25, worst
