"""Bound methods through the fast engine (F.3/F.4: same answers as the reference, bonferroni unchanged),
certificates (alpha_split.rule recorded, re-derived by the audit) and the CLI's --bound."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, strategies as st

from mmcert_verified.bounds import BoundName
from mmcert_verified.certificates.writer import classification_certificate, radius_along_budget, seal, write_certificate
from mmcert_verified.cli import main
from mmcert_verified.fast.classify import certify_batch, radius_batch
from mmcert_verified.reference.certify import certify, radius
from mmcert_verified.threat_model import Method
from mmcert_verified.certificates.audit import Verdict, audit_file

RULES = [b.value for b in BoundName]
#: the RAVDESS setting of the paper (n = 108 video frames, 79380 audio samples; k = 5, 1000)
RAVDESS = dict(n=[108, 79380], k=[5, 1000])


counts_strategy = st.integers(2, 7).flatmap(
    lambda C: st.lists(st.integers(0, 120), min_size=C, max_size=C).filter(lambda c: sum(c) > 0))


@pytest.mark.parametrize("rule", RULES)
@given(rows=st.lists(counts_strategy, min_size=1, max_size=6), alpha=st.sampled_from(["0.001", "0.05", "1e-6"]))
def test_fast_radius_equals_reference_for_every_method(rule, rows, alpha):
    C = max(len(r) for r in rows)
    rows = [r + [0] * (C - len(r)) for r in rows]
    rows = [r for r in rows if sum(r) > 0]
    for method, k in ((Method.MMCERT, RAVDESS["k"]), (Method.ABLATION, [3000])):
        for dtype in (torch.float64, torch.float32):
            fast = radius_batch(rows, alpha, RAVDESS["n"], k, [1, 1], "modify", method, dtype=dtype, bound=rule)
            for i, row in enumerate(rows):
                want = radius(row, alpha, RAVDESS["n"], k, [1, 1], "modify", method, rule).radius
                assert (None if int(fast.radius[i]) < 0 else int(fast.radius[i])) == want


@pytest.mark.parametrize("rule", RULES)
def test_fast_decisions_equal_reference_near_the_threshold(rule):
    """Counts swept through the certification threshold at r = (1, 1): every decision equals the reference's."""
    rows = [[a, 100 - a - b, b] for a in range(40, 101, 3) for b in (0, 5) if 100 - a - b >= 0]
    budgets = [[0, 0], [1, 1], [2, 2], [3, 0]]
    fast = certify_batch(rows, "0.001", RAVDESS["n"], RAVDESS["k"], budgets, "modify", "mmcert", bound=rule)
    for i, row in enumerate(rows):
        for j, r in enumerate(budgets):
            assert bool(fast.certified[i, j]) == certify(row, "0.001", RAVDESS["n"], RAVDESS["k"], r, "modify",
                                                        "mmcert", rule).certified


def test_methods_order_on_unanimous_votes():
    """Unanimous 100/100 votes at the RAVDESS setting: complement and combined certify at least what
    bonferroni does (their p_A level alpha/2 >= alpha/C; p_B = 1 - p_A <= CP.2 at alpha/C here)."""
    got = {b: radius([100] + [0] * 6, "0.001", RAVDESS["n"], RAVDESS["k"], [1, 1], "modify", "mmcert", b).radius
           for b in RULES}
    assert got["complement"] >= got["bonferroni"] and got["combined"] >= got["bonferroni"]


@pytest.mark.parametrize("rule", RULES)
def test_certificate_records_the_method_and_audits(tmp_path, rule):
    res = certify([90, 5, 5], "0.001", RAVDESS["n"], RAVDESS["k"], [1, 1], "modify", "mmcert", rule)
    doc = classification_certificate(res, alpha_text="0.001", radius=radius_along_budget(res))
    assert doc["claims"]["alpha_split"]["rule"] == rule
    path = write_certificate(doc, tmp_path / "c.json")
    report = audit_file(path)
    assert report.status is Verdict.HOLDS, report.reasons


def test_resealed_rule_edit_fails_the_audit(tmp_path):
    """A complement certificate relabelled bonferroni (and resealed) no longer matches its bounds."""
    res = certify([90, 5, 5], "0.001", RAVDESS["n"], RAVDESS["k"], [1, 1], "modify", "mmcert", "complement")
    doc = classification_certificate(res, alpha_text="0.001")
    doc["claims"]["alpha_split"] = {"rule": "bonferroni", "parts": 2, "level": "1/2000"}
    doc.pop("digest", None)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(seal(doc)))
    assert audit_file(path).status is Verdict.FAILS
    doc["claims"]["alpha_split"]["rule"] = "no-such-rule"
    doc.pop("digest", None)
    path2 = tmp_path / "d.json"
    path2.write_text(json.dumps(seal(doc)))
    report = audit_file(path2)
    assert report.status is not Verdict.HOLDS and any("unknown bound method" in r for r in report.reasons)


def test_cli_bound_flag(capsys):
    base = ["--counts", "100,0,0,0,0,0,0", "--alpha", "0.001", "--n", "108,79380", "--k", "3000",
            "--attack", "modify", "--method", "ablation", "--json"]
    out = {}
    for rule in RULES + [None]:
        extra = [] if rule is None else ["--bound", rule]
        assert main(["radius", *base, "--ratio", "1,1", *extra]) == 0
        out[rule] = json.loads(capsys.readouterr().out)
    assert out[None] == out["bonferroni"]  # the default
    # randomized-ablation baseline, unanimous votes (FINDINGS: pooled 6 -> 7 with the complement rule)
    assert out["bonferroni"]["radius"] == 6 and out["complement"]["radius"] == 7
    assert main(["certify", *base, "--r", "7,7", "--bound", "complement"]) == 0
    assert json.loads(capsys.readouterr().out)["certified"] is True
