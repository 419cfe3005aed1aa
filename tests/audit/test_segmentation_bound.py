"""Bound methods in segmentation certificates (clause CERT.6): ``claims.alpha_split.rule`` names the method.

A segmentation result of a method other than bonferroni carries ``bound`` and ``alpha_split`` (rule = the
method, CP.5), the certificate records them under spec 1.1, and the audit re-derives with the recorded
method; relabelling the claims as another method fails.  Oracle for "the method matters": the reference
``segment`` certifies a different number of pixels of the same votes under bonferroni and complement.
"""

from __future__ import annotations

import copy
import inspect
import json

import numpy as np
import pytest

from mmcert_verified.certificates.audit import Verdict, audit_file
from mmcert_verified.certificates.writer import SEGMENTATION_ALPHA_SPLIT, seal, write_segmentation_certificate
from mmcert_verified.certificates.per_input import write_segmentation_per_input_certificate
from mmcert_verified.reference.segmentation import segment
from mmcert_verified.threat_model import Budget, Method, Setting, parse_attacks

pytestmark = pytest.mark.skipif(
    "bound" not in inspect.signature(segment).parameters,
    reason="mmcert_verified.reference.segmentation.segment takes no bound method yet (CERT.6 needs it)",
)

PARAMS = dict(n=[50, 50], k=[1, 1], r=[1, 1], attack="modify", method="mmcert")


def _votes() -> np.ndarray:
    """3 labels (with C = 2 complement equals bonferroni exactly: cp_upper(N - s) = 1 - cp_lower(s))."""
    rng = np.random.default_rng(5)
    N = 40
    top = rng.binomial(N, 0.85, size=(3, 4))
    second = rng.binomial(N - top, 0.5)
    return np.stack([top, second, N - top - second]).astype(np.int64)


def _write(tmp_path, bound: str, name: str = "seg.json"):
    counts = _votes()
    result = segment(counts, "0.05", **PARAMS, bound=bound)
    return write_segmentation_certificate(tmp_path / name, counts, None, alpha_text="0.05", **PARAMS,
                                          result_json=result.to_json()), result


def test_the_method_is_recorded_as_the_rule_and_the_certificate_holds(tmp_path):
    path, result = _write(tmp_path, "complement")
    doc = json.loads(path.read_text())
    assert doc["claims"]["alpha_split"]["rule"] == "complement" and doc["spec_version"] == "1.1"
    plain = segment(_votes(), "0.05", **PARAMS)
    assert result.to_json()["certified_pixels"] != plain.to_json()["certified_pixels"]  # the method matters here
    report = audit_file(path)
    assert report.status is Verdict.HOLDS, report.reasons
    assert "bound complement" in report.summary
    # a bonferroni certificate is written exactly as before the methods existed (spec 1.0, rule holm)
    old, _ = _write(tmp_path, "bonferroni", "old.json")
    old_doc = json.loads(old.read_text())
    assert old_doc["spec_version"] == "1.0" and old_doc["claims"]["alpha_split"] == SEGMENTATION_ALPHA_SPLIT
    assert audit_file(old).status is Verdict.HOLDS


def test_relabelling_the_method_fails_and_a_1_0_label_is_invalid(tmp_path):
    path, _ = _write(tmp_path, "complement")
    doc = json.loads(path.read_text())
    relabelled = copy.deepcopy(doc)
    relabelled["claims"]["alpha_split"] = dict(doc["claims"]["alpha_split"], rule="combined")
    bad = tmp_path / "relabelled.json"
    bad.write_text(json.dumps(seal(relabelled)))
    report = audit_file(bad)
    assert report.status is Verdict.FAILS, report.reasons
    as_old = seal(dict(doc, spec_version="1.0"))
    old = tmp_path / "as-1.0.json"
    old.write_text(json.dumps(as_old))
    report = audit_file(old)
    assert report.status is Verdict.INVALID and "needs spec 1.1" in report.reasons[0]


def test_per_input_segmentation_certificates_take_the_method(tmp_path):
    setting = Setting((50, 50), (1, 1), Method.MMCERT)
    attack = parse_attacks("modify", 2)
    path = write_segmentation_per_input_certificate(
        tmp_path / "p.json", _votes(), None, alpha_text="0.05", setting=setting,
        budgets=[Budget((0, 0), attack), Budget((1, 1), attack)], samples=40, bound="complement")
    doc = json.loads(path.read_text())
    assert {row["alpha_split"]["rule"] for row in doc["claims"]["budgets"]} == {"complement"}
    assert audit_file(path).status is Verdict.HOLDS
