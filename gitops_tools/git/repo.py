"""The one module that talks to git.

Every git command goes through :meth:`GitRepo.run`, which echoes it at ``-v`` as ``$ git …`` with secrets
masked and turns a failure into a :class:`GitopsError` that carries git's own words. Commands run as argument
lists (never through a shell) with git's messages in English (``LC_ALL=C``), so that push rejections can be
classified, and with standard input closed, so that git never waits for a prompt.

This module used GitPython's ``Git.execute`` until it was measured: importing GitPython costs about 70 ms per
run, more than the rest of a ``release --print-next-version``, for a wrapper around :func:`subprocess.run`.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING


from gitops_tools.errors import GitopsError

if TYPE_CHECKING:
    from gitops_tools.git.auth import Credentials

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
        from gitops_tools.errors import EXIT_ERROR, EXIT_TEMPFAIL
        from gitops_tools.git.refusals import FINAL

        super().__init__(problem)
        self.stderr = stderr
        self.kind = kind
        # Wherever one is not caught: refused for good is 1, anything a later run may get past is 75.
        self.exit_code = EXIT_ERROR if kind == FINAL else EXIT_TEMPFAIL


class GitRepo:
    """A working tree and the git commands the tool runs in it."""

    def __init__(
        self, root: Path, *, verbose: bool = False, echo: Callable[[str], None] = _stderr_echo,
        secrets: Sequence[str] = (), env: Mapping[str, str] | None = None, credentials: str | None = None,
    ) -> None:
        self.root = root
        self.verbose = verbose
        self.echo = echo
        self.secrets = tuple(secrets)
        self.env = dict(env or {})
        self.credentials = credentials  # which credentials this git sends, for messages (never their value)

    @classmethod
    def with_credentials(cls, root: Path, credentials: "Credentials | None", *, verbose: bool = False) -> "GitRepo":
        """A git for ``root`` whose processes get ``credentials`` (or none) as an HTTP header, with the token
        masked in everything echoed or raised."""
        from gitops_tools.git.auth import git_environment

        secrets = credentials.secrets if credentials is not None else ()
        return cls(root, verbose=verbose, secrets=secrets, env=git_environment(credentials),
                   credentials=credentials.describe() if credentials is not None else None)

    def auth_hint(self, stderr: str) -> str:
        """For a refusal that is about credentials: which ones were sent (the variable, never the value)."""
        from gitops_tools.git.refusals import is_auth_failure

        if not is_auth_failure(stderr):
            return ""
        if self.credentials is None:
            return "; no token was sent (set GITOPS_TOKEN, or run in GitLab CI for CI_JOB_TOKEN)"
        return f"; git sent {self.credentials}: check that it is valid and may write to this repository"

    def _execute(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        command = ["git", *args]
        if self.verbose:
            self.echo("$ " + mask(" ".join(_quote(a) for a in command), self.secrets))
        try:
            done = subprocess.run(
                command, cwd=self.root, stdin=subprocess.DEVNULL, capture_output=True, check=False,
                env={**os.environ, **self.env, **(env or {}), "LC_ALL": "C", "LANGUAGE": "C"},
            )
        except OSError as err:  # no git on PATH, or the directory vanished
            raise _Failed(127, f"cannot run git: {err.strerror or err}") from None
        if done.returncode != 0:
            raise _Failed(done.returncode, done.stderr.decode("utf-8", "replace"))
        out = done.stdout.decode("utf-8", "replace")
        return out[:-1] if out.endswith("\n") else out  # one final newline dropped, as git prints it

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        try:
            return self._execute(args, env)
        except _Failed as err:
            stderr = _stderr_of(err, self.secrets)
            raise GitopsError(
                f"`{mask(' '.join(['git', *args]), self.secrets)}` failed (exit {err.status}): {stderr or 'no message'}",
                fix="see git's message above; run with -v to see every git command",
            ) from None

    def network(self, *args: str) -> str:
        """A command that talks to the remote (clone, fetch, push): failures become :class:`PushRejected`."""
        from gitops_tools.git.refusals import classify_push_error

        try:
            return self._execute(args)
        except _Failed as err:
            stderr = _stderr_of(err, self.secrets)
            raise PushRejected(
                f"`{mask(' '.join(['git', *args]), self.secrets)}` failed: {stderr or 'no message'}",
                stderr, classify_push_error(stderr),
            ) from None

    def network_step(self, *args: str, fix: str = "check the URL and the token") -> str:
        """A clone or fetch the run cannot go on without: refused for good (auth, no such repository) is exit 1
        with ``fix``; anything else (network down, server busy) is temporary, exit 75."""
        from gitops_tools.errors import TemporaryError
        from gitops_tools.git.refusals import FINAL, rejection_reason

        try:
            return self.network(*args)
        except PushRejected as err:
            reason = rejection_reason(err.stderr)
            if err.kind == FINAL:
                raise GitopsError(f"git {args[0]} failed: {reason}", fix=fix + self.auth_hint(err.stderr)) from None
            raise TemporaryError(f"git {args[0]} failed: {reason}", fix="retry later (exit 75)") from None

    def undo_commit(self, sha: str, paths: Sequence[str]) -> bool:
        """Take back the tool's own commit ``sha`` (of ``paths``), if it is still HEAD: HEAD to its parent, and
        ``paths`` in the index and the working tree as they were there. What else the user had staged or edited
        stays as it is (``reset --keep`` would unstage it). False when HEAD moved on (nothing is touched)."""
        if self.head() != sha:
            return False
        parent = self.run("rev-parse", f"{sha}^").strip()
        self.run("reset", "--quiet", "--soft", parent)
        existed = self.run("ls-tree", "-r", "--name-only", parent, "--", *paths).splitlines() if paths else []
        if existed:
            self.run("checkout", parent, "--", *existed)
        for path in sorted(set(paths) - set(existed)):  # files the commit created
            self.run("rm", "--quiet", "--cached", "--ignore-unmatch", "--", path)
            (self.root / path).unlink(missing_ok=True)
        return True

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
        import tempfile  # only writers need it

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


class _Failed(Exception):
    """A git command exited non-zero (internal: :meth:`GitRepo.run` and :meth:`GitRepo.network` translate it)."""

    def __init__(self, status: int, stderr: str) -> None:
        super().__init__(status, stderr)
        self.status = status
        self.stderr = stderr


def _stderr_of(err: _Failed, secrets: Sequence[str]) -> str:
    return mask(err.stderr.strip(), secrets)


def _quote(arg: str) -> str:
    return arg if arg and re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"
