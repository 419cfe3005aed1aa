"""Vote counts of the base model and the labels they select (clause V1).

``N_l`` counts the sub-sampled inputs on which the base model predicted label
``l``; ``N = sum N_l``.  The ensemble predicts A = argmax_l N_l (the lowest
index on ties) and the runner-up is B = argmax_{l != A} N_l (lowest index on
ties).  With a single class there is no runner-up: N_B = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .errors import InvalidParameterError


@dataclass(frozen=True)
class Votes:
    """Counts N_1..N_C of the base model's labels over N sub-samples (clause V1)."""

    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        counts = tuple(self.counts)
        if not counts:
            raise InvalidParameterError("no vote counts given")
        clean = []
        for c in counts:
            if isinstance(c, bool) or not hasattr(c, "__index__"):
                raise InvalidParameterError(f"vote counts must be integers, got {c!r}")
            c = int(c.__index__())
            if c < 0:
                raise InvalidParameterError(f"vote counts must be non-negative, got {c}")
            clean.append(c)
        if sum(clean) == 0:
            raise InvalidParameterError("vote counts are all zero: there is nothing to certify")
        object.__setattr__(self, "counts", tuple(clean))

    @classmethod
    def of(cls, counts: Iterable[int]) -> "Votes":
        return cls(tuple(counts))

    @property
    def total(self) -> int:
        """N, the number of sub-samples voted."""
        return sum(self.counts)

    @property
    def classes(self) -> int:
        """C, the number of labels (the length of the count vector)."""
        return len(self.counts)

    @property
    def label(self) -> int:
        """A: the argmax, lowest index on ties."""
        best = max(self.counts)
        return self.counts.index(best)

    @property
    def runner_up(self) -> int | None:
        """B: the argmax over l != A, lowest index on ties; None when C = 1."""
        if self.classes == 1:
            return None
        a = self.label
        rest = [(c, -i) for i, c in enumerate(self.counts) if i != a]
        c, neg_i = max(rest)
        return -neg_i

    @property
    def n_a(self) -> int:
        return self.counts[self.label]

    @property
    def n_b(self) -> int:
        b = self.runner_up
        return 0 if b is None else self.counts[b]
