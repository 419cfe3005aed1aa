"""Config writers for the end-to-end run tests: the tiny ``e2e_toy.py`` configs (classification on two
1-D modalities, segmentation on an RGB + depth scene) with each test's own ``[certify]`` and ``[budgets]``."""

from __future__ import annotations

from pathlib import Path

from config_text import modality, run_config, write_config  # noqa: F401 (write_config re-exported)

TOY = Path(__file__).resolve().with_name("e2e_toy.py")


def classification_config(count: int, certify: str, budgets: str) -> str:
    """TOML for ``e2e_toy``'s 3-class classifier on ``count`` clips (modalities a: 12, b: 30 elements);
    ``certify`` and ``budgets`` are the bodies of those tables (one ``key = value`` a line)."""
    return run_config("classification", 3, f"{TOY.as_posix()}:classifier", f"{TOY.as_posix()}:clips",
                      f"count = {count}", [modality("a", [1, 12], [1]), modality("b", [1, 30], [1])], certify, budgets)


def segmentation_config(count: int, certify: str, budgets: str) -> str:
    """TOML for ``e2e_toy``'s 2-class segmenter on ``count`` 6 x 8 scenes (rgb, depth: 48 elements each)."""
    return run_config("segmentation", 2, f"{TOY.as_posix()}:segmenter", f"{TOY.as_posix()}:scenes",
                      f"count = {count}", [modality("rgb", [3, 6, 8], [1, 2]), modality("depth", [1, 6, 8], [1, 2])],
                      certify, budgets)
