"""Certificate falsification for segmentation: attack certified pixels, test them with Holm (ATK.10).

For every image and budget, the segmentation certifier under test (default: the exact reference
engine, :func:`mmcert_verified.reference.segmentation.segment`) certifies a set of pixels from
``n_certify`` votes (seed stream ``(seed, index)``).  Clause SEG.3 promises: with probability at least
``1 - alpha`` over those votes, *every* certified pixel ``j`` keeps its label ``A_j`` under every
attack in S(M, R), i.e. ``Pr[g_j(Y) = A_j] > Pr[g_j(Y) = B]`` for every ``B != A_j``.

The attack (:class:`~mmcert_verified.attacks.pixel.PixelElementAttack`) aims at the certified pixels
(at the correctly predicted ones when nothing is certified).  On the attacked input ``n_attack`` fresh
votes are drawn (stream ``(seed + 1, index)``, independent of the certificate's votes and of the attack).
Per certified pixel ``j`` the p-value is

    p_j = min(1, (C - 1) * min_{B != A_j} P(Binomial(N'_A + N'_B, 1/2) >= N'_B))

(the exact sign test of ATK.7, Bonferroni over the C - 1 runner-ups), and **Holm's step-down at level
beta over the certified pixels** (the same exact procedure as clause SEG.3,
:func:`~mmcert_verified.reference.segmentation.holm_accept_values`) rejects; each rejected pixel is a
**violation**.  If every certified pixel's promise holds, every tested null is true and Holm's
family-wise error bound gives: probability of calling any violation <= beta per (image, budget),
whatever the dependence between pixels.  A sound pipeline therefore shows a violation with probability
at most ``alpha + beta`` per (image, budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np
import torch

from mmcert_verified.reference.segmentation import holm_accept_values
from mmcert_verified.sampling.seeds import input_generator
from mmcert_verified.threat_model import Budget

from .harness import HarnessReport, HarnessSettings, sign_test_p_value
from .pixel import pixel_counts, pixel_margins

#: the reference ``segment`` signature: (counts, alpha, n, k, r, attack, method) -> SegmentationResult
SegmentationCertifier = Callable[..., object]


def pixel_p_values(counts: np.ndarray, pred: np.ndarray, tested: np.ndarray) -> dict[int, Fraction]:
    """The p-value ``p_j`` above for every flattened pixel ``j`` with ``tested[j]`` (exact Fractions)."""
    flat = counts.reshape(counts.shape[0], -1)
    pred = pred.reshape(-1)
    c = flat.shape[0]
    cache: dict[tuple[int, int], Fraction] = {}
    out = {}
    for j in np.flatnonzero(tested.reshape(-1)):
        a = int(pred[j])
        n_a = int(flat[a, j])
        best = Fraction(1)
        for b in range(c):
            if b == a:
                continue
            key = (int(flat[b, j]), n_a)
            if key not in cache:
                cache[key] = sign_test_p_value(*key)
            best = min(best, cache[key])
        out[int(j)] = min(Fraction(1), (c - 1) * best)
    return out


def holm_rejections(p_values: dict[int, Fraction], beta) -> tuple[int, ...]:
    """The pixels Holm's step-down at family level ``beta`` rejects (exact; clause SEG.3's procedure)."""
    if not p_values:
        return ()
    distinct = sorted(set(p_values.values()))
    where = {v: i for i, v in enumerate(distinct)}
    mult = np.bincount([where[v] for v in p_values.values()], minlength=len(distinct))
    rejected = holm_accept_values(distinct, mult, beta)
    return tuple(sorted(j for j, v in p_values.items() if rejected[where[v]]))


@dataclass(frozen=True)
class PixelFinding:
    """One (image, budget): how many pixels were certified, kept and violated."""

    index: int
    r: tuple[int, ...]
    pixels: int
    certified_pixels: int
    certified_correct: int  # certified and A_j equal to the true label
    attacked_correct: int  # the attacked ensemble's plurality equals the true label
    certified_kept: int  # certified pixels whose attacked plurality is still A_j
    min_p_value: Fraction | None  # smallest p_j over the certified pixels
    violations: tuple[int, ...]  # flattened pixel indices Holm rejects
    min_attacked_margin: float | None = None  # min over certified j of (N'_{A_j} - max_{B != A_j} N'_B) / N'

    @property
    def violation(self) -> bool:
        return bool(self.violations)

    def to_json(self) -> dict:
        return {
            "index": self.index, "r": list(self.r), "pixels": self.pixels, "certified_pixels": self.certified_pixels,
            "certified_correct": self.certified_correct, "attacked_correct": self.attacked_correct,
            "certified_kept": self.certified_kept,
            "min_p_value": None if self.min_p_value is None else float(self.min_p_value),
            "violations": list(self.violations), "min_attacked_margin": self.min_attacked_margin,
        }


@dataclass(frozen=True)
class PixelBudgetSummary:
    """ATK.8 per pixel: certified pixel accuracy beside the empirical robust pixel accuracy."""

    r: tuple[int, ...]
    images: int
    certified_accuracy: float  # sum certified_correct / sum pixels
    empirical_robust_accuracy: float  # sum attacked_correct / sum pixels
    certified_kept_fraction: float  # sum certified_kept / sum certified_pixels (1.0 when none)
    violations: int


#: PixelFinding per (image, budget) and PixelBudgetSummary per budget
SegmentationHarnessReport = HarnessReport


def summarise_pixels(findings: Sequence[PixelFinding], budgets: Sequence[Budget]) -> tuple[PixelBudgetSummary, ...]:
    out = []
    for b in budgets:
        fs = [f for f in findings if f.r == b.r]
        pixels = max(sum(f.pixels for f in fs), 1)
        cert = sum(f.certified_pixels for f in fs)
        out.append(PixelBudgetSummary(
            b.r, len(fs), sum(f.certified_correct for f in fs) / pixels, sum(f.attacked_correct for f in fs) / pixels,
            sum(f.certified_kept for f in fs) / cert if cert else 1.0, sum(len(f.violations) for f in fs)))
    return tuple(out)


@dataclass(frozen=True)
class SegmentationHarness(HarnessSettings):
    """Votes: ``n_certify`` for the certificate (stream (seed, i)), ``n_attack`` on each attacked image
    (stream (seed + 1, i)); family level ``alpha`` for the certificate, ``beta`` for Holm's test."""

    batch_size: int = 100

    def run(self, inputs: Sequence[Sequence[torch.Tensor]], labels: Sequence, budgets: Sequence[Budget],
            attack: Callable, certifier: SegmentationCertifier | None = None, progress: bool = False,
            indices: Sequence[int] | None = None) -> SegmentationHarnessReport:
        """``attack(inputs, pred, targets, budget)`` returns an object with ``.inputs``
        (:class:`~mmcert_verified.attacks.pixel.PixelElementAttack`); ``labels[i]`` is image i's (H, W)
        ground truth.  ``certifier`` defaults to the reference engine's ``segment``."""
        if certifier is None:
            from mmcert_verified.reference.segmentation import segment as certifier
        items, bar = self.start(inputs, labels, indices, budgets, "segmentation harness", progress)
        setting = self.plan.setting
        findings = []
        for index, x, label in items:
            device = x[0].device
            truth = np.asarray(label).astype(np.int64)
            counts = pixel_counts(self.model, self.plan, x, self.classes, self.n_certify,
                                  input_generator(self.seed, index, device), self.batch_size)
            for budget in budgets:
                res = certifier(counts, self.alpha, setting.n, setting.k, budget.r, budget.attack, setting.method)
                image = res.images[0]
                certified, pred = np.asarray(image.certified, dtype=bool), np.asarray(image.pred)
                targets = certified if certified.any() else pred == truth
                adv = attack(x, pred, targets, budget).inputs
                ac = pixel_counts(self.model, self.plan, adv, self.classes, self.n_attack,
                                  input_generator(self.seed + 1, index, device), self.batch_size)
                attacked_pred = np.argmax(ac, axis=0)  # first maximum: the ensemble's tie rule (V1)
                p_values = pixel_p_values(ac, pred, certified)
                findings.append(PixelFinding(
                    index, budget.r, int(pred.size), int(certified.sum()), int((certified & (pred == truth)).sum()),
                    int((attacked_pred == truth).sum()), int((certified & (attacked_pred == pred)).sum()),
                    min(p_values.values()) if p_values else None, holm_rejections(p_values, self.beta),
                    float(pixel_margins(ac, pred)[certified.reshape(-1)].min()) if certified.any() else None))
                bar.update(1)
        bar.close()
        return SegmentationHarnessReport(tuple(findings), summarise_pixels(findings, budgets))


__all__ = ["PixelBudgetSummary", "PixelFinding", "SegmentationHarness", "SegmentationHarnessReport",
           "holm_rejections", "pixel_p_values", "summarise_pixels"]
