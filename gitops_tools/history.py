"""Who changed what, when, from which pipeline: read back from commit trailers alone.

``git log`` output (one call, fields separated by control characters) is parsed into :class:`Event` values.
A commit that touched an environment without ``Gitops-Change`` trailers (an edit by hand) is reported as
such, with its files, never guessed at.

Pure: text in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

RECORD = "\x1e"
FIELD = "\x1f"
# git log --format=<LOG_FORMAT> --name-only: sha, parents, author date, author, email, committer date, body
LOG_FORMAT = "%x1e%H%x1f%P%x1f%aI%x1f%an%x1f%ae%x1f%B%x1f"

_CHANGE = re.compile(r"^Gitops-Change:\s*(\S+)\s+(\S+)\s+(.+?)\s+->\s+(.+?)\s*$", re.MULTILINE)
_TRAILER = re.compile(r"^(Gitops-[A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)


class Commit(NamedTuple):
    sha: str
    parents: tuple[str, ...]
    date: str  # ISO 8601 author date
    author: str
    email: str
    body: str
    files: tuple[str, ...]


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

    def as_dict(self) -> dict[str, str | None]:
        return dict(self._asdict())


def parse_log(output: str) -> list[Commit]:
    commits = []
    for record in output.split(RECORD)[1:]:
        fields = record.split(FIELD)
        if len(fields) < 7:
            continue
        sha, parents, date, author, email, body, rest = fields[:7]
        files = tuple(line for line in rest.splitlines() if line.strip())
        commits.append(Commit(sha, tuple(parents.split()), date, author, email, body, files))
    return commits


def _none(value: str) -> str | None:
    return None if value == "(none)" else value


class _Block:
    """One commit message's trailers inside a (possibly squashed) message."""

    def __init__(self) -> None:
        self.action = "set-image"
        self.pipeline: str | None = None
        self.source: str | None = None
        self.changes: list[tuple[str, ...]] = []


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
        if key == "Gitops-Action":
            current.action = value
        elif key == "Gitops-Pipeline":
            current.pipeline = value
        elif key == "Gitops-Source-Commit":
            current.source = value
        elif key == "Gitops-Change":
            change = _CHANGE.match(line)
            if change:
                current.changes.append(change.groups())
    return blocks


def events(commits: Sequence[Commit], env_paths: dict[str, str], env: str | None = None,
           image: str | None = None) -> list[Event]:
    """Every change recorded in ``commits`` (newest first, as git log gives them), filtered by env and image.

    ``env_paths`` maps each environment to its directory, to say which environment a manual commit touched.
    Merge commits without trailers of their own are skipped: the commits they merge carry the trailers.
    """
    out: list[Event] = []
    for c in commits:
        author = f"{c.author} <{c.email}>"
        blocks = [b for b in _blocks(c.body) if b.changes]
        for b in blocks:
            for e, img, old, new in b.changes:
                if (env is None or e == env) and (image is None or img == image):
                    out.append(Event(c.date, e, img, _none(old), _none(new), b.action, author, b.pipeline,
                                     b.source, c.sha))
        if blocks or len(c.parents) > 1:
            continue
        touched = sorted({name for name, path in env_paths.items()
                          if any(f == path or f.startswith(path.rstrip("/") + "/") for f in c.files)})
        for e in touched:
            if (env is None or e == env) and image is None:
                out.append(Event(c.date, e, None, None, None, "manual", author, None, None, c.sha))
    return out


def since_when(commits: Sequence[Commit], env: str, env_path: str, image: str, value: str) -> Commit | None:
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
