"""Loaders for the paper's data sets in their published on-disk formats (no download, no heavy dependencies).

* :class:`~.kitti.KittiRoad` -- KITTI Road: ``image_2`` PNGs, ``gt_image_2`` road labels, depth from
  16-bit depth PNGs or projected from velodyne scans with the calibration files;
* :class:`~.ravdess.Ravdess` -- RAVDESS: video frames (a directory of frame PNGs per clip, or an
  ``.mp4`` when PyAV is installed) + WAV audio (standard library ``wave``), the emotion from the file name.

Both are ``torch.utils.data.Dataset``\\ s returning ``((modality tensors...), label)`` already resized or
cropped to the model's shapes, so a run config names them directly::

    [data]
    factory = "mmcert_verified.datasets.kitti:KittiRoad"
    kwargs = { root = "/data/kitti_road", size = [375, 1242] }

Helpers: :mod:`.images` (PNG reading, resize / crop), :mod:`.velodyne` (calibration and projection),
:mod:`.audio` (WAV reading, resampling, fitting to a length).
"""

from .kitti import KittiRoad
from .ravdess import Ravdess, RavdessName

__all__ = ["KittiRoad", "Ravdess", "RavdessName"]
