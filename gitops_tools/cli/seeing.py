"""``validate``, ``status``, ``diff`` and ``history``: what runs where, and who changed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitops_tools.cli.base import (
    CONTEXT_SETTINGS,
    cli,
    output_of,
    output_option,
    print_json,
    repository,
    short,
    table,
    verbose_option,
)


@cli.command("validate", context_settings=CONTEXT_SETTINGS)
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@output_option
@verbose_option
@click.pass_obj
def validate_cmd(obj: dict[str, Any], envs: tuple[str, ...], output: str) -> None:
    """Render each environment with `kubectl kustomize` and report what kustomize silently accepts.

    \b
    Errors (exit 1):
      render-failed          the overlay does not render
      unused-image           an images: entry matches no container in the render (a typo kustomize ignores)
      mutable-tag            a mutable (latest, main…) or missing tag in a protected environment
      plaintext-secret       a Secret with data in git (use an ExternalSecret)
      values-mismatch        a Helm values key configured to follow an image holds another value
      application-path       an Argo CD Application points at a path or values file that does not exist
      application-branch     … at a revision that does not exist
      application-namespace  … into a namespace its path does not use, or its project does not allow
    Warnings (exit 0): mutable or missing tags outside protected environments.

    Without ENV every environment and every Application under applications/ is checked.
    """
    output = output_of(obj, output)
    result = repository(obj).validate(envs)
    if output == "json":
        print_json(result.as_dict())
    else:
        rendered = ", ".join(f"{e.name} ({e.objects} objects)" if e.rendered else f"{e.name} (failed)"
                             for e in result.environments)
        click.echo(f"rendered: {rendered}")
        if result.findings:
            rows = [(f.severity, f.env or "-", f.check, f"{f.file or ''} {f.where}".strip(), f.message)
                    for f in result.findings]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for r in rows:
                click.echo("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        click.echo(f"{result.errors} error(s), {result.warnings} warning(s)")
    if result.errors:
        raise SystemExit(1)


@cli.command("status", context_settings=CONTEXT_SETTINGS)
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@output_option
@verbose_option
@click.pass_obj
def status_cmd(obj: dict[str, Any], /, images: tuple[str, ...], output: str | None) -> None:
    """The version matrix: image x environment, in promotion order.

    A `*` marks a value that differs from the previous environment's: a promotion is pending there.
    """
    output = output_of(obj, output)
    m = repository(obj).status(images)
    if output == "json":
        print_json(m.as_dict())
        return
    rows = [("IMAGE", *m.envs)]
    rows += [(r.image, *(short(c.value) + (" *" if c.pending else "") for c in r.cells)) for r in m.rows]
    table(rows)
    if any(c.pending for r in m.rows for c in r.cells):
        click.echo("* differs from the previous environment: a promotion is pending")


@cli.command("diff", context_settings=CONTEXT_SETTINGS)
@click.argument("env_a")
@click.argument("env_b")
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@output_option
@verbose_option
@click.pass_obj
def diff_cmd(obj: dict[str, Any], /, env_a: str, env_b: str, images: tuple[str, ...], output: str | None) -> None:
    """What differs between the images of two environments."""
    output = output_of(obj, output)
    found = repository(obj).diff(env_a, env_b, images)
    if output == "json":
        print_json({"a": env_a, "b": env_b, "differences": [d.as_dict() for d in found]})
        return
    if not found:
        click.echo(f"{env_a} and {env_b} run the same images")
        return
    table([("IMAGE", env_a, env_b)] + [(d.image, d.a.value if d.a else "-", d.b.value if d.b else "-")
                                        for d in found])


@cli.command("history", context_settings=CONTEXT_SETTINGS)
@click.argument("env", required=False)
@click.option("--image", metavar="NAME", help="Only this image.")
@click.option("--since", metavar="WHEN", help="Only changes from WHEN on: an ISO 8601 date or time (2026-11-01 is midnight UTC; no offset means "
                   "UTC) or a span back from now (30m, 2h, 3 days, 2.weeks, yesterday).")
@output_option
@verbose_option
@click.pass_obj
def history_cmd(obj: dict[str, Any], /, env: str | None, image: str | None, since: str | None,
                output: str | None) -> None:
    """Who changed which image, when, from what to what, and from which pipeline: read from commit trailers.

    Commits that changed an environment without gitops-tools trailers are listed as `manual`, without a guess
    at what they changed (see `git show COMMIT`).
    """
    output = output_of(obj, output)
    found = repository(obj).history(env, image, since)
    if output == "json":
        print_json({"events": [e.as_dict() for e in found]})
        return
    if not found:
        click.echo("no changes recorded")
        return
    rows = [("TIME", "ENV", "IMAGE", "CHANGE", "ACTION", "AUTHOR", "PIPELINE", "COMMIT")]
    for e in found:
        change = f"{short(e.old)} -> {short(e.new)}" if e.image else "(not recorded)"
        rows.append((e.time, e.env or "-", e.image or "-", change, e.action, e.author, e.pipeline or "-",
                     e.commit[:12]))
    table(rows)


@cli.command("report", context_settings=CONTEXT_SETTINGS)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write the page there: DIR/index.html, and the same data as DIR/report.json (DIR is created).")
@click.option("--weeks", type=click.IntRange(0, 520), default=12, show_default=True,
              help="How many weeks of delivery measures to chart, up to this week.")
@output_option
@verbose_option
@click.pass_obj
def report_cmd(obj: dict[str, Any], /, out: Path | None, weeks: int, output: str | None) -> None:
    """A static page of what runs where, what moved and how delivery goes, read from git alone.

    \b
    The page (DIR/index.html) holds the version matrix (pending promotions marked, each value linked to the
    commit that set it), every environment's changes (set, promote, rollback, by hand, merge requests still
    open on gitops/* branches) with their pipeline and author, and the delivery measures per week as charts.
    It needs no network and no script when opened: publish it as it is (GitLab Pages: docs/report.md).
    Needs the report extra: pip install 'gitops-tools[report]'.

    \b
    Examples:
      gitops-tools report --out public               the page, for GitLab Pages
      gitops-tools -o json report                    the same data, for machines (nothing written)
    """
    output = output_of(obj, output)
    result = repository(obj).report(out=out, weeks=weeks)
    if output == "json":
        print_json(result.as_dict())
        return
    r = result.report
    changes = sum(len(entries) for _, entries in r.timeline)
    summary = (f"{len(r.rows)} image(s) x {len(r.envs)} environment(s), {changes} change(s), "
               f"{len(r.weeks)} week(s) of measures")
    if result.files:
        click.echo(f"wrote {', '.join(result.files)} ({summary})")
    else:
        click.echo(f"{summary}; nothing written (give --out DIR for the page)")
