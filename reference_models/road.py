"""The road-segmentation reference model: its modalities and weights.

Two weight files, one per sub-sampling scheme (paper Sec. 5.1):
``weights/road_mmcert.safetensors`` and ``weights/road_ablation.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmcert_verified.sampling import Modality
from mmcert_verified.threat_model import Method

from .road_data import HEIGHT, WIDTH
from .road_model import RoadNet
from .weights import CommittedWeights

#: RGB (elements = pixels, 3 channels kept together) and depth (elements = pixels)
MODALITIES = (
    Modality.image("rgb", 3, HEIGHT, WIDTH),
    Modality.image("depth", 1, HEIGHT, WIDTH),
)

#: the committed weights, one file per Method: ``weights/road_{method}.safetensors``
WEIGHTS = CommittedWeights("road", Method, RoadNet)


def weights_path(method: Method | str) -> Path:
    return WEIGHTS.path(method)


def pretrained(method: Method | str = Method.MMCERT, device: torch.device | str = "cpu") -> RoadNet:
    """The committed road model trained with ``method``'s ablation, in eval mode on ``device``."""
    return WEIGHTS.load(method, device)
