"""What an environment admits, whichever command writes it: the policies that need more than the edit itself.

``only_from_previous`` (a protected environment takes only what the environment before it runs) and
``min_age`` (a version must have run there for a while, according to history) hold for ``image set`` as they
do for ``promote``: a policy that one way in skips is not a policy. ``rollback`` restores values the
environment ran before, which passed these policies when they first landed, so it is not held to them.

Reads the other environment's kustomization and the history (I/O through the workspace's git); decides with
the pure modules.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from gitops_tools.config import Environment, parse_duration
from gitops_tools.core.envstate import EnvImages, read_env_images
from gitops_tools.errors import GitopsError, PolicyError
from gitops_tools.files import find_kustomization, read_text
from gitops_tools.core.history import LOG_FORMAT, Commit, parse_log, since_when
from gitops_tools.core.kustomize import KustImage
from gitops_tools.commands.workspace import Workspace


def env_images(ws: Workspace, name: str) -> EnvImages:
    """The ``images:`` entries of environment ``name`` as the tree of ``ws`` holds them."""
    env = ws.config.environment(name)
    assert ws.root is not None
    kfile = find_kustomization(ws.root / env.path, env.path)
    display = ws.display(kfile)
    return read_env_images(env.name, read_text(kfile, display), display)


def local_git(root: Any, verbose: bool = False) -> Any:
    import os

    from gitops_tools.git.auth import from_environment
    from gitops_tools.git.repo import GitRepo

    return GitRepo.with_credentials(root, from_environment(os.environ), verbose=verbose)


def git_of(ws: Workspace) -> Any:
    """The git of this run (the writer's, with its credentials and -v), else one for the checkout."""
    assert ws.root is not None
    return ws.git if ws.git is not None else local_git(ws.root)


def deepen(git: Any) -> None:
    """History is read from commits: a shallow clone fetches the rest first."""
    if git.run("rev-parse", "--is-shallow-repository").strip() == "true":
        git.network_step("fetch", "--quiet", "--unshallow")


def log(ws: Workspace, paths: Sequence[str], since: str | None = None) -> list[Commit]:
    """The commits that touched ``paths``, newest first, with their files (one ``git log``)."""
    git = git_of(ws)
    deepen(git)
    args = ["log", f"--format={LOG_FORMAT}", "--name-only"]
    if since:
        args.append(f"--since={since}")
    return parse_log(git.run(*args, "--", *paths))


def fields(e: KustImage | None) -> tuple[str | None, ...] | None:
    """What makes two entries run the same image: newName, newTag and digest."""
    return None if e is None else (e.new_name, e.new_tag, e.digest)


def check_from_previous(ws: Workspace, target: Environment, entries: Sequence[KustImage], file: str,
                        fix: str) -> None:
    """``only_from_previous``: a protected ``target`` takes only what the environment before it runs."""
    config = ws.config
    if not (target.protected and config.policies.only_from_previous):
        return
    previous = config.previous_environment(target.name)
    if previous is None or not entries:
        return
    running = env_images(ws, previous.name).images
    for entry in entries:
        if fields(running.get(entry.name)) != fields(entry):
            raise PolicyError(
                f"{target.name} only takes what {previous.name} runs: {entry.name} {entry.value} is not running in "
                f"{previous.name}",
                file=file, key=f"images[name={entry.name}]", fix=fix.format(previous=previous.name),
            )


def parse_age(text: str) -> datetime.timedelta:
    seconds = parse_duration(text)
    if seconds is None:
        raise GitopsError(f"invalid duration {text!r}", fix="write a number and a unit: 30m, 2h, 1d")
    return datetime.timedelta(seconds=seconds)


def check_age(ws: Workspace, source: str, items: Sequence[tuple[str, str]], minimum: datetime.timedelta,
              now: datetime.datetime, waive: str) -> None:
    """``min_age``: each (image, value) must have run in ``source`` for at least ``minimum``, per history."""
    if not minimum or not items:
        return
    env = ws.config.environment(source)
    commits = log(ws, [env.path])
    for image, value in items:
        found = since_when(commits, source, env.path, image, value)
        if found is None:
            raise PolicyError(
                f"no record of when {image} became {value} in {source} "
                "(its last change there has no Gitops-Change trailer saying so)",
                fix=f"{waive}, or set the image with gitops-tools so that history records it",
            )
        age = now - datetime.datetime.fromisoformat(found.date)
        if age < minimum:
            raise PolicyError(
                f"{image} {value} has run in {source} for {_human(age)}, less than {_human(minimum)}",
                fix=f"wait, or {waive}",
            )


def _human(delta: datetime.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"
