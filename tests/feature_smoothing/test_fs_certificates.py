"""Feature-smoothing certificates and their audit (spec clause FS.10, CERT.1-CERT.3).

Expected values: a certificate written from statistics must audit as holding (exit 0); its claims
must be what ``mmcert fs certify --score-lower S`` prints for the recorded S (the issue-#12 contract
path, itself checked against mpmath in test_fs_cli.py), and S must be <= the independent mpmath value
of the FS.5/FS.6 formula and within 1e-25 of it.  Tampers: each claim edited and resealed fails
(exit 1) because the audit demands equality with the re-derivation; an edit without resealing fails
on the digest; garbage is invalid (exit 2) with one line and no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcert_verified.certificates.writer import Provenance, seal
from mmcert_verified.cli import main
from mmcert_verified.errors import InputFileError, InvalidParameterError
from mmcert_verified.feature_smoothing import ScoreBound, statistics_from_cosines
from mmcert_verified.feature_smoothing.certificate import (
    certificate_from_result,
    fs_certificate,
    write_fs_certificate,
)
from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder

from .test_estimation import mp_bound
from json_edit import edited

CORPUS = Path(__file__).resolve().parents[1] / "audit" / "corpus"
#: provenance pinned so files are byte-stable
PINNED = Provenance(seed=7, rng="torch.Generator (input_seed)", created="2024-06-01T12:00:00Z", engine="reference",
                    libraries={"python": "3.11.7"})


def run_cli(args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def audit(*paths) -> tuple[int, list[dict], str]:
    code, out, err = run_cli(["audit", "--json", *paths])
    return code, json.loads(out)["files"], err


def cosines(seed=0, n=1000, lo=0.9) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, 1.0, n)


def good_doc(bound="bernstein") -> dict:
    return fs_certificate(
        statistics_from_cosines(cosines()), alpha="0.001", bound=bound, sigma="0.25",
        eps=["0.1", "0", "1/3", "2"], eps_texts=["0.1", "0", "1/3", "2"], alpha_text="0.001", provenance=PINNED,
    )


def write_raw(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path



# --- round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bound", ["hoeffding", "bernstein"])
def test_round_trip_holds_and_claims_are_the_contract_values(tmp_path, bound):
    doc = good_doc(bound)
    path = write_fs_certificate(doc, tmp_path / "fs.json")
    code, (report,), err = audit(path)
    assert (code, report["status"], report["kind"], err) == (0, "holds", "feature_smoothing", "")
    assert report["summary"].startswith("feature_smoothing, S >= ")
    claims = doc["claims"]
    # the score bound: at most the mpmath value of the FS.5/FS.6 formula, within 1e-25
    stats = statistics_from_cosines(cosines())
    exact = mp_bound(stats, Fraction(1, 1000), ScoreBound(bound))
    got = Fraction(claims["score_lower"])
    assert got <= exact and exact - got <= Fraction(1, 10**25)
    # the FCSB and radius: what the contract CLI prints for that S
    code, out, _ = run_cli(["fs", "certify", "--score-lower", claims["score_lower"], "--sigma", "0.25",
                            "--eps", "0.1,0,1/3,2", "--json"])
    printed = json.loads(out)
    assert code == 0 and claims["bounds"] == printed["bounds"] and claims["radius"] == printed["radius"]
    # statistics are exact: they rebuild the same ScoreStatistics
    st_ = doc["inputs"]["statistics"]
    assert (st_["N"], Fraction(st_["sum_h"]), Fraction(st_["sum_h_squared"])) == (stats.n, stats.total,
                                                                                 stats.total_squares)


def test_cli_score_out_writes_an_auditable_certificate_and_keeps_stdout(tmp_path):
    c = cosines(seed=4, n=500, lo=0.7)
    np.save(tmp_path / "c.npy", c)
    base = ["fs", "score", "--cosines", tmp_path / "c.npy", "--alpha", "1e-3", "--bound", "hoeffding", "--json"]
    code0, out0, _ = run_cli(base)
    code, out, err = run_cli(base + ["--out", tmp_path / "cert.json", "--sigma", "0.5", "--eps", "0.1,0.25",
                                     "--tau", "0.3"])
    assert (code, err) == (0, "") and out == out0  # the stdout contract is unchanged by --out
    doc = json.loads((tmp_path / "cert.json").read_text())
    assert doc["kind"] == "feature_smoothing" and doc["inputs"]["eps"] == ["0.1", "0.25"]
    assert doc["inputs"]["alpha"] == "1e-3" and doc["inputs"]["tau"] == "0.3"
    assert doc["claims"]["score_lower"] == json.loads(out)["score_lower"]
    assert audit(tmp_path / "cert.json")[0] == 0


def test_cli_out_never_overwrites_and_needs_sigma_and_eps(tmp_path):
    np.save(tmp_path / "c.npy", cosines(n=50))
    existing = tmp_path / "taken.json"
    existing.write_text("keep me")
    base = ["fs", "score", "--cosines", tmp_path / "c.npy", "--alpha", "0.01", "--json"]
    cases = [
        base + ["--out", existing, "--sigma", "1", "--eps", "0.1"],
        base + ["--out", tmp_path / "new.json"],  # no --sigma / --eps
        base + ["--out", tmp_path / "new.json", "--sigma", "0", "--eps", "0.1"],
        base + ["--out", tmp_path / "new.json", "--sigma", "1", "--eps", "0.1", "--tau", "1.5"],
        base + ["--sigma", "1"],  # --sigma without --out
    ]
    for argv in cases:
        code, out, err = run_cli(argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, argv
        assert "Traceback" not in err
    assert existing.read_text() == "keep me" and not (tmp_path / "new.json").exists()


def test_certificate_from_smoothed_encoder_result(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 4))
    x = torch.rand(3, 2, 2)
    res = SmoothedEncoder(model, 0.25).certify(x, 300, "0.01", ["0.05", "0.2"], seed=1, index=2)
    doc = certificate_from_result(res, alpha_text="0.01", eps_texts=["0.05", "0.2"], provenance=PINNED)
    assert doc["inputs"]["sigma"] == "0.25" and doc["inputs"]["eps"] == ["0.05", "0.2"]
    assert Fraction(doc["claims"]["score_lower"]) == res.score_lower
    assert audit(write_fs_certificate(doc, tmp_path / "enc.json"))[0] == 0
    # sigma 0.1 is used as the float 0.1: the certificate records that binary value, not "0.1"
    res01 = SmoothedEncoder(model, 0.1).certify(x, 100, "0.01", ["0.05"], seed=1, index=2)
    assert Fraction(certificate_from_result(res01)["inputs"]["sigma"]) == Fraction(0.1)
    with pytest.raises(InvalidParameterError):
        certificate_from_result(res01, sigma_text="0.1")
    # a result whose claims are not the reference's re-derivation is refused
    import dataclasses

    forged = dataclasses.replace(res, score_lower=res.score_lower + Fraction(1, 10**30))
    with pytest.raises(InvalidParameterError):
        certificate_from_result(forged)


def test_writer_refuses_existing_files_and_unsealed_docs(tmp_path):
    doc = good_doc()
    path = write_fs_certificate(doc, tmp_path / "a.json")
    before = path.read_bytes()
    with pytest.raises(InputFileError):
        write_fs_certificate(doc, path)
    assert path.read_bytes() == before
    with pytest.raises(InvalidParameterError):
        write_fs_certificate(edited(doc, ["claims", "radius"], None), tmp_path / "b.json")  # stale digest
    with pytest.raises(InvalidParameterError):
        fs_certificate(statistics_from_cosines(cosines()), alpha="0.01", bound="hoeffding", sigma="1", eps=[])


def test_audit_never_uses_the_fast_path(tmp_path, monkeypatch):
    from mmcert_verified.feature_smoothing import fast

    def boom(*args, **kwargs):
        raise AssertionError("the audit must use the reference engine")

    for name in ("fcsb_batch", "radius_batch", "certified_batch"):
        monkeypatch.setattr(fast, name, boom)
    assert audit(write_fs_certificate(good_doc(), tmp_path / "a.json"))[0] == 0


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 300),
    lo=st.sampled_from([-1.0, 0.0, 0.9, 0.999]),
    alpha=st.sampled_from(["0.1", "1e-6", "3/7"]),
    bound=st.sampled_from(["hoeffding", "bernstein"]),
    sigma=st.sampled_from(["0.25", "1", "1/3", "1e-3"]),
    tau=st.sampled_from(["0", "0.5", "1"]),
)
def test_every_written_certificate_holds(tmp_path_factory, seed, n, lo, alpha, bound, sigma, tau):
    c = np.random.default_rng(seed).uniform(lo, 1.0, n)
    doc = fs_certificate(statistics_from_cosines(c), alpha=Fraction(alpha), bound=bound, sigma=Fraction(sigma),
                         eps=[Fraction(0), Fraction(1, 10), Fraction(3)], tau=Fraction(tau), alpha_text=alpha,
                         sigma_text=sigma, tau_text=tau)
    path = write_fs_certificate(doc, tmp_path_factory.mktemp("p") / "c.json")
    assert audit(path)[0] == 0


# --- tampering ------------------------------------------------------------------------------------

TEN30 = "0.000000000000000000000000000001"


def _bump(text: str) -> str:
    """The recorded decimal plus 10^-30 (the smallest step the format can express)."""
    from mmcert_verified.feature_smoothing.gaussian import fixed_decimal_string

    return fixed_decimal_string(Fraction(text) + Fraction(TEN30))


def _drop(text: str) -> str:
    from mmcert_verified.feature_smoothing.gaussian import fixed_decimal_string

    return fixed_decimal_string(Fraction(text) - Fraction(TEN30))


RESEALED_EDITS = {
    # claims, each made stronger by the smallest step
    "score-lower-up": lambda d: edited(d, ["claims", "score_lower"], _bump(d["claims"]["score_lower"])),
    "inner-lower-up": lambda d: edited(d, ["claims", "bounds", 0, "inner_lower"],
                                       _bump(d["claims"]["bounds"][0]["inner_lower"])),
    "cosine-lower-up": lambda d: edited(d, ["claims", "bounds", 2, "cosine_lower"],
                                        _bump(d["claims"]["bounds"][2]["cosine_lower"])),
    "cosine-from-minus-one": lambda d: edited(d, ["claims", "bounds", 3, "cosine_lower"],
                                              d["claims"]["bounds"][3]["inner_lower"]),
    "radius-up": lambda d: edited(d, ["claims", "radius"], _bump(d["claims"]["radius"])),
    "radius-inf": lambda d: edited(d, ["claims", "radius"], "inf"),
    "radius-null": lambda d: edited(d, ["claims", "radius"], None),
    # claims made weaker: still fail (the audit demands the reference's values exactly)
    "score-lower-down": lambda d: edited(d, ["claims", "score_lower"], _drop(d["claims"]["score_lower"])),
    "eps-text-in-claims": lambda d: edited(d, ["claims", "bounds", 0, "eps"], "0.01"),
    "bounds-reordered": lambda d: edited(d, ["claims", "bounds"], d["claims"]["bounds"][::-1]),
    "bound-dropped": lambda d: edited(d, ["claims", "bounds"], d["claims"]["bounds"][:-1]),
    # inputs changed under the claims
    # (consistent statistics: 0 <= sum h^2 <= sum h <= N and N sum h^2 >= (sum h)^2 still hold)
    "sum-h-down": lambda d: edited(d, ["inputs", "statistics", "sum_h"], "975.8"),
    "n-up": lambda d: edited(d, ["inputs", "statistics", "N"], 1001),
    "alpha": lambda d: edited(d, ["inputs", "alpha"], "0.01"),
    "bound-method": lambda d: edited(d, ["inputs", "bound"], "hoeffding"),
    "sigma": lambda d: edited(d, ["inputs", "sigma"], "0.5"),
    "eps-input": lambda d: edited(d, ["inputs", "eps", 0], "0.05"),
    "tau": lambda d: edited(d, ["inputs", "tau"], "0.9"),
    # statistics that no samples in [0, 1] have
    "inconsistent-statistics": lambda d: edited(d, ["inputs", "statistics", "sum_h"], "1001"),
}


@pytest.mark.parametrize("name", sorted(RESEALED_EDITS))
def test_each_resealed_edit_fails(tmp_path, name):
    doc = seal(RESEALED_EDITS[name](good_doc()))
    code, (report,), err = audit(write_raw(tmp_path / f"{name}.json", doc))
    assert (code, report["status"], err) == (1, "fails", ""), report
    assert report["reasons"] and "digest" not in report["reasons"][0]
    if name in ("sum-h-down", "n-up"):  # the statistics still define a certification, with another S
        # (the audit lists at most 8 mismatches, the bounds' first: sorted member names)
        assert all(r.startswith("claims.") for r in report["reasons"]), report


@pytest.mark.parametrize("name", ["score-lower-up", "radius-inf", "sum-h-down"])
def test_an_edit_without_resealing_fails_on_the_digest(tmp_path, name):
    code, (report,), _ = audit(write_raw(tmp_path / "e.json", RESEALED_EDITS[name](good_doc())))
    assert code == 1 and report["reasons"][0].startswith("digest mismatch")


def test_digest_edits(tmp_path):
    doc = good_doc()
    flipped = doc["digest"]["value"][:-1] + ("0" if doc["digest"]["value"][-1] != "0" else "1")
    code, (report,), _ = audit(write_raw(tmp_path / "d1.json", edited(doc, ["digest", "value"], flipped)))
    assert (code, report["status"]) == (1, "fails") and report["reasons"][0].startswith("digest mismatch")
    code, (report,), _ = audit(write_raw(tmp_path / "d2.json", edited(doc, ["digest", "value"], "xyz")))
    assert (code, report["status"]) == (2, "invalid")


GARBAGE = {
    "sigma-number": (["inputs", "sigma"], 0.25),
    "sigma-zero": (["inputs", "sigma"], "0"),
    "sigma-negative": (["inputs", "sigma"], "-1"),
    "sigma-nan-text": (["inputs", "sigma"], "nan"),
    "sigma-huge-exponent": (["inputs", "sigma"], "1e99999"),
    "eps-empty": (["inputs", "eps"], []),
    "eps-too-many": (["inputs", "eps"], ["0.1"] * 1001),
    "eps-not-list": (["inputs", "eps"], "0.1"),
    "tau-above-one": (["inputs", "tau"], "2"),
    "alpha-one": (["inputs", "alpha"], "1"),
    "bound-unknown": (["inputs", "bound"], "chernoff"),
    "n-string": (["inputs", "statistics", "N"], "1000"),
    "n-float": (["inputs", "statistics", "N"], 1000.0),
    "n-bool": (["inputs", "statistics", "N"], True),
    "n-zero": (["inputs", "statistics", "N"], 0),
    "n-huge": (["inputs", "statistics", "N"], 10**40),
    "sum-exponent": (["inputs", "statistics", "sum_h"], "9.7e2"),
    "sum-too-long": (["inputs", "statistics", "sum_h_squared"], "1." + "1" * 4200),
    "statistics-missing-member": (["inputs", "statistics"], {"N": 3, "sum_h": "1"}),
    "inputs-unknown-member": (["inputs", "model"], "resnet"),
    "claims-radius-number": (["claims", "radius"], 0.25),
    "claims-score-float": (["claims", "score_lower"], 0.95),
    "claims-bound-missing": (["claims", "bounds", 0], {"eps": "0.1", "inner_lower": "0.5"}),
    "claims-unknown": (["claims", "certified"], True),
    "claims-not-object": (["claims"], []),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_is_invalid_in_one_line(tmp_path, name):
    keys, value = GARBAGE[name]
    doc = seal(edited(good_doc(), keys, value))
    path = write_raw(tmp_path / f"{name}.json", doc)
    code, (report,), err = audit(path)
    assert (code, report["status"], err) == (2, "invalid", ""), report
    code, out, err = run_cli(["audit", path])
    assert code == 2 and len(out.splitlines()) == 1 and "Traceback" not in out + err
    assert "internal error" not in out


@pytest.mark.parametrize("text", [
    '{"format": "mmcert-certificate", "kind": "feature_smoothing", "inputs": NaN}',
    "[1, 2, 3]",
    "",
    '{"format": "mmcert-certificate", "schema_version": 1, "kind": "feature_smoothing"',
])
def test_unreadable_files_are_invalid(tmp_path, text):
    path = tmp_path / "g.json"
    path.write_text(text)
    code, out, err = run_cli(["audit", path])
    assert code == 2 and len(out.splitlines()) == 1 and "Traceback" not in out + err


def test_nan_and_huge_tokens_inside_a_sealed_fs_certificate_are_invalid(tmp_path):
    text = json.dumps(good_doc())
    for bad in ('"N": NaN', '"N": 1e999', '"N": ' + "9" * 200):
        path = tmp_path / "t.json"
        path.write_text(text.replace('"N": 1000', bad))
        code, (report,), _ = audit(path)
        assert (code, report["status"]) == (2, "invalid"), bad


# --- old kinds still audit -------------------------------------------------------------------------


def test_old_classification_certificate_still_holds_next_to_an_fs_one(tmp_path):
    fs = write_fs_certificate(good_doc(), tmp_path / "fs.json")
    code, reports, err = audit(CORPUS / "good-classification.json", fs)
    assert code == 0 and [r["kind"] for r in reports] == ["classification", "feature_smoothing"]
    assert all(r["status"] == "holds" for r in reports) and err == ""


def test_the_json_schema_describes_fs_certificates():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "certificate.schema.json").read_text())
    jsonschema.validate(good_doc(), schema)
    for name in ("eps-empty", "n-string", "claims-radius-number", "sigma-negative", "claims-unknown"):
        keys, value = GARBAGE[name]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(seal(edited(good_doc(), keys, value)), schema)
