"""Train the image-text reference models: ``python -m reference_models.train_image_text [--kind KIND]``.

Four dual encoders (:mod:`.image_text_model`) on 2048 synthetic pairs (:mod:`.image_text_data`),
one per :class:`~mmcert_verified.attacks.adversarial_training.TrainingKind`, written to
``weights/image_text_{kind}.safetensors``:

* ``standard``: symmetric InfoNCE on caption 0 of each image;
* ``unimodal_at``: TeCoA-style, image PGD (l_inf, eps 4/255, 3 steps of eps/2, random start) against
  the clean caption;
* ``mat``: the multimodal attack (2 meaning-preserving word substitutions against the image, then
  image PGD as above guided by the clean and adversarial captions over 3 rescaled views);
* ``mat_plus``: MAT on 1:N pairs: a random one of the 4 captions of each image every epoch, and an
  in-distribution image augmentation (a shift of at most one pixel, as the generator's own position
  jitter, and a brightness gain in [0.92, 1.08]).

Deterministic: fixed seeds, one CPU thread; the same command writes the same bytes on the same CPU kernels
(torch picks them by CPU capability: the committed weights were trained with AVX-512).
"""

from __future__ import annotations

import torch

from mmcert_verified.attacks.adversarial_training import Recipe, TrainingKind, fit_contrastive
from mmcert_verified.attacks.multimodal import ImageAttack, MultimodalAttack
from mmcert_verified.attacks.pgd import PGD
from mmcert_verified.attacks.text import Guide, TokenSubstitution

from . import image_text
from .image_text_data import meaning_preserving, train_set
from .image_text_model import DualEncoder
from .weights import training_main

RECIPE = Recipe(epochs=30, batch_size=128, lr=3e-3, temperature=0.1, seed=0)
TRAIN_STEPS = 3


def shift_and_gain(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by (dy, dx) in {-1, 0, 1}^2 (edge-replicated) and scale it by U(0.92, 1.08)."""
    b = images.shape[0]
    shifts = torch.randint(-1, 2, (b, 2), generator=gen)
    gain = 0.92 + 0.16 * torch.rand((b, 1, 1, 1), generator=gen)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1), mode="replicate")
    h, w = images.shape[-2:]
    out = torch.stack([padded[i, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for i, (dy, dx) in enumerate(shifts.tolist())])
    return (out * gain).clamp(0.0, 1.0)


def perturbation(kind: TrainingKind, model: DualEncoder):
    eps = image_text.IMAGE_EPS
    if kind is TrainingKind.STANDARD:
        return None
    substitution = TokenSubstitution(meaning_preserving(), budget=image_text.TEXT_BUDGET, guide=Guide.LOSS)

    def perturb(x, t, seed):
        pgd = PGD(eps=eps, alpha=eps / 2, steps=TRAIN_STEPS, seed=seed)
        if kind is TrainingKind.UNIMODAL_AT:
            return ImageAttack(model, pgd)(x, t)
        return MultimodalAttack(model, substitution, pgd, refine_text=False)(x, t)

    return perturb


def train(kind: TrainingKind, log=print) -> DualEncoder:
    torch.manual_seed(RECIPE.seed)
    model = DualEncoder()
    data = train_set()
    plus = kind is TrainingKind.MAT_PLUS
    return fit_contrastive(model, data.images, data.tokens, data.concepts, RECIPE,
                           perturb=perturbation(kind, model), one_to_many=plus,
                           augment=shift_and_gain if plus else None, log=log)


def main(argv: list[str] | None = None) -> int:
    return training_main("image_text", __doc__, train, image_text.weights_path, argv, variants=TrainingKind, flag="--kind")


if __name__ == "__main__":
    raise SystemExit(main())
