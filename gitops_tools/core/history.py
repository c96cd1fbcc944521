"""Who changed what, when, from which pipeline: read back from commit trailers alone.

The commits of ``git log`` (:class:`~gitops_tools.core.records.CommitRecord`, read by the git edge) become
:class:`Event` values.
A commit that touched an environment without ``Gitops-Change`` trailers (an edit by hand) is reported as
such, with its files, never guessed at.

Pure: text in, values out.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import UsageError

_CHANGE = re.compile(r"^Gitops-Change:\s*(\S+)\s+(\S+)\s+(.+?)\s+->\s+(.+?)\s*$", re.MULTILINE)
_TRAILER = re.compile(r"^(Gitops-[A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)


class Event(NamedTuple):
    time: str
    env: str | None
    image: str | None
    old: str | None
    new: str | None
    action: str  # set-image, promote, rollback… or "manual" for a commit without trailers
    author: str
    pipeline: str | None
    source_commit: str | None
    commit: str
    pipeline_id: str | None = None
    pipeline_iid: str | None = None
    source_project: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return dict(self._asdict())


def _none(value: str) -> str | None:
    return None if value == "(none)" else value


class _Block:
    """One commit message's trailers inside a (possibly squashed) message."""

    def __init__(self) -> None:
        self.action = "set-image"
        self.pipeline: str | None = None
        self.source: str | None = None
        self.pipeline_id: str | None = None
        self.pipeline_iid: str | None = None
        self.project: str | None = None
        self.changes: list[tuple[str, ...]] = []


# trailer -> the _Block attribute it sets
_BLOCK_FIELDS = {"Gitops-Action": "action", "Gitops-Pipeline": "pipeline", "Gitops-Source-Commit": "source",
                 "Gitops-Pipeline-Id": "pipeline_id", "Gitops-Pipeline-Iid": "pipeline_iid",
                 "Gitops-Source-Project": "project"}


def _blocks(body: str) -> list[_Block]:
    """The trailer blocks of a message: a squash of several commits carries one block per commit.

    A block starts at a ``Gitops-Action:`` line (or at the first ``Gitops-`` trailer when there is none) and
    holds the changes and source trailers that follow it.
    """
    blocks: list[_Block] = []
    current: _Block | None = None
    for line in body.splitlines():
        m = _TRAILER.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if current is None or key == "Gitops-Action":
            current = _Block()
            blocks.append(current)
        if key in _BLOCK_FIELDS:
            setattr(current, _BLOCK_FIELDS[key], value)
        elif key == "Gitops-Change":
            change = _CHANGE.match(line)
            if change:
                current.changes.append(change.groups())
    return blocks


def events(commits: Sequence[CommitRecord], env_paths: Mapping[str, str], env: str | None = None,
           image: str | None = None) -> list[Event]:
    """Every change recorded in ``commits`` (newest first, as git log gives them), filtered by env and image.

    ``env_paths`` maps each environment to its directory, to say which environment a manual commit touched.
    A ``Gitops-Change`` trailer counts only when its commit really changed that environment's directory (or,
    for an overlay outside the configuration, the directory the trailer names): a message cannot claim a
    change it did not make. Merge commits without trailers of their own are skipped: the commits they merge
    carry the trailers.
    """
    out: list[Event] = []
    for c in commits:
        author = f"{c.author} <{c.email}>"
        blocks = [b for b in _blocks(c.message) if b.changes]
        for b in blocks:
            for e, img, old, new in b.changes:
                if not ((env is None or e == env) and (image is None or img == image)):
                    continue
                if not c.touches(env_paths.get(e, e)):
                    continue  # a trailer about a place this commit did not change: not believed
                out.append(Event(c.date, e, img, _none(old), _none(new), b.action, author, b.pipeline,
                                 b.source, c.sha, b.pipeline_id, b.pipeline_iid, b.project))
        if blocks or len(c.parents) > 1:
            continue
        touched = sorted(name for name, path in env_paths.items() if c.touches(path))
        for e in touched:
            if (env is None or e == env) and image is None:
                out.append(Event(c.date, e, None, None, None, "manual", author, None, None, c.sha))
    return out


_RELATIVE = re.compile(
    r"^(\d+)\s*[. ]?\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?|months?|years?)"
    r"(?:\s*[. ]?\s*ago)?$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since_argument(text: str, now: datetime.datetime) -> str:
    """What ``history --since WHEN`` gives ``git log --since``: an ISO date or time as written, or a relative
    time (``2.weeks``, ``3 days ago``, ``30m``, ``yesterday``) turned into an exact UTC time from ``now``.
    Anything else is refused: git would read it as "now" and show nothing, silently."""
    value = text.strip()
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        if len(iso) == 10:
            datetime.date.fromisoformat(iso)
        else:
            datetime.datetime.fromisoformat(iso)
        return value
    except ValueError:
        pass
    seconds: float | None = None
    if value.lower() == "yesterday":
        seconds = 86400
    elif value.lower() in ("now", "today"):
        seconds = 0 if value.lower() == "now" else None
        if seconds is None:
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            return midnight.isoformat(timespec="seconds")
    else:
        m = _RELATIVE.match(value)
        if m:
            unit = m.group(2).lower()
            if unit.startswith("mo"):
                per = 30 * 86400
            elif unit.startswith("y"):
                per = 365 * 86400
            else:
                per = _SECONDS[unit[0]]
            seconds = int(m.group(1)) * per
    if seconds is None:
        raise UsageError(
            f"--since {text!r}: not a date or a time span",
            fix="write a date or time (2026-11-01, 2026-11-01T10:00:00+00:00) or a span back from now "
                "(30m, 2h, 3 days, 2.weeks, yesterday)",
        )
    return (now - datetime.timedelta(seconds=seconds)).isoformat(timespec="seconds")


def since_when(commits: Sequence[CommitRecord], env: str, env_path: str, image: str, value: str) -> CommitRecord | None:
    """The commit that made ``image`` ``value`` in ``env``, if history says so for certain (for --min-age).

    Walks back from the newest change of the environment: the first recorded change of the image must set
    it to ``value``; a commit without trailers on the way (an edit by hand) means we cannot know.
    """
    for ev in events(commits, {env: env_path}, env):
        if ev.action == "manual":
            return None
        if ev.image == image:
            return next((c for c in commits if c.sha == ev.commit), None) if ev.new == value else None
    return None


def who_set(commits: Sequence[CommitRecord], scope: str, path: str, image: str, value: str,
            shallow: bool) -> Event | str | None:
    """The recorded change that made ``image`` ``value`` in ``scope`` (whose directory is ``path``): the event,
    or why history cannot say (a string), or None when the answer lies behind the edge of a shallow clone
    (``shallow``: a commit without parents there is that edge, not a change by hand)."""
    by_sha = {c.sha: c for c in commits}
    for ev in events(commits, {scope: path}, scope):
        if ev.action == "manual":
            if shallow and not by_sha[ev.commit].parents:
                return None
            return f"it was last changed without gitops-tools (commit {ev.commit[:12]})"
        if ev.image != image:
            continue
        if ev.new != value:
            return f"history's last change of it (commit {ev.commit[:12]}) does not match the file"
        return ev
    return None if shallow else "no commit in history says which pipeline set it"
