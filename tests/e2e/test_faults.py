"""Fault injection for `mmcert run` / `mmcert merge` (issue 16 acceptance; clauses RUN.1-RUN.7, V1.1).

Every case must end in either the file an uninterrupted run writes (byte for
byte; certificates equal up to their creation time) or a one-line error with
exit code 2 -- and nothing the user wrote may be lost.

Kills: the test hook ``MMCERT_FAULT_AT=POINT:COUNT`` (mmcert_verified.atomic_io)
makes the process write half of its COUNT-th write at POINT and ``os._exit(137)``,
which is what ``kill -9`` at that moment leaves behind.  The runs are forked
from one helper process that imported the package but never ran torch work
(so the forks are safe and the suite pays the import once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mmcert_verified.atomic_io import FileLock
from mmcert_verified.cli import main
from e2e_toy import CountingModule
from run_helpers import TOY, classification_config, segmentation_config

HERE = Path(__file__).resolve()

# 4 inputs x 2 budgets: 1 header write, 4 line writes, 8 certificate writes, 1 merge write
CONFIG = classification_config(4, """
k = [3, 5]
N = 20
alpha = 0.05
batch_size = 8
seed = 1
""", """
ratios = [[1, 1]]
steps = [0, 1]
""")

SEG_CONFIG = segmentation_config(2, """
k = [20, 10]
N = 20
alpha = "0.05"
engine = "reference"
""", """
r = [[1, 1]]
""")

# forks each case from one helper process that imported everything and ran one warm-up run with a
# single torch thread (no OpenMP pool exists, so forking is safe); each case then costs its own work only
RUNNER = r"""
import json, os, sys
import torch
torch.set_num_threads(1)
from mmcert_verified.cli import main
spec = json.loads(sys.argv[1])
os.chdir(spec["warmup_cwd"])
devnull = os.open(os.devnull, os.O_WRONLY)
saved = os.dup(2)
os.dup2(devnull, 2)
main(spec["warmup"])
os.dup2(saved, 2)
results = []
for case in spec["cases"]:
    pid = os.fork()
    if pid == 0:
        os.chdir(case["cwd"])
        fd = os.open(case["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 2)
        os.dup2(devnull, 1)
        if case.get("fault"):
            os.environ["MMCERT_FAULT_AT"] = case["fault"]
        code = 70
        try:
            code = main(case["argv"])
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    results.append(os.waitstatus_to_exitcode(status))
print(json.dumps(results))
"""


def run_cases(cases: list[dict], tmp_path: Path) -> list[int]:
    """Run each case ({argv, cwd, stderr, fault}) in a fork of one helper process; their exit codes.

    The helper first runs the first case's command once into a scratch directory (warm-up).
    """
    scratch = tmp_path / "warmup"
    scratch.mkdir()
    warm = [a for a in cases[0]["argv"]]
    warm[warm.index("--out") + 1] = str(scratch / "warm.jsonl")
    if "--certificates" in warm:
        warm[warm.index("--certificates") + 1] = str(scratch / "certs")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parents[2]), os.environ.get("PYTHONPATH", "")]))
    env.pop("MMCERT_FAULT_AT", None)
    spec = {"warmup": warm, "warmup_cwd": str(scratch), "cases": cases}
    proc = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(spec)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shutil.rmtree(scratch)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cert_contents(directory: Path) -> dict[str, object]:
    """Certificates by name, without what legitimately differs between runs (creation time, digest)."""
    out = {}
    for p in sorted(directory.iterdir()):
        if p.suffix == ".json":
            doc = json.loads(p.read_text())
            doc["provenance"].pop("created")
            doc.pop("digest")
            out[p.name] = doc
        else:
            out[p.name] = p.read_bytes()
    return out


def one_line_error(path: Path) -> str:
    err = path.read_text().strip()
    assert err.startswith("mmcert ") and "\n" not in err and "Traceback" not in err, err
    return err


KILL_POINTS = ["header:1", "line:1", "line:3", "certificate:1", "certificate:4", "certificate:8"]
ALL_KILL_POINTS = ["header:1", *(f"line:{i}" for i in range(1, 5)), *(f"certificate:{i}" for i in range(1, 9))]


def _kill_and_resume(tmp_path: Path, points: list[str], config_text: str = CONFIG, certs: bool = True):
    cfg = tmp_path / "run.toml"
    cfg.write_text(config_text)
    cases = []

    def argv(out: str, cert_dir: str) -> list[str]:
        return ["run", str(cfg), "--out", out, "--quiet"] + (["--certificates", cert_dir] if certs else [])

    cases.append(dict(argv=argv("whole.jsonl", "whole-certs"), cwd=str(tmp_path), stderr=str(tmp_path / "whole.err")))
    for j, point in enumerate(points):
        out, cd = f"k{j}.jsonl", f"k{j}-certs"
        cases.append(dict(argv=argv(out, cd), cwd=str(tmp_path), stderr=str(tmp_path / f"k{j}.kill.err"), fault=point))
        cases.append(dict(argv=argv(out, cd), cwd=str(tmp_path), stderr=str(tmp_path / f"k{j}.err")))
    codes = run_cases(cases, tmp_path)
    assert codes[0] == 0, (tmp_path / "whole.err").read_text()
    whole = (tmp_path / "whole.jsonl").read_bytes()
    for j, point in enumerate(points):
        killed, resumed = codes[1 + 2 * j], codes[2 + 2 * j]
        assert killed == 137, (point, killed, (tmp_path / f"k{j}.kill.err").read_text())
        assert resumed == 0, (point, (tmp_path / f"k{j}.err").read_text())
        assert (tmp_path / f"k{j}.jsonl").read_bytes() == whole, point
        assert not (tmp_path / f"k{j}.jsonl.lock").exists()
        if certs:
            assert cert_contents(tmp_path / f"k{j}-certs") == cert_contents(tmp_path / "whole-certs"), point
    leftovers = [p.name for p in tmp_path.rglob(".*tmp-*")]
    assert not leftovers, leftovers  # stale temporary files are cleaned up by the next write of their name


def test_kill_at_representative_writes_then_resume_equals_an_uninterrupted_run(tmp_path):
    _kill_and_resume(tmp_path, KILL_POINTS)


@pytest.mark.slow
def test_kill_at_every_write_then_resume_equals_an_uninterrupted_run(tmp_path):
    _kill_and_resume(tmp_path, ALL_KILL_POINTS)


def test_kill_while_writing_a_segmentation_certificate_or_its_votes(tmp_path):
    _kill_and_resume(tmp_path, ["sidecar:1", "certificate:2"], SEG_CONFIG)


def test_kill_during_merge_then_merge_again(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    shards = [f"s{i}.jsonl" for i in range(2)]
    cases = [dict(argv=["run", str(cfg), "--out", "whole.jsonl", "--quiet"], cwd=str(tmp_path),
                  stderr=str(tmp_path / "w.err"))]
    cases += [dict(argv=["run", str(cfg), "--shard", f"{i}/2", "--out", s, "--quiet"], cwd=str(tmp_path),
                   stderr=str(tmp_path / f"{s}.err")) for i, s in enumerate(shards)]
    cases.append(dict(argv=["merge", "m.jsonl", *shards], cwd=str(tmp_path), stderr=str(tmp_path / "m1.err"),
                      fault="merge:1"))
    cases.append(dict(argv=["merge", "m.jsonl", *shards], cwd=str(tmp_path), stderr=str(tmp_path / "m2.err")))
    assert run_cases(cases, tmp_path) == [0, 0, 0, 137, 0]
    assert (tmp_path / "m.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert not list(tmp_path.glob(".*tmp-*"))


# --------------------------------------------------------------------------- files edited or damaged

@pytest.fixture
def finished(tmp_path, monkeypatch):
    """A complete run (4 inputs) and an interrupted one (2 inputs), both in tmp_path."""
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    assert main(["run", str(cfg), "--out", "whole.jsonl", "--quiet"]) == 0
    assert main(["run", str(cfg), "--out", "part.jsonl", "--limit", "2", "--quiet"]) == 0
    return cfg


def _edit_counts(data: bytes) -> bytes:
    lines = data.split(b"\n")
    rec = json.loads(lines[1])
    rec["counts"][0] += 1  # still valid JSON, still sums to N + 1: only the digest catches it
    rec["counts"][1] -= 1
    lines[1] = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
    return b"\n".join(lines)


def _drop_digest_field(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[2] = b'{"index": 1}'
    return b"\n".join(lines)


@pytest.mark.parametrize(
    "damage, message",
    [
        (_edit_counts, "digest"),
        (_drop_digest_field, "digest"),
        (lambda d: d.replace(b'"prediction"', b'"pr\xff\xfediction"', 1), "not UTF-8"),
        (lambda d: d + b"\x00\x01garbage\x9c\n", "not UTF-8"),
        (lambda d: d + b"[1, 2, 3]\n", "not a result line"),
        (lambda d: d.split(b"\n")[0][:40], "no complete header line"),
        (lambda d: d.replace(b'"N":20', b'"N":21', 1), "header"),
    ],
    ids=["edited-counts", "incomplete-record", "invalid-utf8", "binary-garbage", "not-an-object",
         "truncated-header", "edited-header"],
)
def test_damaged_run_files_are_one_line_errors_and_are_left_alone(finished, tmp_path, capsys, damage, message):
    cfg = finished
    for name, argv in (("part.jsonl", ["run", str(cfg), "--out", "part.jsonl"]),
                       ("whole.jsonl", ["merge", "m.jsonl", "whole.jsonl"]),
                       ("whole.jsonl", ["report", "whole.jsonl", "--no-plots"])):
        path = tmp_path / name
        original = path.read_bytes()
        broken = damage(original)
        path.write_bytes(broken)
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err and message in err, err
        assert path.read_bytes() == broken  # nothing the user has is changed
        assert not (tmp_path / "m.jsonl").exists()
        path.write_bytes(original)


def test_a_line_cut_short_is_redone(finished, tmp_path):
    part = tmp_path / "part.jsonl"
    whole = (tmp_path / "whole.jsonl").read_bytes()
    cut = whole[: len(part.read_bytes()) + 25]  # the third line, cut 25 bytes in
    part.write_bytes(cut)
    assert main(["run", str(finished), "--out", "part.jsonl", "--quiet"]) == 0
    assert part.read_bytes() == whole


def test_a_second_writer_is_refused_with_exit_2(finished, tmp_path, capsys):
    part = tmp_path / "part.jsonl"
    before = part.read_bytes()
    with FileLock(part):  # a first writer holding the output (flock: per open file, so this works in-process)
        capsys.readouterr()
        assert main(["run", str(finished), "--out", "part.jsonl"]) == 2
        assert "another process is writing" in capsys.readouterr().err
    assert part.read_bytes() == before
    assert main(["run", str(finished), "--out", "part.jsonl", "--quiet"]) == 0
    assert part.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_a_broken_certificate_found_on_resume_is_rewritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    assert main(["run", str(cfg), "--out", "w.jsonl", "--certificates", "wc", "--quiet"]) == 0
    assert main(["run", str(cfg), "--out", "p.jsonl", "--limit", "2", "--certificates", "pc", "--quiet"]) == 0
    (tmp_path / "pc" / "input-000000-budget-01.json").write_bytes(b"")  # what an older, non-atomic write left
    (tmp_path / "pc" / "input-000001-budget-00.json").unlink()
    assert main(["run", str(cfg), "--out", "p.jsonl", "--certificates", "pc", "--quiet"]) == 0
    assert (tmp_path / "p.jsonl").read_bytes() == (tmp_path / "w.jsonl").read_bytes()
    assert cert_contents(tmp_path / "pc") == cert_contents(tmp_path / "wc")
    assert main(["audit", *map(str, sorted((tmp_path / "pc").glob("*.json")))]) == 0


# --------------------------------------------------------------------------- misbehaving models and configs

class DropsARow(nn.Module):
    def forward(self, a, b):
        return torch.zeros(a.shape[0] - 1, 3)


class InfiniteScores(nn.Module):
    def forward(self, a, b):
        return torch.full((a.shape[0], 3), float("inf"))


class NaNScores(nn.Module):
    def forward(self, a, b):
        out = torch.zeros(a.shape[0], 3)
        out[0, 1] = float("nan")
        return out


class ExtraClass(nn.Module):
    def forward(self, a, b):
        return torch.zeros(a.shape[0], 4)


class FailsLater(CountingModule):
    """Works on the trial batch and the first vote batch, then raises."""

    def forward(self, a, b):
        self.count(a.shape[0])
        if self.calls > 2:
            raise RuntimeError("device-side assert triggered")
        return torch.zeros(a.shape[0], 3)


class OutOfMemory(nn.Module):
    def forward(self, a, b):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def bad_weights():
    nn.Linear(2, 2).load_state_dict({"weight": torch.zeros(3, 3)})  # the user's own load error


def _model(factory: str) -> tuple[str, str]:
    """The config edit that makes this file's ``factory`` (a model class or function) the run's model."""
    return f"{TOY.as_posix()}:classifier", f"{HERE.as_posix()}:{factory}"


class BadLabels:
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (torch.zeros(1, 12), torch.zeros(1, 30)), 3  # classes = 3: label 3 is out of range


def bad_labels(count: int = 2):
    return BadLabels()


@pytest.mark.parametrize(
    "change, message",
    [
        (_model("DropsARow"), "returned 7 rows for a batch of 8"),
        (_model("InfiniteScores"), "infinite"),
        (_model("NaNScores"), "NaN"),
        (_model("ExtraClass"), "expected (8, 3)"),
        (_model("FailsLater"), "input 0, vote batch 1"),
        (_model("OutOfMemory"), "ran out of memory at batch size 8"),
        (_model("bad_weights"), "failed: RuntimeError"),
        ((f"{TOY.as_posix()}:clips", f"{HERE.as_posix()}:bad_labels"), "label 3 outside [0, 2]"),
        (("seed = 1", 'seed = 1\ndevice = "cuda:7"'), "cuda:7"),
        (("seed = 1", 'seed = 1\ndevice = "gpu0"'), "not a device name"),
        (("steps = [0, 1]", "steps = [0, 40]"), "does not fit"),
        (('shape = [1, 12]', 'shape = [1, 13]'), "expects shape"),
        (("seed = 1", 'seed = 1\nengin = "reference"'), "unknown key 'engin' (did you mean 'engine'?)"),
        (("classes = 3", "clasess = 3"), "unknown key 'clasess' (did you mean 'classes'?)"),
        (('channel_dim = 0\n[[modalities]]', 'channel_dim = 0\nmask_chanel = false\n[[modalities]]'),
         "unknown key 'mask_chanel' (did you mean 'mask_channel'?)"),
        (("N = 20", "n = 20"), "unknown key 'n' (did you mean 'N'?)"),
    ],
    ids=["rows", "inf", "nan", "classes", "later-batch", "oom", "factory-error", "labels", "no-cuda",
         "bad-device", "budget", "shape", "engin", "clasess", "mask_chanel", "case"],
)
def test_bad_models_and_configs_are_one_line_errors_before_anything_is_written(tmp_path, capsys, change, message):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG.replace(*change))
    out = tmp_path / "out.jsonl"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mmcert run: error: ") and "\n" not in err and "Traceback" not in err, err
    assert message in err, err
    if "FailsLater" not in change[1]:  # every case but the model that fails at a later batch
        assert not out.exists() and list(tmp_path.iterdir()) == [cfg]  # validated before writing anything
    # the corrected config then runs into the same file (nothing was written for the bad one)
    cfg.write_text(CONFIG)
    if not out.exists():
        assert main(["run", str(cfg), "--out", str(out), "--quiet"]) == 0
