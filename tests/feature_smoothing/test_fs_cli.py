"""`mmcert fs certify` / `mmcert fs score` (issue #12 contract).

Expected values: the independent mpmath computation (mp_reference) of FS.2-FS.6; each decimal must be
<= it (rounded down) and within 1e-25. Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from cli_run import run
from mmcert_verified.feature_smoothing import ScoreBound, statistics_from_cosines

from . import mp_reference as mp
from .test_estimation import mp_bound


def test_certify_contract(capsys):
    code, out, err = run(["fs", "certify", "--score-lower", "0.9", "--sigma", "0.25",
                          "--eps", "0.1,0,1e-3,0.5", "--json"], capsys)
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert [b["eps"] for b in doc["bounds"]] == ["0.1", "0", "1e-3", "0.5"]  # as given, in order
    assert set(doc["bounds"][0]) == {"eps", "inner_lower", "cosine_lower"}
    for b in doc["bounds"]:
        exact = mp.fraction_of(mp.inner(Fraction(9, 10), Fraction(1, 4), Fraction(b["eps"])))
        got = Fraction(b["inner_lower"])
        assert got <= exact and exact - got <= Fraction(1, 10**25)
        if exact >= 0:
            assert b["cosine_lower"] == b["inner_lower"]
        else:
            assert b["cosine_lower"] == "-1"  # FS.3: no cosine bound below zero
    assert doc["bounds"][1]["inner_lower"] == "0.8"  # eps = 0: 2S - 1 exactly
    r = Fraction(doc["radius"])
    exact_r = mp.fraction_of(mp.radius(Fraction(9, 10), Fraction(1, 4), Fraction(1, 2)))
    assert r <= exact_r and exact_r - r <= Fraction(1, 10**25)


def test_radius_null_and_inf(capsys):
    code, out, _ = run(["fs", "certify", "--score-lower", "0.7", "--sigma", "1", "--eps", "0.1", "--json"], capsys)
    assert code == 0 and json.loads(out)["radius"] is None  # 2S - 1 = 0.4 < tau = 0.5
    code, out, _ = run(["fs", "certify", "--score-lower", "1", "--sigma", "1", "--eps", "5", "--json"], capsys)
    doc = json.loads(out)
    assert doc["radius"] == "inf" and doc["bounds"][0]["inner_lower"] == "1"
    code, out, _ = run(["fs", "certify", "--score-lower", "0.95", "--sigma", "1", "--eps", "0.1", "--tau", "0.9",
                        "--json"], capsys)
    assert Fraction(json.loads(out)["radius"]) == 0  # S = (1 + tau)/2: radius exactly 0


def test_score_contract(tmp_path, capsys):
    c = np.random.default_rng(3).uniform(0.7, 1.0, 500)
    path = tmp_path / "c.npy"
    np.save(path, c)
    stats = statistics_from_cosines(c)
    for bound in ScoreBound:
        code, out, err = run(["fs", "score", "--cosines", str(path), "--alpha", "0.001", "--bound", bound.value,
                              "--json"], capsys)
        assert code == 0 and err == ""
        doc = json.loads(out)
        assert doc["N"] == 500 and doc["bound"] == bound.value
        exact = mp_bound(stats, Fraction(1, 1000), bound)
        got = Fraction(doc["score_lower"])
        assert got <= exact and exact - got <= Fraction(1, 10**25)


@pytest.mark.parametrize(
    "argv",
    [
        ["fs", "certify", "--score-lower", "0", "--sigma", "1", "--eps", "1"],
        ["fs", "certify", "--score-lower", "1.01", "--sigma", "1", "--eps", "1"],
        ["fs", "certify", "--score-lower", "nan", "--sigma", "1", "--eps", "1"],
        ["fs", "certify", "--score-lower", "0.9", "--sigma", "0", "--eps", "1"],
        ["fs", "certify", "--score-lower", "0.9", "--sigma", "-1", "--eps", "1"],
        ["fs", "certify", "--score-lower", "0.9", "--sigma", "1", "--eps", "0.1,-1"],
        ["fs", "certify", "--score-lower", "0.9", "--sigma", "1", "--eps", "inf"],
        ["fs", "certify", "--score-lower", "0.9", "--sigma", "1", "--eps", "0.1,,2"],
        ["fs", "certify", "--score-lower", "0.9", "--sigma", "1", "--eps", "1", "--tau", "2"],
        ["fs", "certify", "--score-lower", "1e-99999999", "--sigma", "1", "--eps", "1"],
        ["fs", "certify", "--sigma", "1", "--eps", "1"],
        ["fs"],
    ],
)
def test_bad_certify_input_exits_2(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "array",
    [np.array([0.5, np.nan]), np.array([1.5, 0.2]), np.array([-2.0]), np.zeros((3, 2)), np.array([1, 2]),
     np.array([], dtype=float)],
)
def test_bad_cosines_exit_2(array, tmp_path, capsys):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    code, out, err = run(["fs", "score", "--cosines", str(path), "--alpha", "0.01", "--json"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_bad_score_files_and_alpha_exit_2(tmp_path, capsys):
    good = tmp_path / "c.npy"
    np.save(good, np.array([0.5, 0.9]))
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not an npy file")
    for argv in (
        ["fs", "score", "--cosines", str(tmp_path / "missing.npy"), "--alpha", "0.01"],
        ["fs", "score", "--cosines", str(junk), "--alpha", "0.01"],
        ["fs", "score", "--cosines", str(good), "--alpha", "1"],
        ["fs", "score", "--cosines", str(good), "--alpha", "0.01", "--bound", "nope"],
    ):
        code, out, err = run(argv, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, argv
    np.save(good, np.array([0.5]))
    code, _, err = run(["fs", "score", "--cosines", str(good), "--alpha", "0.01", "--bound", "bernstein"], capsys)
    assert code == 2  # N = 1 < 2


def test_as_a_process():
    proc = subprocess.run([sys.executable, "-m", "mmcert_verified", "fs", "certify", "--score-lower", "0.99",
                           "--sigma", "0.5", "--eps", "0.25", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["bounds"][0]["eps"] == "0.25"
