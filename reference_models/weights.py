"""Reading and writing the committed weights (safetensors: no code is executed on load)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from mmcert_verified.errors import InputFileError


def save_weights(model: nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))


def load_weights(model: nn.Module, path: Path) -> None:
    """Load ``path`` into ``model`` (strict); a missing or mismatched file is an InputFileError."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise InputFileError(
            f"weights {path} not found: train them with python -m reference_models.train_av / train_road"
        )
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except Exception as exc:  # safetensors header errors, shape mismatches
        raise InputFileError(f"weights {path} do not fit {type(model).__name__}: {exc}") from None
