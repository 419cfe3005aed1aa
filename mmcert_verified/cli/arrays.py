"""The one ``.npy`` reader of the CLI: never unpickles, optionally size-limited, each failure one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputFileError


def load_npy(path: str, flag: str, limit: int | None = None) -> np.ndarray:
    """The single array stored in ``path`` (``flag`` names the option in errors).

    Guarantee: ``allow_pickle=False`` (a pickled object array is refused, never executed); a missing or
    unreadable file, a file over ``limit`` bytes, or an ``.npz`` archive raises :class:`InputFileError`.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputFileError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None
    if not p.is_file():
        raise InputFileError(f"{flag} {path}: not a file")
    if limit is not None and size > limit:
        raise InputFileError(f"{flag} {path}: larger than {limit} bytes")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputFileError(f"{flag} {path}: not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise InputFileError(f"{flag} {path}: holds an archive, not one array")
    return arr
