"""Tiny deterministic models and data sets for the end-to-end tests (no training, no weights).

``SumClassifier`` predicts from the mask-weighted mean of the kept values of
two modalities, so its votes depend on which elements were kept; its
scores are smooth, so argmax ties have probability zero.  ``PixelSegmenter``
labels every pixel of the first modality by comparing a blurred copy of its
kept values with a threshold.  Both count how often they are called and the
largest batch they saw, so tests can check the streaming.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mmcert_verified.sampling import Modality

CLASSES = 3
MODALITIES = (Modality.sequence("a", 1, 12), Modality.sequence("b", 1, 30))
SEG_MODALITIES = (Modality.image("rgb", 3, 6, 8), Modality.image("depth", 1, 6, 8))


class CountingModule(nn.Module):
    """A module that keeps count of its forward passes: ``calls`` (passes), ``rows`` (rows over all passes)
    and ``max_batch`` (the most rows in one pass), all 0 until its subclass's ``forward`` calls
    :meth:`count` with each batch's row count.  Plain attributes: not in the state dict."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.rows = 0
        self.max_batch = 0

    def count(self, rows: int) -> None:
        """Record one forward pass over ``rows`` rows."""
        self.calls += 1
        self.rows += rows
        self.max_batch = max(self.max_batch, rows)


class SumClassifier(CountingModule):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.count(a.shape[0])
        ma = (a[:, 0] * a[:, 1]).sum(1) / a[:, 1].sum(1).clamp_min(1)
        mb = (b[:, 0] * b[:, 1]).sum(1) / b[:, 1].sum(1).clamp_min(1)
        s = ma + 0.5 * mb
        return torch.stack([-s, torch.zeros_like(s) + 0.1 * ma, s - 0.3], dim=1)


class PixelSegmenter(CountingModule):
    def forward(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        self.count(rgb.shape[0])
        kept = rgb[:, 3:4]
        value = rgb[:, 0:1] * kept + 0.2 * depth[:, 0:1] * depth[:, 1:2]
        blur = F.avg_pool2d(value, 3, 1, 1) / F.avg_pool2d(kept + depth[:, 1:2], 3, 1, 1).clamp_min(1e-3)
        return torch.cat([0.5 - blur, blur - 0.5], dim=1)


class ToyClips:
    """``count`` inputs of the two sequence modalities; label = the class a clean input gets."""

    def __init__(self, count: int = 10, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.a = torch.randn(count, 1, 12, generator=g) + torch.linspace(-1.5, 1.5, count).view(count, 1, 1)
        self.b = torch.randn(count, 1, 30, generator=g)
        self.labels = [int(i * CLASSES // count) for i in range(count)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return (self.a[i], self.b[i]), self.labels[i]


class ToyScenes:
    def __init__(self, count: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.rgb = torch.rand(count, 3, 6, 8, generator=g)
        self.rgb[:, :, 3:, :] += 0.6
        self.depth = torch.rand(count, 1, 6, 8, generator=g)
        self.labels = (self.rgb[:, 0] > 0.8).to(torch.int64)

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, i: int):
        return (self.rgb[i], self.depth[i]), self.labels[i]


def classifier() -> SumClassifier:
    return SumClassifier()


def segmenter() -> PixelSegmenter:
    return PixelSegmenter()


def clips(count: int = 10, seed: int = 0) -> ToyClips:
    return ToyClips(count, seed)


def scenes(count: int = 4, seed: int = 0) -> ToyScenes:
    return ToyScenes(count, seed)
