"""How the ablation-trained reference models are trained (paper Sec. 5.1): the recipe, and the recipes
of the audio-visual model (:data:`AV`, run by ``python -m reference_models.train_av``) and of the
road-segmentation model (:data:`ROAD`, ``python -m reference_models.train_road``).

Each recipe trains one model per method: MMCert's per-modality ablation or the baseline's pooled one.
The keep ranges cover the k each ensemble is certified with (``av_mmcert.toml`` / ``av_ablation.toml``,
``road_mmcert.toml`` / ``road_ablation.toml``):

* AV: frames 0-12.5% (0-4 of 32), audio 0-2.5% (0-10 of 400); pooled 0-20% (0-86 of 432);
* road (paper: 0-5% of each modality, or of the pooled list): RGB 0-6%, depth 0-3%; pooled 0-8%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from mmcert_verified.threat_model import Method
from mmcert_verified.pipeline.training import KeepRange

from . import av, av_data, road, road_data
from .av_model import AVNet
from .labelled_sets import LabelledSet
from .road_model import RoadNet
from .weights import training_main


@dataclass(frozen=True)
class AblationRecipe:
    """How one reference model is trained with random ablation (paper Sec. 5.1): the model class, its
    modalities, the keep ranges per method, the training data and the optimiser settings."""

    name: str
    model: Callable[[], nn.Module]
    modalities: tuple
    keep: dict
    data: Callable[[], LabelledSet]
    weights_path: Callable
    epochs: int
    batch: int
    lr: float
    seed: int = 0

    def train(self, method, log=print) -> nn.Module:
        """Deterministic: the global seed before the model is built, the loader's seed after it."""
        import torch

        from mmcert_verified.pipeline.training import AblationAugmentation, fit

        torch.manual_seed(self.seed)
        model = self.model()
        data = self.data()
        aug = AblationAugmentation(self.modalities, self.keep[method], method)
        fit(model, data.inputs(), data.labels, aug, epochs=self.epochs, batch_size=self.batch, lr=self.lr,
            seed=self.seed + 1, log=log)
        return model

    def main(self, doc: str, argv: list[str] | None = None) -> int:
        """The training script's command line (:func:`.weights.training_main`, ``--method``)."""
        return training_main(self.name, doc, self.train, self.weights_path, argv)


AV = AblationRecipe(
    "av", AVNet, av.MODALITIES,
    {Method.MMCERT: (KeepRange(0.0, 0.125), KeepRange(0.0, 0.025)), Method.ABLATION: (KeepRange(0.0, 0.2),)},
    av_data.train_set, av.weights_path, epochs=30, batch=128, lr=3e-3)
ROAD = AblationRecipe(
    "road", RoadNet, road.MODALITIES,
    {Method.MMCERT: (KeepRange(0.0, 0.06), KeepRange(0.0, 0.03)), Method.ABLATION: (KeepRange(0.0, 0.08),)},
    road_data.train_set, road.weights_path, epochs=12, batch=32, lr=3e-3)
