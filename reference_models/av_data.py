"""Synthetic audio-visual "emotion" clips (a stand-in for RAVDESS, which cannot be fetched here).

Each clip has 32 video frames of 8x8 grey pixels and 400 audio samples and
one of seven labels named after RAVDESS's classes.  The label is a pair
(face template, loudness level) and neither modality alone determines it,
so a model must use both -- the situation in which the two sub-sampling
schemes differ:

=========  ========  ===========
label      template  audio level
=========  ========  ===========
calm       0         low
happy      1         high
sad        2         low
angry      3         high
fearful    2         medium
surprise   1         medium
disgust    3         low
=========  ========  ===========

* video: every frame is ``s * T[template] + sigma_v * noise`` with a per-frame
  gain ``s ~ U(0.5, 1.5)``, four fixed smooth random 8x8 templates and a
  per-clip noise level ``sigma_v ~ U(1, 4)``: clean clips are recognised from
  one frame, noisy ones need several, so clips differ in how confident the
  sub-sampled votes are (as real recordings do).
* audio: ``level + 0.35 * sin(2 pi f t + phi) + sigma_a * noise`` with level in
  {-1, 0, +1}, random f and phi and ``sigma_a ~ U(0.2, 0.6)`` per clip: a
  few samples identify the level.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed
gives the same clips on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .labelled_sets import LabelledSet, seeded_split

FRAMES = 32
SIDE = 8
AUDIO = 400
CLASSES = ("calm", "happy", "sad", "angry", "fearful", "surprise", "disgust")
#: (template, audio level index) per class, see the table above
CODES = ((0, 0), (1, 2), (2, 0), (3, 2), (2, 1), (1, 1), (3, 0))
LEVELS = (-1.0, 0.0, 1.0)
TEMPLATE_SEED = 20240328  # the templates are part of the data set's definition

#: seeds of the fixed splits (disjoint streams)
TRAIN_SEED, VALIDATION_SEED, TEST_SEED = 1, 2, 3


def templates() -> np.ndarray:
    """The four 8x8 face templates: smoothed random fields scaled to unit RMS."""
    rng = np.random.default_rng(TEMPLATE_SEED)
    raw = rng.standard_normal((4, SIDE + 2, SIDE + 2))
    smooth = (raw[:, :-2, :-2] + raw[:, 1:-1, 1:-1] + raw[:, 2:, 2:] + raw[:, 1:-1, :-2] + raw[:, :-2, 1:-1]) / 5
    smooth -= smooth.mean(axis=(1, 2), keepdims=True)
    return smooth / np.sqrt((smooth**2).mean(axis=(1, 2), keepdims=True))


@dataclass(frozen=True)
class AVClips(LabelledSet):
    """A data set of clips: ``video`` (E, 32, 1, 8, 8), ``audio`` (E, 1, 400), ``labels`` (E,);
    ``clips[i]`` is ``((video[i], audio[i]), label)`` with the label a Python int."""

    video: torch.Tensor
    audio: torch.Tensor
    labels: torch.Tensor

    def label(self, i: int) -> int:
        return int(self.labels[i])


def generate(count: int, seed: int) -> AVClips:
    """``count`` clips drawn with ``numpy.random.default_rng(seed)``; labels balanced round-robin."""
    rng = np.random.default_rng(seed)
    temp = templates()
    labels = np.arange(count) % len(CLASSES)
    rng.shuffle(labels)
    codes = np.array(CODES)[labels]
    gain = rng.uniform(0.5, 1.5, size=(count, FRAMES, 1, 1))
    sigma_v = rng.uniform(1.0, 4.0, size=(count, 1, 1, 1))
    video = gain * temp[codes[:, 0]][:, None] + sigma_v * rng.standard_normal((count, FRAMES, SIDE, SIDE))
    t = np.arange(AUDIO) / AUDIO
    freq = rng.uniform(3.0, 12.0, size=(count, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(count, 1))
    level = np.array(LEVELS)[codes[:, 1]][:, None]
    sigma_a = rng.uniform(0.2, 0.6, size=(count, 1))
    audio = level + 0.35 * np.sin(2 * np.pi * freq * t + phase) + sigma_a * rng.standard_normal((count, AUDIO))
    return AVClips(
        torch.from_numpy(video[:, :, None].astype(np.float32)),
        torch.from_numpy(audio[:, None].astype(np.float32)),
        torch.from_numpy(labels.astype(np.int64)),
    )


train_set = seeded_split(generate, TRAIN_SEED, 6000, "train_set")
validation_set = seeded_split(generate, VALIDATION_SEED, 300, "validation_set")
test_set = seeded_split(generate, TEST_SEED, 70, "test_set")
