"""Wall-clock timing for the benchmarks: the best of repeated calls, with the device's queue drained.

Imported as a sibling module (``from timing import ...``): the benchmarks run as scripts, with this
folder first on ``sys.path``.
"""

from __future__ import annotations

import time
from typing import Callable

import torch


def sync(device: torch.device | str) -> None:
    """Return once the work queued on ``device`` (a torch.device or its name) is done; a no-op off CUDA."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], repeat: int, device: torch.device | str) -> float:
    """The least wall time, in seconds, of ``repeat`` calls of ``fn`` after one warm-up call; each call
    is timed to the end of its work on ``device`` (:func:`sync` before the clock stops)."""
    fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)
