"""Counting votes on the fly (clause V1): never more than one batch of predictions held.

For classification the counts are ``N_l``, shape ``(C,)``; for segmentation
``N_l^j``, shape ``(C, *spatial)``.  Each batch of predictions is added to the
running counts on the model's device and dropped, so memory is
``O(C * pixels)`` whatever N is (the paper's code stored all N votes).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InvalidParameterError


#: integer score dtypes a model may return (argmax is well defined; no NaN or infinity possible)
_INTEGER_SCORES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)

#: up to this many classes the argmax is a strict-greater scan and counting is one pass per class
_SCAN_CLASSES = 8


def _scan_argmax(logits: torch.Tensor) -> torch.Tensor:
    """argmax over dim 1 as uint8, first maximum on ties: a scan with strict ``>`` (C <= _SCAN_CLASSES).

    The running index is updated arithmetically (index * (1 - better) + c * better), several times
    faster on the CPU than ``masked_fill_`` or ``where`` on uint8; the scores are finite (V1.1), so
    ``maximum`` is the running best.
    """
    best = logits[:, 0]
    index = torch.zeros(best.shape, dtype=torch.uint8, device=logits.device)
    for c in range(1, logits.shape[1]):
        value = logits[:, c]
        better = value > best
        index.mul_(~better).add_(better.view(torch.uint8), alpha=c)
        if c + 1 < logits.shape[1]:
            best = torch.maximum(best, value)
    return index


def _all_finite(scores: torch.Tensor) -> bool:
    """No NaN or infinity among float ``scores``: min and max finite (both reductions propagate NaN).

    One reduction and one host transfer (float64 holds every float dtype's values exactly).
    """
    if scores.numel() == 0:
        return True
    low, high = torch.stack(torch.aminmax(scores)).to(torch.float64).tolist()
    return math.isfinite(low) and math.isfinite(high)


def first_argmax(logits: torch.Tensor) -> torch.Tensor:
    """argmax over dim 1 (int64), the lowest index among equal maxima (clause V1).

    ``torch.argmax(dim=1)`` has these semantics but takes a slow path on the
    CPU for a short non-last dimension (40 ms for 100 x 2 x 32 x 96, against
    4 ms here); a scan with strict ``>`` keeps the first maximum by construction.
    """
    if logits.dim() == 2:  # the classes are the last dimension: argmax's fast path
        return logits.argmax(dim=1)
    if logits.shape[1] > _SCAN_CLASSES:
        return logits.movedim(1, -1).contiguous().argmax(dim=-1)
    return _scan_argmax(logits).to(torch.int64)


class VoteCounter:
    """Running vote counts of ``classes`` labels over ``spatial`` outputs (``()`` for classification)."""

    def __init__(self, classes: int, spatial: tuple[int, ...] = (), device: torch.device | str = "cpu") -> None:
        if classes < 1:
            raise InvalidParameterError(f"need at least one class, got {classes}")
        self.classes = int(classes)
        self.spatial = tuple(int(s) for s in spatial)
        self._counts = torch.zeros((self.classes, *self.spatial), dtype=torch.int64, device=torch.device(device))

    @property
    def total(self) -> int:
        """N so far (every output position has the same total)."""
        flat = self._counts.reshape(self.classes, -1)
        return int(flat[:, 0].sum()) if flat.shape[1] else 0

    def add_logits(self, logits: torch.Tensor, rows: int | None = None) -> None:
        """Count the argmax over dim 1 of ``(B, C, *spatial)`` scores (lowest index on ties, clause V1).

        Clause V1.1 (every vote counted once): the batch must have exactly
        ``rows`` rows when given (the number of sub-samples drawn), ``C``
        classes, the expected spatial shape and only finite scores; anything
        else is an :class:`InvalidParameterError`, never a miscount.
        """
        if not isinstance(logits, torch.Tensor):
            raise InvalidParameterError(f"the model returned {type(logits).__name__}, not a tensor of scores")
        if logits.dim() != 2 + len(self.spatial) or logits.shape[1] != self.classes or tuple(logits.shape[2:]) != self.spatial:
            raise InvalidParameterError(
                f"model output has shape {tuple(logits.shape)}, expected ({'B' if rows is None else rows}, {self.classes}"
                + "".join(f", {s}" for s in self.spatial) + ")"
            )
        if rows is not None and logits.shape[0] != rows:
            raise InvalidParameterError(
                f"the model returned {logits.shape[0]} rows for a batch of {rows} sub-samples: "
                f"each would not get its vote"
            )
        if logits.dtype.is_complex or not (logits.dtype.is_floating_point or logits.dtype in _INTEGER_SCORES):
            raise InvalidParameterError(f"the model's scores have dtype {logits.dtype}, not real numbers")
        if logits.dtype.is_floating_point and not _all_finite(logits):
            what = "NaN" if bool(torch.isnan(logits).any()) else "an infinite score"
            raise InvalidParameterError(f"the model's output contains {what}: its votes would be meaningless")
        if self.spatial and self.classes <= _SCAN_CLASSES:
            # small C: one pass per class over uint8 labels beats a bincount over (label, pixel) keys
            # (class 0 gets the rest: every output position has one vote per row)
            index = _scan_argmax(logits)
            rest = torch.full(self.spatial, logits.shape[0], dtype=torch.int64, device=self._counts.device)
            for c in range(1, self.classes):
                won = (index if self.classes == 2 else index == c).sum(dim=0, dtype=torch.int64)
                self._counts[c] += won.to(self._counts.device)
                rest -= won.to(self._counts.device)
            self._counts[0] += rest
            return
        self._add(first_argmax(logits))  # labels in [0, C) by construction

    def add_predictions(self, pred: torch.Tensor) -> None:
        """Count a batch of labels of shape ``(B, *spatial)``."""
        if tuple(pred.shape[1:]) != self.spatial:
            raise InvalidParameterError(f"predictions of shape {tuple(pred.shape)} do not match {self.spatial}")
        if pred.numel() == 0:
            return
        lo, hi = int(pred.min()), int(pred.max())
        if lo < 0 or hi >= self.classes:
            raise InvalidParameterError(f"predicted label {lo if lo < 0 else hi} outside [0, {self.classes - 1}]")
        self._add(pred)

    def _add(self, pred: torch.Tensor) -> None:
        """Add labels known to lie in [0, C) (shape ``(B, *spatial)``) to the counts."""
        pred = pred.to(device=self._counts.device, dtype=torch.int64)
        if not self.spatial:
            self._counts += torch.bincount(pred, minlength=self.classes)
            return
        # one bincount over (label, position) keys: N_l^j lands at l * P + j
        positions = self._counts[0].numel()
        keys = pred.reshape(pred.shape[0], positions) * positions + torch.arange(positions, device=pred.device)
        self._counts += torch.bincount(keys.reshape(-1), minlength=self.classes * positions).view(self._counts.shape)

    def counts(self) -> np.ndarray:
        """The counts as an int64 numpy array of shape ``(C, *spatial)``."""
        return self._counts.cpu().numpy().copy()
