"""Executable algebra behind Theorem 1 (spec clauses T1.1-T1.4, S3, S4 and deviation notes).

Every function here *derives* something with sympy and returns a frozen record
saying what was shown and whether it held; nothing is hard-coded as an answer.
Importing the module has no side effects: call :func:`all_checks` (or a single
function) to run the derivations.  The tests in ``tests/unit/test_spec_algebra.py``
load this file by path and assert every check, then spot-check the symbolic
results against the exact-integer reference engine.

Symbols (paper, Section 4.2 and Appendix A):

* ``P_n  = prod_i C(n_i, k_i)``   sub-samples of the clean input M (Eq. 28),
* ``P_n' = prod_i C(n'_i, k_i)``  sub-samples of the attacked input M' (Eq. 29),
* ``P_e  = prod_i C(e_i, k_i)``   sub-samples drawn only from shared elements, i.e. |B~| (Eq. 16, 30, 31),
* ``a = floor(p_A P_n)`` so that ``p_A - delta_l = a / P_n`` (Theorem 1's delta_l),
* ``b = ceil(p_B P_n)``  so that ``p_B + delta_u = b / P_n`` (Theorem 1's delta_u).

Checks:

(a) :func:`integer_form` -- Eq. 4 > Eq. 5  <=>  a - b > P_n + P_n' - 2 P_e (clause T1.4).
(b) :func:`likelihood_ratio` -- on B~ the Y/X likelihood ratio is rho = P_n / P_n' and
    rho * Pr(X in B~) = Pr(Y in B~).
(c) :func:`eq36_discrepancy` -- printed Eq. 36 minus Eq. 4 is P_e/P_n - P_e/P_n':
    zero for modification, positive (Eq. 36 overstates the lower bound: unsound) for
    addition, negative for deletion.  :func:`binomial_monotone` proves the fact the
    signs rest on (C(m, k) strictly increasing in m for 1 <= k <= m).
(d) :func:`pooled_sizes` -- the randomized-ablation baseline pools the T lists into one;
    its (n, e, n') are the sums, which equal the single-list table (clause S3) applied
    with the pooled budget sum_i r_i; :func:`eq14_matches_pooled_modify` shows the
    paper's Eq. 14 is Eq. 4 >= Eq. 5 with those pooled sizes (modification, no rounding).
"""

# no ``from __future__ import annotations``: dataclasses would then need the module in
# sys.modules, and the tests load this file by path with importlib.
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "AlgebraCheck",
    "Discrepancy",
    "PooledSizes",
    "ATTACKS",
    "theorem_symbols",
    "eq4",
    "eq5",
    "eq36_printed",
    "rounding_identities",
    "integer_form",
    "likelihood_ratio",
    "eq36_derived_equals_eq4",
    "binomial_monotone",
    "eq36_discrepancy",
    "single_list_sizes",
    "pooled_sizes",
    "eq14_matches_pooled_modify",
    "all_checks",
]

#: the attack types of clause S2, as the strings the package uses
ATTACKS = ("modify", "add", "delete")


@dataclass(frozen=True)
class AlgebraCheck:
    """One symbolic derivation: ``residual`` simplifies to 0 exactly when ``holds``."""

    clause: str
    statement: str
    residual: sp.Expr
    holds: bool

    @classmethod
    def vanishing(cls, clause: str, statement: str, *residuals: sp.Expr, provided: bool = True) -> "AlgebraCheck":
        """The check that every one of ``residuals`` is 0: ``residual`` is their column matrix, and
        ``holds`` is true exactly when that matrix is zero and ``provided`` (a side condition) is true."""
        residual = sp.Matrix(list(residuals))
        return cls(clause, statement, residual, bool(residual.is_zero_matrix) and provided)


@dataclass(frozen=True)
class Discrepancy:
    """Printed Eq. 36 minus Eq. 4 for one attack type, with the sign sympy derived.

    ``sign`` is +1 (Eq. 36 is larger: an overstated lower bound, unsound), 0, or -1
    (Eq. 36 is smaller: sound but loose).  ``assumptions`` says what the sign needs.
    """

    attack: str
    difference: sp.Expr
    sign: int
    assumptions: str


@dataclass(frozen=True)
class PooledSizes:
    """Sizes of the pooled list of the baseline (clause S4) for one attack type and T."""

    attack: str
    modalities: int
    n: sp.Expr
    e: sp.Expr
    n_prime: sp.Expr
    check: AlgebraCheck


def theorem_symbols() -> dict[str, sp.Symbol]:
    """The symbols of Theorem 1; the masses and a, b are positive (a, b may be 0 in
    practice; positivity is only used for P_n' in (a) and is stated there)."""
    P_n, P_np, P_e = sp.symbols("P_n P_nprime P_e", positive=True)
    a, b = sp.symbols("a b", real=True)
    p, delta = sp.symbols("p delta", real=True)
    return {"P_n": P_n, "P_np": P_np, "P_e": P_e, "a": a, "b": b, "p": p, "delta": delta}


def eq4(a_over_pn: sp.Expr, P_n: sp.Expr, P_np: sp.Expr, P_e: sp.Expr) -> sp.Expr:
    """Eq. 4 with p_A - delta_l given as ``a_over_pn`` (paper, Theorem 1)."""
    return P_n / P_np * (a_over_pn - 1 + P_e / P_n)


def eq5(b_over_pn: sp.Expr, P_n: sp.Expr, P_np: sp.Expr, P_e: sp.Expr) -> sp.Expr:
    """Eq. 5 with p_B + delta_u given as ``b_over_pn`` (paper, Theorem 1)."""
    return P_n / P_np * b_over_pn + 1 - P_e / P_np


def eq36_printed(a_over_pn: sp.Expr, P_n: sp.Expr, P_np: sp.Expr, P_e: sp.Expr) -> sp.Expr:
    """Eq. 36 exactly as printed in Appendix A: (P_n/P_n')(p - delta_l - 1) + P_e/P_n."""
    return P_n / P_np * (a_over_pn - 1) + P_e / P_n


def rounding_identities() -> AlgebraCheck:
    """With the paper's delta_l, delta_u: p_A - delta_l = floor(p_A P_n)/P_n and
    p_B + delta_u = ceil(p_B P_n)/P_n (so a and b are the integers of clause T1.2)."""
    s = theorem_symbols()
    p, P_n = s["p"], s["P_n"]
    delta_l = p - sp.floor(p * P_n) / P_n  # Theorem 1's definition
    delta_u = sp.ceiling(p * P_n) / P_n - p  # Theorem 1's definition
    return AlgebraCheck.vanishing(
        "T1.2",
        "p_A - delta_l = floor(p_A P_n)/P_n and p_B + delta_u = ceil(p_B P_n)/P_n",
        sp.simplify((p - delta_l) - sp.floor(p * P_n) / P_n),
        sp.simplify((p + delta_u) - sp.ceiling(p * P_n) / P_n),
    )


def integer_form() -> AlgebraCheck:
    """(a) Eq. 4 - Eq. 5 = (a - b - (P_n + P_n' - 2 P_e)) / P_n'.

    Since P_n' > 0 (it counts the sub-samples of M', at least one when n'_i >= k_i),
    the strict inequality Eq. 4 > Eq. 5 holds exactly when the integer inequality
    a - b > P_n + P_n' - 2 P_e holds (clause T1.4).
    """
    s = theorem_symbols()
    P_n, P_np, P_e, a, b = s["P_n"], s["P_np"], s["P_e"], s["a"], s["b"]
    diff = eq4(a / P_n, P_n, P_np, P_e) - eq5(b / P_n, P_n, P_np, P_e)
    integer_side = a - b - (P_n + P_np - 2 * P_e)
    residual = sp.simplify(sp.together(diff * P_np) - integer_side)
    # the factor multiplied through must be positive for the equivalence of strict inequalities
    positive_factor = bool(P_np.is_positive)
    return AlgebraCheck(
        "T1.4",
        "P_n' * (Eq.4 - Eq.5) = a - b - (P_n + P_n' - 2 P_e), and P_n' > 0",
        residual,
        residual == 0 and positive_factor,
    )


def likelihood_ratio() -> AlgebraCheck:
    """(b) From Eq. 28/29 on B~: Pr(X=E) = 1/P_n, Pr(Y=E) = 1/P_n', |B~| = P_e.

    Then rho = Pr(Y=E)/Pr(X=E) = P_n/P_n' for every E in B~, beta_X = Pr(X in B~) =
    P_e/P_n, beta_Y = Pr(Y in B~) = P_e/P_n', and rho * beta_X = beta_Y.
    """
    s = theorem_symbols()
    P_n, P_np, P_e = s["P_n"], s["P_np"], s["P_e"]
    pmf_x = 1 / P_n  # Eq. 28 on A~ u B~
    pmf_y = 1 / P_np  # Eq. 29 on B~ u C~
    rho = sp.simplify(pmf_y / pmf_x)
    beta_x = P_e * pmf_x  # |B~| = P_e sub-samples, each of mass 1/P_n  (Eq. 30)
    beta_y = P_e * pmf_y  # (Eq. 31)
    return AlgebraCheck.vanishing(
        "T1 proof (Eq. 35)",
        "rho = P_n/P_n' on B~ and rho * Pr(X in B~) = Pr(Y in B~)",
        sp.simplify(rho - P_n / P_np),
        sp.simplify(rho * beta_x - beta_y),
    )


def eq36_derived_equals_eq4() -> AlgebraCheck:
    """The construction of Eq. 33-35 gives Eq. 4, not the printed Eq. 36.

    Pr(X in B~') = p_A - delta_l - Pr(X in A~) = a/P_n - (1 - P_e/P_n) (Eq. 30), and
    Pr(Y in B~') = rho * Pr(X in B~') with rho = P_n/P_n' (Eq. 35).
    """
    s = theorem_symbols()
    P_n, P_np, P_e, a = s["P_n"], s["P_np"], s["P_e"], s["a"]
    pr_x_bprime = a / P_n - (1 - P_e / P_n)
    pr_y_bprime = P_n / P_np * pr_x_bprime
    residual = sp.simplify(pr_y_bprime - eq4(a / P_n, P_n, P_np, P_e))
    return AlgebraCheck(
        "T1 proof (Eq. 36)",
        "rho * (a/P_n - Pr(X in A~)) equals Eq. 4",
        residual,
        residual == 0,
    )


def binomial_monotone() -> AlgebraCheck:
    """C(m+1, k) - C(m, k) = C(m, k-1) (Pascal), and C(m+1, k)/C(m, k) = (m+1)/(m+1-k) > 1
    for 1 <= k <= m: each factor of P_n' grows under addition and shrinks under deletion.
    """
    m, k = sp.symbols("m k", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)  # j = m + 1 - k >= 1 when k <= m
    pascal = sp.combsimp(sp.binomial(m + 1, k) - sp.binomial(m, k) - sp.binomial(m, k - 1))
    ratio = sp.combsimp(sp.binomial(m + 1, k) / sp.binomial(m, k))
    excess = sp.simplify(ratio.subs(m, j + k - 1) - 1)  # = k / j
    return AlgebraCheck.vanishing(
        "S3 (monotone C(m,k))",
        "C(m+1,k) - C(m,k) = C(m,k-1); C(m+1,k)/C(m,k) - 1 = k/(m+1-k) > 0 for 1 <= k <= m",
        sp.simplify(pascal),
        sp.simplify(excess - k / j),
        provided=bool((k / j).is_positive),
    )


def eq36_discrepancy(attack: str) -> Discrepancy:
    """(c) Printed Eq. 36 minus Eq. 4, and its sign for one attack type (all modalities alike).

    The difference is P_e/P_n - P_e/P_n' whatever the attack.  The sign follows from
    how P_n' compares with P_n (by :func:`binomial_monotone`, with every k_i >= 1, some
    r_i >= 1, and P_e > 0, i.e. e_i >= k_i):

    * modify: n'_i = n_i, so P_n' = P_n;
    * add:    n'_i = n_i + r_i, so P_n' = P_n + D with D > 0;
    * delete: n'_i = n_i - r_i, so P_n = P_n' + D with D > 0.

    sympy decides the sign of the substituted difference from positivity alone.
    """
    s = theorem_symbols()
    P_n, P_np, P_e, a = s["P_n"], s["P_np"], s["P_e"], s["a"]
    D = sp.Symbol("D", positive=True)
    diff = sp.simplify(eq36_printed(a / P_n, P_n, P_np, P_e) - eq4(a / P_n, P_n, P_np, P_e))
    general = sp.simplify(diff - (P_e / P_n - P_e / P_np))
    if general != 0:  # pragma: no cover - would mean the printed equation was transcribed wrongly
        raise AssertionError(f"Eq. 36 - Eq. 4 is not P_e/P_n - P_e/P_n': residual {general}")
    if attack == "modify":
        spec = sp.simplify(diff.subs(P_np, P_n))
        why = "P_n' = P_n (n'_i = n_i)"
    elif attack == "add":
        spec = sp.factor(sp.simplify(diff.subs(P_np, P_n + D)))
        why = "P_n' = P_n + D, D > 0 (n'_i = n_i + r_i, some r_i >= 1, all k_i >= 1), P_e > 0"
    elif attack == "delete":
        P0 = sp.Symbol("P_nprime0", positive=True)
        spec = sp.factor(sp.simplify(diff.subs({P_np: P0, P_n: P0 + D})))
        why = "P_n = P_n' + D, D > 0 (n'_i = n_i - r_i >= k_i, some r_i >= 1, all k_i >= 1), P_e > 0"
    else:
        raise ValueError(f"unknown attack {attack!r}: use one of {ATTACKS}")
    if spec.is_zero:
        sign = 0
    elif spec.is_positive:
        sign = 1
    elif spec.is_negative:
        sign = -1
    else:  # pragma: no cover - sympy could not decide: the caller sees it fail
        raise AssertionError(f"cannot decide the sign of {spec} for {attack}")
    return Discrepancy(attack, spec, sign, why)


def single_list_sizes(attack: str, n: sp.Expr, r: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """Clause S3 for one list: (e, n') from (n, r) -- the table under Theorem 1."""
    if attack == "modify":
        return n - r, n
    if attack == "add":
        return n, n + r
    if attack == "delete":
        return n - r, n - r
    raise ValueError(f"unknown attack {attack!r}: use one of {ATTACKS}")


def pooled_sizes(attack: str, modalities: int) -> PooledSizes:
    """(d) The baseline's pooled sizes for T = ``modalities`` lists, all under ``attack``.

    The pooled list is the concatenation m = [m_1, ..., m_T] (paper, Section 5.1,
    "Compared Method"), so n = sum n_i, and the shared elements and the attacked
    list are concatenations too: e = sum e_i, n' = sum n'_i.  The check: these sums
    equal the single-list table applied to the pooled list with budget sum r_i.
    """
    if modalities < 1:
        raise ValueError("at least one modality")
    ns = sp.symbols(f"n1:{modalities + 1}", integer=True, nonnegative=True)
    rs = sp.symbols(f"r1:{modalities + 1}", integer=True, nonnegative=True)
    per = [single_list_sizes(attack, n_i, r_i) for n_i, r_i in zip(ns, rs)]
    n = sp.Add(*ns)
    e = sp.Add(*[p[0] for p in per])
    n_prime = sp.Add(*[p[1] for p in per])
    e_single, np_single = single_list_sizes(attack, n, sp.Add(*rs))
    check = AlgebraCheck.vanishing(
        "S4",
        f"{attack}, T={modalities}: (sum e_i, sum n'_i) = table(sum n_i, sum r_i)",
        sp.expand(e - e_single),
        sp.expand(n_prime - np_single),
    )
    return PooledSizes(attack, modalities, n, e, n_prime, check)


def eq14_matches_pooled_modify() -> AlgebraCheck:
    """Eq. 14 (the baseline's condition, as printed) is Eq. 4 >= Eq. 5 for the pooled
    modification sizes P_n = P_n' = C(n, k), P_e = C(n - sum r, k), without rounding."""
    n, k, R = sp.symbols("n k R", integer=True, positive=True)
    pA, pB = sp.symbols("pA pB", real=True)
    P = sp.binomial(n, k)
    Pe = sp.binomial(n - R, k)
    lhs14 = pA - 1 + Pe / P
    rhs14 = pB + 1 - Pe / P
    theorem = eq4(pA, P, P, Pe) - eq5(pB, P, P, Pe)
    residual = sp.simplify(theorem - (lhs14 - rhs14))
    return AlgebraCheck(
        "S4 (Eq. 14)",
        "Eq.4 - Eq.5 with pooled modification sizes equals Eq.14 LHS - RHS",
        residual,
        residual == 0,
    )


def all_checks() -> list[AlgebraCheck]:
    """Every check of this module (pooled sizes for T = 1..3)."""
    out = [
        rounding_identities(),
        integer_form(),
        likelihood_ratio(),
        eq36_derived_equals_eq4(),
        binomial_monotone(),
        eq14_matches_pooled_modify(),
    ]
    for attack in ATTACKS:
        for t in (1, 2, 3):
            out.append(pooled_sizes(attack, t).check)
    return out
