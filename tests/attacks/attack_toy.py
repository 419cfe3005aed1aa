"""A tiny deterministic classifier and data set for the ``mmcert attack`` CLI tests (no weights).

``BiasedMean`` takes two sequence modalities ``a`` (8 elements) and ``b`` (6 elements), each with a mask
channel, and scores ``s = mean_kept(a) + 0.5 * mean_kept(b) + 0.5``; the logits are ``(s, -s)``.  Every
value of a clean input lies in [0, 1], so ``s >= 0.5`` on every sub-sample and the ensemble votes label 0
unanimously.  The element attack's default box for values in [0, 1] is [-0.5, 1.5] (the range widened
by half its width, :func:`mmcert_verified.attacks.element.default_box`); overwriting *every* element with
-0.5 gives ``s = -0.5 - 0.25 + 0.5 = -0.25 < 0``, so a budget that covers all elements flips the ensemble
to label 1 -- the case a deliberately unsound certifier must be caught on.
"""

from __future__ import annotations

import torch
from torch import nn


class BiasedMean(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ma = (a[:, 0] * a[:, 1]).sum(1) / a[:, 1].sum(1).clamp_min(1)
        mb = (b[:, 0] * b[:, 1]).sum(1) / b[:, 1].sum(1).clamp_min(1)
        s = ma + 0.5 * mb + 0.5
        return torch.stack([s, -s], dim=1)


def classifier() -> nn.Module:
    return BiasedMean()


class Clips:
    """``count`` inputs with values spread over exactly [0, 1] in each modality; label 0."""

    def __init__(self, count: int = 3, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(count):
            a = torch.linspace(0, 1, 8)[torch.randperm(8, generator=g)].view(1, 8)
            b = torch.linspace(0, 1, 6)[torch.randperm(6, generator=g)].view(1, 6)
            self.items.append(((a, b), 0))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def clips(count: int = 3) -> Clips:
    return Clips(count)
