"""The threat model: modalities, sub-sampling sizes, attack budgets (spec clauses S1-S3).

A *setting* fixes the sub-sampling: modality ``i`` holds ``n[i]`` basic elements
of which ``k[i]`` are kept, independently per modality (MMCert, clause S1), or
all modalities are pooled into one list of ``sum(n)`` elements of which ``k``
are kept (the randomized-ablation baseline, clause S4).

A *budget* fixes the attack: modality ``i`` is attacked by ``attack[i]``
(modify, add or delete) with at most ``r[i]`` elements (clause S2).  From
(n, r, attack) follow the sizes the theorem needs (clause S3):

===========  ===========  ===========
attack       e_i          n'_i
===========  ===========  ===========
modify       n_i - r_i    n_i
add          n_i          n_i + r_i
delete       n_i - r_i    n_i - r_i
===========  ===========  ===========
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import InvalidParameterError
from .threat.alpha import check_alpha
from .threat.attacks import Attack, AttackRule
from .threat.schemes import AttackedSizes, Method, Scheme

__all__ = [
    "Attack", "AttackRule", "AttackedSizes", "Budget", "Method", "Scheme", "Setting", "attacked_sizes",
    "budget_ratio", "check_alpha", "max_radius_multiplier", "parse_attacks",
]


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if hasattr(value, "__index__") and not isinstance(value, (bool, float)):
            value = int(value.__index__())  # numpy integers
        else:
            raise InvalidParameterError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _int_tuple(values: Iterable[object], what: str) -> tuple[int, ...]:
    out = tuple(_as_int(v, what) for v in values)
    if not out:
        raise InvalidParameterError(f"{what} must not be empty")
    for v in out:
        if v < 0:
            raise InvalidParameterError(f"{what} must be non-negative, got {v}")
    return out


def budget_ratio(ratio: Iterable[object], modalities: int) -> tuple[int, ...]:
    """Clause R1's direction c: one non-negative integer per modality, not all zero.

    A non-integer entry (1.9) is bad input, never truncated (issue 10, item 3); shared by both engines.
    """
    ratio = _int_tuple(ratio, "--ratio")
    if len(ratio) != modalities:
        raise InvalidParameterError(f"--ratio has {len(ratio)} entries but --n has {modalities}")
    if not any(ratio):
        raise InvalidParameterError("--ratio is all zeros: the radius would be unbounded")
    return ratio


def parse_attacks(attack: str | Attack | Sequence[str | Attack], modalities: int) -> tuple[Attack, ...]:
    """Normalise an attack spec: one attack for every modality, or one per modality."""
    if isinstance(attack, (str, Attack)):
        items = [attack] if isinstance(attack, Attack) else str(attack).split(",")
    else:
        items = list(attack)
    try:
        parsed = tuple(a if isinstance(a, Attack) else Attack(str(a).strip().lower()) for a in items)
    except ValueError:
        raise InvalidParameterError(
            f"unknown attack {attack!r}: use modify, add or delete (one, or one per modality)"
        ) from None
    if len(parsed) == 1:
        parsed = parsed * modalities
    if len(parsed) != modalities:
        raise InvalidParameterError(
            f"{len(parsed)} attacks given for {modalities} modalities"
        )
    return parsed


@dataclass(frozen=True)
class Setting:
    """Sub-sampling setting (clauses S1, S4).

    ``n`` has one entry per modality.  For :attr:`Method.MMCERT` ``k`` has one
    entry per modality; for :attr:`Method.ABLATION` it has exactly one entry,
    the number of elements kept from the pooled list of ``sum(n)`` elements.
    """

    n: tuple[int, ...]
    k: tuple[int, ...]
    method: Method = Method.MMCERT

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _int_tuple(self.n, "n"))
        object.__setattr__(self, "k", _int_tuple(self.k, "k"))
        object.__setattr__(self, "method", Method(self.method))
        self.method.scheme.check_k(self.n, self.k)

    @property
    def modalities(self) -> int:
        return len(self.n)


@dataclass(frozen=True)
class Budget:
    """Attack budget (clause S2): at most ``r[i]`` elements of modality i, by ``attack[i]``."""

    r: tuple[int, ...]
    attack: tuple[Attack, ...]

    def __post_init__(self) -> None:
        r = _int_tuple(self.r, "r")
        object.__setattr__(self, "r", r)
        object.__setattr__(self, "attack", parse_attacks(self.attack, len(r)))


def attacked_sizes(setting: Setting, budget: Budget) -> AttackedSizes:
    """Clause S3 (and S4 for the pooled baseline): (e_i, n'_i) from (n_i, r_i, attack_i).

    Raises :class:`InvalidParameterError` when the budget does not fit the
    setting: modifying or deleting more elements than a modality has, or
    deleting so many that fewer than k elements remain to be sub-sampled.
    """
    if len(budget.r) != setting.modalities:
        raise InvalidParameterError(
            f"--r has {len(budget.r)} entries but --n has {setting.modalities}"
        )
    return setting.method.scheme.attacked_sizes(setting.n, setting.k, budget.r, budget.attack)


def max_radius_multiplier(setting: Setting, ratio: Sequence[int], attack: Sequence[Attack]) -> int | None:
    """Largest t for which r = t*ratio is a valid budget with e_i >= k_i everywhere.

    Beyond it some P_e is 0 (or a deletion leaves fewer than k elements, or a
    modality would lose more elements than it has) and Theorem 1 cannot
    certify (clause T1.4), so a radius search may stop there.  Returns ``None``
    when t is unbounded (additions only).  Raises InvalidParameterError when
    the budget direction only adds to modalities that are never sampled
    (k = 0): nothing then changes with t and the radius would be infinite.
    """
    bound, inert = setting.method.scheme.radius_cap(setting.n, setting.k, ratio, parse_attacks(attack, setting.modalities))
    if bound is None and inert:
        raise InvalidParameterError(
            "the budget direction only adds elements to modalities with k = 0: "
            "the sub-samples never change, so the radius is unbounded"
        )
    return bound
