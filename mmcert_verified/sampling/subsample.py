"""Keep masks: which basic elements each sub-sampled input keeps (clauses S1, S4, SAMP.1, SAMP.4).

* Independent sub-sampling (MMCert, clause S1): for every modality i, exactly
  ``k_i`` of its ``n_i`` elements are kept, uniformly at random without
  replacement, independently across modalities and across draws.
* Pooled sub-sampling (randomized-ablation baseline, clause S4): the
  modalities' elements are concatenated into one list of ``sum(n_i)``
  elements, exactly ``k`` of them are kept uniformly without replacement, and
  the mask is split back into the modalities.

How (clause SAMP.4): Floyd's algorithm, vectorised over the rows.  A k-subset
of n elements takes k random integers, t_j uniform in [0, n - k + j] for
j = 0..k-1; step j keeps t_j unless it is already kept, else n - k + j (which
no earlier step can have kept).  By induction on j every j-subset of
[0, n - k + j] is equally likely after step j, and the k kept elements are
distinct: exactly k (clause SAMP.1; the paper's code kept k+1 while
certifying with k, spec/deviations.md).  Whether step j collides depends on
the earlier steps only through two facts, both computed without a loop over
j: t_j equals an earlier t_i (a stable sort of the row), or t_j = n - k + i
for an earlier step i that collided -- a chain j > i > ... that
:func:`_floyd_indices` follows by pointer doubling (ceil(log2 k) gathers).

Random numbers: one 63-bit integer per kept element (``random_`` on int64),
reduced modulo the step's range; the integers of all modalities of one draw
are consecutive in the generator's stream -- one ``(B, sum k_i)`` call per
batch -- so on the CPU the masks of draw j do not depend on how the draws are
split into batches.  Modulo reduction puts each t_j within total variation
(n - k + j + 1) / 2^63 of uniform, so a whole subset is within k n / 2^63 of
the uniform distribution over k-subsets (about 5e-13 for the road model's
k = 100 of n = 3072; 1e-9 for k = 10^4 of 10^6).  The scheme before SAMP.4
drew one float64 key per *element* and kept the k largest (n numbers and a
top-k per draw; within n^2 / 2^54 of uniform): the same distribution, other
masks for the same seed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import InvalidParameterError
from ..threat_model import Method

#: the name of this module's keep-mask scheme (clause SAMP.4); another scheme gives other votes per seed
SAMPLING_SCHEME = "floyd-int63"


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


@dataclass(frozen=True)
class _Columns:
    """Per column j of a draw's ``(B, sum k)`` integers: its segment's place in the index space.

    A *segment* is one modality's elements (MMCert) or the pooled list (baseline); segment i holds
    indices [offset_i, offset_i + n_i) of the concatenated elements and takes k_i columns, its step
    s = 0..k_i-1 drawing from [0, n_i - k_i + s].
    """

    width: int  # sum n_i: the concatenated index space
    top: torch.Tensor  # n_i - k_i + s: the step's largest value (local)
    base: torch.Tensor  # n_i - k_i
    offset: torch.Tensor  # offset_i
    step: torch.Tensor  # s
    first: torch.Tensor  # the segment's first column
    doublings: int  # ceil(log2 max k_i): pointer-doubling rounds that cover every chain


@functools.lru_cache(maxsize=64)
def _columns(segments: tuple[tuple[int, int], ...], device: torch.device) -> _Columns:
    top, base, offset, step, first = [], [], [], [], []
    at = col = 0
    for n_i, k_i in segments:
        top += range(n_i - k_i, n_i)
        base += [n_i - k_i] * k_i
        offset += [at] * k_i
        step += range(k_i)
        first += [col] * k_i
        at += n_i
        col += k_i
    longest = max((k_i for _, k_i in segments), default=0)

    def as_tensor(values):
        return torch.tensor(values, dtype=torch.int64, device=device)

    return _Columns(at, as_tensor(top), as_tensor(base), as_tensor(offset), as_tensor(step), as_tensor(first),
                    math.ceil(math.log2(longest)) if longest > 1 else 0)


def _floyd_indices(words: torch.Tensor, cols: _Columns) -> torch.Tensor:
    """Clause SAMP.4: every row's kept indices in the concatenated index space, distinct, k_i per segment.

    ``words``: ``(B, sum k)`` uniform 63-bit integers, segment after segment.
    """
    batch = words.shape[0]
    t = torch.remainder(words, cols.top + 1)  # t_j uniform in [0, n_i - k_i + s]
    # t_j equals an earlier t_i of its segment: sort by index (segments are disjoint ranges); a stable
    # sort keeps equal values in step order, so every repeat after the first is a collision
    order = torch.sort(t + cols.offset, dim=1, stable=True)
    repeat = torch.zeros_like(t, dtype=torch.bool)
    repeat[:, 1:] = order.values[:, 1:] == order.values[:, :-1]
    collided = torch.zeros_like(repeat).scatter_(1, order.indices, repeat)
    # t_j = n_i - k_i + i for an earlier step i collides iff step i did: follow the chain j -> i -> ...
    link = t - cols.base
    chained = (link >= 0) & (link < cols.step)
    if cols.doublings and bool(chained.any()):
        own = torch.arange(t.shape[1], device=t.device).expand(batch, -1)
        pointer = torch.where(chained, link + cols.first, own)
        for _ in range(cols.doublings):
            collided = collided | collided.gather(1, pointer)
            pointer = pointer.gather(1, pointer)
    return torch.where(collided, cols.top, t) + cols.offset


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
    exactly ``k``).  Clause SAMP.4 says how.  Masks live on the generator's device.
    """
    method = Method(method)
    n, k = _check_sizes(n, k, method)
    if batch < 0:
        raise InvalidParameterError(f"batch must be non-negative, got {batch}")
    device = generator.device
    segments = tuple(method.scheme.lists(n, k))  # the sub-sampled lists (S1 per modality, S4 pooled)
    cols = _columns(segments, device)
    words = torch.empty((batch, sum(k)), dtype=torch.int64, device=device).random_(generator=generator)
    mask = torch.zeros((batch, cols.width), dtype=torch.bool, device=device)
    if words.numel():
        mask.scatter_(1, _floyd_indices(words, cols), True)
    return tuple(mask.split(list(n), dim=1))
