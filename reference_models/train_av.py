"""Train the audio-visual reference models: ``python -m reference_models.train_av``.

Trains two AVNets on 6000 synthetic clips (:mod:`.av_data`), one with
MMCert's per-modality ablation and one with the baseline's pooled ablation
(paper Sec. 5.1), and writes ``weights/av_mmcert.safetensors`` and
``weights/av_ablation.safetensors``.  Deterministic: fixed seeds, one CPU
thread.  About a minute per model on one core.

Keep ranges cover the k each ensemble is certified with (see
``av_mmcert.toml`` / ``av_ablation.toml``): frames 0-12.5% (0-4 of 32),
audio 0-2.5% (0-10 of 400); pooled 0-20% (0-86 of 432).
"""

from __future__ import annotations

from .ablation_training import AV as RECIPE  # the recipe: model, keep ranges, data, optimiser settings

train = RECIPE.train

if __name__ == "__main__":
    raise SystemExit(RECIPE.main(__doc__))
