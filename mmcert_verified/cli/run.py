"""``mmcert run`` and ``mmcert merge``: certify a data set from a TOML config, in shards, resumably.

``mmcert run`` reads its shard from the launcher (clause RUN.9,
:mod:`mmcert_verified.pipeline.runs.launch`): under ``torchrun`` every rank writes
``FILE.rank-R-of-W`` and rank 0 joins them into ``FILE``; as a SLURM array
task it writes ``FILE.shard-I-of-N`` for ``mmcert merge FILE --glob``.
"""

from __future__ import annotations

import gc
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="certify every input of a data set (config: TOML); one JSON line per input, resumable",
        description="Certify every input named by CONFIG. Writes one JSON line per input as it goes; "
        "rerunning the same command resumes after an interruption without redoing finished inputs.",
    )
    p.add_argument("config", metavar="CONFIG.toml", help="run config (model, data, modalities, k, N, alpha, budgets)")
    p.add_argument("--shard", metavar="i/n",
                   help="take the inputs with index %% n == i (default: from torchrun's RANK/WORLD_SIZE or a SLURM "
                   "array's SLURM_ARRAY_TASK_ID/COUNT, else 0/1)")
    p.add_argument("--out", metavar="FILE", help="output JSON-lines file (default: ./CONFIG-STEM[.shard-i-of-n].jsonl)")
    p.add_argument("--limit", type=int, metavar="M", help="certify at most M more inputs in this call")
    p.add_argument("--device", help="override the config's device (e.g. cuda); part of the config's identity")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--certificates", metavar="DIR",
                   help="also write one audit-ready certificate per input and budget into DIR (see mmcert audit)")
    p.add_argument("--certificates-per-input", action="store_true",
                   help="with --certificates: one certificate per input covering all its budgets and ratios "
                   "(as the config key certificates = \"per-input\"; part of the config's identity)")
    p.add_argument("--log-every", type=float, default=30.0, metavar="S",
                   help="without a terminal, log progress every S seconds (default 30)")
    p.set_defaults(handler=run_run)

    p = sub.add_parser(
        "merge",
        help="join shard outputs of one run into the file an unsharded run writes",
        description="Join shard outputs (sorted by index); checks they come from one config and hold every "
        "input exactly once. Never overwrites OUT.",
    )
    p.add_argument("out", metavar="OUT", nargs="?",
                   help="merged output file (must not exist; default with --glob 'FILE.shard-*': FILE)")
    p.add_argument("shards", metavar="SHARD", nargs="*", help="shard output files")
    p.add_argument("--glob", metavar="PATTERN", help="also merge the files matching PATTERN (quote it), "
                   "e.g. 'out.jsonl.shard-*' from a SLURM array")
    p.set_defaults(handler=run_merge)


def run_run(args) -> int:
    # importing torch allocates hundreds of thousands of objects that live as long as the process: no
    # collections while it runs (three full ones, about 0.2 s of a cold run: issue 16), and frozen
    # afterwards, so that the run's own collections skip them
    gc.disable()
    try:
        from ..pipeline.runs import Shard, default_out, execute, load_config, summarize
        from ..pipeline.runs.launch import Launcher, detect_launch
    finally:
        gc.freeze()
        gc.enable()
    config = load_config(args.config)
    launch = detect_launch(shard=Shard.parse(args.shard) if args.shard is not None else None)
    if args.device:
        config = config.with_overrides(device=args.device)
    if args.certificates_per_input:
        if args.certificates is None:
            from ..errors import InvalidParameterError

            raise InvalidParameterError("--certificates-per-input needs --certificates DIR")
        config = config.with_overrides(certificate_layout="per-input")
    config = config.with_overrides(device=launch.device(config.device))
    shard = launch.shard
    out = args.out or default_out(args.config, shard if launch.launcher is Launcher.SINGLE else Shard())
    who = f"rank {shard.index}/{shard.count}: " if launch.distributed else ""
    log = None if args.quiet else (lambda s: print(f"{who}{s}", file=sys.stderr, flush=True))
    options = dict(limit=args.limit, progress=False if args.quiet or launch.distributed else None, log=log,
                   certificates=args.certificates, log_every=args.log_every)
    if launch.distributed:
        from ..pipeline.runs.distributed import execute_distributed

        dsum = execute_distributed(config, out, launch, **options)
        summary = dsum.rank
    else:
        summary = execute(config, launch.shard_out(out), shard, **options)
    if args.quiet:
        return 0
    state = "complete" if summary.remaining == 0 else f"{summary.remaining} left (rerun to resume)"
    print(
        f"{who}{summary.out}: {summary.already_done + summary.newly_done} of {summary.in_shard} inputs of shard "
        f"{shard.index}/{shard.count} done ({summary.newly_done} now); {state}"
    )
    final = None
    if launch.distributed:
        if shard.index != 0:
            return 0
        if dsum.merged:
            print(f"{dsum.out}: joined from {dsum.ranks} rank files")
            final = dsum.out
        else:
            print(f"{dsum.out}: not joined yet, {dsum.remaining} inputs left over all ranks (rerun to resume)")
    elif launch.launcher is Launcher.SLURM_ARRAY:
        print(f"when every array task is done: mmcert merge {out} --glob '{out}.shard-*'")
    elif summary.remaining == 0 and shard.count == 1:
        final = summary.out
    if final is not None:
        for row in summarize(final):
            metrics = {k: v for k, v in row.items() if k not in ("r", "attack", "inputs")}
            text = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in metrics.items())
            print(f"  r = {row['r']}: {text}")
    return 0


def _merge_out(args) -> str:
    from ..errors import InvalidParameterError

    if args.out is not None:
        return args.out
    for suffix in (".shard-*", ".rank-*"):
        if args.glob and args.glob.endswith(suffix) and len(args.glob) > len(suffix):
            return args.glob[: -len(suffix)]
    raise InvalidParameterError("give the merged file OUT (or --glob 'FILE.shard-*', which merges into FILE)")


def run_merge(args) -> int:
    from ..errors import InvalidParameterError
    from ..pipeline.runs import merge
    from ..pipeline.runs.merge import glob_shards

    if args.glob is None and args.out is not None and not args.shards:
        raise InvalidParameterError("no shard files to merge (give SHARD files or --glob PATTERN)")
    out = _merge_out(args)
    shards = list(args.shards) + ([str(p) for p in glob_shards(args.glob)] if args.glob else [])
    shards = list(dict.fromkeys(shards))
    summary = merge(out, shards)
    print(f"{summary.out}: {summary.inputs} inputs from {summary.shards} shards")
    return 0
