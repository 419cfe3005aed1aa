"""One class per sub-sampling scheme (spec clauses S1, S3, S4, R1).

A scheme says which lists are sub-sampled and how an attack's per-modality sizes (clause S3, from
:mod:`mmcert_verified.threat.attacks`) become the sizes Theorem 1 needs:

* :class:`PerModality` (MMCert, clause S1): every modality is its own list; k_i of its n_i elements kept.
* :class:`Pooled` (the randomized-ablation baseline, clause S4): all modalities form one list of sum(n)
  elements of which k are kept.

Adding a scheme is a new subclass and one line in :data:`SCHEMES` (and a member of :class:`Method`, the
name users write).  The masses, the decision and the radius search then work unchanged: they only read
the :class:`AttackedSizes` a scheme returns.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import Sequence

from ..errors import InvalidParameterError
from .attacks import Attack


class Method(str, enum.Enum):
    """Which sub-sampling the ensemble uses (clauses S1 and S4); ``.scheme`` is its class."""

    MMCERT = "mmcert"
    ABLATION = "ablation"

    @property
    def scheme(self) -> "Scheme":
        return SCHEMES[self]


@dataclass(frozen=True)
class AttackedSizes:
    """The sizes Theorem 1 needs (clause S3), for the (possibly pooled) lists.

    ``n``: elements before the attack; ``n_prime``: after; ``e``: shared by both;
    ``k``: elements kept.  One entry per sub-sampled list: T entries for MMCert,
    one pooled entry for the baseline.
    """

    n: tuple[int, ...]
    n_prime: tuple[int, ...]
    e: tuple[int, ...]
    k: tuple[int, ...]


def _modality_sizes(n: Sequence[int], r: Sequence[int], attack: Sequence[Attack]) -> tuple[list[int], list[int]]:
    """Clause S3 per modality: (e_i, n'_i), refusing an attack that removes more than n_i elements."""
    e: list[int] = []
    n_prime: list[int] = []
    for i, (n_i, r_i, att) in enumerate(zip(n, r, attack), 1):
        rule = att.rule
        if rule.removes and r_i > n_i:
            raise InvalidParameterError(
                f"modality {i}: cannot {att.value} r = {r_i} of only n = {n_i} elements"
            )
        e.append(rule.shared(n_i, r_i))
        n_prime.append(rule.after(n_i, r_i))
    return e, n_prime


@dataclass(frozen=True)
class Scheme:
    """A sub-sampling scheme: its lists, its attacked sizes and its radius cap."""

    def check_k(self, n: tuple[int, ...], k: tuple[int, ...]) -> None:
        """Refuse a k that does not fit n (precise message)."""
        raise NotImplementedError

    def list_sizes(self, n: Sequence[int]) -> list[int]:
        """How many elements each sub-sampled list holds."""
        raise NotImplementedError

    def lists(self, n: Sequence[int], k: Sequence[int]) -> list[tuple[int, int]]:
        """(n, k) of each sub-sampled list."""
        return list(zip(self.list_sizes(n), k))

    def sampled(self, modalities: Sequence[Sequence]) -> tuple[tuple, ...]:
        """The sub-sampled lists made of the modalities' elements (same order as :meth:`lists`)."""
        raise NotImplementedError

    def attacked_sizes(self, n, k, r, attack: Sequence[Attack]) -> AttackedSizes:
        """Clause S3/S4: the sizes of the sub-sampled lists before and after the attack."""
        raise NotImplementedError

    def radius_cap(self, n, k, ratio: Sequence[int], attack: Sequence[Attack]) -> tuple[int | None, bool]:
        """(largest t with t*ratio valid and every e >= k, or None if unbounded; whether the direction is
        inert: it only touches lists that are never sampled)."""
        raise NotImplementedError


def _tighter(bound: int | None, limit: int) -> int:
    return limit if bound is None else min(bound, limit)


@dataclass(frozen=True)
class PerModality(Scheme):
    """MMCert (clause S1): k_i of modality i's n_i elements, independently per modality."""

    def check_k(self, n, k):
        if len(k) != len(n):
            raise InvalidParameterError(
                f"--k has {len(k)} entries but --n has {len(n)}: give one k per modality"
            )
        for i, (n_i, k_i) in enumerate(zip(n, k), 1):
            if k_i > n_i:
                raise InvalidParameterError(f"modality {i}: k = {k_i} exceeds n = {n_i}")

    def list_sizes(self, n):
        return list(n)

    def sampled(self, modalities):
        return tuple(tuple(m) for m in modalities)

    def attacked_sizes(self, n, k, r, attack):
        e, n_prime = _modality_sizes(n, r, attack)
        for i, (np_i, k_i) in enumerate(zip(n_prime, k), 1):
            if np_i < k_i:
                raise InvalidParameterError(
                    f"modality {i}: deleting leaves {np_i} elements, fewer than k = {k_i}"
                )
        return AttackedSizes(tuple(n), tuple(n_prime), tuple(e), tuple(k))

    def radius_cap(self, n, k, ratio, attack):
        bound = None
        for n_i, k_i, c_i, att in zip(n, k, ratio, attack):
            if c_i > 0 and att.rule.removes:
                bound = _tighter(bound, (n_i - k_i) // (c_i * att.rule.loss))
        inert = all(k_i == 0 for k_i, c_i in zip(k, ratio) if c_i > 0)
        return bound, inert


@dataclass(frozen=True)
class Pooled(Scheme):
    """The randomized-ablation baseline (clause S4): k of the pooled sum(n) elements."""

    def check_k(self, n, k):
        if len(k) != 1:
            raise InvalidParameterError(
                f"the ablation baseline keeps one pooled k, got {len(k)} values"
            )
        if k[0] > sum(n):
            raise InvalidParameterError(
                f"pooled k = {k[0]} exceeds the pooled n = {sum(n)}"
            )

    def list_sizes(self, n):
        return [sum(n)]

    def sampled(self, modalities):
        return (tuple(itertools.chain.from_iterable(modalities)),)

    def attacked_sizes(self, n, k, r, attack):
        e, n_prime = _modality_sizes(n, r, attack)
        # an attack of *at most* r may perform the deletions without the additions (clause S4)
        deleted = sum(att.rule.deleted(r_i) for r_i, att in zip(r, attack))
        pooled_after_deletions = sum(n) - deleted
        if pooled_after_deletions < k[0]:
            raise InvalidParameterError(
                f"deleting leaves {pooled_after_deletions} pooled elements, fewer than k = {k[0]}"
            )
        return AttackedSizes((sum(n),), (sum(n_prime),), (sum(e),), tuple(k))

    def radius_cap(self, n, k, ratio, attack):
        bound = None
        lost = sum(c * att.rule.loss for c, att in zip(ratio, attack))
        if lost > 0:
            bound = _tighter(bound, (sum(n) - k[0]) // lost)
        for n_i, c_i, att in zip(n, ratio, attack):
            if c_i > 0 and att.rule.removes:
                bound = _tighter(bound, n_i // (c_i * att.rule.loss))  # at most n_i originals to lose
        return bound, k[0] == 0


#: the registry: method -> its scheme (adding a scheme = a subclass above + one line here + a Method member)
SCHEMES: dict[Method, Scheme] = {
    Method.MMCERT: PerModality(),
    Method.ABLATION: Pooled(),
}
