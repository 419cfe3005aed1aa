"""Rigorous enclosures of the standard normal CDF Phi and its inverse (spec clause FS.G).

Every function here returns an ``flint.arb`` ball that contains the exact real
value (ball arithmetic, python-flint/FLINT), or an exact rational obtained from
such a ball by directed rounding.  Phi^-1 is taken from FLINT's ``erfcinv`` and
then *verified by bracketing*: the end points ``lo, hi`` of the ball satisfy
Phi(lo) <= p <= Phi(hi) as rigorous ball comparisons, so the exact inverse lies
in [lo, hi] because Phi is strictly increasing (clause FS.G2).

Tails are evaluated through ``erfc`` on the side where it is small, and
p > 1/2 through the exact rational 1 - p, so neither S = 1 - 10^-60 nor
S = 10^-300 loses absolute accuracy (clause FS.G1).

Precision is FLINT's global ``ctx.prec``; :func:`working_precision` sets and
restores it (try/finally), so callers never leak a changed precision.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Iterator

from flint import arb, ctx, fmpq

from ..errors import InvalidParameterError

#: precision (bits) at which every computation starts; it doubles until the target width is met
START_BITS = 128
#: the largest precision tried before a decision is given up (conservatively) or an error raised
MAX_BITS = 1 << 15
#: exact decimals are rounded to this many digits after the point (|error| <= 10^-30 < 10^-25)
DECIMALS = 30
#: every enclosure is refined until its radius is below this (so rounding adds at most 2^-110)
TARGET_RADIUS = Fraction(1, 2**110)


class PrecisionExhaustedError(ArithmeticError):
    """An enclosure could not be made narrow enough within :data:`MAX_BITS` (never expected)."""


@contextlib.contextmanager
def working_precision(bits: int) -> Iterator[None]:
    """Set FLINT's working precision to ``bits`` for the block; always restore it."""
    saved = ctx.prec
    ctx.prec = int(bits)
    try:
        yield
    finally:
        ctx.prec = saved


def precisions() -> Iterator[int]:
    """START_BITS, 2*START_BITS, ... up to MAX_BITS."""
    bits = START_BITS
    while bits <= MAX_BITS:
        yield bits
        bits *= 2


def to_arb(q: Fraction | int) -> arb:
    """An exact rational as a ball (exact when dyadic, else a ball of radius ~ 2^-prec |q|)."""
    q = Fraction(q)
    return arb(fmpq(q.numerator, q.denominator))


def endpoint_fraction(x: arb) -> Fraction:
    """The exact value of an exact ball (``x.lower()`` / ``x.upper()``) as a Fraction."""
    if not x.is_exact() or not x.is_finite():
        raise PrecisionExhaustedError(f"not an exact finite endpoint: {x}")
    man, exp = x.man_exp()
    man, exp = int(man), int(exp)
    return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2**-exp)


def radius_ok(x: arb) -> bool:
    """Whether the ball is finite and narrower than :data:`TARGET_RADIUS`."""
    return x.is_finite() and endpoint_fraction(x.rad()) < TARGET_RADIUS


def _sqrt2() -> arb:
    return arb(2).sqrt()


def phi(x: arb) -> arb:
    """Clause FS.G1: a ball containing Phi(x) for every real in the ball ``x``.

    Phi(x) = erfc(-x/sqrt 2)/2 for x <= 0 and 1 - erfc(x/sqrt 2)/2 for x > 0
    (the small tail is always the erfc that is computed).
    """
    if x < 0 or x.contains(0):
        value = (-x / _sqrt2()).erfc() / 2
    else:
        value = 1 - (x / _sqrt2()).erfc() / 2
    return _clip01(value)


def two_phi_minus_one(x: arb) -> arb:
    """Clause FS.G1: a ball containing 2 Phi(x) - 1 = erf(x/sqrt 2), from the small erfc tail."""
    if x > 0:
        value = 1 - (x / _sqrt2()).erfc()
    else:
        value = (-x / _sqrt2()).erfc() - 1
    lo, hi = arb(-1), arb(1)
    return _clip(value, lo, hi)


def _clip(value: arb, lo: arb, hi: arb) -> arb:
    """Intersect a ball with [lo, hi] (the exact value is known to lie there)."""
    if not value.is_finite():
        return lo.union(hi)
    a = value.lower()
    b = value.upper()
    a = lo if a < lo else a
    b = hi if b > hi else b
    if b < a:  # cannot happen for a correct enclosure of a value in [lo, hi]
        raise PrecisionExhaustedError(f"enclosure {value} misses [{lo}, {hi}]")
    return a.union(b)


def _clip01(value: arb) -> arb:
    return _clip(value, arb(0), arb(1))


def phi_inverse(p: Fraction) -> arb:
    """Clause FS.G2: a ball [lo, hi] with Phi(lo) <= p <= Phi(hi), verified, for p in (0, 1).

    Phi^-1(p) = -w for p <= 1/2 and +w for p > 1/2, where w = sqrt2 erfcinv(2q)
    is the upper-tail quantile of q = min(p, 1 - p) (an exact rational, so the
    upper tail stays accurate).  The bracket Q(lo) >= q >= Q(hi) is checked on
    the tail function Q(w) = erfc(w/sqrt2)/2 = Phi(-w); the ball is widened
    until it verifies.  Raises :class:`PrecisionExhaustedError` when the working
    precision is too low to verify (callers then retry at a higher precision).
    """
    p = Fraction(p)
    if not 0 < p < 1:
        raise InvalidParameterError(f"Phi^-1 needs p strictly between 0 and 1, got {p}")
    lower_tail = p <= Fraction(1, 2)
    q = to_arb(p if lower_tail else 1 - p)  # the small tail probability, exact rational as a ball
    w = _sqrt2() * (2 * q).erfcinv()  # Phi^-1(p) = -w (lower tail) or +w (upper tail)
    if not w.is_finite():
        raise PrecisionExhaustedError(f"erfcinv gave no finite enclosure for p = {p}")
    widen = w.rad() + arb(2) ** (-ctx.prec)
    for _ in range(8):
        lo, hi = w.lower(), w.upper()
        # Q(w) = erfc(w/sqrt2)/2 is decreasing: Q(lo) >= q >= Q(hi) brackets the tail quantile w
        if (lo / _sqrt2()).erfc() / 2 >= q and (hi / _sqrt2()).erfc() / 2 <= q:  # rigorous comparisons
            w = lo.union(hi)
            return -w if lower_tail else w
        w = w + arb(0, widen)
        widen = widen * 2
    raise PrecisionExhaustedError(f"could not verify a bracket of Phi^-1({p}) at {ctx.prec} bits")


def floor_decimal(x: arb, decimals: int = DECIMALS) -> Fraction:
    """Clause FS.G3: the lower end of the ball rounded down to a multiple of 10^-decimals."""
    lo = endpoint_fraction(x.lower())
    scale = 10**decimals
    return Fraction((lo.numerator * scale) // lo.denominator, scale)


def ceil_decimal(x: arb, decimals: int = DECIMALS) -> Fraction:
    """Clause FS.G3: the upper end of the ball rounded up to a multiple of 10^-decimals."""
    hi = endpoint_fraction(x.upper())
    scale = 10**decimals
    return Fraction(-((-hi.numerator * scale) // hi.denominator), scale)


def fixed_decimal_string(value: Fraction) -> str:
    """A multiple of 10^-k as a plain decimal string without trailing zeros ("0.5", "-1", "0")."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    k = 0
    while 10**k % den:
        k += 1
        if k > 10_000:
            raise ValueError(f"{value} is not a finite decimal")
    num = value.numerator * (10**k // den)
    sign = "-" if num < 0 else ""
    digits = str(abs(num)).rjust(k + 1, "0")
    head, tail = digits[:-k], digits[-k:].rstrip("0")
    return f"{sign}{head}.{tail}" if tail else f"{sign}{head}"
