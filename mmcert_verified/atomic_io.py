"""Writes that are whole or absent, and one writer per output file (clauses RUN.1, RUN.2).

* :func:`write_atomic` writes a file as a temporary sibling, fsyncs it,
  then renames it into place (``replace=True``) or hard-links it there
  (``replace=False``: an existing file is never overwritten), and fsyncs the
  directory.  A process killed at any point leaves either the old state or
  the complete new file, plus at most a ``.NAME.tmp-PID`` sibling, which the
  next write of the same name removes once its process is gone.  A process
  lists a directory for such siblings at its first write there and again only
  when the directory changed other than by its own writes (its mtime), so a
  run writing thousands of certificates into one directory does not list it
  once per file (which made those writes quadratic).
* :func:`deferred_dir_sync` batches the directory fsyncs of the writes in its
  block into one per directory at its end: a run's certificates of one input
  are each fsynced and renamed as always (complete or absent), and become
  durable together before the result line that records them is appended.
* :class:`FileLock` is an advisory lock (``flock``) on a ``NAME.lock``
  sibling, taken without waiting: a second writer gets a clear error.  The
  kernel releases it when its holder dies, so a ``kill -9`` never leaves a
  stale lock.
* :func:`append_line` appends one line and flushes it (a kill mid-line
  leaves a line without its newline, which readers drop and redo).

Test hook (not an API): ``MMCERT_FAULT_AT=POINT:COUNT`` makes the process
exit at once (``os._exit(137)``, as ``kill -9`` would) the COUNT-th time it
reaches the write point POINT (``header``, ``line``, ``certificate``,
``sidecar``, ``merge``), after writing half of the bytes that write was
about to write.  ``tests/e2e/test_faults.py`` uses it to interrupt runs at
every write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from .errors import InputFileError

#: environment variable of the fault-injection test hook (see the module docstring)
FAULT_ENV = "MMCERT_FAULT_AT"
_fault_hits: dict[str, int] = {}


def _fault_due(point: str) -> bool:
    """True when the test hook asks to die at this write of ``point``."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return False
    name, _, count = spec.partition(":")
    if name != point:
        return False
    _fault_hits[point] = _fault_hits.get(point, 0) + 1
    try:
        return _fault_hits[point] == int(count or 1)
    except ValueError:
        return False


def _die_half_written(fh: IO[bytes], data: bytes) -> None:
    fh.write(data[: len(data) // 2])
    fh.flush()
    os.fsync(fh.fileno())
    os._exit(137)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours
        return True
    return True


#: per directory: (its mtime_ns after this process's last change to it, {NAME: [temporary siblings of NAME]})
_temp_scans: dict[str, tuple[int, dict[str, list[str]]]] = {}
#: directories whose fsync a :func:`deferred_dir_sync` block owes (None: no block open)
_owed_dir_syncs: set[str] | None = None

if hasattr(os, "register_at_fork"):  # a forked child is another process: what its parent listed is not its own
    os.register_at_fork(after_in_child=_temp_scans.clear)


def _mtime_ns(directory: Path) -> int | None:
    try:
        return os.stat(directory).st_mtime_ns
    except OSError:
        return None


def _temp_siblings(directory: Path) -> dict[str, list[str]]:
    """``{NAME: [".NAME.tmp-PID", ...]}`` for the temporary files of other processes in ``directory``.

    Listed once and kept while the directory's mtime is the one this process
    last left it with; any other change (another process's file) lists it again.
    """
    key = os.fspath(directory)
    now = _mtime_ns(directory)
    known = _temp_scans.get(key)
    if known is not None and now is not None and known[0] == now:
        return known[1]
    found: dict[str, list[str]] = {}
    own = f".tmp-{os.getpid()}"
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") and ".tmp-" in name and not name.endswith(own):
                    target, _, pid = name[1:].rpartition(".tmp-")
                    if pid.isdigit():
                        found.setdefault(target, []).append(name)
    except OSError:
        return {}
    if now is not None:
        _temp_scans[key] = (now, found)
    return found


def _remove_stale_temps(path: Path, directory: Path) -> None:
    """Remove ``.NAME.tmp-PID`` siblings of ``path`` left by processes that died."""
    temps = _temp_siblings(directory).get(path.name)
    if not temps:
        return
    for name in list(temps):
        pid = int(name.rpartition(".tmp-")[2])
        if not _pid_alive(pid):
            (directory / name).unlink(missing_ok=True)
            temps.remove(name)


def _note_own_change(directory: Path) -> None:
    """After this process changed ``directory``: its new mtime is this process's doing, not another's."""
    key = os.fspath(directory)
    known = _temp_scans.get(key)
    now = _mtime_ns(directory)
    if known is not None and now is not None:
        _temp_scans[key] = (now, known[1])


class deferred_dir_sync:
    """Within the block, :func:`write_atomic` owes its directory's fsync; the block's end pays each once.

    Each file is still written to a temporary sibling, fsynced and renamed or
    linked into place (complete or absent, clause RUN.1); only the durability
    of the names waits for the block's end.  Blocks do not nest (an inner one
    joins the outer).  On an exception the owed fsyncs are still made.  The
    state is the process's (runs write from one thread), not a thread's.
    """

    def __enter__(self) -> "deferred_dir_sync":
        global _owed_dir_syncs
        self._outer = _owed_dir_syncs is not None
        if not self._outer:
            _owed_dir_syncs = set()
        return self

    def __exit__(self, *exc) -> None:
        global _owed_dir_syncs
        if self._outer:
            return
        owed, _owed_dir_syncs = _owed_dir_syncs or set(), None
        for directory in sorted(owed):
            _fsync_dir(Path(directory))


def write_atomic(path: str | Path, data: bytes, *, replace: bool = False, point: str = "write") -> Path:
    """Write ``data`` to ``path`` so that it is either complete or absent (clause RUN.1).

    ``replace=False`` refuses an existing ``path`` (:class:`InputFileError`),
    also one that appears while writing (the final step is a hard link, which
    fails on an existing name).  ``point`` names the write for the test hook.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not replace and (path.exists() or path.is_symlink()):
        raise InputFileError(f"{path} already exists; refusing to overwrite it")
    _remove_stale_temps(path, directory)
    tmp = directory / f".{path.name}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            if _fault_due(point):
                _die_half_written(fh, data)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputFileError(f"{path} already exists; refusing to overwrite it") from None
            except OSError:  # file systems without hard links: check, then rename
                if path.exists():
                    raise InputFileError(f"{path} already exists; refusing to overwrite it") from None
                os.replace(tmp, path)
        if _owed_dir_syncs is None:
            _fsync_dir(directory)
        else:
            _owed_dir_syncs.add(os.fspath(directory))
    except OSError as exc:
        raise InputFileError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
        _note_own_change(directory)
    return path


def append_line(fh: IO[bytes], line: bytes, *, point: str = "line") -> None:
    """Append one complete line (with its newline) and flush it to the file."""
    if _fault_due(point):
        _die_half_written(fh, line)
    fh.write(line)
    fh.flush()


class FileLock:
    """An advisory, non-blocking lock on ``PATH.lock`` for one writer of ``PATH`` (clause RUN.2).

    Use as a context manager.  Taking it fails at once with
    :class:`InputFileError` when another process holds it.  The lock file is
    removed on release; a process that finds the name re-pointed after
    locking (released and recreated meanwhile) retries, so two holders are
    impossible.
    """

    def __init__(self, path: str | Path) -> None:
        self.target = Path(path)
        self.path = self.target.with_name(self.target.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> "FileLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise InputFileError(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise InputFileError(
                    f"another process is writing {self.target} (it holds {self.path.name}); "
                    "wait for it to finish or give another --out"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return self
            os.close(fd)  # the holder before us removed the name after we opened it: try again
        raise InputFileError(f"cannot lock {self.path}: it keeps being replaced")  # pragma: no cover

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


__all__ = ["FAULT_ENV", "FileLock", "append_line", "deferred_dir_sync", "write_atomic"]
