"""``status``, ``diff`` and ``history``: what runs where, and who changed it, read from the tree and its git."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_tools.commands.reading import env_images, repository, stream_history
from gitops_tools.errors import GitopsError

if TYPE_CHECKING:  # status and diff parse kustomizations; history reads commits only and parses no kustomization
    from gitops_tools.core.envstate import Difference, Matrix
    from gitops_tools.core.history import Event


def status(cwd: Path, repo_dir: Path | None, images: Sequence[str] = ()) -> Matrix:
    from gitops_tools.core.envstate import matrix

    ws = repository(cwd, repo_dir, git=False)
    states = [env_images(ws, e.name) for e in ws.config.environments]
    known = sorted({name for s in states for name in s.images})
    unknown = [i for i in images if i not in known]
    if unknown:
        raise GitopsError(f"{', '.join(unknown)}: set in no environment", fix=f"images: {', '.join(known) or '(none)'}")
    return matrix(states, images)


def diff(cwd: Path, repo_dir: Path | None, a: str, b: str, images: Sequence[str] = ()) -> tuple[Difference, ...]:
    from gitops_tools.core.envstate import differences

    ws = repository(cwd, repo_dir, git=False)
    return differences(env_images(ws, a), env_images(ws, b), images)


def history(cwd: Path, repo_dir: Path | None, env: str | None, image: str | None, since: str | None,
            verbose: bool = False, now: datetime.datetime | None = None) -> list[Event]:
    from gitops_tools.core.history import events, since_argument

    when = None if since is None else since_argument(since, now or datetime.datetime.now(datetime.timezone.utc))
    ws = repository(cwd, repo_dir, verbose)
    if env is not None:
        ws.config.environment(env)
    paths = {e.name: e.path for e in ws.config.environments}
    return events(stream_history(ws, sorted(paths.values()), when), paths, env, image)
