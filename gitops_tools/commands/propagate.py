"""``propagate``: move every service that depends on a library to a new version of it, one merge request each.

The services come from ``services:`` in ``gitops-tools.yaml``. For each (several at once, ``jobs``): a shallow
clone of its branch, the pins of the library moved in its files (:mod:`gitops_tools.core.pins`), a commit with
the library's CHANGELOG section and trailers, and a push to ``gitops-tools/propagate/<library>-<version>`` with
GitLab push options that open a merge request the first time. Run again, the same branch is updated (or left as
it is when it already holds the change) and no second merge request is asked for. A service that fails (not
reachable, no such dependency, a pin that cannot move, a refused push) is reported with its reason and nothing is
pushed for it; the others go on. The clones are removed whatever happens.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gitops_tools.commands.workspace import open_workspace
from gitops_tools.config import CONFIG_FILE, Config, Service
from gitops_tools.core.pins import FilePlan, Pin, parse_version, plan_file
from gitops_tools.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_TEMPFAIL, GitopsError, TemporaryError
from gitops_tools.files import ensure_inside, local_url, read_text

if TYPE_CHECKING:
    from gitops_tools.git.repo import Git

Status = Literal["proposed", "updated", "unchanged", "admits", "planned", "failed"]

#: What each status means, for people (the text table's last column and docs/propagate.md).
MEANING: dict[str, str] = {
    "proposed": "merge request branch pushed, merge request asked for",
    "updated": "the merge request branch was updated (no new merge request)",
    "unchanged": "the merge request branch already holds this change",
    "admits": "every pin already admits the version: nothing to do",
    "planned": "dry run: would be changed",
    "failed": "nothing pushed",
}


@dataclass(frozen=True)
class ServiceOutcome:
    """What became of one service."""

    service: str
    repo_url: str
    status: Status
    target: str = "main"  # the branch the merge request goes into
    pins: tuple[Pin, ...] = ()
    branch: str | None = None  # the merge request's source branch, when one was pushed (or would be)
    commit: str | None = None
    problem: str | None = None  # failed: what went wrong (file and line where there is one)
    fix: str | None = None
    temporary: bool = False  # failed for a reason that may pass (network, server busy): retry
    diff: str = ""  # dry run: what would change, as a unified diff

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def breaking(self) -> bool:
        return any(p.breaking for p in self.pins)

    def as_dict(self) -> dict[str, object]:
        return {"service": self.service, "repo_url": self.repo_url, "status": self.status, "target": self.target,
                "branch": self.branch, "commit": self.commit, "breaking": self.breaking,
                "pins": [p.as_dict() for p in self.pins], "problem": self.problem, "fix": self.fix,
                "temporary": self.temporary, **({"diff": self.diff} if self.diff else {})}


@dataclass(frozen=True)
class PropagateResult:
    """Every service's outcome, in the order of the configuration."""

    library: str
    version: str
    services: tuple[ServiceOutcome, ...]
    dry_run: bool = False
    index: str | None = None  # the index the version was found on (None: not checked)
    changelog: bool = False  # a CHANGELOG section went into the commits
    notes: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> tuple[ServiceOutcome, ...]:
        return tuple(s for s in self.services if not s.ok)

    @property
    def exit_code(self) -> int:
        """0 every service done; 4 partly done (some failed); 1 all failed (75 when only for reasons that may
        pass)."""
        failed = self.failed
        if not failed:
            return EXIT_OK
        if len(failed) < len(self.services):
            return EXIT_PARTIAL
        return EXIT_TEMPFAIL if all(s.temporary for s in failed) else EXIT_ERROR

    def as_dict(self) -> dict[str, object]:
        return {"library": self.library, "version": self.version, "dry_run": self.dry_run, "index": self.index,
                "changelog": self.changelog, "notes": list(self.notes),
                "services": [s.as_dict() for s in self.services],
                "summary": {status: sum(1 for s in self.services if s.status == status) for status in MEANING
                            if any(s.status == status for s in self.services)},
                "exit_code": self.exit_code}


@dataclass(frozen=True)
class _Job:
    """What every service's run needs (read once, before any clone)."""

    library: str
    version: str
    changelog: str | None
    config: Config
    root: Path
    env: Mapping[str, str]
    dry_run: bool
    verbose: bool
    # Set on Ctrl-C or SIGTERM: a service that has not pushed yet stops before it commits or pushes.
    stop: threading.Event = field(default_factory=threading.Event, compare=False)

    def check(self) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt


def propagate(cwd: Path, repo: Path | None, library: str, version: str, *, services: Sequence[str] = (),
              changelog: Path | None = None, index_url: str | None = None, dry_run: bool = False, jobs: int = 4,
              env: Mapping[str, str], verbose: bool = False) -> PropagateResult:
    from gitops_tools.config.schema import Invalid, library_name

    try:
        name = library_name(library)
    except Invalid as err:
        raise GitopsError(err.problem, fix=err.fix) from None
    parsed = parse_version(version)
    version = str(parsed)
    if parsed.local is not None:
        raise GitopsError(f"version {version} is a local version (+{parsed.local})",
                          fix="an index refuses local versions: give the published version")
    ws = open_workspace(cwd, repo)
    config = ws.config
    chosen = _chosen(config, name, services)
    notes: list[str] = []
    section = None
    if changelog is not None:
        from gitops_tools.release.changelog import section_for

        section = section_for(read_text(changelog, str(changelog)), version)
        if section is None:
            notes.append(f"{changelog} has no section for {version}: the commits say so without it")
    if index_url:
        _on_index(index_url, name, version, env)
    root = ws.root if ws.root is not None else cwd
    job = _Job(name, version, section, config, root, env, dry_run, verbose)
    outcomes = _run_all(job, chosen, max(1, jobs))
    return PropagateResult(name, version, tuple(outcomes), dry_run, index_url or None, section is not None,
                           tuple(notes))


def _chosen(config: Config, library: str, names: Sequence[str]) -> list[Service]:
    """The services to move: those named (a configured name, or ``NAME=URL`` for a repository that is not
    configured), else every configured service the library goes to."""
    known = {s.name: s for s in config.services}
    if names:
        chosen = [_ad_hoc(n) if "=" in n else known.get(n) for n in dict.fromkeys(names)]
        unknown = [n for n, s in zip(dict.fromkeys(names), chosen) if s is None]
        if unknown:
            from gitops_tools.config.messages import suggest

            fix = (suggest(unknown[0], list(known), "known services") if known else "no services are configured")
            raise GitopsError(f"unknown service {unknown[0]!r}", file=config.source or CONFIG_FILE, key="services",
                              fix=fix + f"; or give a repository as NAME=URL, e.g. --service {unknown[0]}=URL")
        return [s for s in chosen if s is not None]
    if not config.services:
        raise GitopsError("no services are configured", file=config.source or CONFIG_FILE, key="services",
                          fix="list the service repositories under services: (docs/propagate.md), or give one as "
                              "--service NAME=URL")
    chosen_all = [s for s in config.services if s.wants(library)]
    if not chosen_all:
        raise GitopsError(f"no service takes {library}", file=config.source, key="services",
                          fix=f"add {library} to a service's libraries: (or remove libraries: to take every library)")
    return chosen_all


def _ad_hoc(text: str) -> Service:
    """``--service NAME=URL``: a service that is not configured, with the defaults of the configuration."""
    from gitops_tools.config.schema import Invalid, service_name, service_url

    name, _, url = text.partition("=")
    try:
        return Service(service_name(name), service_url(url))
    except Invalid as err:
        raise GitopsError(f"--service {name}: {err.problem}", fix=err.fix) from None


def _on_index(index_url: str, library: str, version: str, env: Mapping[str, str]) -> None:
    """The version must be published before any service is moved to it."""
    from packaging.version import Version

    from gitops_tools.pyindex import index_files

    files = index_files(index_url, library, env)
    if any(Version(f.version) == Version(version) for f in files):
        return
    have = sorted({f.version for f in files}, key=Version)
    raise GitopsError(
        f"{library} {version} is not on the index {index_url}"
        + (f" (it has {', '.join(have[-5:])})" if have else f" ({library} is not published there at all)"),
        fix="publish it first (gitops-tools publish), or give the version that was published; no service was touched")


def _run_all(job: _Job, services: Sequence[Service], jobs: int) -> list[ServiceOutcome]:
    if jobs == 1 or len(services) == 1:
        return [_one(job, s) for s in services]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(jobs, len(services)), thread_name_prefix="propagate")
    try:
        futures = [pool.submit(_one, job, s) for s in services]
        return [f.result() for f in futures]
    except BaseException:  # Ctrl-C, SIGTERM (in this thread): the others stop before their next commit or push,
        job.stop.set()  # and what git runs for them now is stopped, not waited for
        from gitops_tools.git.repo import stop_running

        stop_running()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _safe_url(url: str) -> str:
    from gitops_tools.git.auth import split_url

    return split_url(url)[0]


def _one(job: _Job, service: Service) -> ServiceOutcome:
    """One service, start to end; every expected failure becomes its outcome (the others go on)."""
    url = local_url(service.repo_url, job.root)
    try:
        return _move(job, service, url)
    except GitopsError as err:
        return ServiceOutcome(service.name, _safe_url(service.repo_url), "failed", service.branch,
                              problem=err.headline, fix=err.fix, temporary=isinstance(err, TemporaryError))


def _files(root: Path, service: Service) -> list[str]:
    """The service's configured files (each must exist), else the pin files found at its root."""
    if service.files:
        missing = [f for f in service.files if not (root / f).is_file()]
        if missing:
            raise GitopsError(f"{missing[0]} does not exist in {service.name} (branch {service.branch})",
                              key=f"services.{service.name}.files",
                              fix="fix the path in gitops-tools.yaml, or add the file to the service")
        return list(service.files)
    from gitops_tools.config.model import SERVICE_FILE_PATTERNS

    found = sorted(p.name for p in root.iterdir() if p.is_file() and any(
        fnmatch.fnmatchcase(p.name, pattern) for pattern in SERVICE_FILE_PATTERNS))
    if not found:
        raise GitopsError(f"{service.name} has no requirements*.txt, constraints*.txt or pyproject.toml at its root",
                          key=f"services.{service.name}.files",
                          fix="list the files that pin its dependencies under files:")
    return found


def _plan(root: Path, service: Service, library: str, version: str) -> list[FilePlan]:
    new = parse_version(version)
    plans = []
    for name in _files(root, service):
        path = root / name
        ensure_inside(root, path, name, f"{service.name}'s repository")
        plans.append(plan_file(read_text(path, name), name, library, new))
    if not any(p.pins for p in plans):
        names = ", ".join(p.file for p in plans)
        raise GitopsError(f"{library} is not a dependency of {service.name}: {names} "
                          f"{'does' if len(plans) == 1 else 'do'} not name it",
                          fix=f"pin {library} in its files, or list the libraries it takes under "
                              f"services.{service.name}.libraries")
    return plans


def _move(job: _Job, service: Service, url: str) -> ServiceOutcome:
    from gitops_tools.core.propagation import branch_name
    from gitops_tools.files import scratch_directory
    from gitops_tools.git.auth import choose
    from gitops_tools.git.repo import Git

    clean, creds = choose(url, job.env, user_alone_is_token=True)
    shown = _safe_url(service.repo_url)
    with scratch_directory("gitops-tools-propagate-") as tmp:
        root = tmp / "repo"
        Git(tmp, verbose=job.verbose, credentials=creds, progress=False).network_step(
            "clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", "--branch", service.branch, "--",
            clean, str(root), fix=f"check services.{service.name} (repo_url, branch) and the token")
        git = Git(root, verbose=job.verbose, credentials=creds, progress=False)
        try:
            plans = _plan(root, service, job.library, job.version)
            pins = tuple(p for plan in plans for p in plan.pins)
            changed = [plan for plan in plans if plan.after != plan.before]
            if not changed:
                return ServiceOutcome(service.name, shown, "admits", service.branch, pins)
            branch = branch_name(job.library, job.version)
            if job.dry_run:
                from gitops_tools.core.changes import unified_diff

                diff = "".join(unified_diff(p.file, p.before, p.after) for p in changed)
                return ServiceOutcome(service.name, shown, "planned", service.branch, pins, branch, diff=diff)
            return _commit_and_push(job, service, git, root, changed, pins, branch, shown)
        finally:
            git.close()


def _commit_and_push(job: _Job, service: Service, git: Git, root: Path, changed: Sequence[FilePlan],
                     pins: tuple[Pin, ...], branch: str, shown: str) -> ServiceOutcome:
    from gitops_tools.commands.committing import commit
    from gitops_tools.core.changes import ci_trailers
    from gitops_tools.core.propagation import commit_message, push_options
    from gitops_tools.files import write_all
    from gitops_tools.git.repo import PushRejected

    message = commit_message(job.library, job.version, pins, job.changelog, ci_trailers(job.env))
    job.check()
    git.run("checkout", "--quiet", "-b", branch)
    write_all({root / p.file: p.after for p in changed})
    configured = (job.config.commit.author_name, job.config.commit.author_email)
    sha = commit(git, [p.file for p in changed], message, configured, job.env)[0]
    ref = f"refs/heads/{branch}"
    breaking = any(p.breaking for p in pins)

    def push(existing: str | None) -> bool:
        """Push HEAD to the branch if it is still where we saw it (absent: ``existing`` None); the first push
        asks GitLab for the merge request. False: the branch was already at this very commit (a run in the same
        second made the same one), so nothing was sent."""
        args = ["push", "--porcelain", f"--force-with-lease={ref}:{existing or ''}"]
        for option in push_options(job.library, job.version, service.branch, breaking, first=existing is None):
            args += ["-o", option]
        out = git.network(*args, "origin", f"HEAD:{ref}")
        return not any(line.startswith("=\t") for line in out.splitlines())

    def refused(err: PushRejected) -> GitopsError:
        fix = ("the remote must accept push options (GitLab does)" if "push options" in err.stderr.lower() else
               "the repository refused it for good (hook, protection or credentials)")
        return git.refusal(err, f"push of {branch} to {service.name} failed", fix,
                           final=f"push of {branch} to {service.name} rejected")

    # The usual case first, in one round trip: the branch does not exist yet. When it does (a run before this
    # one), the lease refuses the push without sending it: then compare, and replace it only if it differs.
    existing = None
    job.check()
    try:
        if not push(None):
            return ServiceOutcome(service.name, shown, "unchanged", service.branch, pins, branch, sha)
    except PushRejected as err:
        if "stale info" not in err.stderr:
            raise refused(err) from None
        git.network_step("fetch", "--quiet", "--depth", "1", "origin", f"+{ref}:refs/remotes/origin/{branch}")
        existing, theirs, ours = git.run("rev-parse", f"refs/remotes/origin/{branch}",
                                         f"refs/remotes/origin/{branch}^{{tree}}", "HEAD^{tree}").split()
        if theirs == ours:
            return ServiceOutcome(service.name, shown, "unchanged", service.branch, pins, branch, existing)
        try:
            push(existing)
        except PushRejected as again:
            raise refused(again) from None
    return ServiceOutcome(service.name, shown, "proposed" if existing is None else "updated", service.branch, pins,
                          branch, sha)
