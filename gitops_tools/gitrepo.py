"""The one module that talks to git (through GitPython's command wrapper).

Every git command goes through :meth:`GitRepo.run`, which echoes it at ``-v`` as ``$ git …`` with secrets
masked and turns a failure into a :class:`GitopsError` that carries git's own words.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import git

from gitops_tools.errors import GitopsError

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def mask(text: str, secrets: Sequence[str] = ()) -> str:
    """Hide credentials in URLs (``https://user:token@host`` → ``https://***@host``) and known secret values."""
    out = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def _stderr_echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class GitRepo:
    """A working tree and the git commands the tool runs in it."""

    def __init__(
        self, root: Path, *, verbose: bool = False, echo: Callable[[str], None] = _stderr_echo,
        secrets: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.verbose = verbose
        self.echo = echo
        self.secrets = tuple(secrets)
        self._git = git.Git(str(root))

    @classmethod
    def discover(cls, start: Path, **kwargs: object) -> "GitRepo | None":
        """The checkout containing ``start``, or None outside any checkout."""
        try:
            repo = git.Repo(str(start), search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        if repo.bare or repo.working_tree_dir is None:
            return None
        return cls(Path(repo.working_tree_dir), **kwargs)  # type: ignore[arg-type]

    def run(self, *args: str) -> str:
        command = ["git", *args]
        if self.verbose:
            self.echo("$ " + mask(" ".join(_quote(a) for a in command), self.secrets))
        try:
            out = self._git.execute(command, stdout_as_string=True)
        except git.GitCommandError as err:
            stderr = mask(str(err.stderr or "").strip(), self.secrets)
            stderr = re.sub(r"^stderr: '?|'$", "", stderr).strip()
            raise GitopsError(
                f"`{mask(' '.join(command), self.secrets)}` failed (exit {err.status}): {stderr or 'no message'}",
                fix="see git's message above; run with -v to see every git command",
            ) from None
        return str(out)

    def dirty_paths(self, paths: Sequence[str]) -> list[str]:
        """The given repository-relative paths that differ from HEAD (staged, unstaged or untracked)."""
        if not paths:
            return []
        out = self.run("status", "--porcelain=v1", "--untracked-files=all", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]

    def head(self) -> str | None:
        try:
            return self.run("rev-parse", "--verify", "--quiet", "HEAD").strip() or None
        except GitopsError:
            return None

    def commit_paths(self, paths: Sequence[str], message: str, author: str | None = None) -> str:
        """Commit exactly ``paths`` as they are in the working tree (nothing else that is staged).

        ``git commit --only`` builds the commit from a temporary index, so an interrupted commit leaves the
        real index as it was.
        """
        args = ["commit", "--quiet", "-m", message]
        if author:
            args.append(f"--author={author}")
        if self.head() is None:
            self.run("add", "--", *paths)
            self.run(*args)
        else:
            self.run(*args, "--only", "--", *paths)
        return self.run("rev-parse", "HEAD").strip()


def _quote(arg: str) -> str:
    return arg if arg and re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
