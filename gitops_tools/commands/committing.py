"""Committing as the right person: the configured author, else the GitLab user of the pipeline, else git's own
identity; and on a machine where git has none (a fresh CI image), as ``gitops-tools``.

Whether git has an identity is found out by committing, not by asking first: the question would cost a git
process in every run, the fallback only where it is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gitops_tools.core.changes import identity
from gitops_tools.errors import GitopsError
from gitops_tools.git.repo import Git

_NO_IDENTITY = ("Please tell me who you are", "identity unknown", "unable to auto-detect email address")


def commit(git: Git, paths: Sequence[str], message: str, configured: tuple[str | None, str | None],
           env: Mapping[str, str], *, sign: bool = False) -> tuple[str, Mapping[str, str]]:
    """Commit exactly ``paths``; return the commit and the environment git needed for the identity (a tag
    made next needs the same)."""
    author, extra = identity(configured, env, True)
    try:
        return git.commit_paths(paths, message, author, sign=sign, env=extra), extra
    except GitopsError as err:
        if not any(m in err.problem for m in _NO_IDENTITY):
            raise
    author, extra = identity(configured, env, False)
    return git.commit_paths(paths, message, author, sign=sign, env=extra), extra
