"""The reference certifier: votes -> Clopper-Pearson -> Theorem 1 (clauses CP.4, T1, R1).

Everything here is exact: big integers for the binomial products, exact
decimals rounded to the safe side for the confidence bounds.  This is the
engine every other path in the package is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from ..threat_model import Attack, Budget, Method, Setting, attacked_sizes, budget_ratio
from ..threat_model import max_radius_multiplier, parse_attacks
from ..threat.alpha import alpha_fraction
from ..votes import Votes
from .clopper_pearson import cp_lower, cp_upper
from .monotone import last_true
from .theorem1 import SubsampleMasses, Theorem1Decision, decide


@dataclass(frozen=True)
class LabelBounds:
    """Clauses CP.4-CP.7: bounds on the top two label probabilities from one bound method.

    ``bonferroni`` (CP.4, the default): each bound one-sided at level alpha / C, so with probability
    >= 1 - alpha: p_A >= p_a_lower and p_l <= p_b_upper for every l != A.  ``complement`` (CP.6) and
    ``combined`` (CP.7) take p_A at ``level`` and p_B from 1 - p_A (and a per-label bound at
    ``level_b``).  ``level`` is always p_A's one-sided level.
    """

    label: int
    runner_up: int | None
    p_a_lower: Fraction
    p_b_upper: Fraction
    level: Fraction
    #: the bound method (clause CP.5: fixed before the votes are seen)
    rule: str = "bonferroni"
    #: the per-label upper bound's level (equal to ``level`` for bonferroni; None when unused)
    level_b: Fraction | None = None


def label_bounds(votes: Votes, alpha, bound="bonferroni") -> LabelBounds:
    """Clauses CP.4-CP.7: p_A lower and p_B upper by the bound method ``bound`` (default CP.4).

    ``bonferroni``: each at one-sided level alpha / C (exactly as before the methods were pluggable).
    """
    from ..bounds.rules import BoundName, bound_rule

    rule = bound_rule(bound)
    alpha = alpha_fraction(alpha)
    n = votes.total
    if rule.name is BoundName.BONFERRONI:  # CP.4, computed as it always was
        level = alpha / votes.classes
        return LabelBounds(
            label=votes.label,
            runner_up=votes.runner_up,
            p_a_lower=cp_lower(votes.n_a, n, level),
            p_b_upper=cp_upper(votes.n_b, n, level) if votes.classes > 1 else Fraction(0),
            level=level,
            rule=rule.name.value,
            level_b=level if votes.classes > 1 else None,
        )
    ex = rule.exact(votes.n_a, votes.n_b, n, votes.classes, alpha)
    return LabelBounds(votes.label, votes.runner_up, ex.p_a_lower, ex.p_b_upper, ex.level_a,
                       rule.name.value, ex.level_b)


@dataclass(frozen=True)
class Certification:
    """The reference engine's answer for one input and one budget (clause T1)."""

    method: Method
    votes: Votes
    alpha: Fraction
    setting: Setting
    budget: Budget
    bounds: LabelBounds
    masses: SubsampleMasses
    decision: Theorem1Decision

    @property
    def label(self) -> int:
        return self.bounds.label

    @property
    def certified(self) -> bool:
        return self.decision.certified


def certify(counts: Sequence[int], alpha, n: Sequence[int], k: Sequence[int], r: Sequence[int],
            attack: str | Sequence[str] = "modify", method: Method | str = Method.MMCERT,
            bound="bonferroni") -> Certification:
    """Certify the ensemble's label for one input against budget r (clause T1).

    Guarantee: with probability at least 1 - alpha over the N sub-samples that
    produced ``counts``, if ``certified`` is True then the ensemble's label
    (A = argmax of the counts) is the same for every attacked input in
    S(M, R), R = r with the given attack per modality.  ``bound`` names the bound method
    (clauses CP.4-CP.7; fixed before the votes are seen, CP.5).
    """
    votes = Votes(tuple(counts))
    setting = Setting(tuple(n), tuple(k), Method(method))
    budget = Budget(tuple(r), parse_attacks(attack, len(tuple(r))))
    sizes = attacked_sizes(setting, budget)
    bounds = label_bounds(votes, alpha, bound)
    masses = SubsampleMasses.of(sizes)
    decision = decide(bounds.p_a_lower, bounds.p_b_upper, masses)
    return Certification(
        setting.method, votes, alpha_fraction(alpha), setting, budget, bounds, masses, decision
    )


@dataclass(frozen=True)
class RadiusResult:
    """Clause R1: the largest t >= 0 with r = t * ratio certified; None if not even t = 0."""

    label: int
    radius: int | None
    ratio: tuple[int, ...]
    attack: tuple[Attack, ...]
    bounds: LabelBounds
    #: the largest t for which r = t*ratio is a valid budget at all (None: unbounded)
    search_limit: int | None


def certified_at(bounds: LabelBounds, setting: Setting, budget: Budget) -> bool:
    """Clause T1.4 for given bounds, setting and budget (no re-estimation of the bounds)."""
    masses = SubsampleMasses.for_budget(setting, budget)
    return decide(bounds.p_a_lower, bounds.p_b_upper, masses).certified


def radius(counts: Sequence[int], alpha, n: Sequence[int], k: Sequence[int], ratio: Sequence[int],
           attack: str | Sequence[str] = "modify", method: Method | str = Method.MMCERT,
           bound="bonferroni") -> RadiusResult:
    """Clause R1: the largest integer t >= 0 such that r = (t*c_1, ..., t*c_T) is certified.

    Certification is monotone in every r_i (clause T1.5), so the certified t
    form an interval {0, ..., t*}; t* is found by exponential then binary
    search, each probe an exact Theorem 1 decision.
    """
    votes = Votes(tuple(counts))
    setting = Setting(tuple(n), tuple(k), Method(method))
    ratio = budget_ratio(ratio, setting.modalities)
    attacks = parse_attacks(attack, setting.modalities)
    bounds = label_bounds(votes, alpha, bound)
    limit = max_radius_multiplier(setting, ratio, attacks)

    def ok(t: int) -> bool:
        return certified_at(bounds, setting, Budget(tuple(t * c for c in ratio), attacks))

    return RadiusResult(votes.label, last_certified(ok, limit), ratio, attacks, bounds, limit)


def last_certified(ok, limit: int | None) -> int | None:
    """Clause R1's search: the largest t in [0, limit] with ok(t), for ok monotone (true then false).

    None when ok(0) is false.  Exponential search from 0, then bisection; each
    probe is one call of ``ok`` (an exact Theorem 1 decision in the engines).
    """
    if not ok(0):
        return None
    lo, step = 0, 1  # ok(lo) holds
    while True:
        t = lo + step if limit is None else min(lo + step, limit)
        if t == lo:  # reached the limit, which holds
            return lo
        if not ok(t):
            hi = t
            break
        lo, step = t, step * 2
    return last_true(ok, lo, hi)
