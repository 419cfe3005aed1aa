"""Image-text retrieval recall, clean and under attack (spec ``spec/attacks.md``, clause ATK.4).

The gallery pairs image ``i`` with caption ``i`` and nothing else (one-to-one ground truth).
Image->text R@1 is the fraction of images whose most similar caption is their own; text->image
R@1 the fraction of captions whose most similar image is their own.  Ties count as misses (the
argmax must be unique and correct), so a constant model scores 0, not 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Recall:
    image_to_text: float
    text_to_image: float


def recall_at_1(image: torch.Tensor, text: torch.Tensor) -> Recall:
    """R@1 both ways for unit-norm features ``image`` (E, D) and ``text`` (E, D), pair i <-> i."""
    sim = image @ text.T
    diag = sim.diagonal()
    n = sim.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=sim.device)
    i2t = ((sim < diag.unsqueeze(1)) | ~off).all(dim=1)
    t2i = ((sim < diag.unsqueeze(0)) | ~off).all(dim=0)
    return Recall(float(i2t.float().mean()), float(t2i.float().mean()))


def attacked_recall(model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor,
                    attack: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None,
                    batch_size: int = 256) -> Recall:
    """R@1 of the gallery after ``attack`` (None: clean) perturbs every pair, in batches."""
    feats_i, feats_t = [], []
    for s in range(0, images.shape[0], batch_size):
        x, t = images[s:s + batch_size], tokens[s:s + batch_size]
        if attack is not None:
            x, t = attack(x, t)
        with torch.no_grad():
            feats_i.append(model.encode_image(x))
            feats_t.append(model.encode_text(t))
    return recall_at_1(torch.cat(feats_i), torch.cat(feats_t))
