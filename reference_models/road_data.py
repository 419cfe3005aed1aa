"""Synthetic road scenes, RGB + depth (a stand-in for KITTI Road, which cannot be fetched here).

Each scene is 32 x 96 pixels: an RGB image (3, 32, 96), a depth image
(1, 32, 96) and a road / not-road label per pixel (1 = road, the paper's
"freespace").  Per scene:

* a horizon row h in [8, 13]; above it sky (bright blue-grey, depth 1 = far);
* the road: a trapezoid from a wide base on the bottom row to a narrow top at
  the horizon around a random vanishing point, grey asphalt with a dashed
  centre line (labelled road);
* off the road: grass or soil in a random green-brown tint;
* 0-2 cars: boxes of a random colour (sometimes asphalt grey) standing on
  the ground, labelled not-road;
* depth: on the ground plane depth falls off as 1 / (row - h) (a vertical
  gradient), a car has the constant depth of the ground where it stands,
  rough terrain off the road adds depth noise, the road is smooth;
* per-scene pixel noise sigma ~ U(0.04, 0.25) on RGB: some scenes are clean,
  some hard, so images differ in how confident the votes are.

RGB carries most of the information (colour separates road from grass);
depth mainly tells cars and sky apart from the ground -- so, as in the
paper, an attacker who changes depth pixels is the cheaper threat and
MMCert keeps few depth pixels.  Everything is drawn from
``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .labelled_sets import LabelledSet, seeded_split

HEIGHT, WIDTH = 32, 96
TRAIN_SEED, VALIDATION_SEED, TEST_SEED = 11, 12, 13


@dataclass(frozen=True)
class RoadScenes(LabelledSet):
    """``rgb`` (E, 3, 32, 96), ``depth`` (E, 1, 32, 96), ``labels`` (E, 32, 96) with 1 = road;
    ``scenes[i]`` is ``((rgb[i], depth[i]), labels[i])``."""

    rgb: torch.Tensor
    depth: torch.Tensor
    labels: torch.Tensor


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.arange(HEIGHT)[:, None].astype(np.float64)
    cols = np.arange(WIDTH)[None, :].astype(np.float64)
    h = int(rng.integers(8, 14))
    vx = rng.uniform(30, 66)
    top_half = rng.uniform(1.0, 4.0)
    left_base, right_base = rng.uniform(-15, 28), rng.uniform(68, 111)
    frac = np.clip((rows - h) / (HEIGHT - 1 - h), 0, 1)  # 0 at the horizon, 1 at the bottom row
    left = (vx - top_half) + frac * (left_base - (vx - top_half))
    right = (vx + top_half) + frac * (right_base - (vx + top_half))
    ground = rows > h
    road = ground & (cols >= left) & (cols <= right)

    dist = np.where(ground, 1.0 / np.maximum(rows - h, 1.0), 1.0)  # ground-plane depth, 1 = far
    depth = np.broadcast_to(dist, (HEIGHT, WIDTH)).copy()
    rough = ground & ~road
    depth += rough * rng.normal(0, 0.04, size=(HEIGHT, WIDTH))

    sky = np.array([0.62, 0.72, 0.86]) + rng.normal(0, 0.04, 3)
    grass = np.array([0.30, 0.48, 0.20]) + rng.normal(0, [0.06, 0.06, 0.05])
    asphalt = np.full(3, rng.uniform(0.35, 0.55)) + rng.normal(0, 0.015, 3)
    rgb = np.empty((3, HEIGHT, WIDTH))
    for c in range(3):
        rgb[c] = np.where(ground, np.where(road, asphalt[c], grass[c]), sky[c] + 0.1 * (1 - rows / h) * (rows <= h))
    centre = (left + right) / 2
    marking = road & (np.abs(cols - centre) <= 0.3 + 0.8 * frac) & (((rows.astype(int) + int(rng.integers(4))) // 2) % 2 == 0)
    rgb[:, marking] = 0.9

    labels = road.astype(np.int64)
    for _ in range(int(rng.integers(0, 3))):
        bottom = int(rng.integers(h + 4, HEIGHT))
        size = (bottom - h) * rng.uniform(0.5, 0.9)
        height_px, width_px = max(2, int(size)), max(3, int(1.6 * size))
        cx = rng.uniform(left[bottom, 0] - width_px / 2, right[bottom, 0] + width_px / 2)
        r0, r1 = max(bottom - height_px, 0), bottom + 1
        c0, c1 = int(max(cx - width_px / 2, 0)), int(min(cx + width_px / 2, WIDTH))
        if c1 <= c0:
            continue
        colour = asphalt if rng.random() < 0.25 else rng.uniform(0.05, 0.95, 3)
        rgb[:, r0:r1, c0:c1] = colour[:, None, None]
        depth[r0:r1, c0:c1] = dist[bottom, 0]
        labels[r0:r1, c0:c1] = 0
    sigma = rng.uniform(0.04, 0.25)
    rgb += rng.normal(0, sigma, size=rgb.shape)
    depth += rng.normal(0, 0.01, size=depth.shape)
    return rgb, depth[None], labels


def generate(count: int, seed: int) -> RoadScenes:
    """``count`` scenes drawn with ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    scenes = [_scene(rng) for _ in range(count)]
    rgb = np.stack([s[0] for s in scenes]).astype(np.float32)
    depth = np.stack([s[1] for s in scenes]).astype(np.float32)
    labels = np.stack([s[2] for s in scenes]).astype(np.int64)
    return RoadScenes(torch.from_numpy(rgb), torch.from_numpy(depth), torch.from_numpy(labels))


train_set = seeded_split(generate, TRAIN_SEED, 2000, "train_set")
validation_set = seeded_split(generate, VALIDATION_SEED, 60, "validation_set")
test_set = seeded_split(generate, TEST_SEED, 12, "test_set")
