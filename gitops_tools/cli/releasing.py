"""``release`` and ``changelog``: a library released from its Conventional Commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitops_tools.cli.base import (
    CONTEXT_SETTINGS,
    cli,
    notified,
    output_of,
    output_option,
    print_json,
    verbose_option,
)


@cli.command("release", context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tag-prefix", envvar="GITOPS_TAG_PREFIX", metavar="P",
              help="Tags look like P1.2.3 (default: tag_prefix in [tool.gitops-tools.release], else v).")
@click.option("--prerelease", metavar="TOKEN", help="Make a pre-release: X.Y.Z-TOKEN.1, then .2, ...")
@click.option("--print-next-version", is_flag=True, help="Print the next version (nothing if none) and stop.")
@click.option("--explain", is_flag=True, help="List which commits decided the level, which were ignored and why.")
@click.option("--branch", metavar="BRANCH",
              help="The branch to push the release commit to (when HEAD is detached: default CI_COMMIT_BRANCH).")
@click.option("--repo-url", metavar="URL",
              help="Release in a fresh clone of URL (PATH relative to its root), push, remove the clone; the "
                   "token comes from GITOPS_TOKEN or CI_JOB_TOKEN. (Not read from GITOPS_REPO_URL, which names "
                   "the GitOps repository.)")
@click.option("--no-push", is_flag=True, help="Commit and tag, but do not push.")
@click.option("--dry-run", is_flag=True, envvar="GITOPS_DRY_RUN",
              help="Print the next version and the CHANGELOG section; write, commit and tag nothing. "
                   "[env: GITOPS_DRY_RUN]")
@output_option
@verbose_option
@click.pass_obj
def release_cmd(obj: dict[str, Any], /, path: Path, tag_prefix: str | None, prerelease: str | None,
                print_next_version: bool, explain: bool, branch: str | None, repo_url: str | None, no_push: bool,
                dry_run: bool, output: str | None) -> None:
    """Release the library at PATH from its Conventional Commits: next semver, CHANGELOG.md section,
    version in pyproject.toml (and configured files), commit `chore(release): NAME VERSION`, annotated tag,
    commit and tag pushed together.

    \b
    feat -> minor, fix and perf -> patch, a breaking change (`!` or a BREAKING CHANGE footer) -> major, and
    minor while the version is 0.y.z. Commits that touch nothing under PATH are not counted. Nothing
    releasable: exit 0, no commit, no tag. Configuration: [tool.gitops-tools.release] in PATH/pyproject.toml.
    """
    output = output_of(obj, output)
    from gitops_tools.api import Library

    library = Library(path, url=repo_url, tag_prefix=tag_prefix, branch=branch, verbose=obj["verbose"] > 0)
    reading = print_next_version or explain  # they explain or preview: nothing is written
    if reading:  # the version alone is all that --print-next-version prints as text
        result = library.plan(prerelease, detail=explain or output == "json")
    else:
        result = library.release(prerelease, push=not no_push, dry_run=dry_run)
    if output == "json":
        print_json(result.as_dict())
        notified(result.notifications, output)
        return
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    if print_next_version:
        if result.next:
            click.echo(result.next)
        return
    if explain:
        for d in result.decisions:
            click.echo(f"{d.sha[:7]}  {d.level:<5}  {d.subject}  ({d.reason})")
        if result.next is not None:
            click.echo(f"{result.name}: {result.current} -> {result.next} ({result.level})")
            click.echo("explain: nothing written")
            return
    if result.next is None:
        click.echo(f"{result.name}: nothing to release since {result.current} (no feat, fix, perf or breaking change)")
        return
    click.echo(f"{result.name}: {result.current} -> {result.next} ({result.level})")
    if dry_run:
        click.echo(result.section, nl=False)
        click.echo("dry run: nothing written")
        return
    click.echo(f"committed {str(result.commit)[:12]} and tagged {result.tag}")
    if result.pushed:
        click.echo(f"pushed the commit and {', '.join(result.pushed_tags) or result.tag}")
    notified(result.notifications, output)


@cli.command("changelog", context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tag-prefix", envvar="GITOPS_TAG_PREFIX", metavar="P", help="Tags look like P1.2.3.")
@output_option
@verbose_option
@click.pass_obj
def changelog_cmd(obj: dict[str, Any], /, path: Path, tag_prefix: str | None, output: str | None) -> None:
    """Render the whole history of PATH as a changelog, one section per release tag (to stdout)."""
    output = output_of(obj, output)
    from gitops_tools.api import Library

    text = Library(path, tag_prefix=tag_prefix, verbose=obj["verbose"] > 0).changelog()
    if output == "json":
        print_json({"changelog": text})
        return
    click.echo(text, nl=False)


