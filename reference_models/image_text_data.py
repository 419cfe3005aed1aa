"""Synthetic image-caption pairs (a stand-in for Flickr30k / COCO, which cannot be fetched here).

Every image is 3 x 16 x 16 RGB in [0, 1]: one coloured shape on a noisy dark
background.  Its *concept* is a tuple (size, colour, shape, position):

* size: small, large  (radius 2.5 or 3.5 pixels)
* colour: red, green, blue, yellow  (per-image jitter of +-0.08 per channel)
* shape: circle, square, triangle, cross
* position: left, right, top, bottom  (centre jittered by up to 1 pixel)

so there are 2 * 4 * 4 * 4 = 128 concepts.  Every image comes with
:data:`CAPTIONS_PER_IMAGE` captions (the one-to-many relationship MAT+
exploits), each drawn from five templates with a synonym for every
attribute word, e.g. ``"a small red circle on the left"``,
``"there is a tiny crimson disc at the left"``.  Caption 0 is the "1:1"
caption used by standard training, unimodal AT and MAT.

Words fall in two groups (:data:`FILLERS` and :data:`SYNONYMS`): a text
attack that keeps the caption's meaning may swap a filler for another filler
and an attribute word for one of its synonyms (:func:`meaning_preserving`).

The test set has one image per concept, so retrieval is unambiguous: an
image's only correct caption among the test captions is its own.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed
gives the same data on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SIDE = 16
MAX_TOKENS = 10
CAPTIONS_PER_IMAGE = 4

SIZES = ("small", "large")
COLOURS = ("red", "green", "blue", "yellow")
SHAPES = ("circle", "square", "triangle", "cross")
POSITIONS = ("left", "right", "top", "bottom")
CONCEPTS = len(SIZES) * len(COLOURS) * len(SHAPES) * len(POSITIONS)

RGB = {"red": (0.9, 0.12, 0.1), "green": (0.12, 0.8, 0.15), "blue": (0.12, 0.25, 0.92), "yellow": (0.9, 0.85, 0.12)}
CENTRES = {"left": (8.0, 4.0), "right": (8.0, 12.0), "top": (4.0, 8.0), "bottom": (12.0, 8.0)}  # (row, col)
RADII = {"small": 2.5, "large": 3.5}

#: every attribute word and its synonyms (the first is the canonical word)
SYNONYMS = {
    "small": ("small", "tiny"),
    "large": ("large", "big"),
    "red": ("red", "crimson"),
    "green": ("green", "emerald"),
    "blue": ("blue", "azure"),
    "yellow": ("yellow", "golden"),
    "circle": ("circle", "disc"),
    "square": ("square", "box"),
    "triangle": ("triangle", "wedge"),
    "cross": ("cross", "plus"),
    "left": ("left", "leftmost"),
    "right": ("right", "rightmost"),
    "top": ("top", "upper"),
    "bottom": ("bottom", "lower"),
}
#: words that carry no attribute; any may replace any other without changing the meaning
FILLERS = ("a", "the", "on", "at", "is", "and", "of", "there", "picture", "photo", "one", "shows", "side")
TEMPLATES = (
    "a {size} {colour} {shape} on the {pos}",
    "the {shape} on the {pos} is {size} and {colour}",
    "a picture of a {size} {colour} {shape} at the {pos}",
    "there is a {size} {colour} {shape} on the {pos} side",
    "photo shows one {colour} {size} {shape} {pos}",
)

PAD = "<pad>"
#: the vocabulary; token 0 is padding
VOCAB = (PAD, *FILLERS, *(w for group in SYNONYMS.values() for w in group))
TOKEN = {w: i for i, w in enumerate(VOCAB)}

#: seeds of the fixed splits (disjoint streams)
TRAIN_SEED, TEST_SEED = 11, 13


def concept_attributes(concept: int) -> tuple[str, str, str, str]:
    """(size, colour, shape, position) of concept index ``concept`` in [0, 128)."""
    concept, pos = divmod(int(concept), len(POSITIONS))
    concept, shape = divmod(concept, len(SHAPES))
    size, colour = divmod(concept, len(COLOURS))
    return SIZES[size], COLOURS[colour], SHAPES[shape], POSITIONS[pos]


def tokenize(caption: str) -> list[int]:
    """Token ids of a whitespace-separated caption, padded with 0 to :data:`MAX_TOKENS`."""
    ids = [TOKEN[w] for w in caption.split()]
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"caption {caption!r} has more than {MAX_TOKENS} words")
    return ids + [0] * (MAX_TOKENS - len(ids))


def detokenize(tokens) -> str:
    return " ".join(VOCAB[int(t)] for t in tokens if int(t) != 0)


def meaning_preserving() -> list[list[int]]:
    """For every token id, the ids that may replace it without changing a caption's meaning.

    Fillers may become any other filler; attribute words one of their synonyms; padding nothing.
    """
    out: list[list[int]] = [[] for _ in VOCAB]
    fillers = [TOKEN[w] for w in FILLERS]
    for f in fillers:
        out[f] = [g for g in fillers if g != f]
    for group in SYNONYMS.values():
        ids = [TOKEN[w] for w in group]
        for i in ids:
            out[i] = [j for j in ids if j != i]
    return out


def caption(concept: int, rng: np.random.Generator) -> str:
    size, colour, shape, pos = concept_attributes(concept)
    pick = lambda w: SYNONYMS[w][int(rng.integers(len(SYNONYMS[w])))]  # noqa: E731
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    return template.format(size=pick(size), colour=pick(colour), shape=pick(shape), pos=pick(pos))


def render(concept: int, rng: np.random.Generator) -> np.ndarray:
    """One 3 x 16 x 16 image of ``concept`` in [0, 1]."""
    size, colour, shape, pos = concept_attributes(concept)
    cy, cx = CENTRES[pos]
    cy += rng.uniform(-1.0, 1.0)
    cx += rng.uniform(-1.0, 1.0)
    radius = RADII[size]
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64) + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        mask = dy**2 + dx**2 <= radius**2
    elif shape == "square":
        mask = (np.abs(dy) <= radius * 0.8) & (np.abs(dx) <= radius * 0.8)
    elif shape == "triangle":
        mask = (dy <= radius * 0.8) & (dy >= -radius) & (np.abs(dx) <= (dy + radius) * 0.55)
    else:  # cross
        arm = max(radius * 0.35, 0.9)
        mask = ((np.abs(dy) <= arm) & (np.abs(dx) <= radius)) | ((np.abs(dx) <= arm) & (np.abs(dy) <= radius))
    background = rng.uniform(0.05, 0.3)
    image = background + 0.06 * rng.standard_normal((3, SIDE, SIDE))
    tint = np.array(RGB[colour]) + rng.uniform(-0.08, 0.08, size=3)
    image = np.where(mask[None], tint[:, None, None] + 0.04 * rng.standard_normal((3, SIDE, SIDE)), image)
    return np.clip(image, 0.0, 1.0)


@dataclass(frozen=True)
class ImageTextPairs:
    """``images`` (E, 3, 16, 16) float32 in [0, 1]; ``tokens`` (E, CAPTIONS_PER_IMAGE, MAX_TOKENS) int64
    (0 = padding; caption 0 is the 1:1 caption); ``concepts`` (E,) int64 in [0, 128)."""

    images: torch.Tensor
    tokens: torch.Tensor
    concepts: torch.Tensor

    def __len__(self) -> int:
        return int(self.concepts.shape[0])

    def captions(self, i: int) -> list[str]:
        return [detokenize(t) for t in self.tokens[i]]


def generate(concepts: np.ndarray, seed: int) -> ImageTextPairs:
    """One image and :data:`CAPTIONS_PER_IMAGE` captions per entry of ``concepts``, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    images = np.stack([render(c, rng) for c in concepts]).astype(np.float32)
    tokens = np.array([[tokenize(caption(c, rng)) for _ in range(CAPTIONS_PER_IMAGE)] for c in concepts])
    return ImageTextPairs(torch.from_numpy(images), torch.from_numpy(tokens.astype(np.int64)),
                          torch.from_numpy(np.asarray(concepts, dtype=np.int64)))


def train_set(per_concept: int = 16) -> ImageTextPairs:
    """``per_concept`` images of every concept (2048 by default), shuffled."""
    concepts = np.repeat(np.arange(CONCEPTS), per_concept)
    np.random.default_rng(TRAIN_SEED + 1000).shuffle(concepts)
    return generate(concepts, TRAIN_SEED)


def test_set() -> ImageTextPairs:
    """One image per concept (128), in concept order: retrieval has exactly one right answer."""
    return generate(np.arange(CONCEPTS), TEST_SEED)
