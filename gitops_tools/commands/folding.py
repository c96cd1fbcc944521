"""Landing many CI jobs' changes together: publish a pending ref, then fold or wait (DESIGN §3.14).

A ``--repo-url`` job that sets images in an unprotected environment of the configuration, once it has planned its
change (bad input fails before anything is pushed):

1. pushes ONE ref of its own, ``refs/gitops-tools/pending/<branch>/<id>``: a commit (the clone's tree, the
   branch tip as parent, so the push sends one small object) whose message holds the change as data
   (:mod:`gitops_tools.core.fold`). A server that refuses the ref (a hook, a forge that refuses unknown ref
   namespaces) makes the job fall back to the retry loop of :func:`gitops_tools.git.push.push_with_retry`, and
   the result says so.
2. waits ``--batch-window`` (so that more changes share one commit), then polls the pending refs with
   ``git ls-remote`` (no push):

   - its ref is gone: someone folded it. The fold commit on the branch says, in its ``Gitops-Fold`` trailers,
     whether it landed, was skipped (a newer change of the same image won) or failed, and with how many others.
   - its change is the oldest pending one, or the oldest has not moved for a while (its job died: the next
     ones take over, one after the other): it folds. It fetches the branch and every pending ref, applies
     every pending change in creation order with the very plan a single job makes (each as a local commit, so
     that the downgrade guard reads the pipeline that set a value even inside the fold), squashes them into
     one commit with one trailer block per change, and pushes atomically the branch and the deletion of every
     ref it folded, each leased on the commit it read (``--force-with-lease=<ref>:<sha>``): a change is applied
     once or not at all. A rejected atomic push means the branch moved or a ref it read was folded by someone
     else: it looks again.

A folder killed halfway changed nothing on the server (the push is atomic); the pending refs stay and the next
folder folds them. A job interrupted while it waits withdraws its ref (leased: unless it was folded already).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from gitops_tools.commands.committing import commit
from gitops_tools.commands.workspace import Workspace, open_workspace
from gitops_tools.core import fold as core
from gitops_tools.core.changes import ci_trailers, commit_message
from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.files import write_all
from gitops_tools.git.refusals import FINAL, TEMPORARY, rejection_reason
from gitops_tools.git.repo import Git, PushRejected
from gitops_tools.interrupts import held

# How a waiting job polls (seconds): from POLL_FIRST, growing by POLL_GROWTH up to POLL_MAX, with jitter.
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.05, 1.5, 0.5
POLL_EACH = 0.02
# The oldest pending change has not moved for this long (TAKEOVER, and TAKEOVER_EACH more per pending change, after
# the batch window): its job died (or is slow); the next in line folds, the one after it as long again later.
TAKEOVER, TAKEOVER_EACH = 8.0, 0.05
# A fold takes in the changes published while it was planned, this many times over, before it pushes.
LATE_ROUNDS = 2
_DEEPEN = (20, 200, 2000)  # looking for the fold commit behind a shallow clone's edge


class FoldOutcome(NamedTuple):
    """What became of this job's change: where it landed and with how many others."""

    id: str
    status: core.Status
    commit: str | None  # the fold commit (None: nothing was committed for it)
    others: int  # how many other changes the same commit folded
    folded_here: bool  # this job made the fold commit
    reason: str = ""
    pushes: int = 0  # the pushes this job made (pending ref, folds, withdrawal)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "status": self.status, "commit": self.commit, "landed_with": self.others,
                "folded_here": self.folded_here, "reason": self.reason or None, "pushes": self.pushes}


class Fallback(NamedTuple):
    """The server refused the pending ref: land with today's retry loop, and say why."""

    reason: str


PlanFor = Callable[[core.PendingChange, Workspace], Any]  # a pending change planned on a tree (a Planned)


class Setup(NamedTuple):
    change: core.PendingChange  # this job's, its id still empty
    plan_for: PlanFor
    commit_env: Any  # the process environment (identity of the fold commit)
    configured: tuple[str | None, str | None]
    skip_ci: bool
    sign: bool
    batch_window: float
    deadline: float
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic
    plan_seconds: float = 0.0  # how long this job's own plan took: what one change of a fold costs here, now


def land(git: Git, root: Path, branch: str, setup: Setup) -> FoldOutcome | Fallback:
    """Publish this job's change and see it folded (by this job or another); see the module's description."""
    job = _Job(git, root, branch, setup)
    return job.run()


class _Job:
    def __init__(self, git: Git, root: Path, branch: str, setup: Setup) -> None:
        self.git, self.root, self.branch, self.setup = git, root, branch, setup
        self.prefix = core.pending_prefix(branch)
        self.tracking = f"refs/remotes/origin/{branch}"  # where the branch is fetched to
        self.pushes = 0
        self.id = ""
        self.ref = ""
        self.sha = ""
        self.pace = 0.0  # how long this job's push of its pending ref took: a round trip to the server, now

    # --- publishing ----------------------------------------------------------------------------------------

    def publish(self) -> Fallback | None:
        s = self.setup
        self.id = core.new_id(time.time_ns(), random.getrandbits(32))
        self.ref = core.pending_ref(self.branch, self.id)
        change = s.change._replace(id=self.id)
        tip = self.git.run("rev-parse", "HEAD").strip()
        with self.git.message_file(core.encode(change)) as file:
            self.sha = self.git.run("commit-tree", f"{tip}^{{tree}}", "-p", tip, "-F", file,
                                    env=_identity_env(s.commit_env)).strip()
        self.pushes += 1
        started = s.now()
        try:
            self.git.network("push", "--quiet", "origin", f"{self.sha}:{self.ref}")
            self.pace = s.now() - started
        except PushRejected as err:
            if err.kind == TEMPORARY:
                raise self.git.refusal(err, f"push of {self.ref} failed", "retry later") from None
            return Fallback(rejection_reason(err.stderr))
        return None

    def withdraw(self) -> bool:
        """Take this job's pending ref back (interrupted while waiting); False when it was folded already."""
        try:
            self.pushes += 1
            self.git.network("push", "--quiet", f"--force-with-lease={self.ref}:{self.sha}", "origin",
                             f":{self.ref}")
            return True
        except (PushRejected, GitopsError):
            return False

    # --- the loop ------------------------------------------------------------------------------------------

    def run(self) -> FoldOutcome | Fallback:
        try:
            refused = self.publish()
            if refused is not None:
                return refused
            return self._wait_and_fold()
        except KeyboardInterrupt:  # also while the pending ref was being pushed: the lease makes it safe
            if self.sha:
                with held():
                    self.withdraw()
            raise

    def _wait_and_fold(self) -> FoldOutcome:
        s = self.setup
        start = s.now()
        if s.batch_window > 0:
            s.sleep(s.batch_window)
        poll = POLL_FIRST
        oldest_seen: tuple[str, float] | None = None
        republished = 0
        first_look = True
        while True:
            pending = self._remote_pending()
            if pending is None:  # the server did not answer this time: its ref is out there, keep looking
                if s.now() - start > s.deadline:
                    raise TemporaryError(f"the remote did not answer for {s.deadline:.0f}s while the pending change "
                                         f"{self.id} waited", fix="retry later (exit 75); a later job folds it")
                s.sleep(poll * (0.5 + random.random() / 2))
                poll = min(POLL_MAX * 4, poll * POLL_GROWTH)
                continue
            if self.id not in pending:
                try:
                    found = self._find_fold()
                except TemporaryError:  # the fetch failed this time: look again (until the deadline)
                    if s.now() - start > s.deadline:
                        raise
                    s.sleep(poll)
                    continue
                if found is not None:
                    return found
                settled = self._settled()
                if settled is not None:  # folded by a fold that changed nothing, or changed by someone else
                    return settled
                if republished >= 2:
                    raise TemporaryError(f"the pending change {self.id} disappeared without landing",
                                         fix="retry later (exit 75)")
                republished += 1
                if self.publish() is not None:
                    raise TemporaryError("the remote no longer takes pending changes", fix="retry later (exit 75)")
                continue
            ids = sorted(pending)
            oldest = ids[0]
            now = s.now()
            if oldest_seen is None or oldest_seen[0] != oldest:
                oldest_seen = (oldest, now)
            rank = ids.index(self.id)
            # how long the oldest has waited: as seen here, or by its id's time (a job that died long ago)
            stuck = max(now - oldest_seen[1], time.time() - core.id_time(oldest))
            # a fold of many changes takes longer, and the oldest job may still be in its batch window
            if rank == 0 or stuck > s.batch_window + (TAKEOVER + TAKEOVER_EACH * len(ids)) * rank:
                try:
                    outcome = self._fold()
                except TemporaryError:  # the fetch failed this time: nothing was pushed, look again
                    if s.now() - start > s.deadline:
                        raise
                    outcome = None
                if outcome is not None:
                    return outcome
                poll = POLL_FIRST
            elif first_look:  # wait about as long as the fold ahead may take
                poll = min(POLL_MAX * 2, max(POLL_FIRST, self._ahead(ids)))
            first_look = False
            if now - start > s.deadline:
                raise TemporaryError(f"the pending change {self.id} was not folded in {s.deadline:.0f}s",
                                     fix="retry later (exit 75); the pending ref stays and a later job folds it")
            s.sleep(poll * (0.5 + random.random() / 2))
            # all the waiting jobs together poll at most about 1 / POLL_EACH times a second: many waiters, each
            # polls less often (a poll is cheap, but hundreds of them a second would starve the folder)
            poll = min(max(POLL_MAX, len(ids) * POLL_EACH), poll * POLL_GROWTH)

    def _ahead(self, ids: list[str]) -> float:
        """How long the fold that takes this change may take from now: what is left of the oldest change's batch
        window, then a fetch, every pending change planned, a commit and a push (each round trip as long as
        this job's own push, each plan as long as its own)."""
        s = self.setup
        window_left = max(0.0, core.id_time(ids[0]) + s.batch_window - time.time())
        return window_left + 3 * self.pace + len(ids) * s.plan_seconds

    def _remote_pending(self) -> set[str] | None:
        """The ids of the pending changes on the server; None when it did not answer (a network hiccup)."""
        try:
            refs = self.git.ls_remote("origin", self.prefix)
        except PushRejected as err:
            if err.kind == TEMPORARY:
                return None
            raise self.git.refusal(err, "git ls-remote failed", "check the URL and the token") from None
        return {name for name in (ref.removeprefix(self.prefix) for ref in refs) if core.is_id(name)}

    # --- where it landed -----------------------------------------------------------------------------------

    def _find_fold(self) -> FoldOutcome | None:
        tracking = self.tracking
        self.git.network_step("fetch", "--quiet", "--depth", "1", "origin", f"+refs/heads/{self.branch}:{tracking}")
        for deepen in (0, *_DEEPEN):
            if deepen:
                try:
                    self.git.network("fetch", "--quiet", f"--deepen={deepen}", "origin",
                                     f"+refs/heads/{self.branch}:{tracking}")
                except PushRejected:
                    break
            log = self.git.run("log", "--format=%H%x00%B%x00", "-n", str(max(deepen, 1) * 2 + 20), tracking)
            parts = log.split("\x00")
            for sha, message in zip(parts[0::2], parts[1::2]):
                statuses = core.folded(message)
                if self.id in statuses:
                    mine = statuses[self.id]
                    if mine.status == "failed":
                        raise GitopsError(f"the change could not be applied when it was folded into "
                                          f"{sha.strip()[:12]}: {mine.reason}", fix="fix the change and run again")
                    landed = mine.status == "landed"
                    return FoldOutcome(self.id, mine.status, sha.strip() if landed else None, len(statuses) - 1,
                                       False, mine.reason, self.pushes)
            if not self.git.is_shallow():
                break
        return None

    def _settled(self) -> FoldOutcome | None:
        """This job's ref is gone and no fold commit names it (a fold in which no change changed anything makes
        no commit): plan the change again on the branch tip; when it has nothing left to do, say so."""
        tracking = self.tracking
        self.git.run("reset", "--quiet", "--hard", tracking)
        ws = open_workspace(self.root, self.root)._replace(git=self.git)
        applied = self.setup.plan_for(self.setup.change._replace(id=self.id), ws).applied
        if applied.edits:
            return None
        status, reason = _nothing_to_do(applied)
        return FoldOutcome(self.id, status, None, 0, False, reason, self.pushes)

    # --- folding -------------------------------------------------------------------------------------------

    def _fold(self) -> FoldOutcome | None:
        """Fold every pending change; None when the atomic push was rejected (look again)."""
        s, git = self.setup, self.git
        tracking = self.tracking
        git.run("update-ref", "-d", tracking)  # a fetch that does not find the branch must not leave an old one
        git.network_step("fetch", "--quiet", "--prune", "--depth", "1", "origin",
                         f"+refs/heads/{self.branch}:{tracking}", f"+{self.prefix}*:{self.prefix}*")
        pending = self._read_pending(set())
        if self.id not in {p[0] for p in pending}:
            return None  # folded meanwhile: the next look finds where
        git.run("reset", "--quiet", "--hard", tracking)
        base = git.head()
        entries: list[core.FoldEntry] = []
        paths: set[str] = set()
        ws = open_workspace(self.root, self.root)._replace(git=git)  # the configuration: read once per fold
        batch, folded_names = pending, set[tuple[str, str]]()
        for round_ in range(LATE_ROUNDS + 1):
            changes = [c for _, _, c in batch if c is not None]
            names = [_names(c) for c in changes]
            followed = dict(zip((c.id for c in changes), core.followed(names)))
            for change_id, _, change in batch:
                if change is None:
                    entries.append(core.FoldEntry(change_id, "?", "failed", reason="not a pending change "
                                                                                  "gitops-tools can read"))
                    continue
                entries.append(self._apply(ws, change, paths, followed[change.id]))
            folded_names = folded_names.union(*names)
            if round_ == LATE_ROUNDS:
                break
            # the changes published while this fold was planned join it (the others would wait for a fold of
            # their own), as long as none of them sets an image this fold already set
            batch = self._late({p[0] for p in pending}, folded_names)
            if not batch:
                break
            pending = sorted(pending + batch)
        landed = [e for e in entries if e.status == "landed"]
        leases = [f"--force-with-lease={self.prefix}{i}:{sha}" for i, sha, _ in pending]
        deletions = [f":{self.prefix}{i}" for i, _, _ in pending]
        refspecs = list(deletions)
        fold_sha = None
        if landed:
            git.run("reset", "--quiet", "--soft", str(base))
            message = core.fold_message(entries, skip_ci=s.skip_ci)
            fold_sha = commit(git, sorted(paths), message, s.configured, s.commit_env, sign=s.sign)[0]
            refspecs.insert(0, f"{fold_sha}:refs/heads/{self.branch}")
        self.pushes += 1
        try:
            git.network("push", "--quiet", "--atomic", "--porcelain", *leases, "origin", *refspecs)
        except PushRejected as err:
            # "stale info": a ref it read was folded (or withdrawn) meanwhile; the branch moved; a lock race; a
            # network hiccup: look again (the next look's ls-remote says whether the remote is reachable at all)
            if err.kind == FINAL and "stale info" not in err.stderr:
                raise git.refusal(err, f"push of the fold into {self.branch} failed",
                                  "the remote refused it for good (hook, protection or credentials)") from None
            return None
        mine = next(e for e in entries if e.id == self.id)
        if mine.status == "failed":
            raise GitopsError(f"the change could not be applied: {mine.reason}", fix="fix the change and run again")
        return FoldOutcome(self.id, mine.status, fold_sha if mine.status == "landed" else None, len(entries) - 1,
                           True, mine.reason, self.pushes)

    def _read_pending(self, known: set[str]) -> list[tuple[str, str, core.PendingChange | None]]:
        """The fetched pending refs not in ``known``: (id, commit, the change; None when it cannot be read)."""
        listing = self.git.run("for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%00", self.prefix)
        fields = listing.split("\x00")
        pending: list[tuple[str, str, core.PendingChange | None]] = []
        for ref, sha, message in zip(fields[0::3], fields[1::3], fields[2::3]):
            name = ref.strip().removeprefix(self.prefix)
            if not core.is_id(name) or name in known:
                continue
            change = core.decode(message)
            pending.append((name, sha, change if change is not None and change.id == name else None))
        return sorted(pending)

    def _late(self, known: set[str], folded_names: set[tuple[str, str]]
              ) -> list[tuple[str, str, core.PendingChange | None]]:
        """The pending changes published since this fold read them, in order, up to the first that may set an
        image the fold already set (it waits for the next fold, which reads what this one made); [] when the
        server does not answer (the fold goes on with what it has)."""
        try:
            self.git.network("fetch", "--quiet", "--depth", "1", "origin", f"+{self.prefix}*:{self.prefix}*")
        except PushRejected:
            return []
        late = []
        for entry in self._read_pending(known):
            change = entry[2]
            if change is not None and core.touches(_names(change), folded_names):
                break
            late.append(entry)
        return late

    def _apply(self, ws: Workspace, change: core.PendingChange, paths: set[str], followed: bool) -> core.FoldEntry:
        """Plan ``change`` on the tree as the fold has made it so far and write its edits. When a later change
        of the fold may set the same image again (``followed``) it is also committed locally: history then tells
        the downgrade guard which pipeline set the value, as it would for a single job."""
        s, git = self.setup, self.git
        try:
            trailers = tuple(ci_trailers(change.environ))
            plan = s.plan_for(change, ws)
            applied = plan.applied
            if not applied.edits:
                status, reason = _nothing_to_do(applied)
                return core.FoldEntry(change.id, applied.scope, status, applied.action, applied.updates, trailers,
                                      reason)
            from gitops_tools.commands.writer import _write

            message = commit_message(applied.scope, applied.action, applied.updates, extra_trailers=trailers)
            with held():
                _write(ws, applied)
                try:
                    if followed:
                        commit(git, [e.display for e in applied.edits], message, s.configured, s.commit_env)
                except GitopsError:  # this change only: the files as the changes before it left them
                    write_all({e.path: e.before for e in applied.edits})
                    raise
            paths.update(e.display for e in applied.edits)
            return core.FoldEntry(change.id, applied.scope, "landed", applied.action, applied.updates, trailers)
        except GitopsError as err:
            return core.FoldEntry(change.id, change.target, "failed", reason=err.problem)


def _nothing_to_do(applied: Any) -> tuple[core.Status, str]:
    """A change that edits nothing: skipped (an older tag than what runs: the guard's reasons), or unchanged."""
    skipped = [u for u in applied.updates if u.status == "skipped-downgrade"]
    if skipped:
        return "skipped", "; ".join(u.message or "" for u in skipped) or "already there"
    return "unchanged", "already there"


def _names(change: core.PendingChange) -> set[tuple[str, str]]:
    """(target, image name) of each spec of ``change`` (the last path part too: a spec may name an entry by its
    newName), so that two changes that may set the same image are seen as such."""
    from gitops_tools.core.kustomize import parse_specs

    try:
        specs = parse_specs(change.specs)
    except GitopsError:
        return {(change.target, "*")}
    out = set()
    for spec in specs:
        out.add((change.target, spec.name))
        out.add((change.target, spec.name.rsplit("/", 1)[-1]))
    return out


def _identity_env(env: Any) -> dict[str, str]:
    """A committer for ``commit-tree`` on a machine where git has no identity (the pending commit is never
    on the branch; who made it does not matter)."""
    if env.get("GIT_COMMITTER_EMAIL") and env.get("GIT_AUTHOR_EMAIL"):
        return {}
    return {"GIT_COMMITTER_NAME": "gitops-tools", "GIT_COMMITTER_EMAIL": "gitops-tools@localhost",
            "GIT_AUTHOR_NAME": "gitops-tools", "GIT_AUTHOR_EMAIL": "gitops-tools@localhost"}
