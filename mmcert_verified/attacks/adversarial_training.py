"""Contrastive training of a dual encoder, clean or adversarial (spec ``spec/attacks.md``, clause ATK.5).

One loop for the four variants of :class:`TrainingKind`:

* ``STANDARD``: CLIP's symmetric InfoNCE on clean pairs (caption 0 of each image, "1:1");
* ``UNIMODAL_AT`` (TeCoA-style): the images of each batch are replaced by PGD examples against
  their clean captions; the text stays clean;
* ``MAT``: both modalities are replaced by a multimodal attack's examples (text first, then the
  image guided by the adversarial text) -- Waseda et al.'s multimodal adversarial training;
* ``MAT_PLUS``: MAT on one-to-many augmented pairs: every epoch each image is paired with one of
  its several captions at random (1:N text augmentation) and passes through an image
  augmentation that keeps it aligned with the caption and in distribution (supplied by the caller).

InfoNCE with a temperature; pairs of the same ``group`` (e.g. the same concept) are not used as
each other's negatives, so duplicates in a batch are not pushed apart.  Deterministic for a seed
on one thread: the batch order, caption choice and augmentation draw from one ``torch.Generator``
and the attacks from seeds derived from the epoch and batch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

#: (images, tokens, seed) -> (images, tokens): the inner maximisation, or None for clean training
Perturb = Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
#: (images, generator) -> images: a label-preserving image augmentation
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class TrainingKind(str, enum.Enum):
    STANDARD = "standard"
    UNIMODAL_AT = "unimodal_at"
    MAT = "mat"
    MAT_PLUS = "mat_plus"


@dataclass(frozen=True)
class Recipe:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    temperature: float = 0.1
    seed: int = 0


def contrastive_loss(image: torch.Tensor, text: torch.Tensor, groups: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of unit-norm features; same-group off-diagonal pairs are masked."""
    logits = image @ text.T / temperature
    same = groups.unsqueeze(0) == groups.unsqueeze(1)
    eye = torch.eye(len(groups), dtype=torch.bool, device=image.device)
    logits = logits.masked_fill(same & ~eye, float("-inf"))
    target = torch.arange(len(groups), device=image.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def fit_contrastive(model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor, groups: torch.Tensor,
                    recipe: Recipe = Recipe(), *, perturb: Perturb | None = None,
                    one_to_many: bool = False, augment: Augment | None = None, log=print) -> torch.nn.Module:
    """Train ``model`` in place and return it.

    ``images`` (E, ...), ``tokens`` (E, C, L) with caption 0 the 1:1 caption, ``groups`` (E,).
    ``one_to_many``: draw one of the C captions per image per epoch instead of caption 0.
    """
    gen = torch.Generator().manual_seed(recipe.seed)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs)
    count = images.shape[0]
    for epoch in range(recipe.epochs):
        order = torch.randperm(count, generator=gen)
        choice = torch.randint(tokens.shape[1], (count,), generator=gen) if one_to_many else torch.zeros(count, dtype=torch.int64)
        total, batches = 0.0, 0
        for start in range(0, count - recipe.batch_size + 1, recipe.batch_size):
            idx = order[start:start + recipe.batch_size]
            x, t, g = images[idx], tokens[idx, choice[idx]], groups[idx]
            if augment is not None:
                x = augment(x, gen)
            if perturb is not None:
                model.eval()
                x, t = perturb(x, t, recipe.seed * 1_000_003 + epoch * 1009 + batches)
                model.train()
            loss = contrastive_loss(model.encode_image(x), model.encode_text(t), g, recipe.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
            batches += 1
        sched.step()
        if epoch % 5 == 4 or epoch == recipe.epochs - 1:
            log(f"epoch {epoch + 1}/{recipe.epochs} loss {total / max(batches, 1):.4f}")
    return model.eval()
