"""Parsers for the comma lists and numbers the CLI takes; each error is one clear line."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from ..errors import InvalidParameterError

_INT = re.compile(r"^[+-]?\d+$")


def int_list(text: str, flag: str) -> tuple[int, ...]:
    """'108,79380' -> (108, 79380); rejects text, floats and negatives."""
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(s == "" for s in items):
        raise InvalidParameterError(f"{flag} needs a comma-separated list of integers, got {text!r}")
    out = []
    for s in items:
        if not _INT.match(s):
            raise InvalidParameterError(f"{flag}: {s!r} is not an integer")
        v = int(s)
        if v < 0:
            raise InvalidParameterError(f"{flag}: {v} is negative")
        out.append(v)
    return tuple(out)


def probability(text: str, flag: str, *, open_interval: bool = True) -> Fraction:
    """A decimal ('0.001', '1e-3') or fraction ('9/10') parsed exactly."""
    s = str(text).strip()
    try:
        value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        try:
            f = float(s)
        except ValueError:
            raise InvalidParameterError(f"{flag}: {text!r} is not a number") from None
        if not math.isfinite(f):
            raise InvalidParameterError(f"{flag} must be a finite number, got {text!r}") from None
        value = Fraction(f)
    if open_interval and not 0 < value < 1:
        raise InvalidParameterError(f"{flag} must lie strictly between 0 and 1, got {text}")
    if not open_interval and not 0 <= value <= 1:
        raise InvalidParameterError(f"{flag} must lie in [0, 1], got {text}")
    return value
