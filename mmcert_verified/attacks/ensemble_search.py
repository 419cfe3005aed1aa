"""What every element attack on a sub-sampled ensemble holds (spec ATK.6, ATK.9, ATK.13).

An element attack searches for values to write into chosen elements of the input so that the ensemble's
estimated margin falls: the model, its sampling plan and class count; the value boxes (given, or the
input's range widened: :mod:`.box_search`); and the search sizes.  Each attack class names the sizes it
has, with its defaults, in ``DEFAULTS``; :class:`EnsembleSearch` checks and stores them, so a new attack
is a new class with its ``DEFAULTS`` and its search, nothing else.

The sizes (not every attack has every one):

* ``restarts`` >= 1 random starts, the best kept; ``eval_votes`` >= 1 sub-samples per candidate score;
* ``steps`` >= 0 signed-gradient steps of ``step_size`` (a fraction of the box) on ``samples`` >= 1
  sub-samples per gradient; ``candidates`` >= 1 positions tried per restart; ``window`` >= 0 pixels around
  the target pixel;
* ``seed`` of the attack's generator, ``batch_size`` sub-samples per forward pass, ``boxes`` one
  ``(low, high)`` per modality or None.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import torch

from mmcert_verified.errors import InvalidParameterError
from mmcert_verified.sampling import SamplingPlan

#: search sizes that must be at least 1, and those that must be at least 0
POSITIVE = ("restarts", "eval_votes", "samples", "candidates", "batch_size")
NON_NEGATIVE = ("steps", "window")
_CASTS = {"step_size": float, "boxes": lambda b: None if b is None else tuple(tuple(map(float, x)) for x in b)}


class EnsembleSearch:
    """The model, plan, class count and checked search sizes of an element attack (module docstring).

    ``search`` takes exactly the keywords of the class's ``DEFAULTS`` (another is a TypeError naming it);
    a size out of range is an :class:`InvalidParameterError`.  Every size is stored as an attribute.
    """

    DEFAULTS: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, model: torch.nn.Module, plan: SamplingPlan, classes: int, **search) -> None:
        unknown = sorted(set(search) - set(self.DEFAULTS))
        if unknown:
            raise TypeError(f"{type(self).__name__} takes no keyword {unknown[0]!r} "
                            f"(its search sizes: {', '.join(self.DEFAULTS)})")
        self.model, self.plan, self.classes = model, plan, int(classes)
        for name, value in {**self.DEFAULTS, **search}.items():
            value = _CASTS.get(name, int)(value)
            if (name in POSITIVE and value < 1) or (name in NON_NEGATIVE and value < 0):
                bound = 1 if name in POSITIVE else 0
                raise InvalidParameterError(f"{type(self).__name__} needs {name} >= {bound}, got {value}")
            setattr(self, name, value)
