"""Clause CP.3: the binomial-tail upper bounds are enclosures, tested by containment (python-flint style).

``tail_ge_upper`` / ``tail_le_upper`` must never be below the exact tail.  The exact tails come from
big-integer sums over rationals (``exact_tail_ge`` / ``exact_tail_le``: sum_j C(N, j) p^j (q-p)^(N-j) / q^N),
an independent computation; the comparison is exact (the mpf result is converted to a Fraction).
Before the directed-rounding fix about 9% of the grid below landed under the exact value by up to ~4e-78
(issue 10, item 2: e.g. tail_le_upper(200, 188, 1/3)).  Closeness (two-sided) is tested separately.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmcert_verified.reference.binomial_tail import exact_tail_ge, exact_tail_le, tail_ge_upper, tail_le_upper


def exact(v) -> Fraction:
    m, e = v.man_exp
    return Fraction(m) * Fraction(2) ** e


P_GRID = [Fraction(1, 3), Fraction(1, 7), Fraction(9, 10), Fraction(1, 2), Fraction(2, 5), Fraction(999, 1000)]


@pytest.mark.parametrize("N", [1, 5, 17, 60, 200])
def test_containment_on_a_grid(N):
    # one-sided, zero slack: upper bound >= exact tail, at every (s, p) of the grid
    misses = []
    for s in range(-1, N + 2):
        for p in P_GRID:
            if exact(tail_le_upper(N, s, p)) < exact_tail_le(N, s, p):
                misses.append(("le", N, s, p))
            if exact(tail_ge_upper(N, s, p)) < exact_tail_ge(N, s, p):
                misses.append(("ge", N, s, p))
    assert misses == []


def test_issue10_case():
    # the case the review found: the complement branch rounded to nearest and fell below the exact tail
    assert exact(tail_le_upper(200, 188, Fraction(1, 3))) >= exact_tail_le(200, 188, Fraction(1, 3))


@given(N=st.integers(1, 300), data=st.data(), num=st.integers(1, 999), den=st.sampled_from([1000, 997, 1024, 3]))
@example(N=200, data=None, num=1, den=3)
def test_containment_property(N, data, num, den):
    p = Fraction(min(num, den - 1) if den > 1 else 1, den) if den > 1 else Fraction(1, 2)
    s = data.draw(st.integers(0, N)) if data is not None else 188
    assert exact(tail_le_upper(N, s, p)) >= exact_tail_le(N, s, p)
    assert exact(tail_ge_upper(N, s, p)) >= exact_tail_ge(N, s, p)


@pytest.mark.parametrize("N,s,p", [(200, 188, Fraction(1, 3)), (60, 30, Fraction(1, 2)), (17, 3, Fraction(1, 7))])
def test_closeness(N, s, p):
    # two-sided: the bounds are within 2**-200 relative of the exact tail (TAIL_PREC = 256, 40 bits of slack)
    for fn, ex in ((tail_le_upper, exact_tail_le), (tail_ge_upper, exact_tail_ge)):
        want = ex(N, s, p)
        got = exact(fn(N, s, p))
        assert want <= got <= want * (1 + Fraction(1, 2**200)) + Fraction(1, 2**250)
