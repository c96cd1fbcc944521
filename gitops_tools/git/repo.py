"""The one place that runs git, with typed answers; GitPython where it pays for itself.

Every command goes through :meth:`Git._execute`: an argument list, never a shell; git's messages in English
(``LC_ALL=C`` and ``LANGUAGE=C``, as GitPython sets them); standard input closed, so git never waits for a
prompt; the token of this run, if any, as an ``http.extraHeader`` in the environment of each process only
(:mod:`gitops_tools.git.auth`). At ``-v`` each command is echoed as ``$ git …`` with secrets masked, and a
failure becomes our error with git's own words (its exit status and stderr, classified once in
:mod:`gitops_tools.git.refusals`).

A command runs as one plain process (``subprocess``, as GitPython's ``execute`` would run it), read whole or,
for a long ``git log`` (:meth:`Git.iter_log`), record by record as git writes it. GitPython is imported where
it gives more than that, by the first such use, never at ``import gitops_tools``:

- a persistent ``git cat-file --batch`` process (:meth:`Git.show`): reading many files at many revisions
  (rollback, a status at a revision) costs one process, not one per file;
- ``RemoteProgress`` for a progress line on clones and fetches at a terminal or at ``-v``.

A bump in a checkout (``git status``, ``git commit``) and the release scan never import it: about 28 ms of a
150 ms bump.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_tools.core.records import CommitRecord
from gitops_tools.core.redact import mask
from gitops_tools.git.output import LOG_FORMAT, RECORD, quote, raw_stderr, record
from gitops_tools.errors import EXIT_ERROR, EXIT_TEMPFAIL, GitopsError, TemporaryError
from gitops_tools.git.refusals import FINAL, classify_push_error, is_auth_failure, rejection_reason

if TYPE_CHECKING:
    from gitops_tools.git.auth import Credentials

def _stderr_echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PushRejected(GitopsError):
    """``git push`` (or clone, fetch, ls-remote) failed; ``stderr`` is git's message (secrets masked), ``kind``
    its class (:data:`~gitops_tools.git.refusals.RETRY`, ``FINAL`` or ``TEMPORARY``)."""

    def __init__(self, problem: str, stderr: str, kind: str, stdout: str = "") -> None:
        super().__init__(problem)
        self.stderr = stderr
        self.stdout = stdout  # what git printed on stdout: the per-ref lines of ``push --porcelain``
        self.kind = kind
        # Wherever one is not caught: refused for good is 1, anything a later run may get past is 75.
        self.exit_code = EXIT_ERROR if kind == FINAL else EXIT_TEMPFAIL


class _Failed(Exception):
    """A git command exited non-zero (internal: the public methods translate it)."""

    def __init__(self, status: int, stderr: str, stdout: str = "") -> None:
        super().__init__(status, stderr)
        self.status = status
        self.stderr = stderr
        self.stdout = stdout


# The git processes this process is running now, from any thread (adding to and discarding from a set are atomic
# in CPython), and those of them that :func:`stop_running` asked to stop: a cancelled run stops what its worker
# threads have under way.
_RUNNING: set[Any] = set()
_STOPPED: set[Any] = set()


def stop_running() -> None:
    """Ask every git process this process is running now to stop (SIGTERM).

    Ctrl-C and SIGTERM reach the main thread only: a run that does its work in threads (``propagate --jobs``)
    calls this so that a push held up by a slow server ends now, as it would in a run without threads, instead of
    the cancelled run waiting for it. The thread that ran the command sees it fail.
    """
    for proc in list(_RUNNING):
        _STOPPED.add(proc)
        with contextlib.suppress(OSError):
            proc.terminate()


def _output(proc: Any) -> tuple[bytes, bytes]:
    """What git wrote on stdout and stderr, read to the end.

    In a worker thread, a process that :func:`stop_running` stopped is not waited for beyond its own end: what
    it started and leaves behind (``git-remote-https`` waiting for a server's hook) may hold the pipes for long.
    """
    import subprocess
    import threading

    if threading.current_thread() is threading.main_thread():  # Ctrl-C and SIGTERM interrupt the read here
        return proc.communicate()  # type: ignore[no-any-return]
    while True:
        try:
            return proc.communicate(timeout=0.2)  # type: ignore[no-any-return]
        except subprocess.TimeoutExpired as exc:
            if proc in _STOPPED and proc.poll() is not None:
                return exc.output or b"", exc.stderr or b""


def _gitpython() -> Any:
    import git  # GitPython: about 50 ms, paid only by runs that use git

    return git


class _Progress:
    """A progress line for long clones and fetches (GitPython's ``RemoteProgress``), on standard error."""

    @staticmethod
    def make(echo: Callable[[str], None]) -> Any:
        base = _gitpython().RemoteProgress

        class Progress(base):  # type: ignore[misc, valid-type]
            def update(self, op_code: int, cur_count: Any, max_count: Any = None, message: str = "") -> None:
                if not max_count:
                    return
                stage = "receiving objects" if op_code & base.RECEIVING else \
                    "resolving deltas" if op_code & base.RESOLVING else "counting objects"
                percent = int(100 * float(cur_count) / float(max_count))
                end = op_code & base.END
                if end or percent % 25 == 0:
                    echo(f"  {stage}: {percent}% ({int(cur_count)}/{int(max_count)}){' done' if end else ''}")

        return Progress()


class Git:
    """A working tree and the git commands the tool runs in it."""

    def __init__(self, root: Path, *, verbose: bool = False, credentials: Credentials | None = None,
                 echo: Callable[[str], None] = _stderr_echo, progress: bool | None = None) -> None:
        from gitops_tools.git.auth import git_environment

        self.root = root
        self.verbose = verbose
        self.echo = echo
        self.secrets: tuple[str, ...] = credentials.secrets if credentials is not None else ()
        self.env: dict[str, str] = git_environment(credentials)
        self.credentials = credentials.describe() if credentials is not None else None
        # a progress line on long clones and fetches: at -v, or where a person watches a terminal
        self.progress = (verbose or sys.stderr.isatty()) if progress is None else progress
        self._gitpython: Any = None  # GitPython's Git for root: made (and GitPython imported) by the first command
        self._header = credentials.header if credentials is not None else None
        self._listers: dict[str, Any] = {}  # remote -> its RefLister, or None where git lists the refs
        self._message = ""  # the message file of the commit or tag being made
    def with_credentials(self, credentials: Credentials | None) -> Git:
        """The same tree, with other credentials (or none)."""
        return Git(self.root, verbose=self.verbose, credentials=credentials, echo=self.echo, progress=self.progress)

    @property
    def _git(self) -> Any:
        if self._gitpython is None:
            self._gitpython = _gitpython().Git(str(self.root))
        return self._gitpython

    def close(self) -> None:
        """Stop the persistent ``cat-file`` processes, if any were started (and close the ref listers)."""
        for lister in self._listers.values():
            if lister is not None:
                lister.close()
        if self._gitpython is not None:
            self._gitpython.clear_cache()

    # --- running ---------------------------------------------------------------------------------------------

    def _shown(self, args: Sequence[str]) -> str:
        """The command as echoed and in messages: secrets masked, a message file named by its role."""
        shown = mask(" ".join(quote(a) for a in ["git", *args]), self.secrets)
        return shown.replace(self._message, "<message>") if self._message else shown

    def _execute(self, args: Sequence[str], env: Mapping[str, str] | None = None, *, progress: bool = False) -> str:
        if self.verbose:
            self.echo("$ " + self._shown(args))
        merged = {**self.env, **(env or {})}
        if progress and self.progress:
            gitpython = _gitpython()
            try:
                return self._with_progress(args, merged)
            except gitpython.exc.GitCommandNotFound as err:
                raise _Failed(127, f"cannot run git: {err}") from None
            except OSError as err:  # the directory vanished
                raise _Failed(127, f"cannot run git: {err.strerror or err}") from None
        # One process whose output is read whole: what GitPython's ``execute`` does (git's messages in English,
        # standard input closed, one trailing newline dropped), without importing GitPython for it. A command
        # that only runs git this way (a bump in a checkout) never pays for GitPython's import.
        proc = self._spawn(args, merged)
        _RUNNING.add(proc)
        try:
            with proc:
                try:
                    stdout, stderr = _output(proc)
                except BaseException:  # Ctrl-C or SIGTERM in this thread: as subprocess.run, git does not outlive it
                    proc.kill()
                    raise
        finally:
            _RUNNING.discard(proc)
            _STOPPED.discard(proc)
        out = stdout.decode("utf-8", "surrogateescape").removesuffix("\n")
        if proc.returncode != 0:
            raise _Failed(proc.returncode, stderr.decode("utf-8", "surrogateescape").removesuffix("\n"), out)
        return out

    def _spawn(self, args: Sequence[str], env: Mapping[str, str]) -> Any:
        """``git ARGS`` as one plain process in the tree, stdout and stderr piped; a git that cannot start (none
        installed, the directory vanished) is a :class:`_Failed` with status 127."""
        import subprocess

        try:
            return subprocess.Popen(["git", *args], cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env={**os.environ, "LANGUAGE": "C", "LC_ALL": "C", **env})
        except OSError as err:
            raise _Failed(127, f"cannot run git: {err.strerror or err}") from None

    def _with_progress(self, args: Sequence[str], env: Mapping[str, str]) -> str:
        from git.cmd import handle_process_output
        from git.util import finalize_process

        handler = _Progress.make(self.echo)
        proc = self._git.execute(["git", *args[:1], "--progress", *args[1:]], env=env, as_process=True,
                                 universal_newlines=True)
        try:
            handle_process_output(proc, None, handler.new_message_handler(), finalize_process, decode_streams=False)
        except _gitpython().exc.GitCommandError as err:
            # the progress handler read stderr: git's own words are the lines it did not take for progress
            words = "\n".join([*handler.error_lines, *handler.other_lines]) or raw_stderr(err)
            raise _Failed(int(err.status) if isinstance(err.status, int) else 1, words) from None
        return ""

    @contextlib.contextmanager
    def started(self, *args: str) -> Iterator[Callable[[], int]]:
        """``git ARGS`` started now and left to run beside what the caller does next (two walks of a long history
        on two processors): the block gets a function that waits for its end and returns its exit status. Leaving
        the block stops it if it still runs."""
        if self.verbose:
            self.echo("$ " + self._shown(args) + " &")
        try:
            proc = self._spawn(args, self.env)
        except _Failed as err:
            failed = err.status
            yield lambda: failed
            return
        _RUNNING.add(proc)

        def ended() -> int:
            if proc.returncode is None:
                _output(proc)
            return int(proc.returncode)

        try:
            with proc:
                try:
                    yield ended
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
        finally:
            _RUNNING.discard(proc)
            _STOPPED.discard(proc)

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """A local command; a failure is a :class:`GitopsError` with git's words."""
        try:
            return self._execute(args, env)
        except _Failed as err:
            stderr = mask(err.stderr.strip(), self.secrets)
            raise GitopsError(f"`{self._shown(args)}` failed (exit {err.status}): {stderr or 'no message'}",
                              fix="see git's message above; run with -v to see every git command") from None

    def network(self, *args: str, progress: bool = False) -> str:
        """A command that talks to the remote: a failure is a :class:`PushRejected` with its class."""
        try:
            return self._execute(args, progress=progress)
        except _Failed as err:
            # ``push --porcelain`` says why each ref was refused on stdout ("!<TAB>ref<TAB>[rejected] (why)")
            refused = [line for line in err.stdout.splitlines() if line.startswith("!")]
            stderr = mask("\n".join([err.stderr.strip(), *refused]).strip(), self.secrets)
            raise PushRejected(f"`{self._shown(args)}` failed: {stderr or 'no message'}", stderr,
                               classify_push_error(stderr), mask(err.stdout, self.secrets)) from None

    def ls_remote(self, remote: str, prefix: str) -> dict[str, str]:
        """``{ref: object id}`` of ``remote``'s refs under ``prefix``: over plain smart HTTP one request from this
        process (:mod:`gitops_tools.git.lsrefs`), else (or when that answer is not understood) ``git ls-remote``;
        a failure is a :class:`PushRejected` with its class."""
        if remote not in self._listers:
            self._listers[remote] = self._lister(remote)
        lister = self._listers[remote]
        if lister is not None:
            if self.verbose:
                self.echo(f"$ git ls-remote {quote(remote)} {quote(prefix + '*')}  (one ls-refs request)")
            refs: dict[str, str] | None = lister.list(prefix)
            if refs is not None:
                return refs
            lister.close()
            self._listers[remote] = None
        out = self.network("ls-remote", remote, prefix + "*")
        found = {}
        for line in out.splitlines():
            oid, _, ref = line.partition("\t")
            if ref.startswith(prefix):
                found[ref] = oid
        return found

    def _lister(self, remote: str) -> Any:
        from gitops_tools.git import lsrefs

        try:
            listing = self.run("config", "--get-regexp", rf"^(remote\.{remote}\.url|http\..*|url\..*)$")
        except GitopsError:
            return None
        config = [(key.lower(), value) for key, _, value in (line.partition(" ") for line in listing.splitlines())]
        urls = [value for key, value in config if key == f"remote.{remote.lower()}.url"]
        rest = [(key, value) for key, value in config if not key.startswith("remote.")]
        if len(urls) != 1 or not lsrefs.eligible(urls[0], rest, self._header, os.environ):
            return None
        return lsrefs.RefLister(urls[0], self._header)

    def network_step(self, *args: str, fix: str = "check the URL and the token", progress: bool = False) -> str:
        """A clone, fetch or ls-remote the run cannot go on without: refused for good (auth, no such repository)
        is exit 1 with ``fix``; anything else (network down, server busy) is temporary, exit 75."""
        try:
            return self.network(*args, progress=progress)
        except PushRejected as err:
            raise self.refusal(err, f"git {args[0]} failed", fix) from None

    def refusal(self, err: PushRejected, what: str, fix: str, undone: str = "", *,
                final: str | None = None) -> GitopsError:
        """The one mapping of git's refusals to our errors: final (exit 1, ``final`` or ``what``, with which
        credentials were sent when they were refused) or temporary (exit 75)."""
        reason = rejection_reason(err.stderr)
        if err.kind == FINAL:
            return GitopsError(f"{final or what}: {reason}", fix=fix + self.auth_hint(err.stderr) + undone)
        return TemporaryError(f"{what}: {reason}", fix="retry later (exit 75)" + undone)

    def auth_hint(self, stderr: str) -> str:
        """For a refusal that is about credentials: which ones were sent (the variable, never the value)."""
        if not is_auth_failure(stderr):
            return ""
        if self.credentials is None:
            return "; no token was sent (set GITOPS_TOKEN, or run in GitLab CI for CI_JOB_TOKEN)"
        return f"; git sent {self.credentials}: check that it is valid and may write to this repository"

    # --- queries ---------------------------------------------------------------------------------------------

    def head(self) -> str | None:
        """The commit HEAD is at (None in a repository without commits), read from the refs without starting
        a process where the files say (:func:`gitops_tools.git.refs.head_commit`), else by ``git rev-parse``."""
        from gitops_tools.git.refs import head_commit

        return head_commit(self.root) or self.rev_parse("HEAD")

    def rev_parse(self, rev: str) -> str | None:
        """The commit ``rev`` names, or None when it names none."""
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or None
        except GitopsError:
            return None

    def branch(self) -> str | None:
        """The branch HEAD is on; None when HEAD is detached."""
        try:
            return self.run("symbolic-ref", "--quiet", "--short", "HEAD").strip() or None
        except GitopsError:
            return None

    def is_shallow(self) -> bool:
        """A shallow clone keeps the list of its boundary commits in ``.git/shallow``: read without a process."""
        from gitops_tools.git.refs import git_dir

        return (git_dir(self.root) / "shallow").is_file()

    def toplevel(self) -> tuple[Path, bool, str | None]:
        """(root of the working tree, shallow?, branch or None when detached): one process for three answers."""
        top, shallow, branch = self.run("rev-parse", "--show-toplevel", "--is-shallow-repository",
                                        "--abbrev-ref", "HEAD").splitlines()
        return Path(top), shallow == "true", None if branch == "HEAD" else branch

    def status(self, paths: Sequence[str]) -> list[tuple[str, str]]:
        """(two-letter code, path) of every file at or below ``paths`` that differs from HEAD, untracked ones
        (``??``) included: one ``git status``."""
        if not paths:
            return []
        out = self.run("status", "--porcelain=v1", "--untracked-files=all", "--", *paths)
        return [(line[:2], line[3:]) for line in out.splitlines() if line.strip()]

    def dirty(self, paths: Sequence[str], untracked: bool = True) -> list[str]:
        """The files at or below ``paths`` that differ from HEAD (staged, unstaged, and untracked if asked)."""
        return [path for code, path in self.status(paths) if untracked or code != "??"]

    def config_value(self, key: str) -> str | None:
        try:
            return self.run("config", "--get", key).strip() or None
        except GitopsError:
            return None

    def remotes(self) -> dict[str, tuple[str, str]]:
        """Each remote's (fetch URL, push URL): one ``git remote -v``."""
        found: dict[str, dict[str, str]] = {}
        for line in self.run("remote", "-v").splitlines():
            parts = line.split()
            if len(parts) == 3:
                found.setdefault(parts[0], {})[parts[2].strip("()")] = parts[1]
        return {name: (urls.get("fetch", ""), urls.get("push", urls.get("fetch", ""))) for name, urls in found.items()}

    def log(self, *revs: str, paths: Sequence[str] = (), since: str | None = None, max_count: int | None = None,
            files: bool = True) -> list[CommitRecord]:
        """Commits of ``revs`` (default HEAD) touching ``paths``, newest first: one ``git log``, with the files
        of each commit when ``files`` (which makes git compare trees: leave it out when no file is asked)."""
        return list(self.iter_log(*revs, paths=paths, since=since, max_count=max_count, files=files))

    def iter_log(self, *revs: str, paths: Sequence[str] = (), since: str | None = None,
                 max_count: int | None = None, files: bool = True) -> Iterator[CommitRecord]:
        """:meth:`log`, record by record as git writes them: ten thousand commits are parsed and read while git is
        still walking the history, not after it."""
        args = ["-c", "core.quotePath=false", "log", f"--format={LOG_FORMAT}"]
        if files:  # a rename is its two paths: both count as touched, and git need not look for renames
            args += ["--name-only", "--no-renames"]
        if since:
            args.append(f"--since={since}")
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        args += list(revs) or ["HEAD"]
        if paths:
            args += ["--", *paths]
        if self.verbose:
            self.echo("$ " + self._shown(args))
        import codecs

        def failed(status: int, stderr: str) -> GitopsError:
            words = mask(stderr, self.secrets) or "no message"
            return GitopsError(f"`{self._shown(args)}` failed (exit {status}): {words}",
                               fix="see git's message above; run with -v to see every git command")

        try:
            proc = self._spawn(args, self.env)
        except _Failed as err:
            raise failed(err.status, err.stderr) from None
        assert proc.stdout is not None and proc.stderr is not None
        stdout: Any = proc.stdout  # a BufferedReader: read1 returns what git wrote so far
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        try:
            while chunk := stdout.read1(1 << 16):
                pending += decoder.decode(chunk)
                *done, pending = pending.split(RECORD)
                for text in done:
                    parsed = record(text)
                    if parsed is not None:
                        yield parsed
            pending += decoder.decode(b"", final=True)
            stderr = proc.stderr.read().decode("utf-8", "replace").strip()
            if proc.wait() != 0:
                raise failed(proc.returncode, stderr)
            parsed = record(pending)
            if parsed is not None:
                yield parsed
        finally:  # also when the reader stops early: git need not walk the rest
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def show(self, rev: str, path: str) -> str | None:
        """The text of ``path`` at ``rev`` (None when it is not there), from one persistent ``cat-file --batch``
        process however many files are read."""
        if self.verbose:
            self.echo(f"$ git cat-file --batch <<< {rev}:{path}")
        try:
            _, kind, _, data = self._git.get_object_data(f"{rev}:{path}")
        except ValueError:  # "missing": no such revision or path
            return None
        return data.decode("utf-8", "replace") if kind in (b"blob", "blob") else None

    def describe(self, pattern: str, exclude: Sequence[str] = ()) -> str | None:
        """The newest tag matching ``pattern`` reachable from HEAD."""
        args = ["describe", "--tags", "--abbrev=0", f"--match={pattern}", *[f"--exclude={e}" for e in exclude]]
        try:
            return self.run(*args, "HEAD").strip() or None
        except GitopsError:
            return None

    def tags(self, pattern: str, *, merged: str | None = None, no_merged: str | None = None) -> list[str]:
        """Local tags matching ``pattern``, oldest version first; only those reachable from ``merged`` / not
        reachable from ``no_merged`` when given."""
        args = ["tag", "--list", "--sort=v:refname"]
        if merged:
            args += ["--merged", merged]
        if no_merged:
            args += ["--no-merged", no_merged]
        return [t for t in self.run(*args, pattern).splitlines() if t.strip()]

    def remote_tags(self, remote: str) -> set[str]:
        """The tags ``remote`` has (one ``ls-remote``)."""
        out = self.network_step("ls-remote", "--tags", remote, fix="check the URL and the token")
        return {line.split("refs/tags/", 1)[1].removesuffix("^{}") for line in out.splitlines()
                if "refs/tags/" in line}

    # --- writing ---------------------------------------------------------------------------------------------

    def commit_paths(self, paths: Sequence[str], message: str, author: str | None = None, *, sign: bool = False,
                     env: Mapping[str, str] | None = None) -> str:
        """Commit exactly ``paths`` as they are in the working tree (nothing else that is staged).

        ``git commit --only`` builds the commit from a temporary index, so an interrupted commit leaves the real
        index as it was. The message goes through a file: an argument is limited to 128 KiB (a promotion of a
        thousand images writes more) and a file keeps it out of the process list."""
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
        sha = self.head()
        assert sha is not None
        return sha

    def tag(self, name: str, message: str, env: Mapping[str, str] | None = None) -> None:
        """An annotated tag of HEAD whose message is ``message``, kept verbatim."""
        with self.message_file(message) as file:
            self.run("tag", "--annotate", name, "--cleanup=verbatim", f"--file={file}", env=env)

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

    @contextlib.contextmanager
    def message_file(self, message: str) -> Iterator[str]:
        import tempfile  # only writers need it

        fd, name = tempfile.mkstemp(prefix="gitops-tools-message-", suffix=".txt")
        self._message = name
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(message)
            yield name
        finally:
            self._message = ""
            os.unlink(name)


