"""The files a release reads and writes: ``pyproject.toml``, the version files and the CHANGELOG.

Every one of them must resolve inside the repository, symbolic links followed, before anything is read for
writing or written; all of them are written or none (an interruption or a failed commit puts the old bytes
back). The new texts are made by :mod:`gitops_tools.release.config` and :mod:`gitops_tools.release.changelog`.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from gitops_tools.errors import GitopsError
from gitops_tools.files import read_text, write_all
from gitops_tools.release.changelog import prepend
from gitops_tools.release.config import (
    SETTING,
    ReleaseConfig,
    check_version_file,
    load_config,
    pyproject_with_version,
    version_file,
    with_version,
)


class Inputs(NamedTuple):
    """What a release reads from the library, once per attempt."""

    config: ReleaseConfig
    current: str  # [project] version
    pyproject: str  # as messages show it: PATH/pyproject.toml
    pyproject_path: str  # the file it resolves to, relative to the repository root
    pyproject_text: str
    version_texts: tuple[tuple[str, str, str], ...]  # (path, text, variable) of each version file
    changelog: str  # path relative to the repository root

    @property
    def pattern(self) -> str:
        return f"{self.config.tag_prefix}[0-9]*"

    @property
    def files(self) -> tuple[str, ...]:
        return (self.pyproject_path, *(name for name, _, _ in self.version_texts), self.changelog)

    def check_version_files(self) -> None:
        for name, text, variable in self.version_texts:
            check_version_file(text, name, self.current, variable)


def read_inputs(root: Path, rel: str, tag_prefix: str | None) -> Inputs:
    where = f"{rel}/" if rel else ""
    pyproject = f"{where}pyproject.toml"
    pyproject_path = _inside(root, where, "pyproject.toml", pyproject, None)
    text = read_text(root / pyproject_path, pyproject)
    config, current = load_config(text, pyproject, tag_prefix)
    # every file release writes, checked before anything is read for writing or written
    entries = [version_file(f) for f in config.version_files]
    version_paths = [(_inside(root, where, f, pyproject, "version_files"), v) for f, v in entries]
    changelog = _inside(root, where, config.changelog, pyproject, "changelog")
    versions = tuple((name, read_text(root / name, name), v) for name, v in version_paths)
    return Inputs(config, current, pyproject, pyproject_path, text, versions, changelog)


@contextlib.contextmanager
def write_release(root: Path, inputs: Inputs, version: str, section: str) -> Iterator[list[str]]:
    """Write the release's files (all or none); if the block fails, put the old bytes back (and remove a
    CHANGELOG this made). Yields the paths written, relative to the repository root."""
    texts = {inputs.pyproject_path: pyproject_with_version(inputs.pyproject_text, version)}
    for name, text, variable in inputs.version_texts:
        texts[name] = with_version(text, version, variable)
    changelog = root / inputs.changelog
    existing = read_text(changelog, inputs.changelog) if changelog.is_file() else None
    texts[inputs.changelog] = prepend(existing, section)
    originals = {n: (read_text(root / n, n) if (root / n).is_file() else None) for n in texts}
    for n in texts:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
    write_all({root / n: t for n, t in texts.items()})
    try:
        yield list(texts)
    except BaseException:
        write_all({root / n: before for n, before in originals.items() if before is not None})
        for n, before in originals.items():
            if before is None:
                (root / n).unlink(missing_ok=True)
        raise


def _inside(root: Path, where: str, value: str, pyproject_file: str, setting: str | None) -> str:
    """The file ``value`` (relative to the library directory ``where``) as a path relative to the repository
    root with every symbolic link followed, so that release reads, writes and commits the file it checked.

    Refused (before anything is written): an absolute path, ``..`` out of the repository, a symbolic link that
    leads out of it (to anywhere, even a missing file), a path into ``.git``, a directory. ``setting`` is the
    key of ``[tool.gitops-tools.release]`` that names the file (None: the library's pyproject.toml itself)."""
    if setting is None:
        shown, key = "", None
        fix = ("release writes the version into it: keep the library's pyproject.toml in the repository; "
               "nothing was written")
    else:
        shown, key = f"{setting} {value!r}", f"{SETTING}.{setting}"
        fix = (f"give {setting} as a path relative to the library directory "
               f"({where.rstrip('/') or 'the repository root'}) that stays inside the repository: no absolute path, "
               "no .. out of it, no symbolic link out of it; nothing was written")

    def refuse(problem: str) -> GitopsError:
        return GitopsError(f"{shown} {problem}".lstrip(), file=pyproject_file, key=key, fix=fix)

    if not value or os.path.isabs(value):
        raise refuse("is empty" if not value else "is an absolute path: release writes only inside the repository")
    lexical = posixpath.normpath(where + value.replace(os.sep, "/"))
    if lexical == ".." or lexical.startswith("../"):
        raise refuse("is outside the repository (.. leads out of it)")
    real_root = root.resolve()
    try:
        target = (root / lexical).resolve()
    except (OSError, RuntimeError) as err:  # a loop of symbolic links
        raise refuse(f"cannot be resolved: {err}") from None
    try:
        inside = target.relative_to(real_root)
    except ValueError:
        raise refuse(f"resolves to {target}, outside the repository (a symbolic link leads out of it)") from None
    if ".git" in inside.parts or not inside.parts:
        raise refuse(f"resolves to {target}, which is not a file of the working tree")
    if target.is_dir():
        raise refuse(f"resolves to {target}, a directory")
    return inside.as_posix()

