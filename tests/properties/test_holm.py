"""Clause SEG.3: our Holm step-down rejects exactly what statsmodels' Holm rejects."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmcert_verified.reference.segmentation import holm_accept, holm_accept_values

multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests

# p-values from a small pool so that ties (the delicate case of the paper's rule) are frequent
_pool = st.sampled_from([1e-9, 1e-6, 1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 0.01, 0.2, 1.0])


@given(st.lists(st.one_of(_pool, st.floats(1e-12, 1.0)), min_size=1, max_size=60), st.sampled_from([0.001, 0.01, 0.05, 0.2]))
@example([2e-4] * 5, 0.001)  # found: exactly on the first threshold (float vs exact)
@example([1e-5] * 10, 0.001)  # all tied, every one under alpha/m = 1e-4: all rejected
@example([2e-4] * 10, 0.001)  # all tied, above alpha/m: none rejected
def test_holm_matches_statsmodels(pvals, alpha):
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
