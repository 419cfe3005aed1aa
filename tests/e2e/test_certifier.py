"""The certifier: streamed votes, per-input determinism (SAMP.3), certificates equal the engines'."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import e2e_toy as toy
from mmcert_verified.pipeline.certifier import (
    Certifier,
    Task,
    certify_classification_counts,
    certify_segmentation_counts,
)
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.certify import certify as ref_certify
from mmcert_verified.reference.segmentation import segment as ref_segment
from mmcert_verified.sampling import SamplingPlan
from mmcert_verified.threat_model import Budget, Method

PLAN = SamplingPlan(toy.MODALITIES, (3, 5), Method.MMCERT)
POOLED = SamplingPlan(toy.MODALITIES, (8,), Method.ABLATION)
BUDGETS = (Budget((0, 0), "modify"), Budget((1, 1), "modify"), Budget((1, 3), "modify"), Budget((2, 8), "modify"))


def certifier(plan=PLAN, **kw) -> Certifier:
    kw.setdefault("n_samples", 50)
    kw.setdefault("batch_size", 16)
    return Certifier(toy.classifier(), plan, Task.CLASSIFICATION, toy.CLASSES, **kw)


def test_votes_total_n_and_stream_in_batches():
    c = certifier(n_samples=50, batch_size=16)
    counts = c.votes(toy.clips()[0][0], 0)
    assert counts.shape == (toy.CLASSES,) and counts.sum() == 50
    assert c.model.calls == 4  # ceil(50 / 16) batches
    assert c.model.max_batch == 16  # never more than one batch of sub-samples at a time


@pytest.mark.parametrize("plan", [PLAN, POOLED], ids=["mmcert", "ablation"])
def test_an_input_rerun_alone_gets_the_same_votes(plan):
    """SAMP.3: votes of input i depend on (seed, i), not on what ran before or on the batch size (CPU)."""
    data = toy.clips()
    c = certifier(plan, seed=11)
    in_order = [c.votes(data[i][0], i) for i in range(len(data))]
    alone = certifier(plan, seed=11, batch_size=7).votes(data[6][0], 6)
    assert np.array_equal(alone, in_order[6])
    other_seed = [certifier(plan, seed=12).votes(data[i][0], i) for i in range(len(data))]
    assert any(not np.array_equal(a, b) for a, b in zip(in_order, other_seed))


def test_votes_vary_between_inputs_with_the_same_data():
    """Distinct indices draw distinct sub-samples: the same input under two indices votes differently."""
    c = certifier(n_samples=200)
    x = toy.clips()[4][0]
    assert not np.array_equal(c.votes(x, 0), c.votes(x, 1))


def test_classification_certificate_equals_the_reference_engine():
    data = toy.clips()
    c = certifier()
    for i in range(len(data)):
        inputs, label = data[i]
        cert = c.certify(inputs, i, "0.01", BUDGETS, label=label)
        counts = c.votes(inputs, i)
        assert list(cert.counts) == counts.tolist()
        for b, v in zip(BUDGETS, cert.verdicts):
            ref = ref_certify(counts.tolist(), "0.01", (12, 30), (3, 5), b.r, b.attack, Method.MMCERT)
            assert v.certified == ref.certified and cert.prediction == ref.label
        assert cert.certified_correct() == tuple(v.certified and cert.prediction == label for v in cert.verdicts)


def test_certified_is_monotone_in_the_budget():
    data = toy.clips()
    c = certifier(n_samples=100)
    for i in range(len(data)):
        flags = [v.certified for v in c.certify(data[i][0], i, "0.01", BUDGETS).verdicts]
        assert flags == sorted(flags, reverse=True)  # BUDGETS grow componentwise


def test_segmentation_votes_and_certificate():
    scenes = toy.scenes()
    plan = SamplingPlan(toy.SEG_MODALITIES, (30, 6), Method.MMCERT)
    c = Certifier(toy.segmenter(), plan, "segmentation", 2, n_samples=40, batch_size=15, seed=3)
    inputs, labels = scenes[1]
    counts = c.votes(inputs, 1)
    assert counts.shape == (2, 6, 8) and np.all(counts.sum(0) == 40)
    budgets = (Budget((0, 0), "modify"), Budget((1, 2), "modify"))
    cert = c.certify(inputs, 1, "0.05", budgets, label=labels, engine=ref_segment)
    for b, v in zip(budgets, cert.verdicts):
        doc = ref_segment(counts, "0.05", (48, 48), (30, 6), b.r, attack="modify", labels=labels.numpy()).to_json()
        assert v.certified_pixels == doc["certified_pixels"]
        assert v.pixel_accuracy == doc["pixel_accuracy"] and v.iou == doc["iou"] and v.f_score == doc["f_score"]


def test_segmentation_batch_equals_image_by_image():
    plan = SamplingPlan(toy.SEG_MODALITIES, (30, 6), Method.MMCERT)
    c = Certifier(toy.segmenter(), plan, "segmentation", 2, n_samples=40, batch_size=40)
    scenes = toy.scenes()
    counts = np.stack([c.votes(scenes[i][0], i) for i in range(len(scenes))])
    labels = scenes.labels.numpy()
    budgets = (Budget((0, 0), "modify"), Budget((1, 1), "modify"))
    batch = certify_segmentation_counts(counts, "0.05", plan, budgets, labels=labels, engine=ref_segment)
    for i in range(len(scenes)):
        single = certify_segmentation_counts(counts[i], "0.05", plan, budgets, labels=labels[i], engine=ref_segment)[0]
        assert batch[i] == single


def test_wrong_inputs_are_user_errors():
    c = certifier()
    with pytest.raises(InvalidParameterError):
        c.votes((torch.zeros(1, 12),), 0)
    with pytest.raises(InvalidParameterError):
        c.votes((torch.zeros(1, 13), torch.zeros(1, 30)), 0)
    with pytest.raises(InvalidParameterError):
        certifier(n_samples=0)
    with pytest.raises(InvalidParameterError):
        certify_classification_counts([0, 0, 0], "0.01", PLAN, BUDGETS)  # no votes at all


def test_multi_budget_engine_calls_are_bounded_and_change_no_verdict(monkeypatch):
    # certify_segmentation_counts hands a multi-budget engine (fast segment.budgets) a bounded number of
    # budgets per call (every result holds its masks); the verdicts equal the reference's one call per budget
    import mmcert_verified.pipeline.certifier as certifier_module
    from mmcert_verified.fast.segmentation import segment as fast_segment
    from mmcert_verified.sampling import Modality
    from segmentation_votes import two_class_votes

    counts, labels = two_class_votes(11, 6, 8, 100, 0.9)
    plan = SamplingPlan((Modality.image("rgb", 3, 6, 8), Modality.image("depth", 1, 6, 8)), (4, 2))
    budgets = tuple(Budget((t, t), "modify") for t in (0, 1, 3, 6))
    want = certify_segmentation_counts(counts, "0.01", plan, budgets, labels=labels, engine=ref_segment)
    calls = []

    def counted(*args, **kwargs):
        calls.append(len(args[4]))
        return fast_segment.budgets(*args, **kwargs)

    def engine(*args, **kwargs):  # pragma: no cover - the budgets entry point is used instead
        raise AssertionError("the one-budget entry point was called")

    engine.budgets = counted
    assert certify_segmentation_counts(counts, "0.01", plan, budgets, labels=labels, engine=engine) == want
    assert calls == [4]  # 48 pixels: all four budgets in one call
    monkeypatch.setattr(certifier_module, "SEGMENTATION_RESULT_PIXELS", 100)  # two budgets' results per call
    calls.clear()
    assert certify_segmentation_counts(counts, "0.01", plan, budgets, labels=labels, engine=engine) == want
    assert calls == [2, 2]
    # lazy: a chunk's results are computed when they are reached, so only one chunk's masks are alive at once
    results = certifier_module.segmentation_results(counts, "0.01", plan, budgets, labels=labels, engine=engine)
    calls.clear()
    assert next(results)[0] == budgets[0] and calls == [2]
    assert [b for b, _ in results] == list(budgets[1:]) and calls == [2, 2]
    assert any(v.certified_pixels for v in want[0]) and not all(v.certified_pixels == 48 for v in want[0])
