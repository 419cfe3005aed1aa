"""The demo's acceptance checks (``demo.check``) on hand-made curves: they pass good curves and
report each kind of bad one (so the full demo's "passed" means something)."""

from __future__ import annotations

from reference_models.demo import Curve, TaskResult, check
from mmcert_verified.threat_model import Method


def _curve(method: Method, values, metric="certified_accuracy", c=1):
    steps = tuple(range(len(values)))
    return Curve("av", method, metric, c, steps, tuple((t, c * t) for t in steps), tuple(values))


def _task(*curves):
    return TaskResult("av", {}, 10, 0.0, tuple(curves))


def test_good_curves_pass():
    res = check([_task(_curve(Method.MMCERT, (0.9, 0.7, 0.7, 0.2)), _curve(Method.ABLATION, (0.9, 0.6, 0.3, 0.2)))])
    assert res["non_increasing"] == {"passed": True, "failures": []}
    assert res["mmcert_at_least_baseline"] == {"passed": True, "failures": []}


def test_a_rising_curve_is_reported():
    # 0.5 -> 0.6 rises by 0.1 (by hand): certification cannot grow with the budget (clause T1.5)
    res = check([_task(_curve(Method.MMCERT, (0.9, 0.5, 0.6)))])
    assert not res["non_increasing"]["passed"]
    assert len(res["non_increasing"]["failures"]) == 1


def test_mmcert_below_the_baseline_is_reported():
    # at t = 1, MMCert 0.5 < baseline 0.6 (by hand); t = 0 and t = 2 are fine
    res = check([_task(_curve(Method.MMCERT, (0.9, 0.5, 0.1)), _curve(Method.ABLATION, (0.9, 0.6, 0.1)))])
    assert not res["mmcert_at_least_baseline"]["passed"]
    assert res["mmcert_at_least_baseline"]["failures"] == ["av certified_accuracy r=[1, 1]: MMCert 0.5000 < baseline 0.6000"]
    assert res["non_increasing"]["passed"]
