"""The exact Neyman-Pearson worst case over all base classifiers (spec clause NP.1).

Given the joint space of sub-samples of M and M' (:mod:`.joint_space`) and the
bounds p_A, p_B, the attacker's best response is the linear program

    minimise    Pr(g(Y) = A) - Pr(g(Y) = B)
    subject to  Pr(g(X) = A) >= p_A,   Pr(g(X) = B) <= p_B,

over every *randomised* base classifier g: each atom E gets probabilities
q_A(E), q_B(E) >= 0 with q_A(E) + q_B(E) <= 1, the rest going to a third label
"other" that is not constrained (the case C >= 3 with enough labels to spread
it: the most adversarial case, so a positive optimum certifies every C).

**Grouping is exact.** The LP's coefficients depend on an atom E only through
its pair (x(E), y(E)) = (Pr(X = E), Pr(Y = E)).  Permuting atoms with equal
pairs maps feasible solutions to feasible solutions with the same objective
(symmetry), and the feasible set is convex while the objective is linear, so
averaging an optimal solution over all those permutations yields an optimal
solution that is constant on each group (convexity).  Hence the LP over atoms
has the same optimum as the LP over groups, with per-group fractions alpha_g
(labelled A) and beta_g (labelled B), masses X_g = count * x, Y_g = count * y.

**The greedy fill is optimal.** Drop the coupling alpha_g + beta_g <= 1: the
program splits into "minimise Pr(Y=A) given Pr(X=A) >= p_A" and "maximise
Pr(Y=B) given Pr(X=B) <= p_B", two fractional knapsacks solved by the
Neyman-Pearson fill -- A takes the X-mass of the groups with the smallest
likelihood ratio y/x first, B takes every group with x = 0 (free) and then the
groups with the largest ratio first.  Both fills walk the same line of total
X-mass 1 (the groups with x > 0 sorted by ratio), A from the bottom up to p_A,
B from the top down to 1 - p_B; when p_A + p_B <= 1 the two stretches do not
overlap, so the decoupled optimum is feasible for the coupled program and is
therefore its optimum.  When p_A + p_B > 1 no classifier has Pr(X=A) >= p_A
and Pr(X=B) = p_B, the bound p_B adds nothing to p_A (Pr(B) <= 1 - p_A), and
the oracle raises :class:`InvalidParameterError` asking for p_B <= 1 - p_A.

The fill is double-checked by :func:`worst_case_by_vertices`, an independent
exact method (enumerate every vertex of the grouped polytope), and in the tests
by ``scipy.optimize.linprog`` on the ungrouped atoms.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from ..errors import InvalidParameterError
from ..threat_model import Budget, Setting
from .joint_space import DEFAULT_ATOM_LIMIT, AtomGroup, JointSpace, joint_space

RANDOMIZED = "randomized"
DETERMINISTIC = "deterministic"


@dataclass(frozen=True)
class WorstCase:
    """The exact optimum of the clause NP.1 program.

    ``min_pr_a``: the least Pr(g(Y) = A) of any classifier with Pr(g(X) = A) >= p_A.
    ``max_pr_b``: the largest Pr(g(Y) = B) of any classifier with Pr(g(X) = B) <= p_B.
    Both are attained by one classifier at once (see the module docstring), so
    ``gap`` = ``min_pr_a - max_pr_b`` is the exact minimum of Pr(Y=A) - Pr(Y=B):
    the ensemble keeps label A against every such base classifier iff gap > 0.
    ``classifiers`` says over which classifiers: randomised (the LP) or
    deterministic (one label per atom).
    """

    p_a: Fraction
    p_b: Fraction
    min_pr_a: Fraction
    max_pr_b: Fraction
    classifiers: str = RANDOMIZED

    @property
    def gap(self) -> Fraction:
        return self.min_pr_a - self.max_pr_b


def check_bounds(p_a, p_b) -> tuple[Fraction, Fraction]:
    """p_A, p_B as exact fractions in [0, 1] with p_A + p_B <= 1, or InvalidParameterError."""
    try:
        p_a, p_b = Fraction(p_a), Fraction(p_b)
    except (TypeError, ValueError, ZeroDivisionError):
        raise InvalidParameterError(f"p_A and p_B must be numbers, got {p_a!r} and {p_b!r}") from None
    for name, p in (("p_A", p_a), ("p_B", p_b)):
        if not 0 <= p <= 1:
            raise InvalidParameterError(f"{name} must lie in [0, 1], got {p}")
    if p_a + p_b > 1:
        raise InvalidParameterError(
            f"p_A + p_B = {p_a + p_b} exceeds 1: no base classifier has Pr(g(X)=A) >= {p_a} "
            f"and Pr(g(X)=B) = {p_b}; Pr(B) <= 1 - p_A already holds, so pass p_B <= 1 - p_A"
        )
    return p_a, p_b


def _check_groups(groups: Sequence[AtomGroup]) -> None:
    if sum((g.mass_x for g in groups), Fraction(0)) != 1 or sum((g.mass_y for g in groups), Fraction(0)) != 1:
        raise ValueError("the groups' X- and Y-masses must each sum to 1")


def _ratio_order(groups: Sequence[AtomGroup]) -> list[AtomGroup]:
    """Groups with x > 0, by likelihood ratio y/x ascending."""
    return sorted((g for g in groups if g.x > 0), key=lambda g: g.y / g.x)


def worst_case_from_groups(groups: Sequence[AtomGroup], p_a, p_b) -> WorstCase:
    """Clause NP.1 over randomised classifiers, by the Neyman-Pearson fill (exact)."""
    p_a, p_b = check_bounds(p_a, p_b)
    _check_groups(groups)
    line = _ratio_order(groups)
    need, min_a = p_a, Fraction(0)
    for g in line:
        take = min(need, g.mass_x)
        min_a += take * g.y / g.x
        need -= take
    budget = p_b
    max_b = sum((g.mass_y for g in groups if g.x == 0), Fraction(0))
    for g in reversed(line):
        take = min(budget, g.mass_x)
        max_b += take * g.y / g.x
        budget -= take
    return WorstCase(p_a, p_b, min_a, max_b, RANDOMIZED)


def deterministic_worst_case_from_groups(groups: Sequence[AtomGroup], p_a, p_b) -> WorstCase:
    """Clause NP.1 restricted to deterministic classifiers (each atom gets one label).

    Needs every atom of supp X to have the same x = 1/|supp X| (true for the
    uniform sub-sampling of MMCert and the baseline).  Then Pr(g(X)=A) >= p_A
    means at least ceil(p_A |supp X|) atoms of supp X are labelled A and
    Pr(g(X)=B) <= p_B at most floor(p_B |supp X|); the fill of the randomised
    case, taken in whole atoms, is optimal by the same exchange argument.
    """
    p_a, p_b = check_bounds(p_a, p_b)
    _check_groups(groups)
    xs = {g.x for g in groups if g.x > 0}
    if len(xs) != 1:
        raise ValueError("deterministic worst case needs a uniform X distribution")
    (x,) = xs
    size = 1 / x
    assert size.denominator == 1
    line = _ratio_order(groups)
    need = math.ceil(p_a * size)
    min_a = Fraction(0)
    for g in line:
        take = min(need, g.count)
        min_a += take * g.y
        need -= take
    room = math.floor(p_b * size)
    max_b = sum((g.mass_y for g in groups if g.x == 0), Fraction(0))
    for g in reversed(line):
        take = min(room, g.count)
        max_b += take * g.y
        room -= take
    return WorstCase(p_a, p_b, min_a, max_b, DETERMINISTIC)


# --- independent check: vertex enumeration -------------------------------------------------


def _solve(rows: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """Exact Gauss-Jordan elimination; None when the square system is singular."""
    n = len(rows)
    a = [row[:] + [b] for row, b in zip(rows, rhs)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if a[r][col] != 0), None)
        if pivot is None:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        inv = 1 / a[col][col]
        a[col] = [v * inv for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
    return [a[r][n] for r in range(n)]


#: vertex enumeration is exponential in the number of groups; it is a cross-check for small ones
VERTEX_GROUP_LIMIT = 4


def worst_case_by_vertices(groups: Sequence[AtomGroup], p_a, p_b) -> Fraction:
    """The minimum gap of the grouped NP.1 program, by enumerating every vertex (exact).

    Variables alpha_g, beta_g per group; constraints sum X_g alpha_g >= p_A,
    sum X_g beta_g <= p_B, alpha_g + beta_g <= 1, alpha_g, beta_g >= 0.  The
    polytope is bounded, so a linear objective attains its minimum at a vertex:
    every choice of 2G linearly independent constraints held with equality is
    solved exactly and kept if feasible.  Shares nothing with the fill.
    """
    p_a, p_b = check_bounds(p_a, p_b)
    if len(groups) > VERTEX_GROUP_LIMIT:
        raise ValueError(f"vertex enumeration is limited to {VERTEX_GROUP_LIMIT} groups")
    g_n = len(groups)
    dim = 2 * g_n  # alpha_0..alpha_{G-1}, beta_0..beta_{G-1}
    zero, one = Fraction(0), Fraction(1)
    cons: list[tuple[list[Fraction], Fraction]] = []  # row . v <= rhs
    cons.append(([-g.mass_x for g in groups] + [zero] * g_n, -p_a))
    cons.append(([zero] * g_n + [g.mass_x for g in groups], p_b))
    for i in range(g_n):
        row = [zero] * dim
        row[i] = row[g_n + i] = one
        cons.append((row, one))
    for i in range(dim):
        row = [zero] * dim
        row[i] = -one
        cons.append((row, zero))
    objective = [g.mass_y for g in groups] + [-g.mass_y for g in groups]
    best: Fraction | None = None
    for chosen in itertools.combinations(range(len(cons)), dim):
        v = _solve([cons[c][0] for c in chosen], [cons[c][1] for c in chosen])
        if v is None:
            continue
        if all(sum(r * x for r, x in zip(row, v)) <= rhs for row, rhs in cons):
            value = sum(o * x for o, x in zip(objective, v))
            best = value if best is None else min(best, value)
    if best is None:  # pragma: no cover - check_bounds guarantees feasibility
        raise AssertionError("no feasible vertex")
    return best


# --- the oracle --------------------------------------------------------------------------


@dataclass(frozen=True)
class NeymanPearsonResult:
    """Clause NP.1 for one (setting, budget, p_A, p_B): the enumerated space and its worst cases."""

    setting: Setting
    budget: Budget
    space: JointSpace
    randomized: WorstCase
    deterministic: WorstCase

    @property
    def gap(self) -> Fraction:
        """The exact minimum of Pr(g(Y)=A) - Pr(g(Y)=B) over randomised base classifiers."""
        return self.randomized.gap


def worst_case(
    setting: Setting, budget: Budget, p_a, p_b, limit: int = DEFAULT_ATOM_LIMIT
) -> NeymanPearsonResult:
    """Clause NP.1: enumerate the joint space of (M, M') and solve the worst case exactly.

    Guarantee: ``result.gap`` is the exact minimum, over every randomised base
    classifier g with Pr(g(X)=A) >= p_A and Pr(g(X)=B) <= p_B (any number of
    other labels), of Pr(g(Y)=A) - Pr(g(Y)=B), where X, Y are the sub-samples
    of the original and of an attacked input with exactly the budget's sizes.
    Raises :class:`EnumerationTooLargeError` above ``limit`` atoms and
    :class:`InvalidParameterError` for an invalid budget or p_A + p_B > 1.
    """
    p_a, p_b = check_bounds(p_a, p_b)
    space = joint_space(setting, budget, limit)
    return NeymanPearsonResult(
        setting,
        budget,
        space,
        worst_case_from_groups(space.groups, p_a, p_b),
        deterministic_worst_case_from_groups(space.groups, p_a, p_b),
    )
