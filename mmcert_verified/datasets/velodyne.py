"""Depth from a velodyne scan: KITTI calibration files and the projection into camera 2 (image_2).

A KITTI calibration file has lines ``KEY: v1 v2 ...``; the projection uses

* ``P2`` (3 x 4): rectified camera 2 projection,
* ``R0_rect`` (3 x 3): rectifying rotation (padded to 4 x 4),
* ``Tr_velo_to_cam`` (3 x 4): velodyne to camera 0 (padded to 4 x 4 with a last row 0 0 0 1).

A velodyne point ``X = (x, y, z, 1)`` lands at ``c = R0_rect Tr_velo_to_cam X`` in rectified camera
coordinates; its depth is ``c_z`` (metres along the optical axis) and its pixel is
``(u, v) = (p_x / p_z, p_y / p_z)`` with ``p = P2 c``, rounded to the nearest pixel centre.  Points
behind ``min_depth`` or outside the image are dropped; where several points land on one pixel the
nearest wins (``np.minimum.at``, order independent); pixels without a point have depth 0.
A scan is ``float32`` quadruples ``(x, y, z, reflectance)``, as in ``velodyne/*.bin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError


@dataclass(frozen=True)
class Calibration:
    """The three matrices the projection needs, as float64 4 x 4 (P2: 3 x 4)."""

    p2: np.ndarray
    r0_rect: np.ndarray
    tr_velo_to_cam: np.ndarray

    @classmethod
    def read(cls, path: str | Path) -> "Calibration":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputFileError(f"cannot read calibration {path}: {exc.strerror or exc}") from None
        values: dict[str, np.ndarray] = {}
        for number, line in enumerate(text.splitlines(), 1):
            key, sep, rest = line.partition(":")
            if not sep or not key.strip():
                continue
            try:
                values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
            except ValueError:
                raise InputFileError(f"{path}:{number}: {key.strip()} is not a list of numbers") from None

        def need(key: str, size: int) -> np.ndarray:
            if key not in values:
                raise InputFileError(f"{path}: no {key} (a KITTI calibration file has P2, R0_rect, Tr_velo_to_cam)")
            if values[key].size != size:
                raise InputFileError(f"{path}: {key} has {values[key].size} numbers, expected {size}")
            return values[key]

        p2 = need("P2", 12).reshape(3, 4)
        r0 = np.eye(4)
        r0[:3, :3] = need("R0_rect", 9).reshape(3, 3)
        tr = np.eye(4)
        tr[:3, :] = need("Tr_velo_to_cam", 12).reshape(3, 4)
        return cls(p2, r0, tr)


def read_scan(path: str | Path) -> np.ndarray:
    """A velodyne ``.bin`` scan as float64 ``(P, 4)``."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype="<f4")
    except OSError as exc:
        raise InputFileError(f"cannot read velodyne scan {path}: {exc.strerror or exc}") from None
    if raw.size % 4:
        raise InputFileError(f"{path}: {raw.size} floats is not a whole number of (x, y, z, reflectance) points")
    return raw.reshape(-1, 4).astype(np.float64)


def project_depth(points: np.ndarray, calib: Calibration, height: int, width: int,
                  min_depth: float = 0.1) -> np.ndarray:
    """Depth in metres ``(height, width)`` float32 from velodyne points (see the module docstring)."""
    xyz1 = np.concatenate([points[:, :3], np.ones((points.shape[0], 1))], axis=1)
    cam = calib.r0_rect @ calib.tr_velo_to_cam @ xyz1.T  # (4, P)
    z = cam[2]
    front = z > min_depth
    cam, z = cam[:, front], z[front]
    pix = calib.p2 @ cam
    u = np.floor(pix[0] / pix[2] + 0.5).astype(np.int64)
    v = np.floor(pix[1] / pix[2] + 0.5).astype(np.int64)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height) & (pix[2] > 0)
    depth = np.full((height, width), np.inf)
    np.minimum.at(depth, (v[inside], u[inside]), z[inside])
    depth[np.isinf(depth)] = 0.0
    return depth.astype(np.float32)


__all__ = ["Calibration", "project_depth", "read_scan"]
