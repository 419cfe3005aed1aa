"""Segmentation certification cost per image as N grows (issue 15 item 1), fast engine.

A synthetic 375 x 1242 KITTI-like vote image (class 1 below a wavy horizon, uncertain within a few rows
of it; the same generator as tests/differential/test_fast_segmentation.py) at each N, certified at the
KITTI setting (n = 465750 x 2, k = 9000/1000, r = 5/5, alpha = 0.001).  Prints, per N: distinct
(N_A, N_B) pairs, pairs handed to the exact engine, cold seconds (alpha* of every pair computed: the
caches cleared first) and warm seconds (the same image again: the memoised path), each the minimum over
--repeat runs (the machine may be shared), certified pixels, and the check against the reference engine:
--check-pairs distinct pairs spread over the image's N_A range get the reference's alpha* (same Holm
floor), and at N <= --check-image-n the whole image's JSON result is compared with the reference's.
One-time costs (imports, torch's first large allocations) are paid on a warm-up image at N = 37 first.

    python benchmarks/bench_large_n.py [--sizes 100,1000,10000,100000,1000000] [--rows 375] [--cols 1242]
                                       [--repeat 3] [--threads 1] [--bound bonferroni] [--check-pairs 8]
"""

from __future__ import annotations

import time

import numpy as np

from mmcert_verified.fast import confidence
from mmcert_verified.fast import segmentation as fastseg
from mmcert_verified.reference import segmentation as refseg

from command_line import parse_options  # benchmarks/command_line.py (this folder is first on sys.path)

KITTI = dict(n=(465750, 465750), k=(9000, 1000), r=(5, 5), attack="modify")
ALPHA = "0.001"


def votes_for(N: int, H: int, W: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.arange(H)[:, None]
    horizon = H * 0.45 + 0.08 * H * np.sin(np.arange(W)[None, :] / W * 2 * np.pi * 3)
    p1 = np.clip(1 / (1 + np.exp(-(rows - horizon) / 2.5)), 0.002, 0.998)
    c1 = rng.binomial(N, p1)
    return np.stack([N - c1, c1]).astype(np.int64)


def check_against_reference(votes: np.ndarray, N: int, bound: str, count: int, whole: bool) -> str:
    """Compare with the exact engine: ``count`` distinct pairs (spread over N_A), and the whole image."""
    pixels = votes[0].size
    prob = refseg.segmentation_problem(pixels, ALPHA, KITTI["n"], KITTI["k"], KITTI["r"],
                                       KITTI["attack"], "mmcert", None, 0, 0, bound)
    floor = refseg.holm_floor(prob.alpha, pixels)
    n_a = np.unique(votes.max(axis=0))
    pick = n_a[np.unique(np.linspace(0, n_a.size - 1, count).astype(int))] if count else n_a[:0]
    pairs = [(int(a), N - int(a)) for a in pick]
    problem = refseg.PixelProblem(N, 2, prob.sizes_masses, prob.bound)
    want = [refseg.alpha_star(p, problem, prob.alpha, floor) for p in pairs]
    got = fastseg.alpha_stars(pairs, N, 2, prob, floor)
    if got != want:
        raise SystemExit(f"N = {N}: fast alpha* differs from the reference's on {pairs}")
    text = f"{len(pairs)} pairs equal"
    if whole:
        if fastseg.segment(votes, ALPHA, **KITTI, bound=bound).to_json() != \
                refseg.segment(votes, ALPHA, **KITTI, bound=bound).to_json():
            raise SystemExit(f"N = {N}: the image's result differs from the reference's")
        text += ", image equal"
    return text


def main() -> None:
    args = parse_options(__doc__, sizes="100,1000,10000,100000,1000000", rows=375, cols=1242, repeat=3, threads=1,
                         bound="bonferroni", check_pairs=8, check_image_n=100)
    import torch

    torch.set_num_threads(args.threads)
    deferred = [0]
    exact = refseg.alpha_star

    def counting(*a, **kw):
        deferred[0] += 1
        return exact(*a, **kw)

    fastseg.segment(votes_for(37, args.rows, args.cols), ALPHA, **KITTI, bound=args.bound)  # one-time costs
    print(f"image {args.rows} x {args.cols}, C = 2, KITTI setting, alpha = {ALPHA}, bound {args.bound}, "
          f"{args.threads} thread(s), min of {args.repeat}")
    print(f"{'N':>9} {'pairs':>7} {'deferred':>8} {'cold s':>8} {'warm s':>8} {'certified':>10}  reference check")
    for N in (int(x) for x in args.sizes.split(",")):
        votes = votes_for(N, args.rows, args.cols)
        cold, warm = [], []
        fastseg.ref.alpha_star = counting  # count the pairs the fast engine hands over (they are still exact)
        for rep in range(args.repeat):
            fastseg.clear_cache()
            confidence.clear_cache()
            deferred[0] = 0
            t0 = time.perf_counter()
            res = fastseg.segment(votes, ALPHA, **KITTI, bound=args.bound)
            cold.append(time.perf_counter() - t0)
            handed = deferred[0]
            t0 = time.perf_counter()
            fastseg.segment(votes, ALPHA, **KITTI, bound=args.bound)
            warm.append(time.perf_counter() - t0)
        fastseg.ref.alpha_star = exact
        check = check_against_reference(votes, N, args.bound, args.check_pairs, N <= args.check_image_n)
        keys = set(zip(*[x.reshape(-1).tolist() for x in np.sort(votes, axis=0)[::-1][:2]]))
        print(f"{N:>9} {len(keys):>7} {handed:>8} {min(cold):>8.3f} {min(warm):>8.3f} "
              f"{int(res.certified_mask.sum()):>10}  {check}", flush=True)


if __name__ == "__main__":
    main()
