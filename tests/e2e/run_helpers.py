"""Config writers for the end-to-end run tests: the tiny ``e2e_toy.py`` configs (classification on two
1-D modalities, segmentation on an RGB + depth scene) with each test's own ``[certify]`` and ``[budgets]``."""

from __future__ import annotations

from pathlib import Path

TOY = Path(__file__).resolve().with_name("e2e_toy.py")


def classification_config(count: int, certify: str, budgets: str) -> str:
    """TOML for ``e2e_toy``'s 3-class classifier on ``count`` clips (modalities a: 12, b: 30 elements);
    ``certify`` and ``budgets`` are the bodies of those tables (one ``key = value`` a line)."""
    return f"""
task = "classification"
classes = 3
[model]
factory = "{TOY.as_posix()}:classifier"
[data]
factory = "{TOY.as_posix()}:clips"
kwargs = {{ count = {count} }}
[[modalities]]
name = "a"
shape = [1, 12]
element_dims = [1]
channel_dim = 0
[[modalities]]
name = "b"
shape = [1, 30]
element_dims = [1]
channel_dim = 0
[certify]
{certify.strip()}
[budgets]
{budgets.strip()}
"""


def segmentation_config(count: int, certify: str, budgets: str) -> str:
    """TOML for ``e2e_toy``'s 2-class segmenter on ``count`` 6 x 8 scenes (rgb, depth: 48 elements each)."""
    return f"""
task = "segmentation"
classes = 2
[model]
factory = "{TOY.as_posix()}:segmenter"
[data]
factory = "{TOY.as_posix()}:scenes"
kwargs = {{ count = {count} }}
[[modalities]]
name = "rgb"
shape = [3, 6, 8]
element_dims = [1, 2]
channel_dim = 0
[[modalities]]
name = "depth"
shape = [1, 6, 8]
element_dims = [1, 2]
channel_dim = 0
[certify]
{certify.strip()}
[budgets]
{budgets.strip()}
"""


def write_config(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    """``text`` written to ``tmp_path / name``; returns the path."""
    path = tmp_path / name
    path.write_text(text)
    return path
