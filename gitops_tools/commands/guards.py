"""What a writing run checks about the tree before it touches it: its lock, and the state of HEAD.

Every run that writes takes the lock of its tree, commit or not, checkout or not (two runs that read the same
file and each write their own edit of it would lose one of the two): ``.git/gitops-tools.lock`` in a checkout,
else a lock named after the directory's device and inode in a private directory under the system's temporary
directory (nothing is added to the user's tree). A commit is never made on a detached HEAD or in the middle of
a rebase, merge, cherry-pick, revert or bisect.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.git.refs import git_dir


@contextlib.contextmanager
def locked(checkout: Path | None, directory: Path, timeout: float) -> Iterator[None]:
    """Hold the lock of ``checkout`` (a git working tree), else of ``directory``, for the block."""
    from gitops_tools.locks import acquire

    if checkout is not None:
        path = git_dir(checkout) / "gitops-tools.lock"
        shown, of = str(path), checkout
    else:
        found = _plain_lock(directory)
        if found is None:  # no such directory: the command itself says so, and writes nothing
            yield
            return
        path, of = found, directory
        shown = f"{path} (the lock of {directory})"
    if path.is_symlink():
        raise GitopsError(f"{shown} is a symbolic link; gitops-tools does not follow one to lock",
                          fix=f"remove it (rm {path}): gitops-tools creates the lock file itself")
    try:
        release = acquire(str(path), timeout)
    except OSError as err:
        raise GitopsError(f"cannot take the lock {shown}: {err.strerror or err}",
                          fix="check that the directory is writable") from None
    if release is None:
        raise TemporaryError(f"another gitops-tools holds the lock of {of} for more than {timeout:.0f}s",
                             fix="retry later")
    try:
        yield
    finally:
        release()


def _plain_lock(directory: Path) -> Path | None:
    import stat
    import tempfile

    try:
        info = directory.resolve().stat()
    except OSError:
        return None
    base = Path(tempfile.gettempdir()) / f".gitops-tools-locks-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        mine = os.lstat(base)
    except OSError as err:
        raise GitopsError(f"cannot make the lock directory {base}: {err.strerror or err}",
                          fix="set TMPDIR to a writable directory") from None
    if not stat.S_ISDIR(mine.st_mode) or mine.st_uid != os.getuid() or mine.st_mode & 0o022:
        raise GitopsError(f"{base} is not a private directory of this user", fix="remove it, or set TMPDIR "
                          "to a directory of yours: gitops-tools keeps its locks there")
    return base / f"{info.st_dev}-{info.st_ino}.lock"


_IN_PROGRESS = (("rebase-merge", "a rebase"), ("rebase-apply", "a rebase (or git am)"), ("MERGE_HEAD", "a merge"),
                ("CHERRY_PICK_HEAD", "a cherry-pick"), ("REVERT_HEAD", "a revert"), ("BISECT_LOG", "a bisect"))


def refuse_unusual_head(root: Path) -> None:
    """A commit on a detached HEAD is lost at the next checkout, and one in the middle of a rebase or merge
    becomes part of it: refuse both before anything is written (read from files: no git process)."""
    where = git_dir(root)
    for name, what in _IN_PROGRESS:
        if (where / name).exists():
            raise GitopsError(f"{what} is in progress in {root}", fix="finish or abort it first (git status says "
                              "how), or pass --no-commit; nothing was written")
    try:
        head = (where / "HEAD").read_text().strip()
    except OSError:
        return
    if not head.startswith("ref:"):
        raise GitopsError(f"HEAD is detached in {root}: a commit here would belong to no branch",
                          fix="check out a branch first (git switch main), or pass --no-commit; nothing was written")
