"""The report as one static HTML page: Jinja2 templates with autoescaping on (every value from git or CI is
untrusted), the charts drawn here as inline SVG, no script, and a Content-Security-Policy that lets the page fetch
nothing: opened from a disk or from GitLab Pages, it needs no network.

Requires the ``report`` extra (Jinja2): ``pip install 'gitops-tools[report]'``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gitops_tools.core.metrics import duration_text
from gitops_tools.core.records import short_value
from gitops_tools.core.report import Report, Week
from gitops_tools.errors import GitopsError

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 560, 200, 56, 36, 16


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the week, as the axis shows it
    value: str  # the value, as the table and the bar's title show it


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str  # the text alternative: what the chart shows, in words
    unit: str
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # (y, label) of the value axis
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = BOTTOM


def _chart(chart_id: str, title: str, unit: str, weeks: Sequence[Week], value: Callable[[Week], float | None],
           shown: Callable[[float | None], str], scale: float = 1.0) -> Chart:
    values = [value(w) for w in weeks]
    top = max([v for v in values if v is not None] or [0.0]) / scale
    top = top if top > 0 else 1.0
    inner_w, inner_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = inner_w / max(len(weeks), 1)
    bars = []
    for i, (week, v) in enumerate(zip(weeks, values)):
        h = 0.0 if v is None else inner_h * (v / scale) / top
        bars.append(Bar(round(LEFT + i * step + step * 0.15, 1), round(TOP + inner_h - h, 1), round(step * 0.7, 1),
                        round(h, 1), week.start.strftime("%m-%d"), shown(v)))
    ticks = tuple((round(TOP + inner_h - inner_h * f, 1), _tick(top * f)) for f in (0.0, 0.5, 1.0))
    described = ", ".join(f"week of {w.start.isoformat()}: {b.value}" for w, b in zip(weeks, bars))
    return Chart(chart_id, title, f"{title}, per week: {described}." if weeks else f"{title}: no weeks.", unit,
                 tuple(bars), ticks)


def _tick(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def charts(weeks: Sequence[Week]) -> tuple[Chart, ...]:
    return (
        _chart("deployments", "Deployments", "deployments", weeks, lambda w: float(w.deployments), lambda v: f"{v:.0f}"),
        _chart("lead-time", "Lead time (median)", "hours", weeks, lambda w: w.lead_time_median_seconds, duration_text,
               scale=3600.0),
        _chart("failure-rate", "Change failure rate", "%", weeks,
               lambda w: None if w.failure_rate is None else w.failure_rate * 100,
               lambda v: "-" if v is None else f"{v:.0f} %"),
        _chart("restore", "Time to restore (median)", "hours", weeks, lambda w: w.restore_median_seconds, duration_text,
               scale=3600.0),
    )


def render(report: Report) -> str:
    """The page of ``report``: one HTML document, nothing to fetch."""
    try:
        import jinja2
    except ImportError:
        raise GitopsError("the report page needs Jinja2, which is not installed",
                          fix="pip install 'gitops-tools[report]'") from None
    env = jinja2.Environment(loader=jinja2.PackageLoader("gitops_tools.page", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["duration"] = duration_text
    env.filters["short"] = short_value
    return env.get_template("report.html.j2").render(
        report=report, charts=charts(report.weeks), generated=report.generated.astimezone(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"))

