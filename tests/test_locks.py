"""The tool's file locks: one flock when nobody holds the lock, filelock to wait when somebody does; either kind
excludes the other, in this process and in another one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from gitops_tools.locks import acquire

HOLD = """\
import sys, time
from gitops_tools.locks import acquire
release = acquire(sys.argv[1], 0)
assert release is not None
print("held", flush=True)
time.sleep(float(sys.argv[2]))
release()
"""


def test_a_free_lock_is_taken_and_released_and_its_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "tree.lock"
    release = acquire(str(path), 0)
    assert release is not None and path.is_file()
    release()
    assert path.is_file()  # waiters must all lock one inode: the file is never removed
    again = acquire(str(path), 0)
    assert again is not None
    again()


def test_a_lock_filelock_holds_is_busy_for_it_and_for_filelock_the_other_way(tmp_path: Path) -> None:
    path = str(tmp_path / "tree.lock")
    theirs = FileLock(path)
    theirs.acquire()
    try:
        assert acquire(path, 0) is None
        assert acquire(path, 0.2) is None  # waited through filelock, in vain
    finally:
        theirs.release()
    ours = acquire(path, 0)
    assert ours is not None
    try:
        with pytest.raises(Timeout):
            FileLock(path).acquire(timeout=0)
    finally:
        ours()
    FileLock(path).acquire(timeout=0)


def test_a_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    path = str(tmp_path / "tree.lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert acquire(path, 0) is None
        start = time.monotonic()
        release = acquire(path, 30)
        assert release is not None and holder.wait(timeout=30) == 0
        assert time.monotonic() - start > 0.1  # it did wait for the holder to let go
        release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_process_that_dies_holding_the_lock_frees_it(tmp_path: Path) -> None:
    path = str(tmp_path / "tree.lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait(timeout=30)
    release = acquire(path, 0)
    assert release is not None
    release()


def test_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    link = tmp_path / "tree.lock"
    link.symlink_to(target)
    with pytest.raises(OSError):
        acquire(str(link), 0)
    assert target.read_text() == "keep\n"


def test_a_lock_in_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        acquire(str(tmp_path / "no-such-directory" / "tree.lock"), 0)
    assert not (tmp_path / "no-such-directory").exists()
