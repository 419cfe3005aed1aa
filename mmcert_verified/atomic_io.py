"""Writes that are whole or absent, and one writer per output file (clauses RUN.1, RUN.2).

* :func:`write_atomic` writes a file as a temporary sibling, fsyncs it,
  then renames it into place (``replace=True``) or hard-links it there
  (``replace=False``: an existing file is never overwritten), and fsyncs the
  directory.  A process killed at any point leaves either the old state or
  the complete new file, plus at most a ``.NAME.tmp-PID`` sibling, which the
  next write of the same name removes once its process is gone.
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


def _remove_stale_temps(path: Path) -> None:
    """Remove ``.NAME.tmp-PID`` siblings of ``path`` left by processes that died."""
    prefix = f".{path.name}.tmp-"
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        if p.name.startswith(prefix):
            pid = p.name[len(prefix):]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                p.unlink(missing_ok=True)


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
    _remove_stale_temps(path)
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
        _fsync_dir(directory)
    except OSError as exc:
        raise InputFileError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
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


__all__ = ["FAULT_ENV", "FileLock", "append_line", "write_atomic"]
