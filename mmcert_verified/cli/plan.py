"""``mmcert plan``: predicted certified accuracy per (k, N, bound method) from a small calibration run (PLAN.1)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputFileError, InvalidParameterError
from .arguments import int_list


HELP = "predict the certified accuracy each (k, N, bound method) would give, before certifying"
#: the verb's --help text (argparse re-flows it)
DESCRIPTION = """Plan a certification: draw a few calibration votes per candidate k (from CONFIG's model, on its first inputs)
or read them (--calibration), and predict the certified accuracy along the budget direction r = t * ratio for
every N and bound method. A plan is an estimate, not a certificate: certify with fresh votes (mmcert run),
never with the calibration votes. Classification configs only."""


def register(sub) -> None:
    from ..bounds.rules import BoundName
    from ..pipeline.planning import Predictor

    p = sub.add_parser("plan", help=HELP, description=DESCRIPTION)
    p.add_argument("config", metavar="CONFIG.toml", nargs="?", help="run config whose model and data calibrate")
    p.add_argument("--calibration", metavar="FILE.json",
                   help="calibration votes to plan from instead of a model (a calibration file or a plan file)")
    p.add_argument("--k", action="append", metavar="k1,...,kT",
                   help="a candidate k (one per modality; one pooled k for the ablation method); repeat for "
                   "several (default: the config's k, or every k of --calibration)")
    p.add_argument("--calibration-samples", type=int, default=50, metavar="N0",
                   help="calibration votes per input and k (default 50)")
    p.add_argument("--calibration-inputs", type=int, default=20, metavar="M",
                   help="calibration inputs: the data set's first M (default 20)")
    p.add_argument("--calibration-seed", type=int, metavar="S",
                   help="seed of the calibration votes (default: the config's seed + 1; never the config's seed)")
    p.add_argument("--save-calibration", metavar="FILE.json", help="also write the calibration votes (never overwrites)")
    p.add_argument("--N", required=True, metavar="N1,N2,...", help="candidate numbers of votes, e.g. 100,1000,10000")
    p.add_argument("--bound", default=",".join(b.value for b in BoundName), metavar="B1,B2,...",
                   help="bound methods to compare (default: all of " + ", ".join(b.value for b in BoundName) + ")")
    p.add_argument("--ratio", metavar="c1,...,cT", help="budget direction (default: the config's first ratio)")
    p.add_argument("--alpha", help="confidence level (default: the config's; required with --calibration alone)")
    p.add_argument("--attack", help="modify, add or delete, or one per modality (default: the config's, else modify)")
    p.add_argument("--predict", choices=[x.value for x in Predictor], default=Predictor.MULTINOMIAL.value,
                   help="multinomial (default): mean over --draws vote vectors ~ Multinomial(N, p_hat); plugin: "
                   "the one vote vector N p_hat")
    p.add_argument("--draws", type=int, default=200, help="vote vectors per input for --predict multinomial (200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the multinomial draws (default 0)")
    p.add_argument("--device", help="override the config's device for the calibration votes")
    p.add_argument("--out", metavar="FILE.json", help="write the plan (with its calibration votes) as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="plot the predicted certified accuracy against t")
    p.add_argument("--force", action="store_true", help="replace existing --out / --plot / --save-calibration files")
    p.add_argument("--json", action="store_true", help="print the plan as JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run_plan)


def _check_outputs(args) -> None:
    named = [(flag, getattr(args, flag.lstrip("-").replace("-", "_"))) for flag in ("--out", "--plot", "--save-calibration")]
    paths = [(flag, Path(v)) for flag, v in named if v]
    if len({p.resolve() for _, p in paths}) != len(paths):
        raise InvalidParameterError("--out, --plot and --save-calibration must name different files")
    for flag, path in paths:
        if path.exists() and (path.is_dir() or not args.force):
            what = "is a directory" if path.is_dir() else "already exists; use --force to replace it"
            raise InputFileError(f"{flag} {path} {what}")
        if not path.parent.is_dir():
            raise InputFileError(f"{flag} {path}: directory {path.parent} does not exist")


def _settings(args, config):
    from ..bounds.rules import bound_rule
    from ..pipeline.planning import PlanSettings, Predictor

    N = int_list(args.N, "--N")
    if any(v < 1 for v in N):
        raise InvalidParameterError(f"--N: every N must be at least 1, got {args.N}")
    bounds = tuple(dict.fromkeys(bound_rule(b).name.value for b in args.bound.split(",")))
    if args.alpha is not None:
        alpha = args.alpha
    elif config is not None:
        alpha = config.alpha
    else:
        raise InvalidParameterError("--alpha is required with --calibration (no config to take it from)")
    from ..reference.certify import alpha_fraction

    alpha_fraction(alpha)
    if args.ratio is not None:
        ratio = int_list(args.ratio, "--ratio")
    elif config is not None and config.ratios:
        ratio = config.ratios[0]
    else:
        raise InvalidParameterError("--ratio is required (the config has no [budgets] ratios)")
    if args.attack is not None:
        attack = args.attack
    elif config is not None:
        attack = [a.value for a in config.budgets[0].attack]
    else:
        attack = "modify"
    if args.draws < 1 or args.seed < 0:
        raise InvalidParameterError("--draws must be at least 1 and --seed non-negative")
    return PlanSettings(str(alpha), attack, ratio, N, bounds, Predictor(args.predict), args.draws, args.seed)


def _write(path: str, data: bytes, force: bool) -> None:
    from ..atomic_io import write_atomic

    write_atomic(path, data, replace=force, point="plan")


def run_plan(args) -> int:
    from ..pipeline.planning import NOTE, calibrate, make_plan, read_calibration

    if (args.config is None) == (args.calibration is None):
        raise InvalidParameterError("give CONFIG.toml (to draw calibration votes) or --calibration FILE, not both")
    _check_outputs(args)
    if args.calibration is not None and args.save_calibration:
        raise InvalidParameterError("--save-calibration needs CONFIG.toml (--calibration already is a file)")
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    config = None
    ks = None
    if args.k:
        ks = [int_list(k, "--k") for k in args.k]
    if args.config is not None:
        from ..pipeline.runs import load_config

        config = load_config(args.config)
        if config.task.value != "classification":
            raise InvalidParameterError(f"mmcert plan supports classification configs only; {args.config} is a "
                                        f"{config.task.value} config")
        if args.device:
            config = config.with_overrides(device=args.device)
        settings = _settings(args, config)  # every flag checked before the model runs
        ks = ks or [config.plan.k]
        seed = config.seed + 1 if args.calibration_seed is None else args.calibration_seed
        calibration = calibrate(config, ks, args.calibration_samples, args.calibration_inputs, seed, progress=log)
        if args.save_calibration:
            _write(args.save_calibration, (json.dumps(calibration.to_json()) + "\n").encode(), args.force)
    else:
        calibration = read_calibration(args.calibration)
        settings = _settings(args, None)
    plan = make_plan(calibration, settings, ks)
    doc = plan.to_json()
    if args.out:
        _write(args.out, (json.dumps(doc, indent=1) + "\n").encode(), args.force)
    if args.plot:
        import io

        buf = io.BytesIO()
        plot(plan, buf)
        _write(args.plot, buf.getvalue(), args.force)
    if args.json:
        print(json.dumps(doc))
        return 0
    print(format_plan(plan))
    print(NOTE)
    return 0


def _describe(plan, sep: str = "; ") -> str:
    s, cal = plan.settings, plan.calibration
    run = cal.runs[0]
    how = "plugin N p_hat" if s.predictor.value == "plugin" else f"multinomial, {s.draws} draws, seed {s.seed}"
    return (f"{cal.method.value}, n = ({', '.join(map(str, cal.n))}), alpha = {s.alpha}, attack = "
            f"{','.join(dict.fromkeys(a.value for a in s.attack))}, r = t * ({', '.join(map(str, s.ratio))}){sep}"
            f"{len(run.counts)} calibration inputs x {run.samples} votes; predictor {how}")


def format_plan(plan) -> str:
    """The plan as a table: k, N, bound, predicted certified accuracy at t = 0.., median and mean radius."""
    steps = len(plan.rows[0].certified_accuracy)
    shown = list(range(steps)) if steps <= 12 else sorted({round(i * (steps - 1) / 11) for i in range(12)})
    head = f"{'k':<14}{'N':>8}  {'bound':<11}" + "".join(f"{'t=' + str(t):>7}" for t in shown) + \
        f"{'median':>8}{'mean':>8}"
    lines = [f"plan: {_describe(plan)}", "predicted certified accuracy at r = t * ratio:", head]
    for r in plan.rows:
        k = "(" + ", ".join(map(str, r.k)) + ")"
        med = "-" if r.median_radius is None else str(r.median_radius)
        mean = "-" if r.mean_radius is None else f"{r.mean_radius:.2f}"
        lines.append(f"{k:<14}{r.N:>8}  {r.bound:<11}" + "".join(f"{r.certified_accuracy[t]:>7.3f}" for t in shown)
                     + f"{med:>8}{mean:>8}")
    return "\n".join(lines)


def plot(plan, fh) -> None:
    """One panel per k; one curve per (N, bound method); titled with alpha, the attack and the calibration."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ks = list(dict.fromkeys(r.k for r in plan.rows))
    fig = Figure(figsize=(4.2 * len(ks), 3.6), layout="constrained")
    axes = fig.subplots(1, len(ks), squeeze=False, sharey=True)[0]
    Ns = sorted({r.N for r in plan.rows})
    bounds = list(dict.fromkeys(r.bound for r in plan.rows))
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:gray"]
    styles = ["-", "--", ":", "-."]
    for ax, k in zip(axes, ks):
        for r in plan.rows:
            if r.k != k:
                continue
            ax.plot(range(len(r.certified_accuracy)), r.certified_accuracy, marker="o", markersize=3,
                    color=colors[Ns.index(r.N) % len(colors)], linestyle=styles[bounds.index(r.bound) % len(styles)],
                    label=f"N = {r.N}, {r.bound}")
        ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.set_title(f"k = ({', '.join(map(str, k))})", fontsize=9)
        ax.set_xlabel(f"t (r = t * ({', '.join(map(str, plan.settings.ratio))}))")
        ax.legend(fontsize=6, loc="lower left")
    axes[0].set_ylabel("predicted certified accuracy")
    fig.suptitle(f"plan (an estimate, not a certificate): {_describe(plan, chr(10))}", fontsize=7)
    fig.savefig(fh, dpi=110, format="png")
