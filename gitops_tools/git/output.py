"""What git prints, read: ``git log`` records, git's own words inside GitPython's errors, and commands shown
with their secrets masked. Pure text handling for :mod:`gitops_tools.git.repo`."""

from __future__ import annotations

import re
from typing import Any

from gitops_tools.core.records import CommitRecord

# git log --format=<LOG_FORMAT> [--name-only]: one record per commit, fields split by control characters
RECORD, FIELD = "\x1e", "\x1f"
LOG_FORMAT = "%x1e%H%x1f%P%x1f%aI%x1f%an%x1f%ae%x1f%B%x1f"


def raw_stderr(err: Any, stream: str = "stderr") -> str:
    """GitPython wraps stderr (and stdout) as ``"\\n  stderr: '…'"``: git's own words back."""
    text = str(getattr(err, stream, "") or "")
    prefix = f"\n  {stream}: '"
    if text.startswith(prefix) and text.endswith("'"):
        text = text[len(prefix):-1]
    return text


def parse_log(output: str) -> list[CommitRecord]:
    """The records of ``git log --format=<LOG_FORMAT> [--name-only]`` output."""
    return [r for r in map(record, output.split(RECORD)[1:]) if r is not None]


def record(text: str) -> CommitRecord | None:
    fields = text.split(FIELD)
    if len(fields) < 7:
        return None
    sha, parents, date, author, email, body, rest = fields[:7]
    files = tuple(line for line in rest.splitlines() if line.strip())
    return CommitRecord(sha, body, files, tuple(parents.split()), date, author, email)


def quote(arg: str) -> str:
    return arg if arg and re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
