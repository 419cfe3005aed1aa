"""One input, one call, without torch: the fast engine's decision for the CLI (spec clauses F.1, F.4, R1).

Importing torch costs seconds; a single ``certify`` or ``radius`` needs two Clopper-Pearson entries
(F.3) and a Delta bracket (F.2).  This module makes exactly the decisions of the batched engine
(:mod:`.classify`) in float64 with numpy/scipy: certified when G_lo > Delta_hi, not certified when
G_hi <= Delta_lo, the reference otherwise; for radii, t_sure / t_no from the monotone brackets.  So
its answers equal the reference's (F.1), and the default engine is never the slower one (issue 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from ..reference import certify as ref
from ..threat_model import Budget, Method, Setting, attacked_sizes, budget_ratio, max_radius_multiplier, parse_attacks
from ..votes import Votes
from .confidence import lower_entries, upper_entries
from .delta import delta_along, delta_bounds, log_pn_lower
from .ratios import U


@dataclass(frozen=True)
class GapInterval:
    """[lo, hi] bracketing the reference's (a - b) / P_n for one input (clause F.4), float64."""

    label: int
    lo: float
    hi: float


def fits_int64(counts) -> bool:
    """Whether vote counts (and their total) fit int64 (the batched engine's tensors)."""
    return all(0 <= int(c) < 2**62 for c in counts) and sum(int(c) for c in counts) < 2**62


def gap_interval(votes: Votes, alpha: Fraction, log_pn_lo: float) -> GapInterval:
    """F.4's G_lo, G_hi in float64 (u = 2**-53): the same formulas as ``classify.gap_bounds``."""
    N, C = votes.total, votes.classes
    level = alpha / C
    low, rel_a = lower_entries(N, level, [votes.n_a], with_rel=True)
    p_a, rel_a = float(low[0]), float(rel_a[0])
    if C > 1:
        up, rel_b = upper_entries(N, level, [votes.n_b], with_rel=True)
        p_b, rel_b = float(up[0]), float(rel_b[0])
    else:
        p_b, rel_b = 0.0, 0.0
    two_over_pn = 2.0 * float(np.exp(-log_pn_lo)) if log_pn_lo < 700 else 0.0
    lo = p_a - p_b - two_over_pn - 8 * U
    hi = p_a * (1 + rel_a + 4 * U) - p_b * (1 - rel_b - 4 * U) + 8 * U
    return GapInterval(votes.label, lo, hi)


def certify_decision(counts, alpha, n, k, r, attack, method, reference: Callable[[], bool] | None = None) -> bool:
    """One input, one budget; ``reference()`` (default: the reference engine) answers a deferral.

    Counts beyond int64 go to the reference whole (it works with Python integers)."""
    alpha = ref.alpha_fraction(alpha)
    setting = Setting(tuple(n), tuple(k), Method(method))
    attacks = parse_attacks(attack, setting.modalities)
    budget = Budget(tuple(r), attacks)
    attacked_sizes(setting, budget)  # validate exactly as the reference does

    def exact() -> bool:
        if reference is not None:
            return bool(reference())
        return ref.certify(list(counts), alpha, setting.n, setting.k, budget.r, attacks, setting.method).certified

    votes = Votes(tuple(counts))
    if not fits_int64(counts):
        return exact()
    d = delta_bounds(setting, np.asarray([budget.r], dtype=np.int64), attacks)
    g = gap_interval(votes, alpha, log_pn_lower(setting))
    if g.lo > float(d.hi[0]):
        return True
    if g.hi <= float(d.lo[0]):
        return False
    return exact()


def radius_value(counts, alpha, n, k, ratio: Sequence[int], attack, method) -> int | None:
    """One input's radius along ``ratio`` (clause R1); None when not certified at t = 0."""
    alpha = ref.alpha_fraction(alpha)
    setting = Setting(tuple(n), tuple(k), Method(method))
    ratio = budget_ratio(ratio, setting.modalities)
    attacks = parse_attacks(attack, setting.modalities)
    votes = Votes(tuple(counts))

    def exact() -> int | None:
        return ref.radius(list(counts), alpha, setting.n, setting.k, ratio, attacks, setting.method).radius

    if not fits_int64(counts):
        return exact()
    limit = max_radius_multiplier(setting, ratio, attacks)
    d = delta_along(setting, ratio, attacks, limit)
    if d is None:  # outside F.2's float range
        return exact()
    g = gap_interval(votes, alpha, log_pn_lower(setting))
    t = bracket_radius(monotone_brackets(d), g.lo, g.hi)
    return exact() if t is UNDECIDED else t


#: a radius the float brackets leave open (the reference decides it)
UNDECIDED = "undecided"


def monotone_brackets(d) -> tuple[np.ndarray, np.ndarray]:
    """(hi_mono, lo_mono): running maxima of Delta_hi and Delta_lo along t.  Delta is monotone in t (T1.5),
    so lo_mono is still a lower bound on Delta(t), and hi_mono an upper bound."""
    return np.maximum.accumulate(d.hi), np.maximum.accumulate(d.lo)


def bracket_radius(brackets: tuple[np.ndarray, np.ndarray], g_lo: float, g_hi: float):
    """Clause F.4's radius from the gap bracket: t_sure (every t <= t_sure surely certified) when t_no (surely
    not certified from t_no on) is t_sure + 1 -- None when that is t = -1 --, else UNDECIDED."""
    hi_mono, lo_mono = brackets
    t_sure = int(np.searchsorted(hi_mono, g_lo, side="left")) - 1
    t_no = int(np.searchsorted(lo_mono, g_hi, side="left"))
    if t_no != t_sure + 1:
        return UNDECIDED
    return None if t_sure < 0 else t_sure
