"""Exact label probabilities of a concrete base classifier on a concrete input (clause NP.2).

Pr(g(Z) = l) for Z a uniformly random sub-sample of the input (MMCert: a
k_i-subset of every modality, independently, clause S1; ablation: one k-subset
of the pooled elements, clause S4), computed by enumerating every sub-sample.
The result is a vector of integer counts over the total number of sub-samples,
so every probability is an exact :class:`~fractions.Fraction`.

Two independent paths:

* :func:`label_counts_by_enumeration` walks every sub-sample, builds its view
  and asks the classifier: the literal definition, slow;
* :class:`LabelCounter` classifies every possible view once, counts how many
  sub-samples of each modality give each per-modality view (cached per
  modality content), and combines the modalities with an integer tensor
  contraction.  A pooled k-subset is exactly a choice of j_i-subsets of the
  modalities with sum j_i = k, so the same contraction, restricted to views
  whose lengths sum to k, counts the baseline.  All arithmetic is int64 on
  counts far below 2**63, hence exact.  Tests check it against the first path.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np

from ..errors import EnumerationTooLargeError
from ..threat_model import Method, Setting
from .attacks import Input
from .classifiers import BaseClassifier, View

#: largest table of views x labels :class:`LabelCounter` builds
DEFAULT_TABLE_LIMIT = 2_000_000


@dataclass(frozen=True)
class LabelCounts:
    """How many of the ``total`` sub-samples the base classifier maps to each label."""

    counts: tuple[int, ...]
    total: int

    def probability(self, label: int) -> Fraction:
        return Fraction(self.counts[label], self.total)

    @property
    def probabilities(self) -> tuple[Fraction, ...]:
        return tuple(Fraction(c, self.total) for c in self.counts)

    @property
    def ensemble_label(self) -> int:
        """argmax of the exact probabilities, lowest label on ties."""
        return max(range(len(self.counts)), key=lambda l: (self.counts[l], -l))


def _views_of(m: Input, setting: Setting, positional: bool):
    def part(i: int, idx) -> tuple:
        return tuple((j, m[i][j]) if positional else m[i][j] for j in idx)

    if setting.method is Method.MMCERT:
        for idx in itertools.product(
            *(itertools.combinations(range(len(mi)), k) for mi, k in zip(m, setting.k))
        ):
            yield tuple(part(i, ix) for i, ix in enumerate(idx))
    else:
        pooled = [(i, j) for i, mi in enumerate(m) for j in range(len(mi))]
        for combo in itertools.combinations(pooled, setting.k[0]):
            yield tuple(part(i, [j for (ii, j) in combo if ii == i]) for i in range(len(m)))


def label_counts_by_enumeration(
    m: Input, setting: Setting, classifier: BaseClassifier, positional: bool = False
) -> LabelCounts:
    """Count labels over every sub-sample, one classifier call per sub-sample (reference path).

    With ``positional=True`` the classifier sees (index, value) pairs instead of
    values: a classifier that knows absolute positions, outside the threat
    model of Theorem 1 for additions and deletions (see docs/enumeration.md).
    """
    views = list(_views_of(m, setting, positional))
    counts = [0] * classifier.classes
    for label in classifier.classify(views):
        counts[label] += 1
    return LabelCounts(tuple(counts), len(views))


class LabelCounter:
    """Exact label counts for many inputs sharing one setting and classifier (fast path).

    ``max_lengths[i]`` is the longest modality i any input will have (n_i + r_i
    under an addition attack, else n_i); values lie in ``range(alphabet)``.
    """

    def __init__(
        self,
        setting: Setting,
        classifier: BaseClassifier,
        alphabet: int,
        max_lengths: Sequence[int],
        table_limit: int = DEFAULT_TABLE_LIMIT,
    ):
        self.setting = setting
        self.classes = classifier.classes
        t = setting.modalities
        if setting.method is Method.MMCERT:
            self.lengths = [(k,) for k in setting.k]
        else:
            k = setting.k[0]
            self.lengths = [tuple(range(min(k, ml) + 1)) for ml in max_lengths]
        self.spaces: list[list[tuple[int, ...]]] = [
            [v for j in lens for v in itertools.product(range(alphabet), repeat=j)] for lens in self.lengths
        ]
        self.index = [{v: x for x, v in enumerate(space)} for space in self.spaces]
        shape = tuple(len(s) for s in self.spaces)
        size = math.prod(shape) * self.classes
        if size > table_limit:
            raise EnumerationTooLargeError(
                f"the view table has {size} entries, over the enumeration limit of {table_limit}"
            )
        cells, views = [], []
        for cell in itertools.product(*(range(n) for n in shape)):
            view: View = tuple(self.spaces[i][cell[i]] for i in range(t))
            if setting.method is Method.ABLATION and sum(len(p) for p in view) != setting.k[0]:
                continue
            cells.append(cell)
            views.append(view)
        labels = classifier.classify(views)
        table = np.zeros(shape + (self.classes,), dtype=np.int64)
        for cell, label in zip(cells, labels):
            if not 0 <= label < self.classes:
                raise ValueError(f"the classifier returned label {label} outside range({self.classes})")
            table[cell + (label,)] = 1
        self.table = table
        self._cache: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}

    def _modality_counts(self, i: int, mi: tuple[int, ...]) -> np.ndarray:
        key = (i, mi)
        vec = self._cache.get(key)
        if vec is None:
            vec = np.zeros(len(self.spaces[i]), dtype=np.int64)
            idx = self.index[i]
            for j in self.lengths[i]:
                for combo in itertools.combinations(mi, j):
                    vec[idx[combo]] += 1
            self._cache[key] = vec
        return vec

    def counts(self, m: Input) -> LabelCounts:
        t = self.table
        for i, mi in enumerate(m):
            t = np.tensordot(self._modality_counts(i, mi), t, axes=(0, 0))
        counts = tuple(int(c) for c in t)
        total = sum(counts)
        if self.setting.method is Method.MMCERT:
            expected = math.prod(math.comb(len(mi), k) for mi, k in zip(m, self.setting.k))
        else:
            expected = math.comb(sum(len(mi) for mi in m), self.setting.k[0])
        if total != expected:  # pragma: no cover - a bug here, not a user error
            raise AssertionError(f"counted {total} sub-samples, expected {expected}")
        return LabelCounts(counts, total)
