"""The image-text reference model: a small dual encoder on synthetic image-caption pairs.

Load it::

    from reference_models import image_text
    model = image_text.pretrained("standard")   # or "unimodal_at", "mat", "mat_plus"; eval mode, CPU
    data = image_text.test_set()                # 128 pairs, one per concept
    img = model.encode_image(data.images)       # (B, 3, 16, 16) float32 in [0, 1] -> (B, 32), unit norm
    txt = model.encode_text(data.tokens[:, 0])  # (B, 10) int64 token ids, 0 = padding -> (B, 32), unit norm
    sim = img @ txt.T                           # cosine similarities in [-1, 1]

``pretrained(kind, device)`` returns a :class:`~reference_models.image_text_model.DualEncoder`
in eval mode on ``device``, with the weights of ``weights/image_text_{kind}.safetensors``
(trained by ``python -m reference_models.train_image_text --kind KIND``).  The kinds
(:class:`mmcert_verified.attacks.adversarial_training.TrainingKind`): ``standard`` (contrastive),
``unimodal_at`` (TeCoA-style image PGD), ``mat`` (multimodal adversarial training), ``mat_plus``
(MAT with one-to-many augmentations).

The text encoder exposes its token embeddings: ``model.token_embeddings(tokens)`` (B, 10, 32) and
``model.encode_embedded(embeddings, tokens != 0)``; ``model.embedding.weight`` is the (42, 32)
table.  Vocabulary, captions and the meaning-preserving substitution table are in
:mod:`reference_models.image_text_data` (``VOCAB``, ``tokenize``, ``detokenize``,
``meaning_preserving``).  The attack budgets the table in ``docs/attacks.md`` uses are
:data:`IMAGE_EPS` (l_inf, on the [0, 1] scale) and :data:`TEXT_BUDGET` words.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmcert_verified.attacks.adversarial_training import TrainingKind

from .image_text_data import ImageTextPairs, meaning_preserving, test_set, train_set  # noqa: F401 (re-exported)
from .image_text_model import DualEncoder
from .weights import CommittedWeights

#: the l_inf image budget of the attacks in training and evaluation ([0, 1] pixel scale)
IMAGE_EPS = 4 / 255
#: the text budget: words substituted (meaning-preserving candidates only)
TEXT_BUDGET = 2

#: the committed weights, one file per TrainingKind: ``weights/image_text_{kind}.safetensors``
WEIGHTS = CommittedWeights("image_text", TrainingKind, DualEncoder)


def weights_path(kind: TrainingKind | str) -> Path:
    return WEIGHTS.path(kind)


def pretrained(kind: TrainingKind | str = TrainingKind.STANDARD, device: torch.device | str = "cpu") -> DualEncoder:
    """The committed dual encoder trained as ``kind``, in eval mode on ``device``."""
    return WEIGHTS.load(kind, device)
