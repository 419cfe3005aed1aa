"""Every attacked input in S(M, R) for tiny concrete inputs (spec clauses S2, NP.2).

A concrete input is a tuple of modalities, each a tuple of small integer
values from ``range(alphabet)``.  Per modality i, the attack ``attack[i]`` with
budget ``r[i]`` reaches:

* modify: every sequence of the same length at Hamming distance <= r_i
  (each changed position takes any other value of the alphabet);
* add: every sequence obtained by inserting <= r_i values of the alphabet at
  any positions (every insertion point, including both ends);
* delete: every sequence obtained by removing <= r_i elements.

S(M, R) is the cross product over the modalities.  Sequences are deduplicated
by value: two edit paths that reach the same M' are one attacked input.  Each
attacked input also records how many elements of each modality the attack
needed (Hamming distance, inserted or deleted count), which fixes the sizes
(n'_i, e_i) of clause S3 that it realises.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..errors import EnumerationTooLargeError, InvalidParameterError
from ..threat_model import Attack, Budget

Modality = tuple[int, ...]
Input = tuple[Modality, ...]

#: largest S(M, R) the ground-truth oracle walks through
DEFAULT_ATTACKED_LIMIT = 50_000


def check_input(values: Sequence[Sequence[int]], alphabet: int) -> Input:
    """Normalise an input to a tuple of int tuples over ``range(alphabet)``."""
    if alphabet < 1:
        raise InvalidParameterError(f"the alphabet needs at least one value, got {alphabet}")
    out = tuple(tuple(int(v) for v in m) for m in values)
    for i, m in enumerate(out, 1):
        for v in m:
            if not 0 <= v < alphabet:
                raise InvalidParameterError(f"modality {i}: value {v} is outside range({alphabet})")
    return out


def _modify(m: Modality, r: int, alphabet: int) -> dict[Modality, int]:
    out: dict[Modality, int] = {}
    for d in range(min(r, len(m)) + 1):
        for positions in itertools.combinations(range(len(m)), d):
            choices = [[v for v in range(alphabet) if v != m[p]] for p in positions]
            for values in itertools.product(*choices):
                s = list(m)
                for p, v in zip(positions, values):
                    s[p] = v
                out.setdefault(tuple(s), d)
    return out


def _add(m: Modality, r: int, alphabet: int) -> dict[Modality, int]:
    out = {m: 0}
    frontier = {m}
    for d in range(1, r + 1):
        nxt = set()
        for s in frontier:
            for pos in range(len(s) + 1):
                for v in range(alphabet):
                    nxt.add(s[:pos] + (v,) + s[pos:])
        for s in nxt:
            out.setdefault(s, d)
        frontier = nxt
    return out


def _delete(m: Modality, r: int) -> dict[Modality, int]:
    out: dict[Modality, int] = {}
    for d in range(min(r, len(m)) + 1):
        for gone in itertools.combinations(range(len(m)), d):
            out.setdefault(tuple(v for j, v in enumerate(m) if j not in gone), d)
    return out


#: attack -> its neighbour enumeration m -> {m': elements changed} (a new attack adds one line; clause S2)
NEIGHBOURS = {Attack.MODIFY: _modify, Attack.ADD: _add, Attack.DELETE: lambda m, r, alphabet: _delete(m, r)}


def modality_neighbours(m: Modality, r: int, attack: Attack, alphabet: int) -> dict[Modality, int]:
    """Every m' one modality's attack reaches, mapped to the number of elements it changes.

    For modify the number is the Hamming distance (the least number of
    modifications); for add and delete the length difference.
    """
    return NEIGHBOURS[Attack(attack)](m, r, alphabet)


@dataclass(frozen=True)
class AttackedInput:
    """One M' in S(M, R) and the per-modality element counts the attack used."""

    values: Input
    used: tuple[int, ...]


def attacked_inputs(
    m: Input, budget: Budget, alphabet: int, limit: int = DEFAULT_ATTACKED_LIMIT
) -> Iterator[AttackedInput]:
    """S(M, R): every attacked input, each once (M itself included: zero changes).

    Raises :class:`EnumerationTooLargeError` before yielding anything when
    |S(M, R)| exceeds ``limit``.
    """
    if len(budget.r) != len(m):
        raise InvalidParameterError(f"the budget has {len(budget.r)} entries but the input {len(m)} modalities")
    per = [
        modality_neighbours(mi, ri, att, alphabet)
        for mi, ri, att in zip(m, budget.r, budget.attack)
    ]
    total = math.prod(len(p) for p in per)
    if total > limit:
        raise EnumerationTooLargeError(
            f"S(M, R) has {total} attacked inputs, over the enumeration limit of {limit}"
        )
    for combo in itertools.product(*(p.items() for p in per)):
        yield AttackedInput(tuple(s for s, _ in combo), tuple(d for _, d in combo))
