"""Seeded two-class segmentation votes for the certificate tests and the audit corpus generator.

``tests/`` is on ``sys.path`` (its conftest.py's directory), so any test imports this as
``segmentation_votes``; ``tests/audit/make_corpus.py`` puts it there itself.
"""

from __future__ import annotations

import numpy as np


def two_class_votes(seed: int, height: int, width: int, samples: int, p_top: float) -> tuple[np.ndarray, np.ndarray]:
    """(counts of shape (2, height, width), labels of shape (height, width)), both int64, from
    ``np.random.default_rng(seed)``: each pixel's predicted class is uniform, its top count is
    Bin(samples, p_top), the other class gets the rest (so every pixel's counts sum to ``samples``),
    and its label is the predicted class with probability 0.8, the other class otherwise.

    The draws are made in that order (top counts, predictions, labels), so a seed gives the same
    arrays on every call: the committed audit corpus depends on it."""
    rng = np.random.default_rng(seed)
    classes = 2
    top = rng.binomial(samples, p_top, size=(height, width))
    pred = rng.integers(0, classes, size=(height, width))
    counts = np.zeros((classes, height, width), dtype=np.int64)
    for c in range(classes):
        counts[c] = np.where(pred == c, top, samples - top)
    labels = np.where(rng.random((height, width)) < 0.8, pred, 1 - pred).astype(np.int64)
    return counts, labels
