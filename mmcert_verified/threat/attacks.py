"""One class per attack on the elements of one modality (spec clauses S2, S3, SEG.5).

An attack of budget r on a modality of n elements is described by two integers per attacked element:

* ``loss``: how many of the modality's original elements it takes away (modify and delete: 1; add: 0), so
  ``e = n - loss * r`` originals survive in the attacked input;
* ``growth``: how the modality's length changes (add: +1, modify: 0, delete: -1), so ``n' = n + growth * r``.

Everything the rest of the package needs follows from these (clause S3's table): the attacked sizes, the
radius cap (an attack that removes originals can remove at most n - k of them before some P_e = 0,
clause R1), the longest list an attack of *at most* r can leave (enumeration, audit size checks), the
attacked-only elements n' - e, and the pooled baseline's deletions (clause S4).  What differs beyond the
sizes is a method of the class: how the certified segmentation metrics account for the r_o attacked
pixels (clause SEG.5).  Adding an attack is a new subclass and one line in :data:`RULES` (and a member of
:class:`Attack`, the name users write).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Attack(str, enum.Enum):
    """What the attacker may do to the elements of one modality (clause S2); ``.rule`` is its class."""

    MODIFY = "modify"
    ADD = "add"
    DELETE = "delete"

    @property
    def rule(self) -> "AttackRule":
        return RULES[self]


@dataclass(frozen=True)
class AttackRule:
    """The sizes of one attack (clause S3); subclasses fix ``loss`` and ``growth``."""

    loss = 0
    growth = 0

    @property
    def removes(self) -> bool:
        """Whether the attack takes original elements away (then r <= n, and e >= k caps the radius)."""
        return self.loss > 0

    def shared(self, n: int, r: int) -> int:
        """e: the original elements still present after an attack of r (clause S3)."""
        return n - self.loss * r

    def after(self, n: int, r: int) -> int:
        """n': the modality's length after an attack of exactly r (clause S3)."""
        return n + self.growth * r

    def inserted(self, n: int, r: int) -> int:
        """n' - e: the elements only the attacked input has."""
        return self.after(n, r) - self.shared(n, r)

    def longest(self, n: int, r: int) -> int:
        """The longest list an attack of *at most* r can leave (size bounds for enumeration and audit)."""
        return n + max(self.growth, 0) * r

    def deleted(self, r: int) -> int:
        """How many elements the attack removes from the list's length (the pooled check of clause S4)."""
        return max(-self.growth, 0) * r

    def pixel_accuracy(self, correct: int, n_o: int, r_o: int) -> float:
        """Certified pixel accuracy from ``correct`` stable correct pixels of n_o (clauses SEG.4, SEG.5)."""
        raise NotImplementedError

    def worst_counts(self, tp: int, wrong: int, r_o: int) -> tuple[int, int]:
        """One class's (TP, FP + FN) after the attack's r_o pixels count against it (clause SEG.5)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Modify(AttackRule):
    """Replace up to r elements: n' = n, e = n - r (clause S3).  Pixels stay n_o (SEG.4)."""

    loss = 1
    growth = 0

    def pixel_accuracy(self, correct, n_o, r_o):
        return correct / n_o

    def worst_counts(self, tp, wrong, r_o):
        return tp, wrong


@dataclass(frozen=True)
class Add(AttackRule):
    """Insert up to r elements: n' = n + r, e = n.  The r_o new pixels count as wrong (SEG.5)."""

    loss = 0
    growth = 1

    def pixel_accuracy(self, correct, n_o, r_o):
        return correct / (n_o + r_o)

    def worst_counts(self, tp, wrong, r_o):
        return tp, wrong + r_o


@dataclass(frozen=True)
class Delete(AttackRule):
    """Remove up to r elements: n' = e = n - r.  The r_o deleted pixels may be correct ones (SEG.5)."""

    loss = 1
    growth = -1

    def pixel_accuracy(self, correct, n_o, r_o):
        return max(correct - r_o, 0) / (n_o - r_o)

    def worst_counts(self, tp, wrong, r_o):
        return max(tp - r_o, 0), wrong


#: the registry: attack -> its rule (adding an attack = a subclass above + one line here + an Attack member)
RULES: dict[Attack, AttackRule] = {
    Attack.MODIFY: Modify(),
    Attack.ADD: Add(),
    Attack.DELETE: Delete(),
}
