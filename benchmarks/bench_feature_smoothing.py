"""Feature-space smoothing: FCSB and radius for many inputs (fast path vs reference), and the smoothing
overhead over the encoder's own forward time.

    python benchmarks/bench_feature_smoothing.py [--device cpu|cuda] [--threads 2] [--inputs 100000]
                                                 [--ref-sample 2000] [--model] [--samples 1000]

(a) FCSB at one eps and radius (tau = 0.5) for ``--inputs`` scores S (a realistic mix: most S in
    [0.8, 1), some near 1, some below 0.75 with no radius), sigma = 0.25, eps = 0.1.  The fast path does
    all inputs in one batch ("cold": first call; "warm": again); the reference runs on ``--ref-sample``
    inputs and its time is extrapolated linearly. Every fast answer in the sample is checked against
    the reference's (values never above, decisions equal).
(b) ``--model``: a SmoothedEncoder on the reference image-text encoder (``reference_models.image_text``): time of N noisy forward passes vs one clean forward pass, per input.
Target on the 2-core CPU: (a) fast FCSB + radius for 10^5 inputs well under 1 s.
"""

from __future__ import annotations

import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmcert_verified.feature_smoothing import bound as ref  # noqa: E402
from mmcert_verified.feature_smoothing import fast  # noqa: E402
from command_line import parse_options  # noqa: E402  (benchmarks/command_line.py)
from timing import sync  # noqa: E402  (benchmarks/timing.py)


def scores(n: int, rng: np.random.Generator) -> np.ndarray:
    mix = rng.random(n)
    s = np.where(mix < 0.7, rng.uniform(0.8, 1.0, n), np.where(mix < 0.9, 1 - 10 ** -rng.uniform(2, 12, n),
                                                                 rng.uniform(0.3, 0.75, n)))
    return s


def bench_bounds(args) -> None:
    rng = np.random.default_rng(0)
    s = torch.tensor(scores(args.inputs, rng), dtype=torch.float64, device=args.device)
    sigma, eps = 0.25, 0.1
    times = {}
    for label in ("cold", "warm"):
        sync(args.device)
        t0 = time.perf_counter()
        out = fast.fcsb_batch(s, sigma, eps)
        rad = fast.radius_batch(s, sigma, Fraction(1, 2))
        sync(args.device)
        times[label] = time.perf_counter() - t0
    m = min(args.ref_sample, args.inputs)
    t0 = time.perf_counter()
    ref.inner_lower.cache_clear()
    ref.radius.cache_clear()
    wrong = 0
    for i in range(m):
        S = Fraction(float(s[i]))
        b = ref.fcsb(S, Fraction(sigma), Fraction(eps))
        r = ref.radius(S, Fraction(sigma), Fraction(1, 2))
        fi = Fraction(float(out.inner_lower[i]))
        fr = float(rad.value[i])
        ok = fi <= b.inner_lower and bool(out.nonnegative[i]) == b.nonnegative
        ok &= (np.isnan(fr) if r.value is None else Fraction(fr) <= r.value)
        wrong += not ok
    t_ref = (time.perf_counter() - t0) * args.inputs / m
    print(f"(a) FCSB + radius, {args.inputs} inputs, sigma = {sigma}, eps = {eps}, device {args.device}")
    print("| engine | time | deferred to reference |")
    print("|---|---|---|")
    print(f"| fast (cold) | {times['cold']:.3f} s | {out.deferred + rad.deferred} |")
    print(f"| fast (warm) | {times['warm']:.3f} s | {out.deferred + rad.deferred} |")
    note = "" if m == args.inputs else f" (extrapolated from {m})"
    print(f"| reference | {t_ref:.1f} s{note} | - |")
    print(f"fast answers checked against the reference on {m} inputs: {wrong} wrong")


def bench_model(args) -> None:
    from mmcert_verified.feature_smoothing.encoder import SmoothedEncoder
    from reference_models import image_text

    model = image_text.pretrained("standard", device=args.device)
    encoder, inputs, name = model.encode_image, image_text.test_set().images.to(args.device), "image_text standard"
    sm = SmoothedEncoder(encoder, sigma=0.25, batch_size=args.batch)
    x = inputs[:4]
    with torch.no_grad():
        encoder(x[:1])  # warm up
        t0 = time.perf_counter()
        for i in range(len(x)):
            encoder(x[i : i + 1])
        clean = (time.perf_counter() - t0) / len(x)
        t0 = time.perf_counter()
        for i in range(len(x)):
            sm.sample_cosines(x[i], args.samples, seed=0, index=i)
        noisy = (time.perf_counter() - t0) / len(x)
        t0 = time.perf_counter()
        for i in range(len(x)):
            encoder(x[i : i + 1].expand(args.batch, *x.shape[1:]).contiguous())
        batch_fwd = (time.perf_counter() - t0) / len(x) * (args.samples / args.batch)
    print(f"(b) smoothing overhead, {name}, N = {args.samples}, batch {args.batch}, device {args.device}")
    print("| per input | time |")
    print("|---|---|")
    print(f"| one clean forward pass | {clean * 1e3:.2f} ms |")
    print(f"| N forward passes in batches (encoder alone) | {batch_fwd * 1e3:.1f} ms |")
    print(f"| SmoothedEncoder.sample_cosines (N samples) | {noisy * 1e3:.1f} ms |")
    print(f"| overhead of sampling over the encoder's batched forward time | {noisy / batch_fwd:.2f}x |")


def main() -> None:
    args = parse_options(__doc__, device="cpu", threads=2, inputs=100_000, ref_sample=2000, model=False, samples=1000,
                         batch=250)
    torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, torch {torch.__version__}, {args.threads} threads")
    bench_bounds(args)
    if args.model:
        bench_model(args)


if __name__ == "__main__":
    main()
