"""Distributed runs (clause RUN.9): torchrun ranks and SLURM array tasks give the single-process file.

The torchrun tests start real processes (``torchrun --standalone
--nproc-per-node 2 -m mmcert_verified run``, gloo backend on the CPU) on a
tiny config from ``e2e_toy.py``; the launcher-environment logic is tested in
process with explicit environments.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmcert_verified.atomic_io import FileLock
from mmcert_verified.cli import main
from mmcert_verified.errors import InputFileError, InvalidParameterError
from mmcert_verified.pipeline.runs import Shard, execute, load_config, merge, read_run_file
from mmcert_verified.pipeline.runs.launch import Launch, Launcher, detect_launch
from config_text import toml_lines
from run_helpers import classification_config, write_config

ROOT = Path(__file__).resolve().parents[2]

CONFIG = classification_config(7, toml_lines(method="mmcert", k=[3, 5], N=30, alpha=0.01, batch_size=16, seed=3),
                               toml_lines(attack="modify", r=[[0, 0], [1, 1]]))


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path, CONFIG)


def _torchrun(cfg: Path, out: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RANK", "WORLD_SIZE", "LOCAL_RANK"))}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "mmcert_verified", "run", str(cfg),
           "--out", str(out), *extra]
    return subprocess.run(cmd, env=env, cwd=out.parent, capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- torchrun, real processes

def test_torchrun_two_ranks_write_the_single_process_file(tmp_path):
    """The issue's contract: after torchrun with 2 ranks, FILE == `mmcert run CONFIG --out FILE` in one process."""
    cfg = _config(tmp_path)
    single = tmp_path / "single.jsonl"
    assert main(["run", str(cfg), "--out", str(single), "--quiet"]) == 0
    out = tmp_path / "dist.jsonl"
    proc = _torchrun(cfg, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # records identical (same inputs, votes, verdicts; ordered by index) -- and the whole file, byte for byte
    ours, theirs = read_run_file(out), read_run_file(single)
    assert [r["index"] for r in ours.records()] == list(range(7))
    assert ours.records() == theirs.records()
    assert out.read_bytes() == single.read_bytes()
    # each rank wrote its own shard: rank r holds the inputs with index % 2 == r
    for r in range(2):
        part = read_run_file(tmp_path / f"dist.jsonl.rank-{r}-of-2")
        assert sorted(part.lines) == list(range(r, 7, 2)) and part.header["shard"] == [r, 2]
    assert not list(tmp_path.glob("*.lock"))  # every lock released


@pytest.mark.slow
def test_torchrun_resumes_per_rank_and_respects_the_locks(tmp_path):
    cfg = _config(tmp_path)
    single = tmp_path / "single.jsonl"
    assert main(["run", str(cfg), "--out", str(single), "--quiet"]) == 0
    out = tmp_path / "dist.jsonl"
    # interrupted: one input per rank, no join yet
    first = _torchrun(cfg, out, "--limit", "1")
    assert first.returncode == 0, first.stderr[-2000:]
    assert not out.exists() and "not joined yet, 5 inputs left" in first.stdout
    # a rank's file locked by another writer: every rank exits non-zero, nothing joined
    with FileLock(tmp_path / "dist.jsonl.rank-1-of-2"):
        locked = _torchrun(cfg, out)
    assert locked.returncode != 0 and "another process is writing" in locked.stderr
    assert not out.exists()
    # resumed: the rank files continue where they stopped and rank 0 joins them
    second = _torchrun(cfg, out)
    assert second.returncode == 0, second.stderr[-2000:]
    assert out.read_bytes() == single.read_bytes()
    # rerunning a finished command changes nothing
    again = _torchrun(cfg, out)
    assert again.returncode == 0 and out.read_bytes() == single.read_bytes()


# --------------------------------------------------------------------------- the launcher's environment

def test_torchrun_environment_gives_the_rank_as_shard_and_local_rank_as_cuda_index():
    launch = detect_launch({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert launch == Launch(Launcher.TORCHRUN, Shard(3, 4), 1)
    assert launch.shard_out("out/x.jsonl") == Path("out/x.jsonl.rank-3-of-4")
    assert launch.rank_files("x.jsonl") == [Path(f"x.jsonl.rank-{i}-of-4") for i in range(4)]
    assert launch.device("cuda") == "cuda:1" and launch.device("cpu") == "cpu" and launch.device("cuda:0") == "cuda:0"
    # one rank: a plain single-process run into FILE itself
    solo = detect_launch({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
    assert solo.launcher is Launcher.SINGLE and solo.shard_out("x.jsonl") == Path("x.jsonl")


def test_slurm_array_gives_the_task_as_shard_from_the_array_minimum():
    env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "3",
           "SLURM_ARRAY_TASK_MAX": "6"}
    launch = detect_launch(env)
    assert launch == Launch(Launcher.SLURM_ARRAY, Shard(2, 4))
    assert launch.shard_out("x.jsonl") == Path("x.jsonl.shard-2-of-4")
    # an explicit --shard wins over the array
    assert detect_launch(env, Shard(1, 3)) == Launch(Launcher.SINGLE, Shard(1, 3))
    assert detect_launch({}) == Launch(Launcher.SINGLE, Shard())


@pytest.mark.parametrize("env, shard, message", [
    ({"RANK": "2", "WORLD_SIZE": "2"}, None, "RANK=2 is not below WORLD_SIZE=2"),
    ({"RANK": "x", "WORLD_SIZE": "2"}, None, "RANK='x' is not an integer"),
    ({"WORLD_SIZE": "2"}, None, "RANK is not"),
    ({"RANK": "0", "WORLD_SIZE": "2"}, Shard(0, 2), "the ranks are the shards"),
    ({"RANK": "0", "WORLD_SIZE": "2", "SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"}, None,
     "both torchrun"),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
      "SLURM_ARRAY_TASK_MAX": "4"}, None, "not contiguous"),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3"}, None, "outside the array"),
])
def test_contradictory_or_malformed_launcher_variables_are_one_clear_error(env, shard, message):
    with pytest.raises(InvalidParameterError, match=message):
        detect_launch(env, shard)


def test_slurm_array_tasks_then_merge_glob_give_the_single_process_file(tmp_path, monkeypatch, capsys):
    cfg = _config(tmp_path)
    single = tmp_path / "single.jsonl"
    assert main(["run", str(cfg), "--out", str(single), "--quiet"]) == 0
    out = tmp_path / "arr.jsonl"
    for task in (1, 2, 3):  # an array --array=1-3
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
        monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
        monkeypatch.setenv("SLURM_ARRAY_TASK_MAX", "3")
        assert main(["run", str(cfg), "--out", str(out)]) == 0
        assert f"mmcert merge {out} --glob '{out}.shard-*'" in capsys.readouterr().out
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    assert sorted(p.name for p in tmp_path.glob("arr.jsonl.shard-*")) == [f"arr.jsonl.shard-{i}-of-3" for i in range(3)]
    assert main(["merge", "--glob", f"{out}.shard-*"]) == 0  # OUT inferred from the pattern
    assert out.read_bytes() == single.read_bytes()
    # merging again refuses to overwrite; a pattern matching nothing is one clear error
    assert main(["merge", "--glob", f"{out}.shard-*"]) == 2
    assert main(["merge", str(tmp_path / "m.jsonl"), "--glob", str(tmp_path / "nothing-*")]) == 2
    assert "no files match" in capsys.readouterr().err


def test_merge_refuses_a_shard_whose_writer_still_holds_its_lock(tmp_path):
    config = load_config(_config(tmp_path))
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    for i, path in enumerate(shards):
        execute(config, path, Shard(i, 2), progress=False)
    with FileLock(shards[1]):
        with pytest.raises(InputFileError, match="still being written"):
            merge(tmp_path / "m.jsonl", shards)
    assert not (tmp_path / "m.jsonl").exists()
    merge(tmp_path / "m.jsonl", shards)
    assert json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])["shard"] == [0, 1]
