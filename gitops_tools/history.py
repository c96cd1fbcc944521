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


def events(commits: Sequence[Commit], env_paths: dict[str, str], env: str | None = None,
           image: str | None = None) -> list[Event]:
    """Every change recorded in ``commits`` (newest first, as git log gives them), filtered by env and image.

    ``env_paths`` maps each environment to its directory, to say which environment a manual commit touched.
    Merge commits without trailers of their own are skipped: the commits they merge carry the trailers.
    """
    out: list[Event] = []
    for c in commits:
        trailers = {k: v for k, v in _TRAILER.findall(c.body)}
        changes = _CHANGE.findall(c.body)
        author = f"{c.author} <{c.email}>"
        pipeline = trailers.get("Gitops-Pipeline")
        source = trailers.get("Gitops-Source-Commit")
        action = trailers.get("Gitops-Action", "set-image")
        if changes:
            for e, img, old, new in changes:
                if (env is None or e == env) and (image is None or img == image):
                    out.append(Event(c.date, e, img, _none(old), _none(new), action, author, pipeline, source, c.sha))
            continue
        if len(c.parents) > 1:
            continue
        touched = sorted({name for name, path in env_paths.items()
                          if any(f == path or f.startswith(path.rstrip("/") + "/") for f in c.files)})
        for e in touched:
            if (env is None or e == env) and image is None:
                out.append(Event(c.date, e, None, None, None, "manual", author, None, None, c.sha))
    return out


def last_set(commits: Sequence[Commit], env: str, image: str, value: str) -> Commit | None:
    """The newest commit whose trailers say ``image`` became ``value`` in ``env`` (for soak times)."""
    for c in commits:
        for e, img, _, new in _CHANGE.findall(c.body):
            if (e, img, new) == (env, image, value):
                return c
    return None
