"""``metrics``: the delivery measures read from the history, as a table, JSON or OpenMetrics; pushed on request."""

from __future__ import annotations

from typing import Any

import click

from gitops_tools.cli.base import CONTEXT_SETTINGS, STATE, cli, print_json, repository, table, verbose_option
from gitops_tools.core.metrics import duration_text as duration


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@cli.command("metrics", context_settings=CONTEXT_SETTINGS)
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option("--since", metavar="WHEN", envvar="GITOPS_METRICS_SINCE",
              help="Measure what landed from WHEN on: an ISO 8601 date or time (2026-11-01 is midnight UTC) or a "
                   "span back from now (30 days, 2.weeks). Default: the whole history. [env: GITOPS_METRICS_SINCE]")
@click.option("--until", metavar="WHEN", envvar="GITOPS_METRICS_UNTIL",
              help="End the window at WHEN (same forms as --since; default: now): a past month, or a fixed report. "
                   "[env: GITOPS_METRICS_UNTIL]")
@click.option("-o", "--output", type=click.Choice(["table", "text", "json", "openmetrics"]), default=None,
              envvar="GITOPS_OUTPUT", help="table (text, the default), one JSON object, or the OpenMetrics text "
                                           "exposition. [env: GITOPS_OUTPUT]")
@click.option("--pushgateway", metavar="URL", envvar="GITOPS_PUSHGATEWAY_URL",
              help="Also push the metrics to this Prometheus Pushgateway (its base URL), one group per "
                   "environment: job, repository, environment. [env: GITOPS_PUSHGATEWAY_URL]")
@click.option("--job", default="gitops-tools", metavar="NAME", show_default=True, envvar="GITOPS_PUSHGATEWAY_JOB",
              help="The Pushgateway job name. [env: GITOPS_PUSHGATEWAY_JOB]")
@click.option("--repository", "label", metavar="NAME", envvar="GITOPS_METRICS_REPOSITORY",
              help="The repository label of every series (default: CI_PROJECT_PATH, else the checkout's "
                   "directory name). [env: GITOPS_METRICS_REPOSITORY]")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the Pushgateway.")
@verbose_option
@click.pass_obj
def metrics_cmd(obj: dict[str, Any], /, envs: tuple[str, ...], since: str | None, until: str | None,
                output: str | None,
                pushgateway: str | None, job: str, label: str | None, timeout: float) -> None:
    """Delivery measures per environment and image, from the history gitops-tools wrote (one git log).

    \b
      DEPLOYS     deployments in the window (set-image, promote...; not rollbacks, not manual commits)
      PER DAY     deployment frequency: deployments per day of the window
      LEAD TIME   median time from the source commit (Gitops-Source-Time, CI_COMMIT_TIMESTAMP) to landing
      FAILED      deployments whose next change of the image there is a rollback away from them
      CFR         change failure rate: FAILED / DEPLOYS
      RESTORE     median time from a failed deployment to its rollback
    And per image, the median time from the first environment to the last (dev -> prod).
    Commits that changed an environment by hand (no trailers) are counted apart, in no measure.

    \b
    Examples:
      gitops-tools metrics --since '30 days'
      gitops-tools metrics prod -o json
      gitops-tools metrics -o openmetrics --pushgateway http://pushgateway.monitoring:9091
    """
    chosen = output or obj["output"]
    STATE["output"] = "json" if chosen == "json" else "text"
    result = repository(obj).metrics(envs, since=since, until=until, repository=label, pushgateway=pushgateway, job=job,
                                     timeout=timeout)
    if chosen == "json":
        print_json(result.as_dict())
        return
    if chosen == "openmetrics":
        click.echo(result.openmetrics(), nl=False)
        if result.pushgateway:  # stdout holds the exposition alone
            click.echo(_pushed(result), err=True)
        return
    m = result.measures
    window = f"since {m.start.isoformat()}" if m.start else "no change recorded"
    click.echo(f"{result.repository}: {window} until {m.end.isoformat()} ({duration(m.window_seconds)})")
    rows = [("ENV", "IMAGE", "DEPLOYS", "PER DAY", "LEAD TIME", "FAILED", "CFR", "RESTORE", "ROLLBACKS")]
    for e in m.envs:
        for s in (e.images if len(e.images) == 1 else (*e.images, e.total)):  # (all): the environment's total
            rows.append((e.env, s.image or "(all)", str(s.deployments), _number(s.per_day),
                         duration(s.lead_time.median), str(s.failed),
                         "-" if s.failure_rate is None else f"{s.failure_rate:.0%}", duration(s.restore.median),
                         str(s.rollbacks)))
    table(rows)
    unknown = sum(e.total.lead_time_unknown for e in m.envs)
    if unknown:
        click.echo(f"{unknown} deployment(s) without a recorded source commit time (Gitops-Source-Time): "
                   "not in LEAD TIME")
    if m.promotions:
        click.echo("")
        first, last = m.promotions[0].source_env, m.promotions[0].target_env
        prows = [("IMAGE", f"{first} -> {last}", "PROMOTIONS")]
        prows += [(p.image, duration(p.durations.median), str(p.durations.count)) for p in m.promotions]
        table(prows)
    for e in m.envs:
        if e.manual:
            click.echo(f"{e.env}: {e.manual} change(s) by hand (commits without gitops-tools trailers), counted "
                       "apart: in no measure")
    if result.pushgateway:
        click.echo(_pushed(result))


def _pushed(result: Any) -> str:
    groups = ", ".join(f"environment={env}" for env in result.pushed)
    return f"pushed to {result.pushgateway} (job={result.job} repository={result.repository}): {groups}"
