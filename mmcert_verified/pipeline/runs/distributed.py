"""A run across torchrun ranks: each rank writes its shard, rank 0 joins them (clause RUN.9).

Under ``torchrun --nproc-per-node K -m mmcert_verified run CONFIG --out FILE``
every rank

1. runs (or resumes) shard ``RANK`` of ``WORLD_SIZE`` into its own file
   ``FILE.rank-R-of-W`` with :func:`~.execute.execute` -- so the checks,
   the per-file lock (clause RUN.2), resume (clause RUN.3) and atomic writes
   (clause RUN.1) are exactly those of ``mmcert run --shard R/W``;
2. reports to every other rank, in one ``all_gather_object`` over the gloo
   backend (the barrier), whether it succeeded and how many of its inputs
   are left;
3. and rank 0, once every rank succeeded and none has inputs left, joins the
   rank files into ``FILE`` with :func:`~.merge.merged_bytes` (the merge
   checks: one identity, digests, every input exactly once) and writes it
   atomically.  ``FILE`` is the file one process writes
   (``mmcert run CONFIG --out FILE``), byte for byte, because input i's votes
   come from its own stream (clause SAMP.3).

Rank 0 holds ``FILE``'s lock from start to end, so a single-process run, or
a second torchrun, on the same ``FILE`` is refused.  An existing ``FILE`` is
accepted only if it is a complete run file; after the ranks finish it must
equal the join byte for byte (a rerun of a finished command changes nothing),
else the join is refused.  A rank that fails makes every rank exit 2 after the
exchange (its own error, and on rank 0 a line naming the rank); the rank
files are kept, so rerunning the same command resumes.  The process group
is created with the gloo backend (CPU collectives; only the exchange uses
it, whatever the model's device) when none exists, and destroyed after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from ...errors import InputFileError, MMCertError
from .config import RunConfig
from .execute import RunSummary, execute
from .launch import Launch

#: how long a rank waits at the exchange for the slowest rank (shards can take hours)
DEFAULT_TIMEOUT = timedelta(days=7)


@dataclass(frozen=True)
class DistributedSummary:
    """What one rank did, and (rank 0) whether the join was written."""

    rank: RunSummary
    ranks: int
    remaining: int  # inputs left over all ranks
    out: str
    merged: bool  # FILE holds the joined result (written now or already equal)


@dataclass(frozen=True)
class _Status:
    ok: bool
    remaining: int
    error: str = ""


def _existing_out_ok(out: Path) -> None:
    """Refuse an existing FILE that is not a complete, unsharded run file (before any work)."""
    from .run_file import read_run_file

    if not out.exists():
        return
    existing = read_run_file(out)
    complete = (existing.header.get("shard") == [0, 1] and not existing.partial_tail
                and len(existing.lines) == existing.header.get("inputs"))
    if not complete:
        raise InputFileError(
            f"{out} exists and is not a complete run (a single-process run in progress?): resume it with "
            "`mmcert run` in one process, or give another --out"
        )


def _join(out: Path, files: list[Path]) -> None:
    from ...atomic_io import write_atomic
    from .merge import merged_bytes

    data = merged_bytes(files)
    if out.exists():
        if out.read_bytes() != data:
            raise InputFileError(f"{out} exists and differs from the join of the rank files; give another --out")
        return
    write_atomic(out, data, replace=False, point="merge")


def execute_distributed(
    config: RunConfig,
    out: str | Path,
    launch: Launch,
    *,
    limit: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    certificates: str | Path | None = None,
    log_every: float = 30.0,
    timeout: timedelta = DEFAULT_TIMEOUT,
) -> DistributedSummary:
    """Clause RUN.9: this rank's shard into ``launch.shard_out(out)``; rank 0 then joins into ``out``.

    Must be called on every rank of the launch (it is collective).  Raises
    :class:`InputFileError` on every rank when any rank failed (after the
    exchange, so no rank is left waiting).
    """
    import torch.distributed as dist

    from ...atomic_io import FileLock

    out = Path(out)
    rank, world = launch.shard.index, launch.shard.count
    created = False
    if not dist.is_initialized():
        dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timeout)
        created = True
    lock = None
    try:
        summary: RunSummary | None = None
        failure: BaseException | None = None
        try:
            if rank == 0:
                lock = FileLock(out).acquire()
                _existing_out_ok(out)
            summary = execute(config, launch.shard_out(out), launch.shard, limit=limit, progress=progress,
                              log=log, certificates=certificates, log_every=log_every)
            status = _Status(True, summary.remaining)
        except Exception as exc:  # reported to every rank first, re-raised below
            failure = exc
            status = _Status(False, 0, f"{type(exc).__name__}: {exc}" if not isinstance(exc, MMCertError) else str(exc))
        statuses: list = [None] * world
        dist.all_gather_object(statuses, status)
        if failure is not None:
            raise failure
        failed = [(r, s) for r, s in enumerate(statuses) if not s.ok]
        if failed:
            r, s = failed[0]
            raise InputFileError(f"rank {r} of {world} failed ({s.error}); the rank files are kept: "
                                 "rerun the same command to resume")
        remaining = sum(s.remaining for s in statuses)
        merged = False
        if rank == 0 and remaining == 0:
            _join(out, launch.rank_files(out))
            merged = True
        assert summary is not None
        return DistributedSummary(summary, world, remaining, str(out), merged)
    finally:
        if lock is not None:
            lock.release()
        if created:
            dist.destroy_process_group()


__all__ = ["DEFAULT_TIMEOUT", "DistributedSummary", "execute_distributed"]
