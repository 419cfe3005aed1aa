"""The committed corpus of certificates audits as its manifest says (clause CERT.3).

``tests/audit/make_corpus.py`` made every file; MANIFEST.json records, per
file, the exit code, status and a substring of the reason that the
generator's author derived from how the file was made (good: untouched;
tamper: one field changed, digest stale; resealed: field changed, digest
recomputed; garbage: not a certificate).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from _audit_helpers import audit, audit_text

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text())


def _generator():
    spec = importlib.util.spec_from_file_location("make_corpus", Path(__file__).with_name("make_corpus.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_corpus_file_audits_as_recorded(name):
    want = MANIFEST[name]
    code, (report,), err = audit([CORPUS / name])
    assert code == want["exit"], report
    assert report["status"] == want["status"]
    text = " ".join(report["reasons"]) + " " + (report["summary"] or "")
    assert want["reason"] in text, report
    assert err == ""


def test_text_mode_is_one_line_per_file_and_never_a_traceback(capfd):
    names = sorted(MANIFEST)
    code, lines, err = audit_text([CORPUS / n for n in names])
    assert code == 2  # the worst over the corpus: some files are garbage
    assert len(lines) == len(names)
    for name, line in zip(names, lines):
        assert line.startswith(f"{CORPUS / name}: {MANIFEST[name]['status'].upper()} -- ")
    assert "Traceback" not in err and "Traceback" not in "\n".join(lines)
    # the pickled sidecar would print this marker if anything unpickled it
    assert "UNPICKLED-BY-AUDIT" not in capfd.readouterr().out


def test_good_files_alone_exit_zero():
    good = [CORPUS / n for n, w in sorted(MANIFEST.items()) if w["exit"] == 0]
    assert len(good) >= 5
    code, reports, _ = audit(good)
    assert code == 0 and all(r["status"] == "holds" for r in reports)


def test_fails_without_invalid_exit_one():
    files = [CORPUS / n for n, w in sorted(MANIFEST.items()) if w["exit"] in (0, 1)]
    code, _, _ = audit(files)
    assert code == 1


def test_corpus_is_reproducible(tmp_path):
    """The generator, run afresh, writes exactly the committed files (else: regenerate deliberately)."""
    out = tmp_path / "corpus"
    _generator().generate(out)
    committed = sorted(p.name for p in CORPUS.iterdir())
    fresh = sorted(p.name for p in out.iterdir())
    assert fresh == committed
    changed = [n for n in committed if (CORPUS / n).read_bytes() != (out / n).read_bytes()]
    assert not changed, f"corpus out of date, run: python tests/audit/make_corpus.py  ({changed[:5]})"


#: corpus files the audit rejects (exit 2) for reasons a JSON Schema cannot express
BEYOND_THE_SCHEMA = {
    "garbage-alpha-one.json": "alpha < 1 is a value constraint on a string",
    "garbage-bom.json": "json.loads(bytes) skips a BOM; the audit does not",
    "garbage-count-float.json": "JSON Schema's integer includes 90.0; the audit wants an integer token",
    "garbage-duplicate-key.json": "json.loads keeps the last duplicate; the audit rejects duplicates",
    "garbage-mass-too-large.json": "the binomial-size limit depends on n, k and r together",
    "garbage-seg-sidecar-missing.json": "the sidecar is another file",
    "garbage-seg-sidecar-not-npz.json": "the sidecar is another file",
    "garbage-seg-sidecar-pickle.json": "the sidecar is another file",
}


def test_schema_agrees_with_the_validator_on_the_corpus():
    """docs/certificate.schema.json accepts every file that audits 0 or 1 and rejects the invalid ones."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "certificate.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name, want in sorted(MANIFEST.items()):
        try:
            doc = json.loads((CORPUS / name).read_bytes())
        except (ValueError, RecursionError):
            continue  # not JSON at all: nothing for a schema to say
        errors = list(validator.iter_errors(doc))
        if want["exit"] in (0, 1):
            assert not errors, (name, errors[0].message)
        elif name not in BEYOND_THE_SCHEMA:
            assert errors, f"{name} audits invalid but satisfies the schema"
