"""The Feature Cosine Similarity Bound (FCSB), reference engine (spec clauses FS.1-FS.4).

For a base encoder f with unit-norm features, its Gaussian smoothing
F(x) = E f(x + delta), delta ~ N(0, sigma^2 I), a clean input x and a lower
bound S on the Gaussian robustness score S(x) = (1 + <f(x), F(x)>)/2
(clause FS.1), every x' with ||x' - x||_2 <= eps satisfies (clause FS.2)

    <f(x), F(x')>  >=  L(S, eps/sigma) := 2 Phi(Phi^-1(S) - eps/sigma) - 1,

and (clause FS.3) cos(F(x'), f(x)) >= L when L >= 0 (for L = 0: whenever
F(x') != 0); when L < 0 nothing better than -1 holds for the cosine.  The
radius (clause FS.4) is R = sigma (Phi^-1(S) - Phi^-1((1 + tau)/2)), the largest
eps with L >= tau, for tau in [0, 1].

All values are exact rationals rounded to the safe side at 10^-30 (clause
FS.G3) from rigorous balls (:mod:`.gaussian`); decisions are exact, and a
tie that no precision up to ``MAX_BITS`` can resolve is decided against
certification (never reached in tests; clause FS.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from flint import arb

from ..errors import InvalidParameterError
from .gaussian import (
    PrecisionExhaustedError,
    floor_decimal,
    phi_inverse,
    precisions,
    radius_ok,
    to_arb,
    two_phi_minus_one,
    working_precision,
)


def check_score(score: Fraction) -> Fraction:
    """S must lie in [0, 1] (0 is allowed in the library: its bound is the trivial -1)."""
    score = Fraction(score)
    if not 0 <= score <= 1:
        raise InvalidParameterError(f"the score lower bound S must lie in [0, 1], got {score}")
    return score


def check_sigma(sigma: Fraction) -> Fraction:
    sigma = Fraction(sigma)
    if sigma <= 0:
        raise InvalidParameterError(f"sigma must be positive, got {sigma}")
    return sigma


def check_eps(eps: Fraction) -> Fraction:
    eps = Fraction(eps)
    if eps < 0:
        raise InvalidParameterError(f"eps must be non-negative, got {eps}")
    return eps


def check_tau(tau: Fraction) -> Fraction:
    tau = Fraction(tau)
    if not 0 <= tau <= 1:
        raise InvalidParameterError(f"tau must lie in [0, 1], got {tau}")
    return tau


@dataclass(frozen=True)
class FCSB:
    """Clause FS.2-FS.3 at one eps: exact rationals, each <= the exact bound it stands for.

    ``inner_lower``: lower bound on <f(x), F(x')> (within 10^-30 below L).
    ``cosine_lower``: lower bound on cos(F(x'), f(x)): ``inner_lower`` when L >= 0, else -1.
    ``nonnegative``: whether L >= 0 was decided (exactly).
    """

    score: Fraction
    sigma: Fraction
    eps: Fraction
    inner_lower: Fraction
    cosine_lower: Fraction
    nonnegative: bool


@dataclass(frozen=True)
class Radius:
    """Clause FS.4: ``value`` <= R (within 10^-30), None when L(S, 0) < tau, ``unbounded`` when S = 1."""

    score: Fraction
    sigma: Fraction
    tau: Fraction
    value: Fraction | None
    unbounded: bool


def _inner_ball(score: Fraction, shift: Fraction) -> arb:
    """A ball containing L(score, shift) = 2 Phi(Phi^-1(score) - shift) - 1, score in (0, 1)."""
    return two_phi_minus_one(phi_inverse(score) - to_arb(shift))


@lru_cache(maxsize=65536)
def inner_lower(score: Fraction, sigma: Fraction, eps: Fraction) -> Fraction:
    """Clause FS.2: L(S, eps/sigma) rounded down to 10^-30 (exact for S in {0, 1} and eps = 0)."""
    score, sigma, eps = check_score(score), check_sigma(sigma), check_eps(eps)
    if score == 0:
        return Fraction(-1)
    if score == 1:
        return Fraction(1)  # f(z) = f(x) for almost every z, so F(x') = f(x) everywhere
    if eps == 0:
        return 2 * score - 1  # exact: L(S, 0) = 2S - 1 = <f(x), F(x)>
    for bits in precisions():
        with working_precision(bits):
            try:
                ball = _inner_ball(score, eps / sigma)
            except PrecisionExhaustedError:
                continue
            if radius_ok(ball):
                return max(Fraction(-1), floor_decimal(ball))  # L >= -1 exactly
    raise ArithmeticError(f"FCSB enclosure did not converge for S={score}, eps/sigma={eps / sigma}")


def _margin_sign(score: Fraction, sigma: Fraction, eps: Fraction, level: Fraction) -> int:
    """Sign of Phi^-1(S) - eps/sigma - Phi^-1(level) (exact; 0 only for a proven tie).

    ``level`` in [1/2, 1); S in (0, 1).  Returns -1 for an unresolvable tie (conservative).
    """
    if eps == 0:
        return (score > level) - (score < level)
    if score <= level:
        return -1  # Phi^-1(S) <= Phi^-1(level) and eps/sigma > 0
    for bits in precisions():
        with working_precision(bits):
            try:
                d = phi_inverse(score) - to_arb(eps / sigma)
                if level != Fraction(1, 2):
                    d = d - phi_inverse(level)
            except PrecisionExhaustedError:
                continue
            if d > 0:
                return 1
            if d < 0:
                return -1
    return -1  # a tie no precision resolves: decided against certification


def certified(score: Fraction, sigma: Fraction, eps: Fraction, tau: Fraction) -> bool:
    """Clause FS.4: whether the cosine lower bound at eps is >= tau (exact decision)."""
    score, sigma, eps, tau = check_score(score), check_sigma(sigma), check_eps(eps), check_tau(tau)
    if score == 1:
        return True
    if score == 0:
        return False
    if tau == 1:
        return False  # L < 1 for S < 1
    return _margin_sign(score, sigma, eps, (1 + tau) / 2) >= 0


def fcsb(score: Fraction, sigma: Fraction, eps: Fraction) -> FCSB:
    """Clauses FS.2-FS.3: the inner-product and cosine lower bounds at one eps."""
    score, sigma, eps = check_score(score), check_sigma(sigma), check_eps(eps)
    low = inner_lower(score, sigma, eps)
    nonneg = certified(score, sigma, eps, Fraction(0))
    cos_low = max(low, Fraction(0)) if nonneg else Fraction(-1)
    return FCSB(score, sigma, eps, low, cos_low, nonneg)


@lru_cache(maxsize=65536)
def radius(score: Fraction, sigma: Fraction, tau: Fraction = Fraction(1, 2)) -> Radius:
    """Clause FS.4: R = sigma (Phi^-1(S) - Phi^-1((1 + tau)/2)) rounded down (>= 0), or None."""
    score, sigma, tau = check_score(score), check_sigma(sigma), check_tau(tau)
    if score == 1:
        return Radius(score, sigma, tau, None, True)
    level = (1 + tau) / 2
    if score < level:  # includes S = 0 and tau = 1: L(S, 0) = 2S - 1 < tau
        return Radius(score, sigma, tau, None, False)
    if score == level:
        return Radius(score, sigma, tau, Fraction(0), False)
    for bits in precisions():
        with working_precision(bits):
            try:
                ball = phi_inverse(score)
                if level != Fraction(1, 2):
                    ball = ball - phi_inverse(level)
            except PrecisionExhaustedError:
                continue
            ball = ball * to_arb(sigma)
            if radius_ok(ball):
                return Radius(score, sigma, tau, max(Fraction(0), floor_decimal(ball)), False)
    raise ArithmeticError(f"radius enclosure did not converge for S={score}, tau={tau}")
