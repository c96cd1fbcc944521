"""File system edge: read text exactly as stored, write atomically, find kustomization files, keep paths inside.

Text is decoded as UTF-8 without newline translation, so CRLF and a missing final newline survive untouched.
Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the original:
a reader (or a process killed mid-write) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping as MappingABC
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


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, keeping the file's permission bits."""
    data = text.encode("utf-8")
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
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_all(texts: MappingABC[Path, str]) -> None:
    """Write several files; each one atomically, in a stable order."""
    for path in sorted(texts):
        write_atomic(path, texts[path])


def find_kustomization(directory: Path, display: str) -> Path:
    """The one kustomization file of ``directory`` (kustomize refuses a directory with two)."""
    from gitops_tools.kustomize import KUSTOMIZATION_FILES  # not at import: release reads no YAML

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
