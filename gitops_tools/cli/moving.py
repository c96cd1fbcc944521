"""``promote`` and ``rollback``: moving versions between environments and back."""

from __future__ import annotations

from typing import Any

import click

from gitops_tools.cli.base import (
    CONTEXT_SETTINGS,
    cli,
    dry_run_diff,
    dry_run_option,
    json_done,
    landed_lines,
    notified,
    output_of,
    output_option,
    repository,
    table,
    verbose_option,
    write_options,
)


@cli.command("promote", context_settings=CONTEXT_SETTINGS)
@click.argument("source")
@click.argument("target")
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@click.option("--force", is_flag=True, help="Allow skipping an environment, and older versions.")
@click.option("--min-age", metavar="DURATION", envvar="GITOPS_MIN_AGE",
              help="Refuse versions that have run in SOURCE for less than DURATION (30m, 2h, 1d), per history.")
@dry_run_option
@output_option
@write_options
@verbose_option
@click.pass_obj
def promote_cmd(obj: dict[str, Any], /, source: str, target: str, images: tuple[str, ...], force: bool,
                min_age: str | None, dry_run: bool, output: str | None, **kwargs: Any) -> None:
    """Make TARGET run what SOURCE runs (every image, or --image ones), as one commit.

    \b
    The plan is shown as `image  target-now -> source-value`. Only the next environment in the chain is
    allowed unless --force; protected targets (prod) get a merge request when pushing and refuse mutable
    tags, and take only what the environment before them runs. If TARGET changes between the plan and the
    push, the promotion stops with a conflict naming the image and pushes nothing. Helm values keys
    configured for an image move with it.
    """
    output = output_of(obj, output)
    result = repository(obj, kwargs).promote(source, target, images, force=force, min_age=min_age,
                                             dry_run=dry_run, commit=not kwargs["no_commit"])
    diff = dry_run_diff(result.landed.applied.edits, dry_run)
    if json_done(result.as_dict(), diff, output):
        notified(result.notifications, output)
        return
    if not result.plan:
        click.echo(f"{target} already runs what {source} runs; nothing to do")
        return
    table([("IMAGE", f"{target} now", f"{source}")] +
           [(p.image, p.target_now.value if p.target_now else "(none)", p.source.value) for p in result.plan])
    if diff:
        click.echo(diff, nl=False)
    for u in result.landed.applied.updates:
        if u.status == "skipped-downgrade":
            click.echo(u.message)
    landed_lines(result.landed, dry_run, target)
    notified(result.notifications, output)


@cli.command("rollback", context_settings=CONTEXT_SETTINGS)
@click.argument("env")
@click.option("--to", "to", metavar="REV", help="The revision to restore (default: before ENV's last change).")
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@dry_run_option
@output_option
@write_options
@verbose_option
@click.pass_obj
def rollback_cmd(obj: dict[str, Any], /, env: str, to: str | None, images: tuple[str, ...], dry_run: bool,
                 output: str | None, **kwargs: Any) -> None:
    """Restore ENV's images as they were at REV, as a new commit (never a `git revert` of other work)."""
    output = output_of(obj, output)
    result = repository(obj, kwargs).rollback(env, to=to, images=images, dry_run=dry_run,
                                              commit=not kwargs["no_commit"])
    diff = dry_run_diff(result.landed.applied.edits, dry_run)
    if json_done(result.as_dict(), diff, output):
        notified(result.notifications, output)
        return
    if diff:
        click.echo(diff, nl=False)
    changed = [u for u in result.landed.applied.updates if u.changes]
    if not changed:
        click.echo(f"{env} already runs what it ran at {result.revision[:12]}; nothing to do")
        return
    for u in changed:
        click.echo(f"{env}: {u.image} {u.old or '(none)'} -> {u.new} (as at {result.revision[:12]})")
    landed_lines(result.landed, dry_run, env)
    notified(result.notifications, output)


