"""Reading PNG images into tensors and fitting them to a model's shape (Pillow only).

:class:`Fit` says how an image of another size is brought to ``(H, W)``:

* ``resize``: scaled to exactly ``(H, W)`` (aspect ratio not kept): bilinear for colour images,
  nearest-neighbour for labels and depth (no label or depth value is ever invented by blending;
  a missing depth of 0 stays 0);
* ``crop``: a window of ``(H, W)`` at the bottom, centred horizontally (for road scenes the road is
  at the bottom), padded with zeros where the image is smaller.
"""

from __future__ import annotations

import enum
from pathlib import Path

import numpy as np

from ..errors import InputFileError, InvalidParameterError


class Fit(str, enum.Enum):
    """How an image is brought to the model's ``(H, W)`` (see the module docstring)."""

    RESIZE = "resize"
    CROP = "crop"


def open_image(path: Path):
    """A Pillow image, fully loaded; a missing or unreadable file is one :class:`InputFileError`."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except FileNotFoundError:
        raise InputFileError(f"image {path} not found") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputFileError(f"cannot read image {path}: {exc}") from None
    return img


def read_rgb(path: str | Path) -> np.ndarray:
    """An image as uint8 ``(H, W, 3)`` (palette, grey or RGBA images converted to RGB)."""
    return np.asarray(open_image(Path(path)).convert("RGB"))


def read_grey(path: str | Path) -> np.ndarray:
    """An image as uint8 ``(H, W)`` (converted to 8-bit grey)."""
    return np.asarray(open_image(Path(path)).convert("L"))


def read_u16(path: str | Path) -> np.ndarray:
    """A single-channel 16-bit PNG (e.g. a KITTI depth map) as uint16 ``(H, W)``, values unchanged.

    8-bit grey images are accepted too (values 0..255); colour images are refused.
    """
    path = Path(path)
    img = open_image(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img).astype(np.int64)
    elif img.mode == "L":
        arr = np.asarray(img).astype(np.int64)
    else:
        raise InputFileError(f"{path}: expected a single-channel 16-bit depth PNG, got mode {img.mode}")
    if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
        raise InputFileError(f"{path}: depth values outside 0..65535")
    return arr.astype(np.uint16)


def check_size(size, where: str) -> tuple[int, int]:
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
        raise InvalidParameterError(f"{where}: size must be [height, width] of positive integers, got {size!r}")
    return int(size[0]), int(size[1])


def fit(array: np.ndarray, size: tuple[int, int], how: Fit, *, smooth: bool) -> np.ndarray:
    """``array`` ``(H0, W0)`` or ``(H0, W0, C)`` brought to ``size`` (see :class:`Fit`); dtype kept.

    ``smooth`` picks bilinear (colour) instead of nearest-neighbour (labels, depth) for ``resize``.
    """
    from PIL import Image

    h, w = size
    if array.shape[:2] == (h, w):
        return array
    if Fit(how) is Fit.CROP:
        out = np.zeros((h, w, *array.shape[2:]), dtype=array.dtype)
        h0, w0 = array.shape[:2]
        top = max(h0 - h, 0)
        left = max((w0 - w) // 2, 0)
        window = array[top:top + h, left:left + w]
        dst_top = h - window.shape[0]
        dst_left = (w - window.shape[1]) // 2
        out[dst_top:dst_top + window.shape[0], dst_left:dst_left + window.shape[1]] = window
        return out
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    if array.dtype == np.uint8:
        return np.asarray(Image.fromarray(array).resize((w, h), resample))
    if array.ndim != 2:
        raise InvalidParameterError(f"cannot resize an array of shape {array.shape} and dtype {array.dtype}")
    # float / 16-bit single channel: Pillow's 32-bit float mode keeps the values exactly under NEAREST
    resized = np.asarray(Image.fromarray(array.astype(np.float32)).resize((w, h), resample))
    return resized.astype(array.dtype) if not smooth else resized


__all__ = ["Fit", "check_size", "fit", "open_image", "read_grey", "read_rgb", "read_u16"]
