"""Add and delete element attacks on variable-size (order-invariant set) models (ATK.13): the
insert/delete geometry, S(M, R) membership, the exact harness catching Theorem 1 with >= (D2) under
addition and deletion, and no violation of the sound certifier by Monte Carlo."""

from __future__ import annotations

import pytest
import torch

from mmcert_verified.attacks.harness import ExactHarness, MonteCarloHarness
from mmcert_verified.attacks.variable_size import (
    VariableSizeElementAttack, delete_elements, insert_elements, resized_plan,
)
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import Modality, SamplingPlan
from mmcert_verified.threat_model import Budget
from attack_helpers import non_strict, one_thread as _one_thread, sound  # noqa: F401 (autouse fixture)


class NearestValue(torch.nn.Module):
    """Order-invariant set classifier on (B, 2, n) [values, mask], any n: label c in {0, 1} scores
    -sum over kept elements of (value - c)^2 (with k = 1: the kept value rounded)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v, m = x[:, 0], x[:, 1]
        return torch.stack([-(((v - c) ** 2) * m).sum(1) for c in (0.0, 1.0)], dim=1)


def test_insert_and_delete_elements():
    m = Modality.points("p", 4, 2)  # elements along dim 0, two features each
    x = torch.arange(8.0).view(4, 2)
    ins = insert_elements(m, x, torch.tensor([0, 3]), torch.tensor([[90.0, 91.0], [80.0, 81.0]]))
    # the new rows sit at positions 0 and 3 of the result, the old rows keep their order around them
    assert ins.tolist() == [[90, 91], [0, 1], [2, 3], [80, 81], [4, 5], [6, 7]]
    assert delete_elements(m, x, [1, 2]).tolist() == [[0, 1], [6, 7]]
    assert resized_plan(SamplingPlan((m,), (2,)), (ins,)).n == (6,)
    with pytest.raises(InvalidParameterError):  # only the element dimension may change
        resized_plan(SamplingPlan((m,), (2,)), (torch.zeros(4, 3),))


@pytest.mark.parametrize("values, attack", [
    # n = 3, k = 1, M = (1, 1, 0): p_1 = 2/3; adding one 0 gives 2/4 = 2/4, a tie that argmax gives to 0.
    # Theorem 1 for addition: p'_A >= (2/3)(3/4) = 1/2 and p'_B <= (1/3)(3/4) + 1/4 = 1/2 -- ">=" certifies.
    ([1.0, 1.0, 0.0], "add"),
    # n = 5, k = 1, M = (1, 1, 1, 0, 0): p_1 = 3/5; deleting one 1 gives 2/4 = 2/4, the same tie.
    # Theorem 1 for deletion: p'_A >= (3/5 - 1/5)/(4/5) = 1/2, p'_B <= (2/5)/(4/5) = 1/2 -- ">=" certifies.
    ([1.0, 1.0, 1.0, 0.0, 0.0], "delete"),
])
def test_exact_harness_catches_non_strict_theorem1_under_add_and_delete(values, attack):
    plan = SamplingPlan((Modality.sequence("s", 1, len(values)),), (1,))
    x = torch.tensor([values])
    atk = VariableSizeElementAttack(NearestValue(), plan, 2, restarts=2, steps=10, eval_votes=64, seed=0,
                                    boxes=[(0.0, 1.0)])
    harness = ExactHarness(NearestValue(), plan, 2)
    budgets = [Budget((1,), attack)]
    bad = harness.run([(x,)], [1], budgets, atk, non_strict)
    assert bad.findings[0].certified and len(bad.violations) == 1
    good = harness.run([(x,)], [1], budgets, atk, sound)
    assert not good.findings[0].certified and not good.violations


def test_attacked_input_is_in_the_threat_model():
    plan = SamplingPlan((Modality.sequence("a", 1, 6), Modality.sequence("b", 1, 5)), (2, 2))
    x = (torch.rand(1, 6, generator=torch.Generator().manual_seed(0)),
         torch.rand(1, 5, generator=torch.Generator().manual_seed(1)))
    atk = VariableSizeElementAttack(NearestValue2(), plan, 2, restarts=2, steps=2, eval_votes=20, seed=3)
    res = atk(x, 0, Budget((2, 1), ("add", "delete")))
    a, b = res.inputs
    assert a.shape == (1, 8) and b.shape == (1, 4)
    # addition keeps the clean elements in order; deletion removes exactly the listed elements
    kept = [i for i in range(8) if i not in res.positions[0]]
    assert torch.equal(a[:, kept], x[0])
    assert torch.equal(b, x[1][:, [i for i in range(5) if i not in res.positions[1]]])
    again = atk(x, 0, Budget((2, 1), ("add", "delete")))
    assert all(torch.equal(p, q) for p, q in zip(res.inputs, again.inputs))  # deterministic for a seed


class NearestValue2(torch.nn.Module):
    """NearestValue over two set modalities (their scores added)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return NearestValue()(a) + NearestValue()(b)


def test_monte_carlo_harness_no_violation_under_add_and_delete():
    """20 elements, 16 of them 1 and 4 of them 0, k = 3: the ensemble votes label 1 when 2 or 3 kept values
    are ones, p_1 = (C(16,3) + 4 C(16,2)) / C(20,3) = 1040/1140 ~ 0.91 (hypergeometric); every budget here is
    certified from 300 votes (measured), and adding two zeros leaves p'_1 = 1280/1540 ~ 0.83 at worst."""
    plan = SamplingPlan((Modality.sequence("s", 1, 20),), (3,))
    g = torch.Generator().manual_seed(0)
    inputs = [(torch.tensor([[1.0] * 16 + [0.0] * 4])[:, torch.randperm(20, generator=g)],) for _ in range(2)]
    budgets = [Budget((1,), "add"), Budget((2,), "add"), Budget((1,), "delete"), Budget((2,), "delete")]
    atk = VariableSizeElementAttack(NearestValue(), plan, 2, restarts=2, steps=5, eval_votes=100, seed=0,
                                    boxes=[(0.0, 1.0)])
    report = MonteCarloHarness(NearestValue(), plan, 2, n_certify=300, n_attack=400).run(inputs, [1, 1], budgets, atk)
    assert not report.violations
    assert any(f.certified for f in report.findings)  # the test reaches certified budgets
    assert len(report.summaries) == 4 and all(s.inputs == 2 for s in report.summaries)  # add and delete apart
    for s in report.summaries:
        assert s.empirical_robust_accuracy >= s.certified_accuracy


def _av_run(count: int, budgets, restarts: int, steps: int, n_attack: int):
    from reference_models import av
    from reference_models.av_data import test_set

    model, plan = av.pretrained("mmcert"), SamplingPlan(av.MODALITIES, (2, 4))
    data = test_set(70)
    inputs = [(data.video[i], data.audio[i]) for i in range(count)]
    labels = [int(data.labels[i]) for i in range(count)]
    atk = VariableSizeElementAttack(model, plan, 7, restarts=restarts, steps=steps, samples=64, eval_votes=100,
                                    candidates=8, seed=0)
    return MonteCarloHarness(model, plan, 7, n_certify=100, n_attack=n_attack).run(inputs, labels, budgets, atk)


def test_av_reference_model_audio_add_and_delete():
    """The AV model mean-pools audio samples over any length (reference_models/av_model.py), so its audio
    modality takes additions and deletions; video frames are reshaped to a fixed count (modify only)."""
    report = _av_run(1, [Budget((1, 4), ("modify", "add")), Budget((1, 4), ("modify", "delete"))], 1, 3, 200)
    assert not report.violations
    assert all(f.certified for f in report.findings)  # measured: both budgets certified on clip 0
    for s in report.summaries:
        assert s.empirical_robust_accuracy >= s.certified_accuracy


@pytest.mark.slow
def test_av_reference_model_audio_add_and_delete_larger():
    budgets = [Budget((t, 4 * t), ("modify", kind)) for t in (1, 3, 6) for kind in ("add", "delete")]
    report = _av_run(10, budgets, 2, 10, 1000)
    assert not report.violations
    for s in report.summaries:
        assert s.empirical_robust_accuracy >= s.certified_accuracy
