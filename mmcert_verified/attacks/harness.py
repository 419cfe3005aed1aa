"""Certificate falsification: attack inside certified budgets and test the attacked ensemble (ATK.7).

For every input and budget the certifier under test certifies, an element attack
(:mod:`.element`) produces an attacked input inside the budget, and the attacked ensemble's
votes are estimated afresh.  The certificate promised ``Pr[g(Y) = A] > Pr[g(Y) = B]`` for every
``B != A`` (Theorem 1, clause T1).  It is called **violated** when

* Monte Carlo mode: for some ``B != A``, the exact one-sided sign test on the attacked votes rejects
  ``q_B < 1/2``, where ``q_B = Pr[g(Y)=B] / (Pr[g(Y)=A] + Pr[g(Y)=B])``: conditional on
  ``m = n_A + n_B`` votes for A or B, ``n_B ~ Binomial(m, q_B)``, and the p-value
  ``P(Binomial(m, 1/2) >= n_B)`` is computed exactly (big integers) and compared with
  ``beta / (C - 1)`` (Bonferroni over the C - 1 runner-ups).  Equivalently the one-sided
  Clopper-Pearson lower bound on ``q_B`` at level ``beta / (C - 1)`` is at least 1/2.  If the
  certificate is true, a violation is called with probability at most ``beta`` per (input, budget);
  a sound certifier is itself wrong with probability at most ``alpha`` per input, so over M
  certified inputs a sound pipeline shows a violation with probability at most ``M (alpha + beta)``.
* exact mode (tiny instances): the attacked ensemble's label probabilities are computed by
  enumerating every sub-sample, the certifier under test receives the clean input's exact
  probabilities, and a violation is ``Pr[g(Y)=B] >= Pr[g(Y)=A]`` for some ``B != A``
  (no statistics: any violation is a proof of an unsound certifier).

The report puts the empirical robust accuracy (the attacked ensemble's plurality label equals the
true label) beside the certified accuracy (certified and correct) at every budget; for a sound
certifier and a strong enough attack empirical >= certified.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import torch

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import SamplingPlan
from mmcert_verified.sampling.counting import first_argmax
from mmcert_verified.sampling.seeds import input_generator
from mmcert_verified.threat_model import Budget

from .element import ensemble_counts
from .variable_size import resized_plan

#: (counts, alpha, n, k, r, attack, method) -> object with ``.certified`` (the reference ``certify`` signature)
CountCertifier = Callable[..., object]
#: (p_a, p_b, setting, budget) -> bool: certify from exact label probabilities (exact mode)
ProbabilityCertifier = Callable[..., bool]


def sign_test_p_value(n_b: int, n_a: int) -> Fraction:
    """Exact P(Binomial(n_a + n_b, 1/2) >= n_b) (1 when there are no votes for A or B)."""
    m = n_a + n_b
    if m == 0:
        return Fraction(1)
    return Fraction(sum(math.comb(m, j) for j in range(n_b, m + 1)), 2**m)


def violation_p_value(counts: Sequence[int], label: int) -> Fraction:
    """The smallest sign-test p-value over the runner-ups B != ``label`` (see the module docstring)."""
    n_a = int(counts[label])
    return min(sign_test_p_value(int(c), n_a) for i, c in enumerate(counts) if i != label)


@dataclass(frozen=True)
class Finding:
    """One (input, budget): the certificate, the attack's result and the verdict."""

    index: int
    r: tuple[int, ...]
    label: int | None
    prediction: int
    certified: bool
    attacked_counts: tuple[int, ...] | None
    attacked_prediction: int | None
    p_value: Fraction | None
    violation: bool
    attack: tuple[str, ...] = ()  # the budget's attack per modality (modify / add / delete)

    def to_json(self) -> dict:
        return {
            "index": self.index, "r": list(self.r), "label": self.label, "prediction": self.prediction,
            "certified": self.certified,
            "attacked_counts": None if self.attacked_counts is None else list(self.attacked_counts),
            "attacked_prediction": self.attacked_prediction,
            "p_value": None if self.p_value is None else float(self.p_value),
            "violation": self.violation, "attack": list(self.attack),
        }


@dataclass(frozen=True)
class BudgetSummary:
    r: tuple[int, ...]
    inputs: int
    certified_accuracy: float
    empirical_robust_accuracy: float
    violations: int


@dataclass(frozen=True)
class HarnessReport:
    """What a harness found: one finding per (input, budget) and one summary per budget (ATK.7, ATK.10)."""

    findings: tuple
    summaries: tuple

    @property
    def violations(self) -> tuple:
        return tuple(f for f in self.findings if f.violation)


@dataclass(frozen=True)
class HarnessSettings:
    """What both falsification harnesses take: the model and its sampling plan, the vote counts (``n_certify``
    for the certificate, ``n_attack`` per attacked input, independent streams), the certificate's level
    ``alpha`` and the test's level ``beta``, and the seed of the streams."""

    model: torch.nn.Module
    plan: SamplingPlan
    classes: int
    n_certify: int = 100
    n_attack: int = 1000
    alpha: str = "0.001"
    beta: float = 0.001
    seed: int = 0

    def start(self, inputs, labels, indices: Sequence[int] | None, budgets: Sequence, desc: str, progress: bool):
        """A run's first steps: the settings checked, the inputs numbered (see :func:`numbered_inputs`) and a
        progress bar over inputs x budgets opened; returns (items, bar)."""
        self.check()
        items = numbered_inputs(inputs, labels, indices)
        return items, budget_bar(items, budgets, desc, progress)

    def check(self) -> None:
        """The test level and vote counts must be usable (precise exception otherwise)."""
        if not 0 < self.beta < 1:
            raise InvalidParameterError(f"beta must be in (0, 1), got {self.beta}")
        if self.n_certify < 1 or self.n_attack < 1:
            raise InvalidParameterError("need n_certify >= 1 and n_attack >= 1")


def numbered_inputs(inputs, labels, indices: Sequence[int] | None):
    """(index, input tensors, label) per input; ``indices`` number them (default 0, 1, ...)."""
    numbers = indices if indices is not None else range(len(inputs))
    return [(index, tuple(torch.as_tensor(t) for t in x), label) for index, x, label in zip(numbers, inputs, labels)]


def budget_bar(items: Sequence, budgets: Sequence, desc: str, progress: bool):
    """A tqdm bar over inputs x budgets (silent unless ``progress``)."""
    from tqdm import tqdm

    return tqdm(total=len(items) * len(budgets), desc=desc, unit="budget", disable=not progress)


def summarise(findings: Sequence[Finding], budgets: Sequence[Budget]) -> tuple[BudgetSummary, ...]:
    out = []
    for b in budgets:
        kinds = tuple(a.value for a in b.attack)
        fs = [f for f in findings if f.r == b.r and (not f.attack or f.attack == kinds)]
        cert = sum(f.certified and f.prediction == f.label for f in fs)
        # an input the certifier did not certify is still attacked: its attacked plurality decides
        emp = sum((f.attacked_prediction if f.attacked_prediction is not None else f.prediction) == f.label for f in fs)
        out.append(BudgetSummary(b.r, len(fs), cert / max(len(fs), 1), emp / max(len(fs), 1),
                                 sum(f.violation for f in fs)))
    return tuple(out)


@dataclass(frozen=True)
class MonteCarloHarness(HarnessSettings):
    """Votes: ``n_certify`` for the certificate (seed ``seed``), ``n_attack`` for each attacked input
    (seed ``seed + 1``, independent); level ``alpha`` for the certificate, ``beta`` for the test."""

    attack_all: bool = True
    batch_size: int = 256

    def run(self, inputs: Sequence[Sequence[torch.Tensor]], labels: Sequence[int | None], budgets: Sequence[Budget],
            attack: Callable, certifier: CountCertifier | None = None, progress: bool = False,
            indices: Sequence[int] | None = None) -> HarnessReport:
        """``attack(inputs, label, budget)`` returns an object with ``.inputs`` (see :mod:`.element`);
        ``certifier`` defaults to the reference engine's ``certify``.  With ``attack_all`` uncertified
        budgets are attacked too (for the empirical robust accuracy); only certified ones can be violated.
        ``indices`` number the inputs (default 0, 1, ...): input i's votes come from stream (seed, i)."""
        if certifier is None:
            from mmcert_verified.reference.certify import certify as certifier
        items, bar = self.start(inputs, labels, indices, budgets, "harness", progress)
        threshold = Fraction(self.beta) / max(self.classes - 1, 1)
        setting = self.plan.setting
        findings = []
        for index, x, label in items:
            device = x[0].device
            counts = ensemble_counts(self.model, self.plan, x, self.classes, self.n_certify,
                                     input_generator(self.seed, index, device), self.batch_size).tolist()
            for budget in budgets:
                res = certifier(counts, self.alpha, setting.n, setting.k, budget.r, budget.attack, setting.method)
                prediction, certified = int(getattr(res, "label")), bool(getattr(res, "certified"))
                attacked_counts = attacked_pred = p_value = None
                if certified or self.attack_all:
                    adv = attack(x, prediction, budget).inputs
                    # an addition or deletion changes n'_i: the attacked ensemble sub-samples its own input
                    ac = ensemble_counts(self.model, resized_plan(self.plan, adv), adv, self.classes, self.n_attack,
                                         input_generator(self.seed + 1, index, device), self.batch_size)
                    attacked_counts = tuple(int(c) for c in ac.tolist())
                    attacked_pred = int(first_argmax(ac.unsqueeze(0).to(torch.float64))[0])
                    p_value = violation_p_value(attacked_counts, prediction)
                violation = certified and p_value is not None and p_value <= threshold
                findings.append(Finding(index, budget.r, None if label is None else int(label), prediction,
                                        certified, attacked_counts, attacked_pred, p_value, violation,
                                        tuple(a.value for a in budget.attack)))
                bar.update(1)
        bar.close()
        return HarnessReport(tuple(findings), summarise(findings, budgets))


def exact_probabilities(model: torch.nn.Module, plan: SamplingPlan, inputs: Sequence[torch.Tensor], classes: int,
                        limit: int = 100_000) -> tuple[Fraction, ...]:
    """Label probabilities of the MMCert ensemble on one input, every sub-sample enumerated."""
    mods = plan.modalities
    total = math.prod(math.comb(m.n, k) for m, k in zip(mods, plan.k))
    if plan.setting.method.value != "mmcert" or total > limit:
        raise InvalidParameterError(f"exact mode needs MMCert sampling and at most {limit} sub-samples, got {total}")
    masks = []
    for m, k in zip(mods, plan.k):
        rows = []
        for combo in itertools.combinations(range(m.n), k):
            row = torch.zeros(m.n, dtype=torch.bool)
            row[list(combo)] = True
            rows.append(row)
        masks.append(torch.stack(rows))
    grids = torch.cartesian_prod(*[torch.arange(len(mk)) for mk in masks])
    grids = grids.view(-1, len(mods))
    keep = tuple(mk[grids[:, i]].to(inputs[0].device) for i, mk in enumerate(masks))
    with torch.no_grad():
        labels = first_argmax(model(*plan.encode(tuple(inputs), keep)))
    counts = torch.bincount(labels, minlength=classes)[:classes].tolist()
    return tuple(Fraction(int(c), total) for c in counts)


@dataclass(frozen=True)
class ExactHarness:
    """Tiny instances: exact probabilities before and after the attack, no statistics."""

    model: torch.nn.Module
    plan: SamplingPlan
    classes: int

    def run(self, inputs, labels, budgets: Sequence[Budget], attack: Callable,
            certifier: ProbabilityCertifier) -> HarnessReport:
        findings = []
        for index, (x, label) in enumerate(zip(inputs, labels)):
            x = tuple(torch.as_tensor(t) for t in x)
            probs = exact_probabilities(self.model, self.plan, x, self.classes)
            a = max(range(self.classes), key=lambda i: (probs[i], -i))  # argmax, lowest label on ties
            p_b = max(p for i, p in enumerate(probs) if i != a)
            for budget in budgets:
                certified = bool(certifier(probs[a], p_b, self.plan.setting, budget))
                adv = attack(x, a, budget).inputs
                attacked = exact_probabilities(self.model, resized_plan(self.plan, adv), adv, self.classes)
                pred = max(range(self.classes), key=lambda i: (attacked[i], -i))
                broken = any(p >= attacked[a] for i, p in enumerate(attacked) if i != a)
                findings.append(Finding(index, budget.r, None if label is None else int(label), a, certified,
                                        None, pred, None, certified and broken, tuple(x.value for x in budget.attack)))
        return HarnessReport(tuple(findings), summarise(findings, budgets))
