"""Throughput options (opt-in): cross-input batching keeps every input's votes; autocast still counts N votes;
configs without the options keep their identity (so earlier runs still resume)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import e2e_toy
from mmcert_verified.pipeline.certifier import Certifier
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.pipeline.runs import execute, load_config, read_run_file
from mmcert_verified.sampling import SamplingPlan
from mmcert_verified.threat_model import Method
from run_helpers import classification_config, write_config


def _cases():
    clips, scenes = e2e_toy.clips(7), e2e_toy.scenes(5)
    yield ("classification", e2e_toy.classifier(), SamplingPlan(e2e_toy.MODALITIES, (3, 5)), 3,
           [(i, clips[i][0]) for i in range(7)])
    yield ("segmentation", e2e_toy.segmenter(), SamplingPlan(e2e_toy.SEG_MODALITIES, (30,), Method.ABLATION), 2,
           [(i, scenes[i][0]) for i in range(5)])


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: c[0])
def test_packed_batches_give_every_input_the_votes_it_gets_alone(case):
    task, model, plan, classes, items = case
    alone = Certifier(model, plan, task, classes, n_samples=12, batch_size=40, seed=4)
    packed = Certifier(model, plan, task, classes, n_samples=12, batch_size=40, seed=4, pack_inputs=True)
    assert packed.packs() == 3  # 40 // 12 inputs per forward batch
    model.calls = 0
    got = list(packed.stream_votes(items))
    assert model.calls == -(-len(items) // 3)  # ceil(inputs / 3) forward passes instead of one per input
    assert model.max_batch == 36
    assert [i for i, _ in got] == [i for i, _ in items]
    for (index, inputs), (_, counts) in zip(items, got):
        assert np.array_equal(counts, alone.votes(inputs, index))  # the same masks, the same votes


def test_packing_is_off_when_n_exceeds_the_batch():
    model, plan = e2e_toy.classifier(), SamplingPlan(e2e_toy.MODALITIES, (3, 5))
    assert Certifier(model, plan, "classification", 3, n_samples=50, batch_size=40, pack_inputs=True).packs() == 1


def test_autocast_votes_are_exact_counts_of_n(tmp_path):
    model, plan = e2e_toy.classifier(), SamplingPlan(e2e_toy.MODALITIES, (3, 5))
    cert = Certifier(model, plan, "classification", 3, n_samples=25, batch_size=10, autocast="bfloat16")
    counts = cert.votes(e2e_toy.clips(2)[1][0], 1)
    assert counts.dtype == np.int64 and int(counts.sum()) == 25
    with pytest.raises(InvalidParameterError, match="autocast must be one of"):
        Certifier(model, plan, "classification", 3, autocast="int8")


CONFIG = classification_config(8, """
k = [3, 5]
N = 10
alpha = 0.05
batch_size = 35
EXTRA
""", """
r = [[0, 0], [1, 1]]
""")


def _config(tmp_path: Path, extra: str = "", name: str = "run.toml"):
    return load_config(write_config(tmp_path, CONFIG.replace("EXTRA", extra), name))


def test_a_packed_run_writes_the_records_of_the_default_run(tmp_path):
    plain, packed = _config(tmp_path), _config(tmp_path, "pack_inputs = true", "packed.toml")
    execute(plain, tmp_path / "plain.jsonl", progress=False)
    execute(packed, tmp_path / "packed.jsonl", progress=False)

    def records(name):
        return [{k: v for k, v in r.items() if k != "line_sha256"} for r in read_run_file(tmp_path / name).records()]

    assert records("packed.jsonl") == records("plain.jsonl")
    # the option is part of the identity (it changes how the model is called), so the files do not mix
    head = [json.loads((tmp_path / n).read_text().splitlines()[0]) for n in ("plain.jsonl", "packed.jsonl")]
    assert head[0]["identity_sha256"] != head[1]["identity_sha256"]


def test_configs_without_the_options_keep_their_canonical_form(tmp_path):
    # a config written before the options existed has the same canonical certify table as before
    assert sorted(_config(tmp_path).canonical()["certify"]) == sorted(
        ["method", "k", "N", "alpha", "batch_size", "seed", "device", "engine"])
    assert _config(tmp_path, 'autocast = "bfloat16"').canonical()["certify"]["autocast"] == "bfloat16"
    for bad, message in (('pack_inputs = "yes"', "must be true or false"), ('autocast = "fp8"', "'autocast' must be")):
        with pytest.raises(InvalidParameterError, match=message):
            _config(tmp_path, bad)
