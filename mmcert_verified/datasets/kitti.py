"""KITTI Road (Fritsch et al. 2013) as a data set of ``((rgb, depth), road labels)`` for a run config.

Layout read (the benchmark's ``data_road`` archive, plus a depth source)::

    ROOT/training/image_2/um_000000.png          RGB, about 375 x 1242
    ROOT/training/gt_image_2/um_road_000000.png  labels: road = magenta (255, 0, 255),
                                                 not road = red (255, 0, 0), outside the valid area black
    ROOT/training/depth_u16/um_000000.png        (depth = "png") 16-bit depth, value = metres * depth_scale
    ROOT/training/velodyne/um_000000.bin         (depth = "velodyne") scans, projected with
    ROOT/training/calib/um_000000.txt            P2, R0_rect, Tr_velo_to_cam (see :mod:`.velodyne`)

Labels follow the devkit's colour convention: a pixel is road when its blue channel is non-zero.
Black pixels (outside the devkit's valid area, red = 0) have no "don't care" class here: they are
labelled not-road, so certified metrics count them as background (say so when you report them).
``um_lane_*`` files (the lane task) are ignored.  A split without ``gt_image_2`` (the test split)
yields ``label = None``.

Each item is ``((rgb, depth), label)``: ``rgb`` float32 ``(3, H, W)`` in [0, 1]; ``depth`` float32
``(1, H, W)`` = metres / ``max_depth`` clipped to [0, 1], 0 where there is no measurement; ``label``
int64 ``(H, W)``, 1 = road.  ``size = [H, W]`` and ``fit`` (``resize`` or ``crop``, :mod:`.images`)
bring every image to the model's shape (the paper certifies 375 x 1242 images).
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputFileError, InvalidParameterError
from .images import Fit, check_size, fit, read_rgb, read_u16
from .velodyne import Calibration, project_depth, read_scan

_IMAGE = re.compile(r"^(um|umm|uu)_(\d+)\.png$")


class DepthSource(str, enum.Enum):
    """Where depth comes from: 16-bit depth PNGs, or velodyne scans projected with the calibration."""

    PNG = "png"
    VELODYNE = "velodyne"


class KittiRoad(Dataset):
    """KITTI Road images with depth and road labels (see the module docstring).

    ``root``: the directory holding ``training/`` (and ``testing/``); ``split``: ``training`` or
    ``testing``; ``size``: ``[H, W]`` the model takes; ``fit``: ``resize`` or ``crop``; ``depth``:
    ``png`` (from ``depth_dir``, values / ``depth_scale`` = metres; 256 is KITTI's depth-map
    convention) or ``velodyne``; ``max_depth``: metres mapped to 1.0; ``categories``: any of um,
    umm, uu; ``count``: at most this many images (in file-name order).
    """

    def __init__(self, root: str, split: str = "training", size: Sequence[int] = (375, 1242), fit: str = "resize",
                 depth: str = "png", depth_dir: str = "depth_u16", depth_scale: float = 256.0,
                 max_depth: float = 80.0, categories: Sequence[str] = ("um", "umm", "uu"),
                 count: int | None = None) -> None:
        self.root = Path(root)
        self.dir = self.root / split
        self.size = check_size(list(size), "KittiRoad")
        try:
            self.fit = Fit(fit)
            self.depth = DepthSource(depth)
        except ValueError as exc:
            raise InvalidParameterError(f"KittiRoad: {exc}") from None
        if not depth_scale > 0 or not max_depth > 0:
            raise InvalidParameterError("KittiRoad: depth_scale and max_depth must be positive")
        self.depth_dir, self.depth_scale, self.max_depth = depth_dir, float(depth_scale), float(max_depth)
        images = self.dir / "image_2"
        if not images.is_dir():
            raise InputFileError(f"KittiRoad: {images} is not a directory (root should hold {split}/image_2)")
        names = sorted(p.name for p in images.iterdir() if (m := _IMAGE.match(p.name)) and m.group(1) in categories)
        if count is not None:
            names = names[: int(count)]
        if not names:
            raise InputFileError(f"KittiRoad: no um_/umm_/uu_ images in {images}")
        self.names = names
        self.has_labels = (self.dir / "gt_image_2").is_dir()
        for name in names:  # every source present before any certification starts (clause RUN.7)
            for path in self._sources(name):
                if not path.is_file():
                    raise InputFileError(f"KittiRoad: {path} is missing (needed for {images / name})")

    def _gt(self, name: str) -> Path:
        m = _IMAGE.match(name)
        assert m is not None
        return self.dir / "gt_image_2" / f"{m.group(1)}_road_{m.group(2)}.png"

    def _sources(self, name: str) -> list[Path]:
        stem = name[:-4]
        out = [self.dir / "image_2" / name]
        if self.has_labels:
            out.append(self._gt(name))
        if self.depth is DepthSource.PNG:
            out.append(self.dir / self.depth_dir / name)
        else:
            out += [self.dir / "velodyne" / f"{stem}.bin", self.dir / "calib" / f"{stem}.txt"]
        return out

    def __len__(self) -> int:
        return len(self.names)

    def depth_metres(self, i: int, height: int, width: int) -> np.ndarray:
        """Image ``i``'s depth in metres at the image's own size (0 = no measurement)."""
        name = self.names[i]
        if self.depth is DepthSource.PNG:
            path = self.dir / self.depth_dir / name
            raw = read_u16(path)
            if raw.shape != (height, width):
                raise InputFileError(f"{path}: depth of size {raw.shape} for an image of size {(height, width)}")
            return raw.astype(np.float32) / self.depth_scale
        stem = name[:-4]
        calib = Calibration.read(self.dir / "calib" / f"{stem}.txt")
        return project_depth(read_scan(self.dir / "velodyne" / f"{stem}.bin"), calib, height, width)

    def label(self, i: int) -> np.ndarray | None:
        """Road labels at the image's own size (1 where the gt's blue channel is non-zero)."""
        if not self.has_labels:
            return None
        return (read_rgb(self._gt(self.names[i]))[:, :, 2] > 0).astype(np.uint8)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        rgb = read_rgb(self.dir / "image_2" / self.names[i])
        h0, w0 = rgb.shape[:2]
        depth = np.clip(self.depth_metres(i, h0, w0) / self.max_depth, 0.0, 1.0).astype(np.float32)
        rgb_t = torch.from_numpy(fit(rgb, self.size, self.fit, smooth=True).astype(np.float32) / 255.0).permute(2, 0, 1)
        depth_t = torch.from_numpy(fit(depth, self.size, self.fit, smooth=False)).unsqueeze(0)
        lab = self.label(i)
        if lab is not None:
            if lab.shape != (h0, w0):
                raise InputFileError(f"{self._gt(self.names[i])}: labels of size {lab.shape} for an image of "
                                     f"size {(h0, w0)}")
            lab = torch.from_numpy(fit(lab, self.size, self.fit, smooth=False).astype(np.int64))
        return (rgb_t.contiguous(), depth_t.contiguous()), lab


__all__ = ["DepthSource", "KittiRoad"]
