"""Issue 15 item 1: large-N segmentation.  At N >= 10**4 most pixels of a road image have alpha* below
1e-200, where the float engine never decides (F.3-A), so every such pair went to the exact engine
(hours at N = 10**6).  SEG.2's Holm floor alpha / (2 P) bounds the search from below: a pixel certified
at the floor is accepted by Holm whatever its exact value (every threshold alpha / (m + 1 - j) >= alpha / m
exceeds the floor), so the floor changes no certified pixel.  These tests pin that, and that the fast
engine then equals the reference at large N.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcert_verified.fast import segmentation as fastseg
from mmcert_verified.reference import segmentation as refseg

KITTI = dict(n=(465750, 465750), k=(9000, 1000), r=(5, 5), attack="modify")


def _problem(alpha, pixels):
    return refseg.segmentation_problem(pixels, Fraction(alpha), KITTI["n"], KITTI["k"], KITTI["r"], "modify",
                                       "mmcert", None, 0, 0)


@settings(deadline=None, max_examples=25)
@given(
    values=st.lists(st.sampled_from([Fraction(1, 10**k) for k in (2, 3, 4, 5, 6, 8, 12, 40, 300)] + [Fraction(1)]),
                    min_size=1, max_size=12),
    mult=st.lists(st.integers(1, 50), min_size=12, max_size=12),
    alpha=st.sampled_from([Fraction(1, 1000), Fraction(1, 20), Fraction(1, 10**6)]),
)
def test_holm_outcome_is_unchanged_by_the_floor(values, mult, alpha):
    # SEG.2/SEG.3: replacing every alpha* below the floor by the floor changes no Holm decision
    mult = mult[: len(values)]
    pixels = sum(mult)
    floor = refseg.holm_floor(alpha, pixels)
    clamped = [max(v, floor) if v <= alpha else v for v in values]
    want = refseg.holm_accept_values(values, mult, alpha)
    got = refseg.holm_accept_values(clamped, mult, alpha)
    assert np.array_equal(want, got)


def test_floor_is_a_grid_level_below_every_holm_threshold():
    for alpha, pixels in ((Fraction(1, 1000), 465750), (Fraction(1, 10), 1), (Fraction(1, 10**400), 7)):
        floor = refseg.holm_floor(alpha, pixels)
        assert floor <= alpha / (2 * pixels) < alpha / pixels
        assert refseg.grid_value(refseg.grid_floor(floor)) == floor


def test_alpha_star_with_floor_is_certifying_and_minimal_above_it():
    prob = _problem("0.001", 1000)
    problem = refseg.PixelProblem(1000, 2, prob.sizes_masses)
    floor = refseg.holm_floor(prob.alpha, 1000)
    for pair in ((1000, 0), (990, 10), (950, 50)):
        v = refseg.alpha_star(pair, problem, prob.alpha, floor)
        assert floor <= v <= prob.alpha
        assert refseg.certified_at_level(pair, problem, v)
        if v > floor:  # minimal on the grid above the floor
            below = refseg.grid_value(refseg.grid_floor(v) - 1)
            assert not refseg.certified_at_level(pair, problem, below)


def test_fast_equals_reference_at_n_10000():
    # a 2 x 6 image at N = 10**4: confident pixels (alpha* far below 1e-200 without the floor) and
    # uncertain ones; before the floor the fast engine deferred every confident pair to the reference
    N = 10**4
    c1 = np.array([[0, 3, 40, 5000, 9990, 10**4], [10, 200, 4700, 5300, 9999, 1]])
    votes = np.stack([N - c1, c1]).astype(np.int64)
    labels = (c1 > N // 2).astype(np.int64)
    want = refseg.segment(votes, "0.001", labels=labels, **KITTI)
    got = fastseg.segment(votes, "0.001", labels=labels, **KITTI)
    assert 0 < int(want.certified_mask.sum()) < 12
    assert np.array_equal(got.certified_mask, want.certified_mask)
    assert np.array_equal(got.images[0].alpha_star, want.images[0].alpha_star)
    assert got.to_json() == want.to_json()


def test_fast_equals_reference_at_n_100000_per_pair():
    prob = _problem("0.001", 10**5)
    floor = refseg.holm_floor(prob.alpha, 10**5)
    N = 10**5
    pairs = [(N, 0), (N - 30, 30), (99_000, 1_000), (60_000, 40_000), (52_000, 48_000)]
    problem = refseg.PixelProblem(N, 2, prob.sizes_masses)
    want = [refseg.alpha_star(p, problem, prob.alpha, floor) for p in pairs]
    got = fastseg.alpha_stars(pairs, N, 2, prob, floor)
    assert got == want


# --------------------------------------------------------------------------- issue 15 item 1 (2x target), issue 14


@pytest.mark.parametrize("bound", ["bonferroni", "complement", "combined"])
def test_fast_equals_reference_at_n_10000_every_method(bound):
    # the 2 x 6 image above with each bound method (SEG.1 with the method's levels; F.5's threshold path)
    N = 10**4
    c1 = np.array([[0, 3, 40, 5000, 9990, 10**4], [10, 200, 4700, 5300, 9999, 1]])
    votes = np.stack([N - c1, c1]).astype(np.int64)
    want = refseg.segment(votes, "0.001", **KITTI, bound=bound)
    got = fastseg.segment(votes, "0.001", **KITTI, bound=bound)
    assert 0 < int(want.certified_mask.sum()) < 12
    assert np.array_equal(got.images[0].alpha_star, want.images[0].alpha_star)
    assert got.to_json() == want.to_json()


def test_kitti_like_crop_at_large_n_needs_no_reference(monkeypatch):
    # issue 15: at N = 10**4 and 10**6 the fast engine decides every distinct pair of a KITTI-like crop itself
    # (before: 1,798 of 2,830 pairs of a 75 x 248 crop went to the reference at N = 10**4); the values are
    # checked against the reference on a sample of the pairs (the reference costs ~0.1-1 s per pair there)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_large_n import votes_for

    calls = []
    real = refseg.alpha_star
    monkeypatch.setattr(refseg, "alpha_star", lambda *a, **kw: calls.append(a[0]) or real(*a, **kw))
    for N in (10**4, 10**6):
        votes = votes_for(N, 60, 200)
        res = fastseg.segment(votes, "0.001", **KITTI)
        assert calls == [], N
        assert 0 < int(res.certified_mask.sum()) < votes[0].size
    monkeypatch.undo()
    N = 10**4
    prob = _problem("0.001", 465750)
    floor = refseg.holm_floor(prob.alpha, 60 * 200)
    n_a = np.unique(np.max(votes_for(N, 60, 200), axis=0))
    sample = [(int(a), N - int(a)) for a in n_a[np.linspace(0, n_a.size - 1, 6).astype(int)]]
    problem = refseg.PixelProblem(N, 2, prob.sizes_masses)
    want = [refseg.alpha_star(p, problem, prob.alpha, floor) for p in sample]
    assert fastseg.alpha_stars(sample, N, 2, prob, floor) == want
