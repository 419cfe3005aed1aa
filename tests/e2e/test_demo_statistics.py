"""The demo's faithful baseline (issue 14): each side certified with the statistics it states.

Defaults: MMCert with its paper's Bonferroni bounds (CP.4), the pooled baseline with the randomized-ablation
paper's p_B = 1 - p_A (``complement``, CP.6); segmentation Bonferroni on both sides (SEG.1).  That the
written outputs say so is checked on the tiny demo run of ``test_demo.py`` (one run, the plots are slow).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcert_verified.cli import main
from mmcert_verified.pipeline.certifier import Certifier, certify_classification_counts
from reference_models.demo import DemoSettings, certify_classification_task, reference_config_dir, run_demo
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.certify import certify as ref_certify
from mmcert_verified.pipeline.runs import load_config
from mmcert_verified.threat_model import Method

SMALL = DemoSettings(av_inputs=6, road_inputs=1, n_samples=20)


def _ablation_config():
    config = load_config(reference_config_dir() / "av_ablation.toml")
    data = type(config.data)(config.data.spec, {**config.data.kwargs, "count": SMALL.av_inputs}, config.data.base_dir)
    return config.with_overrides(data=data, n_samples=SMALL.n_samples)


def test_default_statistics_per_side():
    s = DemoSettings()
    assert s.bound("av", Method.MMCERT).value == "bonferroni"
    assert s.bound("av", Method.ABLATION).value == "complement"
    assert s.bound("road", Method.ABLATION).value == "bonferroni"  # the demo keeps bonferroni for segmentation


@pytest.mark.parametrize("bound", ["complement", "combined"])
def test_certify_classification_counts_passes_the_bound_to_the_engine(bound):
    """Per budget, the verdict is the reference engine's with the same bound method (counts by hand)."""
    config = _ablation_config()
    counts = [100, 0, 0, 0, 0, 0, 0]
    cert = certify_classification_counts(counts, config.alpha, config.plan, config.budgets, label=0, bound=bound)
    s = config.plan.setting
    want = [ref_certify(counts, config.alpha, s.n, s.k, b.r, b.attack, s.method, bound).certified for b in config.budgets]
    assert [v.certified for v in cert.verdicts] == want
    bonf = certify_classification_counts(counts, config.alpha, config.plan, config.budgets, label=0)
    # unanimous votes: p_A at alpha/2 beats p_A at alpha/7, and 1 - p_A is then below CP.2(0, 100, alpha/7), so both
    # methods certify one more budget of the 29 than bonferroni (6 vs 5; measured, the inequality by hand)
    assert sum(want) > sum(v.certified for v in bonf.verdicts)


def test_baseline_curve_uses_the_ablation_papers_statistics():
    """The task's certified accuracy equals an independent count: reference certify with bound=complement."""
    config = _ablation_config()
    curves, inputs = certify_classification_task(config, bound="complement")
    cert = Certifier(config.model.build(), config.plan, config.task, config.classes, n_samples=config.n_samples,
                     batch_size=config.batch_size, seed=config.seed)
    dataset = config.data.build()
    labels = [dataset[i][1] for i in range(len(dataset))]
    counts = [cert.votes(tuple(torch.as_tensor(x) for x in dataset[i][0]), i) for i in range(len(dataset))]
    s = config.plan.setting
    hits = np.zeros(len(config.budgets))
    for c, y in zip(counts, labels):
        for j, b in enumerate(config.budgets):
            res = ref_certify(list(c), config.alpha, s.n, s.k, b.r, b.attack, s.method, "complement")
            hits[j] += res.certified and res.label == int(y)
    by_r = {tuple(b.r): h / inputs for b, h in zip(config.budgets, hits)}
    for cur in curves:
        assert cur.bound == "complement"
        assert list(cur.values) == [by_r[tuple(r)] for r in cur.budgets]


def test_an_unknown_bound_fails_before_anything_is_written(tmp_path):
    with pytest.raises(InvalidParameterError, match="unknown bound method"):
        run_demo(tmp_path, settings=DemoSettings(av_inputs=2, baseline_bound="holm"))
    assert not any(tmp_path.iterdir())


def test_cli_bound_flags(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path), "--baseline-bound", "holm"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
