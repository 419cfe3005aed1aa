"""Gaussian Smoothness Booster: a denoiser before a frozen encoder, a residual mapper after it (FS.11).

f_GSB(x) = normalize(g + M(g)), g = normalize(f(P(x))), P(x) = x + D(x). The composition is an encoder
with unit-norm features, so every FS bound applies to it unchanged; GSB only raises the score S.
Training (:func:`train_gsb`) keeps f frozen and minimises, over noisy inputs x + delta,

    (1 - cos(f_GSB(x + delta), f(x)))                     noisy-to-clean feature consistency
  + lambda_rec ||P(x + delta) - x||^2 / dim               L2 reconstruction of the denoiser
  + lambda_id (1 - cos(f_GSB(x), f(x)))                   identity on clean inputs

(D16: the paper's l_M_rb and l_stats are not reproduced).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm


class Denoiser(nn.Module):
    """P(x) = x + D(x), D a small residual conv net (images (B, C, H, W))."""

    def __init__(self, channels: int = 3, width: int = 24) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class SmoothnessMapper(nn.Module):
    """normalize(g + M(g)) for unit features g; M starts at zero (the identity map)."""

    def __init__(self, features: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, features))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        out = g + self.net(g)
        return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class BoostedEncoder(nn.Module):
    """f_GSB = mapper(normalize(encoder(denoiser(x)))); the encoder is frozen (requires_grad False)."""

    def __init__(self, encoder: Callable[[torch.Tensor], torch.Tensor], denoiser: Denoiser,
                 mapper: SmoothnessMapper) -> None:
        super().__init__()
        self.encoder = encoder
        self.denoiser = denoiser
        self.mapper = mapper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.encoder(self.denoiser(x))
        g = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return self.mapper(g)


@dataclass(frozen=True)
class GSBTraining:
    sigma: float
    steps: int = 600
    batch: int = 64
    lr: float = 2e-3
    lambda_rec: float = 1.0
    lambda_id: float = 1.0
    seed: int = 0


def train_gsb(encoder: Callable[[torch.Tensor], torch.Tensor], frozen: nn.Module, images: torch.Tensor,
              features: int, cfg: GSBTraining, progress: bool = True) -> BoostedEncoder:
    """Train P and M with the encoder frozen (clause FS.11); deterministic on the CPU for a given seed.

    ``encoder`` maps images to features; ``frozen`` is the module holding its parameters (set to eval,
    requires_grad False).
    """
    torch.manual_seed(cfg.seed)
    for p in frozen.parameters():
        p.requires_grad_(False)
    frozen.eval()
    boosted = BoostedEncoder(encoder, Denoiser(images.shape[1]), SmoothnessMapper(features))
    params = list(boosted.denoiser.parameters()) + list(boosted.mapper.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        clean_all = encoder(images)
        clean_all = clean_all / clean_all.norm(dim=-1, keepdim=True)
    for _ in tqdm(range(cfg.steps), disable=not progress, desc=f"GSB sigma={cfg.sigma}"):
        idx = torch.randint(0, images.shape[0], (cfg.batch,), generator=gen)
        x = images[idx]
        target = clean_all[idx]
        noisy = x + cfg.sigma * torch.randn(x.shape, generator=gen)
        out = boosted(noisy)
        consistency = (1 - (out * target).sum(-1)).mean()
        rec = ((boosted.denoiser(noisy) - x) ** 2).mean()
        ident = (1 - (boosted(x) * target).sum(-1)).mean()
        loss = consistency + cfg.lambda_rec * rec + cfg.lambda_id * ident
        opt.zero_grad()
        loss.backward()
        opt.step()
    return boosted.eval()
