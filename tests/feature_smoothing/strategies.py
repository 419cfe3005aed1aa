"""Hypothesis strategies for FS inputs, reaching the edges (tiny S, S near 1, large shifts)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

#: S in (0, 1): plain rationals, decimals, and extreme tails 10^-k and 1 - 10^-k
scores = st.one_of(
    st.fractions(min_value=Fraction(1, 10**6), max_value=1 - Fraction(1, 10**6), max_denominator=10**6),
    st.integers(1, 999_999).map(lambda k: Fraction(k, 10**6)),
    st.integers(7, 300).map(lambda k: Fraction(1, 10**k)),
    st.integers(7, 60).map(lambda k: 1 - Fraction(1, 10**k)),
).filter(lambda s: 0 < s < 1)
sigmas = st.one_of(
    st.sampled_from([Fraction(1, 8), Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(2)]),
    st.fractions(min_value=Fraction(1, 100), max_value=10, max_denominator=1000),
).filter(lambda s: s > 0)
epsilons = st.one_of(
    st.sampled_from([Fraction(0), Fraction(1, 10), Fraction(1, 4), Fraction(1, 2), Fraction(1)]),
    st.fractions(min_value=0, max_value=20, max_denominator=1000),
)
taus = st.one_of(
    st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(9, 10), Fraction(1)]),
    st.fractions(min_value=0, max_value=1, max_denominator=1000),
)
