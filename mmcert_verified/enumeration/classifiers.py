"""Concrete tiny base classifiers for the ground-truth oracle (spec clause NP.2).

A base classifier sees a *view* of a sub-sample: per modality, the kept values
in their original relative order (a tuple of value tuples).  The view carries
no absolute positions: an element shared by M and M' looks the same in both
after an insertion or deletion shifted the indices, which is what Theorem 1's
proof assumes (e_i = |m_i intersect m'_i| counts *elements*, clause S3).

Every classifier is deterministic and classifies a batch of views at once
(``classify(views) -> list of labels in range(classes)``).  Ties in a score
go to the lowest label.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence

View = tuple[tuple[int, ...], ...]


class BaseClassifier(Protocol):
    """What the oracle needs of a base classifier g."""

    classes: int

    def classify(self, views: Sequence[View]) -> list[int]: ...


def _argmax(scores: Sequence[int | float]) -> int:
    best = 0
    for i, s in enumerate(scores):
        if s > scores[best]:
            best = i
    return best


@dataclass(frozen=True)
class HashClassifier:
    """A pseudo-random lookup table: label ``default`` for ``keep`` percent of views.

    Each view is hashed (BLAKE2b of its repr with ``seed``); the hash picks
    whether the view gets ``default`` or an arbitrary label.  Stable across
    runs and machines (no Python hash randomisation).
    """

    classes: int
    seed: int
    default: int = 0
    keep: int = 80

    def _label(self, view: View) -> int:
        digest = hashlib.blake2b(repr((self.seed, view)).encode(), digest_size=8).digest()
        h = int.from_bytes(digest, "big")
        return self.default if h % 100 < self.keep else (h // 100) % self.classes

    def classify(self, views: Sequence[View]) -> list[int]:
        return [self._label(v) for v in views]


@dataclass(frozen=True)
class LinearVoteClassifier:
    """score_l = bias[l] + sum over modalities i and kept values v of weights[i][v][l]; argmax.

    Integer weights, so scores are exact.  A large ``bias[0]`` with small
    weights gives a classifier that mostly agrees (and so certifies); values
    with heavy weights act as triggers an attacker can insert.
    """

    classes: int
    bias: tuple[int, ...]
    weights: tuple[tuple[tuple[int, ...], ...], ...]  # [modality][value][label]

    def classify(self, views: Sequence[View]) -> list[int]:
        out = []
        for view in views:
            scores = list(self.bias)
            for i, part in enumerate(view):
                w = self.weights[i]
                for v in part:
                    for l in range(self.classes):
                        scores[l] += w[v][l]
            out.append(_argmax(scores))
        return out


@dataclass(frozen=True)
class TriggerClassifier:
    """Label 1 when at least ``threshold`` kept values equal ``trigger``, else label 0.

    This is the shape of the Neyman-Pearson worst case: sub-samples holding
    attacker-controlled values vote for B, all others for A.
    """

    classes: int
    trigger: int
    threshold: int = 1

    def classify(self, views: Sequence[View]) -> list[int]:
        return [
            1 if sum(part.count(self.trigger) for part in view) >= self.threshold else 0
            for view in views
        ]


class TorchLinearClassifier:
    """A fixed random ``torch.nn.Linear`` over a padded one-hot encoding with a mask.

    Modality i gets ``slots[i]`` slots; slot j holds the one-hot of the j-th
    kept value and a mask bit (1 if the slot is used).  Weights are drawn from
    a seeded generator in float64 (CPU), ``label_0_bias`` is added to the bias
    of label 0; the label is the argmax of the logits (first maximum on ties,
    as ``torch.argmax`` documents).
    """

    def __init__(self, slots: Sequence[int], alphabet: int, classes: int, seed: int, label_0_bias: float = 0.0):
        import torch

        self.slots = tuple(int(s) for s in slots)
        self.alphabet = int(alphabet)
        self.classes = int(classes)
        self.features = sum(s * (self.alphabet + 1) for s in self.slots)
        gen = torch.Generator().manual_seed(int(seed))
        self.layer = torch.nn.Linear(self.features, self.classes, dtype=torch.float64)
        with torch.no_grad():
            self.layer.weight.copy_(torch.randn(self.layer.weight.shape, generator=gen, dtype=torch.float64))
            bias = torch.randn(self.classes, generator=gen, dtype=torch.float64)
            bias[0] += float(label_0_bias)
            self.layer.bias.copy_(bias)

    def encode(self, views: Sequence[View]):
        import torch

        x = torch.zeros((len(views), self.features), dtype=torch.float64)
        for row, view in enumerate(views):
            offset = 0
            for part, s in zip(view, self.slots):
                if len(part) > s:
                    raise ValueError(f"a view part of length {len(part)} does not fit {s} slots")
                for j, v in enumerate(part):
                    base = offset + j * (self.alphabet + 1)
                    x[row, base + v] = 1.0
                    x[row, base + self.alphabet] = 1.0
                offset += s * (self.alphabet + 1)
        return x

    def classify(self, views: Sequence[View]) -> list[int]:
        import torch

        if not views:
            return []
        with torch.no_grad():
            logits = self.layer(self.encode(views))
        return [int(i) for i in torch.argmax(logits, dim=1)]
