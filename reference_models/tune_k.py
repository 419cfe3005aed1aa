"""Tune the baseline's pooled k to MMCert's clean accuracy: ``python -m reference_models.tune_k``.

The paper (Sec. 5.1) sets the randomized-ablation k "such that, when there is
no attack, the accuracy of randomized ablation is similar to our MMCert".
Rule used here, on the *validation* split (never the test split the demo
reports): the base model's accuracy on sub-sampled inputs (the fraction of
votes that are correct, averaged over inputs -- over pixels for
segmentation) is measured for MMCert's k and for every candidate pooled k,
and the *smallest* candidate whose accuracy is within ``SIMILAR`` (0.5
percentage points) of MMCert's, or above it, is chosen.  Smaller k means a
larger certified radius, so this is the most robust baseline of similar
clean accuracy: the choice most favourable to the baseline under attack.
(Matching as closely as possible instead picks a larger k -- 200 rather
than 160 for the road model -- whose curves end earlier; at r = 0 the two
schemes are then tied up to noise, in either direction.)
Prints the table; the chosen values are written by hand into
``*_ablation.toml`` (they are part of the committed configuration).

Deterministic (seeded votes, one thread); about two minutes.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mmcert_verified.pipeline.certifier import Certifier
from mmcert_verified.sampling import SamplingPlan
from mmcert_verified.threat_model import Method

from . import av, road
from .av_data import validation_set as av_validation
from .road_data import validation_set as road_validation

N = 100
#: "similar" accuracy (paper Sec. 5.1), made precise: within half a percentage point
SIMILAR = 0.005
TASKS = {
    # task: (module, validation set, MMCert k, candidate pooled k, classes, kind)
    "av": (av, lambda: av_validation(300), (2, 4), tuple(range(10, 101, 5)), 7, "classification"),
    "road": (road, lambda: road_validation(20), (100, 5), tuple(range(100, 301, 20)), 2, "segmentation"),
}


def vote_accuracy(module, data, k, method: Method, classes: int, kind: str) -> float:
    """Mean fraction of correct votes over the validation inputs (over pixels for segmentation)."""
    plan = SamplingPlan(module.MODALITIES, k, method)
    cert = Certifier(module.pretrained(method), plan, kind, classes, n_samples=N, batch_size=N, seed=1)
    scores = []
    for i in range(len(data)):
        inputs, label = data[i]
        counts = cert.votes(inputs, i)
        if kind == "classification":
            scores.append(counts[int(label)] / N)
        else:
            y = np.asarray(label)
            scores.append(np.take_along_axis(counts, y[None], 0).mean() / N)
    return float(np.mean(scores))


def tune(task: str, log=print) -> int:
    module, data_fn, k_mm, candidates, classes, kind = TASKS[task]
    data = data_fn()
    target = vote_accuracy(module, data, k_mm, Method.MMCERT, classes, kind)
    log(f"{task}: MMCert k = {list(k_mm)}: sub-sampled accuracy {target:.4f}")
    chosen = None
    for k in candidates:
        acc = vote_accuracy(module, data, (k,), Method.ABLATION, classes, kind)
        log(f"{task}:   baseline k = {k}: {acc:.4f}")
        if chosen is None and acc >= target - SIMILAR:
            chosen = k
    if chosen is None:
        chosen = candidates[-1]
        log(f"{task}: no candidate reaches MMCert's accuracy; taking the largest")
    log(f"{task}: chosen baseline k = {chosen}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="*", choices=sorted(TASKS), help="default: both")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for task in args.task or sorted(TASKS):
        tune(task, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
