"""Joining shard files into the file one unsharded run writes (clauses RUN.1, RUN.4).

:func:`merge` reads every shard with the run file's checks (digests, no
cut-off lines), requires one identity and every input exactly once, and
writes the result atomically without ever overwriting an existing file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...errors import InputFileError, InvalidParameterError
from .run_file import DIGEST_KEY, FORMAT, dumps, read_run_file, seal_record


@dataclass(frozen=True)
class MergeSummary:
    out: str
    shards: int
    inputs: int


def _check_not_being_written(path: Path) -> None:
    """A shard whose writer still holds its lock (clause RUN.2) is not complete yet: refuse it.

    Only looks: an existing ``PATH.lock`` is opened read-only and tested with
    a non-blocking shared ``flock``; nothing is created or removed.
    """
    import fcntl
    import os

    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:  # no lock file (or unreadable): nobody is writing through mmcert run
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise InputFileError(f"{path} is still being written (its run holds {lock.name}); "
                             "merge once every shard has finished") from None
    finally:
        os.close(fd)


def merged_bytes(shard_files: Sequence[str | Path]) -> bytes:
    """The file an unsharded run writes, joined from shard files (sorted by index; clause RUN.4).

    Checks the shards come from one run identity, are complete (no cut-off
    lines, no writer holding their lock) and together hold every input exactly
    once.  Shards of one identity may differ in what does not change results
    (the batch size on the CPU, the CUDA device index); the merged header is
    the first shard's, with ``shard = [0, 1]``.
    """
    if not shard_files:
        raise InvalidParameterError("no shard files to merge")
    for p in shard_files:
        _check_not_being_written(Path(p))
    files = [read_run_file(p) for p in shard_files]
    first = files[0].header
    for path, f in zip(shard_files, files):
        if f.header.get("format") != FORMAT:
            raise InputFileError(f"{path} was written by an earlier mmcert-verified ({f.header.get('format')}); "
                                 "rerun its shard to merge it")
        if f.partial_tail:
            raise InputFileError(f"{path} ends with a cut-off line: resume that shard with mmcert run first")
        if f.header.get("identity_sha256") != first.get("identity_sha256") or f.header.get("inputs") != first.get("inputs"):
            raise InputFileError(f"{path} comes from a different config than {shard_files[0]}")
    merged: dict[int, str] = {}
    for path, f in zip(shard_files, files):
        for index, row in f.lines.items():
            if index in merged:
                raise InputFileError(f"input {index} appears in more than one shard (again in {path})")
            merged[index] = row
    total = int(first["inputs"])
    missing = [i for i in range(total) if i not in merged]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise InputFileError(f"{len(missing)} of {total} inputs are missing from the shards: {shown}")
    header = {k: v for k, v in first.items() if k != DIGEST_KEY}
    header["shard"] = [0, 1]
    certs = {bool(f.header.get("certificates")) for f in files}
    header["certificates"] = certs == {True}
    header = seal_record(header["identity_sha256"], header)
    return "".join([dumps(header) + "\n", *(merged[i] + "\n" for i in sorted(merged))]).encode()


def merge(out: str | Path, shard_files: Sequence[str | Path]) -> MergeSummary:
    """Join shard outputs into the file an unsharded run writes (:func:`merged_bytes`), atomically.

    Refuses to overwrite ``out``.
    """
    from ...atomic_io import write_atomic

    out = Path(out)
    if out.exists():
        raise InputFileError(f"{out} already exists; refusing to overwrite it")
    data = merged_bytes(shard_files)
    write_atomic(out, data, replace=False, point="merge")
    return MergeSummary(str(out), len(shard_files), int(read_run_file(out).header["inputs"]))


def glob_shards(pattern: str) -> list[Path]:
    """The shard files matching a glob pattern (sorted; lock files skipped); none is an error."""
    import glob

    found = sorted(Path(p) for p in glob.glob(pattern) if not p.endswith(".lock") and Path(p).is_file())
    if not found:
        raise InputFileError(f"no files match {pattern!r}")
    return found


__all__ = ["MergeSummary", "glob_shards", "merge", "merged_bytes"]
