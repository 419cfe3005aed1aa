"""Reference segmentation: alpha* (SEG.2), metrics (SEG.4-SEG.6), validation; hand-computed expectations."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.segmentation import (
    PixelProblem,
    alpha_star,
    certified_at_level,
    certified_metrics,
    grid_floor,
    grid_value,
    segment,
)
from mmcert_verified.reference.certify import certify
from mmcert_verified.reference.theorem1 import SubsampleMasses
from mmcert_verified.threat_model import Attack, Budget, Setting, attacked_sizes


def _problem(n, k, r, attack="modify", N=100, C=2):
    st = Setting(tuple(n), tuple(k))
    return PixelProblem(N, C, SubsampleMasses.of(attacked_sizes(st, Budget(tuple(r), attack))))


@pytest.mark.parametrize("pair", [(100, 0), (99, 1), (97, 3), (90, 10), (80, 20)])
def test_alpha_star_is_certifying_and_minimal_on_the_grid(pair):
    # SEG.2: the returned level certifies, the previous grid level does not (so never below the infimum,
    # and within a factor 1 + 2**-20 of it)
    prob = _problem([465750, 465750], [9000, 1000], [5, 5])
    a = alpha_star(pair, prob, Fraction(1, 10))
    if a == 1:
        assert not certified_at_level(pair, prob, Fraction(1, 10))
        return
    assert certified_at_level(pair, prob, a)
    i = grid_floor(float(a))
    assert grid_value(i) == a
    assert not certified_at_level(pair, prob, grid_value(i - 1))


@pytest.mark.parametrize("pair,C", [((100, 0), 2), ((97, 3), 2), ((95, 3), 3), ((90, 5), 7)])
def test_pixel_decision_is_the_classification_decision(pair, C):
    # SEG.1: a pixel with votes (N_A, N_B) is certified at level a exactly when the classification
    # engine (clause CP.4: bounds at a / C over all C labels) certifies the count vector
    # (N_A, N_B, rest): checked at the pixel's alpha* and at the grid level just below it, where the
    # answers differ, so a pixel rule that forgets the / C (or uses another level) disagrees.
    n, k, r = [465750, 465750], [9000, 1000], [5, 5]
    N = 100
    prob = _problem(n, k, r, N=N, C=C)
    counts = [pair[0], pair[1]] + [0] * (C - 2)
    counts[-1] += N - sum(counts)  # the rest goes to the last label (never above N_B here)
    assert max(counts[2:], default=0) <= pair[1] or C == 2
    a = alpha_star(pair, prob, Fraction(1, 10))
    assert a < Fraction(1, 10)
    below = grid_value(grid_floor(float(a)) - 1)
    for level, want in ((a, True), (below, False)):
        assert certified_at_level(pair, prob, level) is want
        assert certify(counts, level, n, k, r, "modify").certified is want


def test_alpha_star_is_minimal_even_when_the_float_guess_is_poor(monkeypatch):
    # SEG.2: the float guess only says where to start; the answer is confirmed on the grid. With the
    # guess planted 16 times too high (or too low) the answer is the same smallest certifying level.
    import mmcert_verified.reference.segmentation as refseg

    prob = _problem([465750, 465750], [9000, 1000], [5, 5])
    pairs = [(100, 0), (99, 1), (97, 3)]
    want = [alpha_star(p, prob, Fraction(1, 10)) for p in pairs]
    real = refseg._float_guess
    for scale in (16.0, 1 / 16):
        monkeypatch.setattr(refseg, "_float_guess", lambda *args, _s=scale: real(*args) * _s)
        got = [alpha_star(p, prob, Fraction(1, 10)) for p in pairs]
        assert got == want, scale
    for p, a in zip(pairs, want):
        assert certified_at_level(p, prob, a)
        assert not certified_at_level(p, prob, grid_value(grid_floor(float(a)) - 1))


def test_alpha_star_is_one_when_not_certified_at_alpha():
    # 60/40 votes cannot satisfy p_A - p_B > 2(1 - P_e/P_n) ~ 0.19 at any alpha <= 0.001 (p_A <= 0.6)
    prob = _problem([465750, 465750], [9000, 1000], [5, 5])
    assert alpha_star((60, 40), prob, Fraction(1, 1000)) == 1


def test_grid_roundtrip():
    for x in [1e-300, 3.2e-6, 0.001, 0.5, 0.9999]:
        i = grid_floor(x)
        assert grid_value(i) <= Fraction(x) < grid_value(i + 1)


def test_worked_example_matches_docs():
    # docs/segmentation.md: numbers derived there by hand (Holm table, TP/FP/FN counts)
    na = np.array([[100, 99, 97, 60], [100, 100, 95, 55], [98, 100, 90, 50]])
    counts = np.stack([100 - na, na])
    labels = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    res = segment(counts, "0.001", [12, 12], [3, 2], [1, 1], "modify", labels=labels).to_json()
    assert res["certified_pixels"] == 5 and res["abstained_pixels"] == 7
    assert res["per_class"]["f_score"] == [0.0, 10 / 17]  # class 1: 2*5/(2*5 + 6 + 1)
    assert res["per_class"]["iou"] == [0.0, 5 / 12]  # 5/(5 + 6 + 1)
    assert res["pixel_accuracy"] == 5 / 12


def test_metrics_hand_computed_add_and_delete():
    # 2x3 image, all stable except pixel (1,2); pred/labels chosen so that class 1 has TP=2, FP=1, FN: see below
    pred = np.array([1, 1, 1, 0, 0, 0])
    lab = np.array([1, 1, 0, 0, 1, 1])
    stable = np.array([True, True, True, True, True, False])
    # class 1: TP = #(stable, pred 1, y 1) = 2; TN = #(stable, pred 0, y 0) = 1 (pixel 3);
    #          FP = #pred1 - TP = 3 - 2 = 1; FN = #pred0 - TN = 3 - 1 = 2
    # class 0: TP = 1 (pixel 3); TN = 2 (pixels 0, 1); FP = 3 - 1 = 2; FN = 3 - 2 = 1
    m = certified_metrics(pred, lab, stable, 2)
    assert m.pixel_accuracy == 3 / 6  # stable & correct: pixels 0, 1, 3
    assert m.per_class_f_score == (2 * 1 / (2 * 1 + 2 + 1), 2 * 2 / (2 * 2 + 1 + 2))
    assert m.per_class_iou == (1 / (1 + 3), 2 / (2 + 3))
    add = certified_metrics(pred, lab, stable, 2, Attack.ADD, 2)
    assert add.pixel_accuracy == 3 / 8
    assert add.per_class_iou == (1 / (1 + 3 + 2), 2 / (2 + 3 + 2))
    dele = certified_metrics(pred, lab, stable, 2, Attack.DELETE, 2)
    assert dele.pixel_accuracy == 1 / 4  # (3 - 2) / (6 - 2)
    # class 0: TP' = max(1 - 2, 0) = 0 -> F = IoU = 0 (clamped, deviation D6); class 1: TP' = 0 as well
    assert dele.per_class_f_score == (0.0, 0.0)


def test_absent_class_convention():
    # SEG.6: class 2 absent from prediction and truth, every pixel stable: TP = FP = FN = 0 -> 1 by convention
    pred = np.array([0, 1, 0, 1])
    lab = np.array([0, 1, 0, 1])
    m = certified_metrics(pred, lab, np.ones(4, bool), 3)
    assert m.per_class_f_score == (1.0, 1.0, 1.0) and m.pixel_accuracy == 1.0


def test_batch_means_and_totals():
    na = np.array([[100, 99], [60, 100]])
    img = np.stack([100 - na, na])
    batch = np.stack([img, img[:, ::-1]])
    labels = np.ones((2, 2, 2), dtype=np.int64)
    res = segment(batch, "0.01", [4, 4], [1, 1], [0, 0], "modify", labels=labels).to_json()
    singles = [segment(batch[b], "0.01", [4, 4], [1, 1], [0, 0], "modify", labels=labels[b]).to_json() for b in range(2)]
    assert res["certified_pixels"] == sum(s["certified_pixels"] for s in singles)
    assert res["pixel_accuracy"] == pytest.approx(np.mean([s["pixel_accuracy"] for s in singles]), abs=0)
    assert [im["certified_pixels"] for im in res["images"]] == [s["certified_pixels"] for s in singles]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(counts=np.ones((2, 3, 3))), "integer"),
        (dict(counts=np.array([[[1, 2]], [[3, 3]]])), "same N"),
        (dict(labels=np.full((3, 3), 5)), "labels must lie"),
        (dict(labels=np.zeros((2, 2), dtype=np.int64)), "do not match"),
        (dict(segmented_attack="add", r_o=1), "disagrees"),
        (dict(k=[13, 1]), "exceeds"),
    ],
)
def test_bad_input_raises_precise_errors(kwargs, message):
    args = dict(counts=np.stack([np.full((3, 3), 90), np.full((3, 3), 10)]), alpha="0.01", n=[12, 12], k=[2, 2],
                r=[1, 1], attack="modify", labels=None)
    args.update(kwargs)
    with pytest.raises(InvalidParameterError, match=message):
        segment(**args)


# --------------------------------------------------------------------------- bound methods (issue 14)

BOUNDS = ["bonferroni", "complement", "combined"]


@pytest.mark.parametrize("bound", BOUNDS)
@pytest.mark.parametrize("pair,C", [((97, 3), 2), ((95, 3), 3), ((90, 5), 4)])
def test_pixel_decision_is_the_classification_decision_for_every_method(pair, C, bound):
    # SEG.1 with a method: certified at level a exactly when the classification engine with the same
    # method (CP.5, reference/certify.certify(bound=)) certifies the vote vector (N_A, N_B, rest), at the
    # pixel's alpha* and one grid level below, where the answers differ
    n, k, r = [465750, 465750], [9000, 1000], [5, 5]
    N = 100
    st_ = Setting(tuple(n), tuple(k))
    prob = PixelProblem(N, C, SubsampleMasses.of(attacked_sizes(st_, Budget(tuple(r), "modify"))), bound)
    counts = [pair[0], pair[1]] + [0] * (C - 2)
    counts[-1] += N - sum(counts)
    a = alpha_star(pair, prob, Fraction(1, 10))
    assert a < Fraction(1, 10)
    below = grid_value(grid_floor(a) - 1)
    for level, want in ((a, True), (below, False)):
        assert certified_at_level(pair, prob, level) is want
        assert certify(counts, level, n, k, r, "modify", bound=bound).certified is want


@pytest.mark.parametrize("bound", BOUNDS)
def test_certification_is_monotone_in_the_level_for_every_method(bound):
    # SEG.1: for each method the decision over increasing levels is False ... False True ... True (checked
    # exactly at 12 levels spanning 5e-24 .. 0.5; the bonferroni alpha* of these pairs are about 2e-22,
    # 2e-16, 5e-9 and 4e-6, so the decision switches inside the range)
    levels = [Fraction(1, 2 * 10**e) for e in range(23, 0, -2)]
    switches = 0
    for pair, C in (((100, 0), 2), ((95, 3), 3), ((85, 10), 3), ((80, 15), 3)):
        prob = _problem([465750, 465750], [9000, 1000], [5, 5], C=C)
        prob = PixelProblem(prob.total, C, prob.masses, bound)
        seq = [certified_at_level(pair, prob, lv) for lv in levels]
        assert seq == sorted(seq), (pair, C, seq)
        switches += 0 < sum(seq) < len(seq)
    assert switches >= 3  # the levels reach both answers for most pairs


def test_complement_alpha_star_ignores_n_b_and_c():
    # CP.6: p_B = 1 - p_A and p_A at a/2 for every C >= 2, so alpha* depends on N_A alone (an identity of
    # the method, independent of the code's branches); bonferroni's does not (p_B from N_B at a/C)
    base = _problem([465750, 465750], [9000, 1000], [5, 5])
    comp = [alpha_star(p, PixelProblem(100, C, base.masses, "complement"), Fraction(1, 10))
            for p, C in (((95, 5), 2), ((95, 3), 3), ((95, 1), 7))]
    assert comp[0] == comp[1] == comp[2] < Fraction(1, 10)
    bonf = [alpha_star(p, PixelProblem(100, C, base.masses), Fraction(1, 10)) for p, C in (((95, 3), 3), ((95, 1), 7))]
    assert bonf[0] != bonf[1]


def test_c2_methods_agree_by_symmetry():
    # C = 2: N_B = N - N_A and CP.2(N - s) = 1 - CP.1(s) (true quantiles), and every method takes p_A at a/2:
    # bonferroni, complement and combined give one alpha* (up to 40-digit rounding, which no grid level
    # straddles here)
    base = _problem([465750, 465750], [9000, 1000], [5, 5])
    for pair in ((100, 0), (99, 1), (97, 3), (90, 10)):
        got = {alpha_star(pair, PixelProblem(100, 2, base.masses, b), Fraction(1, 10)) for b in BOUNDS}
        assert len(got) == 1, (pair, got)


def test_segment_records_the_method_additively():
    # CP.5: the result carries the method; the JSON gains bound / alpha_split only for a non-default method
    na = np.array([[100, 99], [95, 60]])
    counts = np.stack([100 - na, na])
    default = segment(counts, "0.01", [12, 12], [3, 2], [1, 1], "modify")
    comp = segment(counts, "0.01", [12, 12], [3, 2], [1, 1], "modify", bound="complement")
    assert default.bound == "bonferroni" and comp.bound == "complement"
    assert "bound" not in default.to_json() and "alpha_split" not in default.to_json()
    doc = comp.to_json()
    assert doc["bound"] == "complement"
    assert doc["alpha_split"] == {"rule": "complement", "parts": 2, "level": "0.005"}  # alpha/2 at alpha = 0.01
    assert {k: v for k, v in doc.items() if k not in ("bound", "alpha_split", "certified_pixels", "abstained_pixels")} \
        == {k: v for k, v in default.to_json().items() if k not in ("certified_pixels", "abstained_pixels")}
    with pytest.raises(InvalidParameterError, match="unknown bound method"):
        segment(counts, "0.01", [12, 12], [3, 2], [1, 1], "modify", bound="holm")
