"""One-sided Clopper-Pearson bounds with verified direction (spec clauses CP.1-CP.3).

For ``s`` successes in ``N`` Bernoulli trials and a one-sided level ``t``:

* lower bound (clause CP.1): the ``t`` quantile of Beta(s, N - s + 1); 0 when s = 0.
  Equivalently the ``x`` solving ``Pr[Bin(N, x) >= s] = t``.
* upper bound (clause CP.2): the ``1 - t`` quantile of Beta(s + 1, N - s); 1 when
  s = N.  Equivalently the ``x`` solving ``Pr[Bin(N, x) <= s] = t``.  (The paper's
  Eq. 7/9 print Beta(s, N - s + 1) here, which is not an upper bound; see spec
  deviation D1.)

Guarantee (clause CP.3): the returned lower bound ``L`` satisfies
``Pr[Bin(N, L) >= s] <= t`` and the returned upper bound ``U`` satisfies
``Pr[Bin(N, U) <= s] <= t``, both checked with the rigorous tail upper bounds of
:mod:`.binomial_tail` before returning.  Hence L never exceeds the true
quantile and U never falls below it.  Both are exact decimals (``Fraction``
with a power-of-ten denominator) with :data:`DIGITS` significant digits, rounded
towards the safe side; they are within about ``10**-(DIGITS-2)`` relative of the
true quantile.

scipy supplies the starting guess only (Newton on the log-tail refines it, the
Illinois bracketing solver is the fallback); every decision rests on the
mpmath check of a bracket and of the returned value.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Callable

import mpmath
from mpmath import mpf

from ..errors import InvalidParameterError
from .binomial_tail import TAIL_PREC, tail_ge_upper, tail_le_upper

#: significant decimal digits of every reported bound (the CLI contract asks for >= 30)
DIGITS = 40


def _level_mpf(level: Fraction) -> mpf:
    with mpmath.workprec(TAIL_PREC):
        # rounded down: comparing an upper bound on the tail with a slightly
        # smaller level only makes the check stricter
        return mpmath.fdiv(level.numerator, level.denominator, rounding="d")


def _to_fraction(level) -> Fraction:
    if isinstance(level, Fraction):
        return level
    if isinstance(level, float):
        if not math.isfinite(level):
            raise InvalidParameterError(f"level must be finite, got {level}")
        return Fraction(level)  # exact binary value of the float
    return Fraction(level)


def _check(successes: int, trials: int, level: Fraction) -> None:
    if trials <= 0:
        raise InvalidParameterError(f"trials must be positive, got {trials}")
    if not 0 <= successes <= trials:
        raise InvalidParameterError(f"successes must lie in [0, {trials}], got {successes}")
    if not 0 < level < 1:
        raise InvalidParameterError(f"one-sided level must lie in (0, 1), got {level}")


def _round_sig(x: mpf, down: bool) -> Fraction:
    """x rounded to DIGITS significant digits, down or up, as an exact decimal."""
    if x <= 0:
        return Fraction(0)
    if x >= 1:
        return Fraction(1)
    with mpmath.workprec(TAIL_PREC + 64):
        e = int(mpmath.floor(mpmath.log10(x)))
        m = DIGITS - 1 - e
        scaled = x * mpf(10) ** m
        v = int(mpmath.floor(scaled)) if down else int(mpmath.ceil(scaled))
    return Fraction(v, 10**m)


def _step(value: Fraction, down: bool) -> Fraction:
    """Move one unit in the last reported digit (used if the check fails)."""
    if value == 0 or value == 1:
        return value
    e = math.floor(math.log10(value.numerator) - math.log10(value.denominator))
    unit = Fraction(1, 10 ** (DIGITS - 1 - e))
    return max(Fraction(0), value - unit) if down else min(Fraction(1), value + unit)


def _solve(g: Callable[[mpf], mpf], increasing: bool, level: mpf, guess: float) -> tuple[mpf, mpf]:
    """Bracket the x where the monotone g crosses level; return (safe, other) ends.

    ``safe`` satisfies g(safe) <= level; ``other`` has g(other) > level; they are
    within 10**-(DIGITS+4) relative of each other.
    """

    def bad(x: mpf) -> bool:  # True on the unsafe side
        return g(x) > level

    with mpmath.workprec(TAIL_PREC):
        if increasing:
            safe_end, unsafe_end = mpf(0), mpf(1)
        else:
            safe_end, unsafe_end = mpf(1), mpf(0)
        if math.isfinite(guess) and 0.0 < guess < 1.0:
            x0 = mpf(guess)
            for rel in (mpf("1e-9"), mpf("1e-6"), mpf("1e-3")):
                lo, hi = x0 * (1 - rel), min(mpf(1), x0 * (1 + rel))
                if increasing:
                    if not bad(lo) and bad(hi):
                        safe_end, unsafe_end = lo, hi
                        break
                else:
                    if bad(lo) and not bad(hi):
                        safe_end, unsafe_end = hi, lo
                        break
        # levels below double range: move the safe end off 0 (or 1) by repeated squaring so that the
        # geometric bisection below can reach it
        if increasing and safe_end == 0:
            x = mpf(2) ** -64
            while g(x) > level and x > mpf(2) ** -(2**40):
                x = x * x
            if g(x) <= level:
                safe_end = x
        if not increasing and safe_end == 1:
            y = mpf(2) ** -64
            while g(1 - y) > level and y > mpf(2) ** -(TAIL_PREC - 8):
                y = y * y
            if g(1 - y) <= level:
                safe_end = 1 - y
        # Illinois (modified regula falsi) on log g - log level, bisection fallback
        log_level = mpmath.log(level)

        def h(x: mpf) -> mpf | None:
            v = g(x)
            return mpmath.log(v) - log_level if v > 0 else None

        hs, hu = h(safe_end), h(unsafe_end)
        side = 0
        tol = mpf(10) ** (-(DIGITS + 4))
        for _ in range(400):
            width = abs(unsafe_end - safe_end)
            if width <= tol * max(abs(safe_end), abs(unsafe_end)):
                break
            if hs is not None and hu is not None and hu != hs:
                x = safe_end - hs * (unsafe_end - safe_end) / (hu - hs)
                lo, hi = sorted((safe_end, unsafe_end))
                if not (lo < x < hi) or abs(x - safe_end) < width * mpf(2) ** -200 and abs(x - unsafe_end) < width * mpf(2) ** -200:
                    x = (safe_end + unsafe_end) / 2
            else:
                x = (safe_end + unsafe_end) / 2
                if safe_end > 0 and unsafe_end > 0 and min(safe_end, unsafe_end) > 0 and width > min(safe_end, unsafe_end):
                    x = mpmath.sqrt(safe_end * unsafe_end)  # geometric mean: bisection in log space
            hx = h(x)
            if g(x) > level:
                unsafe_end, hu = x, hx
                if side == -1 and hs is not None:
                    hs /= 2
                side = -1
            else:
                safe_end, hs = x, hx
                if side == +1 and hu is not None:
                    hu /= 2
                side = +1
        return safe_end, unsafe_end


def _newton(
    g: Callable[[mpf], mpf], dlog: Callable[[mpf], mpf], increasing: bool, level: mpf, guess: float
) -> tuple[mpf, mpf] | None:
    """Newton on log g(x) - log level from scipy's guess, then a verified bracket.

    Returns (safe, unsafe) ends as :func:`_solve` does, or None (the caller
    falls back to :func:`_solve`).  ``dlog(x)`` is d/dx log g(x).
    """
    if not (math.isfinite(guess) and 0.0 < guess < 1.0):
        return None
    with mpmath.workprec(TAIL_PREC):
        x = mpf(guess)
        log_level = mpmath.log(level)
        for _ in range(12):
            v = g(x)
            if v <= 0:
                return None
            step = (mpmath.log(v) - log_level) / dlog(x)
            nx = x - step
            if not 0 < nx < 1:
                return None
            x = nx
            if abs(step) <= x * mpf(10) ** (-(DIGITS + 8)):
                break
        else:
            return None
        eps = x * mpf(10) ** (-(DIGITS + 5))
        lo, hi = x - eps, x + eps
        if increasing:
            if g(lo) <= level < g(hi):
                return lo, hi
        else:
            if g(hi) <= level < g(lo):
                return hi, lo
    return None


def _dlog_tail_ge(N: int, s: int) -> Callable[[mpf], mpf]:
    """d/dx log Pr[Bin(N,x) >= s] = N pmf_{N-1}(s-1; x) / Pr[Bin(N,x) >= s]."""

    def f(x: mpf) -> mpf:
        lp = (
            mpmath.log(N) + mpmath.loggamma(N) - mpmath.loggamma(s) - mpmath.loggamma(N - s + 1)
            + (s - 1) * mpmath.log(x) + (N - s) * mpmath.log1p(-x)
        )
        return mpmath.exp(lp) / tail_ge_upper(N, s, x)

    return f


def _dlog_tail_le(N: int, s: int) -> Callable[[mpf], mpf]:
    """d/dx log Pr[Bin(N,x) <= s] = -N pmf_{N-1}(s; x) / Pr[Bin(N,x) <= s]."""

    def f(x: mpf) -> mpf:
        lp = (
            mpmath.log(N) + mpmath.loggamma(N) - mpmath.loggamma(s + 1) - mpmath.loggamma(N - s)
            + s * mpmath.log(x) + (N - 1 - s) * mpmath.log1p(-x)
        )
        return -mpmath.exp(lp) / tail_le_upper(N, s, x)

    return f


@lru_cache(maxsize=65536)
def _cp_lower_cached(successes: int, trials: int, level: Fraction) -> Fraction:
    if successes == 0:
        return Fraction(0)
    lvl = _level_mpf(level)
    try:
        from scipy.special import betaincinv

        guess = float(betaincinv(successes, trials - successes + 1, float(level)))
    except Exception:  # pragma: no cover - scipy only seeds the search
        guess = float("nan")
    g = lambda x: tail_ge_upper(trials, successes, x)  # noqa: E731
    found = _newton(g, _dlog_tail_ge(trials, successes), True, lvl, guess)
    safe, _ = found if found is not None else _solve(g, True, lvl, guess)
    value = _round_sig(safe, down=True)
    while value > 0 and tail_ge_upper(trials, successes, value) > lvl:
        value = _step(value, down=True)
    return value


@lru_cache(maxsize=65536)
def _cp_upper_cached(successes: int, trials: int, level: Fraction) -> Fraction:
    if successes == trials:
        return Fraction(1)
    lvl = _level_mpf(level)
    try:
        from scipy.special import betainccinv

        guess = float(betainccinv(successes + 1, trials - successes, float(level)))
    except Exception:  # pragma: no cover
        guess = float("nan")
    g = lambda x: tail_le_upper(trials, successes, x)  # noqa: E731
    found = _newton(g, _dlog_tail_le(trials, successes), False, lvl, guess)
    safe, _ = found if found is not None else _solve(g, False, lvl, guess)
    value = _round_sig(safe, down=False)
    while value < 1 and tail_le_upper(trials, successes, value) > lvl:
        value = _step(value, down=False)
    return value


def cp_lower(successes: int, trials: int, level) -> Fraction:
    """Clause CP.1: one-sided lower Clopper-Pearson bound at level ``level``.

    With probability at least ``1 - level`` over the binomial draw, the true
    success probability is >= the returned value.  Exactly 0 when s = 0.
    """
    level = _to_fraction(level)
    _check(successes, trials, level)
    return _cp_lower_cached(int(successes), int(trials), level)


def cp_upper(successes: int, trials: int, level) -> Fraction:
    """Clause CP.2: one-sided upper Clopper-Pearson bound at level ``level``.

    With probability at least ``1 - level`` over the binomial draw, the true
    success probability is <= the returned value.  Exactly 1 when s = N.
    """
    level = _to_fraction(level)
    _check(successes, trials, level)
    return _cp_upper_cached(int(successes), int(trials), level)


def decimal_string(value: Fraction, digits: int = DIGITS) -> str:
    """A Fraction as an exact plain decimal string, or "p/q" when it is not a finite decimal."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"  # not a finite decimal: keep it exact
    m = max(twos, fives)
    num = value.numerator * (10**m // value.denominator)
    sign = "-" if num < 0 else ""
    s = str(abs(num)).rjust(m + 1, "0")
    return f"{sign}{s[:-m]}.{s[-m:]}"


def decimal_floor(value: Fraction, digits: int = DIGITS) -> str:
    """value rounded towards -infinity to ``digits`` significant digits, as a decimal string.

    Works for numerators and denominators of any size (no int -> str of huge numbers).
    """
    value = Fraction(value)
    if value == 0:
        return "0"
    num, den = abs(value.numerator), value.denominator
    e = math.floor(math.log10(num) - math.log10(den))  # within 1 of floor(log10 |value|)
    while True:
        shift = digits - 1 - e
        v = (value.numerator * 10**shift) // den if shift >= 0 else value.numerator // (den * 10**-shift)
        width = len(str(abs(v)))
        if width > digits:
            e += 1
        elif width < digits and abs(v) != 0 and e > -10**6:
            e -= 1
        else:
            break
    return decimal_string(Fraction(v, 10**shift) if shift >= 0 else Fraction(v * 10**-shift))
