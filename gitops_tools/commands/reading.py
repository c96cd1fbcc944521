"""Reading a GitOps repository for the commands that look at it: an environment's images, its history.

The edge between the tree (files, the git of this run) and the pure core: every function here reads; none
decides.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_tools.commands.workspace import Workspace, open_workspace
from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import GitopsError
from gitops_tools.files import find_kustomization, read_text

if TYPE_CHECKING:
    from gitops_tools.core.envstate import EnvImages
    from gitops_tools.git.repo import Git


def repository(cwd: Path, repo_dir: Path | None, verbose: bool = False, git: bool = True) -> Workspace:
    """The GitOps repository around ``cwd`` (or ``repo_dir``), with its git when it is a checkout (and ``git``:
    what reads only the tree, ``status`` and ``diff``, loads no git edge)."""
    import os

    ws = open_workspace(cwd, repo_dir)
    if ws.root is None:
        raise GitopsError("not in a GitOps repository", fix="run from the checkout, or pass -C DIR")
    if not ws.in_checkout or not git:
        return ws
    from gitops_tools.git.auth import from_environment
    from gitops_tools.git.repo import Git

    return ws._replace(git=Git(ws.root, verbose=verbose, credentials=from_environment(os.environ)))


def env_images(ws: Workspace, name: str) -> EnvImages:
    """The ``images:`` entries of environment ``name`` as the tree of ``ws`` holds them."""
    from gitops_tools.core.envstate import (
        read_env_images,  # with the YAML parser: not for history
    )

    env = ws.config.environment(name)
    assert ws.root is not None
    kfile = find_kustomization(ws.root / env.path, env.path)
    display = ws.display(kfile)
    return read_env_images(env.name, read_text(kfile, display), display)


def git_of(ws: Workspace) -> Git:
    """The git of this run (the writer's, with its credentials and -v), else one for the checkout."""
    if ws.git is not None:
        return ws.git
    if ws.root is None or not ws.in_checkout:
        raise GitopsError("this is not a git checkout, so it has no history", fix="run in a clone of the repository")
    from gitops_tools.git.repo import Git

    return Git(ws.root)


def history(ws: Workspace, paths: Sequence[str], since: str | None = None) -> list[CommitRecord]:
    """The commits that touched ``paths``, newest first, with their files (one ``git log``); a shallow clone
    fetches the rest of its history first."""
    return list(stream_history(ws, paths, since))


def stream_history(ws: Workspace, paths: Sequence[str], since: str | None = None) -> Iterator[CommitRecord]:
    """:func:`history`, commit by commit as git writes them."""
    git = git_of(ws)
    if git.is_shallow():
        git.network_step("fetch", "--quiet", "--unshallow")
    return git.iter_log(paths=paths, since=since)
