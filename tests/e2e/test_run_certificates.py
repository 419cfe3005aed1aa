"""Issue 7 item 2: `mmcert run --certificates DIR` writes audit-ready certificates (clause CERT.1-CERT.3)."""

from __future__ import annotations

import json
from pathlib import Path

from mmcert_verified.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "reference_models" / "av_mmcert.toml"


def test_run_writes_certificates_that_audit_and_survive_a_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(CONFIG), "--out", "av.jsonl", "--limit", "1", "--certificates", "certs", "--quiet"]) == 0
    rows = [json.loads(x) for x in Path("av.jsonl").read_text().splitlines()[1:]]
    names = rows[0]["certificates"]
    files = sorted(Path("certs").glob("*.json"))
    # one certificate per budget of the config, all named in the record
    assert [f.name for f in files] == sorted(names) and len(files) == len(rows[0]["certified"])
    # each certificate's decision is the run's decision for that budget
    for name, certified in zip(names, rows[0]["certified"]):
        doc = json.loads((Path("certs") / name).read_text())
        assert doc["claims"]["certified"] is certified
    before = {f.name: f.read_bytes() for f in files}
    capsys.readouterr()
    assert main(["audit", *map(str, files)]) == 0
    # resuming (one more input) keeps the existing certificates byte for byte
    assert main(["run", str(CONFIG), "--out", "av.jsonl", "--limit", "1", "--certificates", "certs", "--quiet"]) == 0
    for name, data in before.items():
        assert (Path("certs") / name).read_bytes() == data
    assert len(list(Path("certs").glob("*.json"))) == 2 * len(before)
