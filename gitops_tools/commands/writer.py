"""Landing a semantic change: in the current checkout, or in a fresh clone of ``--repo-url``, with push retries.

A *change* is a function from a workspace (a checked-out tree and its configuration) to the file edits it
wants (:class:`Applied`); it is pure with respect to the tree, so it can be applied again on fresh remote
state.  This module writes the edits atomically, commits them with trailers, and pushes.  A rejected push is
handled by :mod:`gitops_tools.git.refusals`: non-fast-forward and ref-lock races fetch, reset to the remote
branch and re-apply the change (never a force push of the target branch); hook, protection and auth
rejections are final; network failures and exhausted retries are temporary (exit 75).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from gitops_tools.git.auth import Credentials, choose, for_checkout, from_environment
from gitops_tools.core.changes import ImageUpdate, ci_trailers, commit_message, identity, trailer_lines
from gitops_tools.config import CONFIG_FILE, Environment
from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.files import ensure_inside, local_url, scratch_directory, write_all
from gitops_tools.interrupts import held
from gitops_tools.git.refusals import FINAL, TEMPORARY, Backoff, mr_branch, rejection_reason
from gitops_tools.commands.workspace import Workspace, open_workspace


class FileEdit(NamedTuple):
    path: Path
    display: str
    before: str
    after: str


class Applied(NamedTuple):
    """What a change wants in one tree: the file edits (not yet written) and how to describe them."""

    edits: tuple[FileEdit, ...]
    updates: tuple[ImageUpdate, ...]
    scope: str  # environment name, or the overlay directory
    env: Environment | None
    action: str  # "set-image", "promote", "rollback"
    detail: Any = None  # the command's own result, for its output
    paths: tuple[str, ...] = ()  # repository paths the change read (uncommitted edits there block a commit)


class WriteOptions(NamedTuple):
    repo_url: str | None = None
    branch: str | None = None
    push: bool = False  # in a checkout: push after committing (a --repo-url clone always pushes)
    commit: bool = True
    dry_run: bool = False
    verbose: bool = False
    skip_ci: bool = False
    merge_when_pipeline_succeeds: bool = False
    backoff: Backoff = Backoff()
    lock_timeout: float = 600.0


class Landed(NamedTuple):
    applied: Applied
    commit: str | None = None
    pushed: str | None = None  # the branch the commit was pushed to
    merge_request: str | None = None  # the merge request's source branch, for protected environments
    attempts: int = 0
    workspace_root: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"commit": self.commit, "pushed": self.pushed, "merge_request_branch": self.merge_request,
                "attempts": self.attempts}


Change = Callable[[Workspace], Applied]


class Runtime(NamedTuple):
    """What the outside world provides; tests pass their own clock and random source."""

    env: Mapping[str, str]
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic


def land(cwd: Path, repo_dir: Path | None, target: str | None, change: Change, opts: WriteOptions,
         runtime: Runtime | None = None) -> Landed:
    rt = runtime or Runtime(os.environ)
    if opts.repo_url:
        return _land_in_clone(target, change, opts._replace(repo_url=local_url(opts.repo_url, cwd)), rt)
    ws = open_workspace(cwd, repo_dir, target)
    if opts.dry_run:
        if ws.in_checkout and ws.root is not None:
            ws = ws._replace(git=_repo(ws.root, opts, from_environment(rt.env)))
        return Landed(change(ws))
    # Every run that writes takes the lock, commit or not, checkout or not: two runs that read the same file
    # and each write their own edit of it would lose one of the two.
    with _locked(ws, cwd, target, opts):
        if ws.in_checkout and ws.root is not None and opts.commit:
            return _land_in_checkout(ws, cwd, repo_dir, target, change, opts, rt)
        if ws.in_checkout and ws.root is not None:
            ws = ws._replace(git=_repo(ws.root, opts, from_environment(rt.env)))
        applied = change(ws)
        if applied.edits:
            _write(ws, applied)
        return Landed(applied)


@contextlib.contextmanager
def _locked(ws: Workspace, cwd: Path, target: str | None, opts: WriteOptions) -> Iterator[None]:
    """The lock of the tree this run writes: ``.git/gitops-tools.lock`` in a checkout; elsewhere a lock named
    after the directory's device and inode in a private directory under the system's temporary directory
    (nothing is added to the user's tree)."""
    from filelock import FileLock, Timeout

    if ws.in_checkout and ws.root is not None:
        path = _git_dir(ws.root) / "gitops-tools.lock"
        shown = str(path)
    else:
        found = _plain_lock(ws.root if ws.root is not None else cwd / (target or "."))
        if found is None:  # no such directory: the change itself says so, and writes nothing
            yield
            return
        path = found
        shown = f"{path} (the lock of {ws.root or target})"
    if path.is_symlink():
        raise GitopsError(f"{shown} is a symbolic link; gitops-tools does not follow one to lock",
                          fix=f"remove it (rm {path}): gitops-tools creates the lock file itself")
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=opts.lock_timeout)
    except Timeout:
        raise TemporaryError(f"another gitops-tools holds the lock of {ws.root or target} for more than "
                             f"{opts.lock_timeout:.0f}s", fix="retry later") from None
    except OSError as err:
        raise GitopsError(f"cannot take the lock {shown}: {err.strerror or err}",
                          fix="check that the directory is writable") from None
    try:
        yield
    finally:
        lock.release()


def _plain_lock(directory: Path) -> Path | None:
    import stat
    import tempfile

    try:
        info = directory.resolve().stat()
    except OSError:
        return None
    base = Path(tempfile.gettempdir()) / f".gitops-tools-locks-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        mine = os.lstat(base)
    except OSError as err:
        raise GitopsError(f"cannot make the lock directory {base}: {err.strerror or err}",
                          fix="set TMPDIR to a writable directory") from None
    if not stat.S_ISDIR(mine.st_mode) or mine.st_uid != os.getuid() or mine.st_mode & 0o022:
        raise GitopsError(f"{base} is not a private directory of this user", fix="remove it, or set TMPDIR "
                          "to a directory of yours: gitops-tools keeps its locks there")
    return base / f"{info.st_dev}-{info.st_ino}.lock"


def _write(ws: Workspace, applied: Applied) -> None:
    """Write the edits all or none; never to a file that resolves outside the repository."""
    if ws.root is not None:
        for e in applied.edits:
            ensure_inside(ws.root, e.path, e.display)
    write_all({e.path: e.after for e in applied.edits})


def _git_dir(root: Path) -> Path:
    dot = root / ".git"
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot.read_text().strip()
        if text.startswith("gitdir:"):
            return (root / text.split(":", 1)[1].strip()).resolve()
    return dot


_IN_PROGRESS = (("rebase-merge", "a rebase"), ("rebase-apply", "a rebase (or git am)"), ("MERGE_HEAD", "a merge"),
                ("CHERRY_PICK_HEAD", "a cherry-pick"), ("REVERT_HEAD", "a revert"), ("BISECT_LOG", "a bisect"))


def _refuse_unusual_head(root: Path) -> None:
    """A commit on a detached HEAD is lost at the next checkout, and one in the middle of a rebase or merge
    becomes part of it: refuse both before anything is written."""
    git_dir = _git_dir(root)
    for name, what in _IN_PROGRESS:
        if (git_dir / name).exists():
            raise GitopsError(f"{what} is in progress in {root}", fix="finish or abort it first (git status says "
                              "how), or pass --no-commit; nothing was written")
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return
    if not head.startswith("ref:"):
        raise GitopsError(f"HEAD is detached in {root}: a commit here would belong to no branch",
                          fix="check out a branch first (git switch main), or pass --no-commit; nothing was written")


def _repo(root: Path, opts: WriteOptions, creds: Credentials | None) -> Any:
    from gitops_tools.git.repo import GitRepo

    return GitRepo.with_credentials(root, creds, verbose=opts.verbose)


def _land_in_checkout(ws: Workspace, cwd: Path, repo_dir: Path | None, target: str | None, change: Change,
                      opts: WriteOptions, rt: Runtime) -> Landed:
    # ws was read before taking the lock; gitops-tools never edits gitops-tools.yaml, so it still holds
    # (reading a 1,000-environment configuration twice cost a third of such a run)
    assert ws.root is not None
    ci_trailers(rt.env)  # a CI variable that would forge a trailer is refused before anything is read
    _refuse_unusual_head(ws.root)
    creds = from_environment(rt.env)
    if opts.push:
        creds = for_checkout(_repo(ws.root, opts, None).run("remote", "get-url", "--push", "origin").strip(), rt.env)
    git = _repo(ws.root, opts, creds)
    ws = ws._replace(git=git)
    branch = opts.branch or ws.config.branch
    if opts.push:
        git.network_step("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                         fix="check origin's URL and the token")
        head, upstream = git.head(), git.run("rev-parse", f"refs/remotes/origin/{branch}").strip()
        if head != upstream:
            raise GitopsError(
                f"the checkout is not at origin/{branch} (HEAD {str(head)[:12]}, origin/{branch} {upstream[:12]})",
                fix="push or drop your local commits first (git status), or use --repo-url for a fresh clone",
            )
    applied = change(ws)
    # Uncommitted edits where the change looked would either be swept into its commit or make it look done
    # (a run killed between its write and its commit leaves exactly that): refuse, say what to do.
    dirty = sorted(set(git.dirty_paths([e.display for e in applied.edits]))
                   | set(git.dirty_paths(list(applied.paths), untracked=False)))
    if dirty:
        raise GitopsError(
            f"uncommitted changes in {', '.join(dirty)}",
            fix="commit or discard them first (git diff shows them), or pass --no-commit",
        )
    if not applied.edits:
        return Landed(applied, workspace_root=str(ws.root))
    sha = _write_and_commit(git, ws, applied, opts, rt)
    landed = Landed(applied, sha, workspace_root=str(ws.root))
    if not opts.push:
        return landed
    return _push(git, cwd, repo_dir, target, change, opts, rt, landed, branch, reset="--keep")


def _land_in_clone(target: str | None, change: Change, opts: WriteOptions, rt: Runtime) -> Landed:
    assert opts.repo_url
    ci_trailers(rt.env)  # a CI variable that would forge a trailer is refused before anything is cloned
    url, creds = choose(opts.repo_url, rt.env, user_alone_is_token=True)
    with scratch_directory("gitops-tools-clone-") as tmp:
        root = tmp / "repo"
        cloner = _repo(tmp, opts, creds)
        args = ["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags"]
        if opts.branch:
            args += ["--branch", opts.branch]
        # --sparse: only the top-level files at first; the environments follow below. A large repository
        # (thousands of service files) then costs a clone of what the change reads, not of everything.
        cloner.network_step(*args, "--sparse", "--", url, str(root))
        git = _repo(root, opts, creds)
        ws = _sparse_workspace(git, root, target)._replace(git=git)
        branch = opts.branch or ws.config.branch
        current = git.run("rev-parse", "--abbrev-ref", "HEAD").strip()
        if current != branch:  # the remote's default branch is not the one gitops-tools.yaml names
            git.network_step("fetch", "--quiet", "--depth", "1", "origin",
                     f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
            git.run("checkout", "--quiet", "-B", branch, f"refs/remotes/origin/{branch}")
        applied = change(ws)
        if opts.dry_run or not applied.edits:
            return Landed(applied)
        sha = _write_and_commit(git, ws, applied, opts, rt)
        landed = Landed(applied, sha)
        return _push(git, root, root, None, change, opts, rt, landed, branch, reset="--hard")


def _sparse_workspace(git: Any, root: Path, target: str | None) -> Workspace:
    """Check out the environments (and a TARGET directory) of a sparse clone, then open it."""
    ws = open_workspace(root, root)
    paths = [e.path for e in ws.config.environments] if ws.config.source else ["environments"]
    if target is not None and ws.config.find_environment(target) is None:
        paths.append(target)
    try:
        git.run("sparse-checkout", "set", "--cone", "--", *paths)
    except GitopsError:  # an older git, or a path cone mode refuses: take everything
        git.run("sparse-checkout", "disable")
    return open_workspace(root, root)


def _identity(git: Any, ws: Workspace, env: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    """The commit author (config, else the GitLab user of the pipeline) and a fallback committer."""
    has_email = bool(env.get("GIT_COMMITTER_EMAIL") or git.config_value("user.email"))
    return identity((ws.config.commit.author_name, ws.config.commit.author_email), env, has_email)


def _write_and_commit(git: Any, ws: Workspace, applied: Applied, opts: WriteOptions, rt: Runtime) -> str:
    message = commit_message(applied.scope, applied.action, applied.updates, extra_trailers=ci_trailers(rt.env),
                             skip_ci=opts.skip_ci or ws.config.commit.skip_ci)
    author, extra_env = _identity(git, ws, rt.env)
    head = git.head()
    # Ctrl-C or SIGTERM during the write and the commit waits for them to end (or to fail and be undone):
    # every file is then as before or as after, and HEAD agrees with them.
    with held():
        _write(ws, applied)
        try:
            return str(git.commit_paths([e.display for e in applied.edits], message, author,
                                        sign=ws.config.commit.sign, env=extra_env))
        except BaseException as err:
            # A rejected or interrupted commit must not leave edited files behind: put the old bytes back,
            # unless the commit did land before the interruption.
            if git.head() == head:
                write_all({e.path: e.before for e in applied.edits})
            if isinstance(err, GitopsError) and ws.config.commit.sign and "sign" in err.problem.lower():
                why = err.problem.split("): ", 1)[-1].replace("\n", "; ")
                raise GitopsError(f"the commit could not be signed ({why}); nothing was written",
                                  file=CONFIG_FILE, key="commit.sign",
                                  fix="give git a signing key (git config user.signingkey KEY, and gpg.format ssh "
                                      "for an SSH key), or set commit.sign: false") from None
            raise


def _push(git: Any, cwd: Path, repo_dir: Path | None, target: str | None, change: Change, opts: WriteOptions,
          rt: Runtime, landed: Landed, branch: str, reset: str) -> Landed:
    from gitops_tools.git.repo import PushRejected

    applied = landed.applied
    if applied.env is not None and applied.env.protected:
        return _push_merge_request(git, opts, landed, branch, reset)
    start = rt.clock()
    attempt = 1
    pending = landed.commit  # the commit of this run that has not landed yet

    def take_back() -> str:
        """A checkout keeps no commit that did not land (the next run would refuse to work on top of it);
        the user's own staged and unstaged work stays. Returns what to add to the message."""
        nonlocal pending
        if reset != "--keep":
            return ""  # a clone of --repo-url: removed anyway
        if pending is not None:
            git.undo_commit(pending, [e.display for e in landed.applied.edits])
            pending = None
        return "; the commit was undone in this checkout"

    while True:
        try:
            git.network("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
            return landed._replace(pushed=branch, attempts=attempt)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (Terminated) while pushing: keep no commit that may not land
            with held():
                take_back()
            raise
        except PushRejected as err:
            reason = rejection_reason(err.stderr)
            if err.kind == FINAL:
                raise GitopsError(f"push to {branch} rejected: {reason}", fix=(
                    "the remote refused it for good (hook, protection or credentials)"
                    + git.auth_hint(err.stderr) + take_back())) from None
            if err.kind == TEMPORARY:
                raise TemporaryError(f"push to {branch} failed: {reason}",
                                     fix="retry later (exit 75)" + take_back()) from None
        if attempt >= opts.backoff.attempts or rt.clock() - start > opts.backoff.deadline:
            raise TemporaryError(
                f"push to {branch} still rejected after {attempt} attempts in {rt.clock() - start:.1f}s "
                "(others keep pushing)", fix="retry later (exit 75)" + take_back())
        rt.sleep(opts.backoff.delay(attempt, rt.rand))
        attempt += 1
        # Fresh remote state, then the same semantic change again. Our commit goes first, so that whatever
        # fails below (the network, a remote rewritten under us) leaves none behind.
        suffix = take_back()
        shallow = ["--depth", "1"] if reset == "--hard" else []
        try:
            git.network_step("fetch", "--quiet", *shallow, "origin",
                             f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
            if reset == "--keep":  # a checkout: move on like `git pull --ff-only`, keeping the user's work
                try:
                    git.run("merge", "--quiet", "--ff-only", f"refs/remotes/origin/{branch}")
                except GitopsError:
                    raise GitopsError(f"origin/{branch} moved in a way this checkout cannot fast-forward to",
                                      fix="update the checkout by hand (git pull), then run again") from None
            else:
                git.run("reset", "--quiet", "--hard", f"refs/remotes/origin/{branch}")
        except GitopsError as err:
            err.fix = (err.fix or "see git's message above") + suffix
            raise
        ws = open_workspace(cwd, repo_dir, target)._replace(git=git)
        applied = change(ws)
        if not applied.edits:  # already there (or now a downgrade): nothing to push
            return Landed(applied, None, None, None, attempt, landed.workspace_root)
        pending = _write_and_commit(git, ws, applied, opts, rt)
        landed = landed._replace(applied=applied, commit=pending)


def _push_merge_request(git: Any, opts: WriteOptions, landed: Landed, branch: str, reset: str) -> Landed:
    """Protected environments: a deterministic branch and a GitLab merge request through push options."""
    applied = landed.applied
    assert applied.env is not None
    lines = trailer_lines(applied.scope, applied.updates)
    source = mr_branch(applied.env.name, applied.action, lines)
    subject = git.run("log", "-1", "--format=%s").strip()
    description = "; ".join(line.removeprefix("Gitops-Change: ") for line in lines)
    options = ["merge_request.create", f"merge_request.target={branch}", f"merge_request.title={subject}",
               f"merge_request.description={description}", "merge_request.remove_source_branch"]
    if opts.merge_when_pipeline_succeeds:
        options.append("merge_request.merge_when_pipeline_succeeds")
    args = ["push", "--quiet", "--force"]  # only ever the tool's own merge-request branch
    for o in options:
        args += ["-o", o]
    from gitops_tools.git.repo import PushRejected

    try:
        git.network(*args, "origin", f"HEAD:refs/heads/{source}")
    except KeyboardInterrupt:
        if reset == "--keep" and landed.commit:  # a checkout keeps no commit that did not land
            with held():
                git.undo_commit(landed.commit, [e.display for e in applied.edits])
        raise
    except PushRejected as err:
        undone = ""
        if reset == "--keep" and landed.commit:  # a checkout keeps no commit that did not land
            git.undo_commit(landed.commit, [e.display for e in applied.edits])
            undone = "; the commit was undone in this checkout"
        reason = rejection_reason(err.stderr)
        if err.kind != FINAL:
            raise TemporaryError(f"push of merge request branch {source} failed: {reason}",
                                 fix=f"retry later (exit 75){undone}") from None
        options_refused = "push options" in err.stderr.lower()
        fix = ("the remote must accept push options (GitLab does)" if options_refused else
               "the remote refused it for good (hook, protection or credentials)")
        raise GitopsError(f"push of merge request branch {source} failed: {reason}",
                          fix=fix + git.auth_hint(err.stderr) + undone) from None
    if reset == "--keep" and landed.commit:  # a checkout: leave the local branch where the remote one is
        git.undo_commit(landed.commit, [e.display for e in applied.edits])
    return landed._replace(merge_request=source, attempts=1)

