"""The certificate format (clause CERT.1) and its digest (clause CERT.2).

Expected strings are worked out by hand from the definitions in the test
comments (decimal expansions, canonical JSON, SHA-256 of literal bytes).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _audit_helpers import FIXED_PROVENANCE, audit, classification_doc, run_cli

from mmcert_verified.certificates.writer import (
    CertificateFormatError,
    Provenance,
    canonical_bytes,
    classification_certificate,
    compute_digest,
    exact_text,
    gap_text,
    parse_alpha_text,
    seal,
    sidecar_path,
    write_certificate,
    write_classification_certificate,
    write_segmentation_certificate,
)
from mmcert_verified.certificates.reader import parse_certificate_bytes, read_certificate
from mmcert_verified.errors import InputFileError, InvalidParameterError
from mmcert_verified.reference.certify import certify, radius

# --- exact text forms ----------------------------------------------------------------------


def test_exact_text_terminating_and_not():
    assert exact_text(Fraction(1, 8000)) == "0.000125"  # 1/8000 = 125/10**6
    assert exact_text(Fraction(1, 3)) == "1/3"
    assert exact_text(Fraction(0)) == "0" and exact_text(Fraction(1)) == "1"
    # 4 * 10**38 = 2**40 * 5**38 divides 10**40: a 40-digit decimal, numerator * 25 / 10**40
    n = 330741950180222821123830746855092633059
    assert exact_text(Fraction(n, 4 * 10**38)) == "0." + str(n * 25)


@given(st.integers(0, 10**30), st.integers(0, 60), st.integers(0, 60))
def test_exact_text_round_trips(num, twos, fives):
    value = Fraction(num, 2**twos * 5**fives)
    assert Fraction(exact_text(value)) == value


@pytest.mark.parametrize(
    "num,den,text",
    [
        (1, 3, "3.3333333333333333e-1"),  # 0.333... cut after 17 digits
        (-1, 3, "-3.3333333333333334e-1"),  # towards -infinity
        (2, 3, "6.6666666666666666e-1"),  # rounded down, not to nearest
        (1, 1, "1.0000000000000000e+0"),
        (0, 7, "0"),
        (-1, 10**5000, "-1.0000000000000000e-5000"),  # exact, far beyond float range
        (10**17 - 1, 10**17, "9.9999999999999999e-1"),  # 17 nines fit exactly
        (-(10**18 - 1), 10**18, "-1.0000000000000000e+0"),  # 18 nines round down to -1
        (123456789, 1, "1.2345678900000000e+8"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_gap_text_cases(num, den, text):
    assert gap_text(num, den) == text


@given(st.integers(-(10**400), 10**400).filter(bool), st.integers(1, 10**400))
def test_gap_text_is_the_largest_17_digit_value_not_above(num, den):
    text = gap_text(num, den)
    mant, exp = text.split("e")
    value = Fraction(mant) * Fraction(10) ** int(exp)
    exact = Fraction(num, den)
    unit = Fraction(10) ** (int(exp) - 16)
    assert value <= exact < value + unit
    assert 1 <= abs(Fraction(mant)) < 10


def test_parse_alpha_text_accepts_decimals_and_ratios_only():
    assert parse_alpha_text("0.001") == Fraction(1, 1000)
    assert parse_alpha_text("1e-3") == Fraction(1, 1000)
    assert parse_alpha_text("1/1000") == Fraction(1, 1000)
    for bad in ["1", "0", "-0.1", "1e-99999999", "0x1p-10", "nan", "0.1.2", "1e5", "", "1/0"]:
        with pytest.raises(InvalidParameterError):
            parse_alpha_text(bad)


# --- canonical serialization and digest --------------------------------------------------


def test_canonical_bytes_by_hand():
    doc = {"b": 1, "a": "\u00e9", "digest": {"algorithm": "sha256", "value": "x"}, "c": [1, {"z": None, "y": True}]}
    # sorted keys, no whitespace, non-ASCII escaped, digest left out (clause CERT.2)
    want = b'{"a":"\\u00e9","b":1,"c":[1,{"y":true,"z":null}]}'
    assert canonical_bytes(doc) == want
    assert compute_digest(doc) == hashlib.sha256(want).hexdigest()
    assert seal(doc)["digest"] == {"algorithm": "sha256", "value": hashlib.sha256(want).hexdigest()}


def test_digest_changes_with_every_member():
    doc = classification_doc([9, 1], "0.05", [6], [2], [1])
    base = compute_digest(doc)
    for key in doc:
        if key == "digest":
            continue
        changed = dict(doc, **{key: "something else"})
        assert compute_digest(changed) != base, key


# --- classification certificates ----------------------------------------------------------


def test_certificate_records_the_reference_engine_exactly():
    counts, n, k, r = [90, 5, 1, 1, 1, 1, 1, 0], [108, 79380], [5, 1000], [1, 10]
    result = certify(counts, "0.001", n, k, r)
    rad = radius(counts, "0.001", n, k, [1, 10])
    doc = classification_certificate(result, alpha_text="0.001", provenance=FIXED_PROVENANCE, radius=rad)
    inp, cl = doc["inputs"], doc["claims"]
    assert inp == {"method": "mmcert", "n": n, "k": k, "r": r, "attack": ["modify", "modify"], "counts": counts,
                   "alpha": "0.001", "radius_ratio": [1, 10]}
    assert (cl["N"], cl["C"]) == (100, 8)
    assert cl["alpha_split"] == {"rule": "bonferroni", "parts": 8, "level": "0.000125"}  # 0.001 / 8
    assert Fraction(cl["p_a_lower"]) == result.bounds.p_a_lower
    assert Fraction(cl["p_b_upper"]) == result.bounds.p_b_upper
    assert cl["certified"] is result.certified is True
    assert (cl["label"], cl["runner_up"]) == (0, 1)
    gap = Fraction(cl["theorem1_gap"].split("e")[0]) * Fraction(10) ** int(cl["theorem1_gap"].split("e")[1])
    assert abs(gap - result.decision.gap) < Fraction(1, 10**16)
    assert cl["largest_certified"] == {"t": rad.radius, "r": [rad.radius, 10 * rad.radius],
                                       "search_limit": rad.search_limit}
    assert doc["provenance"]["seed"] == FIXED_PROVENANCE.seed
    assert doc["digest"]["value"] == compute_digest(doc)


def test_alpha_text_is_kept_when_it_denotes_alpha():
    result = certify([9, 1], "1e-3", [6], [2], [1])
    assert classification_certificate(result, alpha_text="1e-3")["inputs"]["alpha"] == "1e-3"
    with pytest.raises(InvalidParameterError, match="does not denote"):
        classification_certificate(result, alpha_text="0.002")


def test_alpha_without_text_is_recorded_exactly_and_compactly():
    # alpha_fraction reads a float as the decimal it prints as (1e-300 -> 10**-300)
    doc = classification_certificate(certify([50, 2], 1e-300, [10], [2], [1]))
    assert doc["inputs"]["alpha"] == "1e-300"
    assert classification_certificate(certify([50, 2], Fraction(1, 3), [10], [2], [1]))["inputs"]["alpha"] == "1/3"
    assert classification_certificate(certify([50, 2], Fraction(1, 8), [10], [2], [1]))["inputs"]["alpha"] == "0.125"


def test_radius_from_other_votes_is_refused():
    result = certify([9, 1], "0.05", [6], [2], [1])
    other = radius([8, 2], "0.05", [6], [2], [1])
    with pytest.raises(InvalidParameterError):
        classification_certificate(result, alpha_text="0.05", radius=other)


def test_write_refuses_to_overwrite(tmp_path):
    result = certify([9, 1], "0.05", [6], [2], [1])
    path = tmp_path / "c.json"
    path.write_text("precious")
    with pytest.raises(InputFileError, match="refusing to overwrite"):
        write_classification_certificate(result, path, alpha_text="0.05")
    assert path.read_text() == "precious"


def test_write_refuses_an_unsealed_or_unauditable_document(tmp_path):
    doc = classification_doc([9, 1], "0.05", [6], [2], [1])
    broken = dict(doc, kind="classification")
    broken["inputs"] = dict(doc["inputs"], counts=[10, 1])
    with pytest.raises(InvalidParameterError, match="digest"):
        write_certificate(broken, tmp_path / "a.json")
    bad = seal(dict(doc, spec_version="0.0"))
    with pytest.raises(InvalidParameterError, match="audit would reject"):
        write_certificate(bad, tmp_path / "b.json")
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()


def test_written_certificate_reads_back_and_audits(tmp_path):
    result = certify([40, 3, 2], "0.01", [10, 7], [2, 1], [1, 1], "modify,add")
    path = write_classification_certificate(result, tmp_path / "c.json", alpha_text="0.01")
    loaded = read_certificate(path)
    assert loaded.inputs.counts == (40, 3, 2)
    code, (report,), _ = audit([path])
    assert code == 0 and report["status"] == "holds"
    assert report["certified"] is result.certified


def test_provenance_fields_are_checked():
    with pytest.raises(InvalidParameterError):
        Provenance(model_sha256="not-hex")
    with pytest.raises(InvalidParameterError):
        Provenance(seed=-1)
    with pytest.raises(InvalidParameterError):
        Provenance(created="yesterday")
    p = Provenance(seed=3, model_sha256="a" * 64, created="2024-01-02T03:04:05Z").to_json()
    assert p["seed"] == 3 and p["model_sha256"] == "a" * 64 and p["created"] == "2024-01-02T03:04:05Z"
    assert p["tool"] == "mmcert-verified" and "python" in p["libraries"]


def test_cli_certify_out_writes_an_auditable_certificate(tmp_path):
    out = tmp_path / "cli.json"
    args = ["certify", "--counts", "90,5,1,1,1,1,1,0", "--alpha", "0.001", "--n", "108,79380", "--k", "5,1000",
            "--r", "1,10", "--attack", "modify", "--engine", "reference", "--out", str(out)]
    code, _, err = run_cli(args)
    assert code == 0, err
    code, (report,), _ = audit([out])
    assert code == 0 and report["certified"] is True
    before = out.read_bytes()
    code, _, err = run_cli(args)
    assert code == 2 and "refusing to overwrite" in err and out.read_bytes() == before


# --- reading under limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"", "empty"),
        (b"{\"a\": NaN}", "NaN"),
        (b"{\"a\": 1, \"a\": 2}", "twice"),
        (b"[" * 17 + b"]" * 17, "nest deeper"),
        (b"{\"a\": " + b"9" * 101 + b"}", "digits"),
        (b"\xff\xfe", "UTF-8"),
        (b"42", "not a certificate"),
    ],
)
def test_parse_rejects(raw, message):
    with pytest.raises(CertificateFormatError, match=message):
        parse_certificate_bytes(raw)


def test_depth_sixteen_is_accepted():
    assert parse_certificate_bytes(b"{\"a\":" + b"[" * 15 + b"]" * 15 + b"}") == {"a": json.loads("[" * 15 + "]" * 15)}


# --- segmentation certificates --------------------------------------------------------------


def _votes(seed=0, shape=(2, 3, 4), n_votes=30):
    """Votes (C, H, W) with N = n_votes per pixel: mostly on one random label, the rest on the next."""
    rng = np.random.default_rng(seed)
    c = shape[0]
    top = rng.binomial(n_votes, 0.95, size=shape[1:])
    pred = rng.integers(0, c, size=shape[1:])
    counts = np.zeros(shape, dtype=np.int64)
    np.put_along_axis(counts, pred[None], top[None], axis=0)
    np.put_along_axis(counts, ((pred + 1) % c)[None], (n_votes - top)[None], axis=0)
    return counts, pred


def test_segmentation_certificate_round_trip_and_refusals(tmp_path):
    segmentation = pytest.importorskip("mmcert_verified.reference.segmentation")
    counts, pred = _votes()
    labels = pred.copy()
    params = dict(n=[50, 50], k=[1, 1], r=[1, 1], attack="modify", method="mmcert")
    res = segmentation.segment(counts, "0.01", **params, labels=labels)
    path = tmp_path / "seg.json"
    write_segmentation_certificate(path, counts, labels, alpha_text="0.01", **params,
                                   segmented_attack=res.segmented_attack.value, r_o=res.r_o,
                                   result_json=dict(res.to_json(), engine="reference"))
    side = sidecar_path(path)
    assert side.name == "seg.votes.npz" and side.exists()
    with np.load(side, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["counts", "labels"]
        assert np.array_equal(npz["counts"], counts) and np.array_equal(npz["labels"], labels)
    doc = json.loads(path.read_text())
    assert doc["inputs"]["votes"]["sha256"] == hashlib.sha256(side.read_bytes()).hexdigest()
    assert doc["provenance"]["engine"] == "reference" and "engine" not in doc["claims"]
    assert doc["claims"]["certified_pixels"] == res.to_json()["certified_pixels"]
    code, (report,), _ = audit([path])
    assert code == 0, report
    # neither file is ever overwritten
    with pytest.raises(InputFileError, match="refusing to overwrite"):
        write_segmentation_certificate(path, counts, labels, alpha_text="0.01", **params, result_json=res.to_json())
    other = tmp_path / "other.json"
    sidecar_path(other).write_bytes(b"keep")
    with pytest.raises(InputFileError, match="refusing to overwrite"):
        write_segmentation_certificate(other, counts, labels, alpha_text="0.01", **params, result_json=res.to_json())
    assert not other.exists() and sidecar_path(other).read_bytes() == b"keep"


def test_cli_segment_out_round_trip(tmp_path):
    pytest.importorskip("mmcert_verified.reference.segmentation")
    counts, pred = _votes(seed=3, shape=(3, 3, 3))
    np.save(tmp_path / "votes.npy", counts)
    np.save(tmp_path / "labels.npy", pred)
    out = tmp_path / "s.json"
    code, _, err = run_cli(["segment", "--counts", str(tmp_path / "votes.npy"), "--labels", str(tmp_path / "labels.npy"),
                            "--alpha", "0.01", "--n", "50,50", "--k", "1,1", "--r", "1,1", "--attack", "modify",
                            "--engine", "reference", "--out", str(out)])
    assert code == 0, err
    code, (report,), _ = audit([out])
    assert code == 0, report
    assert math.isfinite(json.loads(out.read_text())["claims"]["pixel_accuracy"])


def test_package_spec_version_is_the_newest_in_the_table():
    """``mmcert_verified.SPEC_VERSION`` and spec/README.md name the newest row of CERT.7's table."""
    import mmcert_verified
    from mmcert_verified.certificates.format import SPEC_VERSIONS

    newest = list(SPEC_VERSIONS)[-1]
    assert mmcert_verified.SPEC_VERSION == newest
    readme = (Path(__file__).resolve().parents[2] / "spec" / "README.md").read_text().splitlines()[0]
    assert f"(version {newest})" in readme
