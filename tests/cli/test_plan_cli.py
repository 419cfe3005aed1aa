"""``mmcert plan`` (spec clause PLAN.1): the table, --out / --plot / --save-calibration, refusals, errors.

The plan's numbers are checked against the library (``make_plan``), whose predictions are checked
against the reference engine in tests/unit/test_planning.py; here: that the CLI prints and writes those
numbers, never overwrites without --force, and answers bad input with one line and exit code 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_run import run
from mmcert_verified.pipeline.planning import Calibration, CalibrationRun, PlanSettings, Predictor, make_plan, read_calibration

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def calibration():
    runs = (CalibrationRun((2, 4), ((48, 2, 0), (30, 15, 5), (10, 40, 0)), (0, 0, 1)),
            CalibrationRun((4, 8), ((50, 0, 0), (40, 10, 0), (5, 45, 0)), (0, 0, 1)))
    return Calibration((32, 400), "mmcert", 3, runs, {"note": "hand-made"})


@pytest.fixture
def cal_file(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(calibration().to_json()))
    return path


BASE = ["--alpha", "0.001", "--N", "100,1000", "--ratio", "1,1", "--quiet"]


def test_table_and_out_are_the_librarys_plan(cal_file, tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, stdout, err = run(["plan", "--calibration", str(cal_file), *BASE, "--out", str(out), "--draws", "20"],
                            capsys)
    assert code == 0 and err == ""
    want = make_plan(calibration(), PlanSettings("0.001", "modify", (1, 1), (100, 1000),
                                                 ("bonferroni", "complement", "combined"), Predictor.MULTINOMIAL, 20, 0))
    doc = json.loads(out.read_text())
    assert doc == json.loads(json.dumps(want.to_json()))
    assert doc["format"] == "mmcert-plan/1" and "not a certificate" in doc["note"]
    assert len(doc["rows"]) == 2 * 2 * 3  # k x N x bound
    assert "not a certificate" in stdout
    lines = [ln for ln in stdout.splitlines() if ln.startswith("(")]
    assert len(lines) == 12
    first = want.rows[0]
    cells = lines[0].split()
    assert cells[:4] == ["(2,", "4)", "100", "bonferroni"]
    assert float(cells[4]) == pytest.approx(first.certified_accuracy[0], abs=5e-4)
    # the plan file carries its calibration: it plans again without the model, to the same numbers
    code, stdout2, _ = run(["plan", "--calibration", str(out), *BASE, "--draws", "20"], capsys)
    assert code == 0 and stdout2 == stdout


def test_plugin_and_selected_k(cal_file, capsys):
    code, stdout, _ = run(["plan", "--calibration", str(cal_file), *BASE, "--predict", "plugin", "--k", "4,8",
                           "--bound", "complement", "--json"], capsys)
    assert code == 0
    doc = json.loads(stdout)
    want = make_plan(calibration(), PlanSettings("0.001", "modify", (1, 1), (100, 1000), ("complement",),
                                                 Predictor.PLUGIN), ks=[(4, 8)])
    assert doc["rows"] == want.to_json()["rows"] and {tuple(r["k"]) for r in doc["rows"]} == {(4, 8)}
    assert doc["settings"]["predictor"] == "plugin" and doc["settings"]["draws"] is None


def test_out_and_plot_are_never_overwritten_without_force(cal_file, tmp_path, capsys):
    out, png = tmp_path / "plan.json", tmp_path / "plan.png"
    out.write_text("mine")
    code, stdout, err = run(["plan", "--calibration", str(cal_file), *BASE, "--out", str(out)], capsys)
    assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1 and "already exists" in err
    assert out.read_text() == "mine"
    code, _, err = run(["plan", "--calibration", str(cal_file), *BASE, "--out", str(out), "--plot", str(png),
                        "--force", "--draws", "5"], capsys)
    assert code == 0 and json.loads(out.read_text())["format"] == "mmcert-plan/1"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = png.read_bytes()
    code, _, err = run(["plan", "--calibration", str(cal_file), *BASE, "--plot", str(png)], capsys)
    assert code == 2 and "--plot" in err and png.read_bytes() == before


@pytest.mark.parametrize("extra,needle", [
    (["--N", "0"], "at least 1"),
    (["--N", "10,x"], "not an integer"),
    (["--bound", "bonferroni,holm"], "unknown bound method"),
    (["--ratio", "1,1,1"], "3 entries"),
    (["--ratio", "0,0"], "all zeros"),
    (["--attack", "squash"], "unknown attack"),
    (["--k", "40,4"], "no calibration votes at k = [40, 4]"),
    (["--k", "3,3"], "no calibration votes at k = [3, 3]"),
    (["--alpha", "1.5"], "alpha"),
    (["--draws", "0"], "--draws"),
])
def test_bad_flags_are_one_line_and_exit_2(cal_file, capsys, extra, needle):
    argv = ["plan", "--calibration", str(cal_file), *BASE]
    for flag, value in zip(extra[::2], extra[1::2]):  # the last value of a flag wins in argparse
        argv += [flag, value]
    code, stdout, err = run(argv, capsys)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_bad_sources_are_one_line_and_exit_2(cal_file, tmp_path, capsys):
    from reference_models.demo_configs import config_path

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    cases = [
        (["plan", *BASE], "not both"),
        (["plan", str(config_path("av_mmcert")), "--calibration", str(cal_file), *BASE], "not both"),
        (["plan", "--calibration", str(garbage), *BASE], "cannot read"),
        (["plan", "--calibration", str(tmp_path / "missing.json"), *BASE], "not found"),
        (["plan", "--calibration", str(cal_file), "--N", "100", "--ratio", "1,1"], "--alpha is required"),
        (["plan", str(config_path("road_mmcert")), "--N", "100"], "classification configs only"),
        (["plan", str(config_path("av_mmcert")), "--N", "100", "--calibration-seed", "0"], "config's seed"),
        (["plan", str(tmp_path / "nope.toml"), "--N", "100"], "not found"),
        (["plan", "--calibration", str(cal_file), *BASE, "--save-calibration", str(tmp_path / "c.json")],
         "--save-calibration needs CONFIG"),
    ]
    for argv, needle in cases:
        code, stdout, err = run(argv, capsys)
        assert code == 2 and stdout == "", argv
        assert len(err.strip().splitlines()) == 1 and needle in err, (argv, err)


def test_a_small_calibration_run_on_the_av_reference_model(tmp_path, capsys):
    from mmcert_verified.pipeline.certifier import Certifier
    from mmcert_verified.pipeline.runs import load_config
    from reference_models.demo_configs import config_path

    path = config_path("av_mmcert")
    saved, out = tmp_path / "cal.json", tmp_path / "plan.json"
    code, stdout, err = run(["plan", str(path), "--k", "2,4", "--calibration-samples", "10", "--calibration-inputs",
                             "3", "--N", "100", "--bound", "bonferroni", "--save-calibration", str(saved),
                             "--out", str(out), "--draws", "10", "--quiet"], capsys)
    assert code == 0 and err == ""
    cal = read_calibration(saved)
    config = load_config(path)
    # defaults from the config: its alpha, attack and first ratio; calibration seed = the config's + 1
    doc = json.loads(out.read_text())
    assert doc["settings"]["alpha"] == config.alpha and doc["settings"]["ratio"] == list(config.ratios[0])
    assert cal.source["seed"] == config.seed + 1
    data, model = config.data.build(), config.model.build()
    cert = Certifier(model, config.plan, "classification", 7, n_samples=10, batch_size=100, seed=config.seed + 1)
    for i in range(3):
        x, y = data[i]
        assert cal.runs[0].counts[i] == tuple(int(c) for c in np.asarray(cert.votes(x, i)))
        assert cal.runs[0].labels[i] == int(y)
    assert read_calibration(out) == cal
