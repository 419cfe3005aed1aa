"""Confidence-bound methods: how the N votes become p_A (lower) and p_B (upper) (clauses CP.4-CP.7, CS.1).

One class per method (:mod:`.rules`), chosen by name from :data:`~.rules.BOUND_RULES`; adding a method is
a new class and a registry line.  The method must be fixed before the votes are seen (clause CP.5).
"""

from .rules import BOUND_RULES, Bonferroni, BoundName, BoundRule, Combined, Complement, ExactBounds, bound_rule

__all__ = ["BOUND_RULES", "Bonferroni", "BoundName", "BoundRule", "Combined", "Complement", "ExactBounds",
           "bound_rule"]
