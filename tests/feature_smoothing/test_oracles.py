"""Closed-form smoothed encoders (oracles) vs the certified bound (clauses FS.2-FS.3).

PGD on the *exact* smoothed function searches the eps-ball for the smallest <f(x), F(x')> and cosine;
the attack point is then evaluated rigorously in ball arithmetic (oracles.*_ball) and must not be
provably below the certified bound (zero slack: a violation is any ball entirely below the bound).
The bound is computed from a rigorous lower bound on the exact S(x) (oracles.score_lower).
Tightness (a separate closeness test): on the half-space encoder PGD reaches the bound.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcert_verified.feature_smoothing import fcsb
from mmcert_verified.feature_smoothing.gaussian import endpoint_fraction, to_arb, working_precision
from mmcert_verified.feature_smoothing.oracles import HalfSpaceEncoder, SignVectorEncoder, SlabEncoder


def pgd(objective, x: torch.Tensor, eps: float, steps: int = 60, restarts: int = 3, seed: int = 0) -> torch.Tensor:
    """Minimise objective(x') over ||x' - x|| <= eps (float64, projected gradient, random restarts)."""
    g = torch.Generator().manual_seed(seed)
    best, best_val = x.clone(), float(objective(x))
    for r in range(restarts):
        d = torch.randn(x.shape, generator=g, dtype=torch.float64)
        d = d / d.norm() * eps * (0.5 if r else 0.0)
        for i in range(steps):
            d = d.detach().requires_grad_(True)
            val = objective(x + d)
            (grad,) = torch.autograd.grad(val, d)
            step = eps / 4 * (0.9 ** i)
            d = d - step * grad / (grad.norm() + 1e-30)
            n = d.norm()
            if n > eps:
                d = d * (eps / n)
        cand = x + d.detach()
        v = float(objective(cand))
        if v < best_val:
            best, best_val = cand, v
    return inside_ball(x, best, eps)


def inside_ball(x: torch.Tensor, xp: torch.Tensor, eps: float) -> torch.Tensor:
    """Shrink x' - x until ||x' - x||^2 <= eps^2 holds exactly (in rationals)."""
    d = (xp - x).numpy()
    for _ in range(100):
        cand = x.numpy() + d
        exact = sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(cand, x.numpy()))
        if exact <= Fraction(eps) ** 2:
            return torch.tensor(cand)
        d = d * (1 - 1e-12)
    raise AssertionError("could not project into the ball")


def check_encoder(enc, x: torch.Tensor, eps: float, seed: int) -> tuple[Fraction, Fraction]:
    """Attack inner product and cosine; return (bound gap of the best inner attack, best inner value)."""
    S = enc.score_lower(x.numpy())
    b = fcsb(S, Fraction(enc.sigma), Fraction(eps))
    fx = enc.feature(x).detach()

    def inner(xp):
        return (enc.smoothed(xp) * fx).sum()

    def cosine(xp):
        F = enc.smoothed(xp)
        return (F * fx).sum() / F.norm()

    xi = pgd(inner, x, eps, seed=seed)
    with working_precision(160):
        ib = enc.inner_ball(x.numpy(), xi.numpy())
        assert not (ib < to_arb(b.inner_lower)), (S, eps, ib, b.inner_lower)  # zero slack
        xc = pgd(cosine, x, eps, seed=seed)
        cb = enc.cosine_ball(x.numpy(), xc.numpy())
        assert not (cb < to_arb(b.cosine_lower)), (S, eps, cb, b.cosine_lower)
        return endpoint_fraction(ib.mid()) - b.inner_lower, b.inner_lower


def _vec(rng, d):
    return torch.tensor(rng.normal(size=d), dtype=torch.float64)


@settings(max_examples=15)
@given(st.integers(0, 10**6), st.sampled_from([0.25, 0.5, 1.0]), st.floats(0.01, 1.5))
def test_half_space_bound_holds_and_is_tight(seed, sigma, eps):
    rng = np.random.default_rng(seed)
    enc = HalfSpaceEncoder(tuple(rng.normal(size=4)), float(rng.normal()), (1.0, 0.0, 0.0), sigma)
    x = _vec(rng, 4)
    gap, _ = check_encoder(enc, x, eps, seed)
    assert gap <= Fraction(1, 10**6)  # closeness: PGD reaches the bound (it is attained, FS.2 / oracles)


@settings(max_examples=10)
@given(st.integers(0, 10**6), st.sampled_from([0.25, 0.5, 1.0]), st.floats(0.01, 1.5), st.integers(1, 4))
def test_sign_vector_bound_holds(seed, sigma, eps, k):
    rng = np.random.default_rng(seed)
    enc = SignVectorEncoder(k, sigma)
    check_encoder(enc, _vec(rng, k + 1), eps, seed)


@settings(max_examples=10)
@given(st.integers(0, 10**6), st.sampled_from([0.25, 0.5, 1.0]), st.floats(0.01, 1.5),
       st.sampled_from([(0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)]))
def test_slab_bound_holds(seed, sigma, eps, v):
    rng = np.random.default_rng(seed)
    enc = SlabEncoder((1.0, 0.0, 0.0), float(rng.uniform(0.3, 2.0)), (1.0, 0.0, 0.0), v, sigma)
    x = _vec(rng, 3) * 0.5
    try:
        enc.feature_exact(x.numpy())
    except ArithmeticError:
        return
    check_encoder(enc, x, eps, seed)


def test_printed_cosine_bound_fails_below_zero():
    """FS.3 / D13: cos(F(x'), f(x)) >= L is false when L < 0 (the half-space encoder's F is parallel to u)."""
    enc = HalfSpaceEncoder((1.0, 0.0), 0.0, (1.0, 0.0), 1.0)
    x = torch.tensor([0.5, 0.0], dtype=torch.float64)
    S = enc.score_lower(x.numpy())
    b = fcsb(S, Fraction(1), Fraction(1))  # eps = 1 > 0.5: x' = (-0.5, 0) crosses the hyperplane
    assert b.inner_lower < 0 and b.inner_lower > -1
    xp = np.array([-0.5, 0.0])
    with working_precision(160):
        cos = enc.cosine_ball(x.numpy(), xp)
        assert cos < to_arb(b.inner_lower)  # the printed statement's value is violated...
        assert not (cos < to_arb(b.cosine_lower))  # ...ours (-1) is not
        assert not (enc.inner_ball(x.numpy(), xp) < to_arb(b.inner_lower))  # the inner bound holds


def test_half_space_worst_case_is_exactly_the_bound():
    """x' = x - eps w/||w|| gives <f(x), F(x')> = erf((a - eps)/(sqrt2 sigma)) = L(S, eps/sigma) exactly."""
    enc = HalfSpaceEncoder((1.0, 0.0), 0.0, (0.0, 1.0), 0.5)
    x = np.array([0.75, 0.25])
    S = enc.score_lower(x)
    b = fcsb(S, Fraction(1, 2), Fraction(1, 4))
    with working_precision(160):
        ib = enc.inner_ball(x, np.array([0.5, 0.25]))
        assert not (ib < to_arb(b.inner_lower))
        assert endpoint_fraction(ib.upper()) - b.inner_lower < Fraction(1, 10**25)


@pytest.mark.parametrize("enc, x", [
    (HalfSpaceEncoder((0.6, -0.8, 0.3), 0.2, (0.0, 1.0, 0.0), 0.5), [0.1, 0.4, -0.3]),
    (SignVectorEncoder(3, 0.5), [0.2, -0.4, 0.1, 0.7]),
    (SlabEncoder((1.0, 0.0, 0.0), 0.6, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), 0.5), [0.3, 0.1, -0.2]),
], ids=["half-space", "sign-vector", "slab"])
def test_closed_forms_are_the_gaussian_means_of_the_features(enc, x):
    """F(x) = E f(x + delta): the closed form (torch) against a Monte Carlo mean, and its ball against it."""
    x = torch.tensor(x, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    n = 40000
    noisy = x + enc.sigma * torch.randn((n, x.numel()), generator=g, dtype=torch.float64)
    mc = enc.feature(noisy).mean(0)
    closed = enc.smoothed(x.unsqueeze(0))[0]
    # closeness: each coordinate of f lies in [-1, 1], so its mean's standard error is <= 1/sqrt(n) = 0.005;
    # 0.03 is 6 standard errors (false failure probability < 1e-8 per coordinate; the draw is seeded)
    assert float((mc - closed).abs().max()) < 0.03
    with working_precision(160):
        ball = enc.smoothed_ball(x.numpy())
        # the ball arithmetic and the float64 closed form agree to float rounding (1e-12 of a value <= 1)
        assert len(ball) == closed.numel()
        for b, c in zip(ball, closed.tolist()):
            assert abs(float(b.mid()) - c) <= 1e-12 + float(b.rad())
