"""The fast engine on CUDA gives exactly the CPU's (and the reference's) answers (spec clause F.1).

Every test is parametrized over the device ("cpu", and "cuda" marked ``gpu``); each compares the
device's answers with the CPU fast engine's and with the reference engine's, exactly: decisions,
radii, labels, certified masks, alpha*, metrics.  tests/conftest.py skips every test under
tests/gpu/ when there is no CUDA device ("gpu" is a keyword of the directory), the "cpu" parameter
included; ``pytest tests/gpu --noconftest -k cpu`` runs the CPU half on a machine without CUDA.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcert_verified.fast.classify import certify_batch, radius_batch
from mmcert_verified.reference import certify as ref
from mmcert_verified.reference import segmentation as refseg

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]

RAVDESS = dict(n=[108, 79380], k=[5, 1000])


def _class_counts(seed: int, B: int = 400, C: int = 7, N: int = 100) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    conc = rng.choice([0.02, 0.3, 3.0], size=B)
    rows = [rng.multinomial(N, rng.dirichlet([c] * C)) for c in conc]
    rows[0] = np.array([N // 2, N - N // 2] + [0] * (C - 2))  # a tie: V1 takes the lowest index
    return torch.as_tensor(np.stack(rows), dtype=torch.int64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("attack,method,k", [
    ("modify", "mmcert", [5, 1000]),
    (["add", "delete"], "mmcert", [5, 1000]),
    (["delete", "modify"], "ablation", [1005]),
])
def test_certify_batch_same_on_device(device, attack, method, k):
    counts = _class_counts(0)
    budgets = [[0, 0], [1, 1], [2, 3], [4, 0], [0, 40]]
    cpu = certify_batch(counts, "0.001", RAVDESS["n"], k, budgets, attack, method)
    dev = certify_batch(counts.to(device), "0.001", RAVDESS["n"], k, budgets, attack, method)
    assert dev.certified.device.type == device
    assert torch.equal(dev.certified.cpu(), cpu.certified)
    assert torch.equal(dev.label.cpu(), cpu.label)
    # and both equal the reference on a sample of inputs (the first is the tie)
    for b in range(0, counts.shape[0], 40):
        for j, r in enumerate(budgets):
            want = ref.certify(counts[b].tolist(), "0.001", RAVDESS["n"], k, r, attack, method).certified
            assert bool(dev.certified[b, j]) == want, (b, r)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("ratio,attack,method,k", [
    ([1, 1], "modify", "mmcert", [5, 1000]),
    ([0, 7], "add", "mmcert", [5, 1000]),
    ([1, 2], ["delete", "add"], "ablation", [1005]),
])
def test_radius_batch_same_on_device(device, ratio, attack, method, k):
    counts = _class_counts(1)
    cpu = radius_batch(counts, "0.001", RAVDESS["n"], k, ratio, attack, method)
    dev = radius_batch(counts.to(device), "0.001", RAVDESS["n"], k, ratio, attack, method)
    assert dev.radius.device.type == device
    assert torch.equal(dev.radius.cpu(), cpu.radius)
    for b in range(0, counts.shape[0], 50):
        want = ref.radius(counts[b].tolist(), "0.001", RAVDESS["n"], k, ratio, attack, method).radius
        assert int(dev.radius[b]) == (-1 if want is None else want), b


def _kitti_like(seed: int, B: int, H: int, W: int, N: int = 100):
    rng = np.random.default_rng(seed)
    rows = np.arange(H)[:, None]
    horizon = H * 0.45 + 0.08 * H * np.sin(np.arange(W)[None, :] / W * 6 * np.pi)
    p1 = np.clip(1 / (1 + np.exp(-(rows - horizon) / 2.5)), 0.002, 0.998)
    c1 = rng.binomial(N, np.broadcast_to(p1, (B, H, W)))
    votes = np.stack([N - c1, c1], axis=1).astype(np.int64)  # (B, 2, H, W)
    labels = ((rows - horizon)[None] > rng.normal(0, 1.0, size=(B, H, W))).astype(np.int64)
    return votes, labels


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("attack,r,seg", [
    (["modify", "modify"], [5, 5], {}),
    (["add", "modify"], [3, 5], dict(segmented_attack="add", r_o=3)),
    (["delete", "add"], [2, 9], dict(segmented_attack="delete", r_o=2)),
])
def test_segment_same_on_device(device, attack, r, seg):
    fastseg = pytest.importorskip("mmcert_verified.fast.segmentation")
    votes, labels = _kitti_like(2, B=2, H=40, W=120)
    kw = dict(n=[465_750, 465_750], k=[500, 500], r=r, attack=attack, method="mmcert", **seg)
    cpu = fastseg.segment(votes, "0.001", labels=labels, **kw)
    dev = fastseg.segment(torch.as_tensor(votes), "0.001", labels=torch.as_tensor(labels), device=device, **kw)
    want = refseg.segment(votes, "0.001", labels=labels, **kw)
    for got in (cpu, dev):
        assert isinstance(got.certified_mask, np.ndarray)
        assert np.array_equal(got.certified_mask, want.certified_mask)
        for gi, wi in zip(got.images, want.images):
            assert np.array_equal(gi.pred, wi.pred)
            assert np.array_equal(gi.alpha_star, wi.alpha_star)
        assert got.to_json() == want.to_json()


@pytest.mark.gpu
def test_cuda_votes_stay_on_device_until_the_result():
    # votes given on the GPU need no device argument; the answer equals the CPU's
    fastseg = pytest.importorskip("mmcert_verified.fast.segmentation")
    votes, labels = _kitti_like(3, B=1, H=30, W=60)
    kw = dict(n=[465_750, 465_750], k=[500, 500], r=[5, 5], attack="modify")
    cpu = fastseg.segment(votes, "0.001", labels=labels, **kw)
    dev = fastseg.segment(torch.as_tensor(votes, device="cuda"), "0.001",
                          labels=torch.as_tensor(labels, device="cuda"), **kw)
    assert np.array_equal(dev.certified_mask, cpu.certified_mask)
    assert dev.to_json() == cpu.to_json()
