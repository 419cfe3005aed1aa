"""What the synthetic labelled data sets of the reference models share: indexing and fixed-seed splits.

* :class:`LabelledSet` -- a data set held as one tensor per modality plus ``labels``, all indexed by
  example along their first dimension; ``data[i]`` is ``((modality tensors at i), label i)``.
* :func:`seeded_split` -- a split (train, validation, test) of a generated data set: the generator
  called with the split's own seed, so a split of a given size is the same data on every call.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Callable, TypeVar

import torch

D = TypeVar("D")


class LabelledSet:
    """Base of a frozen dataclass whose fields are the modality tensors, in order, then ``labels``.

    Guarantees: ``len(data)`` is the number of labels; :meth:`inputs` is every field but ``labels``, in
    field order; ``data[i]`` is those tensors indexed at ``i``, with :meth:`label` of ``i``.
    """

    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def inputs(self) -> tuple[torch.Tensor, ...]:
        """The modality tensors of all examples, in field order (the inputs training fits the model to)."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name != "labels")

    def label(self, i: int):
        """Label ``i`` as ``data[i]`` gives it: the tensor ``labels[i]`` (a subclass may convert it)."""
        return self.labels[i]

    def __getitem__(self, i: int):
        return tuple(t[i] for t in self.inputs()), self.label(i)


def seeded_split(generate: Callable[[int, int], D], seed: int, default_count: int, name: str) -> Callable[..., D]:
    """The split ``name``: ``split(count=default_count)`` returns ``generate(count, seed)``.

    The returned function is named ``name`` (in ``generate``'s module) and takes ``count`` as a keyword
    or positionally, with ``default_count`` as its signature's default (the run configurations bind
    ``count`` by name).
    """

    def split(count: int = default_count) -> D:
        return generate(count, seed)

    split.__name__ = split.__qualname__ = name
    split.__module__ = generate.__module__
    split.__doc__ = f"The {name} split: ``generate(count, {seed})``, {default_count} examples by default."
    return split
