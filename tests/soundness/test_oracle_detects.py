"""Clause NP.2: the ground-truth oracle reports planted errors (so "zero violations" means something).

The soundness tests assert that the oracle finds no violation; an oracle that never reports anything
would pass them too. Here a wrong certificate or a wrong worst case is planted (monkeypatched into
the oracle's module) on instances where the truth is known by hand, and each of the oracle's checks
must report it.
"""

from __future__ import annotations

from fractions import Fraction

import mmcert_verified.enumeration.ground_truth as gt
from mmcert_verified.enumeration.classifiers import TriggerClassifier
from mmcert_verified.enumeration.neyman_pearson import WorstCase
from mmcert_verified.reference.theorem1 import Theorem1Decision
from mmcert_verified.threat_model import Budget, Setting

# test_ground_truth.py::test_equality_in_theorem1_would_be_unsound: n = 4, k = 1, modify r = 1,
# M = (0, 0, 0, 1), g votes 1 when the kept value is 0: A = 1, p_A = 3/4, p_B = 1/4; Theorem 1 does
# not certify (a - b = threshold = 2), and M' = (0, 0, 1, 1) is a 2-2 tie the ensemble gives to 0 != A.
SETTING, BUDGET = Setting((4,), (1,)), Budget((1,), "modify")
M, G = ((0, 0, 0, 1),), TriggerClassifier(2, trigger=0)


def _kinds(report) -> set[str]:
    return {v.kind for v in report.violations}


def test_true_oracle_is_quiet_here():
    report = gt.audit(M, SETTING, BUDGET, G, alphabet=2)
    assert not report.certified and report.changed > 0 and report.sound


def test_planted_certificate_is_reported_as_a_label_violation(monkeypatch):
    real = gt.decide

    def always_certifies(p_a, p_b, masses):
        d = real(p_a, p_b, masses)
        return Theorem1Decision(True, d.a, d.b, d.threshold, d.masses)

    monkeypatch.setattr(gt, "decide", always_certifies)
    report = gt.audit(M, SETTING, BUDGET, G, alphabet=2)
    assert report.certified and "label" in _kinds(report)


def test_planted_eq4_eq5_bounds_are_reported(monkeypatch):
    # a = P_n + 1 makes Eq. 4 = (P_n + 1 - P_n + P_e)/P_n' = 4/4 = 1 > every Pr(Y = A) here (< 1);
    # b = -P_n' makes Eq. 5 = (-4 + 4 - 3)/4 < 0 <= every Pr(Y = l)
    real = gt.decide

    def wrong_bounds(p_a, p_b, masses):
        d = real(p_a, p_b, masses)
        return Theorem1Decision(d.certified, masses.p_n + 1, -masses.p_n_prime, d.threshold, d.masses)

    monkeypatch.setattr(gt, "decide", wrong_bounds)
    kinds = _kinds(gt.audit(M, SETTING, BUDGET, G, alphabet=2))
    assert {"lower_a", "upper_b"} <= kinds


def test_planted_worst_case_is_reported_for_label_a_and_for_label_b(monkeypatch):
    # the cross-check compares every M' with the NP.1 worst case: plant one that no classifier can
    # meet, first on Pr(Y = A) only (min_pr_a = 2 > 1), then on Pr(Y = B) only (max_pr_b = -1 < 0)
    class Planted:
        def __init__(self, wc):
            self.randomized = wc

    for min_a, max_b in ((Fraction(2), Fraction(1)), (Fraction(0), Fraction(-1))):
        monkeypatch.setattr(gt, "worst_case", lambda *a, _w=WorstCase(0, 0, min_a, max_b): Planted(_w))
        report = gt.audit(M, SETTING, BUDGET, G, alphabet=2)
        assert "neyman_pearson" in _kinds(report), (min_a, max_b)
