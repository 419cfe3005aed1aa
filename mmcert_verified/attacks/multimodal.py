"""Attacks on image-text retrieval with a dual encoder (spec ``spec/attacks.md``, clause ATK.3).

The model is anything with ``encode_image(images) -> (B, D)`` and ``encode_text(tokens) -> (B, D)``
returning unit-norm features, ``token_embeddings(tokens)``, ``encode_embedded(embeddings, mask)``
and an ``embedding`` layer (the reference model :class:`reference_models.image_text_model.DualEncoder`).
Every attack lowers the cosine between an image and its paired caption:

* :class:`ImageAttack`: PGD on the image against the clean caption's features;
* :class:`TextAttack`: greedy token substitution against the clean image's features;
* :class:`MultimodalAttack` (Co-Attack / SGA style): (1) substitute tokens against the clean
  image, (2) PGD on the image against *both* the clean and the adversarial caption's features,
  averaged over augmented copies of the image (rescaled and re-cropped, as SGA's scale set), so the
  image perturbation is guided by the adversarial text and transfers across views, (3) substitute
  tokens again, from the clean caption, against the adversarial image.  At most ``budget`` words
  and an ``eps`` ball: the same threat model as the two unimodal attacks together.

All attacks are batched, run on the inputs' device and are deterministic for a seed.
Each returns ``(images, tokens)``; the unattacked modality is returned unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch.nn import functional as F

from .pgd import PGD
from .text import TokenSubstitution


def rescale(images: torch.Tensor, scale: float) -> torch.Tensor:
    """Resample ``images`` by ``scale`` (bilinear) and centre-crop or edge-pad back to their size.

    A differentiable view of the same image, as SGA's image-set augmentation.
    """
    if scale == 1.0:
        return images
    h, w = images.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    resized = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
    if scale > 1.0:
        top, left = (size[0] - h) // 2, (size[1] - w) // 2
        return resized[..., top:top + h, left:left + w]
    return F.interpolate(resized, size=(h, w), mode="bilinear", align_corners=False)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


@dataclass(frozen=True)
class ImageAttack:
    """PGD on images: maximise ``-cos(f_I(x'), f_T(t))``."""

    model: torch.nn.Module
    pgd: PGD

    def __call__(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            text = self.model.encode_text(tokens)
        adv = self.pgd(images, lambda x: -_cosine(self.model.encode_image(x), text))
        return adv, tokens


def text_against(model: torch.nn.Module, substitution: TokenSubstitution, tokens: torch.Tensor,
                 image_features: torch.Tensor) -> torch.Tensor:
    """Tokens substituted to lower the cosine with ``image_features`` (B, D)."""
    objective = lambda toks, rows: -_cosine(model.encode_text(toks), image_features[rows])  # noqa: E731
    embedded = lambda emb, mask: -_cosine(model.encode_embedded(emb, mask), image_features)  # noqa: E731
    return substitution(tokens, objective, embedded, model.embedding.weight.detach())


@dataclass(frozen=True)
class TextAttack:
    """Greedy token substitution: maximise ``-cos(f_I(x), f_T(t'))``."""

    model: torch.nn.Module
    substitution: TokenSubstitution

    def __call__(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            image = self.model.encode_image(images)
        return images, text_against(self.model, self.substitution, tokens, image)


@dataclass(frozen=True)
class MultimodalAttack:
    """Text, then image guided by the adversarial text over augmented copies, then text again."""

    model: torch.nn.Module
    substitution: TokenSubstitution
    pgd: PGD
    scales: Sequence[float] = (1.0, 0.75, 1.25)
    refine_text: bool = True

    def __call__(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        with torch.no_grad():
            clean_image = model.encode_image(images)
        adv_tokens = text_against(model, self.substitution, tokens, clean_image)
        with torch.no_grad():
            guides = torch.stack([model.encode_text(tokens), model.encode_text(adv_tokens)])  # (2, B, D)

        def objective(x: torch.Tensor) -> torch.Tensor:
            total = 0.0
            for s in self.scales:
                total = total - _cosine(model.encode_image(rescale(x, s)).unsqueeze(0), guides).mean(0)
            return total / len(self.scales)

        adv_images = self.pgd(images, objective)
        if self.refine_text:
            with torch.no_grad():
                adv_image_features = model.encode_image(adv_images)
            adv_tokens = text_against(model, self.substitution, tokens, adv_image_features)
        return adv_images, adv_tokens
