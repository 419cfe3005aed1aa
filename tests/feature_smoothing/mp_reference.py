"""An independent high-precision computation of the FS formulas (mpmath, not FLINT) for the tests.

Phi^-1 is found by mpmath's bracketed root finder on log ncdf at 100 digits, on the small tail
(S <= 1/2: ncdf(z) = S; S > 1/2: ncdf(-z) = 1 - S, with 1 - S exact); the residual is checked. At 100 digits these values are correct to far better than the 1e-25 the tests
compare at (mpmath's documented ncdf/erfc accuracy is the working precision).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath

DPS = 100


def mpq(q: Fraction) -> mpmath.mpf:
    q = Fraction(q)
    return mpmath.mpf(q.numerator) / q.denominator


def phi_inverse(p: Fraction) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        p = Fraction(p)
        lower = p <= Fraction(1, 2)
        q = p if lower else 1 - p
        qm = mpq(q)
        # the lower-tail quantile: log ncdf is increasing and concave, bracketed in [-45, 0] for q >= 1e-400
        w = mpmath.findroot(lambda z: mpmath.log(mpmath.ncdf(z)) - mpmath.log(qm), (-45, 0), solver="anderson")
        assert abs(mpmath.log(mpmath.ncdf(w)) - mpmath.log(qm)) < mpmath.mpf(10) ** (-DPS + 10)
        return w if lower else -w


def inner(score: Fraction, sigma: Fraction, eps: Fraction) -> mpmath.mpf:
    """L(S, eps/sigma) = 2 Phi(Phi^-1(S) - eps/sigma) - 1."""
    with mpmath.workdps(DPS):
        if score == 0:
            return mpmath.mpf(-1)
        if score == 1:
            return mpmath.mpf(1)
        y = phi_inverse(score) - mpq(eps) / mpq(sigma)
        return mpmath.erf(y / mpmath.sqrt(2))


def radius(score: Fraction, sigma: Fraction, tau: Fraction) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        level = (1 + Fraction(tau)) / 2
        z_level = mpmath.mpf(0) if level == Fraction(1, 2) else phi_inverse(level)
        return mpq(sigma) * (phi_inverse(score) - z_level)


def fraction_of(x: mpmath.mpf) -> Fraction:
    with mpmath.workdps(DPS):
        x = mpmath.mpf(x)
        man, exp = x.man_exp  # mpmath's man_exp drops the sign
        value = Fraction(int(man)) * Fraction(2) ** int(exp)
        return -value if x < 0 else value
