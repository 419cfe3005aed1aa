"""RAVDESS (Livingstone & Russo 2018) as a data set of ``((video, audio), emotion)`` for a run config.

File names carry seven two-digit fields, ``MM-VV-EE-II-SS-RR-AA``: modality (01 audio-video, 02
video only, 03 audio only), vocal channel (01 speech, 02 song), **emotion** (01 neutral, 02 calm,
03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), intensity, statement,
repetition, actor.  So ``03-01-05-01-02-01-12.wav`` is actor 12's angry speech, emotion 05.

Layout read (anywhere under ``root``, e.g. the published ``Actor_NN/`` folders)::

    03-01-05-01-02-01-12.wav        the audio (modality 03)
    01-01-05-01-02-01-12/           the video as frame images (*.png or *.jpg, in name order),
                                    e.g. from ``ffmpeg -i 01-01-05-01-02-01-12.mp4 01-01-05-01-02-01-12/%04d.png``
    01-01-05-01-02-01-12.mp4        or the video itself (decoded with PyAV when installed)

The audio and the video of one clip share the last six fields (modality 01 or 02 for the video).
Each item is ``((video, audio), label)``: ``video`` float32 ``(frames, channels, H, W)`` in [0, 1]
(``frames`` frames at evenly spaced positions of the clip, each resized bilinearly to ``size``;
``channels`` 1 = grey, 3 = RGB); ``audio`` float32 ``(1, samples)`` (:mod:`.audio`: mono,
resampled to ``sample_rate`` when given, first ``samples`` samples, zero-padded); ``label`` = the
position of the clip's emotion code in ``emotions`` (default all eight: label = code - 1).  Clips
whose emotion is not in ``emotions`` are left out (e.g. ``emotions = [1, 3, 4, 5, 6, 7, 8]`` for
seven classes).  The paper's setting is 108 frames and 79,380 samples (3.6 s at 30 fps / 22.05 kHz).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputFileError, InvalidParameterError
from .audio import fit_length, read_wav, resample
from .images import check_size, open_image

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name (see the module docstring)."""

    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @classmethod
    def parse(cls, stem: str) -> "RavdessName | None":
        """The fields of a stem such as ``03-01-05-01-02-01-12``, or None if it is not a RAVDESS name."""
        m = _NAME.match(stem)
        return None if m is None else cls(*(int(g) for g in m.groups()))

    @property
    def clip(self) -> tuple[int, ...]:
        """The fields a clip's audio and video share (all but the modality)."""
        return (self.vocal_channel, self.emotion, self.intensity, self.statement, self.repetition, self.actor)


def _video_decoder():
    try:
        import av  # type: ignore[import-not-found]
    except ImportError:
        return None
    return av


class Ravdess(Dataset):
    """RAVDESS clips: video frames + WAV audio, label from the emotion field (see the module docstring)."""

    def __init__(self, root: str, frames: int = 108, size: Sequence[int] = (224, 224), channels: int = 3,
                 samples: int = 79380, sample_rate: int | None = 22050,
                 emotions: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8), count: int | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputFileError(f"Ravdess: {self.root} is not a directory")
        self.size = check_size(list(size), "Ravdess")
        if channels not in (1, 3) or frames < 1 or samples < 1 or (sample_rate is not None and sample_rate < 1):
            raise InvalidParameterError("Ravdess: channels must be 1 or 3; frames, samples, sample_rate positive")
        emotions = [int(e) for e in emotions]
        if len(set(emotions)) != len(emotions) or not all(1 <= e <= 8 for e in emotions):
            raise InvalidParameterError(f"Ravdess: emotions must be distinct codes 1..8, got {emotions}")
        self.frames, self.channels, self.samples, self.sample_rate = int(frames), int(channels), int(samples), sample_rate
        self.emotions = emotions
        audio: dict[tuple[int, ...], Path] = {}
        video: dict[tuple[int, ...], Path] = {}
        for path in sorted(self.root.rglob("*")):
            is_dir = path.is_dir()
            name = RavdessName.parse(path.name if is_dir else path.stem)
            if name is None:
                continue
            if name.modality == 3 and path.suffix.lower() == ".wav":
                audio[name.clip] = path
            elif name.modality in (1, 2) and (is_dir or path.suffix.lower() == ".mp4"):
                if is_dir or name.clip not in video:  # a frame directory wins over the .mp4
                    video[name.clip] = path
        clips = sorted(c for c in audio if c[1] in emotions)
        if not clips:
            raise InputFileError(f"Ravdess: no 03-*.wav clips of emotions {emotions} under {self.root}")
        missing = [c for c in clips if c not in video]
        if missing:
            stem = "-".join(f"{v:02d}" for v in missing[0])
            raise InputFileError(f"Ravdess: {len(missing)} clip(s) have audio but no video, e.g. no "
                                 f"01-{stem}/ frames directory or 01-{stem}.mp4 under {self.root}")
        if count is not None:
            clips = clips[: int(count)]
        self.clips = clips
        self.audio, self.video = audio, video

    def __len__(self) -> int:
        return len(self.clips)

    def _frame_images(self, path: Path) -> list[np.ndarray]:
        from PIL import Image


        mode = "L" if self.channels == 1 else "RGB"
        h, w = self.size
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES)
            if not files:
                raise InputFileError(f"{path}: no frame images (*.png, *.jpg)")
            picks = self._picks(len(files))
            return [np.asarray(open_image(files[j]).convert(mode).resize((w, h), Image.Resampling.BILINEAR)) for j in picks]
        av = _video_decoder()
        if av is None:
            raise InputFileError(f"cannot decode {path}: no video decoder installed (pip install av), or extract "
                                 f"its frames: ffmpeg -i {path} {path.with_suffix('')}/%04d.png")
        try:
            with av.open(str(path)) as container:
                decoded = [f.to_image() for f in container.decode(video=0)]
        except Exception as exc:  # PyAV raises its own error types
            raise InputFileError(f"cannot decode {path}: {type(exc).__name__}: {exc}") from None
        if not decoded:
            raise InputFileError(f"{path}: no video frames")
        return [np.asarray(decoded[j].convert(mode).resize((w, h), Image.Resampling.BILINEAR))
                for j in self._picks(len(decoded))]

    def _picks(self, available: int) -> list[int]:
        """``frames`` evenly spaced frame positions (repeats when the clip has fewer frames)."""
        return [int(j) for j in np.floor(np.linspace(0, available - 1, self.frames) + 0.5)]

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        clip = self.clips[i]
        images = self._frame_images(self.video[clip])
        video = np.stack(images).astype(np.float32) / 255.0
        video = video[:, None] if self.channels == 1 else video.transpose(0, 3, 1, 2)
        samples, rate = read_wav(self.audio[clip])
        if self.sample_rate is not None:
            samples = resample(samples, rate, int(self.sample_rate))
        audio = fit_length(samples, self.samples)[None]
        label = self.emotions.index(clip[1])
        return (torch.from_numpy(np.ascontiguousarray(video)), torch.from_numpy(audio)), label


__all__ = ["Ravdess", "RavdessName"]
