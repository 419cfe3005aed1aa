"""The RGB + depth road-segmentation network: a small encoder-decoder for sparse inputs.

Inputs are the encoded (ablated) modalities of :mod:`mmcert_verified.sampling`:
``rgb`` (B, 4, 32, 96) -- three colours and a mask channel -- and ``depth``
(B, 2, 32, 96) -- depth and a mask channel.  Two coordinate channels are
appended (the road is a trapezoid at the bottom, so position is a strong
prior).  The 8 channels are folded 2x2 into 32 channels at 16x48
(pixel-unshuffle), processed at 16x48 and 8x24 (dilated convolutions: a wide
window, which filling in labels from a few percent of kept pixels needs)
and unfolded back to road / not-road scores (B, 2, 32, 96).  About 37k
parameters; folding keeps it cheap enough to train on one CPU core.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .road_data import HEIGHT, WIDTH


def _block(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.ReLU())


class RoadNet(nn.Module):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.enc = nn.Sequential(_block(32, w), _block(w, w))
        self.coarse = nn.Sequential(_block(w, 2 * w), _block(2 * w, 2 * w, 2), _block(2 * w, 2 * w, 4))
        self.dec = _block(3 * w, w)
        self.out = nn.Conv2d(w, 8, 1)
        ys = torch.linspace(-1, 1, HEIGHT).view(1, 1, HEIGHT, 1).expand(1, 1, HEIGHT, WIDTH)
        xs = torch.linspace(-1, 1, WIDTH).view(1, 1, 1, WIDTH).expand(1, 1, HEIGHT, WIDTH)
        self.register_buffer("coords", torch.cat([ys, xs], 1).contiguous(), persistent=False)

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        b = rgb.shape[0]
        x = torch.cat([rgb, depth, self.coords.expand(b, -1, -1, -1)], dim=1)
        fine = self.enc(F.pixel_unshuffle(x, 2))
        coarse = self.coarse(F.avg_pool2d(fine, 2))
        up = F.interpolate(coarse, scale_factor=2.0, mode="nearest")
        return F.pixel_shuffle(self.out(self.dec(torch.cat([up, fine], 1))), 2)
