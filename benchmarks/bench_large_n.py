"""Segmentation certification cost per image as N grows (issue 15 item 1), fast engine.

A synthetic 375 x 1242 KITTI-like vote image (class 1 below a wavy horizon, uncertain within a few rows
of it; the same generator as tests/differential/test_fast_segmentation.py) at each N, certified at the
KITTI setting (n = 465750 x 2, k = 9000/1000, r = 5/5, alpha = 0.001).  Prints, per N: distinct
(N_A, N_B) pairs, pairs handed to the exact engine, cold seconds (first image: alpha* of every pair) and
warm seconds (a second image with the same pairs: the memoised path), and certified pixels.

    python benchmarks/bench_large_n.py [--sizes 100,1000,10000,100000,1000000] [--rows 375] [--cols 1242]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mmcert_verified.fast import segmentation as fastseg
from mmcert_verified.reference import segmentation as refseg

KITTI = dict(n=(465750, 465750), k=(9000, 1000), r=(5, 5), attack="modify")


def votes_for(N: int, H: int, W: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.arange(H)[:, None]
    horizon = H * 0.45 + 0.08 * H * np.sin(np.arange(W)[None, :] / W * 2 * np.pi * 3)
    p1 = np.clip(1 / (1 + np.exp(-(rows - horizon) / 2.5)), 0.002, 0.998)
    c1 = rng.binomial(N, p1)
    return np.stack([N - c1, c1]).astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000,100000,1000000")
    ap.add_argument("--rows", type=int, default=375)
    ap.add_argument("--cols", type=int, default=1242)
    args = ap.parse_args()
    deferred = [0]
    exact = refseg.alpha_star

    def counting(*a, **kw):
        deferred[0] += 1
        return exact(*a, **kw)

    fastseg.ref.alpha_star = counting  # count the pairs the fast engine hands over (they are still exact)
    print(f"image {args.rows} x {args.cols}, C = 2, KITTI setting, alpha = 0.001")
    print(f"{'N':>9} {'pairs':>7} {'deferred':>8} {'cold s':>8} {'warm s':>8} {'certified':>10}")
    for N in (int(x) for x in args.sizes.split(",")):
        votes = votes_for(N, args.rows, args.cols)
        deferred[0] = 0
        t0 = time.perf_counter()
        res = fastseg.segment(votes, "0.001", **KITTI)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        fastseg.segment(votes, "0.001", **KITTI)
        warm = time.perf_counter() - t0
        keys = set(zip(*[x.reshape(-1).tolist() for x in np.sort(votes, axis=0)[::-1][:2]]))
        print(f"{N:>9} {len(keys):>7} {deferred[0]:>8} {cold:>8.2f} {warm:>8.3f} {int(res.certified_mask.sum()):>10}",
              flush=True)


if __name__ == "__main__":
    main()
