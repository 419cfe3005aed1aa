"""Training with ablation augmentation, so the base model sees what it will be certified on.

The paper (Sec. 5.1, "Models") trains each base model on randomly ablated
inputs: for MMCert a keep fraction is drawn per example *and per modality*
(between 0% and 5% of the elements in the paper) and that many elements of
the modality are kept; for the randomized-ablation baseline one fraction is
drawn per example for the pooled list of all elements.  Ablated elements are
encoded exactly as at certification time (:meth:`Modality.encode`, clause
SAMP.2), so training and certification inputs come from the same family.

Here the fraction range is a parameter (:class:`KeepRange`), per modality:
with 32 video frames, 5% would keep at most one frame, so the reference
models use ranges that cover the k they are certified with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import InvalidParameterError
from ..sampling.modality import Modality
from ..threat_model import Method


@dataclass(frozen=True)
class KeepRange:
    """Keep fraction drawn uniformly from [low, high] (paper: 0.0 to 0.05)."""

    low: float = 0.0
    high: float = 0.05

    def __post_init__(self) -> None:
        low, high = float(self.low), float(self.high)
        if not 0.0 <= low <= high <= 1.0:
            raise InvalidParameterError(f"keep range must satisfy 0 <= low <= high <= 1, got [{low}, {high}]")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)


def _keep_by_rank(keys: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """Per row, True at the ``kept[row]`` largest keys (exactly that many per row)."""
    ranks = keys.argsort(dim=1, descending=True).argsort(dim=1)
    return ranks < kept.unsqueeze(1)


@dataclass(frozen=True)
class AblationAugmentation:
    """Randomly ablate a training batch (paper Sec. 5.1).

    ``Method.MMCERT``: ``keep`` has one :class:`KeepRange` per modality; for
    each example and modality a fraction f is drawn and ``round(f * n_i)``
    elements of that modality are kept.  ``Method.ABLATION``: ``keep`` has one
    range; ``round(f * sum(n_i))`` elements of the pooled list are kept.
    """

    modalities: tuple[Modality, ...]
    keep: tuple[KeepRange, ...]
    method: Method = Method.MMCERT

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "keep", tuple(k if isinstance(k, KeepRange) else KeepRange(*k) for k in self.keep))
        object.__setattr__(self, "method", Method(self.method))
        want = len(self.method.scheme.list_sizes([m.n for m in self.modalities]))
        if len(self.keep) != want:
            raise InvalidParameterError(f"{self.method.value} augmentation needs {want} keep ranges, got {len(self.keep)}")

    def _counts(self, generator: torch.Generator, batch: int, n: int, rng: KeepRange) -> torch.Tensor:
        f = rng.low + (rng.high - rng.low) * torch.rand(batch, generator=generator, dtype=torch.float64, device=generator.device)
        return torch.round(f * n).to(torch.int64).clamp_(0, n)

    def masks(self, generator: torch.Generator, batch: int) -> tuple[torch.Tensor, ...]:
        """Keep masks ``(batch, n_i)`` per modality, with a fresh keep count per example."""
        n = [m.n for m in self.modalities]
        masks = []
        for size, rng in zip(self.method.scheme.list_sizes(n), self.keep):  # one draw per sub-sampled list
            kept = self._counts(generator, batch, size, rng)
            keys = torch.rand((batch, size), generator=generator, dtype=torch.float64, device=generator.device)
            masks.append(_keep_by_rank(keys, kept))
        return tuple(torch.cat(masks, dim=1).split(n, dim=1))

    def __call__(self, inputs: Sequence[torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Ablate a batch: ``inputs`` holds one ``(B, *shape)`` tensor per modality."""
        if len(inputs) != len(self.modalities):
            raise InvalidParameterError(f"expected {len(self.modalities)} modalities, got {len(inputs)}")
        batch = inputs[0].shape[0]
        masks = self.masks(generator, batch)
        return tuple(m.encode(x, k.to(x.device)) for m, x, k in zip(self.modalities, inputs, masks))


@dataclass(frozen=True)
class TrainingReport:
    """Mean training loss per epoch."""

    losses: tuple[float, ...]


def fit(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    labels: torch.Tensor,
    augmentation: AblationAugmentation,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = None,
) -> TrainingReport:
    """Train ``model`` with Adam and cross-entropy on freshly ablated batches.

    ``inputs`` holds one tensor per modality with the examples along dim 0;
    ``labels`` is ``(E,)`` (classification) or ``(E, *spatial)``
    (segmentation).  Shuffling and ablation are driven by one generator
    seeded with ``seed``, so with the model initialised from a fixed seed the
    run is deterministic on a given device and thread count.
    """
    device = torch.device(device)
    model.to(device).train()
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    count = labels.shape[0]
    losses = []
    for epoch in range(epochs):
        order = torch.randperm(count, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, count, batch_size):
            idx = order[start:start + batch_size]
            batch = augmentation(tuple(x[idx] for x in inputs), generator)
            batch = tuple(x.to(device) for x in batch)
            target = labels[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(*batch), target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        scheduler.step()
        losses.append(total / seen)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    model.eval()
    return TrainingReport(tuple(losses))
