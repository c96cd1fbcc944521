"""A commit as the git edge reads it: the one record that history, policies and release maths all take.

Pure: a value, no git.
"""

from __future__ import annotations

from typing import NamedTuple


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
