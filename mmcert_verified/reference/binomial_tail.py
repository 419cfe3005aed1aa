"""Rigorous-by-construction binomial tail bounds in mpmath (spec clause CP.3).

For integer shape parameters the regularized incomplete beta function is a
binomial tail: ``I_x(s, N - s + 1) = Pr[Bin(N, x) >= s]``.  Clopper-Pearson
bounds are quantiles of such functions, so the reference engine only ever
needs to bound a binomial tail from above at a given ``x``.

The tail is summed term by term at ``prec`` bits from its start outwards.  Terms
decrease geometrically once past the mode, so the unsummed remainder is bounded
by ``t * rho / (1 - rho)`` (``t`` the last term, ``rho < 1`` the ratio of the next
term to it, itself decreasing): the returned value is an **upper bound** on the
tail, inflated by a relative ``2**-(prec - 40)`` to cover rounding in the
``O(N)`` mpf operations.  When the requested tail contains the mode, the
complement is summed instead (again from its start outwards) and subtracted
from 1 with the rounding slack applied on the safe side.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
from mpmath import mpf

#: working precision (bits) for tail evaluations; 40 bits of it are given up as
#: rounding slack, leaving far more than the 40 significant decimal digits the
#: reference reports (source: mpmath's elementary functions are accurate to a
#: few ulps at any precision, mpmath docs "Precision and representation issues").
TAIL_PREC = 256
#: above this many trials the tail is enclosed with python-flint's arb incomplete beta instead of summed
#: term by term (the sum needs ~sqrt(N) terms: hours at N = 10**12); below it the summation is kept so
#: every bound certificates recorded before the change re-derive digit for digit
ARB_FROM = 10**7
#: arb precisions tried before giving up (a value no engine can enclose is bad input, not a hang)
ARB_PRECS = (256, 512, 1024, 2048, 4096)


def _to_mpf(x) -> mpf:
    """Convert at the current working precision (Fractions exactly rounded)."""
    from fractions import Fraction

    if isinstance(x, Fraction):
        return mpf(x.numerator) / x.denominator
    return mpf(x)


def _log_pmf(N: int, j: int, logx: mpf, log1mx: mpf) -> mpf:
    return (
        mpmath.loggamma(N + 1)
        - mpmath.loggamma(j + 1)
        - mpmath.loggamma(N - j + 1)
        + j * logx
        + (N - j) * log1mx
    )


def _sum_outward(N: int, start: int, step: int, x: mpf, prec: int) -> tuple[mpf, mpf]:
    """Sum Pr[Bin(N,x) = j] for j = start, start+step, ... (step = +1 or -1).

    Requires the terms to be non-increasing from ``start`` on (start at or past
    the mode in the direction of summation).  Returns (partial sum, bound on the
    remainder that was not summed).
    """
    logx = mpmath.log(x)
    log1mx = mpmath.log1p(-x)
    term = mpmath.exp(_log_pmf(N, start, logx, log1mx))
    odds = x / (1 - x)
    total = mpf(0)
    j = start
    eps = mpf(2) ** (-prec)
    while 0 <= j <= N:
        total += term
        if step > 0:
            if j == N:
                return total, mpf(0)
            rho = mpf(N - j) / (j + 1) * odds
        else:
            if j == 0:
                return total, mpf(0)
            rho = mpf(j) / (N - j + 1) / odds
        if rho < 1:
            remainder = term * rho / (1 - rho)
            if remainder <= total * eps or remainder == 0:
                return total, remainder
        term *= rho
        j += step
    return total, mpf(0)


def _inflate(total: mpf, rem: mpf, slack: mpf) -> mpf:
    """(total + rem) * slack, each operation rounded up (an upper bound stays an upper bound)."""
    return mpmath.fmul(mpmath.fadd(total, rem, rounding="u"), slack, rounding="u")


def _one_minus_deflated(total: mpf, slack: mpf) -> mpf:
    """1 - total / slack with directed rounding: the quotient down, the difference up.

    ``total`` is within a relative ``slack - 1`` of the complement's true value, so total / slack is
    below it and 1 - total / slack above the tail.  Round-to-nearest here put the result below the
    exact tail by up to ~4e-78 in about 9% of cases (issue 10, item 2).
    """
    return mpmath.fsub(1, mpmath.fdiv(total, slack, rounding="d"), rounding="u")


def _arb_of(x):
    """x (Fraction, mpf or float) as an arb ball that contains it (exact for mpf and float)."""
    from fractions import Fraction

    from flint import arb

    if isinstance(x, Fraction):
        return arb(x.numerator) / arb(x.denominator)
    man, exp = mpf(x).man_exp
    return arb(int(man)) * arb(2) ** int(exp)


def _arb_upper(N: int, a: int, b: int, x, complement: bool) -> mpf:
    """An upper bound on I_x(a, b) (or on 1 - I_x(a, b)) from an arb enclosure, rounded up to an mpf."""
    from flint import ctx

    from ..errors import InvalidParameterError

    saved = ctx.prec
    try:
        for prec in ARB_PRECS:
            ctx.prec = prec
            ball = _arb_of(x).beta_lower(a, b, regularized=True)
            if complement:
                ball = 1 - ball
            if ball.is_finite() and ball.rel_accuracy_bits() >= 160:
                m, e = ball.upper().man_exp()
                raw = mpmath.libmp.from_man_exp(int(m), int(e), TAIL_PREC, "u")
                return min(mpf(1), mpmath.mp.make_mpf(raw))
    finally:
        ctx.prec = saved
    raise InvalidParameterError(
        f"the binomial tail for N = {N} trials cannot be enclosed to the needed accuracy (tried up to "
        f"{ARB_PRECS[-1]} bits): too many votes for the exact engine"
    )


def tail_ge_upper(N: int, s: int, x, prec: int = TAIL_PREC) -> mpf:
    """An upper bound on Pr[Bin(N, x) >= s] (= I_x(s, N - s + 1) for 1 <= s <= N)."""
    with mpmath.workprec(prec):
        x = _to_mpf(x)
        if s <= 0:
            return mpf(1)
        if s > N:
            return mpf(0)
        if x <= 0:
            return mpf(0)
        if x >= 1:
            return mpf(1)
        if N > ARB_FROM:
            return _arb_upper(N, s, N - s + 1, x, complement=False)
        slack = 1 + mpf(2) ** (-(prec - 40))
        mode = int(mpmath.floor((N + 1) * x))
        if s > mode:
            total, rem = _sum_outward(N, s, +1, x, prec)
            return min(mpf(1), _inflate(total, rem, slack))
        # the complement Pr[X <= s - 1] starts at s-1 < mode... sum downward from s-1
        total, _rem = _sum_outward(N, s - 1, -1, x, prec) if s - 1 >= 0 else (mpf(0), mpf(0))
        return min(mpf(1), _one_minus_deflated(total, slack))


def tail_le_upper(N: int, s: int, x, prec: int = TAIL_PREC) -> mpf:
    """An upper bound on Pr[Bin(N, x) <= s] (= 1 - I_x(s + 1, N - s) for 0 <= s < N)."""
    with mpmath.workprec(prec):
        x = _to_mpf(x)
        if s >= N:
            return mpf(1)
        if s < 0:
            return mpf(0)
        if x <= 0:
            return mpf(1)
        if x >= 1:
            return mpf(0)
        if N > ARB_FROM:
            return _arb_upper(N, s + 1, N - s, x, complement=True)
        slack = 1 + mpf(2) ** (-(prec - 40))
        mode = int(mpmath.floor((N + 1) * x))
        if s < mode:
            total, rem = _sum_outward(N, s, -1, x, prec)
            return min(mpf(1), _inflate(total, rem, slack))
        total, _rem = _sum_outward(N, s + 1, +1, x, prec) if s + 1 <= N else (mpf(0), mpf(0))
        return min(mpf(1), _one_minus_deflated(total, slack))


def exact_tail_ge(N: int, s: int, x) -> Fraction:
    """Pr[Bin(N, x) >= s] exactly, for rational x (big integers; small N only)."""
    x = Fraction(x)
    p, q = x.numerator, x.denominator
    s = max(s, 0)
    num = sum(_comb(N, j) * p**j * (q - p) ** (N - j) for j in range(s, N + 1))
    return Fraction(num, q**N)


def exact_tail_le(N: int, s: int, x) -> Fraction:
    """Pr[Bin(N, x) <= s] exactly, for rational x (big integers; small N only)."""
    return 1 - exact_tail_ge(N, s + 1, x) if s + 1 <= N else Fraction(1)


def _comb(n: int, k: int) -> int:
    import math

    return math.comb(n, k)
