"""A deterministic random stream per input (clause SAMP.3).

The votes of input ``index`` are drawn from a ``torch.Generator`` seeded with
``input_seed(base_seed, index)``, a 63-bit integer derived by numpy's
``SeedSequence(base_seed, spawn_key=(index,))`` (a hash designed to give
independent-looking streams for distinct spawn keys).  So an input's votes
depend only on (base seed, index, N, the model, the device) -- not on which
other inputs were processed before it, in which shard, or whether a run was
interrupted -- and any input can be re-run alone.  On the CPU they do not
depend on the batch size either (see :mod:`.subsample`); on CUDA they may.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidParameterError


def input_seed(base_seed: int, index: int) -> int:
    """Clause SAMP.3: the seed of input ``index`` under ``base_seed`` (both non-negative integers)."""
    for value, what in ((base_seed, "seed"), (index, "input index")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InvalidParameterError(f"{what} must be a non-negative integer, got {value!r}")
    words = np.random.SeedSequence(int(base_seed), spawn_key=(int(index),)).generate_state(2, dtype=np.uint32)
    return ((int(words[0]) << 32) | int(words[1])) & ((1 << 63) - 1)


def input_generator(base_seed: int, index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator on ``device`` seeded with :func:`input_seed` (clause SAMP.3)."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(input_seed(base_seed, index))
    return generator
