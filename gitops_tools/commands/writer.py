"""Landing a planned change: in the current checkout, or in a fresh clone of ``--repo-url``, with push retries.

A command gives the writer an *attempt*: a function from a workspace (a checked-out tree and its configuration)
and the plan of the previous attempt (None at first) to a new plan, whose :class:`Applied` holds the file edits
it wants. It reads the tree once and decides with the pure core, so it can run again on fresh remote state. The
writer writes the edits (all files or none), commits them with trailers, and pushes through
:func:`gitops_tools.git.push.push_with_retry`: a rejection because another writer landed first takes the commit
back, fetches, resets and runs the attempt again; never a force push of the target branch. Protected
environments get a merge request branch instead. The result is a value (:class:`Landed`), never state kept
in a closure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar

from gitops_tools.commands.guards import locked, refuse_unusual_head
from gitops_tools.commands.workspace import Workspace, open_workspace
from gitops_tools.config import CONFIG_FILE, Environment
from gitops_tools.commands.committing import commit
from gitops_tools.core.changes import ImageUpdate, ci_trailers, commit_message, trailer_lines
from gitops_tools.errors import GitopsError
from gitops_tools.files import ensure_inside, local_url, scratch_directory, write_all
from gitops_tools.git.auth import choose, for_checkout, from_environment
from gitops_tools.git.push import Clock, Pending, push_with_retry
from gitops_tools.git.refusals import Backoff, mr_branch
from gitops_tools.git.repo import Git, PushRejected
from gitops_tools.interrupts import held

if TYPE_CHECKING:
    from gitops_tools.commands.folding import FoldOutcome, PlanFor
    from gitops_tools.commands.notifying import Notification
    from gitops_tools.core.fold import PendingChange


class Folding(NamedTuple):
    """What the fold machinery needs from a command: this job's change as data, and how to plan any such
    change on a tree (the same attempt the command makes for itself)."""

    change: PendingChange
    plan_for: PlanFor


class FileEdit(NamedTuple):
    path: Path
    display: str
    before: str
    after: str


class Applied(NamedTuple):
    """What a plan wants in one tree: the file edits (not yet written) and how to describe them."""

    edits: tuple[FileEdit, ...]
    updates: tuple[ImageUpdate, ...]
    scope: str  # environment name, or the overlay directory
    env: Environment | None
    action: str  # "set-image", "promote", "rollback"
    paths: tuple[str, ...] = ()  # repository paths the plan read (uncommitted edits there block a commit)


class Planned(Protocol):
    """A command's plan: whatever else it holds, it says which edits it wants."""

    @property
    def applied(self) -> Applied: ...


P = TypeVar("P", bound=Planned)
Attempt = Callable[[Workspace, "P | None"], P]


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
    fold: bool = True  # a --repo-url image set to an unprotected environment lands through pending refs (§3.14)
    batch_window: float | None = None  # seconds to wait before the first fold (None: commit.batch_window)


@dataclass(frozen=True)
class Landed(Generic[P]):
    """The plan of the attempt that landed (or found nothing to do), and where it went."""

    plan: P
    commit: str | None = None
    pushed: str | None = None  # the branch the commit was pushed to
    merge_request: str | None = None  # the merge request's source branch, for protected environments
    attempts: int = 0
    notifications: tuple[Notification, ...] = ()  # what became of each notification target (after the push)
    fold: FoldOutcome | None = None  # landed through a pending ref: where, and with how many others
    note: str | None = None  # what the user should know about how it landed (a fallback to retries)

    @property
    def applied(self) -> Applied:
        return self.plan.applied

    def as_dict(self) -> dict[str, object]:
        return {"commit": self.commit, "pushed": self.pushed, "merge_request_branch": self.merge_request,
                "attempts": self.attempts, **self.fold_dict(), **self.notifications_dict()}

    def fold_dict(self) -> dict[str, object]:
        """``{"fold": {...}, "landed_with": N}`` when the change went through a pending ref, ``{"note": ...}``
        when it fell back to retries (JSON without them is unchanged)."""
        out: dict[str, object] = {}
        if self.fold is not None:
            out.update(fold=self.fold.as_dict(), landed_with=self.fold.others)
        if self.note:
            out["note"] = self.note
        return out

    def notifications_dict(self) -> dict[str, object]:
        """``{"notifications": [...]}`` when targets were sent this change (JSON without them is unchanged)."""
        return {"notifications": [n.as_dict() for n in self.notifications]} if self.notifications else {}


class Runtime(NamedTuple):
    """What the outside world provides: the environment (CI variables, tokens) and time."""

    env: Mapping[str, str]
    clock: Clock = Clock()


_UNDONE = "; the commit was undone in this checkout"


def land(cwd: Path, repo_dir: Path | None, target: str | None, attempt: Attempt[P], opts: WriteOptions,
         runtime: Runtime | None = None, folding: Folding | None = None) -> Landed[P]:
    rt = runtime or Runtime(os.environ)
    if opts.repo_url:
        return _land_in_clone(target, attempt, opts._replace(repo_url=local_url(opts.repo_url, cwd)), rt,
                              folding if opts.fold else None)
    ws = open_workspace(cwd, repo_dir, target)
    checkout = ws.root if ws.in_checkout and ws.root is not None else None
    if opts.dry_run:
        git = Git(checkout, verbose=opts.verbose, credentials=from_environment(rt.env)) if checkout else None
        return Landed(attempt(ws._replace(git=git), None))
    # gitops-tools never edits gitops-tools.yaml, so the configuration read before the lock still holds
    with locked(checkout, ws.root if ws.root is not None else cwd / (target or "."), opts.lock_timeout):
        if checkout is not None and opts.commit:
            return _land_in_checkout(ws, checkout, attempt, opts, rt)
        git = Git(checkout, verbose=opts.verbose, credentials=from_environment(rt.env)) if checkout else None
        plan = attempt(ws._replace(git=git), None)
        if plan.applied.edits:
            _write(ws, plan.applied)
        return Landed(plan)


def _write(ws: Workspace, applied: Applied) -> None:
    """Write the edits all or none; never to a file that resolves outside the repository."""
    if ws.root is not None:
        for e in applied.edits:
            ensure_inside(ws.root, e.path, e.display)
    write_all({e.path: e.after for e in applied.edits})


def _land_in_checkout(ws: Workspace, root: Path, attempt: Attempt[P], opts: WriteOptions,
                      rt: Runtime) -> Landed[P]:
    ci_trailers(rt.env)  # a CI variable that would forge a trailer is refused before anything is read
    refuse_unusual_head(root)
    git = Git(root, verbose=opts.verbose, credentials=from_environment(rt.env))
    branch = opts.branch or ws.config.branch
    if opts.push:
        push_url = git.remotes().get("origin", ("", ""))[1]
        git = git.with_credentials(for_checkout(push_url, rt.env))
        git.network_step("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                         fix="check origin's URL and the token")
        head, upstream = git.head(), git.rev_parse(f"refs/remotes/origin/{branch}")
        if head != upstream:
            raise GitopsError(
                f"the checkout is not at origin/{branch} (HEAD {str(head)[:12]}, origin/{branch} {str(upstream)[:12]})",
                fix="push or drop your local commits first (git status), or use --repo-url for a fresh clone",
            )
    ws = ws._replace(git=git)
    plan = attempt(ws, None)
    _refuse_dirty(git, plan.applied)
    if not plan.applied.edits:
        return Landed(plan)
    if opts.push:
        _check_notify(ws, plan.applied, rt)
    landed = Landed(plan, _write_and_commit(git, ws, plan.applied, opts, rt))
    if not opts.push:
        return landed
    return _announce(_push(git, ws, attempt, opts, rt, landed, branch, checkout=True), ws, git, opts, rt, branch)


def _refuse_dirty(git: Git, applied: Applied) -> None:
    """Uncommitted edits where the plan looked would either be swept into its commit or make it look done (a
    run killed between its write and its commit leaves exactly that): refuse, say what to do. One
    ``git status``: untracked files count only where the plan writes."""
    edits = {e.display for e in applied.edits}
    entries = git.status(sorted(edits | set(applied.paths)))
    dirty = sorted({path for code, path in entries if code != "??" or path in edits})
    if dirty:
        raise GitopsError(f"uncommitted changes in {', '.join(dirty)}",
                          fix="commit or discard them first (git diff shows them), or pass --no-commit")


def _land_in_clone(target: str | None, attempt: Attempt[P], opts: WriteOptions, rt: Runtime,
                   folding: Folding | None = None) -> Landed[P]:
    assert opts.repo_url
    ci_trailers(rt.env)  # a CI variable that would forge a trailer is refused before anything is cloned
    url, creds = choose(opts.repo_url, rt.env, user_alone_is_token=True)
    with scratch_directory("gitops-tools-clone-") as tmp:
        root = tmp / "repo"
        args = ["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags"]
        if opts.branch:
            args += ["--branch", opts.branch]
        # --sparse: only the top-level files at first; the environments follow below. A large repository
        # (thousands of service files) then costs a clone of what the change reads, not of everything.
        Git(tmp, verbose=opts.verbose, credentials=creds).network_step(*args, "--sparse", "--", url, str(root),
                                                                         progress=True)
        git = Git(root, verbose=opts.verbose, credentials=creds)
        try:
            ws = _sparse_workspace(git, root, target)._replace(git=git)
            branch = opts.branch or ws.config.branch
            if git.branch() != branch:  # the remote's default branch is not the one gitops-tools.yaml names
                git.network_step("fetch", "--quiet", "--depth", "1", "origin",
                                 f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
                git.run("checkout", "--quiet", "-B", branch, f"refs/remotes/origin/{branch}")
            started = rt.clock.now()
            plan = attempt(ws, None)
            planned_in = rt.clock.now() - started  # how long a change takes to plan here, now: paces the waiting
            if opts.dry_run or not plan.applied.edits:
                return Landed(plan)
            _check_notify(ws, plan.applied, rt)
            note = None
            env = plan.applied.env
            if folding is not None and env is not None and not env.protected:
                folded = _land_folded(git, ws, plan, folding, opts, rt, branch, planned_in)
                if not isinstance(folded, str):
                    return _announce(folded, ws, git, opts, rt, branch)
                note = folded
                git.run("reset", "--quiet", "--hard", "HEAD")
            landed = Landed(plan, _write_and_commit(git, ws, plan.applied, opts, rt))
            pushed = replace(_push(git, ws, attempt, opts, rt, landed, branch, checkout=False), note=note)
            return _announce(pushed, ws, git, opts, rt, branch)
        finally:
            git.close()


def _land_folded(git: Git, ws: Workspace, plan: P, folding: Folding, opts: WriteOptions, rt: Runtime,
                 branch: str, planned_in: float = 0.0) -> Landed[P] | str:
    """Land through a pending ref (:mod:`gitops_tools.commands.folding`); a string (the note to print) when
    the server refused the ref and the retry loop must do it."""
    from gitops_tools.commands.folding import Fallback, Setup, land as fold_land

    assert ws.root is not None
    window = opts.batch_window if opts.batch_window is not None else ws.config.commit.batch_window_seconds
    setup = Setup(folding.change, folding.plan_for, rt.env, (ws.config.commit.author_name,
                  ws.config.commit.author_email), opts.skip_ci or ws.config.commit.skip_ci, ws.config.commit.sign,
                  window, opts.backoff.deadline, rt.clock.sleep, rt.clock.now, planned_in)
    outcome = fold_land(git, ws.root, branch, setup)
    if isinstance(outcome, Fallback):
        return (f"the remote refused the pending ref refs/gitops-tools/pending/{branch}/... ({outcome.reason}); "
                "landed with the push-and-retry loop instead")
    pushed = branch if outcome.commit is not None else None
    return Landed(plan, outcome.commit, pushed, attempts=outcome.pushes, fold=outcome)


def _sparse_workspace(git: Git, root: Path, target: str | None) -> Workspace:
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


def _write_and_commit(git: Git, ws: Workspace, applied: Applied, opts: WriteOptions, rt: Runtime) -> str:
    message = commit_message(applied.scope, applied.action, applied.updates, extra_trailers=ci_trailers(rt.env),
                             skip_ci=opts.skip_ci or ws.config.commit.skip_ci)
    configured = (ws.config.commit.author_name, ws.config.commit.author_email)
    head = git.head()
    # Ctrl-C or SIGTERM during the write and the commit waits for them to end (or to fail and be undone):
    # every file is then as before or as after, and HEAD agrees with them.
    with held():
        _write(ws, applied)
        try:
            return commit(git, [e.display for e in applied.edits], message, configured, rt.env,
                          sign=ws.config.commit.sign)[0]
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


def _check_notify(ws: Workspace, applied: Applied, rt: Runtime) -> None:
    """Before anything is written: a required notification target that wants this change but has no usable
    URL refuses it (the others are warned about once the change has landed)."""
    if any(t.required for t in ws.config.notify):
        from gitops_tools.commands.notifying import preflight

        env = applied.env
        preflight(ws.config.notify, applied.action, env.name if env else None, bool(env and env.protected), rt.env,
                  ws.config.source)


def _announce(landed: Landed[P], ws: Workspace, git: Git, opts: WriteOptions, rt: Runtime,
              branch: str) -> Landed[P]:
    """After the push: the notifications, built from what landed (nothing when the push found nothing to do)."""
    if not ws.config.notify or not (landed.pushed or landed.merge_request):
        return landed
    from gitops_tools.commands.notifying import change_landed

    applied = landed.applied

    def repo_url() -> str | None:  # for web links: the configured URL, else origin's
        return ws.config.repo_url or git.remotes().get("origin", ("", ""))[1] or None

    sent = change_landed(ws.config.notify, applied.action, applied.scope, applied.env.name if applied.env else None,
                         applied.updates, landed.commit, landed.pushed or branch, landed.merge_request, repo_url,
                         rt.env, opts.verbose)
    return replace(landed, notifications=sent)


def _undo(git: Git, landed: Landed[P], checkout: bool) -> Callable[[], str]:
    """How to take ``landed``'s commit back: a checkout keeps no commit that did not land (the next run would
    refuse to work on top of it), and the user's own staged and unstaged work stays; a clone is removed anyway."""
    def undo() -> str:
        if not checkout:
            return ""
        if landed.commit is not None:
            git.undo_commit(landed.commit, [e.display for e in landed.applied.edits])
        return _UNDONE
    return undo


def _push(git: Git, ws: Workspace, attempt: Attempt[P], opts: WriteOptions, rt: Runtime, landed: Landed[P],
          branch: str, checkout: bool) -> Landed[P]:
    if landed.applied.env is not None and landed.applied.env.protected:
        return _push_merge_request(git, opts, landed, branch, checkout)
    refspec = (f"HEAD:refs/heads/{branch}",)

    def again(previous: Landed[P]) -> Pending[Landed[P]] | Landed[P]:
        """Fresh remote state, then the same semantic change again."""
        git.network_step("fetch", "--quiet", *([] if checkout else ["--depth", "1"]), "origin",
                         f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        if checkout:  # move on like `git pull --ff-only`, keeping the user's work
            try:
                git.run("merge", "--quiet", "--ff-only", f"refs/remotes/origin/{branch}")
            except GitopsError:
                raise GitopsError(f"origin/{branch} moved in a way this checkout cannot fast-forward to",
                                  fix="update the checkout by hand (git pull), then run again") from None
        else:
            git.run("reset", "--quiet", "--hard", f"refs/remotes/origin/{branch}")
        fresh = open_workspace(ws.cwd, ws.root)._replace(git=git)
        plan = attempt(fresh, previous.plan)
        if not plan.applied.edits:  # already there (or now a downgrade): nothing to push
            return Landed(plan)
        nxt = Landed(plan, _write_and_commit(git, fresh, plan.applied, opts, rt))
        return Pending(nxt, refspec, _undo(git, nxt, checkout))

    pushed = push_with_retry(git, Pending(landed, refspec, _undo(git, landed, checkout)), again,
                             what=f"push to {branch}", backoff=opts.backoff, clock=rt.clock)
    return replace(pushed.value, pushed=branch if pushed.pushed else None, attempts=pushed.attempts)


def _push_merge_request(git: Git, opts: WriteOptions, landed: Landed[P], branch: str, checkout: bool) -> Landed[P]:
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
    undo = _undo(git, landed, checkout)
    try:
        git.network(*args, "origin", f"HEAD:refs/heads/{source}")
    except KeyboardInterrupt:
        with held():
            undo()
        raise
    except PushRejected as err:
        fix = ("the remote must accept push options (GitLab does)" if "push options" in err.stderr.lower() else
               "the remote refused it for good (hook, protection or credentials)")
        raise git.refusal(err, f"push of merge request branch {source} failed", fix, undo()) from None
    undo()  # a checkout: leave the local branch where the remote one is
    return replace(landed, merge_request=source, attempts=1)



