"""The segmentation falsification harness (ATK.9-10): per-pixel sign tests with Holm across the
certified pixels find no violation of the sound certifier on the road model, and catch a
deliberately unsound certifier that ignores the budget."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from mmcert_verified.attacks.harness import sign_test_p_value
from mmcert_verified.attacks.pixel import PixelElementAttack, pixel_margins
from mmcert_verified.attacks.segmentation_harness import SegmentationHarness, holm_rejections, pixel_p_values
from mmcert_verified.sampling import Modality, SamplingPlan
from mmcert_verified.threat_model import Budget
from attack_helpers import one_thread as _one_thread  # noqa: F401 (autouse fixture)


class GlobalMeanSegmenter(torch.nn.Module):
    """(B, 2, 4, 4) [value, mask] -> per-pixel scores (-s_j, s_j), s_j = mean of the kept values - 0.5 + w_j,
    w_j = linspace(-0.2, 0.2) over the 16 pixels.  A clean image of 0.9s gives s_j in [0.2, 0.6] on every
    sub-sample (label 1 everywhere, unanimous); every value at the default box's low end -0.1 (a constant
    input's box is its value -+ 1, element.default_box) gives s_j <= -0.4 (label 0 everywhere)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v, m = x[:, 0], x[:, 1]
        mean = (v * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1)
        s = mean.view(-1, 1, 1) - 0.5 + torch.linspace(-0.2, 0.2, 16).view(1, 4, 4)
        return torch.stack([-s, s], dim=1)


def ignore_budget(counts, alpha, n, k, r, attack, method):
    """Deliberately unsound: certifies what the r = 0 certificate certifies, whatever the budget."""
    from mmcert_verified.fast.segmentation import segment

    return segment(counts, alpha, n, k, [0] * len(r), attack, method)


def test_pixel_p_values_and_holm_are_exact():
    # votes (C = 3, 2 pixels); labels A = (0, 1)
    counts = np.array([[2, 1], [10, 12], [0, 0]])
    p = pixel_p_values(counts, np.array([0, 1]), np.array([True, True]))
    # pixel 0: the worst runner-up is B = 1 (10 votes against 2); Bonferroni factor C - 1 = 2;
    # by hand P(Bin(12, 1/2) >= 10) = (C(12,10) + C(12,11) + C(12,12)) / 2^12 = 79 / 4096
    assert p[0] == 2 * min(sign_test_p_value(10, 2), sign_test_p_value(0, 2)) == Fraction(158, 4096)
    # pixel 1: B = 0 has 1 vote against 12: 2 * (1 - 2^-13) > 1 is capped at 1
    assert p[1] == 1
    assert pixel_p_values(counts, np.array([0, 1]), np.array([False, True])).keys() == {1}
    # Holm at 0.05 over m = 3: sorted 0.01 <= 0.05/3 rejects, then 0.03 > 0.05/2 stops
    values = {7: Fraction(3, 100), 8: Fraction(1, 100), 9: Fraction(1, 2)}
    assert holm_rejections(values, 0.05) == (8,)
    # equal values pass or fail together: 0.02 * 2 <= 0.05 rejects both (m = 2)
    assert holm_rejections({1: Fraction(2, 100), 2: Fraction(2, 100)}, 0.05) == (1, 2)
    assert holm_rejections({}, 0.05) == ()


def test_pixel_margins():
    counts = np.array([[[7, 2]], [[3, 8]]])  # (C = 2, 1, 2)
    assert pixel_margins(counts, np.array([[0, 0]])).tolist() == [0.4, -0.6]  # (7-3)/10, (2-8)/10


def test_toy_harness_catches_budget_ignoring_certifier_and_not_the_sound_one():
    from mmcert_verified.fast.segmentation import segment

    plan = SamplingPlan((Modality.image("img", 1, 4, 4),), (4,))
    model = GlobalMeanSegmenter()
    x = (torch.full((1, 4, 4), 0.9),)
    truth = np.ones((4, 4), dtype=np.int64)
    atk = PixelElementAttack(model, plan, 2, restarts=1, steps=8, samples=16, eval_votes=40, seed=0)
    harness = SegmentationHarness(model, plan, 2, n_certify=50, n_attack=60, alpha="0.01", beta=0.01)
    budgets = [Budget((16,), "modify")]  # every element may change
    bad = harness.run([x], [truth], budgets, atk, certifier=ignore_budget)
    f = bad.findings[0]
    assert f.certified_pixels == 16  # 50 of 50 votes for label 1 at every pixel: certified at r = 0
    assert f.certified_kept == 0 and len(f.violations) == 16  # the attack flips every pixel; Holm rejects all
    good = harness.run([x], [truth], budgets, atk, certifier=segment)
    assert good.findings[0].certified_pixels == 0 and not good.violations  # r = n: nothing is certifiable


def _road(count: int):
    from reference_models import road
    from reference_models.road_data import test_set

    model, plan = road.pretrained("mmcert"), SamplingPlan(road.MODALITIES, (100, 5))  # road_mmcert.toml's k
    data = test_set(count)
    return model, plan, [data[i][0] for i in range(count)], [data[i][1].numpy() for i in range(count)]


def test_no_violation_on_road_model_small():
    """One road scene, r = (2, 4) and (10, 20) (both certify most pixels), 300 attacked votes (about 5 s)."""
    from mmcert_verified.fast.segmentation import segment

    model, plan, inputs, labels = _road(1)
    budgets = [Budget((2, 4), "modify"), Budget((10, 20), "modify")]
    atk = PixelElementAttack(model, plan, 2, restarts=1, steps=3, samples=32, eval_votes=100, seed=0)
    report = SegmentationHarness(model, plan, 2, n_certify=100, n_attack=300).run(
        inputs, labels, budgets, atk, certifier=segment)
    assert not report.violations
    for s in report.summaries:
        assert s.empirical_robust_accuracy >= s.certified_accuracy
    assert all(f.certified_pixels > 0 for f in report.findings)  # the test reaches certified pixels


@pytest.mark.slow
def test_no_violation_on_road_model_larger():
    """Six road scenes, r = t * (1, 2) for t = 1, 4, 8, 12 (the largest budgets that still certify
    pixels; none at t = 15 on scene 0), 2 restarts of 10 steps, 1000 attacked votes, reference engine."""
    model, plan, inputs, labels = _road(6)
    budgets = [Budget((t, 2 * t), "modify") for t in (1, 4, 8, 12)]
    atk = PixelElementAttack(model, plan, 2, restarts=2, steps=10, samples=64, eval_votes=100, seed=0)
    report = SegmentationHarness(model, plan, 2, n_certify=100, n_attack=1000).run(inputs, labels, budgets, atk)
    assert not report.violations
    for s in report.summaries:
        assert s.empirical_robust_accuracy >= s.certified_accuracy
    assert any(f.certified_pixels for f in report.findings if f.r == (12, 24))


@pytest.mark.slow
def test_road_harness_catches_budget_ignoring_certifier():
    """At r = (30, 60) nothing is certifiable on scene 0, but the unsound certifier claims the r = 0
    pixels; the attack flips at least one of them and Holm rejects it (measured: 1 pixel, p ~ 1.7e-12)."""
    model, plan, inputs, labels = _road(1)
    atk = PixelElementAttack(model, plan, 2, restarts=2, steps=5, samples=32, eval_votes=100, seed=0)
    report = SegmentationHarness(model, plan, 2, n_certify=100, n_attack=300).run(
        inputs, labels, [Budget((30, 60), "modify")], atk, certifier=ignore_budget)
    assert report.violations
