"""Clause CS.1: the alpha spending sums to alpha, rounds are exact reference bounds, and the sequential
guarantee holds under optional stopping (Monte Carlo), where a fixed-N bound at every round fails."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mmcert_verified.bounds.sequential import Schedule, certify_sequential, round_bounds
from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.reference.certify import alpha_fraction, certify, label_bounds
from mmcert_verified.reference.clopper_pearson import cp_lower, cp_upper
from mmcert_verified.threat_model import Budget, Method, Setting, parse_attacks
from mmcert_verified.votes import Votes


def test_spending_sums_to_alpha_exactly():
    for J in (1, 2, 5, 11):
        s = Schedule(tuple(range(1, J + 1)))
        assert sum(s.level("0.001", j) for j in range(1, J + 1)) == Fraction(1, 1000)


def test_schedule_validation_and_geometric():
    assert Schedule.geometric(25, 1000).sizes == (25, 50, 100, 200, 400, 800, 1000)
    with pytest.raises(InvalidParameterError):
        Schedule((10, 10))
    with pytest.raises(InvalidParameterError):
        round_bounds([5, 5], "0.01", Schedule((10, 20)), 2)


def test_round_bounds_are_the_reference_at_the_spent_level():
    s = Schedule((10, 20, 40))
    got = round_bounds([30, 6, 4], "0.01", s, 3, "complement")
    assert got == label_bounds(Votes((30, 6, 4)), Fraction(1, 300), "complement")  # alpha_3 = alpha / J = alpha/3


def _cp_lower_binomial(successes, trials, level):
    """The test's own CP lower bound for the coverage counts (the package's exact CP.1)."""
    return cp_lower(int(successes), int(trials), level)


def _failure_rate(levels, sizes, p, paths, seed):
    """Fraction of seeded Bernoulli(p) paths on which the lower bound at some round exceeds p."""
    rng = np.random.default_rng(seed)
    steps = np.diff((0,) + tuple(sizes))
    fails = 0
    for _ in range(paths):
        s = np.cumsum(rng.binomial(steps, p))
        if any(_cp_lower_binomial(si, n, lv) > p for si, n, lv in zip(s, sizes, levels)):
            fails += 1
    return fails


SIZES = (10, 20, 40, 80, 160, 320)
ALPHA = Fraction(1, 10)
P = Fraction(1, 2)
PATHS = 1500


def test_sequential_levels_cover_under_optional_stopping():
    """Stopping at the first round whose bound exceeds p is the worst optional stopping; CS.1's levels keep
    that probability <= alpha: a one-sided CP upper bound (level 1e-3) on the failure rate is <= alpha."""
    sched = Schedule(SIZES)
    fails = _failure_rate([sched.level(ALPHA, j) for j in range(1, len(SIZES) + 1)], SIZES, P, PATHS, seed=1)
    assert cp_upper(fails, PATHS, Fraction(1, 1000)) <= ALPHA


def test_fixed_n_bound_at_every_round_fails_the_same_simulation():
    """The fixed-N level alpha at every round: failures accumulate; a CP lower bound (level 1e-3) on the
    failure rate exceeds alpha (measured rate about 0.3 with these six rounds)."""
    fails = _failure_rate([ALPHA] * len(SIZES), SIZES, P, PATHS, seed=1)
    assert cp_lower(fails, PATHS, Fraction(1, 1000)) > ALPHA


RAVDESS = Setting((108, 79380), (5, 1000), Method.MMCERT)


def test_certify_sequential_stops_early_on_confident_inputs_and_matches_the_reference():
    rng = np.random.default_rng(0)
    probs = np.array([0.97, 0.01, 0.01, 0.01])
    budgets = [Budget((1, 1), parse_attacks("modify", 2))]
    sched = Schedule.geometric(25, 1000)
    res = certify_sequential(lambda m: rng.multinomial(m, probs), "0.001", sched, RAVDESS, budgets, "combined")
    assert res.samples < 1000 and res.certified == (True,)
    # the stopping round's verdict is the reference's at that round's level
    level = sched.level("0.001", res.round)
    assert certify(res.counts, level, RAVDESS.n, RAVDESS.k, (1, 1), "modify", "mmcert", "combined").certified


class _FixedLevels(Schedule):
    """The invalid alternative CS.1 rules out: the fixed-N level alpha at every round."""

    def level(self, alpha, round_):
        return alpha_fraction(alpha)


#: a tie p = (1/2, 1/2), r = 0: every certificate claims Pr[g = A] > Pr[g = B], which is false, so the
#: stopping rule's failure probability is Pr[some round certifies]; P_n = C(40, 20)^2 ~ 1.9e22 makes
#: T1.2's rounding negligible (and the masses cheap)
TIE = Setting((40, 40), (20, 20), Method.MMCERT)


def _wrong_certificates(schedule, paths, seed):
    rng = np.random.default_rng(seed)
    budgets = [Budget((0, 0), parse_attacks("modify", 2))]
    wrong = 0
    for _ in range(paths):
        res = certify_sequential(lambda m: rng.multinomial(m, [0.5, 0.5]), ALPHA, schedule, TIE, budgets)
        wrong += res.certified[0]
    return wrong


def test_certify_sequential_keeps_alpha_under_optional_stopping_where_fixed_levels_do_not():
    """The whole procedure (certify_sequential's stopping rule, CP.4 bounds, T1.4) on a tie: with CS.1's
    levels a wrong certificate is issued with probability <= alpha (one-sided CP upper bound, level 1e-3, on
    the measured rate); with alpha at every round on the same paths, > alpha (CP lower bound at 1e-3; measured
    failure rates about 0.025 and 0.24 with these eight rounds)."""
    paths, sizes = 400, (8, 16, 24, 32, 40, 48, 56, 64)
    sequential = _wrong_certificates(Schedule(sizes), paths, seed=2)
    fixed = _wrong_certificates(_FixedLevels(sizes), paths, seed=2)
    assert cp_upper(sequential, paths, Fraction(1, 1000)) <= ALPHA
    assert cp_lower(fixed, paths, Fraction(1, 1000)) > ALPHA


@pytest.mark.parametrize("sizes", [(25.5, 50), ("25", 50), (True, 5), "2550", 25])
def test_schedule_refuses_what_is_not_a_list_of_integer_sizes(sizes):
    """CS.1: a schedule's sizes are numbers of votes; 25.5 is refused, never truncated to 25."""
    with pytest.raises(InvalidParameterError):
        Schedule(sizes)


def test_schedule_accepts_numpy_integers():
    import numpy as np

    assert Schedule(tuple(np.array([25, 50]))).sizes == (25, 50)
