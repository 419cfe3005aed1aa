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

``--cold`` (or ``--cold-only``) adds the end-to-end table the issue's target is
about: for ``av_mmcert`` and ``road_mmcert`` at the config's N (100), the wall
time of a whole ``mmcert run`` in a fresh process (``cold``: interpreter,
imports, model and data, every table built for the first time) and of a second
in-process ``execute`` (``warm``: imports done, caches filled), each against
``raw`` = the model's forward passes alone (``raw fresh``: timed inside the bare
script, a fresh process like the cold run, and used by the cold ratios; ``raw
in-proc``: best-of-3 forward time of one batch x the run's batches in the
benchmark's own process, used by the warm ratio) and ``bare`` = the user's alternative, a fresh script
that imports torch, builds the model and data, reads every input and runs the
same forward passes.  ``torch imp`` is ``import torch`` in a fresh interpreter,
``startup`` torch plus what ``mmcert run`` imports before it starts.  Overhead = (end-to-end - raw) /
raw (``bare ovh``: the same for the bare script, the floor any fresh torch process
pays), ``added`` = (cold - bare) / raw (what mmcert adds to the user's own script,
as a share of the forward passes), and (cold - bare) / bare.  Every fresh-process
time is the best of ``--cold-repeat`` rounds (default 3).  ``--cold-certificates``
adds a second table: the same cold ``mmcert run`` with ``--certificates DIR`` (one
certificate per input and budget) and with ``--certificates-per-input`` (one per
input), the files written and the cost per file over the plain cold run.

``--overhead`` prints the table issue 15 asks for: per reference model
(``--overhead-configs``) and per N (``--n``, default 100 1000 10000), for one
input, ``raw`` = the model's forward passes alone on already encoded
batches (the same N / batch_size passes the votes make), ``votes`` =
``Certifier.votes`` (sampling + forward + counting), ``certify`` = the run's
engine at every budget of the config from those votes.  ``warm`` = best of
``--repeat``, raw and votes interleaved (so both see the same load of a
shared machine), in wall and CPU seconds; ``cold`` = a fresh Certifier and the
first certification at that N in this process, once.  Overhead = (votes
[+ certify] - raw) / raw; ``added`` = ``Certifier.votes`` with a stand-in model
that returns stored scores, i.e. what the votes add to the forward passes
measured directly (on a loaded machine the difference of two noisy times
is not; added / raw is the steadier estimate of the votes' overhead).  ``--device cuda`` runs it on a GPU (and says so,
exit 2, where there is none).

Timing: best of ``--repeat`` runs after a warm-up (the minimum is the least
noisy estimate on a shared machine); CUDA work is synchronised before the
clock is read.  Threads: torch's default unless ``--threads`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmcert_verified.pipeline.certifier import (  # noqa: E402
    certify_classification_counts,
    certify_segmentation_counts,
)
from mmcert_verified.pipeline.runs import load_config  # noqa: E402
from mmcert_verified.sampling import VoteCounter  # noqa: E402
from timing import best_time, sync  # noqa: E402  (benchmarks/timing.py)


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


def _config_text(path: Path, inputs: int | None) -> str:
    import re

    text = path.read_text()
    if inputs is not None:
        text, n = re.subn(r"(kwargs = \{ count = )\d+( \})", rf"\g<1>{inputs}\g<2>", text, count=1)
        if n != 1:
            raise SystemExit(f"{path}: cannot find the data count to override")
    return text


def cold_row(path: Path, device: torch.device, inputs: int | None, workdir: Path, threads: int | None,
             repeat: int = 3, certificates: bool = False) -> dict:
    """Cold and warm end-to-end time of a run against its raw forward time (see the module docstring); every
    fresh-process time is the best of ``repeat`` rounds, the processes of a round run one after another (so
    that all see about the same machine load)."""
    import os
    import resource
    import shutil
    import subprocess

    from mmcert_verified.pipeline.runs import execute

    root = Path(__file__).resolve().parents[1]
    cfg = workdir / path.name
    cfg.write_text(_config_text(path, inputs))
    env = dict(os.environ, PYTHONPATH=str(root))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)

    reports: list[str] = []

    def child(cmd: list[str]) -> tuple[float, float]:
        """(wall, CPU) seconds of a fresh process (CPU: user + sys from its rusage); its stdout is kept."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=True, env=env, cwd=root, stdout=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        reports.append(done.stdout)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def inproc(fn) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - t0, time.process_time() - c0

    out = workdir / "cold.jsonl"
    config = load_config(cfg).with_overrides(device=str(device))
    # in-process, first time: no import cost, but every table and cache cold
    first = inproc(lambda: execute(config, workdir / "first.jsonl", progress=False))
    warm = inproc(lambda: execute(config, workdir / "warm.jsonl", progress=False))
    assert (workdir / "warm.jsonl").read_bytes() == (workdir / "first.jsonl").read_bytes()  # warm or not, one run
    # raw: the forward passes alone, on encoded batches of input 0
    model = config.model.build().to(device).eval()
    dataset = config.data.build()
    x = tuple(torch.as_tensor(t).to(device) for t in dataset[0][0])
    gen = torch.Generator(device=device).manual_seed(0)
    sizes = [min(config.batch_size, config.n_samples - d) for d in range(0, config.n_samples, config.batch_size)]
    raw_input = [0.0, 0.0]
    with torch.inference_mode():
        for b in sorted(set(sizes)):
            enc = config.plan.sample(x, gen, b)
            model(*enc)
            walls, cpus = [], []
            for _ in range(3):
                w, c = inproc(lambda: model(*enc))
                walls.append(w)
                cpus.append(c)
            raw_input[0] += min(walls) * sizes.count(b)
            raw_input[1] += min(cpus) * sizes.count(b)
    raw = (raw_input[0] * len(dataset), raw_input[1] * len(dataset))
    # bare: what a user runs without MMCert -- a fresh interpreter imports torch, builds the same model and
    # data set, reads every input and runs the same number of forward passes per input (on input 0's batches)
    batches = []
    with torch.inference_mode():
        for b in sizes:
            batches.append(tuple(t.cpu() for t in config.plan.sample(x, gen, b)))
    torch.save(batches, workdir / "batches.pt")
    (workdir / "bare.py").write_text(BARE_SCRIPT)
    spec = json.dumps({"model": [config.model.spec, config.model.kwargs], "data": [config.data.spec, config.data.kwargs],
                       "batches": str(workdir / "batches.pt"), "device": str(device)})
    commands = {
        "torch_startup": [sys.executable, "-c", "import torch"],
        "startup": [sys.executable, "-c", "import torch; from mmcert_verified.cli import main; main(['run', '--help'])"],
        "cold": [sys.executable, "-m", "mmcert_verified", "run", str(cfg), "--out", str(out), "--quiet",
                 "--device", str(device)],
        "bare": [sys.executable, str(workdir / "bare.py"), spec],
    }
    if certificates:  # the same cold run writing certificates: per input and budget, then one per input
        for key, extra in (("certs", []), ("certs_per_input", ["--certificates-per-input"])):
            commands[key] = commands["cold"][:4] + [str(cfg), "--out", str(workdir / f"{key}.jsonl"), "--quiet",
                                                     "--device", str(device), "--certificates",
                                                     str(workdir / f"{key}-dir"), *extra]
    files: dict[str, int] = {}
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in commands}
    times["raw_fresh"] = []
    for _ in range(max(1, repeat)):
        for key, cmd in commands.items():
            if key == "cold":
                out.unlink(missing_ok=True)  # a fresh run each round, not a resume
            if key.startswith("certs"):  # a fresh run and an empty certificate directory each round
                (workdir / f"{key}.jsonl").unlink(missing_ok=True)
                shutil.rmtree(workdir / f"{key}-dir", ignore_errors=True)
            times[key].append(child(cmd))
            if key.startswith("certs"):
                files[key] = sum(1 for _ in (workdir / f"{key}-dir").iterdir())
            if key == "bare":  # the bare script's own clock around its forward passes
                forward = json.loads(reports[-1].strip().splitlines()[-1])
                times["raw_fresh"].append((forward["wall"], forward["cpu"]))
    best = {key: (min(w for w, _ in got), min(c for _, c in got)) for key, got in times.items()}
    assert (workdir / "warm.jsonl").read_bytes() == out.read_bytes()  # the fresh process wrote the same run
    for p in workdir.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    return dict(config=path.stem, inputs=len(dataset), N=config.n_samples, raw=raw, first=first, warm=warm,
                budgets=len(config.budgets), files=files, **best)


#: the user's alternative to ``mmcert run`` (cold_row's ``bare``): torch, the model, the data, the forward passes
BARE_SCRIPT = """
import importlib, json, sys, time
import torch

spec = json.loads(sys.argv[1])

def build(entry):
    module, name = entry[0].split(":")
    return getattr(importlib.import_module(module), name)(**entry[1])

device = torch.device(spec["device"])
model = build(spec["model"]).to(device).eval()
data = build(spec["data"])
batches = [tuple(t.to(device) for t in b) for b in torch.load(spec["batches"])]
forward = [0.0, 0.0]
with torch.inference_mode():
    for i in range(len(data)):
        data[i]
        t0, c0 = time.perf_counter(), time.process_time()
        for batch in batches:
            model(*batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        forward[0] += time.perf_counter() - t0
        forward[1] += time.process_time() - c0
print(json.dumps({"wall": forward[0], "cpu": forward[1]}))
"""


def _clocks(fn, device: torch.device) -> tuple[float, float]:
    """(wall, CPU) seconds of one call (CPU = this process's user + sys, all its threads)."""
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


class StoredScores(torch.nn.Module):
    """A stand-in model that returns scores computed beforehand (one tensor per batch size), so that
    ``Certifier.votes`` with it costs everything the votes add to the model and nothing else."""

    def __init__(self, scores: dict[int, torch.Tensor]) -> None:
        super().__init__()
        self.scores = scores

    def forward(self, *batch: torch.Tensor) -> torch.Tensor:
        return self.scores[batch[0].shape[0]]


def overhead_rows(path: Path, ns: list[int], device: torch.device, batch: int | None, repeat: int) -> list[dict]:
    """Cold / warm votes and certification of one input against its raw forward time (module docstring)."""
    from mmcert_verified.pipeline.certifier import Certifier, ClassificationTable, default_segmentation_engine

    config = load_config(path).with_overrides(device=str(device))
    if batch:
        config = config.with_overrides(batch_size=batch)
    model = config.model.build().to(device).eval()
    dataset = config.data.build()
    inputs, label = dataset[0]
    x = tuple(torch.as_tensor(t).to(device) for t in inputs)
    lab = np.asarray(torch.as_tensor(label).cpu())
    rows = []
    for n in ns:
        cfg = config.with_overrides(n_samples=n)
        sizes = [min(cfg.batch_size, n - d) for d in range(0, n, cfg.batch_size)]
        gen = torch.Generator(device=device).manual_seed(0)
        with torch.inference_mode():
            encoded = {b: cfg.plan.sample(x, gen, b) for b in set(sizes)}
            stored = StoredScores({b: model(*e) for b, e in encoded.items()})

        def raw():
            with torch.inference_mode():
                for b in sizes:  # the same forward passes as the votes make, on already encoded batches
                    model(*encoded[b])

        def certifier(net=model):
            return Certifier(net, cfg.plan, cfg.task, cfg.classes, n_samples=n, batch_size=cfg.batch_size,
                             seed=cfg.seed, device=device)

        def certify(counts):
            if cfg.task.value == "classification":
                ClassificationTable(cfg.plan, cfg.budgets, cfg.ratios, cfg.alpha).certify(counts)
            else:
                certify_segmentation_counts(counts, cfg.alpha, cfg.plan, cfg.budgets, labels=lab,
                                            engine=default_segmentation_engine())

        out = dict(config=path.stem, N=n)
        # cold: a fresh Certifier and the first certification at this N in this process
        holder = {}
        votes_cold = _clocks(lambda: holder.setdefault("counts", certifier().votes(x, 0)), device)
        out["cold"] = (votes_cold, _clocks(lambda: certify(holder["counts"]), device))
        # warm: best of `repeat`, raw forward and votes interleaved so that both see the same machine load
        warm, stub = certifier(), certifier(stored)
        samples = {"raw": [], "votes": [], "certify": [], "added": []}
        for _ in range(max(1, repeat)):
            samples["raw"].append(_clocks(raw, device))
            samples["votes"].append(_clocks(lambda: holder.__setitem__("counts", warm.votes(x, 0)), device))
            samples["certify"].append(_clocks(lambda: certify(holder["counts"]), device))
            samples["added"].append(_clocks(lambda: stub.votes(x, 0), device))
        for key, got in samples.items():
            out[key] = (min(w for w, _ in got), min(c for _, c in got))
        rows.append(out)
    return rows


def overhead_table(args, device: torch.device, root: Path) -> None:
    print()
    print(f"warm = best of {args.repeat}, raw forward and votes interleaved; seconds as wall / CPU (user + sys)")
    header = (f"{'config':<12} {'N':>6} {'raw fwd':>13} {'votes warm':>13} {'added':>13} {'certify warm':>13} "
              f"{'added/raw':>13} {'votes ovh':>13} {'e2e ovh':>13} {'cold e2e ovh':>13}")
    print(header)
    print("-" * len(header))
    for name in args.overhead_configs:
        for r in overhead_rows(root / f"{name}.toml", args.n, device, args.overhead_batch, args.repeat):
            raw, votes, cert, added = r["raw"], r["votes"], r["certify"], r["added"]
            (vc, cc) = r["cold"]

            def pair(v) -> str:
                return f"{v[0]:.3f}/{v[1]:.3f}"

            def pct(*parts) -> str:
                return "/".join(f"{100 * (sum(p[i] for p in parts) - raw[i]) / raw[i]:.1f}%" for i in (0, 1))

            share = "/".join(f"{100 * added[i] / raw[i]:.1f}%" for i in (0, 1))
            print(f"{r['config']:<12} {r['N']:>6} {pair(raw):>13} {pair(votes):>13} {pair(added):>13} "
                  f"{pair(cert):>13} {share:>13} {pct(votes):>13} {pct(votes, cert):>13} {pct(vc, cc):>13}",
                  flush=True)
    print("one input; raw fwd = the votes' forward passes alone, on already encoded batches; votes = "
          "Certifier.votes (sampling + forward + counting); added = Certifier.votes with a stand-in model that "
          "returns stored scores (sampling + encoding + counting, no forward); certify = every budget of the "
          "config; ovh = (time - raw) / raw; e2e = votes + certify; cold = a fresh Certifier, first certification")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 400, 1600])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--configs", nargs="+", default=["av_mmcert", "av_ablation", "road_mmcert", "road_ablation"])
    parser.add_argument("--cold", action="store_true", help="also the cold/warm end-to-end table")
    parser.add_argument("--cold-only", action="store_true", help="only the cold/warm end-to-end table")
    parser.add_argument("--cold-configs", nargs="+", default=["av_mmcert", "road_mmcert"])
    parser.add_argument("--inputs", type=int, help="cold table: certify only this many inputs (default: the config's)")
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold table: rounds of fresh processes (best of)")
    parser.add_argument("--cold-certificates", action="store_true",
                        help="cold table: also time the cold run with --certificates (per budget and per input)")
    parser.add_argument("--overhead", action="store_true", help="the issue-15 table: overhead over raw forward at --n")
    parser.add_argument("--overhead-only", action="store_true", help="only that table")
    parser.add_argument("--overhead-configs", nargs="+", default=["av_mmcert", "road_mmcert"])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--overhead-batch", type=int, help="batch size for that table (default: the config's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = torch.device(args.device)
    except (RuntimeError, ValueError) as exc:
        print(f"bench_end_to_end: --device {args.device!r} is not a device torch knows ({exc})", file=sys.stderr)
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"bench_end_to_end: --device {args.device}: no CUDA GPU on this machine; nothing measured",
              file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parents[1] / "reference_models"
    print(f"device {device} ({torch.get_num_threads()} CPU threads), torch {torch.__version__}")
    if args.overhead or args.overhead_only:
        overhead_table(args, device, root)
        if args.overhead_only:
            return 0
    if not args.cold_only:
        per_batch_table(args, device, root)
    if args.cold or args.cold_only:
        cold_table(args, device, root)
    return 0


def cold_table(args, device: torch.device, root: Path) -> None:
    import tempfile

    print()
    print("seconds as wall / CPU (user + sys; on a shared machine CPU time is the steadier figure)")
    print(f"fresh processes: best of {args.cold_repeat} rounds")
    header = (f"{'config':<12} {'inputs':>6} {'N':>4} {'raw fresh':>11} {'raw in-proc':>11} {'torch imp':>11} {'startup':>11} "
              f"{'bare':>11} {'cold e2e':>11} {'cold ovh':>11} {'bare ovh':>11} {'added':>11} {'vs bare':>9} "
              f"{'1st in-proc':>11} {'warm e2e':>11} {'warm ovh':>11}")
    print(header)
    print("-" * len(header))

    def pair(v) -> str:
        return f"{v[0]:.2f}/{v[1]:.2f}"

    def ovh(e2e, raw) -> str:
        return f"{100 * (e2e[0] - raw[0]) / raw[0]:.0f}/{100 * (e2e[1] - raw[1]) / raw[1]:.0f}%"

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cold_configs:
            r = cold_row(root / f"{name}.toml", device, args.inputs, Path(tmp), args.threads, args.cold_repeat,
                         args.cold_certificates)
            rows.append(r)
            fresh = r["raw_fresh"]
            added = "/".join(f"{100 * (r['cold'][i] - r['bare'][i]) / fresh[i]:.0f}" for i in (0, 1)) + "%"
            print(f"{r['config']:<12} {r['inputs']:>6} {r['N']:>4} {pair(fresh):>11} {pair(r['raw']):>11} "
                  f"{pair(r['torch_startup']):>11} {pair(r['startup']):>11} {pair(r['bare']):>11} "
                  f"{pair(r['cold']):>11} {ovh(r['cold'], fresh):>11} {ovh(r['bare'], fresh):>11} {added:>11} "
                  f"{ovh(r['cold'], r['bare']):>9} {pair(r['first']):>11} {pair(r['warm']):>11} "
                  f"{ovh(r['warm'], r['raw']):>11}", flush=True)
    print("raw fresh = the model's forward passes alone, timed inside the bare script (a fresh process, as the "
          "cold run; the cold ratios use it); raw in-proc = the same passes in this process (best of 3 per batch; "
          "the warm ratio uses it); torch imp = `import torch` in a fresh "
          "process; startup = torch + the mmcert CLI's imports; bare = a fresh script that imports torch, builds the "
          "model and data, reads every input and runs the same forward passes (the user's alternative); cold e2e = "
          "`mmcert run` in a fresh process; 1st in-proc = first execute() in this process (imports done, tables "
          "cold); warm e2e = second execute(); ovh = (e2e - raw) / raw (bare ovh: the floor of any fresh torch "
          "process), added = (cold e2e - bare) / raw (what mmcert adds, as a share of the forward passes), "
          "vs bare = (cold e2e - bare) / bare")
    if args.cold_certificates:
        print()
        head = (f"{'config':<12} {'inputs':>6} {'budgets':>7} {'cold e2e':>11} {'+certs':>11} {'files':>6} "
                f"{'ms/file':>8} {'+per-input':>11} {'files':>6} {'ms/file':>8}")
        print(head)
        print("-" * len(head))
        for r in rows:
            def per_file(key: str) -> str:
                return f"{1000 * (r[key][0] - r['cold'][0]) / max(1, r['files'][key]):.2f}"

            print(f"{r['config']:<12} {r['inputs']:>6} {r['budgets']:>7} {pair(r['cold']):>11} {pair(r['certs']):>11} "
                  f"{r['files']['certs']:>6} {per_file('certs'):>8} {pair(r['certs_per_input']):>11} "
                  f"{r['files']['certs_per_input']:>6} {per_file('certs_per_input'):>8}", flush=True)
        print("+certs = the cold run with --certificates DIR (a certificate per input and budget; segmentation adds "
              "a .votes.npz per certificate), +per-input = with --certificates-per-input (one per input, + one "
              "sidecar for segmentation); files = files written; ms/file = (that run - cold e2e) / files, wall")


def per_batch_table(args, device: torch.device, root: Path) -> None:
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


if __name__ == "__main__":
    raise SystemExit(main())
