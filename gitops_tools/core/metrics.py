"""The four delivery measures, from the history gitops-tools wrote: deployment frequency, lead time for changes,
change failure rate and time to restore, per environment and image.

Pure: history :class:`~gitops_tools.core.history.Event` values and a clock in, :class:`Measures` out.

The definitions (docs/metrics.md says the same for users):

- A **deployment** is a recorded change that sets an image to a value in an environment (``set-image``,
  ``promote`` or any other action of gitops-tools) except a ``rollback``; a change that removes the image is
  none. A **rollback** is a change recorded with the action ``rollback``. A ``manual`` event (a commit that changed
  the environment without a trailer for it) is neither: it is counted apart, since nobody can tell what it
  changed.
- The **window** runs from ``since`` (or, without it, the time of the oldest event read) to ``now``; what is
  measured is what landed in it. An event's time is its commit's.
- **Deployment frequency**: deployments in the window per day of the window (86,400 s).
- **Lead time for changes**: for each deployment, its landing time minus the source commit's time: the
  deployment's own ``Gitops-Source-Time`` (CI_COMMIT_TIMESTAMP of the pipeline that made it), else the one
  recorded first, in any environment, for the same image and value (a value promoted by hand keeps the time of
  the commit it was built from). Deployments without one, or with one after the landing (a clock gone wrong),
  are counted as unknown.
- **Promotion lead time** (first → last environment): for each deployment of a value to the last environment,
  its landing time minus the first landing of the same image and value in the first environment (at or
  before it). Measured only between different environments.
- **Change failure rate**: failed deployments / deployments, where a deployment failed when the next recorded
  change of that image in that environment is a rollback away from the deployment's value.
- **Time to restore**: for each failed deployment, the rollback's landing time minus the deployment's.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gitops_tools.core.history import Event

DAY = 86400
_UTC = datetime.timezone.utc
# Commit times (git's %aI) and Gitops-Source-Time values: ISO 8601 to the second, a fraction ignored.
_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.[0-9]{1,9})?"
                   r"(Z|z|[+-][0-9]{2}:[0-9]{2})")


def parse_time(text: str | None) -> datetime.datetime | None:
    """``2026-11-20T10:01:00+00:00`` or ``2026-11-20T09:58:00Z`` as an aware time (a fraction of a second is
    dropped); None when it is not an ISO 8601 time with an offset, or names no real time."""
    if not text:
        return None
    try:
        when = datetime.datetime.fromisoformat(text)  # in C: the common case, git's %aI, costs little
    except ValueError:
        m = _TIME.fullmatch(text)  # Python 3.10 reads neither Z nor every fraction
        if m is None:
            return None
        offset = "+00:00" if m.group(2) in "Zz" else m.group(2)
        try:
            when = datetime.datetime.fromisoformat(m.group(1) + offset)
        except ValueError:
            return None
    return None if when.tzinfo is None else when.replace(microsecond=0)


_MISSING = -1 << 62


def _seconds(text: str | None, cache: dict[str | None, int | None]) -> int | None:
    """:func:`parse_time` as Unix seconds, each text parsed once (ten thousand commits are measured at once)."""
    found = cache.get(text, _MISSING)
    if found == _MISSING:
        when = parse_time(text)
        cache[text] = found = None if when is None else int(when.timestamp())
    return found


def duration_text(seconds: float | None) -> str:
    """``3d 4h``, ``2h 5m``, ``12m 30s``, ``45s``; ``-`` for none."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


@dataclass(frozen=True)
class Durations:
    """Some durations in whole seconds, sorted, with what a summary shows of them."""

    seconds: tuple[int, ...] = ()

    @classmethod
    def of(cls, values: Iterable[int]) -> Durations:
        return cls(tuple(sorted(values)))

    @property
    def count(self) -> int:
        return len(self.seconds)

    @property
    def total(self) -> int:
        return sum(self.seconds)

    @property
    def median(self) -> float | None:
        s, n = self.seconds, len(self.seconds)
        if not n:
            return None
        return float(s[n // 2]) if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2

    @property
    def mean(self) -> float | None:
        return self.total / len(self.seconds) if self.seconds else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"count": self.count, "sum_seconds": self.total, "median_seconds": self.median,
                "mean_seconds": self.mean, "max_seconds": self.seconds[-1] if self.seconds else None}


@dataclass(frozen=True)
class Series:
    """The measures of one image in one environment (``image`` None: all images of the environment together)."""

    env: str
    image: str | None
    deployments: int
    per_day: float | None  # None when the window is empty
    lead_time: Durations
    lead_time_unknown: int  # deployments whose source commit time is not recorded
    failed: int
    restore: Durations
    rollbacks: int

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.deployments if self.deployments else None

    def as_dict(self) -> dict[str, object]:
        return {"env": self.env, "image": self.image, "deployments": self.deployments,
                "deployments_per_day": self.per_day, "lead_time": self.lead_time.as_dict(),
                "lead_time_unknown": self.lead_time_unknown, "failed_deployments": self.failed,
                "change_failure_rate": self.failure_rate, "time_to_restore": self.restore.as_dict(),
                "rollbacks": self.rollbacks}


@dataclass(frozen=True)
class EnvMeasures:
    """One environment: its images, all of them together, and the changes made by hand (counted apart)."""

    env: str
    total: Series
    images: tuple[Series, ...]
    manual: int  # commits that changed the environment without a trailer for it: in no measure

    def as_dict(self) -> dict[str, object]:
        return {"env": self.env, "manual_changes": self.manual, "total": self.total.as_dict(),
                "images": [s.as_dict() for s in self.images]}


@dataclass(frozen=True)
class Promotion:
    """How long values of one image took from the first environment to the last."""

    image: str
    source_env: str
    target_env: str
    durations: Durations

    def as_dict(self) -> dict[str, object]:
        return {"image": self.image, "from": self.source_env, "to": self.target_env, **self.durations.as_dict()}


@dataclass(frozen=True)
class Measures:
    """Every measure of the window ``start`` .. ``end`` (``start`` None: nothing was recorded)."""

    start: datetime.datetime | None
    end: datetime.datetime
    envs: tuple[EnvMeasures, ...]
    promotions: tuple[Promotion, ...]

    @property
    def window_seconds(self) -> int | None:
        return None if self.start is None else max(0, int((self.end - self.start).total_seconds()))

    def as_dict(self) -> dict[str, object]:
        return {"since": self.start.isoformat() if self.start else None, "until": self.end.isoformat(),
                "window_seconds": self.window_seconds, "environments": [e.as_dict() for e in self.envs],
                "promotions": [p.as_dict() for p in self.promotions]}


def is_deployment(ev: Event) -> bool:
    """A recorded change that sets an image (not a rollback, not a removal, not a change by hand)."""
    return ev.image is not None and ev.new is not None and ev.action not in ("manual", "rollback")


def measure(events: Iterable[Event], envs: Sequence[str], now: datetime.datetime,
            since: datetime.datetime | None = None, times: dict[str | None, int | None] | None = None) -> Measures:
    """The measures of ``envs`` (in promotion order) from ``events`` (newest first, as history gives them).

    Events before ``since`` are context only (a source time, a first landing); events after ``now`` and of other
    environments are left out. ``times`` (text -> Unix seconds), when given, is shared with the caller: measuring
    many windows of the same events parses each time once.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=_UTC)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=_UTC)
    end = int(now.timestamp())
    wanted = set(envs)
    cache: dict[str | None, int | None] = {} if times is None else times  # text -> Unix seconds, shared by callers
    # Each (environment, image) in history's order, oldest first (git log gives newest first; its order, not
    # the times, which may tie, is the order), with Unix seconds for times.
    series: dict[tuple[str, str], list[tuple[int, Event, int | None]]] = {}  # time, event, its own source time
    # a value's source time: its own trailer, else the first one recorded for that image and value
    source_of: dict[tuple[str, str], int] = {}
    manual_times: dict[str, list[int]] = {e: [] for e in envs}
    oldest: int | None = None
    for ev in events:
        env = ev.env
        if env not in wanted:
            continue
        t = cache.get(ev.time, _MISSING)
        if t == _MISSING:
            t = _seconds(ev.time, cache)
        if t is None or t > end:
            continue
        if oldest is None or t < oldest:
            oldest = t
        assert env is not None
        image = ev.image
        if image is None:
            if ev.action == "manual":
                manual_times[env].append(t)
            continue
        source = None if ev.source_time is None else _seconds(ev.source_time, cache)
        if source is not None and ev.new is not None:
            source_of[(image, ev.new)] = source  # read newest first: the first recorded, in any environment, stays
        key = (env, image)
        found = series.get(key)
        if found is None:
            series[key] = found = []
        found.append((t, ev, source))
    for changes in series.values():
        changes.reverse()
    start = int(since.timestamp()) if since is not None else oldest
    window = None if start is None else end - start
    days = window / DAY if window else None
    first = start if start is not None else end

    measured: dict[str, list[Series]] = {e: [] for e in envs}
    for (env, image), changes in sorted(series.items()):
        if changes[-1][0] < first:
            continue  # nothing of it in the window (history's order is by time, but for ties)
        deployments = failed = unknown = rollbacks = 0
        leads: list[int] = []
        restores: list[int] = []
        last = len(changes) - 1
        for i, (t, ev, source) in enumerate(changes):
            if t < first:
                continue
            action = ev.action
            if action == "rollback":
                rollbacks += 1
                continue
            new = ev.new
            if new is None or action == "manual":
                continue
            deployments += 1
            if source is None:
                source = source_of.get((image, new))
            if source is not None and source <= t:
                leads.append(t - source)
            else:
                unknown += 1
            if i < last:
                t_next, following, _ = changes[i + 1]
                if following.action == "rollback" and following.old == new:
                    failed += 1
                    restores.append(t_next - t)
        measured[env].append(Series(env, image, deployments, deployments / days if days else None,
                                    Durations.of(leads), unknown, failed, Durations.of(restores), rollbacks))

    out = []
    for env in envs:
        images = tuple(measured[env])
        deployed = sum(s.deployments for s in images)
        total = Series(env, None, deployed, deployed / days if days else None,
                       Durations.of(d for s in images for d in s.lead_time.seconds),
                       sum(s.lead_time_unknown for s in images), sum(s.failed for s in images),
                       Durations.of(d for s in images for d in s.restore.seconds), sum(s.rollbacks for s in images))
        out.append(EnvMeasures(env, total, images, sum(1 for t in manual_times[env] if t >= first)))
    begin = None if start is None else datetime.datetime.fromtimestamp(start, _UTC)
    if since is not None:
        begin = since
    return Measures(begin, now, tuple(out), _promotions(series, envs, first))


def _promotions(series: Mapping[tuple[str, str], Sequence[tuple[int, Event, int | None]]], envs: Sequence[str],
                first_second: int) -> tuple[Promotion, ...]:
    """First → last environment, per image: each deployment to the last environment in the window, from the first
    landing of the same value in the first environment at or before it."""
    if len(envs) < 2:
        return ()
    first, last = envs[0], envs[-1]
    out = []
    for (env, image), changes in sorted(series.items()):
        if env != last:
            continue
        landed: dict[str, int] = {}
        for t, ev, _ in series.get((first, image), ()):
            if ev.new is not None and ev.new not in landed and is_deployment(ev):
                landed[ev.new] = t
        deployed = [(t, ev.new) for t, ev, _ in changes if t >= first_second and is_deployment(ev)]
        if deployed:
            out.append(Promotion(image, first, last, Durations.of(
                t - landed[new] for t, new in deployed if new is not None and new in landed and landed[new] <= t)))
    return tuple(out)
