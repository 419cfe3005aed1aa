"""Adaptive sampling with an anytime-valid confidence sequence (spec clause CS.1).

Votes are drawn in rounds whose cumulative sizes N_1 < N_2 < ... < N_J = N_max are fixed in advance
(:class:`Schedule`).  Round j applies the chosen bound method (CP.4-CP.7) to the N_j votes at family level

    alpha_j = alpha / (j (j + 1))  for j < J,     alpha_J = alpha / J,

which sum to exactly alpha (sum_{j<J} 1/(j(j+1)) = 1 - 1/J).  By the union bound over rounds, with
probability at least 1 - alpha the method's statements hold at every round at once, so a certificate
issued at a data-dependent stopping round (optional stopping) keeps the 1 - alpha guarantee.  A fixed-N
bound applied at every round does not: its failures accumulate over the rounds
(``tests/bounds/test_sequential.py``).  Exact: each round is the reference engine's ``label_bounds``.
"""

from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

from ..errors import InvalidParameterError
from ..reference.certify import LabelBounds, alpha_fraction, certified_at, label_bounds
from ..reference.clopper_pearson import cp_lower, cp_upper
from ..reference.theorem1 import SubsampleMasses, decide
from ..threat_model import Budget, Setting, attacked_sizes
from ..votes import Votes


@dataclass(frozen=True)
class Schedule:
    """Cumulative vote counts N_1 < ... < N_J of the rounds, fixed before any vote is drawn (CS.1)."""

    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if isinstance(self.sizes, (str, bytes)) or not hasattr(self.sizes, "__iter__"):
            raise InvalidParameterError(f"a schedule is a sequence of integer sizes, got {self.sizes!r}")
        bad = [x for x in self.sizes if isinstance(x, bool) or not isinstance(x, numbers.Integral)]
        if bad:  # 25.5 is not a number of votes (never truncated)
            raise InvalidParameterError(f"schedule sizes must be integers, got {bad[0]!r}")
        s = tuple(int(x) for x in self.sizes)
        if not s or s[0] < 1 or any(b <= a for a, b in zip(s, s[1:])):
            raise InvalidParameterError(f"a schedule needs strictly increasing positive sizes, got {list(s)[:8]}")
        object.__setattr__(self, "sizes", s)

    @classmethod
    def geometric(cls, first: int, n_max: int, factor: int = 2) -> "Schedule":
        """first, first*factor, ... capped at (and ending with) n_max."""
        if first < 1 or n_max < first or factor < 2:
            raise InvalidParameterError("need 1 <= first <= n_max and factor >= 2")
        out, n = [], first
        while n < n_max:
            out.append(n)
            n *= factor
        out.append(n_max)
        return cls(tuple(out))

    @property
    def rounds(self) -> int:
        return len(self.sizes)

    def level(self, alpha, round_: int) -> Fraction:
        """alpha_j (CS.1): alpha/(j(j+1)) before the last round, alpha/J at the last; they sum to alpha."""
        alpha = alpha_fraction(alpha)
        J = self.rounds
        if not 1 <= round_ <= J:
            raise InvalidParameterError(f"round {round_} is not in 1..{J}")
        return alpha / J if round_ == J else alpha / (round_ * (round_ + 1))


def round_bounds(counts: Sequence[int], alpha, schedule: Schedule, round_: int, bound="bonferroni") -> LabelBounds:
    """Clause CS.1: the bounds of round j (its N_j votes at level alpha_j); the count must be N_j."""
    votes = Votes(tuple(counts))
    if votes.total != schedule.sizes[round_ - 1]:
        raise InvalidParameterError(
            f"round {round_} of the schedule has {schedule.sizes[round_ - 1]} votes, the counts sum to {votes.total}")
    return label_bounds(votes, schedule.level(alpha, round_), bound)


class Status(str, enum.Enum):
    """Per budget, after a round: certified, cannot be certified even by the round's optimistic bounds, or open."""

    CERTIFIED = "certified"
    HOPELESS = "hopeless"
    OPEN = "open"


def budget_status(counts: Sequence[int], bounds: LabelBounds, setting: Setting, budget: Budget) -> Status:
    """Whether a budget is decided after a round.  HOPELESS is a cost heuristic only (stopping without a
    certificate is always safe): even p_A = its upper CP bound and p_B = the runner-up's lower CP bound at
    the round's level would not certify."""
    if certified_at(bounds, setting, budget):
        return Status.CERTIFIED
    v = Votes(tuple(counts))
    opt_a = cp_upper(v.n_a, v.total, bounds.level)
    opt_b = cp_lower(v.n_b, v.total, bounds.level) if v.classes > 1 else Fraction(0)
    masses = SubsampleMasses.of(attacked_sizes(setting, budget))
    return Status.OPEN if decide(opt_a, opt_b, masses).certified else Status.HOPELESS


@dataclass(frozen=True)
class SequentialResult:
    """Where adaptive sampling stopped: the round, its cumulative counts and bounds, and the verdicts."""

    round: int
    counts: tuple[int, ...]
    bounds: LabelBounds
    certified: tuple[bool, ...]
    schedule: Schedule

    @property
    def samples(self) -> int:
        """Forward passes spent: N at the stopping round."""
        return sum(self.counts)


def certify_sequential(
    draw: Callable[[int], Sequence[int]],
    alpha,
    schedule: Schedule,
    setting: Setting,
    budgets: Sequence[Budget],
    bound="bonferroni",
) -> SequentialResult:
    """Clause CS.1: draw votes round by round (``draw(m)`` returns the counts of m new votes), stop as soon as
    every budget is certified or hopeless, or at N_max.

    Guarantee: with probability at least 1 - alpha over all the votes, every budget reported certified is
    correct (the union bound over rounds of CS.1 covers the data-dependent stopping round).
    """
    if not budgets:
        raise InvalidParameterError("adaptive sampling needs at least one budget to decide")
    total: list[int] | None = None
    done = 0
    for j, size in enumerate(schedule.sizes, start=1):
        new = [int(c) for c in draw(size - done)]
        if sum(new) != size - done:
            raise InvalidParameterError(f"draw({size - done}) returned {sum(new)} votes")
        total = new if total is None else [a + b for a, b in zip(total, new)]
        done = size
        b = round_bounds(total, alpha, schedule, j, bound)
        status = [budget_status(total, b, setting, r) for r in budgets]
        if j == schedule.rounds or Status.OPEN not in status:
            return SequentialResult(j, tuple(total), b, tuple(s is Status.CERTIFIED for s in status), schedule)
    raise AssertionError("unreachable: the last round always returns")  # pragma: no cover
