"""The bound methods (spec clauses CP.4-CP.7): exact p_A lower and p_B upper bounds from one vote vector.

Every method turns the votes (N_A, N_B, N, C) and the family level alpha into

* ``p_a_lower`` = CP.1(N_A, N, level_a)  (a Clopper-Pearson lower bound at the method's level), and
* ``p_b_upper`` = min over the method's upper statements: CP.2(N_B, N, level_b) and/or 1 - p_a_lower,

so that, with probability at least 1 - alpha over the N votes, a Theorem 1 certificate issued from the
pair is correct (the proofs are in ``spec/clauses.md``).  Each bound is exact (a ``Fraction`` from
:func:`~mmcert_verified.reference.clopper_pearson.cp_lower` / ``cp_upper``, CP.3's verified direction);
``1 - p_a_lower`` is exact rational arithmetic.  The fast engine uses the same levels and the float
entries of clause F.3 (``fast.classify.gap_bounds``, clause F.4's error model).

The method is chosen before the votes are seen (CP.5): reporting the best of several methods computed on
the same votes is a data-dependent choice whose coverage is not 1 - alpha.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

from ..certificates.format import exact_text
from ..errors import InvalidParameterError
from ..reference.clopper_pearson import cp_lower, cp_upper


class BoundName(str, enum.Enum):
    """The registered bound methods (CLI ``--bound``, certificate ``alpha_split.rule``)."""

    BONFERRONI = "bonferroni"
    COMPLEMENT = "complement"
    COMBINED = "combined"


@dataclass(frozen=True)
class ExactBounds:
    """p_A lower and p_B upper bounds of one vote vector, exact, with the levels they were taken at."""

    p_a_lower: Fraction
    p_b_upper: Fraction
    level_a: Fraction
    #: the one-sided level of the per-label upper bound (None: the method uses none, or C = 1)
    level_b: Fraction | None


class BoundRule:
    """A bound method: its levels, whether p_B may use 1 - p_A, and the exact bounds (clause CP.4-CP.7).

    Subclasses set ``name`` and override :meth:`level_a`, :meth:`level_b` and ``complement``; a method
    that is not of this form (e.g. randomized Clopper-Pearson) overrides :meth:`exact` and has its own
    fast path.
    """

    name: BoundName
    #: whether p_B <= 1 - p_A is one of the method's upper statements
    complement: bool = False
    #: the spec clause that states and proves the method
    clause: str = ""

    def level_a(self, alpha: Fraction, classes: int) -> Fraction:
        raise NotImplementedError

    def level_b(self, alpha: Fraction, classes: int) -> Fraction | None:
        raise NotImplementedError

    def exact(self, n_a: int, n_b: int, total: int, classes: int, alpha: Fraction) -> ExactBounds:
        """The method's bounds for counts N_A, N_B of N votes over C labels (exact Fractions)."""
        alpha = Fraction(alpha)
        la = self.level_a(alpha, classes)
        p_a = cp_lower(n_a, total, la)
        if classes == 1:  # V1: no runner-up, p_B := 0
            return ExactBounds(p_a, Fraction(0), la, None)
        lb = self.level_b(alpha, classes)
        candidates = []
        if lb is not None:
            candidates.append(cp_upper(n_b, total, lb))
        if self.complement:
            candidates.append(1 - p_a)
        return ExactBounds(p_a, min(candidates), la, lb)

    def alpha_split(self, alpha: Fraction, classes: int) -> dict:
        """The certificate's ``claims.alpha_split`` for this method (clause CERT.1; texts exact)."""
        la = self.level_a(Fraction(alpha), classes)
        doc = {"rule": self.name.value, "parts": self.parts(classes), "level": exact_text(la)}
        lb = self.level_b(Fraction(alpha), classes) if classes > 1 else None
        if lb is not None and lb != la:
            doc["level_b"] = exact_text(lb)
        return doc

    def parts(self, classes: int) -> int:
        """alpha / level_a, an integer (recorded in the certificate; the audit re-derives it)."""
        raise NotImplementedError


class Bonferroni(BoundRule):
    """CP.4 (the paper's Eq. 6-7): p_A and every other label at alpha / C."""

    name = BoundName.BONFERRONI
    clause = "CP.4"

    def level_a(self, alpha, classes):
        return Fraction(alpha) / classes

    def level_b(self, alpha, classes):
        return Fraction(alpha) / classes

    def parts(self, classes):
        return classes


class Complement(BoundRule):
    """CP.6 (Cohen et al.; Levine & Feizi): one lower bound, p_B = 1 - p_A.

    p_A is taken at alpha / 2, not alpha: A is selected from the same votes, and a lower bound at level
    t on a label chosen as the argmax can be wrong with probability up to 2t (clause CP.6, deviation
    D18).  With independently chosen A (the papers' separate selection votes) level alpha would do; here
    the selection is paid for.  With C = 1 there is nothing to select: level alpha.
    """

    name = BoundName.COMPLEMENT
    complement = True
    clause = "CP.6"

    def level_a(self, alpha, classes):
        return Fraction(alpha) if classes == 1 else Fraction(alpha) / 2  # CP.6: the selection costs a factor 2

    def level_b(self, alpha, classes):
        return None

    def parts(self, classes):
        return 1 if classes == 1 else 2


class Combined(BoundRule):
    """CP.7 (union bound): p_A at alpha / 2, p_B = min(1 - p_A, CP.2(N_B, N, alpha / (2 (C - 1))))."""

    name = BoundName.COMBINED
    complement = True
    clause = "CP.7"

    def level_a(self, alpha, classes):
        return Fraction(alpha) if classes == 1 else Fraction(alpha) / 2

    def level_b(self, alpha, classes):
        return None if classes == 1 else Fraction(alpha) / (2 * (classes - 1))

    def parts(self, classes):
        return 1 if classes == 1 else 2


#: the registry: name -> method (adding a method = a new class + one line here)
BOUND_RULES: dict[BoundName, BoundRule] = {
    BoundName.BONFERRONI: Bonferroni(),
    BoundName.COMPLEMENT: Complement(),
    BoundName.COMBINED: Combined(),
}


def bound_rule(name) -> BoundRule:
    """The registered method called ``name`` (a :class:`BoundName`, its value, or a rule); one clear error."""
    if isinstance(name, BoundRule):
        return name
    try:
        key = BoundName(name.value if isinstance(name, BoundName) else str(name).strip().lower())
    except ValueError:
        raise InvalidParameterError(
            f"unknown bound method {str(name)[:40]!r}; choose one of {', '.join(b.value for b in BoundName)}"
        ) from None
    return BOUND_RULES[key]
