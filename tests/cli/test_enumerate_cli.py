"""``mmcert enumerate`` (issue 4 contract): fields, exact values, errors as one line + exit 2.

Expected numbers are hand computations from Theorem 1 (Eq. 4, Eq. 5) and the
Neyman-Pearson fill, written out in the comments.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import pytest

from mmcert_verified.cli import main


def run(capsys, *argv):
    code = main(["enumerate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


WORKED = ["--n", "4,3", "--k", "2,1", "--r", "1,1", "--attack", "modify,add"]


def test_json_contract_worked_example(capsys):
    # P_n = 18, P_n' = 24, P_e = 9 (C(4,2)C(3,1), C(4,2)C(4,1), C(3,2)C(3,1)).
    # a = floor(0.9*18) = 16, b = ceil(0.05*18) = 1; Eq.4 = (16-18+9)/24 = 7/24,
    # Eq.5 = (1+24-9)/24 = 2/3; gap = -3/8.  Exact: 3/10 - 53/80 = -29/80
    # (tests/soundness/test_neyman_pearson.py::test_worked_example_worst_case).
    code, out, err = run(capsys, *WORKED, "--p-a", "9/10", "--p-b", "0.05", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["theorem1_certified"] is False
    assert doc["theorem1_gap"] == "-3/8"
    assert doc["worst_case_gap"] == "-29/80"
    assert (doc["theorem1_lower_a"], doc["theorem1_upper_b"]) == ("7/24", "2/3")
    assert (doc["support_x"], doc["support_y"], doc["support_both"]) == (18, 24, 9)
    assert doc["atoms"] == 18 + 24 - 9
    assert doc["method"] == "mmcert" and doc["attack"] == ["modify", "add"]
    assert doc["sound"] is True


def test_certified_instance_with_zero_slack(capsys):
    # n = 4, k = 1, modify 1: P_n = P_n' = 4, P_e = 3, threshold 4 + 4 - 6 = 2; a = 4, b = 0.
    # Eq.4 = 3/4, Eq.5 = 1/4: gap 1/2.  Exact: A needs all of supp X, min Pr(Y=A) = 3/4;
    # B gets only the new sub-sample, 1/4.  Same 1/2: zero slack.
    code, out, _ = run(capsys, "--n", "4", "--k", "1", "--r", "1", "--attack", "modify",
                       "--p-a", "1", "--p-b", "0", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["theorem1_certified"] is True and doc["worst_case_certified"] is True
    assert doc["theorem1_gap"] == doc["worst_case_gap"] == "1/2"
    assert doc["slack"] == "0/1"


def test_decimal_and_fraction_bounds_agree(capsys):
    a = json.loads(run(capsys, *WORKED, "--p-a", "0.9", "--p-b", "1/20", "--json")[1])
    b = json.loads(run(capsys, *WORKED, "--p-a", "9/10", "--p-b", "0.05", "--json")[1])
    assert a == b
    assert Fraction(a["worst_case_gap"]) == Fraction(-29, 80)


def test_ablation(capsys):
    # pooled n = 7, n' = 5, e = 5 (delete 1 of each), k = 3: P_n = 35, P_n' = P_e = 10.
    # a = floor(0.99*35) = 34, b = ceil(0.01*35) = 1: Eq.4 = (34-35+10)/10 = 9/10,
    # Eq.5 = (1+10-10)/10 = 1/10, gap 4/5.  Exact: min Pr(Y=A) = (35/10)(99/100 - 25/35) = 193/200,
    # max Pr(Y=B) = 0 + (35/10)(1/100) = 7/200; gap 93/100.
    code, out, _ = run(capsys, "--n", "4,3", "--k", "3", "--r", "1,1", "--attack", "delete",
                       "--method", "ablation", "--p-a", "0.99", "--p-b", "0.01", "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["support_x"], doc["support_y"], doc["support_both"]) == (35, 10, 10)
    assert doc["theorem1_gap"] == "4/5" and doc["worst_case_gap"] == "93/100"
    assert doc["theorem1_certified"] is True


def test_human_summary(capsys):
    code, out, err = run(capsys, "--n", "4", "--k", "1", "--r", "1", "--attack", "modify",
                         "--p-a", "1", "--p-b", "0")
    assert code == 0 and err == ""
    assert "Theorem 1: CERTIFIED" in out
    assert "exact worst case" in out and "1/2" in out


def test_too_large_is_one_line_naming_the_limit(capsys):
    code, out, err = run(capsys, "--n", "8,8,8", "--k", "4,4,4", "--r", "1,1,1", "--attack", "modify",
                         "--p-a", "0.9", "--p-b", "0.1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "200000" in err and "Traceback" not in err
    code, _, err = run(capsys, "--n", "6", "--k", "3", "--r", "1", "--attack", "modify",
                       "--p-a", "0.9", "--p-b", "0.1", "--max-atoms", "29")
    assert code == 2 and "limit of 29" in err  # 20 + 20 - 10 = 30 atoms


@pytest.mark.parametrize("argv, fragment", [
    (["--p-a", "0.9", "--p-b", "0.2"], "exceeds 1"),
    (["--p-a", "1.5", "--p-b", "0"], "--p-a"),
    (["--p-a", "abc", "--p-b", "0"], "--p-a"),
    (["--p-a", "0.9", "--p-b", "-0.1"], "--p-b"),
])
def test_bad_bounds(capsys, argv, fragment):
    code, out, err = run(capsys, "--n", "4", "--k", "1", "--r", "1", "--attack", "modify", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and fragment in err


@pytest.mark.parametrize("argv, fragment", [
    (["--n", "4", "--k", "5", "--r", "1", "--attack", "modify"], "exceeds n"),
    (["--n", "4,3", "--k", "1,1", "--r", "1", "--attack", "modify"], "--r"),
    (["--n", "4", "--k", "1", "--r", "1", "--attack", "swap"], "unknown attack"),
    (["--n", "4", "--k", "3", "--r", "2", "--attack", "delete"], "fewer than k"),
    (["--n", "x", "--k", "1", "--r", "1", "--attack", "modify"], "--n"),
    (["--n", "4", "--k", "1,1", "--r", "1", "--attack", "modify", "--method", "ablation"], "pooled k"),
])
def test_bad_parameters(capsys, argv, fragment):
    code, out, err = run(capsys, *argv, "--p-a", "0.9", "--p-b", "0.1")
    assert code == 2 and out == "" and err.count("\n") == 1 and fragment in err


def test_console_entry_point_exit_code():
    """The real process: exit status 2 and no traceback on a user error."""
    proc = subprocess.run(
        [sys.executable, "-m", "mmcert_verified", "enumerate", "--n", "8,8,8", "--k", "4,4,4",
         "--r", "1,1,1", "--attack", "modify", "--p-a", "0.9", "--p-b", "0.1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("mmcert enumerate: error:") and "Traceback" not in proc.stderr
