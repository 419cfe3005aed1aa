"""Data-set loaders on tiny fixture files written in the real formats (KITTI Road PNGs / velodyne / calib,
RAVDESS frame PNGs + WAV), and a run config pointed at them certifying end to end with the reference models.

The data sets cannot be downloaded here, so every fixture is generated in a temporary directory with
Pillow (PNG, including 16-bit depth maps), ``wave`` (16-bit PCM) and numpy (``float32`` velodyne scans);
expected values are stated next to each assertion with where they come from.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmcert_verified.datasets import KittiRoad, Ravdess, RavdessName
from mmcert_verified.datasets.audio import read_wav, resample
from mmcert_verified.datasets.velodyne import Calibration, project_depth
from mmcert_verified.errors import InputFileError
from mmcert_verified.pipeline.runs import execute, load_config, read_run_file

from config_text import modality, run_config, write_config

ROAD = (255, 0, 255)  # KITTI gt colour convention: magenta = road
NOT_ROAD = (255, 0, 0)  # red = not road

# a camera looking along velodyne x: velo (x fwd, y left, z up) -> cam (x right, y down, z fwd)
F, CX, CY = 50.0, 40.0, 12.0
CALIB = (
    f"P0: {F} 0 {CX} 0 0 {F} {CY} 0 0 0 1 0\n"
    f"P2: {F} 0 {CX} 0 0 {F} {CY} 0 0 0 1 0\n"
    "R0_rect: 1 0 0 0 1 0 0 0 1\n"
    "Tr_velo_to_cam: 0 -1 0 0 0 0 -1 0 1 0 0 0\n"
    "Tr_imu_to_velo: 1 0 0 0 0 1 0 0 0 0 1 0\n"
)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _kitti(root: Path, images: int = 3, height: int = 24, width: int = 80) -> Path:
    """A KITTI Road training split: image_2, gt_image_2 (road in the bottom half), depth_u16, velodyne, calib."""
    rng = np.random.default_rng(0)
    split = root / "training"
    for i in range(images):
        cat = ("um", "umm", "uu")[i % 3]
        stem = f"{cat}_{i:06d}"
        _png(split / "image_2" / f"{stem}.png", rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        gt = np.zeros((height, width, 3), np.uint8)
        gt[:] = NOT_ROAD
        gt[height // 2:, 10:70] = ROAD
        gt[0, :] = 0  # outside the valid area (black)
        _png(split / "gt_image_2" / f"{cat}_road_{i:06d}.png", gt)
        _png(split / "gt_image_2" / f"{cat}_lane_{i:06d}.png", np.zeros((height, width, 3), np.uint8))  # ignored
        depth = (np.linspace(1.0, 60.0, height)[:, None].repeat(width, 1) * 256).astype(np.uint16)
        d = split / "depth_u16"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(depth).save(d / f"{stem}.png")  # uint16 -> a 16-bit grey PNG
        points = np.array([[10.0, 0.0, 0.0, 0.5], [20.0, 0.0, 0.0, 0.5], [5.0, 1.0, -0.5, 0.1],
                           [-3.0, 0.0, 0.0, 0.2]], dtype=np.float32)
        (split / "velodyne").mkdir(parents=True, exist_ok=True)
        points.tofile(split / "velodyne" / f"{stem}.bin")
        (split / "calib").mkdir(parents=True, exist_ok=True)
        (split / "calib" / f"{stem}.txt").write_text(CALIB)
    return root


def _wav(path: Path, samples: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())


def _ravdess(root: Path, emotions=(1, 3, 4, 5, 6, 7, 8, 2), frames: int = 12, rate: int = 8000) -> Path:
    """Actor folders with 03-*.wav audio and 01-* frame directories (the ffmpeg-extracted layout)."""
    rng = np.random.default_rng(1)
    for j, emotion in enumerate(emotions):
        actor = 1 + j % 2
        clip = f"01-{emotion:02d}-01-01-01-{actor:02d}"
        folder = root / f"Actor_{actor:02d}"
        t = np.arange(rate // 10) / rate
        _wav(folder / f"03-{clip}.wav", 0.5 * np.sin(2 * np.pi * (200 + 50 * emotion) * t), rate)
        for f in range(frames):
            _png(folder / f"01-{clip}" / f"{f:04d}.png", rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
    return root


# --------------------------------------------------------------------------- KITTI Road

def test_kitti_items_have_the_model_shapes_and_the_devkit_road_convention(tmp_path):
    ds = KittiRoad(str(_kitti(tmp_path)), size=[24, 80])
    assert len(ds) == 3 and ds.names == ["um_000000.png", "umm_000001.png", "uu_000002.png"]
    (rgb, depth), label = ds[0]
    assert rgb.shape == (3, 24, 80) and depth.shape == (1, 24, 80) and label.shape == (24, 80)
    assert rgb.dtype == torch.float32 and label.dtype == torch.int64
    # pixels equal the PNG's bytes / 255 (no resize at the native size)
    raw = np.asarray(Image.open(tmp_path / "training/image_2/um_000000.png"))
    assert torch.equal(rgb, torch.from_numpy(raw.astype(np.float32) / 255).permute(2, 0, 1))
    # the fixture's road: bottom half, columns 10..69; black row 0 and red pixels are not road
    expected = np.zeros((24, 80), np.int64)
    expected[12:, 10:70] = 1
    assert np.array_equal(label.numpy(), expected)
    # depth: 16-bit value / 256 = metres (the fixture wrote linspace(1, 60) * 256, truncated), / 80 m
    row = np.floor(np.linspace(1.0, 60.0, 24) * 256) / 256 / 80
    assert np.allclose(depth[0, :, 0].numpy(), row, rtol=0, atol=1e-7)


def test_kitti_resize_and_crop_reach_the_requested_size(tmp_path):
    root = str(_kitti(tmp_path, images=1))
    (rgb, depth), label = KittiRoad(root, size=[12, 40], fit="resize")[0]
    assert rgb.shape == (3, 12, 40) and depth.shape == (1, 12, 40) and label.shape == (12, 40)
    assert set(np.unique(label.numpy())) <= {0, 1}  # nearest-neighbour: no blended labels
    (rgb, depth), label = KittiRoad(root, size=[16, 96], fit="crop")[0]
    # crop: the bottom 16 rows, padded to width 96 (8 zero columns either side of the 80 columns)
    assert rgb.shape == (3, 16, 96) and float(rgb[:, :, :8].abs().sum()) == 0.0
    # window rows 8..23 of the 24 -> rows 0..15; the road (rows 12..23, columns 10..69) -> rows 4.., columns 18..77
    assert int(label[4:, 18:78].min()) == 1 and int(label[:4].max()) == 0


def test_velodyne_projection_puts_a_forward_point_at_the_principal_point(tmp_path):
    path = tmp_path / "calib.txt"
    path.write_text(CALIB)
    calib = Calibration.read(path)
    pts = np.array([[10.0, 0.0, 0.0, 0], [20.0, 0.0, 0.0, 0], [5.0, 1.0, -0.5, 0], [-3.0, 0.0, 0.0, 0]])
    depth = project_depth(pts, calib, 24, 80)
    # (10, 0, 0) and (20, 0, 0) both land at (u, v) = (CX, CY) = (40, 12): the nearest (10 m) wins;
    # (5, 1, -0.5) -> cam (-1, 0.5, 5) -> u = 40 + 50 * (-1/5) = 30, v = 12 + 50 * (0.5/5) = 17, depth 5;
    # (-3, 0, 0) is behind the camera and dropped
    assert depth[12, 40] == 10.0 and depth[17, 30] == 5.0
    assert np.count_nonzero(depth) == 2


def test_kitti_depth_from_velodyne(tmp_path):
    ds = KittiRoad(str(_kitti(tmp_path, images=1)), size=[24, 80], depth="velodyne", max_depth=20.0)
    (_, depth), _ = ds[0]
    # the projection test's points: 10 m at (12, 40), 5 m at (17, 30); / max_depth 20 m
    assert float(depth[0, 12, 40]) == 0.5 and float(depth[0, 17, 30]) == 0.25
    assert int(torch.count_nonzero(depth)) == 2


def test_kitti_missing_files_are_one_clear_error(tmp_path):
    root = _kitti(tmp_path, images=2)
    (root / "training/depth_u16/umm_000001.png").unlink()
    with pytest.raises(InputFileError, match="umm_000001.png is missing"):
        KittiRoad(str(root))
    with pytest.raises(InputFileError, match="is not a directory"):
        KittiRoad(str(tmp_path / "nowhere"))
    (root / "training/calib/um_000000.txt").write_text("P2: 1 2 3\n")
    ds = KittiRoad(str(root), depth="velodyne", count=1, size=[24, 80])
    with pytest.raises(InputFileError, match="P2 has 3 numbers, expected 12"):
        ds[0]


# --------------------------------------------------------------------------- RAVDESS

def test_ravdess_file_names_give_the_emotion():
    name = RavdessName.parse("03-01-05-01-02-01-12")
    assert name is not None and name.modality == 3 and name.emotion == 5 and name.actor == 12
    assert RavdessName.parse("readme") is None


def test_ravdess_items_pair_frames_and_audio_and_label_by_emotion(tmp_path):
    root = _ravdess(tmp_path)
    ds = Ravdess(str(root), frames=32, size=[8, 8], channels=1, samples=400, sample_rate=None,
                 emotions=[1, 3, 4, 5, 6, 7, 8])
    assert len(ds) == 7  # emotion 02 (calm) is not in the list and is left out
    (video, audio), label = ds[0]
    assert video.shape == (32, 1, 8, 8) and audio.shape == (1, 400) and video.dtype == torch.float32
    assert 0.0 <= float(video.min()) and float(video.max()) <= 1.0
    # clips are ordered by (vocal, emotion, ...): the first is emotion 01 -> label 0; the last 08 -> 6
    assert label == 0 and ds[6][1] == 6
    # the fixture's 0.1 s at 8 kHz = 800 samples; the first 400 kept, equal to the WAV's int16 / 32768
    with wave.open(str(ds.audio[ds.clips[0]]), "rb") as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.array_equal(audio[0].numpy(), (raw[:400] / 32768).astype(np.float32))


def test_ravdess_short_audio_is_zero_padded_and_resampled_exactly_in_length(tmp_path):
    root = _ravdess(tmp_path, emotions=(5,))
    (_, audio), label = Ravdess(str(root), frames=4, size=[8, 8], samples=2000, sample_rate=None)[0]
    assert label == 4  # emotion 05, default eight classes: label = code - 1
    assert float(audio[0, 800:].abs().sum()) == 0.0 and float(audio[0, :800].abs().sum()) > 0
    samples, rate = read_wav(next(root.rglob("*.wav")))
    assert rate == 8000 and resample(samples, 8000, 22050).shape == (2205,)  # 800 * 22050 / 8000


def test_ravdess_audio_without_video_is_one_clear_error(tmp_path):
    root = _ravdess(tmp_path, emotions=(5,))
    frames = next(p for p in root.rglob("01-*") if p.is_dir())
    for f in frames.iterdir():
        f.unlink()
    frames.rmdir()
    with pytest.raises(InputFileError, match="have audio but no video"):
        Ravdess(str(root))
    (frames.parent / f"{frames.name}.mp4").write_bytes(b"not a video")
    ds = Ravdess(str(root), frames=4, size=[8, 8])
    with pytest.raises(InputFileError, match="cannot decode"):
        ds[0]


# --------------------------------------------------------------------------- end to end

def test_a_run_config_on_fixture_kitti_certifies_end_to_end_with_the_road_model(tmp_path):
    root = _kitti(tmp_path / "kitti", images=2, height=40, width=120)
    cfg = write_config(tmp_path, run_config(
        "segmentation", 2, "reference_models.road:pretrained", "mmcert_verified.datasets.kitti:KittiRoad",
        f'root = "{root.as_posix()}", size = [32, 96], fit = "resize"',
        [modality("rgb", [3, 32, 96], [1, 2]), modality("depth", [1, 32, 96], [1, 2])],
        "k = [100, 5]\nN = 20\nalpha = \"0.05\"\nbatch_size = 20", "r = [[0, 0], [1, 1]]"))
    out = tmp_path / "kitti.jsonl"
    summary = execute(load_config(cfg), out, progress=False)
    assert summary.newly_done == 2 and summary.remaining == 0
    records = read_run_file(out).records()
    assert [r["pixels"] for r in records] == [32 * 96] * 2
    # certified pixels cannot grow with the budget (the r = (1, 1) attacker includes r = (0, 0))
    assert all(r["certified_pixels"][1] <= r["certified_pixels"][0] for r in records)


def test_a_run_config_on_fixture_ravdess_certifies_end_to_end_with_the_av_model(tmp_path):
    root = _ravdess(tmp_path / "ravdess")
    cfg = write_config(tmp_path, run_config(
        "classification", 7, "reference_models.av:pretrained", "mmcert_verified.datasets.ravdess:Ravdess",
        f'root = "{root.as_posix()}", frames = 32, size = [8, 8], channels = 1, samples = 400, '
        "emotions = [1, 3, 4, 5, 6, 7, 8]",
        [modality("video", [32, 1, 8, 8], [0], channel_dim=1), modality("audio", [1, 400], [1])],
        "k = [2, 4]\nN = 30\nalpha = \"0.05\"\nbatch_size = 30", "r = [[0, 0], [1, 1]]"))
    out = tmp_path / "ravdess.jsonl"
    summary = execute(load_config(cfg), out, progress=False)
    assert summary.newly_done == 7
    records = read_run_file(out).records()
    assert sorted(r["label"] for r in records) == list(range(7))
    assert all(sum(r["counts"]) == 30 for r in records)  # N votes each
