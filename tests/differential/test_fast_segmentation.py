"""Differential tests: fast certified segmentation against the exact reference (spec F.5, SEG.1-SEG.7).

The fast ``segment`` takes the reference's arguments (plus ``device``, ``dtype``) and must return
the same certified masks, predictions, alpha* values and metrics (clause F.1/F.5).

* soundness (one-sided, zero slack, separate): no pixel certified by the fast engine that the
  reference does not certify; no fast alpha* below the reference's (a smaller p-value is the
  permissive direction for Holm);
* exactness: identical masks, predictions, alpha*, metrics and JSON summaries.

Every bound method (CP.4-CP.7, SEG.1 with the method's levels) is drawn by ``threat_models``.

Vote images: random (B, C, H, W) / (C, H, W) / (C, P) arrays.  Most are drawn from a *palette* of
a few distinct vote vectors spread over many pixels: the reference costs ~20 ms per distinct
(N_A, N_B) pair, while Holm's family size m is the pixel count, so palettes give large families
(Holm thresholds alpha/m, ties of many pixels on one alpha*) at a small reference cost.  Palette
entries mix unanimous, confident, uncertain and tied votes.  Threat models: MMCert and the pooled
baseline, modify / add / delete per modality, the segmented modality anywhere, segmented add/delete
with r_o equal to that modality's budget (SEG.5).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, event, example, given, note
from hypothesis import strategies as st

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference import segmentation as refseg
from pinned_examples import given_with_examples

fastseg = pytest.importorskip("mmcert_verified.fast.segmentation")

ATTACKS = ["modify", "add", "delete"]
BOUNDS = ["bonferroni", "complement", "combined"]
# alpha* near float64 underflow occurs for C = 1 (p_B := 0: a unanimous pixel certifies at any level)
# and for N >~ 1500 unanimous votes; the engines once disagreed there (fixed: the reference grid reaches
# the smallest double and the fast engine defers underflowed levels). The checks below hold everywhere,
# with no excluded region; the underflow corner is also pinned by the test_underflow_* tests below.


# --------------------------------------------------------------------------- strategies


def _vote_vector(rng: np.random.Generator, C: int, N: int, kind: str) -> np.ndarray:
    if kind == "unanimous":
        v = np.zeros(C, np.int64)
        v[rng.integers(0, C)] = N
        return v
    if kind == "tie" and C >= 2:
        v = np.zeros(C, np.int64)
        a, b = rng.choice(C, size=2, replace=False)
        v[a] = N // 2
        v[b] = N - N // 2
        return v
    conc = {"confident": 0.05, "uncertain": 3.0}.get(kind, 0.5)
    return rng.multinomial(N, rng.dirichlet([conc] * C)).astype(np.int64)


@st.composite
def vote_images(draw):
    """(votes, labels or None): votes of shape (B, C, H, W), (C, H, W) or (C, P)."""
    C = draw(st.integers(1, 5))
    N = draw(st.one_of(st.integers(1, 40), st.integers(41, 120), st.sampled_from([100, 100, 250])))
    layout = draw(st.sampled_from(["batch", "image", "flat"]))
    B = draw(st.integers(1, 3)) if layout == "batch" else 1
    H = draw(st.integers(1, 40))
    W = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    palette_size = draw(st.integers(1, 6))
    kinds = draw(st.lists(st.sampled_from(["unanimous", "confident", "uncertain", "tie", "mixed"]),
                          min_size=palette_size, max_size=palette_size))
    palette = np.stack([_vote_vector(rng, C, N, kd) for kd in kinds])  # (K, C)
    weights = rng.dirichlet([0.5] * palette_size)
    idx = rng.choice(palette_size, size=(B, H, W), p=weights)
    votes = np.moveaxis(palette[idx], -1, 1)  # (B, C, H, W)
    if B > 1 and draw(st.booleans()):  # images of one batch may have different N (each its own family)
        N2 = draw(st.integers(1, 120))
        palette2 = np.stack([_vote_vector(rng, C, N2, kd) for kd in kinds])
        votes[1] = np.moveaxis(palette2[idx[1]], -1, 0)  # (H, W, C) -> (C, H, W)
    label_mode = draw(st.sampled_from(["none", "pred", "noisy", "random"]))
    labels = None
    if label_mode != "none":
        pred = votes.argmax(axis=1)
        if label_mode == "pred":
            labels = pred
        elif label_mode == "random":
            labels = rng.integers(0, C, size=(B, H, W))
        else:
            flip = rng.random((B, H, W)) < 0.2
            labels = np.where(flip, rng.integers(0, C, size=(B, H, W)), pred)
    dtype = draw(st.sampled_from([np.int64, np.int32, np.int16]))
    votes = votes.astype(dtype)
    if layout == "image":
        votes, labels = votes[0], None if labels is None else labels[0]
    elif layout == "flat":
        votes, labels = votes[0].reshape(C, -1), None if labels is None else labels[0].reshape(-1)
    return votes, labels


@st.composite
def threat_models(draw):
    """Keyword arguments of segment() other than the votes: a valid segmentation request."""
    T = draw(st.integers(1, 3))
    method = draw(st.sampled_from(["mmcert", "ablation"]))
    family = draw(st.sampled_from(["kitti", "small", "mixed"]))
    if family == "kitti":  # the paper's KITTI setting: 375 x 1242 pixels per modality, k = 500
        n = [465_750] * T
        k = [500] * T if method == "mmcert" else [500 * T]
    elif family == "small":
        n = [draw(st.integers(2, 200)) for _ in range(T)]
        k = [draw(st.integers(1, ni)) for ni in n] if method == "mmcert" else [draw(st.integers(1, sum(n)))]
    else:
        n = [draw(st.integers(2, 10**6)) for _ in range(T)]
        k = [draw(st.integers(1, min(ni, 2000))) for ni in n] if method == "mmcert" else [draw(st.integers(1, min(sum(n), 2000)))]
    attacks = [draw(st.sampled_from(ATTACKS)) for _ in range(T)]
    r = [draw(st.one_of(st.integers(0, 3), st.integers(0, max(0, n[i] // max(k[0] if method == "ablation" else k[i], 1)))))
         for i in range(T)]
    o = draw(st.integers(0, T - 1))
    explicit = draw(st.booleans())
    kw = dict(n=n, k=k, r=r, attack=attacks, method=method, segmented_modality=o)
    bound = draw(st.sampled_from(BOUNDS + ["default"]))
    if bound != "default":
        kw["bound"] = bound
    if explicit:
        kw["segmented_attack"] = attacks[o]
        kw["r_o"] = r[o]
    alpha = ref_alpha(draw(st.floats(-8.0, math.log10(0.5))))
    return kw, alpha


def ref_alpha(e: float) -> Fraction:
    from mmcert_verified.reference.certify import alpha_fraction

    return alpha_fraction(min(10.0**e, 0.5))


def run_both(votes, labels, kw, alpha, **fast_kw):
    """(reference result, fast result); both must raise InvalidParameterError alike."""
    try:
        want = refseg.segment(votes, alpha, labels=labels, **kw)
    except InvalidParameterError:
        with pytest.raises(InvalidParameterError):
            fastseg.segment(votes, alpha, labels=labels, **kw, **fast_kw)
        assume(False)
    got = fastseg.segment(votes, alpha, labels=labels, **kw, **fast_kw)
    m = want.certified_mask
    note(f"reference certified {int(m.sum())} of {m.size}")
    event("certified: " + ("none" if not m.any() else "all" if m.all() else "some"))
    return want, got


def _example(C, N, shape, kinds, seed, labels="noisy"):
    rng = np.random.default_rng(seed)
    palette = np.stack([_vote_vector(rng, C, N, kd) for kd in kinds])
    idx = rng.choice(len(kinds), size=shape)
    c_axis = 0 if len(shape) == 2 else 1  # (C, H, W) or (B, C, H, W)
    votes = np.moveaxis(palette[idx], -1, c_axis)
    pred = votes.argmax(axis=c_axis)
    lab = None if labels is None else np.where(rng.random(pred.shape) < 0.2, rng.integers(0, C, pred.shape), pred)
    return votes, lab


KITTI = dict(n=[465_750, 465_750], k=[500, 500], r=[5, 5], attack=["modify", "modify"], method="mmcert",
             segmented_modality=0)
EX_KITTI = (_example(2, 100, (30, 40), ["unanimous", "confident", "uncertain", "tie"], 1), (KITTI, Fraction(1, 1000)))
EX_ADD = (_example(3, 60, (2, 9, 11), ["unanimous", "confident", "mixed"], 2),
          (dict(n=[200, 300], k=[10, 10], r=[2, 1], attack=["add", "delete"], method="mmcert",
                segmented_modality=0, segmented_attack="add", r_o=2), Fraction(1, 100)))
EX_DEL = (_example(2, 100, (20, 20), ["unanimous", "confident"], 3),
          (dict(n=[400, 1000], k=[20], r=[0, 3], attack=["modify", "delete"], method="ablation",
                segmented_modality=1, segmented_attack="delete", r_o=3), Fraction(1, 1000)))
EX_C1 = (_example(1, 7, (3, 4), ["unanimous"], 4), (dict(n=[50], k=[5], r=[1], attack="modify", method="mmcert",
                                                         segmented_modality=0), Fraction(1, 2)))


#: the hand cases every property test here runs first
PINNED = (EX_KITTI, EX_ADD, EX_DEL, EX_C1)


def _unpack(case):
    (votes, labels), (kw, alpha) = case
    return votes, labels, kw, alpha


# --------------------------------------------------------------------------- soundness


@given_with_examples(st.tuples(vote_images(), threat_models()), *PINNED)
def test_fast_never_certifies_a_pixel_the_reference_does_not(case):
    # zero slack: fast mask is a subset of the reference mask; fast alpha* >= reference alpha*
    votes, labels, kw, alpha = _unpack(case)
    want, got = run_both(votes, labels, kw, alpha)
    extra = got.certified_mask & ~want.certified_mask
    assert not extra.any(), f"fast certifies {int(extra.sum())} pixel(s) the reference rejects"
    for wi, gi in zip(want.images, got.images):
        assert np.all(gi.alpha_star >= wi.alpha_star)


# --------------------------------------------------------------------------- exactness


@given_with_examples(st.tuples(vote_images(), threat_models()), *PINNED)
def test_fast_segmentation_identical_to_reference(case):
    votes, labels, kw, alpha = _unpack(case)
    want, got = run_both(votes, labels, kw, alpha)
    assert got.batched == want.batched
    assert got.certified_mask.shape == want.certified_mask.shape
    assert got.certified_mask.dtype == np.bool_
    assert np.array_equal(got.certified_mask, want.certified_mask)
    assert len(got.images) == len(want.images)
    for wi, gi in zip(want.images, got.images):
        assert np.array_equal(gi.pred, wi.pred)
        assert np.array_equal(gi.alpha_star, wi.alpha_star)
        assert gi.metrics == wi.metrics  # exact float equality: same counts, same formulas (SEG.4-SEG.6)
    assert got.to_json() == want.to_json()


def test_torch_inputs_and_device_argument():
    # tensors (votes and labels) and device="cpu" give the reference's answer on numpy input
    (votes, labels), (kw, alpha) = EX_ADD
    want = refseg.segment(votes, alpha, labels=labels, **kw)
    got = fastseg.segment(torch.as_tensor(votes), alpha, labels=torch.as_tensor(labels), device="cpu", **kw)
    assert np.array_equal(got.certified_mask, want.certified_mask)
    assert got.to_json() == want.to_json()


def test_segment_takes_no_dtype_it_would_ignore():
    # issue 10 item 4: the fast segment accepted dtype= and ignored it (it decides in float64 with
    # F.4's float64 slack); the parameter is gone, so a caller asking for float32 is told so
    (votes, labels), (kw, alpha) = EX_KITTI
    with pytest.raises(TypeError):
        fastseg.segment(votes, alpha, labels=labels, dtype=torch.float32, **kw)


def test_realistic_kitti_image_identical():
    # a 75 x 248 crop of the benchmark's synthetic KITTI-like votes (N = 100, C = 2): confident
    # pixels with a band of uncertain ones; ~100 distinct pairs, Holm over 18,600 pixels
    votes, labels = _kitti_like(np.random.default_rng(7), 75, 248)
    want = refseg.segment(votes, "0.001", labels=labels, **KITTI)
    got = fastseg.segment(votes, "0.001", labels=labels, **KITTI)
    assert 0 < want.to_json()["certified_pixels"] < votes.shape[1] * votes.shape[2]  # both outcomes occur
    assert np.array_equal(got.certified_mask, want.certified_mask)
    assert got.to_json() == want.to_json()


def _kitti_like(rng, H, W, N=100):
    """Synthetic free-space votes: class 1 below a wavy horizon, uncertain within ~6 rows of it."""
    rows = np.arange(H)[:, None]
    horizon = H * 0.45 + 0.08 * H * np.sin(np.arange(W)[None, :] / W * 2 * np.pi * 3)
    dist = rows - horizon
    p1 = 1 / (1 + np.exp(-dist / 2.5))
    p1 = np.clip(p1, 0.002, 0.998)
    c1 = rng.binomial(N, p1)
    votes = np.stack([N - c1, c1]).astype(np.int64)
    labels = (dist > rng.normal(0, 1.0, size=dist.shape)).astype(np.int64)
    return votes, labels


@st.composite
def pair_problems(draw):
    """(pairs, N, C, problem kwargs, alpha): (N_A, N_B) pairs of real vote vectors, N up to 2000
    (1e4 rarely), for the per-pair alpha* comparison."""
    C = draw(st.integers(2, 8))
    N = draw(st.one_of(st.integers(1, 300), st.integers(1, 2000), st.integers(0, 19).map(lambda i: 10**4 if i == 19 else 150)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pairs = set()
    for _ in range(draw(st.integers(1, 4))):
        v = rng.multinomial(N, rng.dirichlet([draw(st.sampled_from([0.05, 0.5, 5.0]))] * C))
        top = np.sort(v)[::-1]
        pairs.add((int(top[0]), int(top[1])))
    kw, alpha = draw(threat_models())
    return sorted(pairs), N, C, kw, alpha


@given(pair_problems())
@example(([(100, 0), (97, 3), (60, 40), (50, 50)], 100, 2, dict(KITTI), Fraction(1, 1000)))
@example(([(10**4, 0), (9_990, 10), (5_001, 4_999)], 10**4, 2, dict(KITTI), Fraction(1, 1000)))
def test_alpha_star_per_pair_identical(case):
    # F.5: the fast alpha* of each distinct pair is the reference's grid value (SEG.2), exactly
    pairs, N, C, kw, alpha = case
    kw = dict(kw)
    pixels = kw["n"][kw.get("segmented_modality", 0)]  # as many pixels as the segmented modality has
    try:
        prob = refseg.segmentation_problem(pixels, alpha, kw.pop("n"), kw.pop("k"), kw.pop("r"), kw.pop("attack"),
                                           kw.pop("method"), kw.pop("segmented_attack", None), kw.pop("r_o", 0),
                                           kw.pop("segmented_modality"), kw.pop("bound", "bonferroni"))
    except InvalidParameterError:
        assume(False)
    event(f"bound {prob.bound}")
    problem = refseg.PixelProblem(N, C, prob.sizes_masses, prob.bound)
    want = [refseg.alpha_star(p, problem, prob.alpha) for p in pairs]
    got = fastseg.alpha_stars(pairs, N, C, prob)
    for p, w, g in zip(pairs, want, got):
        assert g >= w, ("fast alpha* below the reference's", p, N, C, float(g), float(w))
        assert g == w, (p, N, C, float(g), float(w))


# --------------------------------------------------------------------------- underflow corner (was a disagreement)

C1_VOTES = np.array([[[250]]])  # one pixel, C = 1, N = 250 (unanimous)
C1_KW = dict(n=[465_750], k=[500], r=[1], attack="modify")


def test_underflow_alpha_star_identical():
    # F.5: the same alpha* as the reference where it underflows float64 (soundness: never below it);
    # per pair without a floor (the search reaches the smallest double), and through segment(), whose
    # search stops at SEG.2's Holm floor alpha / (2 P)
    alpha = Fraction(1, 10)
    prob = refseg.segmentation_problem(1, alpha, C1_KW["n"], C1_KW["k"], C1_KW["r"], C1_KW["attack"], "mmcert",
                                       None, 0, 0)
    problem = refseg.PixelProblem(250, 1, prob.sizes_masses)
    want = refseg.alpha_star((250, 0), problem, alpha)
    got = fastseg.alpha_stars([(250, 0)], 250, 1, prob)[0]
    assert want <= Fraction(1, 10**300)  # the case is in the corner (5e-324 when written)
    assert got >= want and got == want
    w = refseg.segment(C1_VOTES, alpha, **C1_KW)
    g = fastseg.segment(C1_VOTES, alpha, **C1_KW)
    floor = refseg.holm_floor(alpha, 1)  # 1 pixel: the largest grid level <= 1/20
    assert Fraction(float(w.images[0].alpha_star[0, 0])) == floor  # clamped at the floor: certified there
    assert g.images[0].alpha_star[0, 0] == w.images[0].alpha_star[0, 0]
    assert np.array_equal(g.certified_mask, w.certified_mask) and bool(w.certified_mask.all())
    votes2 = np.array([[[10**4]], [[0]]])  # C = 2, unanimous, N = 1e4
    w2 = refseg.segment(votes2, "0.001", **KITTI)
    g2 = fastseg.segment(votes2, "0.001", **KITTI)
    assert Fraction(float(w2.images[0].alpha_star[0, 0])) == refseg.holm_floor(Fraction(1, 1000), 1)
    assert g2.images[0].alpha_star[0, 0] == w2.images[0].alpha_star[0, 0]
    assert g2.to_json() == w2.to_json()


def test_underflow_tiny_alpha_masks_identical():
    from mmcert_verified.reference.certify import certify

    alpha = Fraction(1, 10**323)
    assert certify([250], alpha, **{k: v for k, v in C1_KW.items()}).certified  # certified at alpha itself
    want = refseg.segment(C1_VOTES, alpha, **C1_KW)
    got = fastseg.segment(C1_VOTES, alpha, **C1_KW)
    assert np.array_equal(got.certified_mask, want.certified_mask)


# --------------------------------------------------------------------------- errors


def _v(C=2, N=10, H=3, W=4):
    v = np.zeros((C, H, W), np.int64)
    v[0] = N
    return v


@pytest.mark.parametrize("make", [
    lambda: dict(counts=np.array([[[5, 4]], [[5, 5]]]), kw={}),  # N differs across pixels
    lambda: dict(counts=-_v(), kw={}),  # negative votes
    lambda: dict(counts=_v().astype(np.float64), kw={}),  # float votes
    lambda: dict(counts=_v(), kw=dict(labels=np.full((3, 4), 2))),  # label out of range
    lambda: dict(counts=_v(), kw=dict(labels=np.zeros((4, 3), np.int64))),  # label shape
    lambda: dict(counts=_v(), kw=dict(segmented_attack="add", r_o=1)),  # disagrees with attack modify
    lambda: dict(counts=_v(), kw=dict(segmented_modality=2)),  # no such modality
    lambda: dict(counts=_v(H=1, W=2), kw=dict(attack="delete", r=[2], segmented_attack="delete", r_o=2)),
    lambda: dict(counts=np.zeros((2, 3, 4), np.int64), kw={}),  # N = 0
])
def test_invalid_requests_rejected_by_both(make):
    case = make()
    kw = dict(n=[20], k=[2], r=[1], attack="modify")
    kw.update(case["kw"])
    with pytest.raises(InvalidParameterError):
        refseg.segment(case["counts"], "0.01", **kw)
    with pytest.raises(InvalidParameterError):
        fastseg.segment(case["counts"], "0.01", **kw)


# --------------------------------------------------------------------------- heavier


@pytest.mark.slow
def test_full_kitti_image_identical():
    # the benchmark's image: 375 x 1242, N = 100, C = 2 (reference ~3 s: ~100 distinct pairs)
    votes, labels = _kitti_like(np.random.default_rng(0), 375, 1242)
    want = refseg.segment(votes, "0.001", labels=labels, **KITTI)
    got = fastseg.segment(votes, "0.001", labels=labels, **KITTI)
    assert np.array_equal(got.certified_mask, want.certified_mask)
    assert got.to_json() == want.to_json()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_per_pixel_random_votes_identical(seed):
    # no palette: every pixel drawn independently (many distinct pairs), C up to 6
    rng = np.random.default_rng(100 + seed)
    C = int(rng.integers(2, 7))
    N = int(rng.choice([30, 100, 300]))
    B, H, W = 2, 6, 7
    p = rng.dirichlet([0.3] * C, size=(B, H, W))
    votes = np.moveaxis(np.array([[[rng.multinomial(N, p[b, i, j]) for j in range(W)] for i in range(H)]
                                  for b in range(B)]), -1, 1)
    labels = rng.integers(0, C, size=(B, H, W))
    kw = dict(n=[465_750, 1000], k=[500, 40], r=[3, 2], attack=["modify", "add"], method="mmcert")
    want = refseg.segment(votes, "0.01", labels=labels, **kw)
    got = fastseg.segment(votes, "0.01", labels=labels, **kw)
    assert not (got.certified_mask & ~want.certified_mask).any()
    assert np.array_equal(got.certified_mask, want.certified_mask)
    assert got.to_json() == want.to_json()


# --------------------------------------------------------------------------- bound methods (issue 14)


@pytest.mark.parametrize("bound", BOUNDS)
@pytest.mark.parametrize("case", PINNED, ids=["kitti", "add", "delete", "c1"])
def test_every_method_identical_on_the_pinned_examples(case, bound):
    # SEG.1 with the method's levels, F.5 / CP.8 in float: masks, alpha* and JSON (with "bound") equal
    votes, labels, kw, alpha = _unpack(case)
    want = refseg.segment(votes, alpha, labels=labels, **kw, bound=bound)
    got = fastseg.segment(votes, alpha, labels=labels, **kw, bound=bound)
    assert not (got.certified_mask & ~want.certified_mask).any()
    assert np.array_equal(got.certified_mask, want.certified_mask)
    for wi, gi in zip(want.images, got.images):
        assert np.array_equal(gi.alpha_star, wi.alpha_star)
    doc = got.to_json()
    assert doc == want.to_json()
    assert got.bound == want.bound == bound
    assert ("bound" in doc) is (bound != "bonferroni")  # additive: the default output is unchanged


def _count_reference_calls(monkeypatch):
    calls = []
    real = refseg.alpha_star

    def counting(*a, **kw):
        calls.append(a[0])
        return real(*a, **kw)

    monkeypatch.setattr(refseg, "alpha_star", counting)
    return calls


@pytest.mark.parametrize("C,bound", [(2, "bonferroni"), (2, "combined"), (2, "complement"), (4, "complement"),
                                     (1, "bonferroni")])
def test_threshold_path_decides_one_dimensional_pairs_itself(monkeypatch, C, bound):
    # F.5: where p_B is a function of p_A (C = 2 by CP.2(N - s) = 1 - CP.1(s); complement; C = 1) two forward
    # tails per pair decide alpha*: the reference is not called, and the values are still the reference's
    # (computed afterwards, unpatched). Setting: Delta ~ 0.0215, so for C >= 2 the certifying threshold is
    # p_A ~ 0.511 and N_A in 150..300 of N = 300 spans alpha* from 1 through (floor, alpha) to the floor.
    N = 300
    if C == 1:  # p_B = 0: alpha* of a unanimous pixel for several N, one problem each
        cases = [(n, [(n, 0)]) for n in (3, 6, 10, 40)]
    else:
        cases = [(N, [(a, N - a if C == 2 else (N - a) // 2) for a in range(150, 301, 10)])]
    reached = set()
    for n_votes, pairs in cases:
        prob = refseg.segmentation_problem(465_750, Fraction(1, 1000), KITTI["n"], KITTI["k"], KITTI["r"],
                                           KITTI["attack"], "mmcert", None, 0, 0, bound)
        floor = refseg.holm_floor(prob.alpha, 465_750)
        calls = _count_reference_calls(monkeypatch)
        got = fastseg.alpha_stars(pairs, n_votes, C, prob, floor)
        assert calls == []
        monkeypatch.undo()
        problem = refseg.PixelProblem(n_votes, C, prob.sizes_masses, bound)
        want = [refseg.alpha_star(p, problem, prob.alpha, floor) for p in pairs]
        assert got == want
        reached |= {"one" if v == 1 else "floor" if v == floor else "between" for v in want}
    assert reached == {"one", "floor", "between"} or (C == 1 and "between" in reached)


def test_root_path_decides_two_dimensional_pairs_itself(monkeypatch):
    # F.5's general path (bonferroni / combined with C >= 3: p_B from N_B): float root + decisions at g, g - 1
    N, C = 300, 3
    pairs = [(290, 6), (280, 12), (250, 30), (240, 50), (200, 80), (150, 140)]
    for bound in ("bonferroni", "combined"):
        prob = refseg.segmentation_problem(200, Fraction(1, 100), [200, 200], [10, 10], [1, 1], "modify", "mmcert",
                                           None, 0, 0, bound)
        calls = _count_reference_calls(monkeypatch)
        got = fastseg.alpha_stars(pairs, N, C, prob)
        assert calls == [], bound
        monkeypatch.undo()
        want = [refseg.alpha_star(p, refseg.PixelProblem(N, C, prob.sizes_masses, bound), prob.alpha) for p in pairs]
        assert got == want, bound
        assert any(Fraction(0) < v < prob.alpha for v in want)


# --------------------------------------------------------------------------- several budgets in one call


@st.composite
def budget_lists(draw):
    """A threat model of threat_models() and 1-4 budgets r of its modalities (the first is its own r)."""
    kw, alpha = draw(threat_models())
    n, k, method = kw["n"], kw["k"], kw["method"]
    cap = [max(0, ni // max(k[0] if method == "ablation" else k[i], 1)) for i, ni in enumerate(n)]
    rs = [kw["r"]] + draw(st.lists(st.lists(st.integers(0, 4), min_size=len(n), max_size=len(n)), max_size=3))
    rs = [[min(x, c) for x, c in zip(r, cap)] for r in rs]
    return kw, alpha, rs


def _two_images():
    """A batch of two images of one N whose distinct pairs differ (each image indexes its own pairs)."""
    (a, la), (b, lb) = (_example(2, 100, (12, 15), kinds, seed)
                        for kinds, seed in ((["unanimous", "tie"], 5), (["confident", "uncertain", "mixed"], 6)))
    return np.stack([a, b]), np.stack([la, lb])


@given_with_examples(st.tuples(vote_images(), budget_lists()),
                     (EX_KITTI[0], (KITTI, Fraction(1, 1000), [[5, 5], [0, 0], [5, 5], [40, 1]])),
                     (_two_images(), (KITTI, Fraction(1, 1000), [[5, 5], [0, 0], [30, 1]])),
                     (EX_ADD[0], EX_ADD[1] + ([[2, 1], [0, 0], [3, 1]],)))
def test_segment_budgets_identical_to_the_reference_at_each_budget(case):
    # clause SEG.7: the multi-budget call shares the per-image work; each of its results must equal the
    # reference's result at that budget alone (masks, alpha*, metrics, JSON), duplicates and r = 0 included
    (votes, labels), (kw, alpha, rs) = case
    wants = []
    for r in rs:  # segmented_attack / r_o (SEG.5) stay the drawn ones: one value per call
        try:
            wants.append(refseg.segment(votes, alpha, labels=labels, **dict(kw, r=r)))
        except InvalidParameterError:
            assume(False)
    fixed = {key: v for key, v in kw.items() if key not in ("n", "k", "r", "attack", "method")}
    gots = fastseg.segment_budgets(votes, alpha, kw["n"], kw["k"], [(r, kw["attack"]) for r in rs], kw["method"],
                                   labels=labels, **fixed)
    event(f"budgets: {len(rs)}")
    assert len(gots) == len(wants)
    for want, got in zip(wants, gots):
        assert np.array_equal(got.certified_mask, want.certified_mask)
        for wi, gi in zip(want.images, got.images):
            assert np.array_equal(gi.pred, wi.pred)
            assert np.array_equal(gi.alpha_star, wi.alpha_star)
            assert gi.metrics == wi.metrics
        assert got.to_json() == want.to_json()


def test_segment_budgets_of_no_budget_is_empty_and_checks_the_votes():
    votes, labels = EX_KITTI[0]
    assert fastseg.segment_budgets(votes, Fraction(1, 1000), [10, 10], [1, 1], []) == []
    with pytest.raises(InvalidParameterError):
        fastseg.segment_budgets(votes.astype(np.float64), Fraction(1, 1000), [10, 10], [1, 1], [([0, 0], "modify")])


@pytest.mark.parametrize("limit", ["chunks", "keys"])
def test_segment_budgets_in_chunks_and_with_stacked_keys_is_unchanged(monkeypatch, limit):
    # the memory bound (one budget's codes at a time) and the int64-overflow fallbacks (pairs image by image,
    # confusion cells keyed by stacked columns) must not change any result: forced here on small inputs
    votes, labels = _two_images()
    budgets = [([5, 5], ["modify", "modify"]), ([0, 0], ["modify", "modify"]), ([30, 1], ["modify", "modify"])]
    args = (votes, Fraction(1, 1000), KITTI["n"], KITTI["k"], budgets, "mmcert")
    want = [r.to_json() for r in fastseg.segment_budgets(*args, labels=labels)]
    monkeypatch.setattr(fastseg, "CODE_MATRIX_ELEMENTS" if limit == "chunks" else "KEY_LIMIT", 1)
    got = fastseg.segment_budgets(*args, labels=labels)
    assert [r.to_json() for r in got] == want
    ref_first = refseg.segment(votes, Fraction(1, 1000), labels=labels, **dict(KITTI, r=[5, 5]))
    assert np.array_equal(got[0].certified_mask, ref_first.certified_mask) and got[0].to_json() == ref_first.to_json()
