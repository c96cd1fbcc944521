"""``metrics``: the delivery measures read from the history gitops-tools wrote (one ``git log``), as values, as
OpenMetrics text, or pushed to a Prometheus Pushgateway.

The measures are computed by the pure :mod:`gitops_tools.core.metrics`; this module reads the history, names the
metrics and talks to the Pushgateway. prometheus_client is imported only for OpenMetrics output and pushing.
"""

from __future__ import annotations

import datetime
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gitops_tools.commands.reading import repository as open_repository
from gitops_tools.commands.reading import stream_history
from gitops_tools.core.history import Event, events, since_argument
from gitops_tools.core.metrics import EnvMeasures, Measures, Promotion, Series, measure
from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import GitopsError, TemporaryError, UsageError

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

PREFIX = "gitops_delivery_"
DEFAULT_JOB = "gitops-tools"
DEFAULT_TIMEOUT = 10.0


class Family(NamedTuple):
    """One metric the tool emits: name (without the suffixes a summary adds), type, unit, help, its labels."""

    name: str
    kind: str  # gauge or summary
    unit: str
    help: str
    labels: tuple[str, ...]


_ENV = ("repository", "environment")
_IMAGE = (*_ENV, "image")
FAMILIES = (
    Family(PREFIX + "window_seconds", "gauge", "seconds", "Length of the measured window: from --since (else the "
           "oldest change read) to --until (else the time of the run).", _ENV),
    Family(PREFIX + "window_end_timestamp_seconds", "gauge", "seconds", "End of the measured window (Unix time): the "
           "time of the run, unless --until.", _ENV),
    Family(PREFIX + "deployments", "gauge", "", "Deployments in the window: recorded changes that set the image "
           "(set-image, promote...), rollbacks and manual commits excluded.", _IMAGE),
    Family(PREFIX + "deployments_per_day", "gauge", "", "Deployment frequency: deployments in the window per day "
           "of the window.", _IMAGE),
    Family(PREFIX + "lead_time_seconds", "summary", "seconds", "Lead time for changes: from the source commit's "
           "time (Gitops-Source-Time) to the deployment landing in the environment.", _IMAGE),
    Family(PREFIX + "deployments_without_source_time", "gauge", "", "Deployments in the window whose source "
           "commit time is not recorded (not in the lead time).", _IMAGE),
    Family(PREFIX + "failed_deployments", "gauge", "", "Deployments in the window whose next recorded change of "
           "the image in the environment is a rollback away from them.", _IMAGE),
    Family(PREFIX + "change_failure_ratio", "gauge", "ratio", "Change failure rate: failed deployments / "
           "deployments (absent without deployments).", _IMAGE),
    Family(PREFIX + "rollbacks", "gauge", "", "Rollbacks in the window.", _IMAGE),
    Family(PREFIX + "time_to_restore_seconds", "summary", "seconds", "Time to restore: from a failed deployment "
           "landing to the rollback landing.", _IMAGE),
    Family(PREFIX + "promotion_lead_time_seconds", "summary", "seconds", "From the first landing of a value in "
           "source_environment (the first) to its landing in environment (the last).",
           (*_IMAGE, "source_environment")),
    Family(PREFIX + "manual_changes", "gauge", "", "Commits in the window that changed the environment without "
           "gitops-tools trailers: counted apart, in no other measure.", _ENV),
)
METRIC_NAMES = tuple(f.name for f in FAMILIES)


@dataclass(frozen=True)
class MetricsResult:
    """What ``gitops-tools metrics`` reports: the measures of each environment and image, with the labels the
    OpenMetrics output carries, and where they were pushed (``pushed``: the environments, one Pushgateway group
    each)."""

    repository: str
    measures: Measures
    pushgateway: str | None = None
    job: str | None = None
    pushed: tuple[str, ...] = ()

    @property
    def envs(self) -> tuple[EnvMeasures, ...]:
        return self.measures.envs

    @property
    def promotions(self) -> tuple[Promotion, ...]:
        return self.measures.promotions

    def env(self, name: str) -> EnvMeasures:
        return next(e for e in self.measures.envs if e.env == name)

    def as_dict(self) -> dict[str, object]:
        pushed = None
        if self.pushgateway is not None:
            pushed = {"url": self.pushgateway, "job": self.job,
                      "groups": [{"repository": self.repository, "environment": e} for e in self.pushed]}
        return {"repository": self.repository, **self.measures.as_dict(), "pushed": pushed}

    def openmetrics(self) -> str:
        """The measures in the OpenMetrics text format (prometheus_client's), ending with ``# EOF``."""
        from prometheus_client.openmetrics.exposition import generate_latest

        text: bytes = generate_latest(registry(self))  # type: ignore[no-untyped-call]
        return text.decode("utf-8")


# --- the command ---------------------------------------------------------------------------------------------


def metrics(cwd: Path, repo_dir: Path | None, envs: Sequence[str] = (), since: str | None = None,
            until: str | None = None, now: datetime.datetime | None = None, repository: str | None = None,
            pushgateway: str | None = None, job: str = DEFAULT_JOB, timeout: float = DEFAULT_TIMEOUT,
            env: Mapping[str, str] | None = None, verbose: bool = False) -> MetricsResult:
    """The measures of ``envs`` (default: every environment) from one ``git log``, over the window ``since`` ..
    ``until`` (default: the oldest change read .. ``now``); pushed to ``pushgateway`` (one group per environment,
    labelled with the repository and the environment) when given."""
    clock = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)  # commit times: seconds
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=datetime.timezone.utc)
    if pushgateway is not None:
        pushgateway = gateway_url(pushgateway)
        if not job.strip() or any(c in job for c in "/\n\r\t"):
            raise UsageError(f"--job {job!r}: not a Pushgateway job name", fix="give a name such as gitops-tools")
        if not 0 < timeout <= 600:
            raise UsageError(f"--timeout {timeout}: out of range", fix="give a number of seconds from 0.1 to 600")
    when = None if since is None else since_argument(since, clock)
    start = None if when is None else datetime.datetime.fromisoformat(when)
    end = clock
    if until is not None:  # the same forms as --since; later changes are read and left out
        try:
            end = datetime.datetime.fromisoformat(since_argument(until, clock))
        except UsageError as err:
            raise UsageError(err.problem.replace("--since", "--until", 1), fix=err.fix) from None
        if start is not None and end < start:
            raise UsageError(f"--until {until!r} is before --since {since!r}", fix="give an end after the start")
    ws = open_repository(cwd, repo_dir, verbose)
    chosen = [ws.config.environment(name).name for name in envs]
    order = [e.name for e in ws.config.environments]
    selected = [name for name in order if name in chosen] if chosen else order
    paths = {e.name: e.path for e in ws.config.environments}
    read = stream_history(ws, sorted({paths[name] for name in selected}), when)
    measures = measure(_events(read, paths), selected, end, start)
    variables = os.environ if env is None else env
    assert ws.root is not None
    label = repository or variables.get("CI_PROJECT_PATH") or ws.root.name
    result = MetricsResult(label, measures)
    if pushgateway is not None:
        result = MetricsResult(label, measures, pushgateway, job, push(result, pushgateway, job, timeout))
    return result


def _events(commits: Iterator[CommitRecord], paths: Mapping[str, str], batch: int = 512) -> Iterator[Event]:
    """History's events, a batch of commits at a time (each commit's events depend on that commit alone): the
    measures are computed while git is still writing the log, not after it."""
    while chunk := list(itertools.islice(commits, batch)):
        yield from events(chunk, paths)


# --- OpenMetrics ---------------------------------------------------------------------------------------------


def _summary(family: Family, labels: Sequence[str], count: int, total: float, median: float | None) -> Iterator[
        tuple[str, dict[str, str], float]]:
    names = dict(zip(family.labels, labels))
    if median is not None:
        yield family.name, {**names, "quantile": "0.5"}, median
    yield family.name + "_sum", names, float(total)
    yield family.name + "_count", names, float(count)


def samples(result: MetricsResult, only_env: str | None = None) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Every sample the tool emits, by family name: (sample name, labels, value)."""
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {f.name: [] for f in FAMILIES}
    by_name = {f.name: f for f in FAMILIES}
    repo = result.repository
    m = result.measures
    end = m.end.timestamp()

    def gauge(name: str, labels: Sequence[str], value: float | None) -> None:
        if value is not None:
            family = by_name[PREFIX + name]
            out[family.name].append((family.name, dict(zip(family.labels, labels)), float(value)))

    def summary(name: str, labels: Sequence[str], count: int, total: float, median: float | None) -> None:
        family = by_name[PREFIX + name]
        out[family.name].extend(_summary(family, labels, count, total, median))

    for e in m.envs:
        if only_env is not None and e.env != only_env:
            continue
        gauge("window_seconds", (repo, e.env), m.window_seconds)
        gauge("window_end_timestamp_seconds", (repo, e.env), end)
        gauge("manual_changes", (repo, e.env), e.manual)
        for s in e.images:
            assert s.image is not None
            labels = (repo, e.env, s.image)
            _series(s, labels, gauge, summary)
    for p in m.promotions:
        if only_env is not None and p.target_env != only_env:
            continue
        d = p.durations
        summary("promotion_lead_time_seconds", (repo, p.target_env, p.image, p.source_env), d.count, d.total,
                d.median)
    return out


def _series(s: Series, labels: Sequence[str], gauge: Any, summary: Any) -> None:
    gauge("deployments", labels, s.deployments)
    gauge("deployments_per_day", labels, s.per_day)
    summary("lead_time_seconds", labels, s.lead_time.count, s.lead_time.total, s.lead_time.median)
    gauge("deployments_without_source_time", labels, s.lead_time_unknown)
    gauge("failed_deployments", labels, s.failed)
    gauge("change_failure_ratio", labels, s.failure_rate)
    gauge("rollbacks", labels, s.rollbacks)
    summary("time_to_restore_seconds", labels, s.restore.count, s.restore.total, s.restore.median)


def registry(result: MetricsResult, only_env: str | None = None) -> Any:
    """A prometheus_client registry holding the measures (of one environment, for a Pushgateway group)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    class _Collector:
        def collect(self) -> Iterator[Metric]:
            found = samples(result, only_env)
            for family in FAMILIES:
                metric = Metric(family.name, family.help, family.kind, family.unit)
                for name, labels, value in found[family.name]:
                    metric.add_sample(name, labels, value)
                yield metric

        def describe(self) -> list[Metric]:
            return []

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector())
    return reg


# --- the Pushgateway -----------------------------------------------------------------------------------------


def gateway_url(url: str) -> str:
    """``url`` when it is a Pushgateway address this can push to (``http(s)://host[:port][/prefix]``), without a
    trailing slash; a UsageError saying what is wrong otherwise."""
    from urllib.parse import urlsplit

    fix = "give the Pushgateway's base URL, such as http://pushgateway.monitoring:9091"
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as err:
        raise UsageError(f"--pushgateway {url!r}: not a URL ({err})", fix=fix) from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"--pushgateway {url!r}: not an http:// or https:// URL", fix=fix)
    if not parts.hostname:
        raise UsageError(f"--pushgateway {url!r}: names no host", fix=fix)
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"--pushgateway {url!r}: credentials in a URL end up in logs",
                         fix="put the Pushgateway behind a network policy or a proxy that authenticates; "
                             "give the URL without user:password@")
    if parts.query or parts.fragment or any(c.isspace() or ord(c) < 32 for c in text):
        raise UsageError(f"--pushgateway {url!r}: has a query, a fragment or a blank", fix=fix)
    return text.rstrip("/")


def push(result: MetricsResult, url: str, job: str, timeout: float) -> tuple[str, ...]:
    """PUT each environment's measures into its own Pushgateway group (job, repository, environment), replacing
    what the group held. A Pushgateway that is down, times out or answers 5xx is a TemporaryError (exit 75); a
    4xx is an error (exit 1) with the Pushgateway's words. Returns the environments pushed."""
    import http.client
    import urllib.error

    from prometheus_client.exposition import push_to_gateway

    pushed: list[str] = []
    for e in result.measures.envs:
        where = f"{url} (job {job}, repository {result.repository}, environment {e.env})"
        done = f"; pushed before it: {', '.join(pushed)}" if pushed else ""
        try:
            push_to_gateway(url, job, registry(result, e.env),
                            grouping_key={"repository": result.repository, "environment": e.env}, timeout=timeout)
        except urllib.error.HTTPError as err:
            body = _body(err)
            problem = f"the Pushgateway at {where} answered {err.code} {err.reason}" + (f": {body}" if body else "")
            if err.code >= 500:
                raise TemporaryError(problem + done, fix="try again later (exit 75: a CI job can retry)") from None
            raise GitopsError(problem + done, fix="check the URL (the Pushgateway's base, without /metrics) and "
                                                  "the job name") from None
        except urllib.error.URLError as err:
            raise TemporaryError(f"cannot reach the Pushgateway at {where}: {_reason(err.reason, timeout)}" + done,
                                 fix="check that it runs and the URL; try again later (exit 75)") from None
        except (OSError, http.client.HTTPException) as err:
            raise TemporaryError(f"cannot reach the Pushgateway at {where}: {_reason(err, timeout)}" + done,
                                 fix="check that it runs and the URL; try again later (exit 75)") from None
        pushed.append(e.env)
    return tuple(pushed)


def _reason(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    text = str(reason) or type(reason).__name__
    return text.replace("\n", " ")[:300]


def _body(err: Any) -> str:
    try:
        raw = err.read(2000)
    except Exception:  # noqa: BLE001 - the answer's body is a courtesy
        return ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    return " ".join(text.split())[:300]
