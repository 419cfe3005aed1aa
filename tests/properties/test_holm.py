"""Clause SEG.3: our Holm step-down rejects exactly what statsmodels' Holm rejects."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmcert_verified.reference.segmentation import holm_accept, holm_accept_values

multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests

# p-values from a small pool so that ties (the delicate case of the paper's rule) are frequent
_pool = st.sampled_from([1e-9, 1e-6, 1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 0.01, 0.2, 1.0])
_alphas = st.sampled_from([0.001, 0.01, 0.05, 0.2])


@st.composite
def near_thresholds(draw):
    """(p-values, alpha) placed around Holm's thresholds alpha / i, i = 1..m, with ties.

    A palette of 1-6 values, each alpha / i times a factor on either side of 1 (never exactly 1:
    statsmodels compares in floating point, so values on a threshold are compared separately, by the
    @example cases of test_holm_matches_statsmodels), then m values drawn from the palette.  So a
    sorted value often fails its threshold while a later one passes its own (which tells counting
    from step-down) and tied groups often pass together (which tells per-pixel from per-value
    positions); test_strategy_reaches_the_distinguishing_cases measures how often.
    """
    alpha = draw(_alphas)
    m = draw(st.integers(2, 40))
    factor = st.sampled_from([0.3, 0.7, 0.95, 1.05, 1.4, 3.0])
    palette = draw(st.lists(st.integers(1, m).flatmap(lambda i: factor.map(lambda f: min(alpha / i * f, 1.0))),
                            min_size=1, max_size=6))
    pvals = draw(st.lists(st.sampled_from(palette), min_size=m, max_size=m))
    return pvals, alpha


_random_families = st.tuples(st.lists(st.one_of(_pool, st.floats(1e-12, 1.0)), min_size=1, max_size=60), _alphas)


def counting_differs(pvals, alpha) -> bool:
    """Some sorted p-value fails its Holm threshold while a later one passes its own: counting every
    value under its own threshold (the paper's code, FINDINGS.md) then rejects more than Holm."""
    s, a = sorted(Fraction(p) for p in pvals), Fraction(repr(alpha))
    passes = [p * (len(s) - j) <= a for j, p in enumerate(s)]
    return any(not ok and any(passes[j + 1:]) for j, ok in enumerate(passes))


def positions_matter(pvals, alpha) -> bool:
    """Holm's answer changes when a tied group advances the position by one instead of its size."""
    s, a = sorted(Fraction(p) for p in pvals), Fraction(repr(alpha))
    m = len(s)
    values = sorted(set(s))

    def accepted(step_of) -> int:  # how many distinct values are accepted
        before = 0
        for i, v in enumerate(values):
            if v * (m - before) > a:
                return i
            before += step_of(v)
        return len(values)

    return accepted(s.count) != accepted(lambda v: 1)


@given(st.one_of(near_thresholds(), _random_families))
@example(([1e-5] * 5 + [1.5e-4] * 5, 0.001))  # two tied groups: the second passes at position 6 only
@example(([2e-4] * 5, 0.001))  # found: exactly on the first threshold (float vs exact)
@example(([1e-5] * 10, 0.001))  # all tied, every one under alpha/m = 1e-4: all rejected
@example(([2e-4] * 10, 0.001))  # all tied, above alpha/m: none rejected
def test_holm_matches_statsmodels(case):
    pvals, alpha = case
    ours = holm_accept(np.array(pvals), alpha)
    # statsmodels compares p <= alpha/(m - j) in floating point; we compare exact rationals, with alpha
    # read as the decimal written (0.001 = 1/1000, clause CP.4). Values within 1e-12 relative of a
    # threshold are the only place the two may legitimately differ, so skip those.
    m = len(pvals)
    a = Fraction(repr(alpha))
    for j, p in enumerate(sorted(pvals)):
        if abs(Fraction(p) * (m - j) - a) <= a * Fraction(1, 10**12):
            return
    theirs, *_ = multipletests(pvals, alpha=alpha, method="holm")
    assert ours.tolist() == theirs.tolist()


def test_strategy_reaches_the_distinguishing_cases():
    # Hypothesis's own tests show a strategy reaches the interesting input (find_any); here, over a
    # derandomized run of the strategy test_holm_matches_statsmodels uses, the share of examples on
    # which counting differs from step-down, and on which tied groups' positions matter. Measured
    # over 1000 derandomized examples when this test was written: the old strategy (_random_families
    # alone) reached them in 2.5% and 1.2%, near_thresholds alone in 72% and 17%; this mixture in
    # the shares printed by -s. The floors (20%, 4%) leave room for Hypothesis version changes.
    seen: Counter = Counter()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(st.one_of(near_thresholds(), _random_families))
    def run(case):
        seen["examples"] += 1
        seen["counting"] += counting_differs(*case)
        seen["positions"] += positions_matter(*case)

    run()
    print(f"Holm strategy reach: {dict(seen)}")
    assert seen["counting"] >= 0.20 * seen["examples"], seen
    assert seen["positions"] >= 0.04 * seen["examples"], seen


def test_holm_is_step_down_not_counting():
    # FINDINGS.md: the paper's code counts every p-value under its own threshold. m = 4, thresholds
    # alpha/4, alpha/3, alpha/2, alpha = 2.5e-4, 3.33e-4, 5e-4, 1e-3. The second smallest fails
    # (4e-4 > 3.33e-4) so Holm stops at 1 rejection, although the third (4.5e-4 <= 5e-4) and fourth
    # (9e-4 <= 1e-3) are each under their own thresholds.
    p = np.array([1e-5, 4e-4, 4.5e-4, 0.9e-3])
    assert holm_accept(p, 0.001).tolist() == [True, False, False, False]


def test_nothing_certifiable_certifies_nothing():
    # FINDINGS.md: the paper's code keeps one index more, so an image with nothing certifiable still gets one pixel
    assert not holm_accept(np.ones(1000), 0.001).any()


def test_values_with_multiplicity_equal_per_pixel():
    vals = [Fraction(1, 10**6), Fraction(1, 10**4), Fraction(1)]
    # 50 pixels at 1e-6 pass (50 * 1e-6 <= 1e-3 at worst 1e-6*(100) = 1e-4), then 30 at 1e-4: 1e-4 * 50 > 1e-3 fails
    assert holm_accept_values(vals, [50, 30, 20], Fraction(1, 1000)).tolist() == [True, False, False]


# --------------------------------------------------------------------------- the fast engine's Holm on codes

fastseg = pytest.importorskip("mmcert_verified.fast.segmentation")


def grid_floor_of(x):
    from mmcert_verified.reference.segmentation import grid_floor

    return grid_floor(x)


@st.composite
def coded_families(draw):
    """(codes, multiplicities, alpha): alpha* codes (grid indices near Holm thresholds, alpha, 1), with
    values landing exactly on a threshold when alpha is a power of two (the float test's exact fallback)."""
    from mmcert_verified.reference.segmentation import grid_floor

    alpha = draw(st.sampled_from([Fraction(1, 1000), Fraction(1, 1024), Fraction(1, 20), Fraction(1, 10**320)]))
    size = draw(st.integers(1, 8))
    mult = draw(st.lists(st.integers(1, 30), min_size=size, max_size=size))
    m = sum(mult)
    codes = []
    for _ in range(size):
        kind = draw(st.sampled_from(["near", "near", "near", "alpha", "one"]))
        if kind == "alpha":
            codes.append(fastseg.CODE_ALPHA)
        elif kind == "one":
            codes.append(fastseg.CODE_ONE)
        else:
            i = draw(st.integers(1, m))
            codes.append(grid_floor(alpha / i) + draw(st.integers(-2, 2)))
    return np.array(codes, dtype=np.int64), np.array(mult, dtype=np.int64), alpha


@given(coded_families())
@example((np.array([grid_floor_of(Fraction(1, 2**14)), grid_floor_of(Fraction(1, 2**12)), fastseg.CODE_ONE]),
          np.array([1, 3, 1]), Fraction(1, 1024)))
def test_holm_on_codes_equals_holm_on_values(case):
    # F.5: Holm on codes (float test with exact fallback) accepts exactly what SEG.3 accepts on the values.
    # The example sits exactly on a threshold (the exact fallback): m = 5; 2**-14 * 5 < 2**-10 passes, then
    # 2**-12 * (5 - 1) = 2**-10 passes (<=), then 1 * 1 > 2**-10 fails: [True, True, False] by hand
    codes, mult, alpha = case
    values = [fastseg.code_fraction(int(c), alpha) for c in codes]
    want = holm_accept_values(values, mult.tolist(), alpha)
    got = fastseg.holm_accept_codes(codes, mult, alpha)
    assert got.tolist() == want.tolist()
    if alpha == Fraction(1, 1024) and mult.tolist() == [1, 3, 1] and codes[2] == fastseg.CODE_ONE:
        assert got.tolist() == [True, True, False]


def test_holm_on_codes_is_step_down():
    # the same family as test_holm_is_step_down_not_counting, as grid codes: the second value fails its
    # threshold (4e-4 > alpha/3), so only the first is accepted although the later ones pass their own
    from mmcert_verified.reference.segmentation import grid_floor

    codes = np.array([grid_floor(Fraction(p)) for p in ("1e-5", "4e-4", "4.5e-4", "0.9e-3")])
    got = fastseg.holm_accept_codes(codes, np.ones(4, dtype=np.int64), Fraction(1, 1000))
    assert got.tolist() == [True, False, False, False]
