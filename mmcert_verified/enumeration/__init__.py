"""Exhaustive small-n oracles for Theorem 1 (spec clauses NP.1 and NP.2).

* :mod:`.joint_space` -- the joint space of sub-samples of M and an attacked M',
  built from labelled elements, with exact per-atom probabilities;
* :mod:`.neyman_pearson` -- the exact worst case over all base classifiers
  (clause NP.1), by a Neyman-Pearson fill checked by vertex enumeration;
* :mod:`.attacks`, :mod:`.classifiers`, :mod:`.label_distribution`,
  :mod:`.ground_truth` -- the ground-truth attack oracle (clause NP.2): concrete
  classifiers, every attacked input, exact label probabilities;
* :mod:`.tightness` -- how far Theorem 1's closed form is from the exact optimum.

Everything is exact (:class:`fractions.Fraction` and integers) and bounded:
an enumeration over its limit raises
:class:`~mmcert_verified.errors.EnumerationTooLargeError` naming the limit.
"""

from .ground_truth import GroundTruthReport, Violation, audit
from .joint_space import DEFAULT_ATOM_LIMIT, AtomGroup, JointSpace, joint_space
from .neyman_pearson import NeymanPearsonResult, WorstCase, worst_case

__all__ = [
    "DEFAULT_ATOM_LIMIT",
    "AtomGroup",
    "GroundTruthReport",
    "JointSpace",
    "NeymanPearsonResult",
    "Violation",
    "WorstCase",
    "audit",
    "joint_space",
    "worst_case",
]
