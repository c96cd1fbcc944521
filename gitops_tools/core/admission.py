"""What an environment admits beyond the edit itself: ``only_from_previous`` and ``min_age``.

They hold for every command that writes an environment (``image set`` and ``promote``); ``rollback`` restores
values the environment ran before, which passed them when they first landed. The edge reads the other
environment's images and its history; these functions decide.

Pure: values in, a refusal (an exception) or nothing out.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from gitops_tools.config import Environment, parse_duration
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import GitopsError, PolicyError


def fields(e: KustImage | None) -> tuple[str | None, ...] | None:
    """What makes two entries run the same image: newName, newTag and digest."""
    return None if e is None else (e.new_name, e.new_tag, e.digest)


def check_from_previous(target: Environment, previous: str, running: Mapping[str, KustImage],
                        entries: Sequence[KustImage], file: str, fix: str) -> None:
    """``only_from_previous``: protected ``target`` takes only what ``previous`` (the environment before it)
    runs, per ``running`` (its images)."""
    for entry in entries:
        if fields(running.get(entry.name)) != fields(entry):
            raise PolicyError(
                f"{target.name} only takes what {previous} runs: {entry.name} {entry.value} is not running in "
                f"{previous}",
                file=file, key=f"images[name={entry.name}]", fix=fix.format(previous=previous),
            )


def parse_age(text: str) -> datetime.timedelta:
    seconds = parse_duration(text)
    if seconds is None:
        raise GitopsError(f"invalid duration {text!r}", fix="write a number and a unit: 30m, 2h, 1d")
    return datetime.timedelta(seconds=seconds)


def check_age(commits: Sequence[CommitRecord], source: str, source_path: str, items: Sequence[tuple[str, str]],
              minimum: datetime.timedelta, now: datetime.datetime, waive: str) -> None:
    """``min_age``: each (image, value) must have run in ``source`` for at least ``minimum``, per the history
    ``commits`` of ``source_path``."""
    from gitops_tools.core.history import since_when  # only where a min_age policy applies

    for image, value in items:
        found = since_when(commits, source, source_path, image, value)
        if found is None:
            raise PolicyError(
                f"no record of when {image} became {value} in {source} "
                "(its last change there has no Gitops-Change trailer saying so)",
                fix=f"{waive}, or set the image with gitops-tools so that history records it",
            )
        age = now - datetime.datetime.fromisoformat(found.date)
        if age < minimum:
            raise PolicyError(f"{image} {value} has run in {source} for {human(age)}, less than {human(minimum)}",
                              fix=f"wait, or {waive}")


def human(delta: datetime.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"
