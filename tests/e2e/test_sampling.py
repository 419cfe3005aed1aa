"""Sub-sampling: exactly k kept (SAMP.1), uniform subsets (S1/S4), encoding (SAMP.2), seeds (SAMP.3)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import (
    Ablation,
    Modality,
    SamplingPlan,
    VoteCounter,
    draw_keep_masks,
    input_generator,
    input_seed,
)
from mmcert_verified.threat_model import Method


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


sizes = st.lists(st.integers(1, 40), min_size=1, max_size=4)


@given(n=sizes, data=st.data(), batch=st.integers(1, 9), seed=st.integers(0, 2**31))
def test_independent_keeps_exactly_k_per_modality(n, data, batch, seed):
    """SAMP.1 for MMCert: every row of modality i has exactly k_i True (the paper's code kept k_i + 1)."""
    k = [data.draw(st.integers(0, n_i)) for n_i in n]
    masks = draw_keep_masks(gen(seed), batch, n, k, Method.MMCERT)
    assert [m.shape for m in masks] == [(batch, n_i) for n_i in n]
    for m, k_i in zip(masks, k):
        assert m.dtype == torch.bool
        assert m.sum(dim=1).tolist() == [k_i] * batch


@given(n=sizes, data=st.data(), batch=st.integers(1, 9), seed=st.integers(0, 2**31))
def test_pooled_keeps_exactly_k_in_total(n, data, batch, seed):
    """SAMP.1 for the baseline: exactly k kept from the pooled list of sum(n) elements."""
    k = data.draw(st.integers(0, sum(n)))
    masks = draw_keep_masks(gen(seed), batch, n, [k], Method.ABLATION)
    assert sum(m.sum(dim=1) for m in masks).tolist() == [k] * batch


def _chi_square_bound(cells: int) -> float:
    """Chi-square critical value at p = 1e-6 via the Wilson-Hilferty approximation (df = cells - 1)."""
    df = cells - 1
    z = 4.753424  # standard normal quantile at 1 - 1e-6
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def test_independent_subsets_are_uniform_and_independent():
    """S1: each of the C(5,2) * C(4,1) = 40 joint subsets is equally likely (chi-square, p = 1e-6).

    With a fixed seed the test is deterministic; the bound is loose enough for
    any correct sampler and tight enough to catch e.g. keeping k+1 or biased ties.
    """
    draws = 40_000
    a, b = draw_keep_masks(gen(1), draws, [5, 4], [2, 1], Method.MMCERT)
    joint = Counter(zip(map(tuple, a.tolist()), map(tuple, b.tolist())))
    assert len(joint) == math.comb(5, 2) * math.comb(4, 1)
    expected = draws / len(joint)
    chi2 = sum((c - expected) ** 2 / expected for c in joint.values())
    assert chi2 < _chi_square_bound(len(joint))


def test_pooled_subsets_are_uniform_over_the_pooled_list():
    """S4: the 3-subsets of the 3 + 4 = 7 pooled elements are equally likely (C(7,3) = 35 cells)."""
    draws = 35_000
    a, b = draw_keep_masks(gen(2), draws, [3, 4], [3], Method.ABLATION)
    pooled = Counter(map(tuple, torch.cat([a, b], dim=1).tolist()))
    assert len(pooled) == math.comb(7, 3)
    expected = draws / len(pooled)
    chi2 = sum((c - expected) ** 2 / expected for c in pooled.values())
    assert chi2 < _chi_square_bound(len(pooled))


def test_masks_do_not_depend_on_batch_split_on_cpu():
    """SAMP.3 on the CPU: draws 0..9 are the same whether drawn as one batch of 10 or 3 + 7."""
    whole = draw_keep_masks(gen(5), 10, [30, 50], [3, 7])
    g = gen(5)
    first, second = draw_keep_masks(g, 3, [30, 50], [3, 7]), draw_keep_masks(g, 7, [30, 50], [3, 7])
    for w, f, s in zip(whole, first, second):
        assert torch.equal(w, torch.cat([f, s]))


def floyd(t: list[int], n: int) -> list[int]:
    """Floyd's algorithm step by step (clause SAMP.4): t_j in [0, n - k + j]; a repeat keeps n - k + j."""
    k, kept = len(t), []
    for j, t_j in enumerate(t):
        kept.append(n - k + j if t_j in kept else t_j)
    return kept


@pytest.mark.parametrize("method", [Method.MMCERT, Method.ABLATION])
@pytest.mark.parametrize("n,k", [([6, 9, 1], [5, 3, 1]), ([30, 50], [3, 7]), ([4], [4]), ([7, 5], [0, 5])])
def test_masks_are_floyd_on_the_streams_integers(method, n, k):
    """SAMP.4: the masks are Floyd's algorithm, run one step at a time here, on the stream's 63-bit
    integers (one per kept element, modality after modality, reduced modulo the step's range)."""
    if method is Method.ABLATION:
        k = [sum(k)]
    segments = list(zip(n, k)) if method is Method.MMCERT else [(sum(n), k[0])]
    batch = 40
    words = torch.empty((batch, sum(k)), dtype=torch.int64).random_(generator=gen(9)).tolist()
    masks = torch.cat(draw_keep_masks(gen(9), batch, n, k, method), dim=1)
    chains = 0
    for row, mask in zip(words, masks.tolist()):
        want, at, col = [False] * sum(n), 0, 0
        for n_i, k_i in segments:
            t = [w % (n_i - k_i + j + 1) for j, w in enumerate(row[col:col + k_i])]
            kept = floyd(t, n_i)
            chains += sum(1 for j, t_j in enumerate(t) if n_i - k_i <= t_j < n_i - k_i + j)
            for i in kept:
                want[at + i] = True
            at, col = at + n_i, col + k_i
        assert mask == want
    if sum(k) > 4:
        assert chains > 0  # the rows exercise collisions with earlier steps' fallbacks (the doubling path)


@pytest.mark.parametrize("n,k", [(6, 4), (8, 7), (9, 3)])
def test_subsets_near_k_equal_n_are_uniform(n, k):
    """S1 where Floyd's fallbacks chain (k close to n): every k-subset equally likely (chi-square, p = 1e-6)."""
    draws = 300 * math.comb(n, k)
    (mask,) = draw_keep_masks(gen(10 + n), draws, [n], [k])
    cells = Counter(map(tuple, mask.tolist()))
    assert len(cells) == math.comb(n, k)
    expected = draws / len(cells)
    assert sum((c - expected) ** 2 / expected for c in cells.values()) < _chi_square_bound(len(cells))


def test_bad_sizes_are_rejected():
    with pytest.raises(InvalidParameterError):
        draw_keep_masks(gen(), 2, [4, 5], [5, 1])
    with pytest.raises(InvalidParameterError):
        draw_keep_masks(gen(), 2, [4, 5], [1])
    with pytest.raises(InvalidParameterError):
        draw_keep_masks(gen(), 2, [4, 5], [10], Method.ABLATION)


# --------------------------------------------------------------------------- encoding

def test_image_encoding_keeps_channels_together_and_adds_mask():
    """SAMP.2: an ablated pixel has fill in all 3 channels and mask 0; a kept pixel is copied, mask 1."""
    mod = Modality.image("rgb", 3, 2, 3, Ablation(fill=-7.0))
    x = torch.arange(18, dtype=torch.float32).reshape(1, 3, 2, 3)
    keep = torch.tensor([[True, False, False, True, False, True]])
    out = mod.encode(x, keep)
    assert out.shape == (1, 4, 2, 3) == (1, *mod.encoded_shape)
    grid = keep.reshape(2, 3)
    for c in range(3):
        assert torch.equal(out[0, c][grid], x[0, c][grid])
        assert torch.all(out[0, c][~grid] == -7.0)
    assert torch.equal(out[0, 3], grid.float())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32])
@pytest.mark.parametrize("fill", [0.0, -0.0, -7.25, 3.0])
@pytest.mark.parametrize("mask_channel", [True, False])
def test_encoding_is_torch_where_bit_for_bit(dtype, fill, mask_channel):
    """SAMP.2: ablated values are exactly fill and kept values exactly x, bit for bit (as torch.where),
    whatever x holds -- NaN, infinities, -0.0 -- for one shared input and for a batch of inputs."""
    mod = Modality("x", (3, 2, 5), (1, 2), 0 if mask_channel else None, Ablation(fill, mask_channel))
    g = gen(int(fill * 4) % 7)
    x = (torch.randn(4, 3, 2, 5, generator=g) * 100).to(dtype)
    if dtype.is_floating_point:
        flat = x.view(-1)
        flat[:4] = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0]).to(dtype)
    keep = torch.rand(4, 10, generator=g) < 0.5
    fill_t = torch.tensor(fill, dtype=dtype)
    bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
    for source, rows in ((x[1], x[1].expand(4, 3, 2, 5)), (x, x)):
        out = mod.encode(source, keep)
        want = torch.where(keep.reshape(4, 1, 2, 5), rows, fill_t)
        assert torch.equal(out[:, :3].contiguous().view(bits), want.view(bits))
        if mask_channel:
            assert torch.equal(out[:, 3], keep.reshape(4, 2, 5).to(dtype))
        else:
            assert out.shape == (4, 3, 2, 5)


def test_ablated_element_differs_from_a_real_zero():
    """SAMP.2: with the mask channel, a kept element equal to the fill value stays distinguishable."""
    mod = Modality.sequence("audio", 1, 4)
    x = torch.zeros(1, 4)  # real zeros everywhere
    a = mod.encode(x, torch.tensor([[True, True, False, False]]))
    b = mod.encode(x, torch.tensor([[True, False, True, False]]))
    assert torch.equal(a[:, 0], b[:, 0])  # the values alone cannot tell them apart ...
    assert not torch.equal(a, b)  # ... the mask channel can


def test_frames_and_points_layouts():
    video = Modality.frames("video", 4, (1, 2, 2))
    assert video.n == 4 and video.encoded_shape == (4, 2, 2, 2)
    x = torch.randn(4, 1, 2, 2)
    keep = torch.tensor([[False, True, False, True]])
    out = video.encode(x, keep)
    assert torch.equal(out[0, 1, 0], x[1, 0]) and torch.all(out[0, 0, 0] == 0)
    assert torch.equal(out[0, :, 1, 0, 0], keep[0].float())
    cloud = Modality.points("lidar", 5, 3)
    assert cloud.n == 5 and cloud.encoded_shape == (5, 4)
    no_mask = Modality("raw", (2, 3), (0, 1), None, Ablation(0.0, mask_channel=False))
    assert no_mask.n == 6 and no_mask.encoded_shape == (2, 3)


def test_modality_validation():
    with pytest.raises(InvalidParameterError):
        Modality("x", (3, 4), (1,), None)  # a mask channel needs a channel dimension
    with pytest.raises(InvalidParameterError):
        Modality("x", (3, 4), (0,), 0)  # the channel cannot be an element dimension
    with pytest.raises(InvalidParameterError):
        Modality("x", (3, 4), (2,), 0)
    mod = Modality.sequence("a", 1, 4)
    with pytest.raises(InvalidParameterError):
        mod.encode(torch.zeros(1, 5), torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(InvalidParameterError):
        SamplingPlan((mod, mod), (1, 1))  # duplicate names


def test_plan_setting_is_the_sampling_setting():
    plan = SamplingPlan((Modality.frames("v", 8, (1, 2, 2)), Modality.sequence("a", 1, 20)), (2, 5))
    assert plan.setting.n == (8, 20) and plan.setting.k == (2, 5)
    enc = plan.sample((torch.randn(8, 1, 2, 2), torch.randn(1, 20)), gen(3), 6)
    assert enc[0].shape == (6, 8, 2, 2, 2) and enc[1].shape == (6, 2, 20)
    assert enc[0][:, :, 1, 0, 0].sum(1).tolist() == [2] * 6  # mask channels count exactly k
    assert enc[1][:, 1].sum(1).tolist() == [5] * 6
    pooled = SamplingPlan(plan.modalities, (7,), Method.ABLATION)
    enc = pooled.sample((torch.randn(8, 1, 2, 2), torch.randn(1, 20)), gen(3), 6)
    assert (enc[0][:, :, 1, 0, 0].sum(1) + enc[1][:, 1].sum(1)).tolist() == [7] * 6


# --------------------------------------------------------------------------- seeds and counting

def test_input_seeds_are_deterministic_and_distinct():
    assert input_seed(0, 5) == input_seed(0, 5)
    seeds = {input_seed(s, i) for s in range(3) for i in range(1000)}
    assert len(seeds) == 3000
    assert all(0 <= s < 2**63 for s in seeds)
    a = torch.rand(4, generator=input_generator(7, 3))
    b = torch.rand(4, generator=input_generator(7, 3))
    assert torch.equal(a, b)
    with pytest.raises(InvalidParameterError):
        input_seed(-1, 0)


def test_vote_counter_matches_a_direct_count():
    torch.manual_seed(0)
    counter = VoteCounter(3, (2, 4))
    preds = [torch.randint(0, 3, (5, 2, 4)) for _ in range(4)]
    for p in preds:
        counter.add_predictions(p)
    allp = torch.cat(preds)
    expected = torch.stack([(allp == c).sum(0) for c in range(3)])
    assert counter.counts().tolist() == expected.tolist()
    assert counter.total == 20
    cls = VoteCounter(4)
    cls.add_logits(torch.tensor([[0.0, 1.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0]]))  # tie -> lowest index
    assert cls.counts().tolist() == [1, 1, 0, 0]
    with pytest.raises(InvalidParameterError):
        cls.add_predictions(torch.tensor([4]))


@pytest.mark.parametrize("classes", [1, 2, 5, 12])
def test_first_argmax_is_argmax_with_lowest_index_on_ties(classes):
    """V1: the fast argmax equals torch.argmax(dim=1); ties (from rounding to 1 decimal) go to the lowest index."""
    from mmcert_verified.sampling.counting import first_argmax

    g = gen(classes)
    logits = torch.round(torch.randn(20, classes, 3, 4, generator=g) * 3) / 3  # many exact ties
    expected = torch.argmax(logits, dim=1)  # documented: index of the first maximal value
    assert torch.equal(first_argmax(logits), expected)
    tied = torch.zeros(2, classes)
    assert first_argmax(tied).tolist() == [0, 0]


def test_nan_scores_are_refused():
    counter = VoteCounter(2)
    with pytest.raises(InvalidParameterError, match="NaN"):
        counter.add_logits(torch.tensor([[0.0, float("nan")]]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
def test_a_single_bad_score_anywhere_is_refused(bad, dtype):
    """V1.1: one NaN or infinite score at any position of a large batch (vectorised reductions) is refused."""
    g = gen(3)
    logits = torch.randn(50, 2, 7, 9, generator=g).to(dtype)
    for pos in torch.randint(0, logits.numel(), (12,), generator=g).tolist() + [0, logits.numel() - 1]:
        scores = logits.clone()
        scores.view(-1)[pos] = bad
        with pytest.raises(InvalidParameterError, match="NaN" if bad != bad else "infinite"):
            VoteCounter(2, (7, 9)).add_logits(scores)


@pytest.mark.parametrize("classes", [1, 2, 3, 8, 12])
def test_counting_logits_equals_counting_torch_argmax(classes):
    """V1 for segmentation: both counting paths (per-class passes, C <= 8; bincount, C > 8) agree with argmax."""
    g = gen(40 + classes)
    counter = VoteCounter(classes, (3, 5))
    batches = [torch.round(torch.randn(7, classes, 3, 5, generator=g) * 2) / 2 for _ in range(3)]
    for logits in batches:
        counter.add_logits(logits)
    pred = torch.cat([torch.argmax(b, dim=1) for b in batches])
    assert counter.counts().tolist() == torch.stack([(pred == c).sum(0) for c in range(classes)]).tolist()
