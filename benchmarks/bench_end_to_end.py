"""Where the time of a certification goes: the model's forward pass vs everything MMCert adds.

    python benchmarks/bench_end_to_end.py [--device cuda] [--batch 100 400 1600] [--repeat 5]

For each reference model and sub-sampling scheme, and each batch size, it
times per batch of sub-samples

* ``forward``  -- the model alone on an already encoded batch,
* ``sample``   -- drawing the keep masks and writing the ablated inputs,
* ``count``    -- argmax and adding to the running counts,

and per input ``certify`` -- the certification engine at every budget of
the reference config, from the input's N votes.

* ``overhead`` = (sample + count) / forward, per batch: what streaming the
  votes adds to the model (target: below 10% at batch sizes that fill the
  device);
* ``certify/budget`` = certify / budgets, and ``% of N fwd`` = that as a
  fraction of the forward time of the N votes of one input (certification
  is per input, not per vote: its share falls as N grows).

Timing: best of ``--repeat`` runs after a warm-up (the minimum is the least
noisy estimate on a shared machine); CUDA work is synchronised before the
clock is read.  Threads: torch's default unless ``--threads`` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmcert_verified.certifier import (  # noqa: E402
    certify_classification_counts,
    certify_segmentation_counts,
)
from mmcert_verified.runs import load_config  # noqa: E402
from mmcert_verified.sampling import VoteCounter  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, repeat: int, device: torch.device) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_config(path: Path, batches: list[int], repeat: int, device: torch.device) -> list[dict]:
    config = load_config(path).with_overrides(device=str(device))
    model = config.model.build().to(device).eval()
    dataset = config.data.build()
    inputs = tuple(torch.as_tensor(x).to(device) for x in dataset[0][0])
    label = dataset[0][1]
    plan = config.plan
    rows = []
    for batch in batches:
        gen = torch.Generator(device=device).manual_seed(0)
        encoded = plan.sample(inputs, gen, batch)
        with torch.inference_mode():
            logits = model(*encoded)
            spatial = tuple(logits.shape[2:]) if config.task.value == "segmentation" else ()

            forward = best_time(lambda: model(*encoded), repeat, device)
            sample = best_time(lambda: plan.sample(inputs, gen, batch), repeat, device)

            def count():
                counter = VoteCounter(config.classes, spatial, device)
                counter.add_logits(logits)

            counting = best_time(count, repeat, device)
        # certification happens once per input, from N votes: time it on real counts
        counter = VoteCounter(config.classes, spatial, device)
        with torch.inference_mode():
            done = 0
            while done < config.n_samples:
                b = min(batch, config.n_samples - done)
                counter.add_logits(model(*plan.sample(inputs, gen, b)))
                done += b
        counts = counter.counts()
        if config.task.value == "classification":
            certify = best_time(
                lambda: certify_classification_counts(counts, config.alpha, plan, config.budgets, label=int(label)),
                repeat, torch.device("cpu"))
        else:
            lab = np.asarray(torch.as_tensor(label).cpu())
            certify = best_time(
                lambda: certify_segmentation_counts(counts, config.alpha, plan, config.budgets, labels=lab),
                max(1, repeat // 2), torch.device("cpu"))
        forward_n = forward / batch * config.n_samples
        rows.append(dict(
            config=path.stem, batch=batch, forward_ms=forward * 1e3, sample_ms=sample * 1e3,
            count_ms=counting * 1e3, certify_ms=certify * 1e3, budgets=len(config.budgets),
            N=config.n_samples, overhead=(sample + counting) / forward,
            certify_share=certify / len(config.budgets) / forward_n,
        ))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 400, 1600])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--configs", nargs="+", default=["av_mmcert", "av_ablation", "road_mmcert", "road_ablation"])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    root = Path(__file__).resolve().parents[1] / "reference_models"
    print(f"device {device} ({torch.get_num_threads()} CPU threads), torch {torch.__version__}")
    header = (f"{'config':<14} {'batch':>6} {'forward':>10} {'sample':>9} {'count':>8} {'overhead':>9} "
              f"{'certify/input':>16} {'certify/budget':>15} {'% of N fwd':>10}")
    print(header)
    print("-" * len(header))
    for name in args.configs:
        for row in bench_config(root / f"{name}.toml", args.batch, args.repeat, device):
            print(f"{row['config']:<14} {row['batch']:>6} {row['forward_ms']:>8.2f}ms {row['sample_ms']:>7.2f}ms "
                  f"{row['count_ms']:>6.2f}ms {100 * row['overhead']:>8.1f}% "
                  f"{row['certify_ms']:>7.1f}ms ({row['budgets']:>2} b) {row['certify_ms'] / row['budgets']:>13.2f}ms "
                  f"{100 * row['certify_share']:>9.1f}%", flush=True)
    print("overhead = (sample + count) / forward per batch; certify/budget = one input's certification at one"
          " budget; % of N fwd = that / forward time of the input's N votes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
