"""``mmcert demo``: MMCert against the randomized-ablation baseline on the two reference models.

Reproduces the shape of the paper's Figures 1 and 2 on the synthetic data of
``reference_models``: certified accuracy of the audio-visual classifier, and
certified pixel accuracy, F-score and IoU of the road segmenter, against
budgets ``r = t * (1, c)`` for ``c = 1..4`` (the second modality -- audio,
depth -- attacked c times as much), MMCert and the baseline side by side.

Each model, sub-sampling scheme and input gets its votes once (N sub-samples,
clause V1); every budget is certified from those same counts.  The settings
(k, N, alpha, budgets, data) are the four ``reference_models/*.toml`` run
configs, so ``mmcert run`` on any of them reproduces the demo's numbers for
that curve.

Statistics (issue 14: the comparison is against the baseline at its strongest, not a weakened one).
Classification: MMCert uses its paper's Bonferroni bounds (``bonferroni``, clause CP.4: p_A and p_B at
alpha / C), the pooled baseline the randomized-ablation paper's own statistics (``complement``, clause
CP.6: one lower bound p_A, p_B = 1 - p_A; at alpha / 2 because A is chosen from the same votes, deviation
D18), which certify more than Bonferroni for the baseline.  Both are choosable (``DemoSettings``,
``mmcert demo --mmcert-bound / --baseline-bound``) and fixed before any vote is drawn (CP.5).
Segmentation: both sides per-pixel Bonferroni alpha* with Holm (SEG.1-SEG.3), the only method
``certify_segmentation_counts`` takes.  ``results.json`` (``statistics``, ``rows[].bound``), the CSV
``bound`` column, the plot legends and the printed table say which statistics each curve used.

Checks (reported in ``results.json`` and on stdout; exit status 1 if one fails):

* MMCert's value >= the baseline's at every budget, for every metric;
* every curve is non-increasing in t (certification is monotone in the
  budget, clause T1.5; Holm is monotone in the p-values).
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from mmcert_verified.bounds import BoundName, bound_rule
from mmcert_verified.errors import InputFileError, InvalidParameterError
from mmcert_verified.pipeline.runs import RunConfig, load_config
from mmcert_verified.threat_model import Method

#: file names the demo writes (all of them are checked before anything is written)
OUTPUTS = (
    "results.json",
    "av_certified_accuracy.csv",
    "road_certified_metrics.csv",
    "av_certified_accuracy.png",
    "road_certified_metrics.png",
)
CLASSIFICATION_METRICS = ("certified_accuracy",)
SEGMENTATION_METRICS = ("pixel_accuracy", "f_score", "iou")
LABELS = {
    "certified_accuracy": "certified accuracy",
    "pixel_accuracy": "certified pixel accuracy",
    "f_score": "certified F-score",
    "iou": "certified IoU",
}


def reference_config_dir() -> Path:
    """Where the committed run configs live (``reference_models/*.toml``)."""
    from .demo_configs import config_path

    return config_path("av_mmcert").parent


@dataclass(frozen=True)
class DemoSettings:
    """What the demo certifies; ``None`` keeps the value of the reference configs."""

    av_inputs: int | None = None
    road_inputs: int | None = None
    n_samples: int | None = None
    device: str | None = None
    config_dir: str | None = None
    #: classification bound methods (CP.5): MMCert's (its paper's CP.4) and the pooled baseline's (CP.6)
    mmcert_bound: str = BoundName.BONFERRONI.value
    baseline_bound: str = BoundName.COMPLEMENT.value

    def bound(self, task: str, method: Method) -> BoundName:
        """The bound method of one side; segmentation is Bonferroni on both sides (SEG.1)."""
        if task != "av":
            return BoundName.BONFERRONI
        return bound_rule(self.mmcert_bound if method is Method.MMCERT else self.baseline_bound).name


@dataclass(frozen=True)
class Curve:
    """One metric of one method along one budget direction (1, c): value per step t."""

    task: str
    method: Method
    metric: str
    c: int
    steps: tuple[int, ...]
    budgets: tuple[tuple[int, ...], ...]
    values: tuple[float, ...]
    #: the bound method the values were certified with (clauses CP.4-CP.7; SEG.1 for segmentation)
    bound: str = BoundName.BONFERRONI.value


@dataclass(frozen=True)
class TaskResult:
    task: str
    config: dict
    inputs: int
    seconds: float
    curves: tuple[Curve, ...]
    #: per side (method value): which statistics it used (:func:`statistics`)
    statistics: dict = field(default_factory=dict)


#: what each bound method is, in words (the printed table, results.json, README)
_BOUND_WORDS = {
    BoundName.BONFERRONI: "Clopper-Pearson p_A and p_B, each at alpha/C (MMCert paper Eq. 6-7)",
    BoundName.COMPLEMENT: "one Clopper-Pearson lower bound p_A at alpha/2, p_B = 1 - p_A (randomized-ablation paper; "
                          "alpha/2: A chosen from the same votes, D18)",
    BoundName.COMBINED: "p_A at alpha/2, p_B = min(1 - p_A, per-label upper bounds at alpha/(2(C-1)))",
}


def statistics(task: str, method: Method, bound: BoundName) -> dict:
    """One side's statistics: the bound method, its clause and a description (recorded in results.json)."""
    if task != "av":
        return {"bound": BoundName.BONFERRONI.value, "clause": "SEG.1-SEG.3",
                "description": "per-pixel alpha* from Clopper-Pearson at level/C, Holm step-down over the pixels "
                               "(two classes: every bound method gives the same alpha*, SEG.1)"}
    rule = bound_rule(bound)
    return {"bound": rule.name.value, "clause": rule.clause, "description": _BOUND_WORDS[rule.name]}


@dataclass(frozen=True)
class DemoResult:
    tasks: tuple[TaskResult, ...]
    seconds: float
    checks: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c["passed"] for c in self.checks.values())


def _override(config: RunConfig, settings: DemoSettings, count: int | None) -> RunConfig:
    changes: dict = {}
    if count is not None:
        changes["data"] = type(config.data)(config.data.spec, {**config.data.kwargs, "count": count}, config.data.base_dir)
    if settings.n_samples is not None:
        changes["n_samples"] = settings.n_samples
    if settings.device is not None:
        changes["device"] = settings.device
    return config.with_overrides(**changes) if changes else config


def _direction(budget_r: Sequence[int]) -> tuple[int, int] | None:
    """(c, t) for r = t * (1, c); None for r = 0 (on every direction)."""
    r1, r2 = int(budget_r[0]), int(budget_r[1])
    if r1 == 0 and r2 == 0:
        return None
    if r1 <= 0 or r2 % r1:
        raise InvalidParameterError(f"demo budgets must be t * (1, c); got {list(budget_r)}")
    return r2 // r1, r1


def _curves(task: str, method: Method, metric: str, budgets, values: Sequence[float],
            bound: str = BoundName.BONFERRONI.value) -> list[Curve]:
    origin = None
    by_c: dict[int, list[tuple[int, tuple[int, ...], float]]] = {}
    for b, v in zip(budgets, values):
        d = _direction(b.r)
        if d is None:
            origin = (tuple(b.r), float(v))
            continue
        by_c.setdefault(d[0], []).append((d[1], tuple(b.r), float(v)))
    out = []
    for c in sorted(by_c):
        pts = sorted(by_c[c])
        if origin is not None:
            pts = [(0, origin[0], origin[1])] + pts
        out.append(Curve(task, method, metric, c, tuple(p[0] for p in pts), tuple(p[1] for p in pts),
                         tuple(p[2] for p in pts), bound))
    return out


def _votes(config: RunConfig, progress: bool, label: str) -> tuple[np.ndarray, list, object]:
    import torch

    from mmcert_verified.pipeline.certifier import Certifier

    dataset = config.data.build()
    model = config.model.build()
    cert = Certifier(model, config.plan, config.task, config.classes, n_samples=config.n_samples,
                     batch_size=config.batch_size, seed=config.seed, device=config.device)
    indices = range(len(dataset))
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc=label, unit="input", leave=False)
    counts, labels = [], []
    for i in indices:
        inputs, y = dataset[i]
        counts.append(cert.votes(tuple(torch.as_tensor(x) for x in inputs), i))
        labels.append(y)
    return np.stack(counts), labels, dataset


def certify_classification_task(config: RunConfig, progress: bool = False,
                                bound="bonferroni") -> tuple[list[Curve], int]:
    """Certified accuracy (paper Eq. 15) per budget from one set of votes per input; (curves, inputs).

    ``bound`` is the bound method (CP.4-CP.7), fixed before the votes are drawn (CP.5).
    """
    from mmcert_verified.pipeline.certifier import certify_classification_counts

    name = bound_rule(bound).name.value
    counts, labels, _ = _votes(config, progress, f"av {config.plan.method.value}")
    hits = np.zeros(len(config.budgets))
    for i, (c, y) in enumerate(zip(counts, labels)):
        cert = certify_classification_counts(c, config.alpha, config.plan, config.budgets, index=i, label=int(y),
                                             bound=name)
        hits += np.array(cert.certified_correct(), dtype=float)
    curves = _curves("av", config.plan.method, "certified_accuracy", config.budgets, hits / len(counts), name)
    return curves, len(counts)


def certify_segmentation_task(
    config: RunConfig, progress: bool = False, engine: Callable | None = None
) -> tuple[list[Curve], int]:
    """Mean certified pixel accuracy, F-score and IoU per budget (paper Sec. 5.1); (curves, inputs).

    All images go to the engine in one call per budget, so it can share work across them.
    """
    import torch

    from mmcert_verified.pipeline.certifier import certify_segmentation_counts

    counts, labels, _ = _votes(config, progress, f"road {config.plan.method.value}")
    lab = np.stack([np.asarray(torch.as_tensor(y)) for y in labels]).astype(np.int64)
    per_image = certify_segmentation_counts(counts, config.alpha, config.plan, config.budgets, labels=lab, engine=engine)
    curves = []
    for metric in SEGMENTATION_METRICS:
        values = np.mean([[getattr(v, metric) for v in img] for img in per_image], axis=0)
        curves += _curves("road", config.plan.method, metric, config.budgets, values)
    return curves, len(counts)


def check(tasks: Sequence[TaskResult]) -> dict:
    """The demo's acceptance checks: MMCert >= baseline everywhere, every curve non-increasing."""
    curves = [c for t in tasks for c in t.curves]
    worse, rising = [], []
    index = {(c.task, c.method, c.metric, c.c): c for c in curves}
    for (task, method, metric, c), cur in index.items():
        if any(b > a for a, b in zip(cur.values, cur.values[1:])):
            rising.append(f"{task} {method.value} {metric} c={c}: {list(cur.values)}")
        if method is Method.MMCERT:
            base = index.get((task, Method.ABLATION, metric, c))
            if base is None:
                continue
            for t, r, m, b in zip(cur.steps, cur.budgets, cur.values, base.values):
                line = f"{task} {metric} r={list(r)}: MMCert {m:.4f} < baseline {b:.4f}"
                if m < b and line not in worse:  # r = 0 lies on every direction: report it once
                    worse.append(line)
    return {
        "mmcert_at_least_baseline": {"passed": not worse, "failures": worse},
        "non_increasing": {"passed": not rising, "failures": rising},
    }


def _check_outputs(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(f"{out_dir} exists and is not a directory")
    if force:
        return
    clash = [name for name in OUTPUTS if (out_dir / name).exists()]
    if clash:
        raise InputFileError(
            f"{out_dir} already holds {', '.join(clash)}; use --force to replace them or --out for a fresh directory"
        )


def run_demo(
    out_dir: str | Path = "mmcert-demo",
    *,
    force: bool = False,
    settings: DemoSettings = DemoSettings(),
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Certify both reference models with MMCert and the baseline; write plots, JSON and CSV to ``out_dir``."""
    out_dir = Path(out_dir)
    _check_outputs(out_dir, force)
    base = Path(settings.config_dir) if settings.config_dir else reference_config_dir()
    for method in Method:  # an unknown bound method fails before any vote is drawn
        settings.bound("av", method)
    start = time.perf_counter()
    tasks = []
    plan = (
        ("av", ("av_mmcert.toml", "av_ablation.toml"), settings.av_inputs, certify_classification_task),
        ("road", ("road_mmcert.toml", "road_ablation.toml"), settings.road_inputs, certify_segmentation_task),
    )
    for task, names, count, fn in plan:
        curves: list[Curve] = []
        configs = {}
        stats = {}
        inputs = 0
        t0 = time.perf_counter()
        for name in names:
            config = _override(load_config(base / name), settings, count)
            method = config.plan.method
            configs[method.value] = config.canonical()
            stats[method.value] = statistics(task, method, settings.bound(task, method))
            if task == "av":
                new, inputs = fn(config, progress, bound=settings.bound(task, method).value)
            else:
                new, inputs = fn(config, progress)
            curves += new
            if log:
                log(f"{task} {method.value} ({stats[method.value]['bound']}): done after "
                    f"{time.perf_counter() - t0:.0f} s")
        tasks.append(TaskResult(task, configs, inputs, time.perf_counter() - t0, tuple(curves), stats))
    result = DemoResult(tuple(tasks), time.perf_counter() - start, check(tasks))
    write_outputs(result, out_dir)
    return result


# --------------------------------------------------------------------------- outputs

def _rows(task: TaskResult, metrics: Sequence[str]) -> list[dict]:
    table: dict[tuple, dict] = {}
    for cur in task.curves:
        for t, r, v in zip(cur.steps, cur.budgets, cur.values):
            key = (cur.method.value, cur.c, t)
            row = table.setdefault(key, {"method": cur.method.value, "c": cur.c, "t": t, "r1": r[0], "r2": r[1]})
            row[cur.metric] = v
            row["bound"] = cur.bound
    return [table[k] for k in sorted(table)]


def write_outputs(result: DemoResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "seconds": round(result.seconds, 1),
        "checks": result.checks,
        "tasks": {
            t.task: {
                "inputs": t.inputs,
                "seconds": round(t.seconds, 1),
                "configs": t.config,
                "statistics": t.statistics,
                "rows": _rows(t, CLASSIFICATION_METRICS if t.task == "av" else SEGMENTATION_METRICS),
            }
            for t in result.tasks
        },
    }
    (out_dir / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    for t in result.tasks:
        metrics = CLASSIFICATION_METRICS if t.task == "av" else SEGMENTATION_METRICS
        name = "av_certified_accuracy.csv" if t.task == "av" else "road_certified_metrics.csv"
        with (out_dir / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["method", "c", "t", "r1", "r2", *metrics, "bound"])
            w.writeheader()
            for row in _rows(t, metrics):
                w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
        plot(t, metrics, out_dir / ("av_certified_accuracy.png" if t.task == "av" else "road_certified_metrics.png"))


def plot(task: TaskResult, metrics: Sequence[str], path: Path) -> None:
    """One row per metric, one column per c; MMCert and the baseline in every panel."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    cs = sorted({c.c for c in task.curves})
    fig = Figure(figsize=(3.2 * len(cs), 2.6 * len(metrics) + 0.4), layout="constrained")
    axes = fig.subplots(len(metrics), len(cs), squeeze=False, sharey=True)
    style = {Method.MMCERT: dict(color="tab:red", marker="o"), Method.ABLATION: dict(color="tab:blue", marker="s")}
    names_of = {Method.MMCERT: "MMCert", Method.ABLATION: "randomized ablation"}
    names = ("image frames", "audio samples") if task.task == "av" else ("RGB pixels", "depth pixels")
    for i, metric in enumerate(metrics):
        for j, c in enumerate(cs):
            ax = axes[i][j]
            for cur in task.curves:
                if cur.metric == metric and cur.c == c:
                    ax.plot(cur.steps, cur.values, markersize=3, label=f"{names_of[cur.method]} ({legend(cur)})",
                            **style[cur.method])
            ax.set_ylim(-0.02, 1.02)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(f"$r_2 = {c} r_1$" if c > 1 else "$r_2 = r_1$")
            if i == len(metrics) - 1:
                ax.set_xlabel(f"$r_1$ ({names[0]}; $r_2$: {names[1]})")
            if j == 0:
                ax.set_ylabel(LABELS[metric])
    axes[0][0].legend(loc="lower left", fontsize=8)
    title = "audio-visual classifier (synthetic RAVDESS stand-in)" if task.task == "av" else \
        "RGB + depth road segmentation (synthetic KITTI stand-in)"
    fig.suptitle(f"MMCert vs randomized ablation: {title}", fontsize=10)
    fig.savefig(path, dpi=110)


def legend(curve: Curve) -> str:
    """The statistics of a curve in a few words: ``bonferroni, CP.4`` (segmentation: ``bonferroni + Holm``)."""
    if curve.task != "av":
        return f"{curve.bound} + Holm"
    return f"{curve.bound}, {bound_rule(curve.bound).clause}"


def format_table(result: DemoResult) -> str:
    """The headline numbers as text: per task, metric and c, MMCert / baseline along t."""
    lines = []
    for t in result.tasks:
        metrics = CLASSIFICATION_METRICS if t.task == "av" else SEGMENTATION_METRICS
        lines.append(f"{t.task}: {t.inputs} inputs, {t.seconds:.0f} s")
        for method, st in t.statistics.items():
            side = "MMCert" if method == Method.MMCERT.value else "baseline"
            lines.append(f"  statistics {side}: {st['bound']} [{st['clause']}] {st['description']}")
        for metric in metrics:
            for cur in t.curves:
                if cur.metric == metric and cur.method is Method.MMCERT:
                    base = next(b for b in t.curves if b.metric == metric and b.c == cur.c and b.method is Method.ABLATION)
                    pairs = " ".join(f"{m:.2f}/{b:.2f}" for m, b in zip(cur.values, base.values))
                    lines.append(f"  {metric:<18} c={cur.c} t={cur.steps[0]}..{cur.steps[-1]} (MMCert/baseline): {pairs}")
    for name, chk in result.checks.items():
        lines.append(f"check {name}: {'passed' if chk['passed'] else 'FAILED'}")
        lines += [f"  {f}" for f in chk["failures"][:10]]
    return "\n".join(lines)
