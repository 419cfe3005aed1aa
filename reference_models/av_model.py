"""The audio-visual classifier: per-element encoders, mask-weighted pooling, a small head.

Inputs are the *encoded* (ablated) modalities of :mod:`mmcert_verified.sampling`:
``video`` (B, 32, 2, 8, 8) -- grey value and mask channel per frame -- and
``audio`` (B, 2, 400) -- sample value and mask channel.  Each frame and each
audio sample is encoded on its own; the encodings are averaged over the
*kept* elements only (the mask channel says which), so the model's output
does not depend on the values written into ablated elements, and it sees
how many elements were kept.  Each audio sample is encoded by one layer (a
soft histogram of values: the synthetic audio carries a loudness level).
About 11k parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from .av_data import CLASSES, FRAMES, SIDE


def masked_mean(features: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``features`` over ``dim`` weighted by ``mask`` (0 where nothing is kept)."""
    total = (features * mask).sum(dim)
    return total / mask.sum(dim).clamp_min(1.0)


class AVNet(nn.Module):
    def __init__(self, classes: int = len(CLASSES), width: int = 48) -> None:
        super().__init__()
        self.frame = nn.Sequential(nn.Linear(SIDE * SIDE, 64), nn.ReLU(), nn.Linear(64, width), nn.ReLU())
        self.sample = nn.Sequential(nn.Linear(1, 32), nn.ReLU())  # soft histogram of sample values
        self.head = nn.Sequential(nn.Linear(width + 32 + 2, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        b = video.shape[0]
        frames = video[:, :, 0].reshape(b, FRAMES, SIDE * SIDE)
        frame_mask = video[:, :, 1, 0, 0].unsqueeze(-1)  # (B, F, 1): the mask is constant over a frame
        v = masked_mean(self.frame(frames), frame_mask, 1)
        sample_mask = audio[:, 1].unsqueeze(-1)  # (B, L, 1)
        a = masked_mean(self.sample(audio[:, 0].unsqueeze(-1)), sample_mask, 1)
        kept = torch.log1p(torch.cat([frame_mask.sum(1), sample_mask.sum(1)], dim=1))
        return self.head(torch.cat([v, a, kept], dim=1))
