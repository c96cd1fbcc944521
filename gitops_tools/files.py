"""File system edge: read text exactly as stored, write atomically, find kustomization files, keep paths inside.

Text is decoded as UTF-8 without newline translation, so CRLF and a missing final newline survive untouched.
Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the original:
a reader (or a process killed mid-write) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping as MappingABC
from pathlib import Path

from gitops_tools.errors import GitopsError, YamlError


def read_text(path: Path, display: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GitopsError("no such file", file=display, fix="check the path (and gitops-tools.yaml)") from None
    except IsADirectoryError:
        raise GitopsError("is a directory, not a file", file=display) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise YamlError(
            f"not UTF-8 text (byte {err.start + 1})", file=display, fix="save the file as UTF-8"
        ) from None


def _stage(path: Path, data: bytes) -> str:
    """Write ``data`` to a new temporary file beside ``path`` (flushed to disk); return its name."""
    import tempfile  # with shutil and the compressors: about 3 ms that only writers pay

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".gitops-tools.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            pass
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, keeping the file's permission bits."""
    write_all({path: text})


def write_all(texts: MappingABC[Path, str]) -> None:
    """Replace several files so that they are all as before or all as after, even if interrupted.

    Every new text is first written to a temporary file beside its target (an interruption there removes the
    temporary files and changes nothing); then all of them are renamed into place with SIGINT and SIGTERM held
    back (:func:`gitops_tools.interrupts.held`), a handful of ``rename`` calls. A process killed with SIGKILL
    may still stop between two renames: each file is then whole, old or new.
    """
    from gitops_tools.interrupts import held

    staged: list[tuple[str, Path]] = []
    try:
        for path in sorted(texts):
            staged.append((_stage(path, texts[path].encode("utf-8")), path))
        with held():
            for tmp, path in staged:
                os.replace(tmp, path)
            staged = []
    finally:
        for tmp, _ in staged:
            _unlink(tmp)


def find_kustomization(directory: Path, display: str) -> Path:
    """The one kustomization file of ``directory`` (kustomize refuses a directory with two)."""
    from gitops_tools.core.kustomize import KUSTOMIZATION_FILES  # not at import: release reads no YAML

    found = [name for name in KUSTOMIZATION_FILES if (directory / name).is_file()]
    if not found:
        raise GitopsError(
            "no kustomization file (kustomization.yaml, kustomization.yml or Kustomization)",
            file=display,
            fix="point TARGET at an overlay directory, or create kustomization.yaml there",
        )
    if len(found) > 1:
        raise GitopsError(
            f"more than one kustomization file: {', '.join(found)}",
            file=display,
            fix="keep one of them; kustomize refuses to build this directory",
        )
    return directory / found[0]


def is_inside(root: Path, path: Path) -> bool:
    """True when ``path`` (symlinks resolved) is ``root`` or below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def ensure_inside(boundary: Path, path: Path, display: str, what: str = "the repository") -> None:
    """Refuse a file that resolves (through a symbolic link, or ``..``) to a place outside ``boundary``: its
    contents would leak into a commit, or a write would land outside."""
    if not is_inside(boundary, path):
        raise GitopsError(
            f"resolves (through a symbolic link or '..') to {path.resolve()}, outside {what}",
            file=display, fix="replace the link with the file itself; nothing was read or written",
        )


def _lexical(path: Path) -> Path:
    """Absolute, with ``..`` folded but symbolic links not followed (for showing the path the user gave)."""
    return Path(os.path.normpath(path.absolute()))


def display_path(path: Path, root: Path | None, cwd: Path) -> str:
    """How messages show ``path``: relative to the repository root, else to the working directory."""
    for base in (root, cwd):
        if base is None:
            continue
        for p, b in ((_lexical(path), _lexical(base)), (path.resolve(), base.resolve())):
            try:
                return p.relative_to(b).as_posix() or "."
            except ValueError:
                continue
    return str(path)


def local_url(url: str, cwd: Path) -> str:
    """``--repo-url ../remote.git`` means that directory as seen from where the command was run (git would
    resolve it from the temporary directory it clones into). URLs and ``host:path`` stay as they are."""
    if "://" in url or (":" in url.split("/", 1)[0]):
        return url
    candidate = cwd / url
    return str(candidate.resolve()) if candidate.exists() else url


# --- scratch directories (the clones of --repo-url) -----------------------------------------------------------

_OWNER = ".gitops-tools-owner.lock"
_STALE_WITHOUT_OWNER = 3600.0  # seconds: a directory of ours with no owner lock (older versions) is stale then


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A new temporary directory, removed when the block ends (exception, Ctrl-C and SIGTERM included).

    The run holds a lock on a file inside it for as long as it lives. A run killed with SIGKILL cannot remove
    its directory, but the kernel releases its lock: the next run with the same ``prefix`` finds directories
    whose lock it can take and removes them first.
    """
    import shutil
    import tempfile

    from gitops_tools.locks import Release, acquire

    base = Path(tempfile.gettempdir())
    remove_stale(base, prefix)
    # Made under another name, locked, then renamed: a directory is never seen under ``prefix`` without its
    # owner's lock (another run's clean-up would take the lock first and remove it under us).
    setup = Path(tempfile.mkdtemp(prefix=f".setup-{prefix}", dir=base))
    release: Release | None = None
    try:
        release = acquire(str(setup / _OWNER), -1)  # a new directory: nobody else holds it
        assert release is not None  # without a timeout, acquire waits
        tmp = base / (prefix + setup.name[len(f".setup-{prefix}"):])
        os.rename(setup, tmp)
    except BaseException:
        if release is not None:
            release()
        shutil.rmtree(setup, ignore_errors=True)
        raise
    try:
        yield tmp
    finally:
        release()
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale(base: Path, prefix: str) -> list[str]:
    """Remove the directories ``base/prefix*`` left by runs that were killed; their names, for tests."""
    import shutil
    import time

    from gitops_tools.locks import acquire

    removed: list[str] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        setup = entry.name.startswith(f".setup-{prefix}")
        if not (entry.name.startswith(prefix) or setup):
            continue
        try:
            info = os.lstat(entry)
        except OSError:
            continue
        import stat

        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue  # not a directory of ours (a symbolic link, another user's): leave it alone
        owner = entry / _OWNER
        if setup or not owner.exists():
            if time.time() - info.st_mtime < _STALE_WITHOUT_OWNER:
                continue  # just made by a run that has not taken its lock yet, or by an older version
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            continue
        try:
            release = acquire(str(owner), 0)
        except OSError:
            release = None
        if release is None:
            continue  # its run is alive
        try:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        finally:
            release()
    return removed
