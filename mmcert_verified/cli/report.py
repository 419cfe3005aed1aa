"""``mmcert report``: summarise run files and draw their certified-accuracy curves (clause RUN.8)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputFileError

HELP = "summarise run files (merged or not) and plot certified accuracy against the budget"
#: the verb's --help text (argparse re-flows it)
DESCRIPTION = """Summarise each RUN.jsonl written by mmcert run or mmcert merge: certified accuracy (classification) or
certified pixel accuracy, F-score and IoU (segmentation) per budget, and one PNG per file with a curve per
budget direction, titled with N, alpha, k and the attack."""

LABELS = {
    "certified_accuracy": "certified accuracy",
    "pixel_accuracy": "certified pixel accuracy",
    "f_score": "certified F-score",
    "iou": "certified IoU",
}


def register(sub) -> None:
    p = sub.add_parser("report", help=HELP, description=DESCRIPTION)
    p.add_argument("runs", metavar="RUN.jsonl", nargs="+", help="run files (mmcert run / mmcert merge)")
    p.add_argument("--out", metavar="DIR", default=".", help="where the PNGs go (default: the current directory)")
    p.add_argument("--no-plots", action="store_true", help="print the summary only")
    p.add_argument("--force", action="store_true", help="replace existing PNGs of the same name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_report)


def describe(header: dict) -> dict:
    """The settings a reader needs to interpret the numbers (N, alpha, k, attack, method)."""
    cfg = header["config"]
    cert = cfg.get("certify", {})
    attacks = {tuple(b.get("attack", [])) for b in cfg["budgets"]}
    attack = ",".join(next(iter(attacks))) if len(attacks) == 1 else "mixed"
    if attack and len(set(attack.split(","))) == 1:
        attack = attack.split(",")[0]
    return {
        "task": cfg["task"], "method": cert.get("method"), "N": cert.get("N"), "alpha": cert.get("alpha"),
        "k": cert.get("k"), "attack": attack, "modalities": [m.get("name") for m in cfg.get("modalities", [])],
        "bound": cert.get("bound", "bonferroni"),  # absent from the header: the default (clause RUN.11)
    }


def _bound_note(info: dict) -> str:
    return "" if info["bound"] == "bonferroni" else f", bound = {info['bound']}"


def _title(path: Path, info: dict, inputs: int, total: int) -> str:
    k = ", ".join(map(str, info["k"] or []))
    return (f"{path.name}: {info['method']}, N = {info['N']}, alpha = {info['alpha']}, k = ({k}), "
            f"attack = {info['attack']}{_bound_note(info)}; {inputs} of {total} inputs")


def plot(path: Path, png, info: dict, curves, inputs: int, total: int) -> None:
    """One panel per metric; one curve per budget direction r = t * d (t on the x axis)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    metrics = list(dict.fromkeys(c.metric for c in curves))
    fig = Figure(figsize=(4.2 * max(1, len(metrics)), 3.4), layout="constrained")
    axes = fig.subplots(1, max(1, len(metrics)), squeeze=False)[0]
    names = info["modalities"]
    for ax, metric in zip(axes, metrics):
        for c in curves:
            if c.metric != metric:
                continue
            pts = [(t, v) for t, v in zip(c.steps, c.values) if v is not None]
            label = "r = t (" + ", ".join(f"{x}" for x in c.direction) + ")"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=label)
        ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.set_xlabel("t (elements of " + ", ".join(names) + " attacked: t * direction)")
        ax.set_ylabel(LABELS.get(metric, metric))
        ax.legend(fontsize=7, loc="lower left")
    if not curves:
        axes[0].text(0.5, 0.5, "no budget directions in this run", ha="center", va="center")
    fig.suptitle(_title(path, info, inputs, total), fontsize=8)
    fig.savefig(png, dpi=110, format="png")


def run_report(args) -> int:
    from ..atomic_io import write_atomic
    from ..pipeline.runs.run_file import read_run_file
    from ..pipeline.runs.summary import curves, summarize_file

    out_dir = Path(args.out)
    files = [(Path(p), read_run_file(p)) for p in args.runs]  # every file checked before anything is written
    pngs = [out_dir / f"{p.stem}.png" for p, _ in files]
    if len(set(pngs)) != len(pngs):
        raise InputFileError("two run files share a name; their plots would collide (report them separately)")
    if not args.no_plots and not args.force:
        clash = [str(p) for p in pngs if p.exists()]
        if clash:
            raise InputFileError(f"{', '.join(clash)} already exist(s); use --force to replace or --out elsewhere")
    if not args.no_plots and out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(f"{out_dir} is not a directory")
    docs = []
    for (path, f), png in zip(files, pngs):
        info = describe(f.header)
        summary = summarize_file(f)
        total = len(range(f.header["shard"][0], f.header["inputs"], f.header["shard"][1]))
        doc = {"path": str(path), **info, "inputs": len(f.lines), "of": total, "shard": f.header["shard"],
               "format": f.header["format"], "complete": len(f.lines) == total and not f.partial_tail,
               "summary": summary, "plot": None}
        if not args.no_plots:
            import io

            out_dir.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            plot(path, buf, info, curves(summary, info["task"]), len(f.lines), total)
            write_atomic(png, buf.getvalue(), replace=True, point="report")
            doc["plot"] = str(png)
        docs.append(doc)
    if args.json:
        print(json.dumps({"runs": docs}, indent=1))
        return 0
    for doc in docs:
        k = ", ".join(map(str, doc["k"] or []))
        print(f"{doc['path']}: {doc['task']}, {doc['method']}, N = {doc['N']}, alpha = {doc['alpha']}, k = ({k}), "
              f"attack = {doc['attack']}{_bound_note(doc)}; {doc['inputs']} of {doc['of']} inputs"
              + ("" if doc["complete"] else " (incomplete: resume with mmcert run)")
              + (f"; shard {doc['shard'][0]}/{doc['shard'][1]}" if doc["shard"][1] > 1 else ""))
        for row in doc["summary"]:
            metrics = {k: v for k, v in row.items() if k not in ("r", "attack", "inputs")}
            text = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in metrics.items())
            print(f"  r = {row['r']}: {text}")
        if doc["plot"]:
            print(f"  plot: {doc['plot']}")
    return 0
