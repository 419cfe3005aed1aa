"""The one integer bisection of the package: the boundary of a monotone predicate (clauses R1, SEG.2).

Used by the radius search (the largest certified t, clause R1: certification is monotone in the budget,
T1.5) and by alpha* (the smallest certified grid level, clause SEG.2: certification is monotone in the
level).  Each probe is one call of the predicate, an exact decision in the engines.
"""

from __future__ import annotations

from typing import Callable


def last_true(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The largest i in [lo, hi) with ok(i), for ok true then false on [lo, hi].

    The caller knows ok(lo) is true and ok(hi) is false (neither is probed again); every probe lies
    strictly between them, and the result is exact for a monotone ``ok`` (no tolerance).
    """
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def first_true(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest i in (lo, hi] with ok(i), for ok false then true on [lo, hi] (ok(lo) false and ok(hi)
    true, as the caller knows): the same bisection as :func:`last_true`, on ``not ok``."""
    return last_true(lambda i: not ok(i), lo, hi) + 1
