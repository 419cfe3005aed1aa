"""The ground-truth attack oracle (spec clause NP.2).

For a concrete tiny input M and a concrete base classifier g:

1. compute the exact label probabilities on M (every sub-sample enumerated),
   A = their argmax (lowest label on ties), p_A = Pr(A), p_B = max_{l != A} Pr(l);
2. certify with Theorem 1 (:func:`~mmcert_verified.reference.theorem1.decide`,
   clause T1.4) at the budget R;
3. walk every attacked input M' in S(M, R) (:mod:`.attacks`) and compute its
   exact label probabilities.

and record a :class:`Violation` whenever

* ``label``: the certificate holds but the ensemble label on M' is not A, or
  M' has fewer than k elements left so the ensemble is undefined (an unsound
  certificate -- the property Theorem 1 promises, clause T1);
* ``lower_a`` / ``upper_b``: Pr(g(Y)=A) < Eq. 4 or Pr(g(Y)=l) > Eq. 5 for some
  l != A (the closed-form bounds themselves; these must hold whether or not
  the certificate does);
* ``neyman_pearson``: M' used exactly j_i elements of modality i and g on M'
  does worse than the exact worst case of clause NP.1 at budget j (g is one of
  the classifiers that linear program ranges over, so this would be a bug in
  one of the two oracles).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from ..reference.theorem1 import SubsampleMasses, Theorem1Decision, decide
from ..threat_model import Budget, Setting
from .attacks import DEFAULT_ATTACKED_LIMIT, AttackedInput, attacked_inputs, check_input
from .classifiers import BaseClassifier
from .label_distribution import LabelCounter, LabelCounts
from .neyman_pearson import WorstCase, worst_case


@dataclass(frozen=True)
class Violation:
    """One broken promise: which check, on which attacked input, and the numbers."""

    kind: str
    attacked: AttackedInput
    detail: str


@dataclass(frozen=True)
class GroundTruthReport:
    """Clause NP.2 for one (M, g, setting, budget).

    ``min_margin`` is the least Pr(g(Y)=A) - max_{l != A} Pr(g(Y)=l) over
    S(M, R); ``attacked`` is |S(M, R)|, ``changed`` how many of them get an
    ensemble label other than A (allowed only when not certified),
    ``undefined`` how many keep fewer than k pooled elements (ablation only).  ``sound`` is True when no
    violation was found.
    """

    label: int
    p_a: Fraction
    p_b: Fraction
    decision: Theorem1Decision
    attacked: int
    min_margin: Fraction
    violations: tuple[Violation, ...]
    undefined: int = 0
    changed: int = 0

    @property
    def certified(self) -> bool:
        return self.decision.certified

    @property
    def sound(self) -> bool:
        return not self.violations


def top_two(counts: LabelCounts) -> tuple[int, Fraction, Fraction]:
    """(A, Pr(A), max_{l != A} Pr(l)), A the ensemble label."""
    a = counts.ensemble_label
    p = counts.probabilities
    p_b = max((p[l] for l in range(len(p)) if l != a), default=Fraction(0))
    return a, p[a], p_b


def _broken_promises(m_prime: AttackedInput, counts: LabelCounts, label: int, decision) -> list[Violation]:
    """NP.2's checks of one attacked input against Theorem 1: the label (if certified), Eq. 4, Eq. 5."""
    probs = counts.probabilities
    top_other = max((probs[l] for l in range(len(probs)) if l != label), default=Fraction(0))
    out = []
    if decision.certified and counts.ensemble_label != label:
        out.append(Violation(
            "label", m_prime, f"certified label {label} but the ensemble says {counts.ensemble_label}: {probs}"))
    if probs[label] < decision.lower_a:
        out.append(Violation("lower_a", m_prime, f"Pr(A) = {probs[label]} < Eq. 4 = {decision.lower_a}"))
    if top_other > decision.upper_b:
        out.append(Violation("upper_b", m_prime, f"max Pr(l != A) = {top_other} > Eq. 5 = {decision.upper_b}"))
    return out


def _beats_worst_case(m_prime: AttackedInput, pr_a: Fraction, top_other: Fraction, wc: WorstCase) -> list[Violation]:
    """NP.2's cross-check: no attacked input may do better than NP.1's exact worst case for its budget."""
    if pr_a < wc.min_pr_a or top_other > wc.max_pr_b:
        return [Violation("neyman_pearson", m_prime,
                          f"Pr(A) = {pr_a}, max other = {top_other} beat the NP.1 worst case "
                          f"({wc.min_pr_a}, {wc.max_pr_b}) at budget {m_prime.used}")]
    return []


def audit(
    m: Sequence[Sequence[int]],
    setting: Setting,
    budget: Budget,
    classifier: BaseClassifier,
    alphabet: int,
    *,
    cross_check: bool = True,
    limit: int = DEFAULT_ATTACKED_LIMIT,
) -> GroundTruthReport:
    """Run the clause NP.2 oracle: certify M exactly, then try every M' in S(M, R).

    Guarantee (what a sound Theorem 1 implies, and what the report checks):
    if ``report.certified`` then the ensemble label of every M' in S(M, R) is
    ``report.label``; and for every M', Pr(g(Y)=A) >= decision.lower_a and
    Pr(g(Y)=l) <= decision.upper_b for l != A.  With ``cross_check`` every M'
    is also compared with the exact NP.1 worst case for the elements it used.
    """
    m = check_input(m, alphabet)
    if len(m) != setting.modalities:
        raise ValueError(f"the input has {len(m)} modalities, the setting {setting.modalities}")
    if tuple(len(mi) for mi in m) != setting.n:
        raise ValueError(f"the input's sizes {[len(mi) for mi in m]} differ from n = {list(setting.n)}")
    masses = SubsampleMasses.for_budget(setting, budget)
    max_lengths = [att.rule.longest(n, r) for n, r, att in zip(setting.n, budget.r, budget.attack)]
    counter = LabelCounter(setting, classifier, alphabet, max_lengths)
    label, p_a, p_b = top_two(counter.counts(m))
    decision = decide(p_a, p_b, masses)
    np_cache: dict[tuple[int, ...], WorstCase] = {}
    violations: list[Violation] = []
    min_margin: Fraction | None = None
    attacked = undefined = changed = 0
    for m_prime in attacked_inputs(m, budget, alphabet, limit):
        attacked += 1
        counts = counter.counts(m_prime.values)
        if counts.total == 0:
            undefined += 1
            # fewer than k pooled elements are left (ablation, deletions without the additions):
            # the ensemble is undefined.  Only possible when sum(e) < k, i.e. P_e = 0, where
            # Theorem 1 cannot certify; a certificate here would be unsound.
            if decision.certified:
                violations.append(Violation("label", m_prime, "certified, but M' has no sub-sample of size k"))
            continue
        probs = counts.probabilities
        top_other = max((probs[l] for l in range(len(probs)) if l != label), default=Fraction(0))
        margin = probs[label] - top_other
        min_margin = margin if min_margin is None else min(min_margin, margin)
        changed += counts.ensemble_label != label
        violations += _broken_promises(m_prime, counts, label, decision)
        if cross_check:
            used = m_prime.used
            if used not in np_cache:
                np_cache[used] = worst_case(setting, Budget(used, budget.attack), p_a, p_b).randomized
            violations += _beats_worst_case(m_prime, probs[label], top_other, np_cache[used])
    assert min_margin is not None  # M itself is always in S(M, R), and has total > 0
    return GroundTruthReport(label, p_a, p_b, decision, attacked, min_margin, tuple(violations), undefined, changed)
