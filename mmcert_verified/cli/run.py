"""``mmcert run`` and ``mmcert merge``: certify a data set from a TOML config, in shards, resumably."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="certify every input of a data set (config: TOML); one JSON line per input, resumable",
        description="Certify every input named by CONFIG. Writes one JSON line per input as it goes; "
        "rerunning the same command resumes after an interruption without redoing finished inputs.",
    )
    p.add_argument("config", metavar="CONFIG.toml", help="run config (model, data, modalities, k, N, alpha, budgets)")
    p.add_argument("--shard", default="0/1", metavar="i/n", help="take the inputs with index %% n == i (default 0/1)")
    p.add_argument("--out", metavar="FILE", help="output JSON-lines file (default: ./CONFIG-STEM[.shard-i-of-n].jsonl)")
    p.add_argument("--limit", type=int, metavar="M", help="certify at most M more inputs in this call")
    p.add_argument("--device", help="override the config's device (e.g. cuda); part of the config's identity")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--certificates", metavar="DIR",
                   help="also write one audit-ready certificate per input and budget into DIR (see mmcert audit)")
    p.add_argument("--log-every", type=float, default=30.0, metavar="S",
                   help="without a terminal, log progress every S seconds (default 30)")
    p.set_defaults(handler=run_run)

    p = sub.add_parser(
        "merge",
        help="join shard outputs of one run into the file an unsharded run writes",
        description="Join shard outputs (sorted by index); checks they come from one config and hold every "
        "input exactly once. Never overwrites OUT.",
    )
    p.add_argument("out", metavar="OUT", help="merged output file (must not exist)")
    p.add_argument("shards", metavar="SHARD", nargs="+", help="shard output files")
    p.set_defaults(handler=run_merge)


def run_run(args) -> int:
    from ..runs import Shard, default_out, execute, load_config, summarize

    config = load_config(args.config)
    if args.device:
        config = config.with_overrides(device=args.device)
    shard = Shard.parse(args.shard)
    out = args.out or default_out(args.config, shard)
    summary = execute(
        config, out, shard, limit=args.limit, progress=False if args.quiet else None,
        log=None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True)),
        certificates=args.certificates, log_every=args.log_every,
    )
    if args.quiet:
        return 0
    state = "complete" if summary.remaining == 0 else f"{summary.remaining} left (rerun to resume)"
    print(
        f"{summary.out}: {summary.already_done + summary.newly_done} of {summary.in_shard} inputs of shard "
        f"{shard.index}/{shard.count} done ({summary.newly_done} now); {state}"
    )
    if summary.remaining == 0 and shard.count == 1:
        for row in summarize(summary.out):
            metrics = {k: v for k, v in row.items() if k not in ("r", "attack", "inputs")}
            text = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in metrics.items())
            print(f"  r = {row['r']}: {text}")
    return 0


def run_merge(args) -> int:
    from ..runs import merge

    summary = merge(args.out, args.shards)
    print(f"{summary.out}: {summary.inputs} inputs from {summary.shards} shards")
    return 0
