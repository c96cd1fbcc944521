"""The delivery measures on plain values: history events in, measures out, a clock passed in (no git, no files)."""

from __future__ import annotations

import datetime

import pytest

from gitops_tools.core.changes import ci_trailers, commit_message
from gitops_tools.core.history import Event, events
from gitops_tools.core.metrics import Durations, measure, parse_time
from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import GitopsError

UTC = datetime.timezone.utc
ENVS = ("dev", "staging", "prod")
NOW = datetime.datetime(2026, 11, 6, tzinfo=UTC)
_count = iter(range(1, 10_000))


def at(day: int, hour: int, minute: int = 0) -> str:
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=UTC).isoformat()


def change(time: str, env: str, image: str, old: str | None, new: str | None, action: str = "set-image",
           source_time: str | None = None) -> Event:
    return Event(time, env, image, old, new, action, "A <a@example.com>", None, None, f"c{next(_count)}",
                 source_time=source_time)


def manual(time: str, env: str) -> Event:
    return Event(time, env, None, None, None, "manual", "A <a@example.com>", None, None, f"c{next(_count)}")


def newest_first(*evs: Event) -> list[Event]:
    return list(reversed(evs))


HISTORY = newest_first(
    manual(at(1, 0), "dev"), manual(at(1, 0), "staging"), manual(at(1, 0), "prod"),
    change(at(2, 10), "dev", "api", "api:1.0", "api:1.1", source_time="2026-11-02T09:00:00Z"),
    change(at(2, 12), "staging", "api", "api:1.0", "api:1.1", "promote", source_time="2026-11-02T09:00:00Z"),
    change(at(3, 9), "prod", "api", "api:1.0", "api:1.1", "promote"),  # by hand: no source time of its own
    change(at(3, 10), "prod", "api", "api:1.1", "api:1.0", "rollback"),
    change(at(4, 8), "dev", "web", "web:2.0", "web:2.1", source_time="2026-11-04T08:30:00+01:00"),
    change(at(4, 9), "dev", "web", "web:2.1", "web:2.2"),  # no source time anywhere: unknown
    change(at(4, 10), "dev", "web", "web:2.2", "web:2.1", "rollback"),
    manual(at(5, 10), "staging"),
)


def test_every_measure_of_a_known_history() -> None:
    m = measure(HISTORY, ENVS, NOW)
    assert (m.start, m.end, m.window_seconds) == (datetime.datetime(2026, 11, 1, tzinfo=UTC), NOW, 5 * 86400)
    dev, staging, prod = m.envs
    api, web = dev.images
    assert (api.image, api.deployments, api.per_day, api.lead_time.seconds, api.failed, api.rollbacks) == (
        "api", 1, 0.2, (3600,), 0, 0)
    assert (web.deployments, web.per_day, web.lead_time.seconds, web.lead_time_unknown) == (2, 0.4, (1800,), 1)
    assert (web.failed, web.failure_rate, web.restore.seconds, web.rollbacks) == (1, 0.5, (3600,), 1)
    total = dev.total
    assert (total.image, total.deployments, total.per_day, total.failed, total.rollbacks) == (None, 3, 0.6, 1, 1)
    assert total.failure_rate == pytest.approx(1 / 3)
    assert (total.lead_time.seconds, total.lead_time.median, total.lead_time.mean) == ((1800, 3600), 2700.0, 2700.0)
    assert dev.manual == 1
    assert [(s.image, s.deployments, s.lead_time.seconds) for s in staging.images] == [("api", 1, (3 * 3600,))]
    assert staging.manual == 2
    (p_api,) = prod.images
    # prod's promotion by hand takes the source time recorded for the same value in dev
    assert (p_api.deployments, p_api.lead_time.seconds, p_api.failed, p_api.failure_rate) == (1, (86400,), 1, 1.0)
    assert p_api.restore.seconds == (3600,)
    (promotion,) = m.promotions
    assert (promotion.image, promotion.source_env, promotion.target_env) == ("api", "dev", "prod")
    assert promotion.durations.seconds == (23 * 3600,)


def test_since_makes_the_window_and_earlier_events_are_context() -> None:
    m = measure(HISTORY, ENVS, NOW, since=datetime.datetime(2026, 11, 3, tzinfo=UTC))
    assert m.window_seconds == 3 * 86400
    dev, staging, prod = m.envs
    assert [s.image for s in dev.images] == ["web"]  # api changed in dev only before the window
    assert dev.images[0].per_day == pytest.approx(2 / 3)
    assert (staging.images, staging.manual) == ((), 1)
    assert prod.images[0].lead_time.seconds == (86400,)  # the dev event before the window still says the source
    assert m.promotions[0].durations.seconds == (23 * 3600,)
    # what `metrics --since` reads is the window only (git log --since): then the context is not there
    read = [e for e in HISTORY if e.time >= at(3, 0)]
    m = measure(read, ENVS, NOW, since=datetime.datetime(2026, 11, 3, tzinfo=UTC))
    prod = m.envs[2].images[0]
    assert (prod.lead_time.count, prod.lead_time_unknown) == (0, 1)
    assert m.promotions[0].durations.count == 0


def test_a_rollback_counts_only_against_the_deployment_it_undoes() -> None:
    history = newest_first(
        change(at(2, 1), "dev", "api", "1.0", "1.1"),
        change(at(2, 2), "dev", "api", "1.1", "1.2"),
        change(at(2, 3), "dev", "api", "9.9", "1.0", "rollback"),  # away from a value set by hand, not from 1.2
        change(at(2, 4), "dev", "api", "1.0", "1.3"),
        change(at(2, 6), "dev", "api", "1.3", "1.0", "rollback"),  # jumps back over 1.3: 1.3 failed
        change(at(2, 7), "dev", "other", "1", "2"),
    )
    (api, other) = measure(history, ["dev"], NOW).envs[0].images
    assert (api.deployments, api.failed, api.restore.seconds, api.rollbacks) == (3, 1, (7200,), 2)
    assert (other.failed, other.failure_rate) == (0, 0.0)


def test_what_is_not_a_deployment() -> None:
    history = newest_first(
        change(at(2, 1), "dev", "api", "1.0", None),  # removed
        change(at(2, 2), "dev", "api", None, "1.0", "rollback"),  # a rollback
        manual(at(2, 3), "dev"),
        change(at(2, 4), "qa", "api", "1.0", "1.1"),  # an environment not asked for
        change(at(7, 4), "dev", "api", "1.0", "1.1"),  # after the end of the window
    )
    (dev,) = measure(history, ["dev"], NOW).envs
    (api,) = dev.images
    assert (api.deployments, api.rollbacks, api.failure_rate, dev.manual) == (0, 1, None, 1)


def test_an_empty_history_and_an_empty_window() -> None:
    m = measure([], ENVS, NOW)
    assert (m.start, m.window_seconds, m.promotions) == (None, None, ())
    assert [(e.env, e.images, e.total.deployments, e.total.per_day) for e in m.envs] == [
        ("dev", (), 0, None), ("staging", (), 0, None), ("prod", (), 0, None)]
    m = measure([change(at(2, 1), "dev", "api", "1", "2")], ["dev"], datetime.datetime(2026, 11, 2, 1, tzinfo=UTC))
    assert (m.window_seconds, m.envs[0].images[0].per_day) == (0, None)


def test_source_times_that_are_missing_broken_or_later_than_the_landing_are_unknown() -> None:
    history = newest_first(
        change(at(2, 1), "dev", "api", "1", "2", source_time="2026-11-02T02:00:00Z"),  # after the landing
        change(at(2, 2), "dev", "api", "2", "3", source_time="2026-02-30T00:00:00Z"),  # no such day
        change(at(2, 3), "dev", "api", "3", "4", source_time="2026-11-02T02:59:59.999Z"),  # fraction dropped
    )
    (api,) = measure(history, ["dev"], NOW).envs[0].images
    assert (api.lead_time.seconds, api.lead_time_unknown) == ((1,), 2)


def test_promotion_needs_two_environments_and_a_landing_before() -> None:
    history = newest_first(
        change(at(2, 5), "prod", "api", "1", "2"),  # a hotfix straight to prod
        change(at(2, 6), "dev", "api", "1", "2"),
        change(at(3, 6), "dev", "api", "2", "3"),
        change(at(3, 7), "dev", "api", "3", "4"),
        change(at(4, 6), "prod", "api", "2", "3"),
        change(at(4, 7), "prod", "api", "3", "4"),
    )
    assert measure(history, ["prod"], NOW).promotions == ()
    (p,) = measure(history, ["dev", "prod"], NOW).promotions
    assert p.durations.seconds == (86400, 86400)
    assert p.durations.as_dict() == {"count": 2, "sum_seconds": 172800, "median_seconds": 86400.0,
                                     "mean_seconds": 86400.0, "max_seconds": 86400}


def test_durations_and_times() -> None:
    assert Durations.of([5, 1, 3, 2]).median == 2.5
    assert Durations.of([5, 1, 3]).median == 3.0
    assert Durations().as_dict() == {"count": 0, "sum_seconds": 0, "median_seconds": None, "mean_seconds": None,
                                     "max_seconds": None}
    assert parse_time("2026-11-02T09:00:00Z") == datetime.datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert parse_time("2026-11-02T10:00:00+01:00") == datetime.datetime(2026, 11, 2, 9, tzinfo=UTC)
    for bad in (None, "", "yesterday", "2026-11-02", "2026-11-02T09:00:00", "2026-13-01T00:00:00Z"):
        assert parse_time(bad) is None


def test_as_dict_is_what_json_prints() -> None:
    m = measure(HISTORY, ENVS, NOW)
    data = m.as_dict()
    assert (data["since"], data["until"], data["window_seconds"]) == (
        "2026-11-01T00:00:00+00:00", "2026-11-06T00:00:00+00:00", 432000)
    prod = data["environments"][2]  # type: ignore[index]
    assert prod["manual_changes"] == 1
    assert prod["images"][0] == {
        "env": "prod", "image": "api", "deployments": 1, "deployments_per_day": 0.2,
        "lead_time": {"count": 1, "sum_seconds": 86400, "median_seconds": 86400.0, "mean_seconds": 86400.0,
                      "max_seconds": 86400},
        "lead_time_unknown": 0, "failed_deployments": 1, "change_failure_rate": 1.0,
        "time_to_restore": {"count": 1, "sum_seconds": 3600, "median_seconds": 3600.0, "mean_seconds": 3600.0,
                            "max_seconds": 3600},
        "rollbacks": 1}
    assert data["promotions"] == [{"image": "api", "from": "dev", "to": "prod", "count": 1, "sum_seconds": 82800,
                                   "median_seconds": 82800.0, "mean_seconds": 82800.0, "max_seconds": 82800}]


# --- the Gitops-Source-Time trailer: written from CI_COMMIT_TIMESTAMP, read back by history -----------------------


def test_ci_commit_timestamp_becomes_a_trailer_and_is_validated() -> None:
    assert ci_trailers({"CI_COMMIT_TIMESTAMP": "2026-11-20T09:58:00Z"}) == [
        ("Gitops-Source-Time", "2026-11-20T09:58:00Z")]
    assert ci_trailers({"CI_COMMIT_TIMESTAMP": "2026-11-20T09:58:00.123+01:00"}) == [
        ("Gitops-Source-Time", "2026-11-20T09:58:00.123+01:00")]
    assert ci_trailers({"CI_COMMIT_TIMESTAMP": ""}) == []
    for bad in ("yesterday", "2026-11-20 09:58:00", "2026-11-20T09:58:00", "2026-11-20T09:58:00Z\nGitops-Change: x"):
        with pytest.raises(GitopsError) as refused:
            ci_trailers({"CI_COMMIT_TIMESTAMP": bad})
        assert "CI_COMMIT_TIMESTAMP" in refused.value.problem


def test_history_reads_the_source_time_back() -> None:
    from gitops_tools.core.changes import Change, ImageUpdate

    edit = Change("environments/dev/kustomization.yaml", "images[name=aegis/api].newTag", "1.0", "1.1")
    update = ImageUpdate("aegis/api", "r/api:1.0", "r/api:1.1", "updated", (edit,))
    message = commit_message("dev", "set-image", [update], extra_trailers=ci_trailers(
        {"CI_COMMIT_TIMESTAMP": "2026-11-20T09:58:00Z", "CI_PIPELINE_ID": "7"}))
    assert message.endswith("Gitops-Pipeline-Id: 7\nGitops-Source-Time: 2026-11-20T09:58:00Z\n")
    record = CommitRecord("c1", message, ("environments/dev/kustomization.yaml",), ("c0",), at(20, 10))
    (ev,) = events([record], {"dev": "environments/dev"})
    assert (ev.source_time, ev.pipeline_id) == ("2026-11-20T09:58:00Z", "7")
    assert ev.as_dict()["source_time"] == "2026-11-20T09:58:00Z"
    # a value that is not a time as gitops-tools writes one is not believed
    forged = CommitRecord("c2", message.replace("2026-11-20T09:58:00Z", "soon"), record.files, ("c1",), at(20, 11))
    assert events([forged], {"dev": "environments/dev"})[0].source_time is None
