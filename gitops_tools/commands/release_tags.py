"""The release tags of a library and ``origin``: where origin is, which release tags it lacks (made with
``--no-push``, or by a run killed before its push), and what to say when they would be left behind or when the
version and the last tag disagree. Every git question goes through the git edge."""

from __future__ import annotations

from collections.abc import Mapping, MutableSequence, Sequence
from typing import NamedTuple

from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.git.refusals import FINAL, rejection_reason
from gitops_tools.git.repo import Git, PushRejected


class Origin(NamedTuple):
    git: Git  # fetches from and pushes to origin
    tags: Git  # lists the tags where the release is pushed: `git ls-remote --tags TAGS_FROM`
    tags_from: str  # "origin", or the push URL (credentials removed) when origin pushes elsewhere


def find_origin(git: Git, env: Mapping[str, str]) -> Origin | None:
    """The git that fetches from and pushes to ``origin`` (its ``pushurl``, SSH and credential helpers as git
    configures them), with a token header only where :func:`gitops_tools.git.auth.for_checkout` says so; None
    without an ``origin``. One process (``git remote -v``) for its fetch and push URLs."""
    from gitops_tools.git.auth import choose, for_checkout

    urls = git.remotes().get("origin")
    if urls is None:
        return None
    fetch_url, push_url = urls
    talker = git.with_credentials(for_checkout(push_url, env))
    if fetch_url == push_url:
        return Origin(talker, talker, "origin")
    # origin pushes elsewhere (pushurl): ask there, by URL; credentials stored in it go as a header, not argv
    clean, header = choose(push_url, env, user_alone_is_token=False)
    return Origin(talker, git.with_credentials(header), clean)


def refuse_stranded(git: Git, branch: str, unpushed: Sequence[str]) -> None:
    """The rebase after a rejected push rewrites the commits origin does not have: a never-pushed release tag
    on one of them would stay behind."""
    stranded = [t for t in git.tags("*", no_merged=f"refs/remotes/origin/{branch}") if t in unpushed] \
        if unpushed else []
    if not stranded:
        return
    one = len(stranded) == 1
    # newest first: dropping a release commit rewrites only what came after it
    drop = " && ".join(f"git rebase --onto {t}~1 {t}" for t in reversed(stranded))
    raise GitopsError(
        f"origin/{branch} moved on, and the release {tags_named(stranded)} (made here, never pushed) "
        f"{'is on a commit' if one else 'are on commits'} it does not have: putting this branch on top "
        f"of it would leave {'that tag' if one else 'those tags'} behind",
        fix=f"make {'that release' if one else 'those releases'} again on top of origin/{branch}: "
            f"drop {'its release commit and tag' if one else 'their release commits and tags'} "
            f"(`{drop} && git tag -d {' '.join(stranded)}`), then release again")


def tags_named(names: Sequence[str]) -> str:
    return f"tag{'s' if len(names) > 1 else ''} {', '.join(names)}"


def unpushed_tags(git: Git, remote: Origin, pattern: str, before: str | None = None) -> list[str]:
    """The release tags (``pattern``) reachable from HEAD that origin does not have, oldest first: one local
    ``git tag`` and, when there is any, one ``git ls-remote --tags``. ``before``: the tag about to be made, and
    a failure to ask origin is an error (exit 1, or 75 when temporary); None: it raises :class:`PushRejected`."""
    here = git.tags(pattern, merged="HEAD")
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


def warn_unpushed(git: Git, remote: Origin, pattern: str, branch: str, warnings: MutableSequence[str]) -> None:
    """Nothing to release, so nothing to push: say which release tags origin lacks, and how to push them."""
    try:
        unpushed = unpushed_tags(git, remote, pattern)
    except PushRejected as err:
        warnings.append(f"could not ask origin which release tags it has (`git ls-remote --tags {remote.tags_from}`): "
                        f"{rejection_reason(err.stderr)}")
        return
    if unpushed:
        refs = " ".join(f"refs/tags/{t}" for t in unpushed)
        warnings.append(f"origin does not have the release {tags_named(unpushed)} (made here, never pushed; nothing "
                        f"to release, so nothing was pushed): push {'it' if len(unpushed) == 1 else 'them'} with "
                        f"`git push --atomic origin HEAD:refs/heads/{branch} {refs}`")


def disagreement_fix(git: Git, name: str, prefix: str, version: str, last_tag: str) -> str:
    """How to make pyproject.toml and the last tag agree (an error path: its git processes cost nothing)."""
    tag = f"{prefix}{version}"
    if git.tags(tag):
        return "make them agree before releasing; nothing was written"
    head_is_release = git.run("log", "-1", "--format=%s").strip() == f"chore(release): {name} {version}"
    if head_is_release and not git.run("branch", "--remotes", "--contains", "HEAD").strip():
        # a release commit that only this checkout has: a run stopped between its commit and its tag
        return ("HEAD is the release commit of an interrupted run, without its tag: drop it with "
                "`git reset --keep HEAD~1` and release again; nothing was written")
    # released elsewhere, and this clone was made or updated without the tags
    return (f"there is no tag {tag} here (a clone or fetch without tags?): run `git fetch --tags origin`, then "
            f"run again (if origin has no {tag} either, make the version agree with {last_tag}); nothing was written")
