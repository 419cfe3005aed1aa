"""A sub-sampling plan: the modalities, the method and how many elements are kept (S1, S4).

:class:`SamplingPlan` ties the pieces together: it draws keep masks
(:mod:`.subsample`) and writes the ablated inputs the model sees
(:mod:`.modality`).  Its :attr:`setting` is the :class:`~mmcert_verified.Setting`
the certificate is computed for, so the ``n`` and ``k`` that sampled the
votes are, by construction, the ones Theorem 1 is applied with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import InvalidParameterError
from ..threat_model import Method, Setting
from .modality import Modality
from .subsample import draw_keep_masks


@dataclass(frozen=True)
class SamplingPlan:
    """Which elements the ensemble keeps: ``k`` per modality (MMCert) or one pooled ``k`` (baseline)."""

    modalities: tuple[Modality, ...]
    k: tuple[int, ...]
    method: Method = Method.MMCERT

    def __post_init__(self) -> None:
        modalities = tuple(self.modalities)
        if not modalities or not all(isinstance(m, Modality) for m in modalities):
            raise InvalidParameterError("a sampling plan needs at least one Modality")
        names = [m.name for m in modalities]
        if len(set(names)) != len(names):
            raise InvalidParameterError(f"modality names must be distinct, got {names}")
        object.__setattr__(self, "modalities", modalities)
        object.__setattr__(self, "method", Method(self.method))
        # Setting validates k against n (one k per modality, or one pooled k)
        object.__setattr__(self, "k", self.setting.k)

    @property
    def setting(self) -> Setting:
        """The (n, k, method) Theorem 1 is applied with."""
        return Setting(tuple(m.n for m in self.modalities), tuple(self.k), self.method)

    @property
    def n(self) -> tuple[int, ...]:
        return tuple(m.n for m in self.modalities)

    def draw(self, generator: torch.Generator, batch: int) -> tuple[torch.Tensor, ...]:
        """``batch`` keep masks per modality, each ``(batch, n_i)`` (clauses S1/S4, SAMP.1)."""
        return draw_keep_masks(generator, batch, self.n, self.k, self.method)

    def encode(self, inputs: Sequence[torch.Tensor], keep: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Ablated inputs (clause SAMP.2): one tensor per modality, ``(B, *encoded_shape)``.

        Each input is either one example (its modality's ``shape``, shared by
        the whole batch) or a batch ``(B, *shape)`` with one mask row per example.
        """
        if len(inputs) != len(self.modalities) or len(keep) != len(self.modalities):
            raise InvalidParameterError(
                f"expected {len(self.modalities)} modalities ({', '.join(m.name for m in self.modalities)}), "
                f"got {len(inputs)} inputs"
            )
        return tuple(m.encode(x, mask) for m, x, mask in zip(self.modalities, inputs, keep))

    def sample(self, inputs: Sequence[torch.Tensor], generator: torch.Generator, batch: int) -> tuple[torch.Tensor, ...]:
        """Draw ``batch`` sub-samples of one input (or one per row of a batch) and encode them."""
        return self.encode(inputs, self.draw(generator, batch))

    def check_input(self, inputs: Sequence[torch.Tensor]) -> None:
        """Raise InvalidParameterError unless ``inputs`` is one example of every modality."""
        if len(inputs) != len(self.modalities):
            raise InvalidParameterError(
                f"expected {len(self.modalities)} modalities ({', '.join(m.name for m in self.modalities)}), "
                f"got {len(inputs)}"
            )
        for m, x in zip(self.modalities, inputs):
            if tuple(x.shape) != m.shape:
                raise InvalidParameterError(
                    f"modality {m.name!r} expects shape {m.shape}, got {tuple(x.shape)}"
                )
