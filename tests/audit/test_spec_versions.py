"""Several spec versions (clause CERT.7) and the one-way data flow of the certificate modules (issue 11).

The reader accepts every version in ``SPEC_VERSIONS``; the committed corpus holds a good certificate of
each (so a later bump that broke an old version's certificates fails here); a kind exists from the
version that adds it.  The import test reads the modules' source (every import, also inside functions)
and checks that data flow one way: format <- reader <- writer <- audit, no module importing another's
private names.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from _audit_helpers import audit, classification_doc, write_json
from mmcert_verified.certificates.writer import seal
from mmcert_verified.certificates.format import SPEC_VERSIONS, Kind, kinds_of_version, spec_version_of

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text())


def _good_by_version() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, want in sorted(MANIFEST.items()):
        if want["exit"] == 0:
            out.setdefault(json.loads((CORPUS / name).read_text())["spec_version"], []).append(name)
    return out


@pytest.mark.parametrize("version", sorted(SPEC_VERSIONS))
def test_the_corpus_holds_a_good_certificate_of_every_version_and_each_audits(version):
    names = _good_by_version().get(version, [])
    assert names, f"tests/audit/corpus has no good certificate of spec {version}: add one to make_corpus.py"
    code, reports, _ = audit([CORPUS / n for n in names])
    assert code == 0 and all(r["status"] == "holds" for r in reports)
    # every kind the version adds has a good certificate in the corpus
    kinds = {json.loads((CORPUS / n).read_text())["kind"] for n in names}
    assert {k.value for k in SPEC_VERSIONS[version].kinds} - {"feature_smoothing"} <= kinds


def test_the_per_budget_kinds_keep_spec_1_0_and_new_kinds_record_the_version_that_adds_them():
    assert [spec_version_of(k) for k in (Kind.CLASSIFICATION, Kind.SEGMENTATION, Kind.FEATURE_SMOOTHING)] == ["1.0"] * 3
    assert {spec_version_of(k) for k in (Kind.CLASSIFICATION_PER_INPUT, Kind.SEGMENTATION_PER_INPUT,
                                         Kind.CLASSIFICATION_SEQUENTIAL)} == {"1.1"}
    assert kinds_of_version("1.0") < kinds_of_version("1.1") == frozenset(Kind)


@pytest.mark.parametrize("version, reason", [("0.9", "spec"), ("2.0", "spec"), ("1.1 ", "spec"), ("", "spec")])
def test_an_unknown_version_is_invalid(tmp_path, version, reason):
    doc = seal(dict(classification_doc([90, 5, 5], "0.01", [8, 6], [1, 1], [0, 0]), spec_version=version))
    code, (report,), _ = audit([write_json(tmp_path / "v.json", doc)])
    assert code == 2 and reason in report["reasons"][0]


def test_a_1_0_certificate_also_audits_when_labelled_with_a_later_version(tmp_path):
    """A later version only adds: a classification certificate is the same under spec 1.1."""
    doc = seal(dict(classification_doc([90, 5, 5], "0.01", [8, 6], [1, 1], [0, 0]), spec_version="1.1"))
    code, _, _ = audit([write_json(tmp_path / "v.json", doc)])
    assert code == 0


# --------------------------------------------------------------------------- import graph (issue 11)

MODULES = {
    "format": "mmcert_verified/certificates/format.py",
    "reader": "mmcert_verified/certificates/reader.py",
    "writer": "mmcert_verified/certificates/writer.py",
    "per_input": "mmcert_verified/certificates/per_input.py",
    "sequential": "mmcert_verified/certificates/sequential.py",
    "audit": "mmcert_verified/certificates/audit.py",
}
#: what each module of certificates/ may import among MODULES: the data flow result -> certificate -> audit, one way
ALLOWED = {
    "format": set(),
    "reader": {"format"},
    "writer": {"format", "reader"},
    "per_input": {"format", "writer"},
    "sequential": {"format", "writer", "per_input"},
    "audit": {"format", "writer", "reader", "per_input", "sequential"},
}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported from, names) for every ``from .X import ...`` anywhere in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out.append((node.module, [a.name for a in node.names]))
    return out


@pytest.mark.parametrize("module", sorted(MODULES))
def test_certificate_modules_import_one_way_and_no_private_names(module):
    for target, names in _imports(ROOT / MODULES[module]):
        base = target.split(".")[0]
        if base in MODULES:
            assert base in ALLOWED[module], f"{module} imports {target}: data would flow backwards"
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{module} imports private names {private} from {target}"
