"""Per-input certificates (clause CERT.4): one input's votes once, a claim per budget, a radius per ratio.

Oracle: the per-budget certificates of CERT.1 (``classification_certificate``, audited by their own
suite) and the reference ``radius``: each budget's claim in a per-input certificate must be what the
per-budget certificate of that budget claims.  Tampers: one verdict, one count, one budget, one radius,
each re-sealed so that only the re-derivation can tell.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from _audit_helpers import FIXED_PROVENANCE, audit, run_cli
from config_text import modality, run_config, toml_lines
from mmcert_verified.certificates.audit import Verdict, audit_file
from mmcert_verified.certificates.writer import (
    classification_certificate,
    radius_along_budget,
    seal,
    write_certificate,
    write_segmentation_certificate,
)
from mmcert_verified.certificates.per_input import (
    classification_per_input_certificate,
    write_segmentation_per_input_certificate,
)
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.certify import certify, radius
from mmcert_verified.reference.segmentation import segment
from mmcert_verified.threat_model import Budget, Method, Setting, parse_attacks
from json_edit import edited
from segmentation_votes import two_class_votes

# the RAVDESS-like setting of tests/audit/make_corpus.py (paper Section 5.1: n = (108, 79380), k = (5, 1000))
COUNTS = [90, 5, 1, 1, 1, 1, 1, 0]
SETTING = Setting((108, 79380), (5, 1000), Method.MMCERT)
ATTACK = parse_attacks("modify", 2)
BUDGETS = [Budget((t, 10 * t), ATTACK) for t in range(4)]
RATIOS = [(1, 10), (1, 0)]


def _per_input(**kw) -> dict:
    return classification_per_input_certificate(COUNTS, "0.001", SETTING, BUDGETS, RATIOS, alpha_text="0.001",
                                                samples=100, provenance=FIXED_PROVENANCE, **kw)



def test_each_budget_claim_is_the_per_budget_certificates_claim(tmp_path):
    doc = _per_input()
    claims = doc["claims"]
    assert len(claims["budgets"]) == len(BUDGETS) and doc["inputs"]["N"] == 100
    for row, budget in zip(claims["budgets"], BUDGETS):
        res = certify(COUNTS, "0.001", SETTING.n, SETTING.k, budget.r, "modify")
        one = classification_certificate(res, alpha_text="0.001", provenance=FIXED_PROVENANCE,
                                         radius=radius_along_budget(res))["claims"]
        assert row == {"r": list(budget.r), "certified": one["certified"], "theorem1_gap": one["theorem1_gap"]}
        for key in ("C", "alpha_split", "label", "runner_up", "p_a_lower", "p_b_upper"):
            assert claims[key] == one[key], key
    # the verdicts change along the budgets (the test reaches both outcomes): certified at t = 0, 1 only
    assert [row["certified"] for row in claims["budgets"]] == [True, True, False, False]
    for rad, ratio in zip(claims["radii"], RATIOS):
        ref = radius(COUNTS, "0.001", SETTING.n, SETTING.k, ratio, "modify")
        assert (rad["ratio"], rad["t"], rad["search_limit"]) == (list(ratio), ref.radius, ref.search_limit)
    path = write_certificate(doc, tmp_path / "input.json")
    report = audit_file(path)
    assert report.status is Verdict.HOLDS, report.reasons
    assert "CERTIFIED at 2 of 4 budgets" in report.summary


def test_the_bound_method_is_recorded_and_re_derived(tmp_path):
    doc = _per_input(bound="complement")
    assert doc["claims"]["alpha_split"]["rule"] == "complement"
    ref = certify(COUNTS, "0.001", SETTING.n, SETTING.k, (1, 10), "modify", bound="complement")
    assert doc["claims"]["p_b_upper"] != _per_input()["claims"]["p_b_upper"]  # the method matters here
    assert doc["claims"]["budgets"][1]["certified"] == ref.certified
    assert audit_file(write_certificate(doc, tmp_path / "c.json")).status is Verdict.HOLDS
    # the same claims recorded as bonferroni: the audit re-derives with the recorded rule and fails it
    lie = seal(edited(doc, ["claims", "alpha_split"], _per_input()["claims"]["alpha_split"]))
    assert audit_file(write_certificate(lie, tmp_path / "lie.json")).status is Verdict.FAILS


C = COUNTS


@pytest.mark.parametrize("path, value, reason", [
    (["claims", "budgets", 2, "certified"], True, "claims.budgets[2].certified"),
    (["claims", "budgets", 0, "theorem1_gap"], "9.0000000000000000e-1", "claims.budgets[0].theorem1_gap"),
    (["inputs", "budgets", 1], [2, 20], "claims.budgets[1].certified"),
    (["inputs", "counts"], [89] + C[1:], "inputs.N"),  # one vote lost: the votes no longer sum to N
    (["inputs", "N"], 101, "inputs.N"),
    (["claims", "radii", 1, "t"], 7, "claims.radii[1].t"),
    (["claims", "label"], 1, "claims.label"),
    (["inputs", "ratios"], [[1, 10]], "claims.radii"),
])
def test_a_resealed_tamper_of_one_claim_or_input_fails(tmp_path, path, value, reason):
    bad = seal(edited(_per_input(), path, value))
    report = audit_file(write_certificate(bad, tmp_path / "bad.json"))
    assert report.status is Verdict.FAILS
    assert any(r.startswith(reason) for r in report.reasons), report.reasons


def test_one_count_changed_with_n_fails_on_the_bounds(tmp_path):
    bad = seal(edited(edited(_per_input(), ["inputs", "counts"], [80] + C[1:]), ["inputs", "N"], 90))
    report = audit_file(write_certificate(bad, tmp_path / "bad.json"))
    assert report.status is Verdict.FAILS and any("claims.p_a_lower" in r for r in report.reasons)


def test_an_edit_without_resealing_is_a_digest_mismatch(tmp_path):
    doc = edited(_per_input(), ["claims", "budgets", 3, "certified"], True)
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    report = audit_file(path)
    assert report.status is Verdict.FAILS and report.reasons[0].startswith("digest mismatch")


def test_writer_refuses_votes_that_do_not_sum_to_n_and_mixed_attacks():
    with pytest.raises(InvalidParameterError, match="not the N = 99"):
        classification_per_input_certificate(COUNTS, "0.001", SETTING, BUDGETS, samples=99)
    mixed = [BUDGETS[0], Budget((1, 1), parse_attacks("modify,add", 2))]
    with pytest.raises(InvalidParameterError, match="share the attack"):
        classification_per_input_certificate(COUNTS, "0.001", SETTING, mixed)
    with pytest.raises(InvalidParameterError, match="at least one budget"):
        classification_per_input_certificate(COUNTS, "0.001", SETTING, [])


def test_segmentation_per_input_claims_are_the_per_budget_claims(tmp_path):
    counts, labels = two_class_votes(11, 3, 4, 30, 0.9)  # the corpus's good-seg-per-input.json votes
    setting = Setting((50, 50), (1, 1), Method.MMCERT)
    budgets = [Budget((0, 0), ATTACK), Budget((1, 1), ATTACK)]
    path = write_segmentation_per_input_certificate(tmp_path / "seg.json", counts, labels, alpha_text="0.01",
                                                    setting=setting, budgets=budgets, samples=30)
    doc = json.loads(path.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg.json", "seg.votes.npz"]  # one sidecar
    for j, b in enumerate(budgets):
        one = tmp_path / f"one-{j}.json"
        res = segment(counts, "0.01", setting.n, setting.k, b.r, "modify", labels=labels)
        write_segmentation_certificate(one, counts, labels, alpha_text="0.01", n=setting.n, k=setting.k, r=b.r,
                                       attack="modify", method="mmcert", result_json=res.to_json())
        assert doc["claims"]["budgets"][j] == json.loads(one.read_text())["claims"]
    assert [row["certified_pixels"] for row in doc["claims"]["budgets"]] == [12, 10]
    assert audit_file(path).status is Verdict.HOLDS
    raised = copy.deepcopy(doc)
    raised["claims"]["budgets"][1]["certified_pixels"] += 1
    raised["claims"]["budgets"][1]["abstained_pixels"] -= 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(seal(raised)))
    report = audit_file(bad)
    assert report.status is Verdict.FAILS and any("claims.budgets[1].certified_pixels" in r for r in report.reasons)
    with pytest.raises(InvalidParameterError, match="not the N = 31"):
        write_segmentation_per_input_certificate(tmp_path / "n.json", counts, labels, alpha_text="0.01",
                                                 setting=setting, budgets=budgets, samples=31)
    assert not (tmp_path / "n.json").exists() and not (tmp_path / "n.votes.npz").exists()


def _killed_child(fn) -> int:
    """Run ``fn`` in a forked child with the RUN.1 fault hook set to die at the first certificate write."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ["MMCERT_FAULT_AT"] = "certificate:1"
        try:
            fn()
        finally:
            os._exit(3)  # the hook did not fire
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_killed_write_leaves_no_broken_certificate(tmp_path):
    doc = _per_input()
    path = tmp_path / "input-000000.json"
    assert _killed_child(lambda: write_certificate(doc, path)) == 137
    assert not path.exists()  # half the bytes went to a temporary sibling, never to the name
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".input-000000.json.tmp-")
    write_certificate(doc, path)  # the next write of the name succeeds and removes the stale temporary
    assert [p.name for p in tmp_path.iterdir()] == ["input-000000.json"]
    assert audit_file(path).status is Verdict.HOLDS


# --------------------------------------------------------------------------- runs

TOY = (Path(__file__).resolve().parents[1] / "e2e" / "e2e_toy.py").as_posix()


def _run_config(layout: str = "") -> str:
    """The toy classification run (4 clips; budgets r = (2, 0) and 2 ratios x 3 steps) with the top-level
    line ``layout`` (none: the default per-budget layout)."""
    return layout + run_config(
        "classification", 3, f"{TOY}:classifier", f"{TOY}:clips", "count = 4",
        [modality("a", [1, 12], [1]), modality("b", [1, 30], [1])],
        toml_lines(k=[3, 5], N=20, alpha=0.05, batch_size=8, seed=1),
        toml_lines(r=[[2, 0]], ratios=[[1, 1], [0, 1]], steps=[0, 1, 2]))


def _config(tmp_path: Path, layout: str = "") -> Path:
    path = tmp_path / ("per-input.toml" if layout else "per-budget.toml")
    path.write_text(_run_config(layout))
    return path


def _contents(directory: Path) -> dict:
    out = {}
    for p in sorted(directory.iterdir()):
        doc = json.loads(p.read_text())
        doc["provenance"].pop("created")
        doc.pop("digest")
        out[p.name] = doc
    return out


def test_a_per_input_run_writes_one_audited_file_per_input_and_resume_repairs_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, 'certificates = "per-input"')
    assert run_cli(["run", str(cfg), "--out", "w.jsonl", "--certificates", "wc", "--quiet"])[0] == 0
    files = sorted((tmp_path / "wc").iterdir())
    assert [p.name for p in files] == [f"input-{i:06d}.json" for i in range(4)]  # 4 inputs, 6 budgets, 4 files
    lines = [json.loads(x) for x in (tmp_path / "w.jsonl").read_text().splitlines()[1:]]
    code, reports, _ = audit(files)
    assert code == 0 and all(r["kind"] == "classification_per_input" for r in reports)
    for line, p in zip(lines, files):
        doc = json.loads(p.read_text())
        assert line["certificates"] == [p.name]
        # the run's verdicts and radii are the certificate's claims (budgets in config order)
        assert [row["certified"] for row in doc["claims"]["budgets"]] == line["certified"]
        assert [rad["t"] for rad in doc["claims"]["radii"]] == line["radius"]
        assert doc["inputs"]["N"] == 20 == sum(doc["inputs"]["counts"])
    # the CLI flag is the config key: the same files
    plain = _config(tmp_path)
    assert run_cli(["run", str(plain), "--out", "f.jsonl", "--certificates", "fc", "--certificates-per-input",
                    "--quiet"])[0] == 0
    assert _contents(tmp_path / "fc") == _contents(tmp_path / "wc")
    # resume re-verifies: an empty (killed, pre-atomic) and a missing certificate are rewritten
    assert run_cli(["run", str(cfg), "--out", "p.jsonl", "--limit", "3", "--certificates", "pc", "--quiet"])[0] == 0
    assert sorted(p.name for p in (tmp_path / "pc").iterdir()) == [f"input-{i:06d}.json" for i in range(3)]
    (tmp_path / "pc" / "input-000001.json").write_bytes(b"")
    (tmp_path / "pc" / "input-000002.json").unlink()
    assert run_cli(["run", str(cfg), "--out", "p.jsonl", "--certificates", "pc", "--quiet"])[0] == 0
    assert (tmp_path / "p.jsonl").read_bytes() == (tmp_path / "w.jsonl").read_bytes()
    assert _contents(tmp_path / "pc") == _contents(tmp_path / "wc")


def test_per_input_layout_is_part_of_the_identity_and_needs_certificates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plain = _config(tmp_path)
    assert run_cli(["run", str(plain), "--out", "a.jsonl", "--limit", "1", "--certificates", "ac", "--quiet"])[0] == 0
    assert [p.name for p in (tmp_path / "ac").iterdir()] != []
    code, _, err = run_cli(["run", str(plain), "--out", "a.jsonl", "--certificates", "ac", "--certificates-per-input"])
    assert code == 2 and "different config" in err  # a per-budget run is not resumed per input
    code, _, err = run_cli(["run", str(plain), "--out", "b.jsonl", "--certificates-per-input"])
    assert code == 2 and "needs --certificates" in err and not (tmp_path / "b.jsonl").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(_run_config('certificates = "per-pixel"'))
    code, _, err = run_cli(["run", str(bad), "--out", "c.jsonl"])
    assert code == 2 and "per-budget, per-input" in err


SEG_RUN_CONFIG = 'certificates = "per-input"' + run_config(
    "segmentation", 2, f"{TOY}:segmenter", f"{TOY}:scenes", "count = 2",
    [modality("rgb", [3, 6, 8], [1, 2]), modality("depth", [1, 6, 8], [1, 2])],
    toml_lines(k=[20, 10], N=20, alpha="0.05", engine="reference"), toml_lines(r=[[0, 0], [1, 1]]))


def test_a_segmentation_run_writes_one_certificate_and_one_sidecar_per_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "seg.toml"
    cfg.write_text(SEG_RUN_CONFIG)
    assert run_cli(["run", str(cfg), "--out", "s.jsonl", "--certificates", "sc", "--quiet"])[0] == 0
    names = sorted(p.name for p in (tmp_path / "sc").iterdir())
    assert names == ["input-000000.json", "input-000000.votes.npz", "input-000001.json", "input-000001.votes.npz"]
    lines = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()[1:]]
    code, reports, _ = audit([tmp_path / "sc" / n for n in names if n.endswith(".json")])
    assert code == 0 and all(r["kind"] == "segmentation_per_input" for r in reports), reports
    for line in lines:
        doc = json.loads((tmp_path / "sc" / line["certificates"][0]).read_text())
        # the run line's certified pixels per budget are the certificate's (both the reference engine's)
        assert [row["certified_pixels"] for row in doc["claims"]["budgets"]] == line["certified_pixels"]
