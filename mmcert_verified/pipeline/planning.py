"""The budget planner (spec clause PLAN.1): predicted certified accuracy for each (k, N, bound method).

A plan answers "which k and N should I certify with?" before the compute is spent.  Its input is a
small *calibration* run: for each candidate k, N0 votes of the base model on each of a few inputs
(:class:`Calibration`).  For each input the calibration votes give estimated label probabilities
p_hat = counts / N0, and the planner predicts what a certification at N votes would give:

* ``plugin``: the certificate of the expected counts, N p_hat apportioned to integers summing to N
  (:func:`plugin_counts`), one deterministic vote vector per input;
* ``multinomial`` (the default): the mean certificate over ``draws`` vote vectors per input drawn
  from Multinomial(N, p_hat) (seeded): the plug-in estimate of the expected certificate, which also
  sees the spread of the votes at N (the plugin's single vector sits exactly at N p_hat).

Neither sees the calibration's own uncertainty about p: a model that voted 50 of 50 for one label is
predicted to do so at every N, so at N >> N0 the curve's last steps can be optimistic (measured in
``docs/planning.md``).

Every predicted vote vector is certified by the package's engines (:func:`~mmcert_verified.fast.classify.
radius_batch`, equal to the reference's radius, clauses R1 and F.1): the planner re-implements none of
Theorem 1.  **A plan is an estimate, not a certificate**, and the calibration votes must never be used
to certify: they only choose k, N and the bound method, and a certificate needs fresh votes from a
stream independent of them (:func:`calibrate` refuses the config's own seed).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import InputFileError, InvalidParameterError, MMCertError
from ..threat_model import Attack, Method, Setting, budget_ratio, max_radius_multiplier, parse_attacks

#: the ``format`` member of a calibration file and of a plan file
CALIBRATION_FORMAT = "mmcert-calibration/1"
PLAN_FORMAT = "mmcert-plan/1"
#: said wherever a plan is shown (clause PLAN.1)
NOTE = ("an estimate, not a certificate: certify with fresh votes (e.g. mmcert run), "
        "never with the calibration votes")


class Predictor(str, enum.Enum):
    """How a calibration vote vector becomes predicted votes at N (clause PLAN.1)."""

    PLUGIN = "plugin"
    MULTINOMIAL = "multinomial"

    @property
    def sampled(self) -> bool:
        """Whether the predictor draws vote vectors (``draws`` per input, seeded)."""
        return self is not Predictor.PLUGIN


# --------------------------------------------------------------------------- calibration votes

@dataclass(frozen=True)
class CalibrationRun:
    """The calibration votes at one k: one vote vector (C labels, N0 votes) and true label per input."""

    k: tuple[int, ...]
    counts: tuple[tuple[int, ...], ...]
    labels: tuple[int, ...]

    @property
    def samples(self) -> int:
        """N0, the votes per input (the same for every input)."""
        return sum(self.counts[0])


@dataclass(frozen=True)
class Calibration:
    """Calibration votes of one model and data set at several k (clause PLAN.1); validated on creation."""

    n: tuple[int, ...]
    method: Method
    classes: int
    runs: tuple[CalibrationRun, ...]
    #: where the votes came from (config, seed, ...): recorded, never interpreted
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", Method(self.method))
        if isinstance(self.classes, bool) or not isinstance(self.classes, int) or self.classes < 1:
            raise InvalidParameterError(f"classes must be a positive integer, got {self.classes!r}")
        if not self.runs:
            raise InvalidParameterError("the calibration holds no runs (no k)")
        seen = set()
        for run in self.runs:
            setting = Setting(tuple(self.n), tuple(run.k), self.method)  # validates k against n
            if setting.k in seen:
                raise InvalidParameterError(f"k = {list(setting.k)} appears twice in the calibration")
            seen.add(setting.k)
            where = f"calibration at k = {list(run.k)}"
            if not run.counts:
                raise InvalidParameterError(f"{where}: no inputs")
            if len(run.labels) != len(run.counts):
                raise InvalidParameterError(f"{where}: {len(run.counts)} vote vectors but {len(run.labels)} labels")
            totals = set()
            for i, (row, y) in enumerate(zip(run.counts, run.labels)):
                if len(row) != self.classes or not all(_is_int(c) and c >= 0 for c in row):
                    raise InvalidParameterError(f"{where}, input {i}: need {self.classes} non-negative integer "
                                                f"counts, got {list(row)[:12]}")
                if not _is_int(y) or not 0 <= y < self.classes:
                    raise InvalidParameterError(f"{where}, input {i}: label {y!r} outside [0, {self.classes - 1}]")
                totals.add(sum(row))
            if len(totals) != 1 or min(totals) < 1:
                raise InvalidParameterError(f"{where}: every input needs the same positive number of votes, "
                                            f"got totals {sorted(totals)[:6]}")

    def run(self, k: Sequence[int]) -> CalibrationRun:
        for r in self.runs:
            if tuple(r.k) == tuple(k):
                return r
        raise InvalidParameterError(f"no calibration votes at k = {list(k)}")

    def to_json(self) -> dict:
        return {
            "format": CALIBRATION_FORMAT,
            "n": list(self.n),
            "method": self.method.value,
            "classes": self.classes,
            "source": self.source,
            "runs": [{"k": list(r.k), "samples": r.samples, "labels": list(r.labels),
                      "counts": [list(c) for c in r.counts]} for r in self.runs],
        }

    @classmethod
    def from_json(cls, doc, where: str = "calibration") -> "Calibration":
        """A calibration document (or a plan file, which carries its calibration); one clear error."""
        try:
            if isinstance(doc, dict) and doc.get("format") == PLAN_FORMAT:
                doc = doc["calibration"]
            if not isinstance(doc, dict) or doc.get("format") != CALIBRATION_FORMAT:
                raise InputFileError(f"{where} is not a calibration file (format {CALIBRATION_FORMAT!r} or a "
                                     f"{PLAN_FORMAT!r} plan)")
            runs = tuple(
                CalibrationRun(_ints(r["k"], "k"), tuple(_ints(c, "counts") for c in r["counts"]),
                               _ints(r["labels"], "labels"))
                for r in doc["runs"]
            )
            cal = cls(_ints(doc["n"], "n"), Method(doc["method"]), doc["classes"], runs, dict(doc.get("source", {})))
            for r, raw in zip(cal.runs, doc["runs"]):
                if "samples" in raw and raw["samples"] != r.samples:
                    raise InvalidParameterError(f"k = {list(r.k)}: 'samples' is {raw['samples']!r} but the "
                                                f"counts sum to {r.samples}")
            return cal
        except MMCertError as exc:
            raise InputFileError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputFileError(f"{where}: malformed calibration ({type(exc).__name__}: {exc})"[:300]) from None


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _ints(values, what: str) -> tuple[int, ...]:
    if not isinstance(values, list) or not all(_is_int(x) for x in values):
        raise InvalidParameterError(f"'{what}' must be a list of integers")
    return tuple(values)


def read_calibration(path: str | Path) -> Calibration:
    """Read a calibration file (or a plan file written by ``mmcert plan --out``)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputFileError(f"calibration file {path} not found") from None
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read calibration file {path}: {str(exc)[:200]}") from None
    return Calibration.from_json(doc, str(path))


# --------------------------------------------------------------------------- predicted votes

def plugin_counts(counts: Sequence[int], N: int) -> tuple[int, ...]:
    """Clause PLAN.1 (plugin): N p_hat, p_hat = counts / N0, rounded to integers that sum to N.

    Largest-remainder rounding: floor(N c_l / N0) for every label, then the N - sum left over go one
    each to the labels with the largest fractional parts (the lower label first on ties).  Exact
    integer arithmetic.  When N is a multiple of N0 this is exactly (N / N0) * counts.
    """
    counts = [int(c) for c in counts]
    n0 = sum(counts)
    if n0 < 1 or N < 1:
        raise InvalidParameterError("plugin counts need N >= 1 and at least one calibration vote")
    base = [N * c // n0 for c in counts]
    rest = [N * c % n0 for c in counts]
    order = sorted(range(len(counts)), key=lambda i: (-rest[i], i))
    for i in order[: N - sum(base)]:
        base[i] += 1
    return tuple(base)


def multinomial_counts(counts: Sequence[int], N: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Clause PLAN.1 (multinomial): ``draws`` vote vectors, shape (draws, C), from Multinomial(N, p_hat)."""
    c = np.asarray(counts, dtype=np.float64)
    return rng.multinomial(N, c / c.sum(), size=draws)


# --------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class PlanSettings:
    """What a plan predicts for: the grids, the threat direction and how votes are predicted."""

    alpha: str
    attack: tuple[Attack, ...]
    ratio: tuple[int, ...]
    N: tuple[int, ...]
    bounds: tuple[str, ...] = ("bonferroni",)
    predictor: Predictor = Predictor.MULTINOMIAL
    #: vote vectors per input (multinomial)
    draws: int = 200
    #: seed of the draws: input i at N of the j-th k draws from numpy SeedSequence(seed, spawn_key=(j, i, N))
    seed: int = 0

    def to_json(self) -> dict:
        return {"alpha": str(self.alpha), "attack": [a.value for a in self.attack], "ratio": list(self.ratio),
                "N": list(self.N), "bounds": list(self.bounds), "predictor": self.predictor.value,
                "draws": self.draws if self.predictor.sampled else None,
                "seed": self.seed if self.predictor.sampled else None}


@dataclass(frozen=True)
class PlanRow:
    """The prediction at one (k, N, bound method) (clause PLAN.1).

    ``certified_accuracy[t]``: the predicted fraction of calibration inputs whose label is certified
    and correct against r = t * ratio (0 beyond the end).  ``median_radius``: the lower median, over
    the inputs (and draws), of the certified radius of a correct prediction, where a wrong or
    uncertified prediction counts as below every radius (None when that is the median).
    ``mean_radius``: the mean radius over the predictions that are certified and correct at t = 0
    (None when there are none).  ``accuracy``: the predicted fraction of correct ensemble labels.
    """

    k: tuple[int, ...]
    N: int
    bound: str
    certified_accuracy: tuple[float, ...]
    median_radius: int | None
    mean_radius: float | None
    accuracy: float

    def to_json(self) -> dict:
        return {"k": list(self.k), "N": self.N, "bound": self.bound,
                "certified_accuracy": [round(v, 6) for v in self.certified_accuracy],
                "median_radius": self.median_radius,
                "mean_radius": None if self.mean_radius is None else round(self.mean_radius, 6),
                "accuracy": round(self.accuracy, 6)}


@dataclass(frozen=True)
class Plan:
    """A plan: its settings, the calibration it was computed from, and one row per (k, N, bound)."""

    calibration: Calibration
    settings: PlanSettings
    rows: tuple[PlanRow, ...]

    def to_json(self) -> dict:
        return {"format": PLAN_FORMAT, "note": NOTE, "settings": self.settings.to_json(),
                "n": list(self.calibration.n), "method": self.calibration.method.value,
                "rows": [r.to_json() for r in self.rows], "calibration": self.calibration.to_json()}


def certified_correct_radii(counts, labels, alpha, n, k, ratio, attack, method, bound) -> np.ndarray:
    """Per vote vector: its radius along ``ratio`` (clause R1, the fast engine = the reference's) when its
    ensemble label equals the true label, else -1; -1 also when not certified at t = 0."""
    from ..fast.classify import radius_batch

    res = radius_batch(np.asarray(counts, dtype=np.int64), alpha, n, k, ratio, attack, method, bound=bound)
    radius = res.radius.cpu().numpy()
    correct = res.label.cpu().numpy() == np.asarray(labels)
    return np.where(correct, radius, -1)


def _summary(radii: np.ndarray, correct: np.ndarray, steps: int) -> tuple[tuple[float, ...], int | None,
                                                                          float | None, float]:
    total = radii.size
    acc = tuple(float(np.count_nonzero(radii >= t)) / total for t in range(steps))
    median = int(np.sort(radii)[(total - 1) // 2])
    good = radii[radii >= 0]
    mean = float(good.mean()) if good.size else None
    return acc, (median if median >= 0 else None), mean, float(np.count_nonzero(correct)) / total


def make_plan(calibration: Calibration, settings: PlanSettings, ks: Sequence[Sequence[int]] | None = None,
              log: Callable[[str], None] | None = None) -> Plan:
    """Clause PLAN.1: the predicted certificate of every (k, N, bound) of the grids; an estimate only.

    ``ks`` (default: every k of the calibration) picks the calibration runs.  Each predicted vote
    vector is certified exactly as a real one would be (``radius_batch``, equal to the reference's
    ``radius``); the certified accuracy curve runs from t = 0 to one past the largest predicted radius
    of any row, so every row shares the t axis.
    """
    from ..bounds.rules import bound_rule
    from ..reference.certify import alpha_fraction

    alpha_fraction(settings.alpha)
    bounds = tuple(bound_rule(b).name.value for b in settings.bounds)
    if not bounds or not settings.N:
        raise InvalidParameterError("a plan needs at least one N and one bound method")
    if any(isinstance(N, bool) or not isinstance(N, int) or N < 1 for N in settings.N):
        raise InvalidParameterError(f"every N must be a positive integer, got {list(settings.N)}")
    if settings.predictor.sampled and (settings.draws < 1 or settings.seed < 0):
        raise InvalidParameterError("the multinomial predictor needs draws >= 1 and a non-negative seed")
    n, method = calibration.n, calibration.method
    attack = parse_attacks(settings.attack, len(n))
    ratio = budget_ratio(settings.ratio, len(n))
    runs = calibration.runs if ks is None else tuple(calibration.run(tuple(k)) for k in ks)
    results = []  # (k, N, bound, radii, correct)
    for ki, run in enumerate(runs):
        max_radius_multiplier(Setting(n, run.k, method), ratio, attack)  # validates the direction
        for N in settings.N:
            if settings.predictor is Predictor.PLUGIN:
                counts = np.array([plugin_counts(c, N) for c in run.counts], dtype=np.int64)
                labels = np.asarray(run.labels)
            else:
                rows = []
                for i, c in enumerate(run.counts):
                    rng = np.random.default_rng(np.random.SeedSequence(settings.seed, spawn_key=(ki, i, N)))
                    rows.append(multinomial_counts(c, N, settings.draws, rng))
                counts = np.concatenate(rows)
                labels = np.repeat(np.asarray(run.labels), settings.draws)
            correct = np.argmax(counts, axis=1) == labels
            for bound in bounds:
                radii = certified_correct_radii(counts, labels, settings.alpha, n, run.k, ratio, attack, method,
                                                bound)
                results.append((run.k, N, bound, radii, correct))
                if log:
                    log(f"k = {list(run.k)}, N = {N}, {bound}: done")
    steps = 1 + max(int(r[3].max()) + 1 for r in results)
    rows = tuple(PlanRow(k, N, bound, *_summary(radii, correct, steps)) for k, N, bound, radii, correct in results)
    return Plan(calibration, PlanSettings(settings.alpha, attack, ratio, tuple(settings.N), bounds,
                                          settings.predictor, settings.draws, settings.seed), rows)


# --------------------------------------------------------------------------- calibration from a model

def calibrate(config, ks: Sequence[Sequence[int]], samples: int, inputs: int, seed: int,
              progress: Callable[[str], None] | None = None) -> Calibration:
    """Clause PLAN.1: N0 = ``samples`` votes of the config's model on its first ``inputs`` inputs at each k.

    The votes of input i at k come from the stream ``input_seed(seed, i)`` (clause SAMP.3) with the
    config's modalities, method, device and batch size.  ``seed`` must differ from the config's own
    seed, so that the calibration votes are independent of the votes ``mmcert run`` certifies with
    (they choose N and k; reusing them to certify would make N a function of the certified votes).
    Classification configs only.
    """
    import torch

    from .certifier import Certifier, Task
    from .runs import prepare
    from ..sampling.plan import SamplingPlan

    if config.task is not Task.CLASSIFICATION:
        raise InvalidParameterError(f"mmcert plan supports classification configs only; this config's task is "
                                    f"{config.task.value}")
    if samples < 1 or inputs < 1:
        raise InvalidParameterError("calibration needs at least one input and one sample per input")
    if seed < 0:
        raise InvalidParameterError(f"the calibration seed must be non-negative, got {seed}")
    if seed == config.seed:
        raise InvalidParameterError(f"the calibration seed equals the config's seed ({seed}): calibration votes "
                                    "must be independent of the votes that will be certified; pick another seed")
    plans = [SamplingPlan(config.plan.modalities, tuple(k), config.plan.method) for k in ks]  # validates every k
    prepared = prepare(config)  # RUN.7: device, data, model and one trial batch checked first
    if inputs > prepared.total:
        raise InvalidParameterError(f"--calibration-inputs {inputs} exceeds the data set's {prepared.total} inputs")
    items = []
    for i in range(inputs):
        x, y = prepared.dataset[i]
        lab = int(np.asarray(torch.as_tensor(y).cpu()))
        items.append((tuple(torch.as_tensor(v) for v in x), lab))
    runs = []
    for plan in plans:
        cert = Certifier(prepared.model, plan, config.task, config.classes, n_samples=samples,
                         batch_size=config.batch_size, seed=seed, device=prepared.runtime.device,
                         **config.certifier_options())
        counts = tuple(tuple(int(c) for c in cert.votes(x, i)) for i, (x, _) in enumerate(items))
        runs.append(CalibrationRun(plan.k, counts, tuple(y for _, y in items)))
        if progress:
            progress(f"calibration at k = {list(plan.k)}: {inputs} inputs x {samples} votes")
    source = {"config": config.canonical(), "seed": seed, "inputs": list(range(inputs))}
    return Calibration(config.plan.n, config.plan.method, config.classes, tuple(runs), source)


__all__ = [
    "CALIBRATION_FORMAT", "Calibration", "CalibrationRun", "NOTE", "PLAN_FORMAT", "Plan", "PlanRow",
    "PlanSettings", "Predictor", "calibrate", "certified_correct_radii", "make_plan", "plugin_counts",
    "multinomial_counts", "read_calibration",
]
