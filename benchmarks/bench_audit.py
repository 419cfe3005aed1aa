"""Benchmark ``mmcert audit`` on many classification certificates (issue 7, clause CERT.3).

Usage::

    python benchmarks/bench_audit.py                 # 10,000 certificates
    python benchmarks/bench_audit.py --count 2000

Writes ``--count`` certificates for a RAVDESS-like data set (the paper's
Section 5.1 / Appendix D: n = (108, 79380), k = (5, 1000), N = 100,
alpha = 0.001, eight labels; votes simulated from a fixed seed, budgets
r = (t, 10 t) for t in 0..3) into a temporary directory, then audits them

* in a fresh ``python -m mmcert_verified audit --json`` process (cold
  caches: what a user sees; includes interpreter start and imports), and
* in this process with warm caches.

Seconds are wall-clock; CPU seconds are shown beside them because on a
shared machine the wall clock also counts time other processes took.

The reference engine caches Clopper-Pearson bounds by (s, N, level), so
certificates sharing N and alpha share most of the work: with N = 100 there
are at most 101 distinct lower and upper bounds.  Prints a table of
certificates, seconds and certificates per second.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mmcert_verified.certificates.audit import audit_files, exit_code
from mmcert_verified.certificates.writer import Provenance, classification_certificate, radius_along_budget, write_certificate
from mmcert_verified.reference.certify import certify

N_VOTES = 100
CLASSES = 8
ALPHA = "0.001"
SETTING = dict(n=(108, 79380), k=(5, 1000))


def simulated_counts(rng: np.random.Generator) -> list[int]:
    """Votes of an accurate-ish model: the top label's probability ~ Beta(6, 1.5)."""
    top = rng.beta(6, 1.5)
    rest = rng.dirichlet(np.ones(CLASSES - 1)) * (1 - top)
    probs = np.insert(rest, rng.integers(CLASSES), top)
    return [int(c) for c in rng.multinomial(N_VOTES, probs)]


def generate(directory: Path, count: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    prov = Provenance(seed=seed, rng="numpy.random.PCG64", engine="reference")
    paths = []
    for i in range(count):
        t = int(rng.integers(0, 4))
        result = certify(simulated_counts(rng), ALPHA, SETTING["n"], SETTING["k"], (t, 10 * t), "modify")
        doc = classification_certificate(result, alpha_text=ALPHA, provenance=prov, radius=radius_along_budget(result))
        paths.append(write_certificate(doc, directory / f"cert-{i:06d}.json"))
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = []

    def child_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        t0, c0 = time.perf_counter(), time.process_time()
        paths = generate(directory, args.count, args.seed)
        rows.append(("write (in-process)", len(paths), time.perf_counter() - t0, time.process_time() - c0))

        t0, c0 = time.perf_counter(), child_cpu()
        proc = subprocess.run(
            [sys.executable, "-m", "mmcert_verified", "audit", "--json", *map(str, paths)],
            capture_output=True, text=True, cwd=tmp,
        )
        elapsed, cpu = time.perf_counter() - t0, child_cpu() - c0
        report = json.loads(proc.stdout)
        if proc.returncode != 0 or report["holds"] != len(paths):
            print(f"unexpected audit outcome: exit {proc.returncode}, {report['holds']} hold; {proc.stderr[-500:]}")
            return 1
        rows.append(("audit, fresh process (cold caches)", len(paths), elapsed, cpu))

        t0, c0 = time.perf_counter(), time.process_time()
        reports = audit_files(paths)
        rows.append(("audit, in-process (warm caches)", len(paths), time.perf_counter() - t0, time.process_time() - c0))
        assert exit_code(reports) == 0
        certified = sum(bool(r.certified) for r in reports)

    print(f"RAVDESS-like setting: N = {N_VOTES}, C = {CLASSES}, alpha = {ALPHA}, n = {SETTING['n']}, "
          f"k = {SETTING['k']}, r = (t, 10t), t in 0..3; {certified} of {args.count} certified")
    print(f"{'step':<38} {'certificates':>12} {'seconds':>9} {'certs/s':>9} {'CPU s':>9}")
    for name, n, secs, cpu in rows:
        print(f"{name:<38} {n:>12} {secs:>9.2f} {n / secs:>9.0f} {cpu:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
