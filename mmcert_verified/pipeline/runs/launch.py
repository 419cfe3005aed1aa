"""Which shard this process runs, read from the launcher's environment (clause RUN.9).

``mmcert run`` is started either by hand (one process, ``--shard i/n`` or
the whole data set), by ``torchrun`` (one process per rank) or as a task of
a SLURM job array.  :func:`detect_launch` reads the variables those
launchers set and returns a :class:`Launch`:

* ``torchrun`` (``WORLD_SIZE`` > 1): shard ``RANK`` of ``WORLD_SIZE``; the
  rank writes ``FILE.rank-R-of-W`` and rank 0 joins the rank files into
  ``FILE`` (:mod:`.distributed`); ``LOCAL_RANK`` picks the CUDA device when
  the config names ``cuda`` without an index;
* a SLURM array (``SLURM_ARRAY_TASK_COUNT`` > 1): shard
  ``SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`` of ``SLURM_ARRAY_TASK_COUNT``
  (the ids must be contiguous, e.g. ``--array=0-7``); the task writes
  ``FILE.shard-I-of-N`` and ``mmcert merge FILE --glob 'FILE.shard-*'``
  joins them once every task is done;
* otherwise one process: an explicit ``--shard`` (which also wins over a
  SLURM array) or the whole data set.

A shard is the set of inputs with ``index % n == i`` (clause RUN.5), and each
input's votes come from its own seeded stream (clause SAMP.3), so the joined
file is the one a single process writes.  Malformed or contradictory
variables are an :class:`InvalidParameterError` naming the variable.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ...errors import InvalidParameterError
from .config import Shard


class Launcher(str, enum.Enum):
    """What started this process."""

    SINGLE = "single"  # by hand (with or without --shard)
    TORCHRUN = "torchrun"  # RANK / WORLD_SIZE, one process per rank, rank 0 joins
    SLURM_ARRAY = "slurm-array"  # one task of a job array, joined by ``mmcert merge --glob``


@dataclass(frozen=True)
class Launch:
    """This process's shard, the launcher that chose it and (torchrun) its local rank."""

    launcher: Launcher
    shard: Shard = Shard()
    local_rank: int | None = None

    @property
    def distributed(self) -> bool:
        """True when this process is one rank of several that join their files themselves (torchrun)."""
        return self.launcher is Launcher.TORCHRUN

    def shard_out(self, out: str | Path) -> Path:
        """The file this process writes: ``out`` itself, ``out.rank-R-of-W`` or ``out.shard-I-of-N``."""
        out = Path(out)
        if self.launcher is Launcher.TORCHRUN:
            return out.with_name(f"{out.name}.rank-{self.shard.index}-of-{self.shard.count}")
        if self.launcher is Launcher.SLURM_ARRAY:
            return out.with_name(f"{out.name}.shard-{self.shard.index}-of-{self.shard.count}")
        return out

    def rank_files(self, out: str | Path) -> list[Path]:
        """Every rank's file of a torchrun launch (in rank order)."""
        return [Launch(self.launcher, Shard(i, self.shard.count)).shard_out(out) for i in range(self.shard.count)]

    def device(self, device: str) -> str:
        """``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun; any other name is kept as written."""
        if self.local_rank is not None and device.strip() == "cuda":
            return f"cuda:{self.local_rank}"
        return device


def _int_var(environ: Mapping[str, str], name: str, minimum: int) -> int | None:
    text = environ.get(name)
    if text is None or text.strip() == "":
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidParameterError(f"environment variable {name}={text!r} is not an integer") from None
    if value < minimum:
        raise InvalidParameterError(f"environment variable {name}={value} must be at least {minimum}")
    return value


def _torchrun(environ: Mapping[str, str]) -> Launch | None:
    world = _int_var(environ, "WORLD_SIZE", 1)
    if world is None:
        return None
    rank = _int_var(environ, "RANK", 0)
    if rank is None:
        raise InvalidParameterError("WORLD_SIZE is set but RANK is not (start the ranks with torchrun)")
    if rank >= world:
        raise InvalidParameterError(f"RANK={rank} is not below WORLD_SIZE={world}")
    local = _int_var(environ, "LOCAL_RANK", 0)
    if world == 1:
        return Launch(Launcher.SINGLE, Shard(), local)
    return Launch(Launcher.TORCHRUN, Shard(rank, world), local)


def _slurm_array(environ: Mapping[str, str]) -> Launch | None:
    task = _int_var(environ, "SLURM_ARRAY_TASK_ID", 0)
    count = _int_var(environ, "SLURM_ARRAY_TASK_COUNT", 1)
    if task is None or count is None:
        return None
    low = _int_var(environ, "SLURM_ARRAY_TASK_MIN", 0)
    high = _int_var(environ, "SLURM_ARRAY_TASK_MAX", 0)
    step = _int_var(environ, "SLURM_ARRAY_TASK_STEP", 1)
    low = 0 if low is None else low
    if (step not in (None, 1)) or (high is not None and high - low + 1 != count):
        raise InvalidParameterError(
            f"the SLURM array ids are not contiguous (min {low}, max {high}, step {step}, count {count}): "
            "use --array=0-(N-1), or pass --shard i/n yourself"
        )
    index = task - low
    if not 0 <= index < count:
        raise InvalidParameterError(
            f"SLURM_ARRAY_TASK_ID={task} is outside the array's {count} ids starting at {low}"
        )
    if count == 1:
        return Launch(Launcher.SINGLE)
    return Launch(Launcher.SLURM_ARRAY, Shard(index, count))


def detect_launch(environ: Mapping[str, str] | None = None, shard: Shard | None = None) -> Launch:
    """Clause RUN.9: this process's :class:`Launch` (see the module docstring).

    ``shard`` is an explicit ``--shard`` (None when not given).  Refused, one
    line each: ``--shard`` under torchrun with several ranks (the ranks are the
    shards), a torchrun launch inside a SLURM array of several tasks (which
    of the two splits the data would be a guess), malformed variables.
    """
    environ = os.environ if environ is None else environ
    torchrun = _torchrun(environ)
    if torchrun is not None and torchrun.distributed:
        if shard is not None and shard != Shard():
            raise InvalidParameterError(
                f"--shard {shard.index}/{shard.count} under torchrun with WORLD_SIZE={torchrun.shard.count}: "
                "the ranks are the shards; drop --shard"
            )
        slurm = _slurm_array(environ)
        if slurm is not None and slurm.launcher is Launcher.SLURM_ARRAY:
            raise InvalidParameterError(
                "both torchrun (WORLD_SIZE > 1) and a SLURM array (SLURM_ARRAY_TASK_COUNT > 1) are set: "
                "run torchrun in a plain SLURM job, or one process per array task"
            )
        return torchrun
    local = torchrun.local_rank if torchrun is not None else None
    if shard is not None:
        return Launch(Launcher.SINGLE, shard, local)
    slurm = _slurm_array(environ)
    if slurm is not None and slurm.launcher is Launcher.SLURM_ARRAY:
        return slurm
    return Launch(Launcher.SINGLE, Shard(), local)


__all__ = ["Launch", "Launcher", "detect_launch"]
