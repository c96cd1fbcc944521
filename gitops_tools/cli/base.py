"""The ``gitops-tools`` group, its global options, and what every command shares: options, the public API
object made from them, and printing (text for people, one JSON object for machines).

This package is the only place that imports click. Commands import the public API inside their function so
that ``--version`` and ``--help`` load nothing else (start-up time is measured in benchmarks/).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_tools import __version__

if TYPE_CHECKING:
    from gitops_tools.api import Repository
    from gitops_tools.errors import GitopsError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
STATE: dict[str, Any] = {"output": "text", "verbose": 0}

output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default=None,
    envvar="GITOPS_OUTPUT", help="Print a human summary (text, the default), or one JSON object for machines. "
                                 "[env: GITOPS_OUTPUT]",
)

dry_run_option = click.option(
    "--dry-run", is_flag=True, envvar="GITOPS_DRY_RUN",
    help="Show the unified diff of what would change; write and commit nothing. [env: GITOPS_DRY_RUN]",
)


def write_options(f: Any) -> Any:
    """The options of every command that writes (DESIGN §3.7, §3.10)."""
    decorators = [
        click.option("--repo-url", envvar="GITOPS_REPO_URL", metavar="URL",
                     help="Work on a fresh shallow clone of URL (removed afterwards) and push the commit, "
                          "retrying on fresh remote state; the token comes from GITOPS_TOKEN or CI_JOB_TOKEN. "
                          "[env: GITOPS_REPO_URL]"),
        click.option("--branch", envvar="GITOPS_BRANCH", metavar="BRANCH",
                     help="The branch to change (default: `branch` in gitops-tools.yaml, else main). "
                          "[env: GITOPS_BRANCH]"),
        click.option("--push/--no-push", default=False, envvar="GITOPS_PUSH",
                     help="In a checkout: push the commit too (with --repo-url it always is). [env: GITOPS_PUSH]"),
        click.option("--no-commit", is_flag=True, envvar="GITOPS_NO_COMMIT",
                     help="Edit the files but do not commit (in a checkout). [env: GITOPS_NO_COMMIT]"),
        click.option("--skip-ci", is_flag=True, envvar="GITOPS_SKIP_CI",
                     help="Append [skip ci] to the commit subject. [env: GITOPS_SKIP_CI]"),
        click.option("--merge-when-pipeline-succeeds", is_flag=True, envvar="GITOPS_MERGE_WHEN_PIPELINE_SUCCEEDS",
                     help="Protected environments: ask GitLab to merge the merge request once its pipeline "
                          "passes."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def _more_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if value and ctx.obj is not None:
        ctx.obj["verbose"] += value
        STATE["verbose"] = ctx.obj["verbose"]


# -v is also accepted after a command's arguments, where the wrappers put what they pass on
# (scripts/update-image.sh dev aegis/api 1.4.3 -v).
verbose_option = click.option("-v", "--verbose", count=True, expose_value=False, callback=_more_verbose,
                              help="Print every git command as it runs (secrets masked); same as the global -v.")


def repository(obj: dict[str, Any], write: dict[str, Any] | None = None) -> Repository:
    """The public API object for this invocation; ``write`` holds the write options' values."""
    from gitops_tools.api import Repository

    w = write or {}
    return Repository(obj["repo_dir"], url=w.get("repo_url"), branch=w.get("branch"), push=bool(w.get("push")),
                      skip_ci=bool(w.get("skip_ci")),
                      merge_when_pipeline_succeeds=bool(w.get("merge_when_pipeline_succeeds")),
                      verbose=obj["verbose"] > 0)


def output_of(obj: dict[str, Any], output: str | None) -> str:
    chosen = output or obj["output"]
    STATE["output"] = chosen
    return str(chosen)


# Each command -> the module of this package that defines it, imported when the command runs (or when --help
# lists the commands): `release` does not import what `image set` needs, nor the other way round.
COMMANDS = {"image": "images", "promote": "moving", "rollback": "moving", "validate": "seeing", "status": "seeing",
            "diff": "seeing", "history": "seeing", "release": "releasing", "changelog": "releasing",
            "metrics": "metrics", "propagate": "propagate", "publish": "publishing", "report": "seeing"}


class LazyGroup(click.Group):
    """A group whose commands are defined by modules imported on demand (:data:`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            importlib.import_module(f"gitops_tools.cli.{COMMANDS[cmd_name]}")  # its decorators register it
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="gitops-tools", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, envvar="GITOPS_VERBOSE",
              help="Print every git command as it runs (secrets masked). [env: GITOPS_VERBOSE]")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", envvar="GITOPS_OUTPUT",
              help="Output of every command: text or json (also an option of each command). [env: GITOPS_OUTPUT]")
@click.option("-C", "--repo-dir", type=click.Path(file_okay=False, path_type=Path), envvar="GITOPS_REPO_DIR",
              help="The GitOps checkout to work in (default: the one around the working directory). "
                   "[env: GITOPS_REPO_DIR]")
@click.pass_context
def cli(ctx: click.Context, verbose: int, output: str, repo_dir: Path | None) -> None:
    """Manage a kustomize GitOps repository: set images without reformatting a byte, and tell exactly what
    changed.

    \b
    Environments and their order come from gitops-tools.yaml at the repository root (or, without it, from
    the directories under environments/).

    \b
    Examples:
      gitops-tools image set dev 'aegis/api=*:1.4.2'          only the tag moves
      gitops-tools image set --dry-run prod 'aegis/api=*:1.4.2'
      gitops-tools -o json image set staging 'aegis/api=*:1.4.2' 'aegis/recommendation=*:2.0.1'
      gitops-tools status
      gitops-tools promote dev staging
    """
    STATE["verbose"] = verbose
    STATE["output"] = output
    ctx.obj = {"verbose": verbose, "repo_dir": repo_dir, "output": output}


# --- printing ---------------------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(map(len, column)) for column in zip(*rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    # one format and one write: ten thousand history lines through click.echo one by one cost more than reading
    click.echo("\n".join(line.format(*r).rstrip() for r in rows))


def short(value: str | None) -> str:
    """The tag (and a short digest) of an image value, for tables; JSON has the whole value."""
    from gitops_tools.core.records import short_value

    return short_value(value)


def dry_run_diff(edits: Sequence[Any], dry_run: bool) -> str | None:
    """The unified diff of a dry run's edits (None when it is not a dry run)."""
    if not dry_run:
        return None
    from gitops_tools.core.changes import unified_diff

    return "".join(unified_diff(e.display, e.before, e.after) for e in edits)


def json_done(data: dict[str, Any], diff: str | None, output: str) -> bool:
    """Print the result as JSON (with the dry run's diff) when asked; True when that was the output."""
    if output != "json":
        return False
    if diff is not None:
        data["diff"] = diff
    print_json(data)
    return True


def print_json(data: object) -> None:
    import json  # only the JSON output pays for it

    click.echo(json.dumps(data, indent=2, sort_keys=False))


def landed_lines(landed: Any, dry_run: bool, env: str) -> None:
    if dry_run:
        click.echo("dry run: nothing written")
        return
    if landed.commit:
        click.echo(f"committed {landed.commit[:12]} ({', '.join(e.display for e in landed.applied.edits)})")
    if landed.pushed:
        click.echo(f"pushed to {landed.pushed}")
    if landed.merge_request:
        click.echo(f"pushed {landed.merge_request} and asked GitLab for a merge request ({env} is protected)")


def notified(notifications: Sequence[Any], output: str) -> None:
    """After the result: each notification sent (text output), each one that was not as a warning on stderr, or
    an error for a required target, which exits 75 (the change stays landed; the JSON result says the same)."""
    from gitops_tools.errors import EXIT_TEMPFAIL

    for n in notifications:
        if n.sent:
            if output != "json":
                click.echo(f"notified {n.kind} ${n.url_env}")
        else:
            click.echo(f"{'error' if n.required else 'warning'}: {n.message}", err=True)
    if any(n.failed_required for n in notifications):
        raise SystemExit(EXIT_TEMPFAIL)


def report(err: GitopsError) -> None:
    click.echo(f"error: {err.headline}", err=True)
    if err.fix:
        click.echo(f"hint: {err.fix}", err=True)
    if STATE["output"] == "json":
        print_json({"error": err.as_dict()})
