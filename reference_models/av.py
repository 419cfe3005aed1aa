"""The audio-visual reference model: its modalities, certification settings and weights.

Two weight files, one per sub-sampling scheme, as in the paper (each base
model is trained with the ablation its ensemble uses):
``weights/av_mmcert.safetensors`` and ``weights/av_ablation.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmcert_verified.sampling import Modality
from mmcert_verified.threat_model import Method

from .av_data import AUDIO, FRAMES, SIDE
from .av_model import AVNet
from .weights import CommittedWeights

#: the two modalities: 32 frames (elements = frames), 400 audio samples (elements = samples)
MODALITIES = (
    Modality.frames("video", FRAMES, (1, SIDE, SIDE)),
    Modality.sequence("audio", 1, AUDIO),
)

#: the committed weights, one file per Method: ``weights/av_{method}.safetensors``
WEIGHTS = CommittedWeights("av", Method, AVNet)


def weights_path(method: Method | str) -> Path:
    return WEIGHTS.path(method)


def pretrained(method: Method | str = Method.MMCERT, device: torch.device | str = "cpu") -> AVNet:
    """The committed AV model trained with ``method``'s ablation, in eval mode on ``device``."""
    return WEIGHTS.load(method, device)
