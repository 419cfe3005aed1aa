"""Sampling, encoding and counting on CUDA do what they do on the CPU (clauses SAMP.1-SAMP.4, V1, V1.1).

Parametrized over the device ("cpu", and "cuda" marked ``gpu``); tests/conftest.py skips the folder
without a CUDA device, and ``pytest tests/gpu --noconftest -k cpu`` runs the CPU half anywhere.  The
CUDA generator's stream differs from the CPU's, so masks are compared with Floyd's algorithm run step
by step on the host over the *device's own* integers, not with CPU masks.
"""

from __future__ import annotations

import pytest
import torch

from mmcert_verified.fast.classify import top_two
from mmcert_verified.sampling import Ablation, Modality, SamplingPlan, VoteCounter, draw_keep_masks
from mmcert_verified.threat_model import Method

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def floyd(t: list[int], n: int) -> list[int]:
    k, kept = len(t), []
    for j, t_j in enumerate(t):
        kept.append(n - k + j if t_j in kept else t_j)
    return kept


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", [Method.MMCERT, Method.ABLATION])
def test_device_masks_are_floyd_on_the_device_stream(device, method):
    n, k = [3072, 3072, 40], [100, 5, 38]
    if method is Method.ABLATION:
        k = [sum(k)]
    segments = list(zip(n, k)) if method is Method.MMCERT else [(sum(n), k[0])]
    gen = torch.Generator(device=device).manual_seed(4)
    masks = draw_keep_masks(gen, 64, n, k, method)
    assert all(m.device.type == device for m in masks)
    words = torch.empty((64, sum(k)), dtype=torch.int64, device=device)
    words.random_(generator=torch.Generator(device=device).manual_seed(4))
    got = torch.cat(masks, dim=1).cpu()
    for row, mask in zip(words.cpu().tolist(), got):
        want = torch.zeros(sum(n), dtype=torch.bool)
        at = col = 0
        for n_i, k_i in segments:
            t = [w % (n_i - k_i + j + 1) for j, w in enumerate(row[col:col + k_i])]
            want[[at + i for i in floyd(t, n_i)]] = True
            at, col = at + n_i, col + k_i
        assert torch.equal(mask, want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_device_encoding_is_torch_where_bit_for_bit(device, dtype):
    plan = SamplingPlan((Modality.image("rgb", 3, 8, 12, Ablation(-0.5)), Modality.sequence("a", 1, 30)), (9, 4))
    gen = torch.Generator(device=device).manual_seed(1)
    x = (torch.randn(3, 8, 12, device=device) * 50).to(dtype)
    x.view(-1)[:3] = torch.tensor([float("nan"), float("inf"), -0.0], device=device).to(dtype)
    a = torch.randn(1, 30, device=device).to(dtype)
    keep = plan.draw(gen, 16)
    rgb, audio = plan.encode((x, a), keep)
    bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
    want = torch.where(keep[0].reshape(16, 1, 8, 12), x, torch.tensor(-0.5, dtype=dtype, device=device))
    assert rgb.device.type == device
    assert torch.equal(rgb[:, :3].contiguous().view(bits), want.view(bits))
    assert torch.equal(rgb[:, 3], keep[0].reshape(16, 8, 12).to(dtype))
    assert torch.equal(audio[:, 1], keep[1].to(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("classes,spatial", [(2, (6, 7)), (5, (6, 7)), (12, (6, 7)), (7, ())])
def test_device_counts_equal_argmax_counts(device, classes, spatial):
    g = torch.Generator().manual_seed(classes)
    logits = torch.round(torch.randn(30, classes, *spatial, generator=g) * 2) / 2  # ties: lowest index
    counter = VoteCounter(classes, spatial, device)
    counter.add_logits(logits.to(device), rows=30)
    pred = torch.argmax(logits, dim=1)
    assert counter.counts().tolist() == torch.stack([(pred == c).sum(0) for c in range(classes)]).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_device_top_two_equals_the_host_result(device):
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(0, 4, (500, 150), generator=g)  # many ties for A and for B
    cpu = top_two(counts)
    dev = top_two(counts.to(device))
    assert all(d.device.type == device for d in dev)
    assert all(torch.equal(d.cpu(), c) for d, c in zip(dev, cpu))
