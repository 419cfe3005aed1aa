"""Clause RUN.1's writes at scale: stale temporaries found without listing a directory per file, and a
block of writes made durable by one directory fsync.

``write_atomic`` removes ``.NAME.tmp-PID`` siblings left by dead processes.  It used to list the whole
directory at every write, so a run writing thousands of certificates into one directory was quadratic
(2,928 road certificates: 14 s of listing).  These tests pin the replacement: one listing per directory
while only this process changes it, a fresh listing when anything else does, and the stale file still
removed at the next write of its name.
"""

from __future__ import annotations

import os

import pytest

from mmcert_verified import atomic_io
from mmcert_verified.atomic_io import deferred_dir_sync, write_atomic
from mmcert_verified.errors import InputFileError


def _dead_pid() -> int:
    """The PID of a child that has exited and been reaped (so no process has it for the moment)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


@pytest.fixture
def listings(monkeypatch):
    """How many times write_atomic listed a directory."""
    calls = []
    real = os.scandir

    def counting(path="."):
        calls.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(atomic_io.os, "scandir", counting)
    atomic_io._temp_scans.clear()
    return calls


def test_many_writes_into_one_directory_list_it_once(tmp_path, listings):
    for i in range(50):
        write_atomic(tmp_path / f"c{i}.json", b"{}")
    assert listings == [os.fspath(tmp_path)]  # not once per file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"c{i}.json" for i in range(50))


def test_a_stale_temporary_is_removed_by_the_next_write_of_its_name(tmp_path, listings):
    stale = tmp_path / f".c1.json.tmp-{_dead_pid()}"
    stale.write_bytes(b"half")
    write_atomic(tmp_path / "c0.json", b"{}")
    assert stale.exists()  # another name's write leaves it
    write_atomic(tmp_path / "c1.json", b"{}")
    assert not stale.exists() and (tmp_path / "c1.json").read_bytes() == b"{}"
    assert len(listings) == 1


def test_a_change_by_another_process_after_the_first_listing_is_seen(tmp_path, listings):
    write_atomic(tmp_path / "c0.json", b"{}")
    stale = tmp_path / f".c1.json.tmp-{_dead_pid()}"
    stale.write_bytes(b"half")
    # a change made in a later clock tick than this process's last write (as another process's would be);
    # forced here, because two writes within one tick of the file system's clock share an mtime
    st = os.stat(tmp_path)
    os.utime(tmp_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    write_atomic(tmp_path / "c1.json", b"{}")
    assert not stale.exists()
    assert len(listings) == 2  # listed again because the directory changed


def test_the_temporary_of_a_live_process_is_left_alone(tmp_path, listings):
    live = tmp_path / f".c0.json.tmp-{os.getppid()}"  # the parent of this test process is alive
    live.write_bytes(b"in progress")
    write_atomic(tmp_path / "c0.json", b"{}")
    assert live.read_bytes() == b"in progress"


def test_a_block_fsyncs_each_directory_once_at_its_end(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic_io, "_fsync_dir", lambda d: synced.append(os.fspath(d)))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with deferred_dir_sync():
        for i in range(3):
            write_atomic(tmp_path / "a" / f"{i}.json", b"{}")
        write_atomic(tmp_path / "b" / "0.json", b"{}")
        with deferred_dir_sync():  # an inner block joins the outer one
            write_atomic(tmp_path / "b" / "1.json", b"{}")
        assert synced == []  # owed, not yet paid; the files themselves are complete already
        assert (tmp_path / "a" / "2.json").read_bytes() == b"{}"
    assert synced == sorted([os.fspath(tmp_path / "a"), os.fspath(tmp_path / "b")])
    write_atomic(tmp_path / "a" / "3.json", b"{}")  # outside a block: at once, per write
    assert synced[-1] == os.fspath(tmp_path / "a") and len(synced) == 3


def test_a_block_pays_what_it_owes_when_a_write_fails(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic_io, "_fsync_dir", lambda d: synced.append(os.fspath(d)))
    with pytest.raises(InputFileError, match="already exists"):
        with deferred_dir_sync():
            write_atomic(tmp_path / "x.json", b"{}")
            write_atomic(tmp_path / "x.json", b"{}")  # never overwrites
    assert synced == [os.fspath(tmp_path)]
    assert atomic_io._owed_dir_syncs is None  # the block is closed
