"""`mmcert certify` and `mmcert radius` (issue #2 contract), in-process and once as a process.

Contract: `mmcert certify --counts C1,...,CC --alpha A --n n1,...,nT --k k1,...,kT
--r r1,...,rT --attack ATT [--method mmcert|ablation] [--engine reference|fast] [--json]
[--out FILE]`; `mmcert radius ... --ratio c1,...,cT ...`.  Bad input -> one line on
stderr, exit 2, no traceback.  Expected values come from the reference engine's
documented closed forms (see tests/unit/test_clopper_pearson.py) and the paper's
RAVDESS setting (tests/unit/test_theorem1_cases.py: radius 8 at ratio 1,1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import pytest

from cli_run import run, run_json
from mmcert_verified.reference.clopper_pearson import cp_lower, cp_upper, decimal_string

RAV = ["--counts", "100,0,0,0,0,0,0", "--alpha", "0.001", "--n", "108,79380", "--k", "5,1000",
       "--attack", "modify", "--engine", "reference"]


def significant_digits(text: str) -> int:
    return len(text.replace(".", "").replace("-", "").lstrip("0"))


# ---------------------------------------------------------------------------
# certify: JSON document
# ---------------------------------------------------------------------------


def test_certify_json_fields_ravdess(capsys):
    code, out, err = run(["certify", *RAV, "--r", "8,8", "--json"], capsys)
    assert code == 0 and err == ""
    doc = json.loads(out)
    for field in ("method", "label", "counts", "alpha", "n", "k", "r", "attack", "p_a_lower", "p_b_upper",
                  "certified"):
        assert field in doc, field
    assert doc["method"] == "mmcert"
    assert doc["label"] == 0
    assert doc["counts"] == [100, 0, 0, 0, 0, 0, 0]
    assert doc["alpha"] == "0.001"
    assert doc["n"] == [108, 79380] and doc["k"] == [5, 1000] and doc["r"] == [8, 8]
    assert doc["attack"] == ["modify", "modify"]
    assert doc["certified"] is True  # paper Figure 1: MMCert certifies r1 = r2 = 8
    # bounds: decimal strings, >= 30 significant digits, exactly the reference values
    # (level = alpha / C = 1/7000: p_A lower = (1/7000)^(1/100) = 0.91526956..., hand/closed form)
    for key in ("p_a_lower", "p_b_upper"):
        assert isinstance(doc[key], str)
        assert significant_digits(doc[key]) >= 30
    assert Fraction(doc["p_a_lower"]) == cp_lower(100, 100, Fraction(1, 7000))
    assert Fraction(doc["p_b_upper"]) == cp_upper(0, 100, Fraction(1, 7000))
    assert doc["p_a_lower"].startswith("0.915269561574")


def test_certify_not_certified_at_9(capsys):
    doc, _ = run_json(["certify", *RAV, "--r", "9,9", "--json"], capsys)
    assert doc["certified"] is False


def test_certify_ablation_json(capsys):
    argv = ["certify", "--counts", "100,0,0,0,0,0,0", "--alpha", "0.001", "--n", "108,79380", "--k", "3000",
            "--r", "8,8", "--attack", "modify", "--method", "ablation", "--engine", "reference", "--json"]
    doc, _ = run_json(argv, capsys)
    assert doc["method"] == "ablation" and doc["k"] == [3000]
    assert doc["certified"] is False  # paper Figure 1: the baseline does not certify r1 = r2 = 8


def test_certify_text_output(capsys):
    code, out, err = run(["certify", *RAV, "--r", "8,8"], capsys)
    assert code == 0 and err == ""
    assert "CERTIFIED" in out and "NOT" not in out


def test_certify_per_modality_attacks(capsys):
    argv = ["certify", "--counts", "100,0", "--alpha", "0.002", "--n", "10,10", "--k", "2,2", "--r", "1,1",
            "--attack", "modify,add", "--engine", "reference", "--json"]
    doc, _ = run_json(argv, capsys)
    assert doc["attack"] == ["modify", "add"]
    # hand: P_n = 45*45 = 2025, P_n' = 45*55 = 2475, P_e = 36*45 = 1620, threshold = 2025 + 2475 - 3240 = 1260;
    # a = floor(2025 * 0.93325) = 1889, b = ceil(2025 * 0.066746) = 136, a - b = 1753 > 1260
    assert doc["certified"] is True


# ---------------------------------------------------------------------------
# radius
# ---------------------------------------------------------------------------


def test_radius_json_ravdess(capsys):
    code, out, err = run(["radius", *RAV, "--ratio", "1,1", "--json"], capsys)
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["label"] == 0
    assert doc["radius"] == 8 and isinstance(doc["radius"], int)  # see test_theorem1_cases
    assert doc["ratio"] == [1, 1]


def test_radius_null_when_not_certified_at_zero(capsys):
    # a 50/50 tie: p_A lower < 1/2 < p_B upper, not certified even at r = 0
    argv = ["radius", "--counts", "50,50", "--alpha", "0.001", "--n", "10", "--k", "2", "--ratio", "1",
            "--attack", "modify", "--engine", "reference", "--json"]
    doc, out = run_json(argv, capsys)
    assert doc["radius"] is None
    assert "null" in out  # JSON null, not a string or -1


def test_radius_hand_case(capsys):
    # tests/unit/test_theorem1_cases.py::test_pipeline_radius_hand: radius 2 (modify), 5 (delete)
    base = ["--counts", "100,0", "--alpha", "0.002", "--n", "10", "--k", "2", "--ratio", "1", "--engine",
            "reference", "--json"]
    for attack, expected in (("modify", 2), ("add", 3), ("delete", 5)):
        doc, _ = run_json(["radius", *base, "--attack", attack], capsys)
        assert doc["radius"] == expected


# ---------------------------------------------------------------------------
# bad input: exit 2, one line on stderr, no traceback
# ---------------------------------------------------------------------------

GOOD = {"--counts": "100,0", "--alpha": "0.001", "--n": "10,10", "--k": "2,2", "--r": "1,1",
        "--attack": "modify", "--engine": "reference"}


def argv_with(verb, **changes):
    opts = dict(GOOD)
    if verb == "radius":
        opts.pop("--r")
        opts["--ratio"] = "1,1"
    for key, value in changes.items():
        flag = "--" + key
        if value is None:
            opts.pop(flag, None)
        else:
            opts[flag] = value
    out = [verb]
    for flag, value in opts.items():
        out.append(f"{flag}={value}")  # '=' so values starting with '-' reach our parser
    return out


BAD_COMMON = [
    ("k_gt_n", dict(k="2,11")),
    ("negative_n", dict(n="10,-10")),
    ("negative_k", dict(k="-2,2")),
    ("negative_count", dict(counts="100,-1")),
    ("alpha_zero", dict(alpha="0")),
    ("alpha_one", dict(alpha="1")),
    ("alpha_negative", dict(alpha="-0.1")),
    ("alpha_above_one", dict(alpha="1.5")),
    ("alpha_nan", dict(alpha="nan")),
    ("alpha_NaN", dict(alpha="NaN")),
    ("alpha_inf", dict(alpha="inf")),
    ("alpha_text", dict(alpha="abc")),
    ("alpha_div_zero", dict(alpha="1/0")),
    ("k_length", dict(k="2")),
    ("attack_length", dict(attack="modify,add,delete")),
    ("counts_all_zero", dict(counts="0,0")),
    ("counts_empty_item", dict(counts="100,,0")),
    ("unknown_attack", dict(attack="swap")),
    ("text_n", dict(n="ten,10")),
    ("text_counts", dict(counts="a,b")),
    ("float_k", dict(k="2.5,2")),
    ("empty_n", dict(n="")),
    ("unknown_method", dict(method="smoothing")),
    ("unknown_engine", dict(engine="gpu")),
    ("missing_alpha", dict(alpha=None)),
]

BAD_CERTIFY = BAD_COMMON + [
    ("negative_r", dict(r="-1,1")),
    ("r_length", dict(r="1")),
    ("text_r", dict(r="1,x")),
    ("delete_below_k", dict(r="9,1", attack="delete")),  # 10 - 9 = 1 < k = 2
    ("modify_more_than_n", dict(r="11,1")),
    ("ablation_two_k", dict(method="ablation")),  # the baseline takes one pooled k
]

BAD_RADIUS = BAD_COMMON + [
    ("ratio_all_zero", dict(ratio="0,0")),
    ("ratio_negative", dict(ratio="-1,1")),
    ("ratio_length", dict(ratio="1")),
    ("ratio_text", dict(ratio="one,1")),
]


def assert_one_line_error(code, out, err):
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), repr(err)
    assert out == ""


@pytest.mark.parametrize("name,changes", BAD_CERTIFY, ids=[c[0] for c in BAD_CERTIFY])
def test_certify_bad_input(name, changes, capsys):
    assert_one_line_error(*run(argv_with("certify", **changes), capsys))


@pytest.mark.parametrize("name,changes", BAD_RADIUS, ids=[c[0] for c in BAD_RADIUS])
def test_radius_bad_input(name, changes, capsys):
    assert_one_line_error(*run(argv_with("radius", **changes), capsys))


def test_negative_number_without_equals_sign(capsys):
    # '--k -2,2' (space, not '='): argparse sees an option-like token; still one line, exit 2
    argv = ["certify", "--counts", "100,0", "--alpha", "0.001", "--n", "10,10", "--k", "-2,2", "--r", "1,1",
            "--attack", "modify", "--engine", "reference"]
    assert_one_line_error(*run(argv, capsys))


def test_no_verb_and_unknown_verb(capsys):
    assert_one_line_error(*run([], capsys))
    assert_one_line_error(*run(["frobnicate"], capsys))


# ---------------------------------------------------------------------------
# --out never overwrites
# ---------------------------------------------------------------------------


def test_out_refuses_to_overwrite_existing_file(tmp_path, capsys):
    target = tmp_path / "cert.json"
    target.write_text("keep me\n")
    before = target.read_bytes()
    code, out, err = run(["certify", *RAV, "--r", "8,8", "--json", "--out", str(target)], capsys)
    assert_one_line_error(code, out, err)
    assert target.read_bytes() == before


def test_out_second_write_is_refused(tmp_path, capsys):
    target = tmp_path / "cert.json"
    code, out, err = run(["certify", *RAV, "--r", "8,8", "--json", "--out", str(target)], capsys)
    assert code == 0, err
    assert target.exists()
    first = target.read_bytes()
    json.loads(first)  # a JSON certificate
    code, out, err = run(["certify", *RAV, "--r", "9,9", "--json", "--out", str(target)], capsys)
    assert_one_line_error(code, out, err)
    assert target.read_bytes() == first


# ---------------------------------------------------------------------------
# as a real process
# ---------------------------------------------------------------------------


def _subprocess(args):
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "mmcert_verified", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_subprocess_certify_and_bad_input():
    p = _subprocess(["certify", *RAV, "--r", "8,8", "--json"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["certified"] is True
    assert Fraction(doc["p_a_lower"]) == cp_lower(100, 100, Fraction(1, 7000))
    assert doc["p_b_upper"] == decimal_string(cp_upper(0, 100, Fraction(1, 7000)))
    p = _subprocess(["certify", "--counts", "0,0", "--alpha", "0.001", "--n", "10", "--k", "2", "--r", "1",
                     "--attack", "modify", "--engine", "reference"])
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert len(p.stderr.splitlines()) == 1 and p.stdout == ""
