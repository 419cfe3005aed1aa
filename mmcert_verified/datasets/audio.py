"""WAV audio with the standard library's ``wave``: read, mix to mono, resample, fit to a length.

* samples are scaled to [-1, 1): 8-bit unsigned ``(v - 128) / 128``, 16/24/32-bit signed
  ``v / 2^(bits - 1)``; channels are averaged (mono);
* resampling (when ``sample_rate`` differs from the file's) is polyphase with an anti-aliasing
  filter (``scipy.signal.resample_poly`` with the exact ratio, e.g. 48 kHz -> 22.05 kHz is
  147 / 320);
* fitting keeps the first ``samples`` samples and pads with zeros (silence) when the clip is shorter.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputFileError


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(mono float32 samples in [-1, 1), sample rate) of a PCM WAV file."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(frames)
    except FileNotFoundError:
        raise InputFileError(f"audio {path} not found") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise InputFileError(f"cannot read {path} as a PCM WAV file: {exc}") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width in (2, 4):
        data = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float64) / float(1 << (8 * width - 1))
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    else:
        raise InputFileError(f"{path}: {8 * width}-bit samples are not supported")
    if data.size % channels:
        raise InputFileError(f"{path}: truncated audio data")
    return data.reshape(-1, channels).mean(axis=1).astype(np.float32), int(rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``rate`` Hz resampled to ``target`` Hz (see the module docstring)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    ratio = Fraction(int(target), int(rate))
    return resample_poly(samples.astype(np.float64), ratio.numerator, ratio.denominator).astype(np.float32)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` samples, zero-padded at the end when there are fewer."""
    out = np.zeros(int(length), dtype=np.float32)
    take = min(int(length), samples.shape[0])
    out[:take] = samples[:take]
    return out


__all__ = ["fit_length", "read_wav", "resample"]
