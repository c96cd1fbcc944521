"""``status``, ``diff`` and ``history``: what runs where, and who changed it, read from the tree and its git."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from gitops_tools.commands.reading import env_images, history as read_history, repository
from gitops_tools.core.envstate import Difference, Matrix, differences, matrix
from gitops_tools.core.history import Event, events, since_argument
from gitops_tools.errors import GitopsError


def status(cwd: Path, repo_dir: Path | None, images: Sequence[str] = ()) -> Matrix:
    ws = repository(cwd, repo_dir)
    states = [env_images(ws, e.name) for e in ws.config.environments]
    known = sorted({name for s in states for name in s.images})
    unknown = [i for i in images if i not in known]
    if unknown:
        raise GitopsError(f"{', '.join(unknown)}: set in no environment", fix=f"images: {', '.join(known) or '(none)'}")
    return matrix(states, images)


def diff(cwd: Path, repo_dir: Path | None, a: str, b: str, images: Sequence[str] = ()) -> tuple[Difference, ...]:
    ws = repository(cwd, repo_dir)
    return differences(env_images(ws, a), env_images(ws, b), images)


def history(cwd: Path, repo_dir: Path | None, env: str | None, image: str | None, since: str | None,
            verbose: bool = False, now: datetime.datetime | None = None) -> list[Event]:
    when = None if since is None else since_argument(since, now or datetime.datetime.now(datetime.timezone.utc))
    ws = repository(cwd, repo_dir, verbose)
    if env is not None:
        ws.config.environment(env)
    paths = {e.name: e.path for e in ws.config.environments}
    return events(read_history(ws, sorted(paths.values()), when), paths, env, image)
