"""The joint space of sub-samples of M and of an attacked M' (spec clause NP.1; paper Appendix A).

The inputs are built from *labelled objects*, not values: every basic element
is an :class:`Element` that is either shared by M and M', only in M (it was
modified away or deleted) or only in M' (a modification's new value, or an
added element).  The pair (M, M') is constructed here straight from the
attack's definition (clause S2) -- modify r: r elements replaced by r new ones;
add r: r new ones; delete r: r removed -- and not from the size table of
clause S3, so that counting atoms below checks clause S3 and T1.1
independently.

A sub-sample (an *atom* of the joint space) is a tuple of per-modality
k_i-subsets (MMCert, clause S1) or one k-subset of the pooled list of all
modalities (the ablation baseline, clause S4).  X is a uniformly random
sub-sample of M and Y one of M' (that is the definition of the sub-sampling),
so an atom's X-probability is 1/|sub-samples of M| if it lies inside M and 0
otherwise, and likewise for Y; both are exact :class:`~fractions.Fraction`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

from ..errors import EnumerationTooLargeError
from ..reference.theorem1 import comb
from ..threat_model import Budget, Setting, attacked_sizes

#: largest joint space (atoms with X- or Y-probability > 0) this module enumerates
DEFAULT_ATOM_LIMIT = 200_000

SHARED = "shared"
ONLY_ORIGINAL = "only-original"
ONLY_ATTACKED = "only-attacked"


@dataclass(frozen=True, order=True)
class Element:
    """One labelled basic element: modality, kind (shared / only in M / only in M'), index."""

    modality: int
    kind: str
    index: int


@dataclass(frozen=True)
class LabelledPair:
    """The original input M and the attacked input M' as per-modality element lists."""

    original: tuple[tuple[Element, ...], ...]
    attacked: tuple[tuple[Element, ...], ...]


def labelled_pair(setting: Setting, budget: Budget) -> LabelledPair:
    """Build (M, M') from the attack's definition, modality by modality (clause S2).

    The budget is first validated by :func:`attacked_sizes` so that a budget the
    rest of the package rejects is rejected here too, with the same message.
    """
    attacked_sizes(setting, budget)  # validation only
    original, attacked = [], []
    for i, (n_i, r_i, att) in enumerate(zip(setting.n, budget.r, budget.attack)):
        kept = att.rule.shared(n_i, r_i)
        shared = [Element(i, SHARED, j) for j in range(kept)]
        gone = [Element(i, ONLY_ORIGINAL, j) for j in range(n_i - kept)]
        new = [Element(i, ONLY_ATTACKED, j) for j in range(att.rule.inserted(n_i, r_i))]
        original.append(tuple(shared + gone))
        attacked.append(tuple(shared + new))
    return LabelledPair(tuple(original), tuple(attacked))


def subsamples(lists: tuple[tuple[Element, ...], ...], setting: Setting) -> Iterator[tuple]:
    """Every sub-sample of the input given by ``lists``, each exactly once.

    MMCert (clause S1): a tuple of per-modality k_i-combinations.  Ablation
    (clause S4): one k-combination of the pooled list, wrapped in a 1-tuple.
    """
    groups = setting.method.scheme.sampled(lists)
    yield from itertools.product(*(itertools.combinations(g, k) for g, k in zip(groups, setting.k)))


def atom_count(setting: Setting, budget: Budget) -> int:
    """Size of the joint space (|supp X| + |supp Y| - |both|), for the limit check only."""
    sizes = attacked_sizes(setting, budget)
    p_n = p_np = p_e = 1
    for n, np_, e, k in zip(sizes.n, sizes.n_prime, sizes.e, sizes.k):
        p_n, p_np, p_e = p_n * comb(n, k), p_np * comb(np_, k), p_e * comb(e, k)
    return p_n + p_np - p_e


def check_limit(setting: Setting, budget: Budget, limit: int = DEFAULT_ATOM_LIMIT) -> int:
    """Raise :class:`EnumerationTooLargeError` when the joint space exceeds ``limit`` atoms."""
    count = atom_count(setting, budget)
    if count > limit:
        raise EnumerationTooLargeError(
            f"the joint space has {count} sub-samples, over the enumeration limit of {limit}; "
            "use smaller n or k"
        )
    return count


@dataclass(frozen=True)
class Atom:
    """One sub-sample with its exact probability under X (from M) and Y (from M')."""

    subsample: tuple
    x: Fraction
    y: Fraction


@dataclass(frozen=True)
class AtomGroup:
    """All atoms sharing one (x, y) probability pair: ``count`` of them."""

    x: Fraction
    y: Fraction
    count: int

    @property
    def mass_x(self) -> Fraction:
        return self.x * self.count

    @property
    def mass_y(self) -> Fraction:
        return self.y * self.count


@dataclass(frozen=True)
class JointSpace:
    """The enumerated joint space: its (x, y) groups and the support sizes it counted.

    ``support_x``, ``support_y`` and ``support_both`` are counted by enumeration;
    they must equal P_n, P_n' and P_e of clause T1.1 (a test checks it).
    """

    groups: tuple[AtomGroup, ...]
    support_x: int
    support_y: int
    support_both: int

    @property
    def atoms(self) -> int:
        return sum(g.count for g in self.groups)


def _inside(subsample: tuple, members: frozenset[Element]) -> bool:
    return all(e in members for part in subsample for e in part)


def iter_atoms(
    setting: Setting, budget: Budget, limit: int = DEFAULT_ATOM_LIMIT
) -> Iterator[Atom]:
    """Every atom of the joint space with its exact (x, y) probabilities, each once."""
    check_limit(setting, budget, limit)
    pair = labelled_pair(setting, budget)
    in_m = frozenset(itertools.chain.from_iterable(pair.original))
    in_mp = frozenset(itertools.chain.from_iterable(pair.attacked))
    n_x = sum(1 for _ in subsamples(pair.original, setting))
    n_y = sum(1 for _ in subsamples(pair.attacked, setting))
    px, py = Fraction(1, n_x), Fraction(1, n_y)
    for s in subsamples(pair.original, setting):
        yield Atom(s, px, py if _inside(s, in_mp) else Fraction(0))
    for s in subsamples(pair.attacked, setting):
        if not _inside(s, in_m):  # atoms inside both were yielded above
            yield Atom(s, Fraction(0), py)


def joint_space(setting: Setting, budget: Budget, limit: int = DEFAULT_ATOM_LIMIT) -> JointSpace:
    """Enumerate the joint space and group its atoms by (x, y) probability pair.

    Raises :class:`EnumerationTooLargeError` (naming ``limit``) before
    enumerating anything when the space has more than ``limit`` atoms.
    """
    check_limit(setting, budget, limit)
    pair = labelled_pair(setting, budget)
    in_m = frozenset(itertools.chain.from_iterable(pair.original))
    in_mp = frozenset(itertools.chain.from_iterable(pair.attacked))
    n_x = n_both = 0
    for s in subsamples(pair.original, setting):
        n_x += 1
        n_both += _inside(s, in_mp)
    n_y = n_only_y = 0
    for s in subsamples(pair.attacked, setting):
        n_y += 1
        n_only_y += not _inside(s, in_m)
    if n_y - n_only_y != n_both:  # pragma: no cover - a bug in this module, not a user error
        raise AssertionError("joint space enumeration is inconsistent")
    counts: Counter = Counter()
    px, py = Fraction(1, n_x), Fraction(1, n_y)
    counts[(px, Fraction(0))] += n_x - n_both
    counts[(px, py)] += n_both
    counts[(Fraction(0), py)] += n_only_y
    groups = tuple(AtomGroup(x, y, c) for (x, y), c in sorted(counts.items()) if c > 0)
    return JointSpace(groups, n_x, n_y, n_both)


def group_atoms(atoms) -> tuple[AtomGroup, ...]:
    """Group explicitly listed atoms by their (x, y) pair (used to cross-check :func:`joint_space`)."""
    counts: Counter = Counter((a.x, a.y) for a in atoms)
    return tuple(AtomGroup(x, y, c) for (x, y), c in sorted(counts.items()))
