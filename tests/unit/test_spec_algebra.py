"""spec/algebra.py: every symbolic check holds, and agrees with exact-integer arithmetic.

The module is loaded from its file path (it is not part of the package).  Numeric
spot-checks use the reference engine's exact integers (math.comb products) and
Fractions, so they are independent of sympy's simplifier.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

from mmcert_verified.reference.theorem1 import SubsampleMasses, decide
from mmcert_verified.threat_model import Budget, Method, Setting, attacked_sizes

ALGEBRA_PATH = Path(__file__).resolve().parents[2] / "spec" / "algebra.py"


@pytest.fixture(scope="module")
def algebra():
    name = "mmcert_spec_algebra_under_test"
    spec = importlib.util.spec_from_file_location(name, ALGEBRA_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


# Small exact settings used for numeric spot checks: (n, k, r, attack).
SPOT_SETTINGS = [
    ((10,), (2,), (1,), "modify"),
    ((10,), (2,), (1,), "add"),
    ((10,), (2,), (1,), "delete"),
    ((6, 5), (1, 2), (1, 2), "modify"),
    ((6, 5), (1, 2), (1, 2), "add"),
    ((6, 5), (1, 2), (1, 2), "delete"),
    ((108, 79380), (5, 1000), (8, 8), "modify"),  # the paper's RAVDESS sizes
]


def test_import_has_no_side_effects_and_exposes_checks(algebra):
    # importing defines functions only; all_checks() does the work on demand
    assert callable(algebra.all_checks)
    assert set(algebra.ATTACKS) == {"modify", "add", "delete"}


def test_every_check_holds(algebra):
    checks = algebra.all_checks()
    assert len(checks) >= 6 + 9  # 6 derivations + pooled sizes for 3 attacks x T = 1..3
    failed = [(c.clause, c.statement, c.residual) for c in checks if not c.holds]
    assert not failed, failed


def test_rounding_identities(algebra):
    c = algebra.rounding_identities()
    assert c.holds and c.residual.is_zero_matrix


def test_integer_form_symbolic(algebra):
    c = algebra.integer_form()
    assert c.holds
    assert c.residual == 0


def test_integer_form_harness_detects_a_wrong_threshold(algebra):
    # negative control: the same manipulation with a wrong threshold (P_e counted once)
    # must leave a non-zero residual, so the check above is able to fail.
    s = algebra.theorem_symbols()
    P_n, P_np, P_e, a, b = s["P_n"], s["P_np"], s["P_e"], s["a"], s["b"]
    diff = algebra.eq4(a / P_n, P_n, P_np, P_e) - algebra.eq5(b / P_n, P_n, P_np, P_e)
    wrong = a - b - (P_n + P_np - P_e)
    assert sp.simplify(sp.together(diff * P_np) - wrong) != 0


@pytest.mark.parametrize("n,k,r,attack", SPOT_SETTINGS)
@pytest.mark.parametrize("pa,pb", [(Fraction(9, 10), Fraction(1, 10)), (Fraction(2, 3), Fraction(1, 5)),
                                   (Fraction(999, 1000), Fraction(1, 1000))])
def test_integer_form_numeric_matches_decide(algebra, n, k, r, attack, pa, pb):
    # Eq. 4 - Eq. 5 evaluated exactly with sympy Rationals at the engine's masses; the
    # sign must be the engine's verdict and the value P_n' * difference must be the
    # integer a - b - threshold the engine computed.
    sizes = attacked_sizes(Setting(n, k), Budget(r, (attack,) * len(n)))
    m = SubsampleMasses.of(sizes)
    d = decide(pa, pb, m)
    P_n, P_np, P_e = (sp.Integer(m.p_n), sp.Integer(m.p_n_prime), sp.Integer(m.p_e))
    diff = algebra.eq4(sp.Rational(d.a) / P_n, P_n, P_np, P_e) - algebra.eq5(sp.Rational(d.b) / P_n, P_n, P_np, P_e)
    assert diff * P_np == d.a - d.b - d.threshold
    assert (diff > 0) == d.certified
    assert Fraction(int(sp.numer(diff)), int(sp.denom(diff))) == d.gap


def test_likelihood_ratio_symbolic(algebra):
    c = algebra.likelihood_ratio()
    assert c.holds


@pytest.mark.parametrize("n,k,r,attack", SPOT_SETTINGS[:6])
def test_likelihood_ratio_by_enumeration(n, k, r, attack):
    # Enumerate the sub-samples of tiny lists explicitly: elements 0..n_i-1 of M; the
    # attack removes the first r_i (modify/delete) and adds r_i fresh ones (modify/add).
    # Count |B~| (tuples of subsets of shared elements) and check rho*beta_X == beta_Y
    # with rho = P_n/P_n' -- computed from the enumeration, not from the formula.
    from itertools import combinations, product

    m_sets, mp_sets = [], []
    for i, (n_i, r_i) in enumerate(zip(n, r)):
        clean = [(i, j) for j in range(n_i)]
        fresh = [(i, "new", j) for j in range(r_i)]
        if attack == "modify":
            attacked = clean[r_i:] + fresh
        elif attack == "add":
            attacked = clean + fresh
        else:
            attacked = clean[r_i:]
        m_sets.append(clean)
        mp_sets.append(attacked)
    xs = set(product(*[combinations(ms, k_i) for ms, k_i in zip(m_sets, k)]))
    ys = set(product(*[combinations(ms, k_i) for ms, k_i in zip(mp_sets, k)]))
    shared = xs & ys
    p_n, p_np, p_e = len(xs), len(ys), len(shared)
    sizes = attacked_sizes(Setting(n, k), Budget(r, (attack,) * len(n)))
    m = SubsampleMasses.of(sizes)
    assert (p_n, p_np, p_e) == (m.p_n, m.p_n_prime, m.p_e)
    rho = Fraction(1, p_np) / Fraction(1, p_n)  # Y/X likelihood ratio of one element of B~
    assert rho * Fraction(p_e, p_n) == Fraction(p_e, p_np)


def test_eq36_derivation_gives_eq4(algebra):
    assert algebra.eq36_derived_equals_eq4().holds


def test_binomial_monotone(algebra):
    assert algebra.binomial_monotone().holds


@pytest.mark.parametrize("attack,expected_sign", [("modify", 0), ("add", 1), ("delete", -1)])
def test_eq36_discrepancy_sign(algebra, attack, expected_sign):
    # expected signs: brief/hand argument -- P_n' = P_n (modify), > P_n (add), < P_n (delete),
    # and the difference is P_e (P_n' - P_n) / (P_n P_n').
    d = algebra.eq36_discrepancy(attack)
    assert d.sign == expected_sign


def test_eq36_discrepancy_rejects_unknown_attack(algebra):
    with pytest.raises(ValueError):
        algebra.eq36_discrepancy("swap")


@pytest.mark.parametrize("n,k,r,attack", SPOT_SETTINGS[:6])
def test_eq36_discrepancy_numeric(algebra, n, k, r, attack):
    # Exact Fractions: printed Eq. 36 - Eq. 4 = P_e/P_n - P_e/P_n', sign as derived.
    sizes = attacked_sizes(Setting(n, k), Budget(r, (attack,) * len(n)))
    m = SubsampleMasses.of(sizes)
    p = Fraction(9, 10)
    a = (p.numerator * m.p_n) // p.denominator
    eq4 = Fraction(m.p_n, m.p_n_prime) * (Fraction(a, m.p_n) - 1 + Fraction(m.p_e, m.p_n))
    eq36 = Fraction(m.p_n, m.p_n_prime) * (Fraction(a, m.p_n) - 1) + Fraction(m.p_e, m.p_n)
    diff = eq36 - eq4
    assert diff == Fraction(m.p_e, m.p_n) - Fraction(m.p_e, m.p_n_prime)
    sign = (diff > 0) - (diff < 0)
    assert sign == algebra.eq36_discrepancy(attack).sign
    # and the sympy expression, evaluated at these numbers, gives the same value
    s = algebra.theorem_symbols()
    expr = algebra.eq36_printed(s["a"] / s["P_n"], s["P_n"], s["P_np"], s["P_e"]) - algebra.eq4(
        s["a"] / s["P_n"], s["P_n"], s["P_np"], s["P_e"]
    )
    val = expr.subs({s["a"]: a, s["P_n"]: m.p_n, s["P_np"]: m.p_n_prime, s["P_e"]: m.p_e})
    assert Fraction(int(sp.numer(val)), int(sp.denom(val))) == diff


def test_eq36_unsound_for_addition_concrete():
    # Hand case: n = 10, k = 2, add r = 1: P_n = C(10,2) = 45, P_n' = C(11,2) = 55, P_e = 45.
    # True lower bound on Pr[g(Y)=A] for p_A = 1 (a = 45) is Eq. 4 = (45 - 45 + 45)/55 = 9/11:
    # the adversary's 10 new sub-samples (those containing the added element) can all vote B.
    # Printed Eq. 36 = (45/55)(1 - 1) + 45/45 = 1, i.e. claims A survives with probability 1.
    p_n, p_np, p_e = math.comb(10, 2), math.comb(11, 2), math.comb(10, 2)
    assert (p_n, p_np, p_e) == (45, 55, 45)
    eq4 = Fraction(p_n, p_np) * (1 - 1 + Fraction(p_e, p_n))
    eq36 = Fraction(p_n, p_np) * (1 - 1) + Fraction(p_e, p_n)
    assert eq4 == Fraction(9, 11)
    assert eq36 == 1
    # the best possible for A after the attack: all 45 old sub-samples vote A, the 10 new vote B
    assert Fraction(45, 55) == eq4 < eq36


@pytest.mark.parametrize("attack", ["modify", "add", "delete"])
@pytest.mark.parametrize("T", [1, 2, 3])
def test_pooled_sizes_symbolic(algebra, attack, T):
    ps = algebra.pooled_sizes(attack, T)
    assert ps.check.holds


@pytest.mark.parametrize("attack", ["modify", "add", "delete"])
@pytest.mark.parametrize("n,r", [((108, 79380), (8, 8)), ((10, 20, 30), (1, 0, 5)), ((7,), (3,))])
def test_pooled_sizes_match_threat_model(algebra, attack, n, r):
    # the sympy pooled expressions evaluated at concrete numbers must equal what
    # threat_model.attacked_sizes computes for the ablation baseline
    T = len(n)
    ps = algebra.pooled_sizes(attack, T)
    subs = {sp.Symbol(f"n{i + 1}", integer=True, nonnegative=True): n[i] for i in range(T)}
    subs.update({sp.Symbol(f"r{i + 1}", integer=True, nonnegative=True): r[i] for i in range(T)})
    k = 1  # any k <= every pooled size
    sizes = attacked_sizes(Setting(n, (k,), Method.ABLATION), Budget(r, (attack,) * T))
    assert (int(ps.n.subs(subs)), int(ps.e.subs(subs)), int(ps.n_prime.subs(subs))) == (
        sizes.n[0],
        sizes.e[0],
        sizes.n_prime[0],
    )
    # hand value for the first row, modify: n = 108 + 79380 = 79488, e = 79488 - 16 = 79472
    if n == (108, 79380) and attack == "modify":
        assert (sizes.n[0], sizes.e[0], sizes.n_prime[0]) == (79488, 79472, 79488)


def test_pooled_sizes_rejects_bad_input(algebra):
    with pytest.raises(ValueError):
        algebra.pooled_sizes("modify", 0)
    with pytest.raises(ValueError):
        algebra.single_list_sizes("swap", sp.Integer(3), sp.Integer(1))


def test_eq14_is_pooled_modification(algebra):
    assert algebra.eq14_matches_pooled_modify().holds


def test_pooled_masses_are_products_of_sums():
    # Spot check of S4 with exact integers: the baseline's masses are C(sum n, k) etc.
    n, k, r = (6, 5), 3, (1, 2)
    sizes = attacked_sizes(Setting(n, (k,), Method.ABLATION), Budget(r, ("modify", "modify")))
    m = SubsampleMasses.of(sizes)
    # hand: C(11,3) = 165, e = 11 - 3 = 8, C(8,3) = 56
    assert (m.p_n, m.p_n_prime, m.p_e) == (165, 165, 56)
