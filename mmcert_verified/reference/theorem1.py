"""Theorem 1 in exact integer arithmetic (spec clauses T1.1-T1.5).

With P_n = prod_i C(n_i, k_i), P_n' = prod_i C(n'_i, k_i), P_e = prod_i C(e_i, k_i)
(clause T1.1), a = floor(p_A * P_n) and b = ceil(p_B * P_n) (the delta_l / delta_u
rounding, clause T1.2), Theorem 1's condition (Eq. 4 > Eq. 5, strict, clause T1.3)
is equivalent to the integer inequality

    a - b  >  P_n + P_n' - 2 P_e                                   (T1.4)

Both sides are Python integers, so the decision involves no floating point at
all; the only inexact inputs, p_A and p_B, are exact decimals rounded to the
safe side by :mod:`.clopper_pearson`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from ..threat_model import AttackedSizes, Budget, Setting, attacked_sizes


@lru_cache(maxsize=256)  # entries can be ~1 MB each at KITTI sizes
def comb(n: int, k: int) -> int:
    """C(n, k) as an exact integer (0 when k > n)."""
    return math.comb(n, k)


@dataclass(frozen=True)
class SubsampleMasses:
    """Clause T1.1: the three exact binomial products of Theorem 1."""

    p_n: int
    p_n_prime: int
    p_e: int

    @classmethod
    def of(cls, sizes: AttackedSizes) -> "SubsampleMasses":
        p_n = p_np = p_e = 1
        for n, np_, e, k in zip(sizes.n, sizes.n_prime, sizes.e, sizes.k):
            p_n *= comb(n, k)
            p_np *= comb(np_, k)
            p_e *= comb(e, k)
        return cls(p_n, p_np, p_e)

    @classmethod
    def for_budget(cls, setting: Setting, budget: Budget) -> "SubsampleMasses":
        """The masses of ``budget`` on ``setting``: clause S3's sizes (a budget that does not fit is an
        InvalidParameterError), then T1.1."""
        return cls.of(attacked_sizes(setting, budget))

    @property
    def threshold(self) -> int:
        """The right-hand side of T1.4: P_n + P_n' - 2 P_e."""
        return self.p_n + self.p_n_prime - 2 * self.p_e


@dataclass(frozen=True)
class Theorem1Decision:
    """The exact outcome of clause T1.4 for one (p_A, p_B, masses).

    ``lower_a`` and ``upper_b`` are Eq. 4 and Eq. 5 (the closed-form bounds on
    Pr[g(Y) = A] and Pr[g(Y) = B] after the attack, unclamped); ``gap`` is their
    difference, positive exactly when ``certified``.
    """

    certified: bool
    a: int
    b: int
    threshold: int
    masses: SubsampleMasses

    @property
    def lower_a(self) -> Fraction:
        """Eq. 4: (a - P_n + P_e) / P_n' (computed on demand: the gcd of huge integers is not free)."""
        m = self.masses
        return Fraction(self.a - m.p_n + m.p_e, m.p_n_prime)

    @property
    def upper_b(self) -> Fraction:
        """Eq. 5: (b + P_n' - P_e) / P_n'."""
        m = self.masses
        return Fraction(self.b + m.p_n_prime - m.p_e, m.p_n_prime)

    @property
    def gap(self) -> Fraction:
        """Eq. 4 - Eq. 5 = (a - b - K) / P_n'."""
        return Fraction(self.a - self.b - self.threshold, self.masses.p_n_prime)


def floor_mul(p: Fraction, m: int) -> int:
    """floor(p * m) exactly."""
    return (p.numerator * m) // p.denominator


def ceil_mul(p: Fraction, m: int) -> int:
    """ceil(p * m) exactly."""
    return -((-p.numerator * m) // p.denominator)


def decide(p_a: Fraction, p_b: Fraction, masses: SubsampleMasses) -> Theorem1Decision:
    """Clause T1.4: does Theorem 1 certify with bounds p_A (lower) and p_B (upper)?

    Guarantee: if Pr[g(X) = A] >= p_A and Pr[g(X) = l] <= p_B for every l != A,
    and ``certified`` is True, then Pr[g(Y) = A] > Pr[g(Y) = l] for every l != A
    and every attacked input within the budget that produced ``masses``.
    """
    p_a, p_b = Fraction(p_a), Fraction(p_b)
    a = floor_mul(p_a, masses.p_n)
    b = ceil_mul(p_b, masses.p_n)
    thr = masses.threshold
    return Theorem1Decision(a - b > thr, a, b, thr, masses)
