"""``propagate``: a new version of a library, into every service that depends on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitops_tools.cli.base import CONTEXT_SETTINGS, cli, output_of, output_option, print_json, table, verbose_option


@cli.command("propagate", context_settings=CONTEXT_SETTINGS)
@click.argument("library")
@click.argument("version")
@click.option("--service", "services", multiple=True, metavar="NAME[=URL]",
              help="Only this service of gitops-tools.yaml, or NAME=URL for a repository it does not list "
                   "(repeatable; default: every configured service the library goes to).")
@click.option("--changelog", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The library's CHANGELOG.md: its section for VERSION goes into each commit (and merge request).")
@click.option("--index-url", envvar="GITOPS_INDEX_URL", metavar="URL",
              help="A simple package index (PEP 503) that must already have VERSION; credentials from "
                   "TWINE_USERNAME/TWINE_PASSWORD, else CI_JOB_TOKEN. [env: GITOPS_INDEX_URL]")
@click.option("-j", "--jobs", type=click.IntRange(1, 32), default=4, show_default=True, envvar="GITOPS_JOBS",
              help="Services worked on at once.")
@click.option("--dry-run", is_flag=True, envvar="GITOPS_DRY_RUN",
              help="Clone and plan every service, show the diffs; commit and push nothing. [env: GITOPS_DRY_RUN]")
@output_option
@verbose_option
@click.pass_obj
def propagate_cmd(obj: dict[str, Any], /, library: str, version: str, services: tuple[str, ...],
                  changelog: Path | None, index_url: str | None, jobs: int, dry_run: bool,
                  output: str | None) -> None:
    """Move every service that depends on LIBRARY to VERSION, through one merge request each.

    \b
    The services are the `services:` of gitops-tools.yaml (repo_url, branch, files, libraries). In a
    shallow clone of each, only the pin changes, in its style:
      shared-library==1.2.3          -> shared-library==1.3.0
      shared-library~=1.2.3          -> shared-library~=1.3.0
      shared-library>=1.2,<2         left alone: it already admits 1.3.0
      shared-library>=1.2,<2 (2.0.0) -> shared-library>=1.2,<3, flagged as breaking
    in requirements*.txt, constraints*.txt and pyproject.toml ([project] dependencies, optional
    dependencies, [dependency-groups]). The commit carries the CHANGELOG section and trailers; it is
    pushed to gitops-tools/propagate/LIBRARY-VERSION with push options that open a GitLab merge request.
    Run again, the same branch is updated and no new merge request is opened.

    \b
    One failing service (unreachable, no such dependency, a pin that cannot move, a refused push) never
    stops the others; nothing is pushed for it. Exit 0: every service done; 4: partly done; 1 (75 when
    the failures may pass: the network) none done.

    \b
    Examples:
      gitops-tools propagate shared-library 1.3.0 --changelog ../shared-library/CHANGELOG.md
      gitops-tools propagate shared-library 1.3.0 --service api --dry-run
      gitops-tools -o json propagate shared-library 2.0.0 --index-url https://pypi.example.com/simple/
    """
    from gitops_tools.api import Repository
    from gitops_tools.commands.propagate import MEANING

    output = output_of(obj, output)
    result = Repository(obj["repo_dir"], verbose=obj["verbose"] > 0).propagate(
        library, version, services=services, changelog=changelog, index_url=index_url, dry_run=dry_run, jobs=jobs)
    if output == "json":
        print_json(result.as_dict())
        _exit(result.exit_code)
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if result.index:
        click.echo(f"{result.library} {result.version} is on {result.index}")
    rows = [("SERVICE", "RESULT", "PIN", "DETAIL")]
    for s in result.services:
        cells = [_pin(p) for p in s.pins] or ["-"]
        rows.append((s.service, s.status, cells[0], _detail(s, MEANING)))
        rows += [("", "", cell, "") for cell in cells[1:]]
    table(rows)
    for s in result.services:
        if s.diff:
            click.echo(s.diff, nl=False)
        if not s.ok:
            click.echo(f"error: {s.service}: {s.problem}", err=True)
            if s.fix:
                click.echo(f"hint: {s.fix}", err=True)
    done = sum(1 for s in result.services if s.ok)
    click.echo(f"{done} of {len(result.services)} services done"
               + (f", {len(result.failed)} failed" if result.failed else "")
               + ("; dry run: nothing committed or pushed" if result.dry_run else ""))
    _exit(result.exit_code)


def _pin(p: Any) -> str:
    """``requirements.txt:3 ==1.2.3 -> ==1.3.0`` (the specifiers only: the name is the command's LIBRARY)."""
    from gitops_tools.core.pins import specifier_text

    moved = f" -> {specifier_text(p.new)}" if p.status == "changed" else " (admits)"
    return f"{p.file}:{p.line} {specifier_text(p.old)}{moved}" + (" BREAKING" if p.breaking else "")


def _detail(s: Any, meaning: dict[str, str]) -> str:
    if s.status in ("proposed", "updated", "unchanged", "planned"):
        return f"{s.branch} -> {s.target}: {meaning[s.status]}"
    if s.status == "failed":
        return ("may pass, retry: " if s.temporary else "") + (s.problem or "")
    return meaning[s.status]


def _exit(code: int) -> None:
    if code:
        raise SystemExit(code)
