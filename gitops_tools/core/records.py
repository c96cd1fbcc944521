"""A commit as the git edge reads it: the one record that history, policies and release maths all take; and a
pipeline number as its trailers (and GitLab's CI variables) carry one.

Pure: a value, no git.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_NUMBER = re.compile(r"[0-9]{1,20}")


def number(value: str | None) -> int | None:
    """A pipeline number from a CI variable or trailer: 1 to 20 ASCII digits, as GitLab writes them (``str.isdigit``
    also takes ``²`` or ``٣``, which ``int`` then refuses or reads); None when it is not one."""
    return int(value) if value and _NUMBER.fullmatch(value) else None


class CommitRecord(NamedTuple):
    """One commit of ``git log``: full hash and message, and (when asked for) the files it touched, its
    parents, author date (ISO 8601) and author."""

    sha: str
    message: str
    files: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    date: str = ""
    author: str = ""
    email: str = ""

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    def touches(self, path: str) -> bool:
        """True when the commit changed ``path`` or something below it (``path`` "" is the whole tree)."""
        if not path or path == ".":
            return True
        prefix = path.rstrip("/") + "/"
        return any(f == path or f.startswith(prefix) for f in self.files)


def short_value(value: str | None) -> str:
    """The tag (and a short digest) of an image value, as tables show it (``-`` when unset); JSON has the whole."""
    if value is None:
        return "-"
    name, at, digest = value.partition("@")
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ("" if "/" in name else name)
    return (tag or "") + (f"@{digest[:19]}…" if at else "")
