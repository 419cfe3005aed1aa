"""Train the road-segmentation reference models: ``python -m reference_models.train_road``.

Trains two RoadNets on 2000 synthetic scenes (:mod:`.road_data`), one with
MMCert's per-modality ablation and one with the baseline's pooled ablation
(paper Sec. 5.1), and writes ``weights/road_mmcert.safetensors`` and
``weights/road_ablation.safetensors``.  Deterministic: fixed seeds, one CPU
thread.  About two minutes per model on one core.

Keep ranges (paper: 0-5% of each modality, or of the pooled list): RGB
0-6%, depth 0-3%; pooled 0-8%.  They cover the k each ensemble is
certified with (see ``road_mmcert.toml`` / ``road_ablation.toml``).
"""

from __future__ import annotations

from .ablation_training import ROAD as RECIPE  # the recipe: model, keep ranges, data, optimiser settings

train = RECIPE.train

if __name__ == "__main__":
    raise SystemExit(RECIPE.main(__doc__))
