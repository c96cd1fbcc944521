"""``gitops-tools release [PATH]`` and ``gitops-tools changelog [PATH]``: the publish pipeline's release step.

Reads what the plan needs once (``pyproject.toml``, the version files, the last release tags, one ``git log`` of
the unreleased range), plans with :mod:`gitops_tools.release.plan`, writes the version into ``pyproject.toml``
and the configured files and prepends the CHANGELOG section (all files or none), commits
``chore(release): NAME VERSION``, makes an annotated tag whose message is the section, and pushes commit and tag
in one atomic push through :func:`gitops_tools.git.push.push_with_retry`. Release tags on the branch that origin
lacks (made with ``--no-push``, or by a run killed before its push) go with that push; with nothing to release,
a warning names them and the command that pushes them. Every file it writes must be inside the repository
(symbolic links followed: :mod:`gitops_tools.commands.release_files`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.commands.committing import commit
from gitops_tools.commands.release_files import Inputs, read_inputs, write_release
from gitops_tools.commands.release_tags import (
    Origin,
    disagreement_fix,
    find_origin,
    refuse_stranded,
    tags_named,
    unpushed_tags,
    warn_unpushed,
)
from gitops_tools.errors import GitopsError
from gitops_tools.files import local_url, scratch_directory
from gitops_tools.git.push import Clock, Pending, push_with_retry
from gitops_tools.git.refusals import Backoff
from gitops_tools.git.repo import Git
from gitops_tools.interrupts import held
from gitops_tools.release.config import check_prerelease
from gitops_tools.release.conventional import Decision, Level
from gitops_tools.release.plan import Tags, plan_next, plan_release, whole_changelog
from gitops_tools.release.versioning import parse_version

if TYPE_CHECKING:
    from gitops_tools.commands.notifying import Notification
    from gitops_tools.config.model import NotifyTarget


class ReleaseResult(NamedTuple):
    name: str
    current: str | None
    next: str | None
    level: Level
    tag: str | None
    commit: str | None
    pushed: bool
    decisions: tuple[Decision, ...]
    section: str
    warnings: tuple[str, ...]
    files: tuple[str, ...]
    # every tag this run pushed: release tags made here earlier that origin did not have, then this release's
    pushed_tags: tuple[str, ...] = ()
    # what became of each [[tool.gitops-tools.release.notify]] target, once the release was pushed
    notifications: tuple[Notification, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "current": self.current, "next": self.next, "level": self.level, "tag": self.tag,
            "commit": self.commit, "pushed": self.pushed, "pushed_tags": list(self.pushed_tags),
            "files": list(self.files), "warnings": list(self.warnings), "changelog": self.section,
            "commits": [d._asdict() for d in self.decisions],
            **({"notifications": [n.as_dict() for n in self.notifications]} if self.notifications else {}),
        }


class _Warnings(list[str]):
    """The run's warnings, in order, each once: a retry plans again with the same list, and a warning found
    again (or added by two paths) must not be printed twice."""

    def append(self, text: str) -> None:
        if text not in self:
            super().append(text)


class _Run(NamedTuple):
    tag_prefix: str | None
    prerelease: str | None
    dry_run: bool
    print_only: bool
    push: bool
    today: Callable[[], datetime.date]
    backoff: Backoff
    clock: Clock
    env: Mapping[str, str]
    explain: bool = False

    @property
    def reading(self) -> bool:
        """Only reads: fetches nothing, writes no file and no ref (not even a tag)."""
        return self.dry_run or self.print_only or self.explain


def release(path: Path, *, tag_prefix: str | None = None, prerelease: str | None = None, dry_run: bool = False,
            print_only: bool = False, explain: bool = False, push: bool = True, branch: str | None = None,
            verbose: bool = False, repo_url: str | None = None, env: Mapping[str, str] | None = None,
            today: Callable[[], datetime.date] = datetime.date.today, backoff: Backoff = Backoff(),
            sleep: Callable[[float], None] | None = None) -> ReleaseResult:
    """Release the library at ``path``: in this checkout, or (``repo_url``) in a fresh clone of that
    repository, where ``path`` is relative to its root and the clone is removed afterwards.

    ``dry_run``, ``print_only`` and ``explain`` only read: they write, commit, tag, fetch and push nothing."""
    check_prerelease(prerelease)  # before any git process
    environ = os.environ if env is None else env
    clock = Clock() if sleep is None else Clock(sleep=sleep)
    run = _Run(tag_prefix, prerelease, dry_run, print_only, push, today, backoff, clock, environ, explain)
    if repo_url:
        return _release_in_clone(repo_url, path, branch, verbose, run)
    if not path.is_dir():
        raise GitopsError(f"{path}: no such directory", fix="give the directory of the library to release")
    root, shallow, current_branch = Git(path, verbose=verbose).toplevel()  # one process, three answers
    git = Git(root, verbose=verbose)
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    rel = "" if rel == "." else rel
    warnings = _Warnings()
    remote: Origin | None = None
    if shallow:
        remote = find_origin(git, environ)
        if remote is None:
            raise GitopsError("the clone is shallow and has no remote to deepen it from",
                              fix="clone with the whole history (GIT_DEPTH: 0 in GitLab CI)")
        warnings.append("the clone was shallow: fetched the whole history and the tags")
        remote.git.network_step("fetch", "--quiet", "--unshallow", "--tags", "origin",
                                fix="clone with the whole history (GIT_DEPTH: 0 in GitLab CI)")
    if current_branch is None:
        if not branch and environ.get("CI_COMMIT_BRANCH"):
            branch = environ["CI_COMMIT_BRANCH"]  # GitLab CI checks out a detached HEAD of this branch
        if push and not run.reading and not branch:
            raise GitopsError("HEAD is detached, so there is no branch to push the release commit to",
                              fix="check out the branch, or pass --branch (in GitLab CI: --branch $CI_COMMIT_BRANCH)")
        warnings.append(f"HEAD is detached: the release goes to {branch}" if branch else "HEAD is detached")
    try:
        return _release_in(git, rel, branch or current_branch or "HEAD", warnings, remote, run)
    finally:
        git.close()


def _release_in_clone(repo_url: str, path: Path, branch: str | None, verbose: bool, run: _Run) -> ReleaseResult:
    from gitops_tools.git.auth import choose

    rel = path.as_posix().strip("/")
    rel = "" if rel == "." else rel
    if path.is_absolute() or ".." in path.parts:
        raise GitopsError(f"PATH {path} is not inside the repository",
                          fix="with --repo-url, PATH is the library's directory relative to the repository root")
    # the clone's origin is the URL without credentials; the token goes as a header to every command
    url, creds = choose(local_url(repo_url, Path.cwd()), run.env, user_alone_is_token=True)
    with scratch_directory("gitops-tools-release-") as tmp:
        root = tmp / "repo"
        # the whole history and the tags (the last release may be far back); blobs only where needed
        args = ["clone", "--quiet", "--filter=blob:none", *(["--branch", branch] if branch else [])]
        Git(tmp, verbose=verbose, credentials=creds).network_step(
            *args, "--", url, str(root), fix="check the URL, the branch and the token", progress=True)
        if not (root / rel).is_dir():
            raise GitopsError(f"{rel}: no such directory in {url}",
                              fix="with --repo-url, PATH is the library's directory relative to the repository root")
        git = Git(root, verbose=verbose, credentials=creds)
        try:
            # a fresh clone has every tag of origin: no release tag here can be missing there
            return _release_in(git, rel, git.branch() or "HEAD", _Warnings(), Origin(git, git, "origin"), run,
                               check_tags=False)
        finally:
            git.close()


class _Attempt(NamedTuple):
    """One release attempt: its result, and the release tags made here earlier that it pushes along."""

    result: ReleaseResult
    unpushed: tuple[str, ...] = ()


def _release_in(git: Git, rel: str, branch: str, warnings: _Warnings, remote: Origin | None, run: _Run,
                check_tags: bool = True) -> ReleaseResult:
    """Plan, commit, tag and push; ``remote`` is the git that talks to ``origin`` (found when needed).

    ``check_tags``: a run that pushes asks origin (one ``git ls-remote``) which release tags on this branch it
    lacks: they go with the push, or, when there is nothing to push, a warning names them and the command that
    pushes them."""
    pushing = run.push and not run.reading
    inputs = read_inputs(git.root, rel, run.tag_prefix)
    candidates = git.tags(inputs.pattern)
    if not run.reading and not candidates:  # no release tag at all
        remote = remote or find_origin(git, run.env)
        if remote is not None:  # a clone made without tags would otherwise start the history over
            try:
                remote.git.network_step("fetch", "--quiet", "--tags", "origin")
                warnings.append("no release tag here: fetched the tags of origin")
                candidates = git.tags(inputs.pattern)
            except GitopsError as err:
                warnings.append(f"no release tag here, and fetching the tags failed: {err.headline}")
    result = _plan(git, inputs, rel, run, warnings, candidates)
    targets = _notify_targets(inputs) if not (run.print_only or run.explain) else ()
    if run.reading:
        return result
    if pushing:
        remote = remote or find_origin(git, run.env)
    if result.next is None:
        if pushing and check_tags and remote is not None:
            warn_unpushed(git, remote, inputs.pattern, branch, warnings)
        return result._replace(warnings=tuple(warnings))
    if pushing and remote is None:
        others = list(git.remotes())
        if others:
            raise GitopsError(f"no remote named origin to push the release to (remotes here: {', '.join(others)})",
                              fix="pass --no-push, or rename the remote to push to: git remote rename NAME origin; "
                                  "nothing was written")
        warnings.append("no remote: the release commit and tag stay in this checkout")
    if not pushing or remote is None:
        return _apply(git, inputs, result, run)._replace(warnings=tuple(warnings))
    talker = remote
    if targets:  # a required target that cannot be sent to refuses the release before anything is written
        from gitops_tools.commands.notifying import preflight

        preflight(targets, "release", None, False, run.env, inputs.pyproject, key="tool.gitops-tools.release.notify")

    def attempt(inputs: Inputs, result: ReleaseResult) -> Pending[_Attempt]:
        # asked on each attempt: a retry fetched origin's tags, and may have moved HEAD
        unpushed = tuple(unpushed_tags(git, talker, inputs.pattern, before=str(result.tag))) if check_tags else ()
        done = _apply(git, inputs, result, run)
        refspecs = (f"HEAD:refs/heads/{branch}", f"refs/tags/{done.tag}", *(f"refs/tags/{t}" for t in unpushed))
        return Pending(_Attempt(done, unpushed), refspecs, _undo(git, done), what=f"push of {done.tag}")

    def again(previous: _Attempt) -> Pending[_Attempt] | _Attempt:
        """Someone pushed first: start again from the remote state (the level may change with their commits)."""
        talker.git.network_step("fetch", "--quiet", "--tags", "origin",
                                f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
        refuse_stranded(git, branch, previous.unpushed)
        try:  # commits of this clone that were not pushed yet go on top of the new remote state
            git.run("rebase", "--quiet", "--autostash", f"refs/remotes/origin/{branch}")
        except GitopsError:
            if any((git.root / ".git" / d).exists() for d in ("rebase-merge", "rebase-apply")):
                git.run("rebase", "--abort")
            raise GitopsError(f"the commits of this checkout do not apply on the new origin/{branch}",
                              fix="rebase them by hand, then release again") from None
        fresh = read_inputs(git.root, rel, run.tag_prefix)
        replanned = _plan(git, fresh, rel, run, warnings)
        if replanned.next is None:
            return _Attempt(replanned)
        return attempt(fresh, replanned)

    pushed = push_with_retry(talker.git, attempt(inputs, result), again, what=f"push of {result.tag}", atomic=True,
                             backoff=run.backoff, clock=run.clock)
    done, unpushed = pushed.value
    if not pushed.pushed:
        return done._replace(warnings=tuple(warnings))
    if unpushed:
        warnings.append(f"origin did not have the release {tags_named(unpushed)} (made here, never pushed): "
                        "pushed with this release")
    return done._replace(pushed=True, pushed_tags=(*unpushed, str(done.tag)), warnings=tuple(warnings),
                         notifications=_announce(targets, done, branch, inputs.config.commit_url, run, git.verbose))


def _notify_targets(inputs: Inputs) -> tuple[NotifyTarget, ...]:
    """The library's ``[[tool.gitops-tools.release.notify]]`` targets (none: nothing about notifications loaded)."""
    if "notify" not in inputs.pyproject_text:
        return ()
    from gitops_tools.commands.notifying import release_targets

    return release_targets(inputs.pyproject_text, inputs.pyproject)


def _announce(targets: tuple[NotifyTarget, ...], done: ReleaseResult, branch: str, commit_url: str | None, run: _Run,
              verbose: bool) -> tuple[Notification, ...]:
    """After the push: announce the release to the library's targets."""
    if not targets or done.next is None or done.tag is None:
        return ()
    from gitops_tools.commands.notifying import release_pushed

    return release_pushed(targets, done.name, done.current, done.next, done.tag, done.commit, branch, done.section,
                          commit_url, run.env, verbose)


def _plan(git: Git, inputs: Inputs, rel: str, run: _Run, warnings: _Warnings,
          candidates: list[str] | None = None) -> ReleaseResult:
    """Read the tags (``candidates``: the release tags, when the caller listed them already) and the unreleased
    range (one ``git log``), and plan."""
    if candidates is None:
        candidates = git.tags(inputs.pattern)
    if len(candidates) != 1:
        last_tag = git.describe(inputs.pattern) if candidates else None
        return _plan_from(git, inputs, rel, run, warnings, last_tag, bool(candidates), None)
    # One release tag: the last release is that tag when HEAD reaches it, which `git describe` learns by walking
    # back to it (the whole history when all of it is unreleased). Here a second process checks it while the
    # git log of the range runs: two walks on two processors, one after the other no more.
    with git.started("merge-base", "--is-ancestor", f"refs/tags/{candidates[0]}^{{commit}}", "HEAD") as reaches:
        return _plan_from(git, inputs, rel, run, warnings, candidates[0], True, lambda: reaches() == 0)


def _plan_from(git: Git, inputs: Inputs, rel: str, run: _Run, warnings: _Warnings, last_tag: str | None,
               any_tags: bool, reached: Callable[[], bool] | None) -> ReleaseResult:
    """:func:`_plan` once the last release tag is known; ``reached`` (when not None) says, waiting as long as it
    takes, whether HEAD reaches ``last_tag``: if it does not, no release tag is reachable, as ``git describe``
    would have said, and that is the error whatever else is wrong."""
    pattern = inputs.pattern
    unreachable = GitopsError(f"no tag matching {pattern} is reachable from HEAD, though some exist",
                              fix="fetch or merge the branch that carries the last release, then run again")
    if last_tag is None and any_tags:
        raise unreachable
    try:
        plan = _plan_range(git, inputs, rel, run, warnings, last_tag, reached is not None)
    except GitopsError:
        if reached is not None and not reached():
            raise unreachable from None
        raise
    if reached is not None and not reached():
        raise unreachable
    return plan


def _plan_range(git: Git, inputs: Inputs, rel: str, run: _Run, warnings: _Warnings, last_tag: str | None,
                alone: bool) -> ReleaseResult:
    """The plan of the range after ``last_tag`` (``alone``: the only release tag there is)."""
    config, prefix, pattern = inputs.config, inputs.config.tag_prefix, inputs.pattern
    if last_tag is None and run.reading and git.remotes():  # a dry run fetches nothing: say what a real run does
        warnings.append(f"no tag matching {pattern} here: the range starts at the first commit; if origin has "
                        "release tags, a real run fetches them first (or: git fetch --tags)")
    final = last_tag is None or "-" not in last_tag[len(prefix):]
    # the last final release: the tag itself, or (after a pre-release) the newest final one; none when alone
    last_final = last_tag if final else None if alone else git.describe(pattern, [f"{prefix}*-*"])
    current_v = parse_version(inputs.current, inputs.pyproject)
    if last_tag and parse_version(last_tag[len(prefix):], last_tag) != current_v:
        raise GitopsError(f"version {inputs.current} disagrees with the last tag {last_tag}", file=inputs.pyproject,
                          key="project.version", fix=disagreement_fix(git, config.name, prefix, inputs.current,
                                                                       last_tag))
    inputs.check_version_files()
    # One git log for the whole unreleased range, with the files of each commit when PATH is a directory of the
    # repository: the PATH filter is applied in the plan, so that --explain can say what it left out and why.
    span = f"{last_final}..HEAD" if last_final else "HEAD"
    tags = Tags(last_tag, last_final, git.rev_parse(last_tag) if last_tag and last_tag != last_final else None)
    if run.print_only and not run.explain and not rel and run.prerelease is None:
        # the version alone: git log's text searched, not a record per commit (the same answer)
        plan = plan_next(config, inputs.current, tags, git.run("log", "-z", "--format=%B", span), inputs.pyproject)
    else:
        records = git.log(span, files=bool(rel))
        plan = plan_release(config, inputs.current, tags, records, rel, run.prerelease, run.today(),
                            inputs.pyproject)
    files = inputs.files if plan.next else ()
    return ReleaseResult(config.name, inputs.current, plan.next, plan.level, plan.tag, None, False, plan.decisions,
                         plan.section, tuple(warnings), files)


def _apply(git: Git, inputs: Inputs, result: ReleaseResult, run: _Run) -> ReleaseResult:
    """Write the files, commit and tag; Ctrl-C or SIGTERM meanwhile waits for them (or for their undoing): the
    files are all as before or all as after, and a release commit never stays without its tag."""
    assert result.next is not None and result.tag is not None
    dirty = git.dirty(list(result.files))
    if dirty:  # the release commit would carry someone's unfinished edits
        raise GitopsError(f"uncommitted changes in {', '.join(dirty)}", file=dirty[0],
                          fix="commit or stash them first: release commits these files; nothing was written")
    with held():
        with write_release(git.root, inputs, result.next, result.section) as written:
            try:
                git.run("add", "--", *written)  # a CHANGELOG made now is a new file
                sha, extra = commit(git, written, f"chore(release): {inputs.config.name} {result.next}\n",
                                    (None, None), run.env)
            except BaseException:
                git.run("reset", "--quiet", "--", *written)
                raise
        try:
            git.tag(result.tag, result.section, env=extra)
        except BaseException:
            git.undo_commit(sha, written)  # no release commit without its tag
            raise
    return result._replace(commit=sha)


def _undo(git: Git, result: ReleaseResult) -> Callable[[], str]:
    """Drop the release's tag and commit; the user's own staged and unstaged work stays as it was. A release
    commit and tag that only exist here would make the next run find "nothing to release" and never push them."""
    def undo() -> str:
        git.run("tag", "-d", str(result.tag))
        git.undo_commit(str(result.commit), list(result.files))
        return f"; the release commit and tag {result.tag} were undone in this checkout"
    return undo


def full_changelog(path: Path, tag_prefix: str | None = None, verbose: bool = False,
                   today: Callable[[], datetime.date] = datetime.date.today) -> str:
    """The whole history of the library at ``path`` as CHANGELOG text: one section per release tag."""
    root = Git(path, verbose=verbose).toplevel()[0]
    git = Git(root, verbose=verbose)
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    rel = "" if rel == "." else rel
    config = read_inputs(root, rel, tag_prefix).config
    tags: dict[str, tuple[str, str]] = {}
    for line in git.run("tag", "--list", f"{config.tag_prefix}[0-9]*", "--format=%(objectname) %(*objectname) "
                        "%(refname:strip=2) %(creatordate:short)").splitlines():
        fields = line.split()
        if len(fields) == 4:  # an annotated tag: the tag object, then the commit it points at
            tags[fields[1]] = (fields[2], fields[3])
        elif len(fields) == 3:  # a lightweight tag
            tags[fields[0]] = (fields[1], fields[2])
    # at the repository root, no pathspec: every commit counts (as in release), and git compares no trees
    records = git.log(paths=[rel] if rel else (), files=False)
    return whole_changelog(config, records, tags, today())
