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
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .errors import InvalidParameterError
from .sampling.counting import VoteCounter
from .sampling.plan import SamplingPlan
from .sampling.seeds import input_generator
from .threat_model import Attack, Budget, Method

#: classification engine: (counts, alpha, n, k, r, attack, method) -> object with .certified and .label
ClassificationEngine = Callable[..., Any]
#: segmentation engine: segment(counts, alpha, n, k, r, attack=, method=, labels=) -> result with .to_json()
SegmentationEngine = Callable[..., Any]


class Task(str, enum.Enum):
    """What the model outputs: one label per input, or one label per element of the segmented modality."""

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"


def reference_classification_engine() -> ClassificationEngine:
    from .reference.certify import certify

    return certify


def default_segmentation_engine() -> SegmentationEngine:
    """The fast engine when it is installed (it defers to the reference near thresholds), else the reference."""
    try:
        from .fast.segmentation import segment  # type: ignore[import-not-found]
    except ImportError:
        from .reference.segmentation import segment
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


@dataclass(frozen=True)
class ClassificationCertificate:
    """One input's votes and its verdict at every budget."""

    index: int
    counts: tuple[int, ...]
    prediction: int
    label: int | None
    verdicts: tuple[BudgetVerdict, ...]

    @property
    def correct(self) -> bool | None:
        return None if self.label is None else self.prediction == self.label

    def certified_correct(self) -> tuple[bool, ...]:
        """Per budget: certified and equal to the true label (the paper's Eq. 15 indicator)."""
        return tuple(v.certified and bool(self.correct) for v in self.verdicts)

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "label": self.label,
            "prediction": self.prediction,
            "counts": list(self.counts),
            "budgets": [v.to_json() for v in self.verdicts],
        }


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
class SegmentationCertificate:
    """One image's vote summary and its certified metrics at every budget."""

    index: int
    pixels: int
    verdicts: tuple[SegmentationVerdict, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "pixels": self.pixels, "budgets": [v.to_json() for v in self.verdicts]}


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
) -> ClassificationCertificate:
    """Certify one input's class counts against every budget (clause T1), from the same counts."""
    engine = engine or reference_classification_engine()
    setting = plan.setting
    verdicts = []
    prediction = None
    for budget in budgets:
        res = engine(list(counts), alpha, setting.n, setting.k, budget.r, budget.attack, setting.method)
        prediction = int(res.label)
        verdicts.append(BudgetVerdict(budget.r, budget.attack, bool(res.certified)))
    if prediction is None:
        prediction = int(np.argmax(np.asarray(counts)))  # no budget: the ensemble's label (V1)
    return ClassificationCertificate(int(index), tuple(int(c) for c in counts), prediction, label, tuple(verdicts))


def certify_segmentation_counts(
    counts: np.ndarray,
    alpha,
    plan: SamplingPlan,
    budgets: Sequence[Budget],
    *,
    labels: np.ndarray | None = None,
    engine: SegmentationEngine | None = None,
) -> list[list[SegmentationVerdict]]:
    """Certify one image ``(C, *spatial)`` or a batch ``(B, C, *spatial)`` at every budget (clause SEG).

    Returns one list of verdicts per image.  A batch goes to the engine in
    one call per budget, which lets an engine share work across images.
    """
    engine = engine or default_segmentation_engine()
    setting = plan.setting
    counts = np.asarray(counts)
    batched = counts.ndim == 4
    images = counts.shape[0] if batched else 1
    out: list[list[SegmentationVerdict]] = [[] for _ in range(images)]
    for budget in budgets:
        res = engine(counts, alpha, setting.n, setting.k, budget.r, attack=list(budget.attack),
                     method=setting.method, labels=labels)
        doc = res.to_json()
        per_image = doc["images"] if batched else [doc]
        for i, d in enumerate(per_image):
            out[i].append(SegmentationVerdict.from_engine(budget, d))
    return out


# --------------------------------------------------------------------------- the certifier

class Certifier:
    """Streams N sub-sampled predictions of a model per input and certifies the counts.

    ``device`` is where sub-sampling, the model and the counting run; the
    model is moved there.  Votes of input ``index`` are a function of
    (``seed``, ``index``, ``n_samples``, the model, the device) only -- and on
    the CPU not of ``batch_size`` either (clause SAMP.3).
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

    def _spatial(self, logits: torch.Tensor) -> tuple[int, ...]:
        if self.task is Task.CLASSIFICATION:
            return ()
        return tuple(logits.shape[2:])

    def votes(self, inputs: Sequence[torch.Tensor], index: int) -> np.ndarray:
        """Clause V1: counts of the model's labels over N sub-samples of one input.

        Shape ``(C,)`` for classification, ``(C, *spatial)`` for segmentation.
        """
        self.plan.check_input(inputs)
        inputs = tuple(torch.as_tensor(x).to(self.device) for x in inputs)
        generator = input_generator(self.seed, index, self.device)
        counter: VoteCounter | None = None
        done = 0
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.n_samples, desc=f"input {index}", unit="vote", leave=False)
        with torch.inference_mode():
            while done < self.n_samples:
                b = min(self.batch_size, self.n_samples - done)
                batch = self.plan.sample(inputs, generator, b)
                try:
                    logits = self.model(*batch)
                except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                    if done:
                        raise  # it worked on an earlier batch: not a configuration problem
                    shapes = ", ".join(str(tuple(x.shape)) for x in batch)
                    raise InvalidParameterError(
                        f"the model cannot take the encoded inputs (shapes {shapes}; a mask channel adds one "
                        f"channel per modality): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    ) from exc
                if counter is None:
                    counter = VoteCounter(self.classes, self._spatial(logits), self.device)
                counter.add_logits(logits)
                done += b
                if bar is not None:
                    bar.update(b)
        if bar is not None:
            bar.close()
        assert counter is not None
        return counter.counts()

    def certify(
        self,
        inputs: Sequence[torch.Tensor],
        index: int,
        alpha,
        budgets: Sequence[Budget],
        *,
        label=None,
        engine: Callable[..., Any] | None = None,
    ) -> ClassificationCertificate | SegmentationCertificate:
        """Votes of input ``index`` certified at every budget (the counts are drawn once)."""
        counts = self.votes(inputs, index)
        if self.task is Task.CLASSIFICATION:
            return certify_classification_counts(
                counts, alpha, self.plan, budgets, index=index,
                label=None if label is None else int(label), engine=engine,
            )
        labels = None if label is None else np.asarray(torch.as_tensor(label).cpu())
        verdicts = certify_segmentation_counts(counts, alpha, self.plan, budgets, labels=labels, engine=engine)[0]
        return SegmentationCertificate(int(index), int(np.prod(counts.shape[1:])), tuple(verdicts))


__all__ = [
    "BudgetVerdict",
    "Certifier",
    "ClassificationCertificate",
    "SegmentationCertificate",
    "SegmentationVerdict",
    "Task",
    "certify_classification_counts",
    "certify_segmentation_counts",
    "default_segmentation_engine",
]
