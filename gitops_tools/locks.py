"""File locks: one ``flock`` call when nobody holds the lock, filelock to wait when somebody does.

Every lock of the tool is an exclusive ``flock`` on a file that stays where it is (filelock's lock on Unix, which
never removes its file, so that all waiters lock one inode). The usual case, a lock nobody holds, is taken here
with one non-blocking ``flock``, without importing filelock (about 19 ms, a fifth of a bump, mostly what it
imports in turn). A run that finds the lock held, or a system without ``flock``, imports filelock and waits with
its timeout. Both take the very same lock: a run of either kind excludes a run of the other.
"""

from __future__ import annotations

import os
from collections.abc import Callable

Release = Callable[[], None]

_BUSY = -1  # another open file holds the lock
_UNSUPPORTED = -2  # no flock here (Windows, a file system without it): filelock decides


def acquire(path: str, timeout: float) -> Release | None:
    """Take the lock of ``path`` (created if missing); its release, or None when another process held it for
    ``timeout`` seconds (0: do not wait). An ``OSError`` (directory not writable, ``path`` a symbolic link)
    propagates."""
    fd = _flock_now(path)
    if fd >= 0:
        return lambda: _unlock(fd)
    if fd == _BUSY and timeout == 0:
        return None
    from filelock import FileLock, Timeout

    lock = FileLock(path)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        return None
    return lambda: lock.release()


def _flock_now(path: str) -> int:
    """The descriptor of ``path``, locked; or ``_BUSY`` / ``_UNSUPPORTED``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system
        return _UNSUPPORTED
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return _BUSY
    except OSError:  # ENOLCK, EOPNOTSUPP: a file system without flock
        os.close(fd)
        return _UNSUPPORTED
    return fd


def _unlock(fd: int) -> None:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
