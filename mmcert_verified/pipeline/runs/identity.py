"""What a run's results depend on: the device, its determinism settings, the model and the data (RUN.6).

A run file's ``identity`` (and its SHA-256, which resume and merge compare)
records everything that changes an input's votes and nothing that does not:

* the config as written, less ``certify.device`` (replaced by the device
  *type*: ``cuda:0`` and ``cuda:1`` of one GPU model are the same run) and,
  on the CPU, less ``certify.batch_size`` (CPU votes do not depend on it,
  clause SAMP.3; on CUDA they may, so it stays);
* the torch version (it owns the random streams) and the sampling scheme (``sampling.SAMPLING_SCHEME``,
  clause SAMP.4: how the stream's numbers become keep masks; a new scheme gives other votes per seed);
* the model's weights (:func:`model_digest`) and the data set's size and
  first input (``data_probe_sha256``, a cheap check that the data did not
  change; every result line also carries its own input's SHA-256);
* on CUDA: the GPU model and compute capability (torch.rand's launch policy
  depends on them) and the determinism settings this module sets.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from ...errors import InvalidParameterError
from ...sampling.subsample import SAMPLING_SCHEME


@dataclass(frozen=True)
class Runtime:
    """The device facts of a run (clause RUN.6)."""

    device: str  # as torch names it (e.g. "cuda:1"): where the run computes, not part of the identity
    device_type: str
    torch_version: str
    gpu: str | None = None
    capability: tuple[int, int] | None = None
    determinism: dict | None = None

    def identity(self) -> dict:
        out = {"device_type": self.device_type, "torch": self.torch_version}
        if self.device_type == "cuda":
            out["gpu"] = self.gpu
            out["capability"] = list(self.capability or ())
            out["determinism"] = dict(self.determinism or {})
        return out


def resolve_device(text: str) -> Runtime:
    """Clause RUN.6: check the device exists here and, on CUDA, make kernels deterministic.

    Raises :class:`InvalidParameterError` for a malformed name, a CUDA
    device on a build or machine without one, or an index out of range.
    """
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise InvalidParameterError(f"device {text!r} is not a device name torch knows ({exc})") from None
    version = str(torch.__version__)
    if device.type == "cpu":
        return Runtime(str(device), "cpu", version)
    if device.type == "cuda":
        if torch.version.cuda is None:
            raise InvalidParameterError(f"device {text!r}: this torch build ({version}) has no CUDA support")
        if not torch.cuda.is_available():
            raise InvalidParameterError(f"device {text!r}: no CUDA GPU is visible on this machine")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise InvalidParameterError(
                f"device {text!r}: only {torch.cuda.device_count()} CUDA device(s) here (cuda:0 ...)"
            )
        return Runtime(f"cuda:{index}", "cuda", version, torch.cuda.get_device_name(index),
                       tuple(torch.cuda.get_device_capability(index)), set_determinism())
    if device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InvalidParameterError(f"device {text!r}: MPS is not available on this machine")
        return Runtime(str(device), "mps", version)
    raise InvalidParameterError(f"device {text!r}: mmcert runs support cpu, cuda and mps devices")


def set_determinism() -> dict:
    """Make CUDA kernels deterministic (cuDNN deterministic, no autotuning, deterministic algorithms).

    ``CUBLAS_WORKSPACE_CONFIG`` is set (if unset) as cuBLAS requires for
    deterministic results; ``warn_only`` keeps ops without a deterministic
    kernel usable (they warn).  Returns the settings, which the identity records.
    """
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    return {
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def tensor_digest(tensors) -> str:
    """SHA-256 over tensors (dtype, shape and bytes, in order), on the CPU."""
    import torch

    h = hashlib.sha256()
    for x in tensors:
        t = torch.as_tensor(x).detach().cpu().contiguous()
        h.update(f"{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def model_digest(model) -> str:
    """SHA-256 of a model's state dict (names, dtypes, shapes and bytes, in key order)."""
    import torch

    h = hashlib.sha256()
    state = model.state_dict() if hasattr(model, "state_dict") else {}
    for name in sorted(state):
        value = state[name]
        h.update(name.encode() + b"=")
        if isinstance(value, torch.Tensor):
            h.update(tensor_digest([value]).encode())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def identity(config_json: dict, runtime: Runtime, model_sha256: str, inputs: int, probe_sha256: str) -> dict:
    """Clause RUN.6: the dict whose SHA-256 resume and merge compare (see the module docstring)."""
    doc = json.loads(json.dumps(config_json))
    cert = doc["certify"]
    cert.pop("device", None)
    if runtime.device_type == "cpu":
        cert.pop("batch_size", None)
    doc["runtime"] = runtime.identity()
    doc["sampling"] = SAMPLING_SCHEME
    doc["model_sha256"] = model_sha256
    doc["data"] = {**doc["data"], "inputs": inputs, "data_probe_sha256": probe_sha256}
    return doc


def identity_digest(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


__all__ = ["Runtime", "identity", "identity_digest", "model_digest", "resolve_device", "set_determinism",
           "tensor_digest"]
