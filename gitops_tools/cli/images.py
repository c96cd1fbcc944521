"""``gitops-tools image set``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from gitops_tools.cli.base import (
    CONTEXT_SETTINGS,
    cli,
    dry_run_diff,
    dry_run_option,
    json_done,
    notified,
    output_of,
    output_option,
    repository,
    verbose_option,
    write_options,
)


def _seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A duration option: ``2s``, ``500ms``, ``1m``, or a number of seconds."""
    if value is None or value == "":
        return None
    from gitops_tools.config import parse_duration

    text = value.strip()
    try:
        seconds = float(text[:-2]) / 1000 if text.endswith("ms") else float(text)
    except ValueError:
        parsed = parse_duration(text)
        if parsed is None:
            raise click.BadParameter(f"{value!r} is not a duration (2s, 500ms, 1m)") from None
        seconds = float(parsed)
    if not 0 <= seconds <= 600:
        raise click.BadParameter(f"{value!r} is out of range (0s to 10m)")
    return seconds


def _fold_lines(result: Any) -> None:
    """What became of a change that went through a pending ref."""
    fold = result.landed.fold
    others = f" together with {fold.others} other{'s' if fold.others != 1 else ''}" if fold.others else ""
    if fold.status == "landed" and fold.commit:
        if fold.folded_here and not fold.others:  # alone: as a single push says it
            click.echo(f"committed {fold.commit[:12]} ({', '.join(e.display for e in result.edits)})")
        else:
            by = "" if fold.folded_here else " (folded by another job)"
            click.echo(f"landed in {fold.commit[:12]}{others}{by}")
        click.echo(f"pushed to {result.landed.pushed}")
    else:
        click.echo(f"{result.target.scope}: {fold.reason}; not changed ({fold.status}{others and ' in a fold' + others})")


@cli.group(context_settings=CONTEXT_SETTINGS)
def image() -> None:
    """Set image names, tags and digests in an environment."""


@image.command("set", context_settings=CONTEXT_SETTINGS)
@click.argument("target")
@click.argument("specs", nargs=-1, metavar="SPEC...")
@dry_run_option
@output_option
@write_options
@click.option("--allow-downgrade", is_flag=True, envvar="GITOPS_ALLOW_DOWNGRADE",
              help="Allow a semver-older tag to replace a newer one. [env: GITOPS_ALLOW_DOWNGRADE]")
@click.option("--setter", "setters", multiple=True, metavar="NAMESPACE:POLICY=IMAGE",
              help='Also update values marked # {"$imagepolicy": "NAMESPACE:POLICY[:tag|:name|:digest]"} '
                   "(Flux image-automation markers) under TARGET. Repeatable.")
@click.option("--add", is_flag=True,
              help="In an environment of gitops-tools.yaml, add an entry for a name it does not have yet "
                   "(without --add such a name is refused: it would match no container).")
@click.option("--batch-window", metavar="DURATION", envvar="GITOPS_BATCH_WINDOW", callback=_seconds,
              help="With --repo-url: wait this long (2s, 500ms, 1m) after publishing the change so that more "
                   "jobs' changes share one commit (default: commit.batch_window in gitops-tools.yaml, else 0s). "
                   "[env: GITOPS_BATCH_WINDOW]")
@click.option("--fold/--no-fold", default=True, envvar="GITOPS_FOLD",
              help="With --repo-url, in an unprotected environment: publish the change as a pending ref and land "
                   "it folded with the other jobs' pending changes (default), or push and retry on rejection "
                   "(--no-fold). [env: GITOPS_FOLD]")
@verbose_option
@click.pass_obj
def image_set_cmd(obj: dict[str, Any], /, target: str, specs: tuple[str, ...], dry_run: bool, output: str,
                  allow_downgrade: bool, setters: tuple[str, ...], add: bool, batch_window: float | None,
                  fold: bool, **kwargs: Any) -> None:
    """Set images in TARGET's kustomization (and the Helm values keys configured to follow them).

    TARGET is an environment name from gitops-tools.yaml (dev, staging, prod) or the path of any overlay
    directory. In a git checkout the change is committed (one commit for all SPECs, with a Gitops-Change
    trailer per image); outside one the files are only edited.

    \b
    SPEC takes the forms of `kustomize edit set image`:
      NAME=*:TAG                 only the tag (what CI wants)   'aegis/api=*:1.4.2'
      NAME=*:TAG@DIGEST          the tag and the digest         'aegis/api=*:1.4.2@sha256:<64 hex>'
      NAME=NEWNAME[:TAG][@DIGEST]  also set newName     aegis/api=registry.gitlab.com/aegis/app/api:1.4.2
      NAME:TAG, NAME@DIGEST      kustomize's short forms: they CLEAR newName (and the field not given),
                                 as `kustomize edit set image` does
      `*` as NEWNAME, TAG or DIGEST keeps the current value. scripts/update-image.sh uses NAME=*:TAG.

    \b
    In an environment of gitops-tools.yaml, NAME is an entry's name or its newName (the path the CI job
    pushed, e.g. registry.gitlab.com/aegis/app/api); a name that matches no entry is refused, listing the
    known ones, unless --add. On an overlay directory outside the configuration a missing entry is added,
    as kustomize does.

    \b
    Same value again: nothing is written or committed (exit 0). A tag older than the current one is
    skipped with a message (exit 0) unless --allow-downgrade: a CI job that finishes late never rolls an
    environment back. Older is semver order; where semver cannot tell (SHA tags, 1.3), the GitLab pipeline
    that set the current tag is compared with the one running now (CI_PIPELINE_ID); where neither
    decides, the tag is set and the output says so. Protected environments refuse mutable tags such as
    latest, and take only what the environment before them runs (only_from_previous).
    """
    output = output_of(obj, output)
    repo = replace(repository(obj, kwargs), fold=fold, batch_window=batch_window)
    result = repo.set_images(target, specs, setters=setters, add=add,
                                                allow_downgrade=allow_downgrade, dry_run=dry_run,
                                                commit=not kwargs["no_commit"])
    diff = dry_run_diff(result.edits, dry_run)
    if json_done(result.as_dict(), diff, output):
        notified(result.notifications, output)
        return
    if diff:
        click.echo(diff, nl=False)
    folded = result.landed.fold
    for u in (result.updates if folded is None or folded.status == "landed" else ()):
        if u.status == "unchanged":
            click.echo(f"{result.target.scope}: {u.image} is already {u.new}; nothing to do")
        elif u.status == "skipped-downgrade":
            click.echo(u.message)
        elif u.image.startswith("setter "):
            click.echo(f"{result.target.scope}: {u.image}: {len(u.changes)} marked value(s) updated")
        else:
            click.echo(f"{result.target.scope}: {u.image} {u.old or '(none)'} -> {u.new} ({u.status})")
            if u.message:
                click.echo(f"note: {u.message}")
    if dry_run:
        click.echo("dry run: nothing written" if result.edits else "dry run: nothing would change")
    elif result.landed.fold is not None:
        _fold_lines(result)
    elif result.commit:
        click.echo(f"committed {result.commit[:12]} ({', '.join(e.display for e in result.edits)})")
        if result.landed.note:
            click.echo(f"note: {result.landed.note}")
        if result.landed.pushed:
            tries = f" after {result.landed.attempts} attempts" if result.landed.attempts > 1 else ""
            click.echo(f"pushed to {result.landed.pushed}{tries}")
        if result.landed.merge_request:
            click.echo(f"pushed {result.landed.merge_request} and asked GitLab for a merge request into "
                       f"{result.target.env.name if result.target.env else 'the target'}'s branch")
    elif result.edits:
        click.echo(f"wrote {', '.join(e.display for e in result.edits)} (not committed)")
    notified(result.notifications, output)


