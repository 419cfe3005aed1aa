"""``mmcert attack CONFIG.toml`` end to end (spec ATK.7-8, CLI): a tiny run, resumption byte for byte,
bad configs as one line and exit 2, exit 1 when a (deliberately unsound) certifier is caught."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from mmcert_verified.cli import main
from attack_helpers import one_thread as _one_thread  # noqa: F401 (autouse fixture)
from config_text import modality, run_config, write_config

TOY = Path(__file__).with_name("attack_toy.py")

CONFIG = run_config("classification", 2, f"{TOY.as_posix()}:classifier", f"{TOY.as_posix()}:clips", "count = 3",
                    [modality("a", [1, 8], [1]), modality("b", [1, 6], [1])], """
method = "mmcert"
k = [2, 2]
N = 40
alpha = "0.01"
seed = 3
""", """
attack = "modify"
r = [[0, 0], [1, 0], [1, 1]]
""")

#: small search sizes so the whole file runs in a few seconds
FAST = ["--n-attack", "60", "--restarts", "1", "--steps", "3", "--quiet"]


def write(tmp_path: Path, text: str = CONFIG, name: str = "toy.toml") -> Path:
    return write_config(tmp_path, text, name)


def attack(config: Path, out: Path, *extra: str) -> int:
    return main(["attack", str(config), "--out", str(out), *FAST, *extra])


@pytest.fixture
def full_run(tmp_path):
    config = write(tmp_path)
    out = tmp_path / "full.jsonl"
    assert attack(config, out) == 0
    return config, out


def test_tiny_run_writes_header_and_one_line_per_input(full_run):
    config, out = full_run
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "mmcert-attack/1" and header["n_attack"] == 60
    rows = [json.loads(ln) for ln in lines[1:]]
    assert [r["index"] for r in rows] == [0, 1, 2]  # Clips(count=3)
    for row in rows:
        assert [f["r"] for f in row["findings"]] == [[0, 0], [1, 0], [1, 1]]  # the config's budgets
        for f in row["findings"]:
            # every clean vote is label 0 (attack_toy docstring: s >= 0.5 on every sub-sample)
            assert f["prediction"] == 0 and sum(f["attacked_counts"]) == 60
            assert f["violation"] is False
        assert row["findings"][0]["certified"]  # r = 0 is certified whenever the label is the plurality


def test_resume_after_limit_is_byte_identical(full_run, tmp_path):
    config, full = full_run
    part = tmp_path / "part.jsonl"
    assert attack(config, part, "--limit", "1") == 0
    assert len(part.read_text().splitlines()) == 2  # header + input 0
    assert attack(config, part) == 0
    assert part.read_bytes() == full.read_bytes()


@pytest.mark.parametrize("cut", ["mid_line", "mid_header"])
def test_resume_after_interrupted_write_is_byte_identical(full_run, tmp_path, cut):
    config, full = full_run
    data = full.read_bytes()
    newlines = [i for i, b in enumerate(data) if b == ord("\n")]
    # "mid_line": the file ends inside input 2's line; "mid_header": inside the header line
    stop = (newlines[2] + newlines[3]) // 2 if cut == "mid_line" else newlines[0] // 2
    part = tmp_path / "cut.jsonl"
    part.write_bytes(data[:stop])
    assert attack(config, part) == 0
    assert part.read_bytes() == data


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.replace("N = 40", "N = 40\nn_votes = 3"), "unknown key 'n_votes'"),
    (lambda t: t.replace("N = 40", 'N = "forty"'), "N"),
    (lambda t: t.replace('kwargs = { count = 3 }', 'kwargs = { count = "three" }'), "factory"),
    (lambda t: t.replace('task = "classification"', 'task = "segmentation"'), "classification"),
    (lambda t: t.replace('attack = "modify"', 'attack = "add"'), "modify only"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, edit, needle):
    config = write(tmp_path, edit(CONFIG))
    out = tmp_path / "out.jsonl"
    assert attack(config, out) == 2
    line = _one_error_line(capsys)
    assert line.startswith("mmcert attack: error:") and needle in line
    assert not out.exists()  # nothing written before the config is validated


def test_missing_config_file_is_exit_2(tmp_path, capsys):
    assert attack(tmp_path / "absent.toml", tmp_path / "out.jsonl") == 2
    assert "not found" in _one_error_line(capsys)


@pytest.mark.parametrize("flag", [["--n-attack", "0"], ["--beta", "1"], ["--restarts", "0"], ["--steps", "-1"]])
def test_bad_settings_are_exit_2(tmp_path, capsys, flag):
    assert attack(write(tmp_path), tmp_path / "out.jsonl", *flag) == 2
    _one_error_line(capsys)


def test_output_of_other_settings_or_garbage_is_refused(full_run, tmp_path, capsys):
    config, full = full_run
    # a file written with other settings (--seed 1) is not resumed into
    assert attack(config, full, "--seed", "1") == 2
    assert "different config" in _one_error_line(capsys)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    assert attack(config, garbage) == 2
    assert "not an attack run file" in _one_error_line(capsys)
    # a corrupt line after a valid header is refused too, not a traceback
    lines = full.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n{oops\n")
    assert attack(config, broken) == 2
    assert "line 2" in _one_error_line(capsys)


@dataclass(frozen=True)
class _Always:
    label: int
    certified: bool = True


def _always_certify(counts, alpha, n, k, r, attack, method):
    """Deliberately unsound: certifies the plurality label at every budget, however large."""
    return _Always(max(range(len(counts)), key=lambda i: (counts[i], -i)))


def test_unsound_certifier_is_caught_and_exit_1(tmp_path, monkeypatch, capsys):
    import mmcert_verified.reference.certify as reference

    # the harness looks the default certifier up at call time (MonteCarloHarness.run)
    monkeypatch.setattr(reference, "certify", _always_certify)
    # r = (8, 6) overwrites every element: the attack reaches s < 0 on every sub-sample (attack_toy docstring)
    config = write(tmp_path, CONFIG.replace("r = [[0, 0], [1, 0], [1, 1]]", "r = [[8, 6]]"))
    out = tmp_path / "out.jsonl"
    assert main(["attack", str(config), "--out", str(out), "--n-attack", "60", "--restarts", "1",
                 "--steps", "10"]) == 1
    assert "3 violation(s)" in capsys.readouterr().err  # 3 inputs x 1 budget, each flipped
    rows = [json.loads(ln) for ln in out.read_text().splitlines()[1:]]
    assert all(f["violation"] and f["attacked_prediction"] == 1 for r in rows for f in r["findings"])
    # the sound reference certifier on the same config certifies nothing at r = (8, 6) and exits 0
    monkeypatch.undo()
    assert attack(config, tmp_path / "sound.jsonl") == 0
