"""``mmcert demo``: certify both reference models with MMCert and the baseline; plots, JSON, CSV."""

from __future__ import annotations

import sys

HELP = "MMCert vs randomized ablation on the reference models (plots like the paper's Figures 1-2)"
#: the verb's --help text (argparse re-flows it)
DESCRIPTION = """Certifies the committed audio-visual and road-segmentation reference models with MMCert and with the
randomized-ablation baseline over budgets r2 = c * r1 (c = 1..4) and writes PNG plots, results.json and CSV
tables. MMCert uses its paper's Bonferroni bounds, the baseline the randomized-ablation paper's p_B = 1 - p_A
(see --mmcert-bound, --baseline-bound). Exit status 1 if MMCert falls below the baseline somewhere or a curve
rises."""


def register(sub) -> None:
    p = sub.add_parser("demo", help=HELP, description=DESCRIPTION)
    p.add_argument("--out", default="mmcert-demo", metavar="DIR", help="output directory (default ./mmcert-demo)")
    p.add_argument("--force", action="store_true", help="replace the demo's files if DIR already holds them")
    p.add_argument("--device", help="device for sub-sampling and the models (default: the configs', cpu)")
    p.add_argument("--av-inputs", type=int, metavar="M", help="audio-visual test clips (default: the config's)")
    p.add_argument("--road-inputs", type=int, metavar="M", help="road test scenes (default: the config's)")
    p.add_argument("--n-samples", type=int, metavar="N", help="sub-samples per input (default: the config's)")
    bounds = ("bonferroni", "complement", "combined")
    p.add_argument("--mmcert-bound", choices=bounds, default="bonferroni",
                   help="MMCert's bound method on the audio-visual task (default bonferroni: the MMCert paper's, CP.4)")
    p.add_argument("--baseline-bound", choices=bounds, default="complement",
                   help="the pooled baseline's bound method on the audio-visual task (default complement: the "
                   "randomized-ablation paper's p_B = 1 - p_A, CP.6); segmentation is bonferroni on both sides")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args) -> int:
    from reference_models.demo import DemoSettings, format_table, run_demo
    from ..errors import InvalidParameterError

    for name in ("av_inputs", "road_inputs", "n_samples"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InvalidParameterError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    settings = DemoSettings(args.av_inputs, args.road_inputs, args.n_samples, args.device,
                            mmcert_bound=args.mmcert_bound, baseline_bound=args.baseline_bound)
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    result = run_demo(args.out, force=args.force, settings=settings, progress=not args.quiet, log=log)
    print(format_table(result))
    print(f"wrote {args.out}/ in {result.seconds:.0f} s")
    return 0 if result.passed else 1
