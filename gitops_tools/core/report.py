"""The report: what runs where, what moved, how delivery goes, as one set of values for a page and for JSON.

Pure: the version matrix, the recorded changes (and those of merge requests not merged yet) and the clock in, the
report out. Every value in it comes from git or CI and is untrusted: links are kept only when they are plain http(s)
URLs (``safe_link``), and the page escapes everything it prints.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gitops_tools.core.envstate import Matrix
from gitops_tools.core.history import Event
from gitops_tools.core.metrics import Durations, measure
from gitops_tools.core.notify import commit_link, safe_link, web_url
from gitops_tools.core.records import short_value

_UTC = datetime.timezone.utc
WEEK = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Cell:
    env: str
    value: str | None  # the whole reference; None: not set in this environment
    shown: str  # what `status` prints for it (the tag, and a short digest)
    pending: bool  # differs from the environment before: a promotion is waiting
    commit: str | None  # the commit that set it, as history records it (None: not recorded)
    commit_url: str | None

    def as_dict(self) -> dict[str, object]:
        return {"env": self.env, "value": self.value, "shown": self.shown, "pending": self.pending,
                "commit": self.commit, "commit_url": self.commit_url}


@dataclass(frozen=True)
class Row:
    image: str
    cells: tuple[Cell, ...]

    def as_dict(self) -> dict[str, object]:
        return {"image": self.image, "cells": [c.as_dict() for c in self.cells]}


@dataclass(frozen=True)
class Entry:
    """One change of the timeline: a recorded change, a change by hand, or a merge request still open."""

    time: str
    env: str
    image: str | None
    action: str  # set-image, promote, rollback, manual, … or "merge-request" (opened, not merged)
    old: str | None
    new: str | None
    author: str
    pipeline_url: str | None
    commit: str
    commit_url: str | None

    def as_dict(self) -> dict[str, object]:
        return {"time": self.time, "env": self.env, "image": self.image, "action": self.action, "old": self.old,
                "new": self.new, "author": self.author, "pipeline_url": self.pipeline_url, "commit": self.commit,
                "commit_url": self.commit_url}


@dataclass(frozen=True)
class Week:
    """The delivery measures of one week (``start`` a Monday, UTC) over every environment."""

    start: datetime.date
    deployments: int
    lead_time_median_seconds: float | None
    failure_rate: float | None
    restore_median_seconds: float | None

    def as_dict(self) -> dict[str, object]:
        return {"week": self.start.isoformat(), "deployments": self.deployments,
                "lead_time_median_seconds": self.lead_time_median_seconds, "change_failure_rate": self.failure_rate,
                "time_to_restore_median_seconds": self.restore_median_seconds}


@dataclass(frozen=True)
class Report:
    generated: datetime.datetime
    repository: str | None  # the project's web address, when its URL has one
    envs: tuple[str, ...]
    rows: tuple[Row, ...]
    timeline: tuple[tuple[str, tuple[Entry, ...]], ...]  # per environment, newest first
    weeks: tuple[Week, ...]  # oldest first

    def as_dict(self) -> dict[str, object]:
        return {"generated": self.generated.isoformat(), "repository": self.repository, "environments": list(self.envs),
                "matrix": [r.as_dict() for r in self.rows],
                "timeline": {env: [e.as_dict() for e in entries] for env, entries in self.timeline},
                "weeks": [w.as_dict() for w in self.weeks]}


def build(matrix: Matrix, events: Sequence[Event], open_requests: Iterable[Event], repo_url: str | None,
          now: datetime.datetime, weeks: int = 12, per_env: int = 200) -> Report:
    """The report of ``matrix`` and ``events`` (history, newest first); ``open_requests`` are the changes of merge
    request branches not merged yet; ``weeks`` of measures up to ``now``; at most ``per_env`` timeline entries
    per environment (the newest)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=_UTC)
    web = web_url(repo_url)
    set_by: dict[tuple[str, str], str] = {}  # (env, image) -> the newest commit that set it
    for ev in events:
        if ev.env is not None and ev.image is not None and ev.new is not None and (ev.env, ev.image) not in set_by:
            set_by[(ev.env, ev.image)] = ev.commit
    rows = []
    for row in matrix.rows:
        cells = []
        for env, cell in zip(matrix.envs, row.cells):
            commit = set_by.get((env, row.image)) if cell.value is not None else None
            cells.append(Cell(env, cell.value, short_value(cell.value), cell.pending, commit, commit_link(web, commit)))
        rows.append(Row(row.image, tuple(cells)))
    entries: dict[str, list[Entry]] = {env: [] for env in matrix.envs}
    for ev, action in [*((e, "merge-request") for e in open_requests), *((e, e.action) for e in events)]:
        if ev.env in entries and len(entries[ev.env]) < per_env:
            entries[ev.env].append(Entry(ev.time, ev.env, ev.image, action, ev.old, ev.new, ev.author,
                                         safe_link(ev.pipeline or ""), ev.commit, commit_link(web, ev.commit)))
    return Report(now, web, matrix.envs, tuple(rows), tuple((env, tuple(entries[env])) for env in matrix.envs),
                  weekly(events, matrix.envs, now, weeks))


def weekly(events: Sequence[Event], envs: Sequence[str], now: datetime.datetime, weeks: int) -> tuple[Week, ...]:
    """The measures of each of the last ``weeks`` weeks (Monday to Monday, UTC; the last one up to ``now``), over
    every environment together, as `metrics` defines them."""
    if weeks <= 0:
        return ()
    monday = datetime.datetime.combine(now.date() - datetime.timedelta(days=now.weekday()), datetime.time(), _UTC)
    starts = [monday - WEEK * i for i in range(weeks - 1, -1, -1)]
    out = []
    times: dict[str | None, int | None] = {}  # each commit time parsed once for all the weeks
    for start in starts:  # each week measured as `metrics --since START --until END` would (older events: context)
        m = measure(events, envs, min(start + WEEK, now), since=start, times=times)
        deployed = sum(e.total.deployments for e in m.envs)
        failed = sum(e.total.failed for e in m.envs)
        leads = Durations.of(s for e in m.envs for s in e.total.lead_time.seconds)
        restores = Durations.of(s for e in m.envs for s in e.total.restore.seconds)
        out.append(Week(start.date(), deployed, leads.median, failed / deployed if deployed else None,
                        restores.median))
    return tuple(out)
