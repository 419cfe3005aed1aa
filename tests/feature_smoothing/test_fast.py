"""Fast path (clause FS.8) against the reference engine: one-sided soundness with zero slack, decisions
identical, closeness within the stated error bound; and the error model's assumption measured.

Expected values are the reference engine's (tests/feature_smoothing/test_bound.py checks it against an
independent mpmath computation).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcert_verified.feature_smoothing import bound as ref
from mmcert_verified.feature_smoothing import fast
from mmcert_verified.feature_smoothing.gaussian import (
    endpoint_fraction,
    phi_inverse,
    to_arb,
    two_phi_minus_one,
    working_precision,
)


def score_batch(rng: np.random.Generator, n: int) -> np.ndarray:
    """Scores across edges and magnitudes: uniform, near 1, tiny, exact 0/1/0.5 and threshold values."""
    parts = [
        rng.uniform(0, 1, n),
        1 - 10.0 ** -rng.uniform(1, 16, n),
        10.0 ** -rng.uniform(1, 320, n),
        rng.choice([0.0, 1.0, 0.5, 0.75, 0.95, 0.55], n),
    ]
    pick = rng.integers(0, len(parts), n)
    return np.choose(pick, parts)


def check_batch(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    s = score_batch(rng, n)
    sigma = float(rng.choice([0.12, 0.25, 0.5, 1.0, 3.7]))
    eps = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0, 3, n))
    tau_num = int(rng.choice([0, 1, 5, 9]))
    tau = Fraction(tau_num, 10)
    out = fast.fcsb_batch(s, sigma, eps)
    rad = fast.radius_batch(s, sigma, tau)
    dec, _ = fast.certified_batch(s, sigma, eps, tau)
    bad = []
    for i in range(n):
        S, E = Fraction(float(s[i])), Fraction(float(eps[i]))
        b = ref.fcsb(S, Fraction(sigma), E)
        fi, fc = Fraction(float(out.inner_lower[i])), Fraction(float(out.cosine_lower[i]))
        # soundness, zero slack: the reference's values are <= exact, the fast ones <= the reference's
        if not (fi <= b.inner_lower and fc <= b.cosine_lower and bool(out.nonnegative[i]) == b.nonnegative):
            bad.append(("fcsb", s[i], eps[i], sigma))
        # closeness: within the stated error bound (<= 1e-11 for |z| <= 40)
        if b.inner_lower - fi > Fraction(1, 10**11):
            bad.append(("fcsb-close", s[i], eps[i], sigma))
        r = ref.radius(S, Fraction(sigma), tau)
        fr = float(rad.value[i])
        if r.unbounded:
            ok = fr == math.inf
        elif r.value is None:
            ok = math.isnan(fr)
        else:
            ok = Fraction(fr) <= r.value and r.value - Fraction(fr) <= Fraction(1, 10**10) * max(1, sigma)
        if not ok:
            bad.append(("radius", s[i], sigma, tau, fr, r))
        if bool(dec[i]) != ref.certified(S, Fraction(sigma), E, tau):
            bad.append(("decision", s[i], eps[i], sigma, tau))
    assert not bad, bad[:10]


@settings(max_examples=4)
@given(st.integers(0, 2**32 - 1))
def test_fast_agrees_with_reference(seed):
    check_batch(seed, 500)  # 2,000 cases in the default profile


@pytest.mark.slow
@settings(max_examples=100)
@given(st.integers(0, 2**32 - 1))
def test_fast_agrees_with_reference_on_100k_cases(seed):
    check_batch(seed, 1000)  # 10^5 cases


def test_deferral_happens_at_the_threshold():
    # S exactly at the radius boundary for eps = 0, and L = 0 at eps = 0 (S = 1/2): both must be deferred
    out = fast.fcsb_batch([0.5, 0.9], 0.5, [0.0, 0.1])
    assert out.deferred == 1 and bool(out.nonnegative[0]) and float(out.inner_lower[0]) == 0.0
    dec, deferred = fast.certified_batch([0.75], 1.0, [0.0], Fraction(1, 2))
    assert deferred == 1 and bool(dec[0])  # L(0.75, 0) = 0.5 >= tau = 0.5 exactly


def test_special_function_accuracy_assumption():
    """The error model of FS.8, measured: torch ndtri and erf against arb on a dense grid."""
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0, 1, 3000), 10.0 ** -rng.uniform(0, 300, 2000),
                        1 - 10.0 ** -rng.uniform(0, 16, 2000)])
    p = p[(p > fast.TINY) & (p < 1)]
    z = torch.special.ndtri(torch.tensor(p, dtype=torch.float64)).numpy()
    worst_z = 0.0
    with working_precision(200):
        for pi, zi in zip(p.tolist(), z.tolist()):
            exact = phi_inverse(Fraction(pi)).mid()
            err = abs(float(endpoint_fraction(exact) - Fraction(zi)))
            worst_z = max(worst_z, err / (1 + abs(zi)))
    y = np.concatenate([rng.uniform(-10, 10, 3000), rng.uniform(-0.01, 0.01, 1000)])
    e = torch.special.erf(torch.tensor(y, dtype=torch.float64)).numpy()
    worst_e = 0.0
    with working_precision(200):
        for yi, ei in zip(y.tolist(), e.tolist()):
            exact = two_phi_minus_one(to_arb(Fraction(yi)) * to_arb(2).sqrt()).mid()  # erf(y)
            worst_e = max(worst_e, abs(float(endpoint_fraction(exact) - Fraction(ei))))
    # the assumed bounds hold with a factor 100 to spare
    assert worst_z <= fast.Z_REL / 100, worst_z
    assert worst_e <= fast.ERF_ABS / 100, worst_e


def test_bad_input():
    from mmcert_verified.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        fast.fcsb_batch([1.5], 1.0, [0.1])
    with pytest.raises(InvalidParameterError):
        fast.fcsb_batch([0.5], 0.0, [0.1])
    with pytest.raises(InvalidParameterError):
        fast.fcsb_batch([0.5], 1.0, [-0.1])
    with pytest.raises(InvalidParameterError):
        fast.radius_batch([float("nan")], 1.0)
