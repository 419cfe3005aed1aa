"""Clause NP.1: the exact Neyman-Pearson worst case, and Theorem 1 checked against it.

Expected values come from (a) the definitions of the sub-sampling (every
sub-sample equally likely), (b) hand computations written out in comments,
or (c) independent methods: vertex enumeration (exact), scipy's linprog on the
ungrouped atoms (float), brute force over deterministic labelings.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from scipy.optimize import linprog

from mmcert_verified.enumeration.joint_space import (
    DEFAULT_ATOM_LIMIT,
    AtomGroup,
    atom_count,
    group_atoms,
    iter_atoms,
    joint_space,
)
from mmcert_verified.enumeration.neyman_pearson import (
    check_bounds,
    deterministic_worst_case_from_groups,
    worst_case,
    worst_case_by_vertices,
    worst_case_from_groups,
)
from mmcert_verified.enumeration.tightness import compare
from mmcert_verified.errors import EnumerationTooLargeError, InvalidParameterError
from mmcert_verified.reference.theorem1 import SubsampleMasses, decide
from mmcert_verified.threat_model import Attack, Budget, Method, Setting, attacked_sizes

# --- strategies --------------------------------------------------------------------------


@st.composite
def setting_and_budget(draw, max_t: int = 3, max_n: int = 6, max_r: int = 3, max_atoms: int = 3000,
                       min_n: int = 1):
    """A valid (Setting, Budget), any method, attack per modality, k_i from 0 to n_i."""
    t = draw(st.integers(1, max_t))
    method = draw(st.sampled_from(list(Method)))
    n = tuple(draw(st.lists(st.integers(min_n, max_n), min_size=t, max_size=t)))
    if method is Method.MMCERT:
        k = tuple(draw(st.integers(0, ni)) for ni in n)
    else:
        k = (draw(st.integers(0, sum(n))),)
    att = tuple(draw(st.sampled_from(list(Attack))) for _ in range(t))
    r = tuple(draw(st.integers(0, max_r if a is Attack.ADD else min(max_r, ni))) for ni, a in zip(n, att))
    setting, budget = Setting(n, k, method), Budget(r, att)
    try:
        attacked_sizes(setting, budget)
    except InvalidParameterError:
        assume(False)
    assume(atom_count(setting, budget) <= max_atoms)
    return setting, budget


@st.composite
def bounds(draw, p_n: int):
    """(p_A, p_B), exact, in [0, 1], p_A + p_B <= 1.

    The denominator is arbitrary (like a Clopper-Pearson decimal) or a multiple
    of P_n, so p_A * P_n is sometimes an integer (delta_l = 0) and sometimes not.
    """
    den = draw(st.one_of(st.integers(1, 400), st.sampled_from([p_n, 2 * p_n, 7 * p_n])))
    p_a = Fraction(draw(st.integers(0, den)), den)
    rest = 1 - p_a
    p_b = draw(st.sampled_from([rest, rest / 2, Fraction(0), rest * Fraction(1, 3)]))
    return p_a, p_b


@st.composite
def instance(draw, **kw):
    setting, budget = draw(setting_and_budget(**kw))
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    p_a, p_b = draw(bounds(masses.p_n))
    return setting, budget, p_a, p_b


def S(n, k, method="mmcert"):
    return Setting(tuple(n), tuple(k), Method(method))


def B(r, attack):
    return Budget(tuple(r), attack)


# --- the joint space -----------------------------------------------------------------------


@given(setting_and_budget())
def test_counted_supports_are_the_theorem1_masses(sb):
    """Clause T1.1 / S3: |supp X| = P_n, |supp Y| = P_n', |both| = P_e, counted by enumeration."""
    setting, budget = sb
    space = joint_space(setting, budget)
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    assert (space.support_x, space.support_y, space.support_both) == (masses.p_n, masses.p_n_prime, masses.p_e)
    assert sum(g.mass_x for g in space.groups) == 1 and sum(g.mass_y for g in space.groups) == 1


@given(setting_and_budget(max_atoms=600))
def test_grouping_matches_the_explicit_atoms(sb):
    """joint_space's groups are exactly the (x, y) classes of the explicitly listed atoms."""
    setting, budget = sb
    atoms = list(iter_atoms(setting, budget))
    assert len({a.subsample for a in atoms}) == len(atoms)  # each atom once
    assert sum(a.x for a in atoms) == 1 and sum(a.y for a in atoms) == 1  # both are distributions
    assert group_atoms(atoms) == joint_space(setting, budget).groups


def test_worked_example_joint_space():
    # n = (4, 3), k = (2, 1), modify 1 of modality 1, add 1 to modality 2:
    # P_n = C(4,2) C(3,1) = 18; P_n' = C(4,2) C(4,1) = 24; P_e = C(3,2) C(3,1) = 9.
    space = joint_space(S((4, 3), (2, 1)), B((1, 1), ("modify", "add")))
    assert space.groups == (
        AtomGroup(Fraction(0), Fraction(1, 24), 24 - 9),  # only in M'
        AtomGroup(Fraction(1, 18), Fraction(0), 18 - 9),  # only in M
        AtomGroup(Fraction(1, 18), Fraction(1, 24), 9),  # in both
    )


# --- the exact worst case ------------------------------------------------------------------


def test_worked_example_worst_case():
    # Same instance, p_A = 9/10, p_B = 1/20.  By hand (Neyman-Pearson fill):
    # A fills "only in M" (X-mass 1/2, Y-mass 0) then 2/5 of X-mass of "both" at ratio 18/24:
    #   min Pr(Y=A) = (18/24)(9/10 - 1/2) = 3/10.
    # B takes "only in M'" (Y-mass 15/24) plus X-mass 1/20 of "both" at ratio 18/24:
    #   max Pr(Y=B) = 15/24 + (3/4)(1/20) = 53/80;  gap = 3/10 - 53/80 = -29/80.
    res = worst_case(S((4, 3), (2, 1)), B((1, 1), ("modify", "add")), Fraction(9, 10), Fraction(1, 20))
    assert (res.randomized.min_pr_a, res.randomized.max_pr_b) == (Fraction(3, 10), Fraction(53, 80))
    assert res.gap == Fraction(-29, 80)
    # deterministic: ceil(0.9*18) = 17 atoms for A: 9 free + 8 of "both" at y = 1/24 -> 1/3;
    # floor(0.05*18) = 0 atoms of supp X for B: 15/24.  gap = 1/3 - 5/8 = -7/24.
    assert res.deterministic.gap == Fraction(-7, 24)


def test_no_attack_gap_is_p_a_minus_p_b():
    # r = 0: X and Y have the same distribution, so the worst case is p_A - p_B exactly.
    res = worst_case(S((3, 2), (2, 1)), B((0, 0), ("modify",)), Fraction(3, 5), Fraction(1, 5))
    assert res.gap == Fraction(2, 5)


def test_no_shared_subsample_loses_everything():
    # modify all 2 elements, k = 1: P_e = 0, so supp X and supp Y are disjoint; the attacker
    # labels all of supp Y as B: min Pr(Y=A) = 0, max Pr(Y=B) = 1, gap = -1.
    res = worst_case(S((2,), (1,)), B((2,), ("modify",)), Fraction(1), Fraction(0))
    assert res.gap == -1


@given(instance())
@example((S((4, 3), (2, 1)), B((1, 1), ("modify", "add")), Fraction(9, 10), Fraction(1, 20)))
@example((S((1,), (0,)), B((0,), ("delete",)), Fraction(1, 2), Fraction(1, 2)))  # k = 0: one empty sub-sample
def test_theorem1_is_sound_against_the_exact_worst_case(inst):
    """NP.1 soundness, zero slack allowed: decide certifies => exact worst-case gap > 0.

    Stronger, per label: Eq. 4 <= min Pr(Y=A) and Eq. 5 >= max Pr(Y=B), hence
    decision.gap (unclamped Eq.4 - Eq.5) <= the exact gap, certified or not.
    """
    setting, budget, p_a, p_b = inst
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    decision = decide(p_a, p_b, masses)
    wc = worst_case(setting, budget, p_a, p_b).randomized
    assert decision.lower_a <= wc.min_pr_a
    assert decision.upper_b >= wc.max_pr_b
    assert decision.gap <= wc.gap
    if decision.certified:
        assert wc.gap > 0


@pytest.mark.slow
@given(instance(min_n=5, max_n=8, max_atoms=DEFAULT_ATOM_LIMIT))
def test_theorem1_is_sound_on_spaces_up_to_the_limit(inst):
    """The same soundness property on joint spaces up to the 200,000-atom limit (n_i <= 8)."""
    test_theorem1_is_sound_against_the_exact_worst_case.hypothesis.inner_test(inst)


@given(instance())
def test_unrounded_theorem1_is_exactly_the_worst_case(inst):
    """Tightness: without the delta rounding, Eq.4 - Eq.5 equals the exact optimum
    whenever p_A >= 1 - P_e/P_n (Appendix A's "we can assume"); below that both are <= 0."""
    setting, budget, p_a, p_b = inst
    t = compare(setting, budget, p_a, p_b)
    m = t.masses
    if p_a >= 1 - Fraction(m.p_e, m.p_n):
        assert t.exact == t.theorem1_unrounded
        # the rounding costs exactly (delta_l + delta_u) P_n / P_n' (definition of delta_l, delta_u)
        delta_l = p_a - Fraction(math.floor(p_a * m.p_n), m.p_n)
        delta_u = Fraction(math.ceil(p_b * m.p_n), m.p_n) - p_b
        assert t.slack == (delta_l + delta_u) * m.p_n / m.p_n_prime
    else:
        assert t.theorem1_unrounded <= t.exact <= 0


@given(instance(max_atoms=400))
def test_fill_agrees_with_vertex_enumeration(inst):
    """The greedy fill equals an independent exact method (every vertex of the grouped LP)."""
    setting, budget, p_a, p_b = inst
    groups = joint_space(setting, budget).groups
    assert worst_case_from_groups(groups, p_a, p_b).gap == worst_case_by_vertices(groups, p_a, p_b)


def _linprog_gap(atoms, p_a, p_b) -> float:
    """The NP.1 LP over *ungrouped* atoms, solved in floating point by HiGHS."""
    m = len(atoms)
    x = np.array([float(a.x) for a in atoms])
    y = np.array([float(a.y) for a in atoms])
    c = np.concatenate([y, -y])  # variables q_A(E) then q_B(E)
    a_ub = [np.concatenate([-x, np.zeros(m)]), np.concatenate([np.zeros(m), x])]
    b_ub = [-float(p_a), float(p_b)]
    coupling = np.hstack([np.eye(m), np.eye(m)])
    res = linprog(c, A_ub=np.vstack([np.array(a_ub), coupling]), b_ub=np.array(b_ub + [1.0] * m),
                  bounds=[(0, 1)] * (2 * m), method="highs")
    assert res.status == 0, res.message
    return res.fun


@given(instance(max_atoms=250))
def test_fill_agrees_with_linprog_on_ungrouped_atoms(inst):
    """Float sanity check that also checks the grouping argument (linprog never sees groups)."""
    setting, budget, p_a, p_b = inst
    atoms = list(iter_atoms(setting, budget))
    exact = worst_case(setting, budget, p_a, p_b).gap
    # p_a is nudged down by 1e-12 so a float-rounded infeasibility cannot occur
    got = _linprog_gap(atoms, float(p_a) - 1e-12 if p_a > 0 else 0.0, p_b)
    assert got == pytest.approx(float(exact), abs=1e-7)


def _brute_force_deterministic(groups, p_a, p_b) -> Fraction:
    """Min gap over deterministic labelings; by symmetry only the counts per group matter."""
    best = None
    per_group = [[(na, nb) for na in range(g.count + 1) for nb in range(g.count + 1 - na)] for g in groups]
    for choice in itertools.product(*per_group):
        pr_xa = sum(na * g.x for (na, _), g in zip(choice, groups))
        pr_xb = sum(nb * g.x for (_, nb), g in zip(choice, groups))
        if pr_xa >= p_a and pr_xb <= p_b:
            gap = sum((na - nb) * g.y for (na, nb), g in zip(choice, groups))
            best = gap if best is None else min(best, gap)
    return best


@given(instance(max_t=2, max_n=4, max_r=2, max_atoms=40))
def test_deterministic_worst_case_by_brute_force(inst):
    setting, budget, p_a, p_b = inst
    groups = joint_space(setting, budget).groups
    assume(math.prod((g.count + 1) * (g.count + 2) // 2 for g in groups) <= 20_000)
    assert deterministic_worst_case_from_groups(groups, p_a, p_b).gap == _brute_force_deterministic(groups, p_a, p_b)


@given(instance())
def test_opposite_rounding_is_sound_and_exact_for_deterministic_classifiers(inst):
    """Finding: for deterministic g (label probabilities multiples of 1/P_n) the closed form
    with a = ceil(p_A P_n), b = floor(p_B P_n) never exceeds the deterministic worst case,
    and equals it when p_A >= 1 - P_e/P_n."""
    setting, budget, p_a, p_b = inst
    t = compare(setting, budget, p_a, p_b)
    assert t.theorem1_deterministic <= t.exact_deterministic
    assert t.exact <= t.exact_deterministic  # deterministic classifiers are a subset
    if p_a >= 1 - Fraction(t.masses.p_e, t.masses.p_n):
        assert t.theorem1_deterministic == t.exact_deterministic


@given(setting_and_budget(), st.integers(1, 50), st.integers(1, 50), st.integers(1, 50))
def test_bounds_summing_over_one_are_refused_but_theorem1_stays_sound(sb, i, j, den):
    """p_A + p_B > 1 is refused; Theorem 1 with such bounds is then checked through
    p_B' = 1 - p_A (implied by p_A; Eq. 5 grows with p_B, so certifying with p_B implies p_B')."""
    setting, budget = sb
    p_a, p_b = Fraction(min(i, den), den), Fraction(min(j, den), den)
    assume(p_a + p_b > 1)
    with pytest.raises(InvalidParameterError, match="exceeds 1"):
        worst_case(setting, budget, p_a, p_b)
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    if decide(p_a, p_b, masses).certified:
        assert decide(p_a, 1 - p_a, masses).certified
        assert worst_case(setting, budget, p_a, 1 - p_a).gap > 0


# --- errors --------------------------------------------------------------------------------


def test_too_large_names_the_limit():
    with pytest.raises(EnumerationTooLargeError, match="200000"):
        worst_case(S((8, 8, 8), (4, 4, 4)), B((1, 1, 1), ("modify",)), Fraction(1, 2), Fraction(1, 4))
    # a custom limit: C(6,3) + C(6,3) - C(5,3) = 30 atoms > 29
    with pytest.raises(EnumerationTooLargeError, match="limit of 29"):
        worst_case(S((6,), (3,)), B((1,), ("modify",)), Fraction(1, 2), Fraction(1, 4), limit=29)
    assert worst_case(S((6,), (3,)), B((1,), ("modify",)), Fraction(1, 2), Fraction(1, 4), limit=30).space.atoms == 30


@pytest.mark.parametrize("p_a, p_b", [(Fraction(-1, 2), Fraction(0)), (Fraction(1), Fraction(3, 2)), ("x", 0)])
def test_bad_bounds_are_invalid_parameters(p_a, p_b):
    with pytest.raises(InvalidParameterError):
        check_bounds(p_a, p_b)


def test_invalid_budget_is_an_invalid_parameter():
    with pytest.raises(InvalidParameterError, match="fewer than k"):
        worst_case(S((3,), (2,)), B((2,), ("delete",)), Fraction(1, 2), Fraction(1, 4))
