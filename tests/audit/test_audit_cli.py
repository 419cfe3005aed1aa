"""``mmcert audit`` as a real process (clause CERT.3): exit codes, output forms, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmcert_verified", "audit", *args], capture_output=True, text=True, timeout=120
    )


def test_exit_codes_and_json_report():
    files = [CORPUS / "good-classification.json", CORPUS / "resealed-certified-flip.json", CORPUS / "garbage-nan.json"]
    proc = _run("--json", *map(str, files))
    assert proc.returncode == 2 and proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert (doc["exit_code"], doc["holds"], doc["fails"], doc["invalid"]) == (2, 1, 1, 1)
    good, flip, nan = doc["files"]
    assert good["status"] == "holds" and good["certified"] is True and good["margin"].startswith("2.497")
    assert set(good) == {"path", "status", "kind", "reasons", "certified", "margin", "summary", "checks"}
    assert flip["status"] == "fails" and flip["reasons"][0].startswith("claims.certified")
    assert nan["status"] == "invalid" and "NaN" in nan["reasons"][0]


def test_text_output_and_exit_zero():
    proc = _run(str(CORPUS / "good-classification.json"), str(CORPUS / "good-segmentation.json"))
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{CORPUS / 'good-classification.json'}: HOLDS -- classification, label 0 CERTIFIED")
    assert ": HOLDS -- segmentation" in lines[1]


def test_exit_one_for_a_stale_digest():
    proc = _run(str(CORPUS / "tamper-certified.json"))
    assert proc.returncode == 1 and proc.stderr == ""
    assert ": FAILS -- digest mismatch" in proc.stdout


def test_garbage_never_prints_a_traceback():
    garbage = sorted(str(p) for p in CORPUS.glob("garbage-*"))
    proc = _run(*garbage)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr and proc.stderr == ""
    assert "UNPICKLED-BY-AUDIT" not in proc.stdout
    assert len(proc.stdout.splitlines()) == len(garbage)
