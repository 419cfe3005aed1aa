"""Keep masks: which basic elements each sub-sampled input keeps (clauses S1, S4, SAMP.1).

* Independent sub-sampling (MMCert, clause S1): for every modality i, exactly
  ``k_i`` of its ``n_i`` elements are kept, uniformly at random without
  replacement, independently across modalities and across draws.
* Pooled sub-sampling (randomized-ablation baseline, clause S4): the
  modalities' elements are concatenated into one list of ``sum(n_i)``
  elements, exactly ``k`` of them are kept uniformly without replacement, and
  the mask is split back into the modalities.

Exactly k (clause SAMP.1): every row of a mask has exactly ``k_i`` True
entries (exactly ``k`` summed over the modalities for the pooled case).  The
paper's code kept k+1 while certifying with k (spec/deviations.md).

How: one float64 uniform key per element, the ``k`` largest keys kept
(``topk`` returns k distinct indices, so the count is exact whatever the
keys).  Keys of all modalities of one draw are consecutive in the
generator's stream -- one ``(B, sum n_i)`` call per batch -- so on the CPU the
masks of draw j do not depend on how the draws are split into batches.  The
subset is uniform up to ties between float64 keys (probability below
``n^2 / 2^54`` per draw, about 5e-10 for n = 10^5).
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..errors import InvalidParameterError
from ..threat_model import Method


def _check_sizes(n: Sequence[int], k: Sequence[int], method: Method) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n = tuple(int(v) for v in n)
    k = tuple(int(v) for v in k)
    if not n or any(v <= 0 for v in n):
        raise InvalidParameterError(f"every modality needs at least one element, got n = {list(n)}")
    if method is Method.MMCERT:
        if len(k) != len(n):
            raise InvalidParameterError(f"{len(k)} values of k for {len(n)} modalities")
        for i, (n_i, k_i) in enumerate(zip(n, k), 1):
            if not 0 <= k_i <= n_i:
                raise InvalidParameterError(f"modality {i}: k = {k_i} must lie in [0, n = {n_i}]")
    else:
        if len(k) != 1:
            raise InvalidParameterError(f"pooled sub-sampling keeps one k, got {list(k)}")
        if not 0 <= k[0] <= sum(n):
            raise InvalidParameterError(f"pooled k = {k[0]} must lie in [0, {sum(n)}]")
    return n, k


def _top_k_mask(keys: torch.Tensor, k: int) -> torch.Tensor:
    """A boolean mask with True at the k largest keys of every row (exactly k per row)."""
    mask = torch.zeros(keys.shape, dtype=torch.bool, device=keys.device)
    if k == 0:
        return mask
    if k == keys.shape[1]:
        return mask.fill_(True)
    idx = torch.topk(keys, k, dim=1, largest=True, sorted=False).indices
    return mask.scatter_(1, idx, True)


def draw_keep_masks(
    generator: torch.Generator,
    batch: int,
    n: Sequence[int],
    k: Sequence[int],
    method: Method | str = Method.MMCERT,
) -> tuple[torch.Tensor, ...]:
    """Draw ``batch`` sub-samples: one ``(batch, n_i)`` boolean keep mask per modality.

    Clause S1 / SAMP.1 for ``Method.MMCERT`` (``k`` has one entry per
    modality, row sums exactly ``k_i``); clause S4 / SAMP.1 for
    ``Method.ABLATION`` (one pooled ``k``, row sums over all modalities
    exactly ``k``).  Masks live on the generator's device.
    """
    method = Method(method)
    n, k = _check_sizes(n, k, method)
    if batch < 0:
        raise InvalidParameterError(f"batch must be non-negative, got {batch}")
    keys = torch.rand((batch, sum(n)), generator=generator, dtype=torch.float64, device=generator.device)
    if method is Method.ABLATION:
        return tuple(_top_k_mask(keys, k[0]).split(list(n), dim=1))
    return tuple(_top_k_mask(block, k_i) for block, k_i in zip(keys.split(list(n), dim=1), k))
