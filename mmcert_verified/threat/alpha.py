"""The confidence level alpha: the one parser every engine, the CLI, the runs and the certificates use.

alpha is taken as the exact rational the user wrote (clause CP.4: "0.001" -> 1/1000); a float is read as
the decimal it prints as (its shortest repr), which is what the user typed and, for 0.001, the smaller of
the two candidates.  Anything outside the open interval (0, 1), NaN, infinity or text that is not a
number is an :class:`InvalidParameterError`.  The certificate reader adds its own length and syntax
limits before calling :func:`alpha_fraction` (a hostile certificate must not build a huge number).
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import InvalidParameterError


def check_alpha(alpha: float) -> float:
    """alpha as a float strictly inside (0, 1)."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise InvalidParameterError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return value


def alpha_fraction(alpha) -> Fraction:
    """alpha as an exact rational: strings parsed exactly, floats read as their shortest decimal."""
    if isinstance(alpha, Fraction):
        value = alpha
    elif isinstance(alpha, str):
        try:
            value = Fraction(alpha.strip())
        except (ValueError, ZeroDivisionError):
            raise InvalidParameterError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    else:
        value = Fraction(repr(check_alpha(alpha)))
    if not 0 < value < 1:
        raise InvalidParameterError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return value
