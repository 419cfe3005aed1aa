"""Shared helpers of the audit tests and the corpus generator (clauses CERT.1-CERT.3)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

from mmcert_verified.certificates.writer import (
    Provenance,
    classification_certificate,
    radius_along_budget,
    seal,
    write_certificate,
)
from mmcert_verified.cli import main
from mmcert_verified.reference.certify import certify

#: provenance with every machine-dependent field pinned, so generated files are byte-stable
FIXED_PROVENANCE = Provenance(
    seed=20240601,
    rng="numpy.random.PCG64",
    created="2024-06-01T12:00:00Z",
    engine="reference",
    libraries={"python": "3.11.7", "numpy": "2.4.6", "scipy": "1.17.1", "mpmath": "1.3.0"},
)


def pin(doc: dict) -> dict:
    """Pin the tool version too (it changes between releases) and re-seal."""
    doc = copy.deepcopy(doc)
    doc["provenance"]["tool_version"] = "0.1.0"
    return seal(doc)


def classification_doc(counts, alpha, n, k, r, attack="modify", method="mmcert", *, with_radius=True) -> dict:
    """A sealed classification certificate straight from the reference engine."""
    result = certify(counts, alpha, n, k, r, attack, method)
    rad = radius_along_budget(result) if with_radius else None
    return pin(classification_certificate(result, alpha_text=str(alpha), provenance=FIXED_PROVENANCE, radius=rad))


def write_json(path: Path, doc) -> Path:
    """Write any JSON value the way write_certificate does (indented, sorted), without its checks."""
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_doc(path: Path, doc: dict) -> Path:
    return write_certificate(doc, path)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``mmcert ARGS`` in-process; (exit code, stdout, stderr).  SystemExit counts as its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def audit(paths) -> tuple[int, list[dict], str]:
    """``mmcert audit --json PATHS``: (exit code, per-file reports, stderr)."""
    code, out, err = run_cli(["audit", "--json", *[str(p) for p in paths]])
    return code, json.loads(out)["files"], err


def audit_text(paths) -> tuple[int, list[str], str]:
    """``mmcert audit PATHS`` (text): (exit code, stdout lines, stderr)."""
    code, out, err = run_cli(["audit", *[str(p) for p in paths]])
    return code, out.splitlines(), err
