"""Where a command works: the repository root, its configuration, and the directory TARGET names.

The root is ``--repo-dir`` when given, else the git checkout around the working directory, else (outside any
checkout) the checkout around a TARGET path, else the nearest directory holding ``gitops-tools.yaml`` (or the
working directory when it has ``environments/``), else none: a plain directory that is edited, not committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.config import CONFIG_FILE, Config, Environment, default_config, parse_config
from gitops_tools.errors import GitopsError
from gitops_tools.files import display_path, ensure_inside, is_inside, read_text

if TYPE_CHECKING:
    from gitops_tools.git.repo import Git


class Workspace(NamedTuple):
    cwd: Path
    root: Path | None  # the repository (or --repo directory); None for a plain directory
    in_checkout: bool  # root is a git working tree
    root_given: bool  # root came from --repo or the working directory, so TARGET must stay inside it
    config: Config
    git: Git | None = None  # the git this run uses for root (credentials, -v), when it is a checkout

    def display(self, path: Path) -> str:
        return display_path(path, self.root, self.cwd)


class Target(NamedTuple):
    directory: Path
    display: str  # repository-relative path of the directory
    env: Environment | None
    scope: str  # environment name, or the directory, for messages and commit subjects


def find_checkout(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that holds ``.git`` (a directory or a worktree file)."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def load_config(root: Path | None) -> Config:
    if root is None:
        return default_config(())
    path = root / CONFIG_FILE
    if path.is_file():
        return parse_config(read_text(path, CONFIG_FILE), CONFIG_FILE)
    envs = root / "environments"
    names = sorted(p.name for p in envs.iterdir() if p.is_dir()) if envs.is_dir() else []
    return default_config(names)


def open_workspace(cwd: Path, repo: Path | None, target: str | None = None) -> Workspace:
    if repo is not None:
        if not repo.is_dir():
            raise GitopsError(f"-C/--repo-dir {repo}: no such directory", fix="give the path of the GitOps checkout")
        root = repo.resolve()
        return Workspace(cwd, root, find_checkout(root) == root, True, load_config(root))
    checkout = find_checkout(cwd)
    if checkout is not None:
        return Workspace(cwd, checkout, True, True, load_config(checkout))
    if target is not None and (cwd / target).is_dir():
        checkout = find_checkout(cwd / target)
        if checkout is not None:
            return Workspace(cwd, checkout, True, False, load_config(checkout))
    here = cwd.resolve()
    for candidate in (here, *here.parents):  # a GitOps tree that is not (yet) a git checkout
        if (candidate / CONFIG_FILE).is_file() or (candidate == here and (here / "environments").is_dir()):
            return Workspace(cwd, candidate, False, True, load_config(candidate))
    return Workspace(cwd, None, False, False, load_config(None))


def resolve_target(ws: Workspace, target: str) -> Target:
    """An environment name from the configuration, or a directory (which may be an environment's)."""
    env = ws.config.find_environment(target)
    if env is not None and ws.root is not None:
        directory = ws.root / env.path
        if not directory.is_dir():
            raise GitopsError(
                f"environment {env.name}: directory {env.path} does not exist",
                file=ws.config.source, fix="create it or fix its path in gitops-tools.yaml",
            )
        ensure_inside(ws.root, directory, env.path)
        return Target(directory, env.path, env, env.name)
    directory = ws.cwd / target
    if not directory.is_dir():
        known = ", ".join(e.name for e in ws.config.environments) or "(none configured)"
        raise GitopsError(
            f"unknown environment {target!r}, and no directory of that name",
            fix=f"known environments: {known}; or give the path of an overlay directory",
        )
    if ws.root is not None and not is_inside(ws.root, directory):
        raise GitopsError(
            f"{target}: outside the repository {ws.root}",
            fix="give a directory inside the repository (or run from the checkout it belongs to)",
        )
    display = ws.display(directory)
    for e in ws.config.environments:
        if ws.root is not None and (ws.root / e.path).resolve() == directory.resolve():
            return Target(directory, display, e, e.name)
    return Target(directory, display, None, display)
