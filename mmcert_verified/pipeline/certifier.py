"""Certify a multi-modal model end to end: sub-sample, vote, count, certify (clauses S1-S4, V1, T1, SEG).

:class:`Certifier` wraps any ``nn.Module`` called as ``model(*modalities)``,
one encoded tensor per modality with a leading batch dimension (see
:mod:`mmcert_verified.sampling`), returning scores ``(B, C)`` for
classification or ``(B, C, *spatial)`` for segmentation.  For one input it

1. draws N sub-samples from the input's own generator (clause SAMP.3:
   ``input_seed(seed, index)``), ``batch_size`` at a time, on the model's
   device (clauses S1 / S4, SAMP.1, SAMP.2);
2. adds each batch's argmax labels to running counts and drops the batch
   (clause V1): memory holds counts ``(C,)`` or ``(C, *spatial)``, never the
   N predictions;
3. certifies the counts against every budget with a certification engine
   (by default the exact reference engine; any callable with its signature,
   e.g. the fast engine, can be passed).

Guarantee (classification, per budget): with probability at least 1 - alpha
over the N sub-samples, a budget reported certified leaves the ensemble's
label unchanged under every attack within it (Theorem 1, clause T1).
Segmentation: with probability at least 1 - alpha, no pixel reported
certified changes label (Holm, clause SEG.3).  The ``n`` and ``k`` handed to
the engine are the plan's, i.e. the ones the votes were sampled with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..bounds import BoundName, bound_rule
from ..bounds.sequential import Schedule, SequentialResult, certify_sequential
from ..errors import InvalidParameterError
from ..sampling.counting import VoteCounter
from ..sampling.plan import SamplingPlan
from ..sampling.seeds import input_generator
from ..threat_model import Attack, Budget

#: classification engine: (counts, alpha, n, k, r, attack, method) -> object with .certified and .label
ClassificationEngine = Callable[..., Any]
#: segmentation engine: segment(counts, alpha, n, k, r, attack=, method=, labels=) -> result with .to_json()
SegmentationEngine = Callable[..., Any]


class Task(str, enum.Enum):
    """What the model outputs: one label per input, or one label per element of the segmented modality."""

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"


def reference_classification_engine() -> ClassificationEngine:
    from ..reference.certify import certify

    return certify


def default_segmentation_engine() -> SegmentationEngine:
    """The fast engine when it is installed (it defers to the reference near thresholds), else the reference."""
    try:
        from ..fast.segmentation import segment  # type: ignore[import-not-found]
    except ImportError:
        from ..reference.segmentation import segment
    return segment


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class BudgetVerdict:
    """Classification: is the ensemble's label certified against budget ``r`` (clause T1)?"""

    r: tuple[int, ...]
    attack: tuple[Attack, ...]
    certified: bool

    def to_json(self) -> dict:
        return {"r": list(self.r), "attack": [a.value for a in self.attack], "certified": self.certified}


class LabelledVerdicts:
    """What every classification verdict list answers from its ``label``, ``prediction`` and ``verdicts``."""

    @property
    def correct(self) -> bool | None:
        return None if self.label is None else self.prediction == self.label

    def certified_correct(self) -> tuple[bool, ...]:
        """Per budget: certified and equal to the true label (the paper's Eq. 15 indicator)."""
        return tuple(v.certified and bool(self.correct) for v in self.verdicts)

    def json_head(self) -> dict:
        return {"index": self.index, "label": self.label, "prediction": self.prediction, "counts": list(self.counts)}


@dataclass(frozen=True)
class ClassificationVerdicts(LabelledVerdicts):
    """One input's votes and its verdict at every budget."""

    index: int
    counts: tuple[int, ...]
    prediction: int
    label: int | None
    verdicts: tuple[BudgetVerdict, ...]

    def to_json(self) -> dict:
        return {**self.json_head(), "budgets": [v.to_json() for v in self.verdicts]}


@dataclass(frozen=True)
class SegmentationVerdict:
    """Segmentation at one budget: how many pixels are certified and the certified metrics (SEG.4-6)."""

    r: tuple[int, ...]
    attack: tuple[Attack, ...]
    certified_pixels: int
    abstained_pixels: int
    pixel_accuracy: float | None
    f_score: float | None
    iou: float | None

    @classmethod
    def from_engine(cls, budget: Budget, doc: dict) -> "SegmentationVerdict":
        return cls(
            budget.r, budget.attack, int(doc["certified_pixels"]), int(doc["abstained_pixels"]),
            doc.get("pixel_accuracy"), doc.get("f_score"), doc.get("iou"),
        )

    def to_json(self) -> dict:
        return {
            "r": list(self.r),
            "attack": [a.value for a in self.attack],
            "certified_pixels": self.certified_pixels,
            "abstained_pixels": self.abstained_pixels,
            "pixel_accuracy": self.pixel_accuracy,
            "f_score": self.f_score,
            "iou": self.iou,
        }


@dataclass(frozen=True)
class SegmentationVerdicts:
    """One image's vote summary and its certified metrics at every budget."""

    index: int
    pixels: int
    verdicts: tuple[SegmentationVerdict, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "pixels": self.pixels, "budgets": [v.to_json() for v in self.verdicts]}


@dataclass(frozen=True)
class AdaptiveVerdicts(LabelledVerdicts):
    """One input certified by adaptive sampling (clauses CS.1, CS.2): where it stopped and every verdict.

    ``result`` is the sequential run (stopping round, cumulative counts, that round's bounds, the
    schedule); ``samples`` = N at the stopping round = the forward passes the model made for this input.
    """

    index: int
    label: int | None
    alpha: Fraction
    bound: BoundName
    result: SequentialResult
    verdicts: tuple[BudgetVerdict, ...]

    @property
    def samples(self) -> int:
        return self.result.samples

    @property
    def schedule(self) -> Schedule:
        return self.result.schedule

    @property
    def round(self) -> int:
        return self.result.round

    @property
    def counts(self) -> tuple[int, ...]:
        return self.result.counts

    @property
    def prediction(self) -> int:
        return int(self.result.bounds.label)

    @property
    def level(self) -> Fraction:
        """alpha_j of the stopping round (CS.1): the family level its bounds were taken at."""
        return self.schedule.level(self.alpha, self.round)

    def to_json(self) -> dict:
        return {
            **self.json_head(),
            "samples": self.samples,
            "round": self.round,
            "schedule": list(self.schedule.sizes),
            "bound": self.bound.value,
            "alpha": str(self.alpha),
            "budgets": [v.to_json() for v in self.verdicts],
        }


# --------------------------------------------------------------------------- certification of counts

def certify_classification_counts(
    counts: Sequence[int],
    alpha,
    plan: SamplingPlan,
    budgets: Sequence[Budget],
    *,
    index: int = 0,
    label: int | None = None,
    engine: ClassificationEngine | None = None,
    bound="bonferroni",
) -> ClassificationVerdicts:
    """Certify one input's class counts against every budget (clause T1), from the same counts.

    ``bound`` is the bound method (clauses CP.4-CP.7, fixed before the votes are seen: CP.5); a method
    other than ``bonferroni`` is passed to the engine as ``bound=``.
    """
    engine = engine or reference_classification_engine()
    extra = {} if bound_rule(bound).name is BoundName.BONFERRONI else {"bound": bound_rule(bound).name.value}
    setting = plan.setting
    verdicts = []
    prediction = None
    for budget in budgets:
        res = engine(list(counts), alpha, setting.n, setting.k, budget.r, budget.attack, setting.method, **extra)
        prediction = int(res.label)
        verdicts.append(BudgetVerdict(budget.r, budget.attack, bool(res.certified)))
    if prediction is None:
        prediction = int(np.argmax(np.asarray(counts)))  # no budget: the ensemble's label (V1)
    return ClassificationVerdicts(int(index), tuple(int(c) for c in counts), prediction, label, tuple(verdicts))


class ClassificationTable:
    """Clauses T1.4 and R1 for every input of one run, with the Theorem 1 masses computed once.

    The masses P_e of a budget depend on the setting and the budget only, so
    a run builds them once (not once per input and budget); per input only
    the Clopper-Pearson bounds are computed.  :meth:`certify` returns exactly
    what the reference engine's ``certify`` (per budget) and ``radius`` (per
    ratio) return for the same counts: the same exact decisions
    (``certified_at``) in the same search (``last_certified``).

    ``engine`` ``"auto"`` / ``"fast"`` (the default) first asks the fast
    engine's brackets (:class:`fast.classify.RunBrackets`, clauses F.1, F.4:
    built once per run, one gap bracket per input), and computes the exact
    bounds only for what they leave open; ``"reference"`` decides everything
    exactly.  Either way the answers are the reference engine's.

    ``bound`` is the bound method (clauses CP.4-CP.7, fixed before the votes:
    CP.5).  The bounds, hence the verdicts and radii, depend on the counts
    only through (N_A, N_B, N) (every method's ``exact``), so they are
    memoised per run by that triple; the label is each input's own argmax.
    """

    def __init__(self, plan: SamplingPlan, budgets: Sequence[Budget], ratios: Sequence[Sequence[int]] = (),
                 alpha="0.05", bound="bonferroni", engine: str = "auto") -> None:
        from ..reference.certify import alpha_fraction
        from ..threat_model import max_radius_multiplier

        if engine not in ("auto", "fast", "reference"):
            raise InvalidParameterError(f"engine must be auto, fast or reference, got {engine!r}")
        self.setting = plan.setting
        self.alpha = alpha_fraction(alpha)
        self.budgets = tuple(budgets)
        self.ratios = tuple(tuple(int(c) for c in r) for r in ratios)
        attack = self.budgets[0].attack if self.budgets else None
        self.attack = attack
        self._masses: dict[tuple[int, ...], Any] = {}
        for b in self.budgets:
            self._mass(b)
        self.limits = tuple(max_radius_multiplier(self.setting, r, attack) for r in self.ratios)
        self.bound = bound_rule(bound).name.value
        self._memo: dict[tuple[int, int, int], tuple[tuple[bool, ...], tuple[int | None, ...]]] = {}
        self._fast = None
        if engine != "reference" and self.budgets and all(b.attack == attack for b in self.budgets):
            from ..fast.classify import RunBrackets

            self._fast = RunBrackets(self.setting, [b.r for b in self.budgets], list(attack), self.ratios,
                                     self.limits, self.alpha, self.bound)

    def _mass(self, budget: Budget):
        from ..reference.theorem1 import SubsampleMasses
        from ..threat_model import attacked_sizes

        key = (budget.r, budget.attack)
        if key not in self._masses:
            self._masses[key] = SubsampleMasses.of(attacked_sizes(self.setting, budget))
        return self._masses[key]

    def certify(self, counts: Sequence[int]) -> tuple[int, tuple[bool, ...], tuple[int | None, ...]]:
        """(ensemble label, certified per budget, radius t* per ratio or None) of one input's counts."""
        from ..votes import Votes

        votes = Votes(tuple(int(c) for c in counts))
        key = (votes.n_a, votes.n_b, votes.total)
        if key not in self._memo:
            self._memo[key] = self._decide(votes)
        return int(votes.label), *self._memo[key]

    def _decide(self, votes) -> tuple[tuple[bool, ...], tuple[int | None, ...]]:
        from ..fast.single import UNDECIDED
        from ..reference.certify import label_bounds, last_certified
        from ..reference.theorem1 import decide

        exact: list = []  # the exact bounds, computed on the first question the floats leave open

        def ok(budget: Budget) -> bool:
            if not exact:
                exact.append(label_bounds(votes, self.alpha, self.bound))
            return decide(exact[0].p_a_lower, exact[0].p_b_upper, self._mass(budget)).certified

        fast_certified: tuple = (None,) * len(self.budgets)
        fast_radii: tuple = (UNDECIDED,) * len(self.ratios)
        if self._fast is not None:
            fast_certified, fast_radii = self._fast.decide(votes.counts)
        verdicts = tuple(ok(b) if f is None else f for b, f in zip(self.budgets, fast_certified))
        radii = tuple(
            last_certified(lambda t, ratio=ratio: ok(Budget(tuple(t * c for c in ratio), self.attack)), limit)
            if f is UNDECIDED else f
            for ratio, limit, f in zip(self.ratios, self.limits, fast_radii)
        )
        return verdicts, radii


#: certify_segmentation_counts asks a multi-budget engine for at most this many pixel results per call
SEGMENTATION_RESULT_PIXELS = 1 << 24


def segmentation_results(
    counts: np.ndarray,
    alpha,
    plan: SamplingPlan,
    budgets: Sequence[Budget],
    *,
    labels: np.ndarray | None = None,
    engine: SegmentationEngine | None = None,
    bound: str = "bonferroni",
) -> Iterator[tuple[Budget, Any]]:
    """``(budget, engine result)`` for every budget, in order, for one image or a batch (clause SEG).

    A batch goes to the engine in one call per budget, which lets an engine
    share work across images; an engine with a ``budgets`` attribute (the fast
    engine's ``segment_budgets``, results equal to one call per budget, clause
    SEG.7) gets the budgets a chunk at a time, which lets it share the
    per-image work across budgets too.  Lazy: each result holds its masks, and
    only one chunk's results -- about :data:`SEGMENTATION_RESULT_PIXELS`
    pixels' worth -- are alive at once when the caller keeps none.
    """
    engine = engine or default_segmentation_engine()
    setting = plan.setting
    counts = np.asarray(counts)
    extra = {} if bound == "bonferroni" else {"bound": bound}  # CP.5; SEG.1 with the method
    over_budgets = getattr(engine, "budgets", None)
    if over_budgets is None:
        for budget in budgets:
            yield budget, engine(counts, alpha, setting.n, setting.k, budget.r, attack=list(budget.attack),
                                 method=setting.method, labels=labels, **extra)
        return
    batched = counts.ndim == 4
    pixels = counts.size // max(1, counts.shape[1 if batched else 0])  # over the batch's images
    step = max(1, SEGMENTATION_RESULT_PIXELS // max(1, pixels))
    for i in range(0, len(budgets), step):
        chunk = budgets[i:i + step]
        results = over_budgets(counts, alpha, setting.n, setting.k, [(b.r, list(b.attack)) for b in chunk],
                               method=setting.method, labels=labels, **extra)
        for budget, res in zip(chunk, results):
            yield budget, res
        del results


def certify_segmentation_counts(
    counts: np.ndarray,
    alpha,
    plan: SamplingPlan,
    budgets: Sequence[Budget],
    *,
    labels: np.ndarray | None = None,
    engine: SegmentationEngine | None = None,
    bound: str = "bonferroni",
) -> list[list[SegmentationVerdict]]:
    """Certify one image ``(C, *spatial)`` or a batch ``(B, C, *spatial)`` at every budget (clause SEG).

    Returns one list of verdicts per image, from :func:`segmentation_results`
    (each result is reduced to its verdicts as it arrives).
    """
    counts = np.asarray(counts)
    batched = counts.ndim == 4
    out: list[list[SegmentationVerdict]] = [[] for _ in range(counts.shape[0] if batched else 1)]
    for budget, res in segmentation_results(counts, alpha, plan, budgets, labels=labels, engine=engine,
                                            bound=bound):
        doc = res.to_json()
        per_image = doc["images"] if batched else [doc]
        for i, d in enumerate(per_image):
            out[i].append(SegmentationVerdict.from_engine(budget, d))
    return out


# --------------------------------------------------------------------------- the certifier

#: ``autocast`` names accepted for the model call (votes stay exact integer counts of its argmax)
AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def _autocast_dtype(name: str | None) -> torch.dtype | None:
    if name in (None, "", "none"):
        return None
    if name not in AUTOCAST_DTYPES:
        raise InvalidParameterError(f"autocast must be one of none, {', '.join(AUTOCAST_DTYPES)}; got {name!r}")
    return AUTOCAST_DTYPES[name]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def model_error(exc: BaseException, batch, where: str, *, first: bool, batch_size: int) -> InvalidParameterError:
    """One clear line for a model that failed on a batch of sub-samples (never a traceback).

    Out-of-memory errors say so (and name the batch size); a failure on the
    very first batch is most likely a shape mismatch with the encoded inputs.
    """
    if isinstance(exc, InvalidParameterError):
        return InvalidParameterError(f"{where}: {exc}")
    name = type(exc).__name__
    text = _first_line(exc)
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError" or "out of memory" in text.lower():
        return InvalidParameterError(
            f"{where}: the model ran out of memory at batch size {batch_size}; lower certify.batch_size "
            f"({name}: {text[:160]})"
        )
    if first and isinstance(exc, (RuntimeError, ValueError, TypeError, IndexError)):
        shapes = ", ".join(str(tuple(x.shape)) for x in batch)
        return InvalidParameterError(
            f"the model cannot take the encoded inputs (shapes {shapes}; a mask channel adds one "
            f"channel per modality): {name}: {text}"
        )
    return InvalidParameterError(f"{where}: the model failed: {name}: {text}")


class Certifier:
    """Streams N sub-sampled predictions of a model per input and certifies the counts.

    ``device`` is where sub-sampling, the model and the counting run; the
    model is moved there.  Votes of input ``index`` are a function of
    (``seed``, ``index``, ``n_samples``, the model, the device) only -- and on
    the CPU not of ``batch_size`` either (clause SAMP.3).

    Throughput options (all off by default; the default path is the one
    whose votes earlier runs recorded): ``pack_inputs`` fills a forward batch
    with the sub-samples of several inputs when N <= batch_size
    (:meth:`stream_votes`; the random streams are unchanged); ``autocast``
    (``"bfloat16"`` / ``"float16"``) runs the model under ``torch.autocast``
    and ``compile_model`` through ``torch.compile`` -- both may change the
    model's scores, hence votes, so a run records them in its identity; the
    votes are exact integer counts of the argmax either way.  Inputs reach a
    CUDA device through pinned memory.
    """

    def __init__(
        self,
        model: nn.Module,
        plan: SamplingPlan,
        task: Task | str,
        classes: int,
        *,
        n_samples: int = 100,
        batch_size: int = 100,
        seed: int = 0,
        device: torch.device | str = "cpu",
        progress: bool = False,
        pack_inputs: bool = False,
        autocast: str | None = None,
        compile_model: bool = False,
    ) -> None:
        if int(n_samples) < 1:
            raise InvalidParameterError(f"N must be at least 1, got {n_samples}")
        if int(batch_size) < 1:
            raise InvalidParameterError(f"batch size must be at least 1, got {batch_size}")
        if int(classes) < 1:
            raise InvalidParameterError(f"need at least one class, got {classes}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.plan = plan
        self.task = Task(task)
        self.classes = int(classes)
        self.n_samples = int(n_samples)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.progress = progress
        self.pack_inputs = bool(pack_inputs)
        self.autocast = _autocast_dtype(autocast)
        self._call = torch.compile(self.model) if compile_model else self.model

    def _forward(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        """The model on one encoded batch (under autocast when asked; clause V1 counts its argmax)."""
        if self.autocast is None:
            return self._call(*batch)
        with torch.autocast(self.device.type, dtype=self.autocast):
            return self._call(*batch)

    def _to_device(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The input's tensors on the model's device; from the CPU to CUDA through pinned memory."""
        out = []
        for x in inputs:
            x = torch.as_tensor(x)
            if self.device.type == "cuda" and x.device.type == "cpu":
                x = x.pin_memory().to(self.device, non_blocking=True)
            out.append(x.to(self.device))
        return tuple(out)

    def _spatial(self, logits: torch.Tensor) -> tuple[int, ...]:
        if self.task is Task.CLASSIFICATION:
            return ()
        return tuple(logits.shape[2:])

    def dry_run(self, inputs: Sequence[torch.Tensor], rows: int | None = None) -> tuple[int, ...]:
        """One batch of ``rows`` sub-samples through the model, checked as votes are (clause V1.1).

        Draws from its own generator (no input's stream is touched) and
        counts nothing.  Returns the spatial shape of the model's output
        (``()`` for classification).  Raises :class:`InvalidParameterError`
        with the reason when the inputs, the model or its output do not fit.
        """
        self.plan.check_input(inputs)
        rows = min(self.batch_size, self.n_samples) if rows is None else int(rows)
        inputs = self._to_device(inputs)
        generator = torch.Generator(device=self.device).manual_seed(0)
        with torch.inference_mode():
            batch = self.plan.sample(inputs, generator, rows)
            where = f"a trial batch of {rows} sub-samples"
            try:
                logits = self._forward(batch)
            except Exception as exc:
                raise model_error(exc, batch, where, first=True, batch_size=rows) from exc
            spatial = self._spatial(logits) if isinstance(logits, torch.Tensor) else ()
            try:
                VoteCounter(self.classes, spatial, self.device).add_logits(logits, rows=rows)
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"{where}: {exc}") from None
        return spatial

    def votes(self, inputs: Sequence[torch.Tensor], index: int) -> np.ndarray:
        """Clause V1: counts of the model's labels over N sub-samples of one input.

        Shape ``(C,)`` for classification, ``(C, *spatial)`` for segmentation.
        """
        self.plan.check_input(inputs)
        inputs = self._to_device(inputs)
        generator = input_generator(self.seed, index, self.device)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.n_samples, desc=f"input {index}", unit="vote", leave=False)
        with torch.inference_mode():
            counter, _ = self._count_votes(inputs, generator, index, 0, self.n_samples, 0, bar)
        if bar is not None:
            bar.close()
        return counter.counts()

    def _count_votes(self, inputs, generator: torch.Generator, index: int, start: int, rows: int, batch_no: int,
                     bar=None) -> tuple[VoteCounter, int]:
        """Clause V1: counts of the next ``rows`` sub-samples (numbers ``start``.. of input ``index``) drawn
        from ``generator``, ``batch_size`` at a time; returns the counter and the next batch number."""
        counter: VoteCounter | None = None
        done = 0
        while done < rows:
            b = min(self.batch_size, rows - done)
            batch = self.plan.sample(inputs, generator, b)
            first = start + done
            where = f"input {index}, vote batch {batch_no} (sub-samples {first}..{first + b - 1})"
            try:
                logits = self._forward(batch)
            except Exception as exc:  # the user's model: any failure is reported, never a traceback
                raise model_error(exc, batch, where, first=not first, batch_size=self.batch_size) from exc
            if counter is None:
                counter = VoteCounter(self.classes, self._spatial(logits), self.device)
            try:
                counter.add_logits(logits, rows=b)
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"{where}: {exc}") from None
            done += b
            batch_no += 1
            if bar is not None:
                bar.update(b)
        assert counter is not None
        return counter, batch_no

    def packs(self) -> int:
        """How many inputs share one forward batch: ``batch_size // N`` with ``pack_inputs`` when N fits, else 1."""
        if not self.pack_inputs or self.n_samples > self.batch_size:
            return 1
        return self.batch_size // self.n_samples

    def stream_votes(self, items: Iterable[tuple[int, Sequence[torch.Tensor]]]) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, counts)`` for every ``(index, inputs)``, in order: :meth:`votes` of each input.

        Cross-input batching (``pack_inputs`` and N <= batch_size): the
        sub-samples of :meth:`packs` inputs fill one forward batch.  Each
        input's keep masks are still drawn from its own generator in one call
        of N rows -- exactly the draws :meth:`votes` makes -- so the masks and
        the encoded rows are bit-identical; only the model sees them in a
        larger batch (the assumption clause SAMP.3 already makes on the CPU,
        where votes do not depend on the batch size).
        """
        group = self.packs()
        if group == 1:
            for index, inputs in items:
                yield index, self.votes(inputs, index)
            return
        pending: list[tuple[int, Sequence[torch.Tensor]]] = []
        for item in items:
            pending.append(item)
            if len(pending) == group:
                yield from self._packed_votes(pending)
                pending = []
        if pending:
            yield from self._packed_votes(pending)

    def _packed_votes(self, items: list[tuple[int, Sequence[torch.Tensor]]]) -> list[tuple[int, np.ndarray]]:
        n = self.n_samples
        where = f"inputs {', '.join(str(i) for i, _ in items)} (one packed batch of {len(items)} x {n} sub-samples)"
        with torch.inference_mode():
            parts = []
            for index, inputs in items:
                self.plan.check_input(inputs)
                generator = input_generator(self.seed, index, self.device)
                parts.append(self.plan.sample(self._to_device(inputs), generator, n))
            batch = tuple(torch.cat([part[m] for part in parts]) for m in range(len(self.plan.modalities)))
            try:
                logits = self._forward(batch)
            except Exception as exc:
                raise model_error(exc, batch, where, first=True, batch_size=self.batch_size) from exc
            if not isinstance(logits, torch.Tensor) or logits.dim() < 1 or logits.shape[0] != n * len(items):
                rows = logits.shape[0] if isinstance(logits, torch.Tensor) and logits.dim() else None
                raise InvalidParameterError(f"{where}: the model returned {rows} rows for a batch of "
                                            f"{n * len(items)} sub-samples: each would not get its vote")
            out = []
            for j, (index, _) in enumerate(items):
                counter = VoteCounter(self.classes, self._spatial(logits), self.device)
                try:
                    counter.add_logits(logits[j * n:(j + 1) * n], rows=n)
                except InvalidParameterError as exc:
                    raise InvalidParameterError(f"input {index} ({where}): {exc}") from None
                out.append((index, counter.counts()))
        return out

    def certify(
        self,
        inputs: Sequence[torch.Tensor],
        index: int,
        alpha,
        budgets: Sequence[Budget],
        *,
        label=None,
        engine: Callable[..., Any] | None = None,
    ) -> ClassificationVerdicts | SegmentationVerdicts:
        """Votes of input ``index`` certified at every budget (the counts are drawn once)."""
        counts = self.votes(inputs, index)
        if self.task is Task.CLASSIFICATION:
            return certify_classification_counts(
                counts, alpha, self.plan, budgets, index=index,
                label=None if label is None else int(label), engine=engine,
            )
        labels = None if label is None else np.asarray(torch.as_tensor(label).cpu())
        verdicts = certify_segmentation_counts(counts, alpha, self.plan, budgets, labels=labels, engine=engine)[0]
        return SegmentationVerdicts(int(index), int(np.prod(counts.shape[1:])), tuple(verdicts))

    def certify_adaptive(
        self,
        inputs: Sequence[torch.Tensor],
        index: int,
        alpha,
        budgets: Sequence[Budget],
        schedule: Schedule | Sequence[int],
        *,
        bound="bonferroni",
        label=None,
    ) -> "AdaptiveVerdicts":
        """Clauses CS.1 and CS.2: votes of input ``index`` drawn in rounds, stopping once every budget is decided.

        Round j draws the next N_j - N_(j-1) sub-samples of the input's own stream (``input_generator(seed,
        index)``, SAMP.3: fresh draws, never a repeat of an earlier round's), ``batch_size`` at a time, and
        :func:`~mmcert_verified.bounds.sequential.certify_sequential` certifies the cumulative N_j votes with
        ``bound`` at CS.1's level alpha_j.  Sampling stops at the first round where every budget is certified
        or hopeless, and at N_max = the schedule's last size at the latest; ``n_samples`` is not used.  On
        the CPU the cumulative counts of round j are exactly :meth:`votes` with ``n_samples = N_j``
        (CS.2), so a rerun, or a fixed-N run at the stopping round's N_j, gives the same votes.

        Guarantee (CS.1, optional stopping): with probability at least 1 - alpha over all the sub-samples
        drawn, whatever round sampling stops at, every budget reported certified leaves the ensemble's
        label unchanged under every attack within it (Theorem 1, clause T1), with the bound method's own
        guarantee at each round (CP.4-CP.7; CP.4-Q for ``bonferroni`` with A chosen from the same votes).
        Classification only.
        """
        if self.task is not Task.CLASSIFICATION:
            raise InvalidParameterError("adaptive sampling (CS.1) certifies classification only, not segmentation")
        if not isinstance(schedule, Schedule):
            if isinstance(schedule, (str, bytes)) or not isinstance(schedule, Sequence):
                raise InvalidParameterError(f"a schedule is a Schedule or a list of cumulative vote counts, "
                                            f"got {type(schedule).__name__}")
            if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in schedule):
                raise InvalidParameterError(f"a schedule's sizes must be integers, got {list(schedule)[:8]}")
            schedule = Schedule(tuple(schedule))
        rule = bound_rule(bound)  # an unknown method fails before any vote is drawn
        from ..reference.certify import alpha_fraction
        from ..threat_model import attacked_sizes

        alpha = alpha_fraction(alpha)
        budgets = tuple(budgets)
        setting = self.plan.setting
        for budget in budgets:  # an invalid budget fails before any vote is drawn
            attacked_sizes(setting, budget)
        self.plan.check_input(inputs)
        inputs = self._to_device(inputs)
        generator = input_generator(self.seed, index, self.device)  # once: every round continues the stream
        drawn = [0, 0]  # sub-samples and batches so far

        def draw(rows: int) -> np.ndarray:
            counter, drawn[1] = self._count_votes(inputs, generator, index, drawn[0], rows, drawn[1])
            drawn[0] += rows
            return counter.counts()

        with torch.inference_mode():
            result = certify_sequential(draw, alpha, schedule, setting, budgets, rule.name.value)
        verdicts = tuple(BudgetVerdict(b.r, b.attack, ok) for b, ok in zip(budgets, result.certified))
        return AdaptiveVerdicts(int(index), None if label is None else int(label), alpha, rule.name,
                                   result, verdicts)


__all__ = [
    "AdaptiveVerdicts",
    "BudgetVerdict",
    "Certifier",
    "ClassificationVerdicts",
    "ClassificationTable",
    "SegmentationVerdicts",
    "SegmentationVerdict",
    "Task",
    "certify_classification_counts",
    "certify_segmentation_counts",
    "default_segmentation_engine",
    "model_error",
]
