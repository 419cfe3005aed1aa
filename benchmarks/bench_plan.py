"""How well a plan (PLAN.1) predicts an actual certification with fresh votes, on the reference AV models.

    python benchmarks/bench_plan.py --inputs 60 --threads 1
    python benchmarks/bench_plan.py --config av_ablation --pairs 100:100,100:1000,1000:1000

For each model (the committed ``reference_models/av_*.toml``: its k, alpha and attack; ratio (1, 1)) and
each (N0, N) pair: calibration votes N0 per input on the first ``--inputs`` test clips from seed 1
(:func:`~mmcert_verified.pipeline.planning.calibrate`), the plan at N for every bound method and both predictors,
and an actual certification of the same clips with N fresh votes from the config's seed 0.  The figure
is the largest |predicted - actual| certified accuracy over t (t = 0 to past the largest radius).  The
actual curve is itself a mean over ``--inputs`` clips: at 60 clips its standard deviation is up to
sqrt(0.25 / 60) = 0.065 where clips are borderline.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mmcert_verified.pipeline.certifier import Certifier
from reference_models.demo import reference_config_dir
from mmcert_verified.pipeline.planning import PlanSettings, Predictor, calibrate, certified_correct_radii, make_plan
from mmcert_verified.pipeline.runs import load_config

BOUNDS = ("bonferroni", "complement", "combined")


def actual_radii(config, N: int, inputs: int) -> tuple[np.ndarray, list[int]]:
    data, model = config.data.build(), config.model.build()
    cert = Certifier(model, config.plan, "classification", config.classes, n_samples=N,
                     batch_size=config.batch_size, seed=config.seed)
    counts, labels = [], []
    for i in range(inputs):
        x, y = data[i]
        counts.append(cert.votes(x, i))
        labels.append(int(y))
    return np.array(counts), labels


def max_error(row, radii: np.ndarray) -> float:
    steps = max(len(row.certified_accuracy), int(radii.max()) + 2)
    actual = np.array([np.mean(radii >= t) for t in range(steps)])
    predicted = np.array(list(row.certified_accuracy) + [0.0] * (steps - len(row.certified_accuracy)))
    return float(np.abs(actual - predicted).max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="av_mmcert and/or av_ablation (default both)")
    parser.add_argument("--inputs", type=int, default=60)
    parser.add_argument("--pairs", default="100:100,100:1000,1000:1000", help="N0:N pairs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pairs = [tuple(int(x) for x in p.split(":")) for p in args.pairs.split(",")]
    print("| model | k | N0 | N | predictor | max abs error (bonferroni / complement / combined) | s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.config or ["av_mmcert", "av_ablation"]:
        config = load_config(reference_config_dir() / f"{name}.toml")
        actual = {}
        for n0, N in pairs:
            t0 = time.perf_counter()
            if N not in actual:
                actual[N] = actual_radii(config, N, args.inputs)
            counts, labels = actual[N]
            cal = calibrate(config, [config.plan.k], n0, args.inputs, seed=1)
            for pred in Predictor:
                plan = make_plan(cal, PlanSettings(config.alpha, [a.value for a in config.budgets[0].attack],
                                                   (1, 1), (N,), BOUNDS, pred))
                errs = []
                for row in plan.rows:
                    radii = certified_correct_radii(counts, labels, config.alpha, config.plan.n, config.plan.k,
                                                    (1, 1), config.budgets[0].attack, config.plan.method, row.bound)
                    errs.append(max_error(row, radii))
                print(f"| {name} | {list(config.plan.k)} | {n0} | {N} | {pred.value} | "
                      f"{' / '.join(f'{e:.3f}' for e in errs)} | {time.perf_counter() - t0:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
