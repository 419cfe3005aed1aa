"""What a modality's basic elements are and how an ablated element is encoded (clause SAMP.2).

A modality is one tensor per input (no batch dimension in its declared
``shape``).  Its *basic elements* -- the units the attacker modifies, adds or
deletes and the units the sub-sampler keeps or ablates -- are the positions
along ``element_dims``: every other dimension travels with its element.  So

* an RGB image ``(3, H, W)`` has ``H * W`` elements (pixels), its three
  channels kept or ablated together (``element_dims=(1, 2)``);
* a video ``(F, C, H, W)`` has ``F`` elements (frames);
* mono audio ``(1, L)`` has ``L`` elements (samples, the paper's "audio frames");
* a point cloud ``(P, 3)`` has ``P`` elements (points).

Elements are numbered in row-major order over ``element_dims``; that is the
order the sub-sampler's keep masks use.

An ablated element is written as ``fill`` in every one of its values and,
when ``mask_channel`` is set (the default), a 0/1 *mask channel* is appended
along ``channel_dim`` (1 = kept, 0 = ablated), so an ablated element cannot
be confused with a real element whose values happen to equal ``fill``.  The
paper's code writes zeros and no mask (spec/deviations.md); that encoding is
still available (``Ablation(fill=0.0, mask_channel=False)``) for models
trained that way.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch

from ..errors import InvalidParameterError


@dataclass(frozen=True)
class Ablation:
    """How an ablated element is written (clause SAMP.2): a fill value and an optional mask channel."""

    fill: float = 0.0
    mask_channel: bool = True

    def __post_init__(self) -> None:
        try:
            fill = float(self.fill)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"ablation fill must be a number, got {self.fill!r}") from None
        if not math.isfinite(fill):
            raise InvalidParameterError(f"ablation fill must be finite, got {self.fill!r}")
        object.__setattr__(self, "fill", fill)
        object.__setattr__(self, "mask_channel", bool(self.mask_channel))


def _dims(values, what: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what} must be a list of integers, got {values!r}") from None
    return out


@dataclass(frozen=True)
class Modality:
    """One input modality: its per-input shape, its basic elements and its ablation encoding.

    ``shape`` excludes the batch dimension.  ``element_dims`` index ``shape``
    and enumerate the basic elements (clause S1's ``m_i = [m_i^1 .. m_i^{n_i}]``);
    ``channel_dim`` (not an element dimension) is where the mask channel is
    appended, or None when the modality has no channel dimension, in which
    case ``ablation.mask_channel`` must be False.
    """

    name: str
    shape: tuple[int, ...]
    element_dims: tuple[int, ...]
    channel_dim: int | None = None
    ablation: Ablation = field(default_factory=Ablation)

    def __post_init__(self) -> None:
        shape = _dims(self.shape, f"modality {self.name!r} shape")
        if not shape or any(s <= 0 for s in shape):
            raise InvalidParameterError(f"modality {self.name!r}: shape must be positive sizes, got {shape}")
        dims = _dims(self.element_dims, f"modality {self.name!r} element_dims")
        if not dims:
            raise InvalidParameterError(f"modality {self.name!r}: element_dims must not be empty")
        if list(dims) != sorted(set(dims)) or dims[0] < 0 or dims[-1] >= len(shape):
            raise InvalidParameterError(
                f"modality {self.name!r}: element_dims {dims} must be distinct, increasing dimensions "
                f"of a shape with {len(shape)} dimensions"
            )
        channel = self.channel_dim
        if channel is not None:
            channel = int(channel)
            if not 0 <= channel < len(shape) or channel in dims:
                raise InvalidParameterError(
                    f"modality {self.name!r}: channel_dim {channel} must be a dimension of the shape "
                    f"that is not an element dimension"
                )
        ablation = self.ablation if isinstance(self.ablation, Ablation) else Ablation(**dict(self.ablation))
        if ablation.mask_channel and channel is None:
            raise InvalidParameterError(
                f"modality {self.name!r}: a mask channel needs a channel_dim to be appended along"
            )
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "element_dims", dims)
        object.__setattr__(self, "channel_dim", channel)
        object.__setattr__(self, "ablation", ablation)

    # ------------------------------------------------------------------ layouts

    @classmethod
    def image(cls, name: str, channels: int, height: int, width: int, ablation: Ablation | None = None) -> "Modality":
        """An image ``(C, H, W)`` whose elements are pixels, channels kept together."""
        return cls(name, (channels, height, width), (1, 2), 0, ablation or Ablation())

    @classmethod
    def frames(cls, name: str, count: int, frame_shape: tuple[int, ...], ablation: Ablation | None = None) -> "Modality":
        """A sequence ``(F, C, ...)`` whose elements are its F frames; the mask goes along C."""
        return cls(name, (count, *frame_shape), (0,), 1, ablation or Ablation())

    @classmethod
    def sequence(cls, name: str, channels: int, length: int, ablation: Ablation | None = None) -> "Modality":
        """A signal ``(C, L)`` (e.g. audio) whose elements are its L samples."""
        return cls(name, (channels, length), (1,), 0, ablation or Ablation())

    @classmethod
    def points(cls, name: str, count: int, features: int, ablation: Ablation | None = None) -> "Modality":
        """A point cloud ``(P, F)`` whose elements are its P points."""
        return cls(name, (count, features), (0,), 1, ablation or Ablation())

    # ------------------------------------------------------------------ sizes

    @property
    def n(self) -> int:
        """n_i: the number of basic elements."""
        return math.prod(self.shape[d] for d in self.element_dims)

    @property
    def encoded_shape(self) -> tuple[int, ...]:
        """The per-input shape the model receives (one more channel with a mask channel)."""
        if not self.ablation.mask_channel:
            return self.shape
        out = list(self.shape)
        out[self.channel_dim] += 1  # type: ignore[index]
        return tuple(out)

    @functools.cached_property
    def _broadcast_shape(self) -> tuple[int, ...]:
        return tuple(s if d in self.element_dims else 1 for d, s in enumerate(self.shape))

    # ------------------------------------------------------------------ encoding

    def check_batch(self, x: torch.Tensor) -> None:
        """Raise InvalidParameterError unless ``x`` has shape ``(B, *shape)``."""
        if tuple(x.shape[1:]) != self.shape or x.dim() != len(self.shape) + 1:
            raise InvalidParameterError(
                f"modality {self.name!r} expects a batch of shape (B, {', '.join(map(str, self.shape))}), "
                f"got {tuple(x.shape)}"
            )

    def encode(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Clause SAMP.2: write a batch with ablated elements replaced by ``fill`` (+ mask channel).

        ``x`` has shape ``(B, *shape)`` (or ``shape``, broadcast over the batch
        of ``keep``); ``keep`` is a ``(B, n)`` boolean mask.  Kept elements
        are copied unchanged; every value of an ablated element becomes
        ``fill``; the mask channel holds 1.0 for kept and 0.0 for ablated
        elements.
        """
        if keep.dim() != 2 or keep.shape[1] != self.n:
            raise InvalidParameterError(
                f"modality {self.name!r}: keep mask must have shape (B, {self.n}), got {tuple(keep.shape)}"
            )
        batch = keep.shape[0]
        if x.dim() == len(self.shape):
            x = x.unsqueeze(0)
        if x.shape[0] == 1 and batch != 1:
            x = x.expand(batch, *self.shape)
        self.check_batch(x)
        if x.shape[0] != batch:
            raise InvalidParameterError(
                f"modality {self.name!r}: {x.shape[0]} inputs but {batch} keep masks"
            )
        keep_b = keep.reshape(batch, *self._broadcast_shape)
        fill = self.ablation.fill
        if not self.ablation.mask_channel:
            out = torch.empty((batch, *self.shape), dtype=x.dtype, device=x.device)
            _select(keep_b, x, fill, out)
            return out
        # write values and mask straight into the output (no concatenation copy)
        dim = 1 + self.channel_dim  # type: ignore[operator]
        out = torch.empty((batch, *self.encoded_shape), dtype=x.dtype, device=x.device)
        channels = self.shape[self.channel_dim]  # type: ignore[index]
        m = _select(keep_b, x, fill, out.narrow(dim, 0, channels))
        mask = out.narrow(dim, channels, 1)
        if m is None:
            mask.copy_(keep_b)
        else:  # the bits of 1.0 where kept, 0 elsewhere: one broadcast op whatever the element's size
            bits = mask.view(m.dtype)
            torch.bitwise_and(m.expand_as(bits), _fill_bits((1.0).hex(), x.dtype, m.dtype), out=bits)
        return out


#: floating dtypes whose values :func:`_select` moves as integers of the same width
_BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}


@functools.lru_cache(maxsize=64)
def _fill_bits(fill_hex: str, dtype: torch.dtype, ints: torch.dtype) -> int:
    """The bit pattern of the fill ``float.fromhex(fill_hex)`` in ``dtype``, as an integer of the same width.

    Keyed by the hex text, not the float: -0.0 == 0.0 (and hashes alike) but has other bits.
    """
    return int(torch.tensor(float.fromhex(fill_hex), dtype=dtype).view(ints))


def _select(keep: torch.Tensor, x: torch.Tensor, fill: float, out: torch.Tensor) -> torch.Tensor | None:
    """``out = where(keep, x, fill)``, bit for bit (clause SAMP.2), into ``out`` (which may be a view).

    Floats move as integers of their width: (bits(x) & m) | (bits(fill) & ~m) with m all ones where
    kept -- exactly ``torch.where``'s values (NaN, infinities and -0.0 included), about 3x faster on
    the CPU for a broadcast input; other dtypes go through ``torch.where``.  Returns m (None on the
    ``where`` path).
    """
    ints = _BITS.get(x.element_size()) if x.dtype.is_floating_point else None
    if ints is None:
        torch.where(keep, x, torch.tensor(fill, dtype=x.dtype, device=x.device), out=out)
        return None
    m = keep.to(ints).neg_()
    bits = out.view(ints)
    torch.bitwise_and(x.view(ints), m, out=bits)
    fill_bits = _fill_bits(float(fill).hex(), x.dtype, ints)
    if fill_bits:
        bits.bitwise_or_(torch.bitwise_and(torch.bitwise_not(m), fill_bits))
    return m
