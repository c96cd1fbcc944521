"""``gitops-tools release [PATH]`` and ``gitops-tools changelog [PATH]``: the publish pipeline's release step.

Reads one ``git log`` for the unreleased range, decides with :mod:`gitops_tools.release.conventional` and
:mod:`gitops_tools.release.versioning`, renders with :mod:`gitops_tools.release.changelog`, writes the version into
``pyproject.toml`` (tomlkit keeps its layout) and the configured files, all or none, commits
``chore(release): NAME VERSION``, makes an annotated tag whose message is the section, and pushes commit and tag
in one atomic push, retried on fresh remote state like every other write. Release tags on the branch that origin
lacks (made with ``--no-push``, or by a run killed before its push) go with that push; with nothing to release, a
warning names them and the command that pushes them. Every file it writes must be inside the repository
(symbolic links followed).

Configuration, in the library's ``pyproject.toml``::

    [tool.gitops-tools.release]
    name = "shared-library"                 # default: [project] name
    tag_prefix = "shared-library-v"         # default: "v" (or --tag-prefix)
    version_files = ["src/shared/__init__.py"]   # files holding __version__ = "X.Y.Z"
    changelog = "CHANGELOG.md"
    commit_url = "https://gitlab.com/aegis/shared-library/-/commit/{sha}"
    major_on_zero = false                   # true: a breaking change in 0.y.z bumps to 1.0.0
    types = { feat = "minor", fix = "patch", perf = "patch" }
"""

from __future__ import annotations

import datetime
import os
import posixpath
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gitops_tools.release.changelog import prepend, render_section
from gitops_tools.core.changes import identity
from gitops_tools.release.conventional import DEFAULT_TYPES, LEVELS, Commit, Decision, decide, parse_all
from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.files import local_url, read_text, scratch_directory, write_all
from gitops_tools.interrupts import held
from gitops_tools.git.refusals import FINAL, TEMPORARY, Backoff, rejection_reason
from gitops_tools.release.versioning import next_version, parse_version

_VERSION_LINE = re.compile(r"""^(__version__\s*(?::\s*str\s*)?=\s*)(["'])([^"']*)\2""", re.MULTILINE)
# SemVer 2.0.0 pre-release: dot-separated identifiers, each ASCII letters, digits and hyphens, numbers without a
# leading zero; the token of --prerelease is such a sequence (X.Y.Z-TOKEN.N must be a version and a tag name)
_IDENTIFIER = re.compile(r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)")
_SETTING = "tool.gitops-tools.release"


class ReleaseConfig(NamedTuple):
    name: str
    tag_prefix: str
    version_files: tuple[str, ...]
    changelog: str
    commit_url: str | None
    major_on_zero: bool
    types: Mapping[str, str]


class ReleaseResult(NamedTuple):
    name: str
    current: str | None
    next: str | None
    level: str
    tag: str | None
    commit: str | None
    pushed: bool
    decisions: tuple[Decision, ...]
    section: str
    warnings: tuple[str, ...]
    files: tuple[str, ...]
    # every tag this run pushed: release tags made here earlier that origin did not have, then this release's
    pushed_tags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "current": self.current, "next": self.next, "level": self.level, "tag": self.tag,
            "commit": self.commit, "pushed": self.pushed, "pushed_tags": list(self.pushed_tags),
            "files": list(self.files), "warnings": list(self.warnings), "changelog": self.section,
            "commits": [d._asdict() for d in self.decisions],
        }


class _Warnings(list[str]):
    """The run's warnings, in order, each once: a retry plans again with the same list, and a warning found
    again (or added by two paths) must not be printed twice."""

    def append(self, text: str) -> None:
        if text not in self:
            super().append(text)


def _parse_toml(text: str, file: str) -> Any:
    """The document as plain data for reading: the standard library's parser where there is one (about 10 ms
    less start-up than tomlkit, which is needed only to write)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomlkit as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except Exception as err:  # both parsers raise their own error types
        raise GitopsError(f"cannot parse TOML: {err}", file=file, fix="fix the syntax; nothing was written") from None


def load_config(pyproject_text: str, file: str, tag_prefix: str | None) -> tuple[ReleaseConfig, str]:
    doc = _parse_toml(pyproject_text, file)
    project = doc.get("project") or {}
    version = project.get("version")
    if not isinstance(version, str):
        raise GitopsError("no [project] version", file=file, key="project.version",
                          fix='add version = "0.1.0" under [project]; release refuses to guess it')
    table = (doc.get("tool") or {}).get("gitops-tools", {}).get("release", {})
    types = dict(DEFAULT_TYPES)
    for k, v in dict(table.get("types", {})).items():
        if v not in LEVELS:
            raise GitopsError(f"type {k} bumps {v!r}", file=file, key=f"tool.gitops-tools.release.types.{k}",
                              fix=f"use one of {', '.join(LEVELS)}")
        types[str(k)] = str(v)
    version_files = table.get("version_files", [])
    if not isinstance(version_files, list) or not all(isinstance(f, str) for f in version_files):
        raise GitopsError(f"version_files is {version_files!r}, not a list of paths", file=file,
                          key=f"{_SETTING}.version_files", fix='write a list, e.g. ["src/lib/__init__.py"]')
    changelog = table.get("changelog", "CHANGELOG.md")
    if not isinstance(changelog, str):
        raise GitopsError(f"changelog is {changelog!r}, not a path", file=file, key=f"{_SETTING}.changelog",
                          fix='write a path relative to the library, e.g. "CHANGELOG.md"')
    url = table.get("commit_url")
    if url is not None:
        try:
            str(url).format(sha="0" * 40, short="0" * 7)
        except (KeyError, IndexError, ValueError) as err:
            raise GitopsError(f"commit_url {url!r} has an unknown placeholder ({err})", file=file,
                              key="tool.gitops-tools.release.commit_url",
                              fix="use {sha} (the full hash) or {short} (7 characters)") from None
    config = ReleaseConfig(
        name=str(table.get("name", project.get("name", "release"))),
        tag_prefix=tag_prefix if tag_prefix is not None else str(table.get("tag_prefix", "v")),
        version_files=tuple(version_files),
        changelog=changelog,
        commit_url=str(table["commit_url"]) if "commit_url" in table else None,
        major_on_zero=bool(table.get("major_on_zero", False)),
        types=types,
    )
    return config, str(version)


class _Origin(NamedTuple):
    git: Any  # fetches from and pushes to origin
    tags: Any  # lists the tags where the release is pushed: `git ls-remote --tags TAGS_FROM`
    tags_from: str  # "origin", or the push URL (credentials removed) when origin pushes elsewhere


def _origin(root: Path, verbose: bool, env: Mapping[str, str]) -> _Origin | None:
    """The git that fetches from and pushes to ``origin`` (its ``pushurl``, SSH and credential helpers as git
    configures them), with a token header only where :func:`gitops_tools.git.auth.for_checkout` says so; None
    without an ``origin``. One process (``git remote -v``) for its fetch and push URLs."""
    from gitops_tools.git.auth import choose, for_checkout
    from gitops_tools.git.repo import GitRepo

    plain = GitRepo(root, verbose=verbose)
    urls: dict[str, str] = {}
    for line in plain.run("remote", "-v").splitlines():
        name, _, rest = line.partition("\t")
        url, _, kind = rest.rpartition(" ")
        if name == "origin":
            urls.setdefault(kind, url)
    push_url = urls.get("(push)")
    if push_url is None:
        return None
    creds = for_checkout(push_url, env)
    git = plain if creds is None else GitRepo.with_credentials(root, creds, verbose=verbose)
    if urls.get("(fetch)") == push_url:
        return _Origin(git, git, "origin")
    # origin pushes elsewhere (pushurl): ask there, by URL; credentials stored in it go as a header, not argv
    clean, header = choose(push_url, env, user_alone_is_token=False)
    return _Origin(git, GitRepo.with_credentials(root, header, verbose=verbose), clean)


def check_prerelease(token: str | None) -> None:
    """Refuse a ``--prerelease`` token that would not make ``X.Y.Z-TOKEN.N`` a semantic version."""
    if token is None:
        return
    if not all(_IDENTIFIER.fullmatch(part) for part in token.split(".")):
        raise GitopsError(f"--prerelease {token!r} is not a pre-release identifier: dot-separated parts of ASCII "
                          "letters, digits and hyphens, none empty, numbers without a leading zero",
                          fix="use a token such as rc, beta or alpha (the release is X.Y.Z-TOKEN.N); nothing was run")


def release(path: Path, *, tag_prefix: str | None = None, prerelease: str | None = None, dry_run: bool = False,
            print_only: bool = False, explain: bool = False, push: bool = True, branch: str | None = None,
            verbose: bool = False, repo_url: str | None = None, env: Mapping[str, str] | None = None,
            today: Callable[[], datetime.date] = datetime.date.today, backoff: Backoff = Backoff(),
            sleep: Callable[[float], None] | None = None) -> ReleaseResult:
    """Release the library at ``path``: in this checkout, or (``repo_url``) in a fresh clone of that
    repository, where ``path`` is relative to its root and the clone is removed afterwards.

    ``dry_run``, ``print_only`` and ``explain`` only read: they write, commit, tag, fetch and push nothing."""
    from gitops_tools.git.repo import GitRepo

    check_prerelease(prerelease)  # before any git process
    environ = os.environ if env is None else env
    run = _Run(tag_prefix, prerelease, dry_run, print_only, push, today, backoff, sleep or time.sleep, environ,
               explain)
    if repo_url:
        return _release_in_clone(repo_url, path, branch, verbose, run)
    if not path.is_dir():
        raise GitopsError(f"{path}: no such directory", fix="give the directory of the library to release")
    probe = GitRepo(path, verbose=verbose)
    # one process for three questions (each git process costs a few milliseconds of start-up)
    top, shallow, current_branch = probe.run("rev-parse", "--show-toplevel", "--is-shallow-repository",
                                             "--abbrev-ref", "HEAD").splitlines()
    root = Path(top)
    git = GitRepo(root, verbose=verbose)
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    rel = "" if rel == "." else rel
    warnings = _Warnings()
    remote: _Origin | None = None
    if shallow == "true":
        remote = _origin(root, verbose, environ)
        if remote is None:
            raise GitopsError("the clone is shallow and has no remote to deepen it from",
                              fix="clone with the whole history (GIT_DEPTH: 0 in GitLab CI)")
        warnings.append("the clone was shallow: fetched the whole history and the tags")
        remote.git.network_step("fetch", "--quiet", "--unshallow", "--tags", "origin",
                            fix="clone with the whole history (GIT_DEPTH: 0 in GitLab CI)")
    if current_branch == "HEAD":
        if not branch and environ.get("CI_COMMIT_BRANCH"):
            branch = environ["CI_COMMIT_BRANCH"]  # GitLab CI checks out a detached HEAD of this branch
        if push and not run.reading and not branch:
            raise GitopsError("HEAD is detached, so there is no branch to push the release commit to",
                              fix="check out the branch, or pass --branch (in GitLab CI: --branch $CI_COMMIT_BRANCH)")
        warnings.append(f"HEAD is detached: the release goes to {branch}" if branch else "HEAD is detached")
    return _release_in(git, root, rel, branch or current_branch, warnings, remote, verbose, run)


class _Run(NamedTuple):
    tag_prefix: str | None
    prerelease: str | None
    dry_run: bool
    print_only: bool
    push: bool
    today: Callable[[], datetime.date]
    backoff: Backoff
    sleep: Callable[[float], None]
    env: Mapping[str, str]
    explain: bool = False

    @property
    def reading(self) -> bool:
        """Only reads: fetches nothing, writes no file and no ref (not even a tag)."""
        return self.dry_run or self.print_only or self.explain


def _release_in_clone(repo_url: str, path: Path, branch: str | None, verbose: bool, run: _Run) -> ReleaseResult:
    from gitops_tools.git.auth import choose
    from gitops_tools.git.repo import GitRepo

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
        GitRepo.with_credentials(tmp, creds, verbose=verbose).network_step(
            *args, "--", url, str(root), fix="check the URL, the branch and the token")
        if not (root / rel).is_dir():
            raise GitopsError(f"{rel}: no such directory in {url}",
                              fix="with --repo-url, PATH is the library's directory relative to the repository root")
        git = GitRepo.with_credentials(root, creds, verbose=verbose)
        current = git.run("rev-parse", "--abbrev-ref", "HEAD").strip()
        # a fresh clone has every tag of origin: no release tag here can be missing there
        return _release_in(git, root, rel, current, _Warnings(), _Origin(git, git, "origin"), verbose, run,
                           check_tags=False)


def _release_in(git: Any, root: Path, rel: str, target_branch: str, warnings: _Warnings, remote: _Origin | None,
                verbose: bool, run: _Run, check_tags: bool = True) -> ReleaseResult:
    """The plan-commit-tag-push loop; ``remote`` is the git that talks to ``origin`` (found when needed).

    ``check_tags``: a run that pushes asks origin (one ``git ls-remote``) which release tags on this branch it
    lacks (made by ``--no-push``, or by a run killed before its push): they go with the push, or, when there is
    nothing to push, a warning names them and the command that pushes them."""
    from gitops_tools.git.repo import PushRejected

    reading = run.reading  # fetches nothing, writes no ref: not even tags
    pushing = run.push and not reading
    tried = False

    def fetch_tags() -> str | None:
        """No tag with the prefix here (a clone without tags): fetch them, once; what happened, for a warning."""
        nonlocal remote, tried
        if tried:
            return None
        tried = True
        remote = remote or _origin(root, verbose, run.env)
        if remote is None:
            return None
        try:
            remote.git.network_step("fetch", "--quiet", "--tags", "origin")
        except GitopsError as err:
            return f"no release tag here, and fetching the tags failed: {err.headline}"
        return "no release tag here: fetched the tags of origin"

    attempt = 0
    start = time.monotonic()
    while True:
        attempt += 1
        result, apply, pattern = _plan(git, root, rel, run, warnings, fetch_tags if not reading else None)
        if reading:
            return result
        if pushing and attempt == 1:
            remote = remote or _origin(root, verbose, run.env)
        if result.next is None:
            if pushing and check_tags and remote is not None:
                _warn_unpushed(git, remote, pattern, target_branch, warnings)
                result = result._replace(warnings=tuple(warnings))
            return result
        if pushing and attempt == 1 and remote is None:
            others = git.run("remote").split()
            if others:
                raise GitopsError(f"no remote named origin to push the release to (remotes here: "
                                  f"{', '.join(others)})", fix="pass --no-push, or rename the remote to push "
                                  "to: git remote rename NAME origin; nothing was written")
            warnings.append("no remote: the release commit and tag stay in this checkout")
            result = result._replace(warnings=tuple(warnings))
        if not pushing or remote is None:
            return result._replace(commit=apply())
        # asked again on each attempt: a retry fetched origin's tags, and may have moved HEAD
        unpushed = _unpushed_tags(git, remote, pattern, before=str(result.tag)) if check_tags else []
        commit_sha = apply()
        result = result._replace(commit=commit_sha)
        undone = f"the release commit and tag {result.tag} were undone in this checkout"
        try:
            remote.git.network("push", "--quiet", "--atomic", "origin", f"HEAD:refs/heads/{target_branch}",
                           f"refs/tags/{result.tag}", *(f"refs/tags/{t}" for t in unpushed))
            if unpushed:
                warnings.append(f"origin did not have the release {_tags(unpushed)} (made here, never pushed): "
                                "pushed with this release")
            return result._replace(pushed=True, pushed_tags=(*unpushed, str(result.tag)), warnings=tuple(warnings))
        except PushRejected as err:
            reason = rejection_reason(err.stderr)
            final = err.kind == FINAL
            # A release commit and tag that only exist here would make the next run find "nothing to
            # release" and never push them: undo both, whatever happens next.
            _undo(git, str(result.tag), commit_sha, result.files)
            if final:
                raise GitopsError(f"push of {result.tag} rejected: {reason}",
                                  fix=f"the remote refused it for good (hook, protection or credentials); "
                                      f"{undone}") from None
            if err.kind == TEMPORARY or attempt >= run.backoff.attempts or \
                    time.monotonic() - start >= run.backoff.deadline:
                raise TemporaryError(f"push of {result.tag} failed: {reason}",
                                     fix=f"retry later (exit 75); {undone}") from None
        # Someone pushed first: start again from the remote state (the level may change with their commits).
        import random

        run.sleep(run.backoff.delay(attempt, random.random))
        remote.git.network_step("fetch", "--quiet", "--tags", "origin",
                                f"+refs/heads/{target_branch}:refs/remotes/origin/{target_branch}",
                                fix=f"check the URL and the token; {undone}")
        if unpushed:  # the rebase below rewrites the commits origin does not have: a tag on one would stay behind
            stranded = git.run("tag", "--list", "--sort=v:refname", "--no-merged",
                               f"refs/remotes/origin/{target_branch}", *unpushed).split()
            if stranded:
                one = len(stranded) == 1
                # newest first: dropping a release commit rewrites only what came after it
                drop = " && ".join(f"git rebase --onto {t}~1 {t}" for t in reversed(stranded))
                raise GitopsError(
                    f"origin/{target_branch} moved on, and the release {_tags(stranded)} (made here, never pushed) "
                    f"{'is on a commit' if one else 'are on commits'} it does not have: putting this branch on top "
                    f"of it would leave {'that tag' if one else 'those tags'} behind",
                    fix=f"make {'that release' if one else 'those releases'} again on top of origin/{target_branch}: "
                        f"drop {'its release commit and tag' if one else 'their release commits and tags'} "
                        f"(`{drop} && git tag -d {' '.join(stranded)}`), then release again; {undone}")
        try:  # commits of this clone that were not pushed yet go on top of the new remote state
            git.run("rebase", "--quiet", "--autostash", f"refs/remotes/origin/{target_branch}")
        except GitopsError:
            if any((root / ".git" / d).exists() for d in ("rebase-merge", "rebase-apply")):
                git.run("rebase", "--abort")
            raise GitopsError(f"the commits of this checkout do not apply on the new origin/{target_branch}",
                              fix="rebase them by hand, then release again") from None


def _tags(names: Sequence[str]) -> str:
    return f"tag{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _unpushed_tags(git: Any, remote: _Origin, pattern: str, before: str | None = None) -> list[str]:
    """The release tags (``pattern``) reachable from HEAD that origin does not have, oldest first: one local
    ``git tag`` and, when there is any, one ``git ls-remote --tags origin``. ``before``: the tag about to be
    made, and a failure to ask origin is an error (exit 1, or 75 when temporary); None: it raises
    :class:`PushRejected`."""
    from gitops_tools.git.repo import PushRejected

    here = git.run("tag", "--list", "--merged", "HEAD", "--sort=v:refname", pattern).split()
    if not here:
        return []
    try:
        listing = remote.tags.network("ls-remote", "--tags", remote.tags_from)
    except PushRejected as err:
        if before is None:
            raise
        problem = (f"cannot list the tags of origin (`git ls-remote --tags {remote.tags_from}`) before releasing "
                   f"{before}: {rejection_reason(err.stderr)}")
        if err.kind == FINAL:
            raise GitopsError(problem, fix="check the URL and the token; nothing was written") from None
        raise TemporaryError(problem, fix="retry later (exit 75); nothing was written") from None
    there = {line.split("\t", 1)[1].removeprefix("refs/tags/").removesuffix("^{}")
             for line in listing.splitlines() if "\t" in line}
    return [t for t in here if t not in there]


def _warn_unpushed(git: Any, remote: _Origin, pattern: str, branch: str, warnings: _Warnings) -> None:
    """Nothing to release, so nothing to push: say which release tags origin lacks, and how to push them."""
    from gitops_tools.git.repo import PushRejected

    try:
        unpushed = _unpushed_tags(git, remote, pattern)
    except PushRejected as err:
        warnings.append(f"could not ask origin which release tags it has (`git ls-remote --tags {remote.tags_from}`): "
                        f"{rejection_reason(err.stderr)}")
        return
    if unpushed:
        refs = " ".join(f"refs/tags/{t}" for t in unpushed)
        warnings.append(f"origin does not have the release {_tags(unpushed)} (made here, never pushed; nothing "
                        f"to release, so nothing was pushed): push {'it' if len(unpushed) == 1 else 'them'} with "
                        f"`git push --atomic origin HEAD:refs/heads/{branch} {refs}`")


def _undo(git: Any, tag: str, sha: str, files: Sequence[str]) -> None:
    """Drop the release's tag and commit; the user's own staged and unstaged work stays as it was."""
    git.run("tag", "-d", tag)
    git.undo_commit(sha, files)


def _inside(root: Path, where: str, value: str, pyproject_file: str, setting: str | None) -> str:
    """The file ``value`` (relative to the library directory ``where``) as a path relative to the repository
    root with every symbolic link followed, so that release reads, writes and commits the file it checked.

    Refused (before anything is written): an absolute path, ``..`` out of the repository, a symbolic link that
    leads out of it (to anywhere, even a missing file), a path into ``.git``, a directory. ``setting`` is the
    key of ``[tool.gitops-tools.release]`` that names the file (None: the library's pyproject.toml itself)."""
    if setting is None:
        shown, key = "", None
        fix = ("release writes the version into it: keep the library's pyproject.toml in the repository; "
               "nothing was written")
    else:
        shown, key = f"{setting} {value!r}", f"{_SETTING}.{setting}"
        fix = (f"give {setting} as a path relative to the library directory "
               f"({where.rstrip('/') or 'the repository root'}) that stays inside the repository: no absolute path, "
               "no .. out of it, no symbolic link out of it; nothing was written")

    def refuse(problem: str) -> GitopsError:
        return GitopsError(f"{shown} {problem}".lstrip(), file=pyproject_file, key=key, fix=fix)

    if not value or os.path.isabs(value):
        raise refuse("is empty" if not value else "is an absolute path: release writes only inside the repository")
    lexical = posixpath.normpath(where + value.replace(os.sep, "/"))
    if lexical == ".." or lexical.startswith("../"):
        raise refuse("is outside the repository (.. leads out of it)")
    real_root = root.resolve()
    try:
        target = (root / lexical).resolve()
    except (OSError, RuntimeError) as err:  # a loop of symbolic links
        raise refuse(f"cannot be resolved: {err}") from None
    try:
        inside = target.relative_to(real_root)
    except ValueError:
        raise refuse(f"resolves to {target}, outside the repository (a symbolic link leads out of it)") from None
    if ".git" in inside.parts or not inside.parts:
        raise refuse(f"resolves to {target}, which is not a file of the working tree")
    if target.is_dir():
        raise refuse(f"resolves to {target}, a directory")
    return inside.as_posix()


def _plan(git: Any, root: Path, rel: str, run: _Run, warnings: _Warnings,
          fetch_tags: Callable[[], str | None] | None) -> tuple[ReleaseResult, Callable[[], str], str]:
    tag_prefix, prerelease, today = run.tag_prefix, run.prerelease, run.today()
    where = f"{rel}/" if rel else ""
    pyproject_file = f"{where}pyproject.toml"
    pyproject_path = _inside(root, where, "pyproject.toml", pyproject_file, None)
    pyproject_text = read_text(root / pyproject_path, pyproject_file)
    config, current = load_config(pyproject_text, pyproject_file, tag_prefix)
    # every file release writes, checked before anything is read for writing or written
    version_paths = [_inside(root, where, f, pyproject_file, "version_files") for f in config.version_files]
    changelog_file = _inside(root, where, config.changelog, pyproject_file, "changelog")
    prefix = config.tag_prefix
    pattern = f"{prefix}[0-9]*"
    def tags_here() -> bool:
        return last_tag is not None or bool(git.run("tag", "--list", pattern).strip())

    last_tag = _describe(git, pattern, [])
    has_tags = tags_here()
    if not has_tags and fetch_tags is None:  # a dry run fetches nothing: say what a real run would do
        hint = (f"no tag matching {pattern} here: the range starts at the first commit; if origin has release "
                "tags, a real run fetches them first (or: git fetch --tags)")
        if git.run("remote").strip() and hint not in warnings:
            warnings.append(hint)
    elif not has_tags and fetch_tags is not None:
        note = fetch_tags()  # a clone made without tags would otherwise start the history over
        if note:
            warnings.append(note)
            last_tag = _describe(git, pattern, [])
            has_tags = tags_here()
    is_final = last_tag is None or "-" not in last_tag[len(prefix):]
    last_final_tag = last_tag if is_final else _describe(git, pattern, [f"{prefix}*-*"])
    if last_tag is None and has_tags:
        raise GitopsError(f"no tag matching {pattern} is reachable from HEAD, though some exist",
                          fix="fetch or merge the branch that carries the last release, then run again")
    current_v = parse_version(current, pyproject_file)
    last_v = parse_version(last_tag[len(prefix):], last_tag) if last_tag else current_v
    final_v = parse_version(last_final_tag[len(prefix):], last_final_tag) if last_final_tag else last_v.finalize_version()
    if last_tag and last_v != current_v:
        raise GitopsError(f"version {current} disagrees with the last tag {last_tag}", file=pyproject_file,
                          key="project.version", fix=_disagreement_fix(git, config.name, prefix, current, last_tag))
    version_texts: dict[str, str] = {}
    for name in version_paths:
        text = read_text(root / name, name)
        found = [m.group(3) for m in _VERSION_LINE.finditer(text)]
        if found != [current]:
            raise GitopsError(
                f"expected one __version__ = \"{current}\" line, found {found or 'none'}", file=name,
                fix="make the version files agree with pyproject.toml before releasing; nothing was written")
        version_texts[name] = text
    range_args = [f"{last_final_tag}..HEAD"] if last_final_tag else ["HEAD"]
    # One git log for the whole unreleased range, with the files of each commit: the PATH filter is applied
    # here, so that --explain can say which commits were left out because they touch nothing under PATH.
    # core.quotePath=false: a path with non-ASCII letters is printed as it is, not quoted, so it matches PATH
    log = git.run("-c", "core.quotePath=false", "log", "--format=%x1e%H%x1f%B%x1f", *(["--name-only"] if rel else []),
                  *range_args)
    commits: list[Commit] = []
    outside: list[Decision] = []
    since_last_tag = True
    last_tag_sha = git.run("rev-parse", f"{last_tag}^{{commit}}").strip() if last_tag != last_final_tag else None
    newer: list[Commit] = []
    order: list[str] = []
    for rec in log.split("\x1e")[1:]:
        sha, message, files = (rec.split("\x1f", 2) + ["", ""])[:3]
        order.append(sha)
        if sha == last_tag_sha:
            since_last_tag = False
        if message.startswith("chore(release):"):
            continue
        touched = [f for f in files.splitlines() if f.strip()]
        if rel and not any(f == rel or f.startswith(rel + "/") for f in touched):
            outside.append(Decision(sha, message.splitlines()[0] if message else "", "none",
                                    f"touches nothing under {rel}"))
            continue
        commits.append(Commit(sha, message))
        if since_last_tag:
            newer.append(Commit(sha, message))
    zero = final_v.major == 0 and not config.major_on_zero
    level, decisions = decide(commits, config.types, zero_major=zero)
    by_sha = {d.sha: d for d in [*decisions, *outside]}
    decisions = [by_sha[sha] for sha in order if sha in by_sha]
    if prerelease and last_v.prerelease and decide(newer, config.types, zero_major=zero)[0] == "none":
        level = "none"  # nothing new since the last pre-release: another one would repeat it
    nxt = next_version(final_v, last_v, level, prerelease)
    counted = {t for t, lvl in config.types.items() if lvl != "none"}
    conventional = [c for commit in commits for c in parse_all(commit) if c.breaking or c.type in counted]
    title = f"{config.name} {nxt}" if nxt else ""
    extra = sorted(counted - {"feat", "fix", "perf"})
    section = render_section(title, today.isoformat(), conventional, config.commit_url, extra) if nxt else ""
    tag = f"{prefix}{nxt}" if nxt else None
    files = (pyproject_path, *version_texts, changelog_file) if nxt else ()
    result = ReleaseResult(config.name, current, str(nxt) if nxt else None, level, tag, None, False,
                           tuple(decisions), section, tuple(warnings), files)

    def apply() -> str:
        assert nxt is not None and tag is not None
        dirty = git.dirty_paths(list(files))
        if dirty:  # the release commit would carry someone's unfinished edits
            raise GitopsError(f"uncommitted changes in {', '.join(dirty)}", file=dirty[0],
                              fix="commit or stash them first: release commits these files; nothing was written")
        new_version = str(nxt)
        import tomlkit

        doc = tomlkit.parse(pyproject_text)  # the layout-keeping parser, only when there is something to write
        doc["project"]["version"] = new_version
        texts = {pyproject_path: tomlkit.dumps(doc)}
        for name, text in version_texts.items():
            texts[name] = _VERSION_LINE.sub(lambda m: f"{m.group(1)}{m.group(2)}{new_version}{m.group(2)}", text)
        existing = read_text(root / changelog_file, changelog_file) if (root / changelog_file).is_file() else None
        texts[changelog_file] = prepend(existing, section)
        originals = {n: (read_text(root / n, n) if (root / n).is_file() else None) for n in texts}
        has_email = bool(run.env.get("GIT_COMMITTER_EMAIL") or git.config_value("user.email"))
        author, who = identity((None, None), run.env, has_email)  # a CI image may have no git identity
        # Ctrl-C or SIGTERM while the files, the commit and the tag are made waits for them (or for their undoing):
        # the files are all as before or all as after, and a release commit never stays without its tag.
        with held():
            try:
                for n in texts:
                    (root / n).parent.mkdir(parents=True, exist_ok=True)
                write_all({root / n: t for n, t in texts.items()})
                git.run("add", "--", *texts)
                git.run("commit", "--quiet", "-m", f"chore(release): {config.name} {new_version}",
                        *([f"--author={author}"] if author else []), "--", *texts, env=who)
            except BaseException:
                write_all({root / n: before for n, before in originals.items() if before is not None})
                for n, before in originals.items():  # all files or none
                    if before is None:
                        (root / n).unlink(missing_ok=True)
                git.run("reset", "--quiet", "--", *texts)
                raise
            try:
                with git.message_file(section) as message:
                    git.run("tag", "--annotate", tag, "--cleanup=verbatim", f"--file={message}", env=who)
            except BaseException:
                git.undo_commit(git.head() or "", list(texts))  # no release commit without its tag
                raise
        return str(git.run("rev-parse", "HEAD").strip())

    return result, apply, pattern


def _disagreement_fix(git: Any, name: str, prefix: str, version: str, last_tag: str) -> str:
    """How to make pyproject.toml and the last tag agree (an error path: its git processes cost nothing)."""
    tag = f"{prefix}{version}"
    if git.run("tag", "--list", tag).strip():
        return "make them agree before releasing; nothing was written"
    head_is_release = git.run("log", "-1", "--format=%s").strip() == f"chore(release): {name} {version}"
    if head_is_release and not git.run("branch", "--remotes", "--contains", "HEAD").strip():
        # a release commit that only this checkout has: a run stopped between its commit and its tag
        return ("HEAD is the release commit of an interrupted run, without its tag: drop it with "
                "`git reset --keep HEAD~1` and release again; nothing was written")
    # released elsewhere, and this clone was made or updated without the tags
    return (f"there is no tag {tag} here (a clone or fetch without tags?): run `git fetch --tags origin`, then "
            f"run again (if origin has no {tag} either, make the version agree with {last_tag}); nothing was written")


def _describe(git: Any, pattern: str, exclude: list[str]) -> str | None:
    args = ["describe", "--tags", "--abbrev=0", f"--match={pattern}"] + [f"--exclude={e}" for e in exclude]
    try:
        return str(git.run(*args, "HEAD").strip()) or None
    except GitopsError:
        return None


def full_changelog(path: Path, tag_prefix: str | None = None, verbose: bool = False,
                   today: Callable[[], datetime.date] = datetime.date.today) -> str:
    """The whole history as CHANGELOG text: one section per release tag, newest first, plus Unreleased.

    A final release's section covers everything since the previous final release, pre-releases included.
    """
    from gitops_tools.git.repo import GitRepo

    root = Path(GitRepo(path, verbose=verbose).run("rev-parse", "--show-toplevel").strip())
    git = GitRepo(root, verbose=verbose)
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    where = "" if rel == "." else f"{rel}/"
    config, _ = load_config(read_text(root / f"{where}pyproject.toml", f"{where}pyproject.toml"),
                               f"{where}pyproject.toml", tag_prefix)
    tags: dict[str, tuple[str, str]] = {}
    for line in git.run("tag", "--list", f"{config.tag_prefix}[0-9]*", "--format=%(objectname) %(*objectname) "
                        "%(refname:strip=2) %(creatordate:short)").splitlines():
        fields = line.split()
        if len(fields) == 4:  # an annotated tag: the tag object, then the commit it points at
            tags[fields[1]] = (fields[2], fields[3])
        elif len(fields) == 3:  # a lightweight tag
            tags[fields[0]] = (fields[1], fields[2])
    # at the repository root, no pathspec: every commit counts (as in release), and git compares no trees
    log = git.run("log", "--format=%x1e%H%x1f%B", "HEAD", *(["--", rel] if where else []))
    counted = {t for t, lvl in config.types.items() if lvl != "none"}
    extra = sorted(counted - {"feat", "fix", "perf"})
    # ranges, newest first: (tag name or None for unreleased, date, commits)
    ranges: list[tuple[str | None, str, list[Any]]] = [(None, today().isoformat(), [])]
    for rec in log.split("\x1e")[1:]:
        sha, body = rec.split("\x1f", 1)
        if sha in tags:
            name, tag_date = tags[sha]
            ranges.append((name, tag_date, []))
        if body.startswith("chore(release):"):
            continue
        ranges[-1][2].extend(c for c in parse_all(Commit(sha, body)) if c.breaking or c.type in counted)
    sections: list[str] = []
    for i, (tag_name, date, commits) in enumerate(ranges):
        version = tag_name[len(config.tag_prefix):] if tag_name else None
        if version and "-" not in version:  # a final release: add the pre-releases before it
            for later_name, _, later in ranges[i + 1:]:
                if later_name is None or "-" not in later_name[len(config.tag_prefix):]:
                    break
                commits = commits + later
        if commits:
            title = f"{config.name} {version}" if version else "Unreleased"
            sections.append(render_section(title, date, commits, config.commit_url, extra))
    return "# Changelog\n\n" + "".join(sections)
