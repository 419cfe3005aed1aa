"""Reading and writing the committed weights (safetensors: no code is executed on load)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, Generic, TypeVar

import torch
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


def training_main(name: str, doc: str, train, weights_path, argv: list[str] | None = None,
                  variants=None, flag: str = "--method") -> int:
    """The command line shared by the training scripts: train each variant and save its weights.

    ``variants`` is the enum of variants (default: the threat model's Method); ``train(variant, log)`` returns
    the trained model; ``weights_path(variant)`` says where it goes.  Deterministic: one CPU thread, fixed
    seeds inside ``train``.
    """
    import argparse
    import time

    from mmcert_verified.threat_model import Method

    variants = Method if variants is None else variants
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(flag, dest="variant", choices=[v.value for v in variants], action="append",
                        help="train only this variant (repeatable; default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for variant in [variants(v) for v in (args.variant or [v.value for v in variants])]:
        start = time.perf_counter()
        model = train(variant, log=lambda s, v=variant: print(f"[{name} {v.value}] {s}", flush=True))
        path = weights_path(variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_weights(model, path)
        print(f"[{name} {variant.value}] wrote {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class CommittedWeights(Generic[M]):
    """The committed weight files of one reference model: ``weights/{prefix}_{variant}.safetensors`` next
    to this module, one per value of the enum ``variants`` (a threat-model Method, a TrainingKind)."""

    prefix: str
    variants: type[Enum]
    model: Callable[[], M]

    def path(self, variant: Enum | str) -> Path:
        """Where ``variant``'s weights are (``variant`` is a member of ``variants`` or its value)."""
        return Path(__file__).parent / "weights" / f"{self.prefix}_{self.variants(variant).value}.safetensors"

    def load(self, variant: Enum | str, device: torch.device | str = "cpu") -> M:
        """A fresh ``model()`` with ``variant``'s committed weights (strict, :func:`load_weights`), in eval
        mode on ``device``."""
        model = self.model()
        load_weights(model, self.path(variant))
        return model.to(torch.device(device)).eval()
