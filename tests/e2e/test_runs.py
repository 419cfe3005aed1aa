"""Data-set runs: resume after an interruption, shards + merge == one run, refusals, the CLI verbs."""

from __future__ import annotations

import json

import pytest

from mmcert_verified.cli import main
from mmcert_verified.errors import InputFileError, InvalidParameterError
from mmcert_verified.pipeline.runs import Shard, execute, load_config, merge, read_run_file, summarize
from config_text import toml_lines
from run_helpers import classification_config, segmentation_config, write_config as write

CLASSIFICATION = classification_config(
    9, toml_lines(method="mmcert", k=[3, 5], N=40, alpha=0.01, batch_size=16, seed=5),
    toml_lines(attack="modify", r=[[0, 0]], ratios=[[1, 1], [1, 2]], steps=[1, 2]))

SEGMENTATION = segmentation_config(
    5, toml_lines(method="ablation", k=30, N=30, alpha="0.05", engine="reference"), toml_lines(r=[[0, 0], [1, 1]]))


@pytest.fixture(params=["classification", "segmentation"])
def config_path(request, tmp_path):
    return write(tmp_path, CLASSIFICATION if request.param == "classification" else SEGMENTATION)


def test_config_is_parsed(config_path):
    config = load_config(config_path)
    assert config.n_samples in (40, 30)
    if config.task.value == "classification":
        # r = 0, then t * (1, 1) and t * (1, 2) for t = 1, 2; alpha kept as the decimal written
        assert [b.r for b in config.budgets] == [(0, 0), (1, 1), (2, 2), (1, 2), (2, 4)]
        assert config.alpha == "0.01"


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(config_path, tmp_path):
    config = load_config(config_path)
    whole = tmp_path / "whole.jsonl"
    execute(config, whole, progress=False)
    part = tmp_path / "part.jsonl"
    first = execute(config, part, limit=2, progress=False)  # "killed" after two inputs
    assert first.newly_done == 2 and first.remaining > 0
    # a kill in the middle of writing a line leaves half a line behind
    with part.open("ab") as fh:
        fh.write(b'{"index": 2, "pred')
    second = execute(config, part, progress=False)
    assert second.already_done == 2 and second.newly_done == second.in_shard - 2 and second.remaining == 0
    assert part.read_bytes() == whole.read_bytes()
    again = execute(config, part, progress=False)  # nothing left to do
    assert again.newly_done == 0 and part.read_bytes() == whole.read_bytes()


def test_two_shards_merged_equal_one_run(config_path, tmp_path):
    config = load_config(config_path)
    whole = tmp_path / "whole.jsonl"
    execute(config, whole, progress=False)
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    for i, path in enumerate(shards):
        execute(config, path, Shard(i, 2), progress=False)
    assert sorted(read_run_file(shards[0]).lines) == list(range(0, len(config.data.build()), 2))
    merged = tmp_path / "merged.jsonl"
    merge(merged, list(reversed(shards)))
    assert merged.read_bytes() == whole.read_bytes()
    with pytest.raises(InputFileError, match="refusing to overwrite"):
        merge(merged, shards)


def test_merge_detects_missing_and_duplicate_inputs(tmp_path):
    config = load_config(write(tmp_path, CLASSIFICATION))
    s0, s1 = tmp_path / "s0.jsonl", tmp_path / "s1.jsonl"
    execute(config, s0, Shard(0, 2), progress=False)
    execute(config, s1, Shard(1, 2), limit=1, progress=False)
    with pytest.raises(InputFileError, match="missing"):
        merge(tmp_path / "m.jsonl", [s0, s1])
    with pytest.raises(InputFileError, match="more than one shard"):
        merge(tmp_path / "m.jsonl", [s0, s0])
    assert not (tmp_path / "m.jsonl").exists()


def test_resume_refuses_a_file_of_another_config(tmp_path):
    config = load_config(write(tmp_path, CLASSIFICATION))
    out = tmp_path / "out.jsonl"
    execute(config, out, limit=1, progress=False)
    other = load_config(write(tmp_path, CLASSIFICATION.replace("N = 40", "N = 41"), "other.toml"))
    before = out.read_bytes()
    with pytest.raises(InputFileError, match="different config"):
        execute(other, out, progress=False)
    with pytest.raises(InputFileError, match="shard"):
        execute(config, out, Shard(1, 2), progress=False)
    assert out.read_bytes() == before


def test_run_never_touches_a_file_it_did_not_write(tmp_path):
    config = load_config(write(tmp_path, CLASSIFICATION))
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"my": "data"}\n')
    with pytest.raises(InputFileError, match="not an mmcert run file"):
        execute(config, notes, progress=False)
    assert notes.read_text() == '{"my": "data"}\n'


def test_summary_counts_certified_and_correct(tmp_path):
    config = load_config(write(tmp_path, CLASSIFICATION))
    out = tmp_path / "out.jsonl"
    execute(config, out, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    summary = summarize(out)
    for j, entry in enumerate(summary):
        expected = sum(r["certified"][j] and r["prediction"] == r["label"] for r in rows) / len(rows)
        assert entry["certified_accuracy"] == expected
    accuracies = [e["certified_accuracy"] for e in summary]
    assert accuracies[0] >= max(accuracies[1:])  # r = 0 is the easiest budget


@pytest.mark.parametrize(
    "change, message",
    [
        (("N = 40", "N = 0"), "N and batch_size"),
        (("k = [3, 5]", "k = [3, 50]"), "exceeds"),
        (("alpha = 0.01", "alpha = 1.5"), "alpha"),
        (('method = "mmcert"', 'method = "other"'), "other"),
        (("steps = [1, 2]", ""), "'ratios' and 'steps' go together"),
    ],
)
def test_bad_configs_are_user_errors(tmp_path, change, message):
    with pytest.raises(InvalidParameterError, match=message):
        load_config(write(tmp_path, CLASSIFICATION.replace(*change)))


@pytest.mark.parametrize(
    "change, message",
    [
        (("count = 9", "cnt = 9"), "does not accept"),  # a data factory keyword that does not exist
        (('name = "a"\nshape = [1, 12]\nelement_dims = [1]\nchannel_dim = 0',
          'name = "a"\nshape = [1, 12]\nelement_dims = [1]\nchannel_dim = 0\nmask_channel = false'),
         "cannot take the encoded inputs"),  # the model expects a mask channel
    ],
)
def test_configs_that_do_not_fit_the_model_or_data_are_user_errors(tmp_path, change, message):
    config = load_config(write(tmp_path, CLASSIFICATION.replace(*change)))
    with pytest.raises(InvalidParameterError, match=message):
        execute(config, tmp_path / "out.jsonl", progress=False)


def test_cli_run_resume_and_merge(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default outputs go to the current directory
    cfg = write(tmp_path, CLASSIFICATION)
    out = tmp_path / "cli.jsonl"
    assert main(["run", str(cfg), "--out", str(out), "--limit", "3", "--quiet"]) == 0
    assert len(read_run_file(out).lines) == 3
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert "9 of 9 inputs" in capsys.readouterr().out
    for i in range(3):
        assert main(["run", str(cfg), "--shard", f"{i}/3", "--quiet"]) == 0
    shards = [str(tmp_path / f"run.shard-{i}-of-3.jsonl") for i in range(3)]
    merged = tmp_path / "merged.jsonl"
    assert main(["merge", str(merged), *shards]) == 0
    assert merged.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "missing.toml"],
        ["run", "{cfg}", "--shard", "3/2"],
        ["run", "{cfg}", "--shard", "x"],
        ["merge", "{out}", "{cfg}"],
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, argv):
    cfg = write(tmp_path, CLASSIFICATION)
    argv = [a.format(cfg=cfg, out=tmp_path / "m.jsonl") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mmcert ") and "\n" not in err and "Traceback" not in err


# --------------------------------------------------------------------------- issue 16: identity, radii, report

def test_each_classification_line_carries_the_reference_radius_along_every_ratio(tmp_path):
    from mmcert_verified.reference.certify import radius

    config = load_config(write(tmp_path, CLASSIFICATION))
    out = tmp_path / "out.jsonl"
    execute(config, out, progress=False)
    setting = config.plan.setting
    rows = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    assert config.ratios == ((1, 1), (1, 2))
    for row in rows:
        # expected: the reference engine's radius search on the same counts (clause R1)
        expected = [radius(row["counts"], config.alpha, setting.n, setting.k, ratio, "modify").radius
                    for ratio in config.ratios]
        assert row["radius"] == expected
        assert sum(row["counts"]) == config.n_samples  # every vote counted once (clause V1.1)


def test_cpu_batch_size_is_not_part_of_the_identity_so_shards_at_other_batch_sizes_merge(tmp_path):
    config = load_config(write(tmp_path, CLASSIFICATION))
    whole = tmp_path / "whole.jsonl"
    execute(config, whole, progress=False)
    s0, s1 = tmp_path / "s0.jsonl", tmp_path / "s1.jsonl"
    execute(config.with_overrides(batch_size=7), s0, Shard(0, 2), progress=False)
    execute(config.with_overrides(batch_size=40), s1, Shard(1, 2), progress=False)
    merged = tmp_path / "m.jsonl"
    merge(merged, [s0, s1])
    # the result lines are the unsharded run's, byte for byte (votes do not depend on the CPU batch size)
    assert merged.read_text().splitlines()[1:] == whole.read_text().splitlines()[1:]
    # and resuming the unsharded file at another batch size is the same run
    execute(config.with_overrides(batch_size=3), whole, progress=False)


def test_identity_ignores_the_cuda_index_but_not_the_gpu_model():
    from mmcert_verified.pipeline.runs.identity import Runtime, identity, identity_digest

    det = {"cudnn_deterministic": True}
    cfg = {"certify": {"device": "cuda:0", "batch_size": 100, "N": 10}, "data": {"factory": "x"}}
    digests = [
        identity_digest(identity(cfg, Runtime(dev, "cuda", "2.13.0", gpu, (9, 0), det), "0" * 64, 5, "1" * 64))
        for dev, gpu in (("cuda:0", "NVIDIA H200"), ("cuda:1", "NVIDIA H200"), ("cuda:0", "NVIDIA A100"))
    ]
    assert digests[0] == digests[1] and digests[0] != digests[2]
    on_cuda = identity(cfg, Runtime("cuda:0", "cuda", "2.13.0", "NVIDIA H200", (9, 0), det), "0" * 64, 5, "1" * 64)
    on_cpu = identity(cfg, Runtime("cpu", "cpu", "2.13.0"), "0" * 64, 5, "1" * 64)
    assert "batch_size" in on_cuda["certify"] and "batch_size" not in on_cpu["certify"]
    assert on_cuda["runtime"]["determinism"] == det


def test_the_sampling_scheme_is_part_of_the_identity(tmp_path, monkeypatch):
    """RUN.6 / SAMP.4: votes drawn by another mask scheme must not be resumed or merged with this one's."""
    from mmcert_verified.pipeline.runs import identity as identity_module

    config = load_config(write(tmp_path, CLASSIFICATION))
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(identity_module, "SAMPLING_SCHEME", "an-earlier-scheme")
    execute(config, out, limit=1, progress=False)
    assert json.loads(out.read_text().splitlines()[0])["identity"]["sampling"] == "an-earlier-scheme"
    monkeypatch.undo()
    with pytest.raises(InputFileError, match=r"different config \(differs in: sampling\)"):
        execute(config, out, progress=False)


def test_a_run_file_of_the_previous_format_is_a_clear_error(tmp_path, capsys):
    cfg = write(tmp_path, CLASSIFICATION)
    old = tmp_path / "old.jsonl"
    old.write_text('{"config":{"budgets":[],"task":"classification"},"config_sha256":"x","format":"mmcert-run/1",'
                   '"inputs":9,"shard":[0,1]}\n')
    before = old.read_bytes()
    assert main(["run", str(cfg), "--out", str(old)]) == 2
    assert "earlier mmcert-verified (mmcert-run/1" in capsys.readouterr().err
    assert old.read_bytes() == before


def test_progress_lines_without_a_terminal(tmp_path):
    config = load_config(write(tmp_path, CLASSIFICATION))
    lines: list[str] = []
    execute(config, tmp_path / "out.jsonl", progress=None, log=lines.append, log_every=0.0)
    # stderr is not a terminal under pytest: one log line per input at log_every = 0
    assert len(lines) == 9 and lines[-1].startswith("out.jsonl: 9/9 inputs")


def test_certificates_record_the_model_digest_and_torch_version(tmp_path):
    import torch

    config = load_config(write(tmp_path, CLASSIFICATION))
    out = tmp_path / "out.jsonl"
    execute(config, out, limit=1, progress=False, certificates=tmp_path / "certs")
    header = json.loads(out.read_text().splitlines()[0])
    doc = json.loads(next((tmp_path / "certs").glob("*.json")).read_text())
    assert doc["provenance"]["model_sha256"] == header["identity"]["model_sha256"]
    assert doc["provenance"]["libraries"]["torch"] == torch.__version__


#: several budgets along two directions, so a certificate per budget comes from several engine calls
SEGMENTATION_BUDGETS = segmentation_config(
    3, toml_lines(method="mmcert", k=[20, 10], N=20, alpha="0.05", engine="reference"),
    toml_lines(r=[[0, 0]], ratios=[[1, 1], [1, 2]], steps=[1, 2, 3]))


@pytest.mark.parametrize("layout", ["per-budget", "per-input"])
def test_segmentation_run_certificates_from_the_fast_engine_are_the_reference_engines(tmp_path, monkeypatch, layout):
    """A segmentation run writes its certificates from its own engine (one call for several budgets).  The
    fast engine's claims must equal the reference engine's claim for claim (clause F.5), and every
    certificate must hold under the audit, which re-derives them with the reference engine (CERT.3).  With
    SEGMENTATION_RESULT_PIXELS at two images' worth (96 pixels) an input's 7 budgets go 2, 2, 2, 1 per engine
    call, in order."""
    from mmcert_verified.certificates.audit import Verdict, audit_file
    import mmcert_verified.pipeline.certifier as certifier_module

    monkeypatch.setattr(certifier_module, "SEGMENTATION_RESULT_PIXELS", 96)
    claims = {}
    for engine in ("reference", "fast"):
        text = SEGMENTATION_BUDGETS.replace('engine = "reference"', f'engine = "{engine}"')
        if layout == "per-input":
            text = 'certificates = "per-input"\n' + text
        where = tmp_path / engine
        where.mkdir()
        config = load_config(write(where, text))
        execute(config, where / "run.jsonl", progress=False, certificates=where / "certs")
        claims[engine] = {}
        for path in sorted((where / "certs").glob("*.json")):
            assert audit_file(path).status is Verdict.HOLDS, path
            doc = json.loads(path.read_text())
            assert doc["provenance"]["engine"] == engine
            claims[engine][path.name] = doc["claims"]
    # 3 inputs x (r = 0 and 2 ratios x 3 steps = 7 budgets), or one per input
    assert len(claims["fast"]) == (21 if layout == "per-budget" else 3)
    assert claims["fast"] == claims["reference"]
    certified = [c["certified_pixels"] for c in claims["fast"].values()] if layout == "per-budget" else \
        [row["certified_pixels"] for c in claims["fast"].values() for row in c["budgets"]]
    assert max(certified) > 0 and min(certified) < 48  # the budgets decide differently: the claims are not all alike


def test_report_summarises_and_plots_a_run(tmp_path, capsys):
    cfg = write(tmp_path, CLASSIFICATION)
    out = tmp_path / "run.jsonl"
    assert main(["run", str(cfg), "--out", str(out), "--limit", "4", "--quiet"]) == 0
    plots = tmp_path / "plots"
    assert main(["report", str(out), "--out", str(plots), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["runs"][0]
    assert (doc["N"], doc["alpha"], doc["k"], doc["attack"]) == (40, "0.01", [3, 5], "modify")
    assert doc["inputs"] == 4 and doc["of"] == 9 and not doc["complete"]
    assert doc["summary"] == summarize(out)
    png = plots / "run.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report", str(out), "--out", str(plots)]) == 2  # an existing plot is not replaced silently
    assert "already exist" in capsys.readouterr().err
    assert main(["report", str(out), "--out", str(plots), "--force"]) == 0
    text = capsys.readouterr().out
    assert "N = 40, alpha = 0.01, k = (3, 5), attack = modify; 4 of 9 inputs (incomplete" in text


def test_summary_counts_only_certified_correct_predictions():
    from mmcert_verified.pipeline.runs.run_file import RunFile
    from mmcert_verified.pipeline.runs.summary import summarize_file

    header = {"config": {"task": "classification", "budgets": [{"r": [1, 0], "attack": "modify"},
                                                               {"r": [2, 0], "attack": "modify"}]}}
    records = [  # (certified per budget, prediction, label)
        ([True, False], 0, 0),  # certified and correct at r = (1, 0) only
        ([True, True], 1, 2),  # certified but wrong: never counts
        ([False, False], 1, 1),  # correct but not certified
        ([True, True], 2, None),  # no label: not counted as correct
    ]
    lines = {i: json.dumps({"index": i, "certified": c, "prediction": p, "label": y})
             for i, (c, p, y) in enumerate(records)}
    summary = summarize_file(RunFile(header, lines, 0, False))
    # paper Eq. 15: the fraction of the inputs that are certified with the correct prediction, by hand
    assert [e["certified_accuracy"] for e in summary] == [1 / 4, 0.0]
    assert [e["inputs"] for e in summary] == [4, 4]


def test_run_radii_follow_each_ratio_in_its_modality_order():
    # the run's radius search (certifier.ClassificationTable) against the reference engine's (clause R1),
    # at counts strong enough to certify, along two ratios that give different radii
    from mmcert_verified.pipeline.certifier import ClassificationTable
    from mmcert_verified.reference.certify import radius
    from mmcert_verified.sampling.modality import Modality
    from mmcert_verified.sampling.plan import SamplingPlan
    from mmcert_verified.threat_model import Budget

    plan = SamplingPlan((Modality.sequence("a", 1, 12), Modality.sequence("b", 1, 30)), (3, 5))
    ratios = ((1, 2), (2, 1))
    counts = (100_000, 10, 0)
    table = ClassificationTable(plan, [Budget((0, 0), "modify")], ratios, alpha="0.001")
    _, _, radii = table.certify(counts)
    expected = [radius(counts, "0.001", (12, 30), (3, 5), ratio, "modify").radius for ratio in ratios]
    assert list(radii) == expected
    assert expected[0] != expected[1]  # the two directions differ, so the order of a ratio matters here


# --------------------------------------------------------------------------- issue 14: bound = "..." in run configs

COMPLEMENT = CLASSIFICATION.replace("alpha = 0.01", 'alpha = 0.01\nbound = "complement"')


def test_the_bound_method_is_parsed_and_unknown_ones_name_the_valid_ones(tmp_path):
    assert load_config(write(tmp_path, CLASSIFICATION)).bound == "bonferroni"  # the default (CP.4)
    assert load_config(write(tmp_path, COMPLEMENT)).bound == "complement"
    with pytest.raises(InvalidParameterError, match="unknown bound 'bonf' .valid: bonferroni, complement, combined"):
        load_config(write(tmp_path, CLASSIFICATION.replace("alpha = 0.01", 'alpha = 0.01\nbound = "bonf"')))


def test_the_bound_method_is_part_of_the_identity_but_the_default_changes_nothing(tmp_path):
    plain = load_config(write(tmp_path, CLASSIFICATION))
    explicit = load_config(write(tmp_path, CLASSIFICATION.replace("alpha = 0.01", 'alpha = 0.01\nbound = "bonferroni"')))
    # a config written before the key existed keeps its identity (its run files resume)
    assert "bound" not in plain.canonical()["certify"] and explicit.digest == plain.digest
    out = tmp_path / "out.jsonl"
    execute(plain, out, limit=1, progress=False)
    with pytest.raises(InputFileError, match="different config .differs in: certify"):
        execute(load_config(write(tmp_path, COMPLEMENT, "c.toml")), out, progress=False)
    assert json.loads(out.read_text().splitlines()[0])["config"]["certify"].get("bound") is None
    other = tmp_path / "complement.jsonl"
    execute(load_config(write(tmp_path, COMPLEMENT, "c.toml")), other, limit=1, progress=False)
    assert json.loads(other.read_text().splitlines()[0])["config"]["certify"]["bound"] == "complement"


@pytest.mark.parametrize("bound", ["complement", "combined"])
def test_a_run_certifies_with_its_bound_method_as_the_reference_does(tmp_path, bound):
    from mmcert_verified.reference.certify import certify, radius

    config = load_config(write(tmp_path, CLASSIFICATION.replace("alpha = 0.01", f'alpha = 0.01\nbound = "{bound}"')))
    out = tmp_path / "out.jsonl"
    execute(config, out, progress=False)
    rows = read_run_file(out).records()
    setting = config.plan.setting
    differs = False
    for row in rows:  # the independent per-budget / per-ratio reference calls with the same method
        expected = [certify(row["counts"], "0.01", setting.n, setting.k, b.r, b.attack, setting.method,
                            bound).certified for b in config.budgets]
        assert row["certified"] == expected
        assert row["radius"] == [radius(row["counts"], "0.01", setting.n, setting.k, ratio, "modify",
                                        setting.method, bound).radius for ratio in config.ratios]
        plain = [certify(row["counts"], "0.01", setting.n, setting.k, b.r, b.attack, setting.method).certified
                 for b in config.budgets]
        differs = differs or plain != expected
    # the toy's votes are near-unanimous: the methods' levels (alpha/3 vs alpha/2) must show somewhere
    assert differs


def test_a_segmentation_run_certifies_with_its_bound_method(tmp_path):
    # every line against certify_segmentation_counts(bound="complement") of the same votes (redrawn from the
    # input's own seed, SAMP.3) with the exact reference engine.  The toy segmenter has C = 2 classes, where
    # complement equals bonferroni exactly (CP.2(N - N_A, N, a) = 1 - CP.1(N_A, N, a), both at alpha / 2), so
    # this checks the plumbing and the header, not that the method changes the verdicts
    import numpy as np

    from mmcert_verified.pipeline.certifier import Certifier, certify_segmentation_counts
    from mmcert_verified.reference.segmentation import segment
    from mmcert_verified.pipeline.runs.execute import _item

    seg = write(tmp_path, SEGMENTATION.replace('alpha = "0.05"', 'alpha = "0.05"\nbound = "complement"'))
    config = load_config(seg)
    out = tmp_path / "seg.jsonl"
    execute(config, out, progress=False)
    assert json.loads(out.read_text().splitlines()[0])["config"]["certify"]["bound"] == "complement"
    dataset = config.data.build()
    cert = Certifier(config.model.build(), config.plan, config.task, config.classes, n_samples=config.n_samples,
                     batch_size=config.batch_size, seed=config.seed)
    for row in read_run_file(out).records():
        inputs, label = _item(dataset, row["index"], config)
        verdicts = certify_segmentation_counts(cert.votes(inputs, row["index"]), config.alpha, config.plan,
                                               config.budgets, labels=np.asarray(label), engine=segment,
                                               bound="complement")[0]
        assert row["certified_pixels"] == [v.certified_pixels for v in verdicts]
        assert row["iou"] == [v.iou for v in verdicts]


# --------------------------------------------------------------------------- clause RUN.10: segmentation radii

SEG_RATIOS = segmentation_config(
    3, toml_lines(method="mmcert", k=[3, 2], N=30, alpha="0.05"), toml_lines(ratios=[[1, 1], [1, 2]], steps=[0, 2]))


def test_the_segmentation_radius_is_the_largest_t_with_half_the_pixels_certified():
    # clause RUN.10 against a brute-force scan with the exact reference engine, t = 0, 1, ..., 11 (where no
    # pixel is certified any more, asserted), while the radius uses the default (fast) engine and only the
    # grid t = 0: the doubling / bisection search must find t off the grid.  64 pixels (8 x 8): 43 votes
    # (290, 10), 21 votes (300, 0); the 21 pixels give way first, so "half" (32) and "all" differ.
    import numpy as np

    from mmcert_verified.pipeline.certifier import certify_segmentation_counts, default_segmentation_engine
    from mmcert_verified.reference.segmentation import segment
    from mmcert_verified.pipeline.runs.segmentation_radius import SegmentationRadius
    from mmcert_verified.sampling.modality import Modality
    from mmcert_verified.sampling.plan import SamplingPlan
    from mmcert_verified.threat_model import Budget

    plan = SamplingPlan((Modality.sequence("a", 1, 64), Modality.sequence("b", 1, 100)), (2, 6))
    counts = np.zeros((2, 8, 8), dtype=np.int64)
    counts[0] = 300
    counts[0].flat[:21], counts[1].flat[:21] = 290, 10
    ratios = ((1, 1), (1, 2), (2, 1))
    expected = []
    for ratio in ratios:
        scan = [int(segment(counts, "0.05", (64, 100), (2, 6), tuple(t * c for c in ratio), "modify").to_json()
                    ["certified_pixels"]) for t in range(12)]
        assert scan == sorted(scan, reverse=True) and scan[-1] == 0  # non-increasing in t (RUN.10), 0 at the end
        expected.append(max(t for t, c in enumerate(scan) if 2 * c >= 64))
    grid = [Budget((0, 0), "modify")]
    verdicts = certify_segmentation_counts(counts, "0.05", plan, grid)[0]
    radii = SegmentationRadius(plan, grid, ratios, "0.05", default_segmentation_engine()).radii(counts, 64, verdicts)
    assert list(radii) == expected
    assert expected == [6, 3, 4]  # the scan's values: off the grid, and (1, 2) != (2, 1)


def test_each_segmentation_line_carries_a_radius_per_ratio_that_agrees_with_its_own_verdicts(tmp_path):
    # on the line's own grid (steps 0, 2 along two ratios): radius >= t where half the pixels are certified
    # at t * ratio, radius < t (or null) where fewer are
    config = load_config(write(tmp_path, SEG_RATIOS))
    out = tmp_path / "out.jsonl"
    execute(config, out, progress=False)
    budgets = [b.r for b in config.budgets]
    checked = 0
    for row in read_run_file(out).records():
        assert len(row["radius"]) == len(config.ratios) == 2
        for ratio, t_star in zip(config.ratios, row["radius"]):
            for t in (0, 2):
                half = 2 * row["certified_pixels"][budgets.index(tuple(t * c for c in ratio))] >= row["pixels"]
                assert (t_star is not None and t_star >= t) == half
                checked += half
    assert checked  # some image has half its pixels certified at t = 0


def test_segmentation_lines_without_radii_from_an_earlier_version_resume_and_merge(tmp_path):
    from mmcert_verified.pipeline.runs.run_file import dumps, seal_record

    config = load_config(write(tmp_path, SEG_RATIOS))
    whole = tmp_path / "whole.jsonl"
    execute(config, whole, progress=False)
    # the file an earlier version wrote for the first input: the same line without 'radius', sealed by it
    part = tmp_path / "part.jsonl"
    execute(config, part, limit=1, progress=False)
    header, line = part.read_text().splitlines()
    ident = json.loads(header)["identity_sha256"]
    old = {k: v for k, v in json.loads(line).items() if k not in ("radius", "line_sha256")}
    part.write_text(header + "\n" + dumps(seal_record(ident, old)) + "\n")
    assert execute(config, part, progress=False).already_done == 1
    resumed, expected = read_run_file(part).records(), read_run_file(whole).records()
    assert "radius" not in resumed[0] and resumed[1:] == expected[1:]
    assert summarize(part) == summarize(whole)  # the summary does not read radii
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    execute(config, shards[1], Shard(1, 2), progress=False)
    # shard 0 as an earlier version left it: its first line without 'radius'
    execute(config, shards[0], Shard(0, 2), limit=1, progress=False)
    h0, l0 = shards[0].read_text().splitlines()
    old0 = {k: v for k, v in json.loads(l0).items() if k not in ("radius", "line_sha256")}
    shards[0].write_text(h0 + "\n" + dumps(seal_record(ident, old0)) + "\n")
    execute(config, shards[0], Shard(0, 2), progress=False)
    merge(tmp_path / "merged.jsonl", shards)
    assert [r["index"] for r in read_run_file(tmp_path / "merged.jsonl").records()] == [0, 1, 2]


def test_report_draws_the_certified_metric_curves_of_a_segmentation_run(tmp_path, capsys):
    from mmcert_verified.pipeline.runs.summary import curves

    cfg = write(tmp_path, SEG_RATIOS)
    out = tmp_path / "seg.jsonl"
    assert main(["run", str(cfg), "--out", str(out), "--quiet"]) == 0
    assert main(["report", str(out), "--out", str(tmp_path / "plots"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["runs"][0]
    assert doc["task"] == "segmentation" and doc["complete"] and doc["plot"].endswith("seg.png")
    assert (tmp_path / "plots" / "seg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # budgets (0, 0), 2 * (1, 1), 2 * (1, 2): one curve per direction and metric, t = 0 then 2 (by hand)
    drawn = curves(doc["summary"], "segmentation")
    assert sorted((c.direction, c.metric) for c in drawn) == sorted(
        (d, m) for d in ((1, 1), (1, 2)) for m in ("pixel_accuracy", "f_score", "iou"))
    assert all(c.steps == (0, 2) for c in drawn)
    rows = read_run_file(out).records()
    mean0 = sum(r["pixel_accuracy"][0] for r in rows) / len(rows)
    assert next(c for c in drawn if c.metric == "pixel_accuracy").values[0] == pytest.approx(mean0, abs=1e-15)


def test_report_states_a_non_default_bound_method(tmp_path, capsys):
    out = tmp_path / "c.jsonl"
    assert main(["run", str(write(tmp_path, COMPLEMENT)), "--out", str(out), "--limit", "2", "--quiet"]) == 0
    assert main(["report", str(out), "--no-plots"]) == 0
    assert "attack = modify, bound = complement; 2 of 9 inputs" in capsys.readouterr().out
    assert main(["report", str(out), "--no-plots", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["bound"] == "complement"
