"""Adaptive sampling (CS.1, CS.2) against fixed N = 1000 on the reference audio-visual model (issue 14).

    python benchmarks/bench_adaptive.py --inputs 40 --threads 1 --single all   # the table in benchmarks/README.md
    python benchmarks/bench_adaptive.py --config av_ablation.toml      # the pooled baseline's model

The model, data, k, alpha and budgets are those of ``reference_models/av_mmcert.toml`` (what ``mmcert demo``
certifies); the first ``--inputs`` test clips.  Every forward pass goes through a wrapper that counts the
sub-samples the model sees, so "forward passes" is measured, not derived from the results (and checked
against ``AdaptiveVerdicts.samples``).  Rows:

* fixed N = 1000: ``Certifier.votes`` then ``certify_classification_counts`` at every budget;
* adaptive, one schedule per row, either with every budget of the config requested at once (sampling stops
  when all are certified or hopeless) or with one budget requested (the others are not certified).

Certified accuracy is the paper's Eq. 15 (certified and correct).  On the CPU the adaptive votes are a
prefix of the fixed-N votes' stream (CS.2), so the two columns compare the same draws.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmcert_verified.bounds.sequential import Schedule
from mmcert_verified.pipeline.certifier import Certifier, certify_classification_counts
from reference_models.demo import reference_config_dir
from mmcert_verified.pipeline.runs import load_config


class CountingModel(nn.Module):
    """The model, counting the sub-samples (rows) it is called on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0

    def forward(self, *xs):
        self.rows += xs[0].shape[0]
        return self.model(*xs)


def load(config_name: str, inputs: int):
    config = load_config(Path(reference_config_dir()) / config_name)
    data = type(config.data)(config.data.spec, {**config.data.kwargs, "count": inputs}, config.data.base_dir)
    config = config.with_overrides(data=data)
    dataset = config.data.build()
    items = [(tuple(torch.as_tensor(x) for x in xs), int(y)) for xs, y in (dataset[i] for i in range(len(dataset)))]
    return config, items


def certifier(config, n_samples: int = 1000) -> Certifier:
    return Certifier(CountingModel(config.model.build()), config.plan, config.task, config.classes,
                     n_samples=n_samples, batch_size=config.batch_size, seed=config.seed, device="cpu")


def fixed(config, items, bound: str, n: int):
    cert = certifier(config, n)
    t0 = time.perf_counter()
    hits = np.zeros(len(config.budgets))
    for i, (xs, y) in enumerate(items):
        c = certify_classification_counts(cert.votes(xs, i), config.alpha, config.plan, config.budgets, index=i,
                                          label=y, bound=bound)
        hits += c.certified_correct()
    return hits / len(items), cert.model.rows / len(items), time.perf_counter() - t0


def adaptive(config, items, bound: str, schedule: Schedule, budgets):
    cert = certifier(config)
    t0 = time.perf_counter()
    hits = np.zeros(len(budgets))
    samples, rounds = [], []
    for i, (xs, y) in enumerate(items):
        res = cert.certify_adaptive(xs, i, config.alpha, budgets, schedule, bound=bound, label=y)
        hits += res.certified_correct()
        samples.append(res.samples)
        rounds.append(res.round)
    assert cert.model.rows == sum(samples), "recorded samples must equal the forward passes made"
    return hits / len(items), np.array(samples), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="av_mmcert.toml", help="a reference_models/ run config")
    ap.add_argument("--inputs", type=int, default=40)
    ap.add_argument("--bound", default="bonferroni", choices=["bonferroni", "complement", "combined"])
    ap.add_argument("--single", default="4,4;6,6;7,7;6,24;7,28",
                    help="the single requested budgets r1,r2 (semicolon-separated; each must be a config budget), or all")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config, items = load(args.config, args.inputs)
    budgets = list(config.budgets)
    print(f"{args.config}: {len(items)} clips, {len(budgets)} budgets, alpha = {config.alpha}, bound {args.bound}, "
          f"k = {list(config.plan.k)}, {args.threads} thread(s)")
    acc_f, passes_f, sec = fixed(config, items, args.bound, 1000)
    print(f"fixed N = 1000: {passes_f:.0f} forward passes per input, {sec:.1f} s")
    capped = Schedule.geometric(25, 1000)  # the same cap as fixed N: CS.1's spending makes the last round weaker
    schedules = [Schedule.geometric(25, 1600), Schedule.geometric(25, 2000)]
    print("\n| requested | schedule | certified accuracy: fixed 1000 -> adaptive | mean passes | fewer | median | s |")
    print("|---|---|---|---|---|---|---|")
    for sched in schedules:
        acc_a, samples, sec = adaptive(config, items, args.bound, sched, budgets)
        worst = float(np.max(acc_f - acc_a))
        print(f"| all {len(budgets)} budgets | {sched.sizes[0]}..{sched.sizes[-1]} ({sched.rounds} rounds) | "
              f"sum {acc_f.sum():.3f} -> {acc_a.sum():.3f}, largest loss {worst:+.3f}, gains {int(np.sum(acc_a > acc_f))} "
              f"| {samples.mean():.0f} | {1000 / samples.mean():.1f}x | {int(np.median(samples))} | {sec:.1f} |")
    if args.single == "all":  # every budget of the config, requested one at a time
        single = [tuple(b.r) for b in budgets]
    else:
        single = [tuple(int(v) for v in pair.split(",")) for pair in args.single.split(";")]
    means = {}
    for r in single:
        j = next(i for i, b in enumerate(budgets) if tuple(b.r) == r)
        for sched in [capped] + schedules:
            acc_a, samples, sec = adaptive(config, items, args.bound, sched, [budgets[j]])
            means.setdefault(sched.sizes[-1], []).append(samples.mean())
            print(f"| r = {r} | {sched.sizes[0]}..{sched.sizes[-1]} | {acc_f[j]:.3f} -> {acc_a[0]:.3f} "
                  f"| {samples.mean():.0f} | {1000 / samples.mean():.1f}x | {int(np.median(samples))} | {sec:.1f} |")
    for n_max, m in means.items():
        print(f"single budgets, N_max = {n_max}: mean forward passes over the {len(m)} budgets {np.mean(m):.0f} "
              f"({1000 / np.mean(m):.1f}x fewer than 1000)")
    print("\nfixed N = 1000 certified accuracy per budget (c = r2 / r1; t = 0..):")
    by_c: dict[int, list[str]] = {}
    for b, a in zip(budgets, acc_f):
        if b.r[0]:
            by_c.setdefault(b.r[1] // b.r[0], []).append(f"{a:.3f}")
    for c, vals in sorted(by_c.items()):
        print(f"  c = {c}: {acc_f[0]:.3f} " + " ".join(vals))


if __name__ == "__main__":
    main()
