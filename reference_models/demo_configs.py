"""The run configs of the demo, committed beside the models (``*.toml`` in this package)."""

from __future__ import annotations

from pathlib import Path

#: MMCert and the baseline for each task, in the demo's order
CONFIG_NAMES = ("av_mmcert", "av_ablation", "road_mmcert", "road_ablation")


def config_path(name: str) -> Path:
    return Path(__file__).parent / f"{name}.toml"
