"""Clause V1: the labels A and B that the votes select, with the lowest index on ties, in every path.

The expected labels are read off the count vectors by hand: A is the first position of the largest
count, B the first position of the largest count among the other positions.  The runner-up's index is
reported (CLI JSON, certificates); its count N_B is what the bounds use.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcert_verified.reference.segmentation import pixel_votes
from mmcert_verified.sampling.counting import VoteCounter, first_argmax
from mmcert_verified.votes import Votes

# (counts, A, B), by hand
CASES = [
    ((3, 3), 0, 1),  # tie for the top: A is the first
    ((0, 5, 5, 1), 1, 2),
    ((7, 2, 2, 2), 0, 1),  # tie among the others: B is the first of them
    ((1, 4, 0, 4, 4), 1, 3),
    ((100, 0, 0, 0, 0, 0, 0), 0, 1),  # the RAVDESS case: B = lowest index among the tied zeros
    ((0, 0, 9), 2, 0),
    ((2, 2, 2), 0, 1),
]


@pytest.mark.parametrize("counts,a,b", CASES)
def test_votes_label_and_runner_up_lowest_index_on_ties(counts, a, b):
    v = Votes(counts)
    assert (v.label, v.runner_up) == (a, b)
    assert (v.n_a, v.n_b) == (counts[a], counts[b])


def test_single_class_has_no_runner_up():
    v = Votes((4,))
    assert (v.label, v.runner_up, v.n_b) == (0, None, 0)


def test_pixel_votes_lowest_index_on_ties():
    # each case is one pixel (one column) of a (C, P) array, padded with zero classes to C = 7
    # every pixel must total the same N, so a last class (index 7) takes up the slack to N = 200
    cols = np.zeros((8, len(CASES)), dtype=np.int64)
    for j, (counts, _, _) in enumerate(CASES):
        cols[: len(counts), j] = counts
    cols[7] = 200 - cols.sum(axis=0)
    pv = pixel_votes(cols)
    for j, (counts, a, b) in enumerate(CASES):
        # the filler (>= 100 votes) is the largest count of every column except ((100, 0, ...)),
        # where it ties class 0 at 100 and loses the tie; elsewhere it is A and the case's A is B
        if max(counts) == 100:
            assert (pv.pred[j], pv.n_a[j], pv.n_b[j]) == (0, 100, 100)
        else:
            assert (pv.pred[j], pv.n_a[j], pv.n_b[j]) == (7, cols[7, j], counts[a])


def test_pixel_votes_pure_ties():
    counts = np.array([[5, 0, 3], [5, 5, 3], [0, 5, 4]])  # pixel 0: tie 0/1; pixel 1: tie 1/2; pixel 2: class 2
    pv = pixel_votes(counts)
    assert pv.pred.tolist() == [0, 1, 2]
    assert pv.n_a.tolist() == [5, 5, 4] and pv.n_b.tolist() == [5, 5, 3]


def test_fast_engine_top_two_lowest_index_on_ties():
    from mmcert_verified.fast.segmentation import top_two

    counts = np.array([[5, 0, 3], [5, 5, 3], [0, 5, 4]])  # as in test_pixel_votes_pure_ties
    pred, n_a, n_b = top_two(torch.as_tensor(counts))
    assert pred.tolist() == [0, 1, 2] and n_a.tolist() == [5, 5, 4] and n_b.tolist() == [5, 5, 3]


@pytest.mark.parametrize("classes", [3, 8, 9])  # both the scan (C <= 8) and the argmax path
@pytest.mark.parametrize("spatial", [(), (2, 3)])  # classification and segmentation counting
def test_vote_counting_lowest_index_on_ties(classes, spatial):
    # every output ties classes 1 and C - 1 for the top score: the vote goes to 1 (SAMP.1 counts V1's A)
    logits = torch.zeros((4, classes, *spatial))
    logits[:, 1] = 2.0
    logits[:, classes - 1] = 2.0
    assert first_argmax(logits).unique().tolist() == [1]
    counter = VoteCounter(classes, spatial)
    counter.add_logits(logits)
    want = np.zeros((classes, *spatial), dtype=np.int64)
    want[1] = 4
    assert np.array_equal(counter.counts(), want)
