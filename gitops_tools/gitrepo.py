"""The one module that talks to git (through GitPython's command wrapper).

Every git command goes through :meth:`GitRepo.run`, which echoes it at ``-v`` as ``$ git …`` with secrets
masked and turns a failure into a :class:`GitopsError` that carries git's own words.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
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


class PushRejected(GitopsError):
    """``git push`` (or fetch) failed; ``stderr`` is git's message (secrets masked), ``kind`` its class."""

    def __init__(self, problem: str, stderr: str, kind: str) -> None:
        super().__init__(problem)
        self.stderr = stderr
        self.kind = kind


class GitRepo:
    """A working tree and the git commands the tool runs in it."""

    def __init__(
        self, root: Path, *, verbose: bool = False, echo: Callable[[str], None] = _stderr_echo,
        secrets: Sequence[str] = (), env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.verbose = verbose
        self.echo = echo
        self.secrets = tuple(secrets)
        self.env = dict(env or {})
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

    def _execute(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        command = ["git", *args]
        if self.verbose:
            self.echo("$ " + mask(" ".join(_quote(a) for a in command), self.secrets))
        out = self._git.execute(command, stdout_as_string=True, env={**self.env, **(env or {})})
        return str(out)

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        try:
            return self._execute(args, env)
        except git.GitCommandError as err:
            stderr = _stderr_of(err, self.secrets)
            raise GitopsError(
                f"`{mask(' '.join(['git', *args]), self.secrets)}` failed (exit {err.status}): {stderr or 'no message'}",
                fix="see git's message above; run with -v to see every git command",
            ) from None

    def network(self, *args: str) -> str:
        """A command that talks to the remote (clone, fetch, push): failures become :class:`PushRejected`."""
        from gitops_tools.pushpolicy import classify_push_error

        try:
            return self._execute(args)
        except git.GitCommandError as err:
            stderr = _stderr_of(err, self.secrets)
            raise PushRejected(
                f"`{mask(' '.join(['git', *args]), self.secrets)}` failed: {stderr or 'no message'}",
                stderr, classify_push_error(stderr),
            ) from None

    def dirty_paths(self, paths: Sequence[str], untracked: bool = True) -> list[str]:
        """The files at or below ``paths`` that differ from HEAD (staged, unstaged, and untracked if asked)."""
        if not paths:
            return []
        mode = "all" if untracked else "no"
        out = self.run("status", "--porcelain=v1", f"--untracked-files={mode}", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]

    def head(self) -> str | None:
        try:
            return self.run("rev-parse", "--verify", "--quiet", "HEAD").strip() or None
        except GitopsError:
            return None

    def commit_paths(
        self, paths: Sequence[str], message: str, author: str | None = None, *, sign: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Commit exactly ``paths`` as they are in the working tree (nothing else that is staged).

        ``git commit --only`` builds the commit from a temporary index, so an interrupted commit leaves the
        real index as it was.
        """
        with self.message_file(message) as file:
            args = ["commit", "--quiet", f"--file={file}"]
            if author:
                args.append(f"--author={author}")
            if sign:
                args.append("--gpg-sign")
            if self.head() is None:
                self.run("add", "--", *paths)
                self.run(*args, env=env)
            else:
                self.run(*args, "--only", "--", *paths, env=env)
        return self.run("rev-parse", "HEAD").strip()

    @contextlib.contextmanager
    def message_file(self, message: str) -> Iterator[str]:
        """A commit or tag message in a temporary file: a message as an argument is limited to 128 KiB
        (a promotion of a thousand images writes more), and a file keeps it out of the process list."""
        fd, name = tempfile.mkstemp(prefix="gitops-tools-message-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(message)
            yield name
        finally:
            os.unlink(name)

    def config_value(self, key: str) -> str | None:
        try:
            return self.run("config", "--get", key).strip() or None
        except GitopsError:
            return None


def _stderr_of(err: git.GitCommandError, secrets: Sequence[str]) -> str:
    stderr = mask(str(err.stderr or "").strip(), secrets)
    return re.sub(r"^stderr: '?|'$", "", stderr).strip()


def _quote(arg: str) -> str:
    return arg if arg and re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
