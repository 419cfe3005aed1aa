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


def training_main(name: str, doc: str, train, weights_path, argv: list[str] | None = None) -> int:
    """The command line shared by the training scripts: train each method's variant and save its weights.

    ``train(method, log)`` returns the trained model; ``weights_path(method)`` says where it goes.
    Deterministic: one CPU thread, fixed seeds inside ``train``.
    """
    import argparse
    import time

    import torch

    from mmcert_verified.threat_model import Method

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--method", choices=[m.value for m in Method], action="append",
                        help="train only this variant (repeatable; default: both)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for method in [Method(m) for m in (args.method or [m.value for m in Method])]:
        start = time.perf_counter()
        model = train(method, log=lambda s, m=method: print(f"[{name} {m.value}] {s}", flush=True))
        path = weights_path(method)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_weights(model, path)
        print(f"[{name} {method.value}] wrote {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0
