"""How tight is Theorem 1?  Closed form versus the exact NP.1 optimum (clauses NP.1, T1.2, T1.4).

For one instance (setting, budget, p_A, p_B) :func:`compare` computes

* ``exact``: the randomised worst-case gap of clause NP.1 (enumerated);
* ``exact_deterministic``: the same over deterministic base classifiers;
* ``theorem1``: Eq. 4 - Eq. 5 with the paper's delta rounding
  (a = floor(p_A P_n), b = ceil(p_B P_n)), i.e. ``decide(...).gap``;
* ``theorem1_unrounded``: Eq. 4 - Eq. 5 with delta_l = delta_u = 0
  (a = p_A P_n, b = p_B P_n, not integers);
* ``theorem1_deterministic``: Eq. 4 - Eq. 5 rounded the other way
  (a = ceil(p_A P_n), b = floor(p_B P_n)), valid only for deterministic g,
  whose label probabilities are multiples of 1/P_n.

``python -m mmcert_verified.enumeration.tightness`` runs the sweep recorded in
spec/enumeration-findings.md.
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass
from fractions import Fraction

from ..errors import InvalidParameterError
from ..reference.theorem1 import SubsampleMasses, decide
from ..threat_model import Attack, Budget, Method, Setting, attacked_sizes
from .joint_space import JointSpace, joint_space
from .neyman_pearson import check_bounds, deterministic_worst_case_from_groups, worst_case_from_groups


@dataclass(frozen=True)
class Tightness:
    """Theorem 1's gap and the exact optima for one instance (see the module docstring)."""

    setting: Setting
    budget: Budget
    p_a: Fraction
    p_b: Fraction
    masses: SubsampleMasses
    certified: bool
    exact: Fraction
    exact_deterministic: Fraction
    theorem1: Fraction
    theorem1_unrounded: Fraction
    theorem1_deterministic: Fraction

    @property
    def slack(self) -> Fraction:
        """exact - theorem1: what the closed form with the paper's rounding gives away."""
        return self.exact - self.theorem1

    @property
    def slack_unrounded(self) -> Fraction:
        return self.exact - self.theorem1_unrounded


def closed_form_gap(a: Fraction, b: Fraction, m: SubsampleMasses) -> Fraction:
    """Eq. 4 - Eq. 5 for given (possibly fractional) a = p_A P_n and b = p_B P_n."""
    return Fraction(a - m.p_n + m.p_e, m.p_n_prime) - Fraction(b + m.p_n_prime - m.p_e, m.p_n_prime)


def compare(setting: Setting, budget: Budget, p_a, p_b, space: JointSpace | None = None) -> Tightness:
    """Theorem 1 versus the exact optima for one instance (``space``: a precomputed joint space)."""
    p_a, p_b = check_bounds(p_a, p_b)
    masses = SubsampleMasses.for_budget(setting, budget)
    decision = decide(p_a, p_b, masses)
    if space is None:
        space = joint_space(setting, budget)
    randomized = worst_case_from_groups(space.groups, p_a, p_b)
    deterministic = deterministic_worst_case_from_groups(space.groups, p_a, p_b)
    det = closed_form_gap(Fraction(math.ceil(p_a * masses.p_n)), Fraction(math.floor(p_b * masses.p_n)), masses)
    return Tightness(
        setting, budget, p_a, p_b, masses, decision.certified,
        randomized.gap, deterministic.gap, decision.gap,
        closed_form_gap(p_a * masses.p_n, p_b * masses.p_n, masses), det,
    )


def sweep(max_n: int = 4, max_r: int = 2, grid: int = 23):
    """Every setting with T <= 2, n_i <= max_n, every k, r_i <= max_r, every attack, both methods,
    p_A on the grid j/grid, p_B = 1 - p_A (two labels) and (1 - p_A)/2 (three labels)."""
    for t in (1, 2):
        for n in itertools.product(range(1, max_n + 1), repeat=t):
            for method in Method:
                ks = (itertools.product(*(range(1, ni + 1) for ni in n)) if method is Method.MMCERT
                      else ((k,) for k in range(1, sum(n) + 1)))
                for k in ks:
                    setting = Setting(n, tuple(k), method)
                    for r in itertools.product(range(max_r + 1), repeat=t):
                        for att in itertools.product(list(Attack), repeat=t):
                            try:
                                budget = Budget(r, att)
                                attacked_sizes(setting, budget)
                            except InvalidParameterError:
                                continue
                            space = joint_space(setting, budget)
                            for j in range(1, grid + 1):
                                p_a = Fraction(j, grid)
                                for p_b in sorted({1 - p_a, (1 - p_a) / 2}):
                                    yield compare(setting, budget, p_a, p_b, space)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a measurement script
    rows = list(sweep())
    cert = [x for x in rows if x.certified]
    lost = [x for x in rows if x.exact > 0 and not x.certified]
    lost_unrounded = [x for x in rows if x.exact > 0 and not x.theorem1_unrounded > 0]
    regime = [x for x in rows if x.p_a >= 1 - Fraction(x.masses.p_e, x.masses.p_n)]
    det_gain = [x for x in rows if x.exact_deterministic > 0 and not x.exact > 0]
    unsound = [x for x in rows if x.certified and not x.exact > 0]
    print(f"instances: {len(rows)}; Theorem 1 certifies {len(cert)}; unsound (certified, exact <= 0): {len(unsound)}")
    print(f"max slack (rounded): {max(x.slack for x in rows)}  = {float(max(x.slack for x in rows)):.4g}")
    print(f"max slack among certified: {max((x.slack for x in cert), default=0)}")
    print(f"max slack unrounded: {max(x.slack_unrounded for x in rows)}; "
          f"in regime p_A >= 1 - P_e/P_n ({len(regime)} rows): {max((x.slack_unrounded for x in regime), default=0)}")
    print(f"min slack unrounded: {min(x.slack_unrounded for x in rows)}")
    print(f"exact > 0 but Theorem 1 not certified (rounding loss): {len(lost)}; unrounded loses {len(lost_unrounded)}")
    print(f"deterministic-only certificates (exact_det > 0 >= exact): {len(det_gain)}")
    print(f"theorem1_deterministic == exact_deterministic in regime: "
          f"{sum(x.theorem1_deterministic == x.exact_deterministic for x in regime)} of {len(regime)}")
    worst = sorted(rows, key=lambda x: -x.slack)[:3]
    for x in worst + lost[:5]:
        print(f"  n={x.setting.n} k={x.setting.k} {x.setting.method.value} r={x.budget.r} "
              f"{[a.value for a in x.budget.attack]} p_A={x.p_a} p_B={x.p_b} masses=({x.masses.p_n},"
              f"{x.masses.p_n_prime},{x.masses.p_e}) exact={x.exact} theorem1={x.theorem1} "
              f"unrounded={x.theorem1_unrounded} det={x.exact_deterministic}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
