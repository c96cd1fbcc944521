"""`gitops-tools metrics` on a real repository whose history the tool wrote (image set, promote, rollback with CI
variables and fixed commit dates): exact measures as a table, JSON and OpenMetrics; pushed to a real Prometheus
Pushgateway and read back from it; `promtool check metrics`; the Grafana dashboard's queries name only what the tool
emits; the `.gitops:metrics` job template runs with gitlab-ci-local."""

from __future__ import annotations

import datetime
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REAL_HOME, ROOT, copy_checkout, git, kubectl, run_cli, tool_or_skip

PUSHGATEWAY_INSTALL = "apt-get install prometheus-pushgateway (bash ci/install-test-tools.sh installs it)"
PROMTOOL_INSTALL = "apt-get install prometheus, which has promtool (bash ci/install-test-tools.sh installs it)"
UNTIL = "2026-11-06T00:00:00Z"
API, WEB = "registry.example.com/aegis/api", "registry.example.com/aegis/web"
# What every command of these tests is run with: no CI variable of the machine running the tests gets in.
NO_CI = {var: "" for var in ("CI_COMMIT_TIMESTAMP", "CI_PIPELINE_ID", "CI_PIPELINE_IID", "CI_PIPELINE_URL",
                             "CI_COMMIT_SHA", "CI_PROJECT_PATH", "GITLAB_USER_EMAIL", "GITLAB_USER_NAME",
                             "GITOPS_OUTPUT", "GITOPS_PUSHGATEWAY_URL", "GITOPS_METRICS_SINCE",
                             "GITOPS_METRICS_UNTIL", "GITOPS_METRICS_REPOSITORY", "GITOPS_PUSHGATEWAY_JOB")}

CONFIG = """\
environments:
  - name: dev
  - name: staging
  - name: prod
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: aegis/api
    newName: registry.example.com/aegis/api
    newTag: 1.0.0
  - name: aegis/web
    newName: registry.example.com/aegis/web
    newTag: 2.0.0
"""


def isolated_env(home: Path) -> dict[str, str]:
    """Git without the machine's configuration (a module-scoped fixture runs outside the autouse isolation)."""
    return {**NO_CI, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_COMMITTER_NAME": "Alice",
            "GIT_COMMITTER_EMAIL": "alice@example.com", "GIT_TEMPLATE_DIR": ""}


def tool(repo: Path, when: str, *args: str, **ci: str) -> None:
    r = run_cli(repo, *args, env={**isolated_env(repo.parent / "home"), **ci}, date=when)
    assert r.returncode == 0, r.stdout + r.stderr


def build_history(repo: Path) -> Path:
    """The history of tests/test_metrics_core.py's HISTORY, written by the tool itself:

    11-01 00:00  the repository, by hand (a manual event in each environment)
    11-02 10:00  dev: api 1.0.0 -> 1.1.0           (CI: source commit at 09:00, pipeline 101)
    11-02 12:00  promote dev staging (api)        (CI: the same source commit, pipeline 102)
    11-03 09:00  promote staging prod (api)       (by hand: no CI variables)
    11-03 10:00  rollback prod (api back to 1.0.0)
    11-04 08:00  dev: web 2.0.0 -> 2.1.0           (CI: source commit at 08:30+01:00, pipeline 103)
    11-04 09:00  dev: web 2.1.0 -> 2.2.0           (by hand)
    11-04 10:00  rollback dev (web back to 2.1.0)
    11-05 10:00  staging edited by hand
    """
    home = repo.parent / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, **isolated_env(home)}
    repo.mkdir()
    (repo / "gitops-tools.yaml").write_text(CONFIG)
    for name in ("dev", "staging", "prod"):
        (repo / "environments" / name).mkdir(parents=True)
        (repo / "environments" / name / "kustomization.yaml").write_text(KUSTOMIZATION)

    def by_hand(when: str, message: str) -> None:
        dated = {**env, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        for args in (["add", "-A"], ["commit", "-qm", message]):
            subprocess.run(["git", *args], cwd=repo, env=dated, check=True, capture_output=True)

    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)
    by_hand("2026-11-01T00:00:00Z", "the repository")
    tool(repo, "2026-11-02T10:00:00Z", "image", "set", "dev", "aegis/api=*:1.1.0",
         CI_COMMIT_TIMESTAMP="2026-11-02T09:00:00Z", CI_PIPELINE_ID="101")
    tool(repo, "2026-11-02T12:00:00Z", "promote", "dev", "staging",
         CI_COMMIT_TIMESTAMP="2026-11-02T09:00:00Z", CI_PIPELINE_ID="102")
    tool(repo, "2026-11-03T09:00:00Z", "promote", "staging", "prod")
    tool(repo, "2026-11-03T10:00:00Z", "rollback", "prod")
    tool(repo, "2026-11-04T08:00:00Z", "image", "set", "dev", "aegis/web=*:2.1.0",
         CI_COMMIT_TIMESTAMP="2026-11-04T08:30:00+01:00", CI_PIPELINE_ID="103")
    tool(repo, "2026-11-04T09:00:00Z", "image", "set", "dev", "aegis/web=*:2.2.0")
    tool(repo, "2026-11-04T10:00:00Z", "rollback", "dev")
    path = repo / "environments/staging/kustomization.yaml"
    path.write_text(path.read_text() + "# edited by hand\n")
    by_hand("2026-11-05T10:00:00Z", "staging: a comment")
    return repo


@pytest.fixture(scope="module")
def history_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_history(tmp_path_factory.mktemp("metrics") / "gitops")


def metrics(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(repo, "metrics", "--repository", "aegis/gitops", *args, env={**NO_CI, **env})


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def untouched(repo: Path) -> tuple[str, str]:
    return git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")


# --- the measures ------------------------------------------------------------------------------------------------


def test_the_table(history_repo: Path) -> None:
    out = ok(metrics(history_repo, "--until", UNTIL))
    assert out.splitlines() == [
        "aegis/gitops: since 2026-11-01T00:00:00+00:00 until 2026-11-06T00:00:00+00:00 (5d)",
        "ENV      IMAGE      DEPLOYS  PER DAY  LEAD TIME  FAILED  CFR   RESTORE  ROLLBACKS",
        "dev      aegis/api  1        0.20     1h         0       0%    -        0",
        "dev      aegis/web  2        0.40     30m        1       50%   1h       1",
        "dev      (all)      3        0.60     45m        1       33%   1h       1",
        "staging  aegis/api  1        0.20     3h         0       0%    -        0",
        "prod     aegis/api  1        0.20     1d         1       100%  1h       1",
        "1 deployment(s) without a recorded source commit time (Gitops-Source-Time): not in LEAD TIME",
        "",
        "IMAGE      dev -> prod  PROMOTIONS",
        "aegis/api  23h          1",
        "dev: 1 change(s) by hand (commits without gitops-tools trailers), counted apart: in no measure",
        "staging: 2 change(s) by hand (commits without gitops-tools trailers), counted apart: in no measure",
        "prod: 1 change(s) by hand (commits without gitops-tools trailers), counted apart: in no measure",
    ]


def test_json_has_every_measure_exactly(history_repo: Path) -> None:
    data = json.loads(ok(metrics(history_repo, "-o", "json", "--until", UNTIL)))
    assert (data["repository"], data["since"], data["until"], data["window_seconds"], data["pushed"]) == (
        "aegis/gitops", "2026-11-01T00:00:00+00:00", "2026-11-06T00:00:00+00:00", 432000, None)
    dev, staging, prod = data["environments"]
    assert [(e["env"], e["manual_changes"]) for e in (dev, staging, prod)] == [("dev", 1), ("staging", 2), ("prod", 1)]
    web = dev["images"][1]
    assert web == {
        "env": "dev", "image": "aegis/web", "deployments": 2, "deployments_per_day": 0.4,
        "lead_time": {"count": 1, "sum_seconds": 1800, "median_seconds": 1800.0, "mean_seconds": 1800.0,
                      "max_seconds": 1800},
        "lead_time_unknown": 1, "failed_deployments": 1, "change_failure_rate": 0.5,
        "time_to_restore": {"count": 1, "sum_seconds": 3600, "median_seconds": 3600.0, "mean_seconds": 3600.0,
                            "max_seconds": 3600},
        "rollbacks": 1}
    assert dev["total"]["deployments"] == 3 and dev["total"]["lead_time"]["median_seconds"] == 2700.0
    # prod's promotion was made by hand: its lead time starts at the source time dev recorded for the same value
    assert (prod["images"][0]["lead_time"]["sum_seconds"], prod["images"][0]["change_failure_rate"]) == (86400, 1.0)
    assert data["promotions"] == [{"image": "aegis/api", "from": "dev", "to": "prod", "count": 1,
                                   "sum_seconds": 82800, "median_seconds": 82800.0, "mean_seconds": 82800.0,
                                   "max_seconds": 82800}]


def test_the_api_returns_the_same_values(history_repo: Path) -> None:
    from gitops_tools import MetricsResult, Repository

    now = datetime.datetime(2026, 11, 6, tzinfo=datetime.timezone.utc)
    result = Repository(history_repo, env=NO_CI).metrics(now=now)
    assert isinstance(result, MetricsResult)
    assert result.repository == "gitops"  # the checkout's directory name, without CI_PROJECT_PATH
    assert Repository(history_repo, env={"CI_PROJECT_PATH": "aegis/gitops"}).metrics(now=now).repository == \
        "aegis/gitops"
    prod = result.env("prod").images[0]
    assert (prod.image, prod.deployments, prod.failed, prod.restore.seconds) == ("aegis/api", 1, 1, (3600,))
    cli = json.loads(ok(metrics(history_repo, "-o", "json", "--until", UNTIL)))
    assert {**result.as_dict(), "repository": "aegis/gitops"} == cli
    # two environments: the promotion measure runs from the first to the last of them
    two = Repository(history_repo, env=NO_CI).metrics(["prod", "staging"], now=now)
    assert [e.env for e in two.envs] == ["staging", "prod"]
    assert [(p.source_env, p.target_env, p.durations.seconds) for p in two.promotions] == [
        ("staging", "prod", (21 * 3600,))]


def test_since_reads_only_the_window(history_repo: Path) -> None:
    data = json.loads(ok(metrics(history_repo, "-o", "json", "--since", "2026-11-03", "--until", UNTIL)))
    assert (data["since"], data["window_seconds"]) == ("2026-11-03T00:00:00+00:00", 3 * 86400)
    dev, staging, prod = data["environments"]
    assert [i["image"] for i in dev["images"]] == ["aegis/web"]
    assert (staging["images"], staging["manual_changes"]) == ([], 1)
    # dev's landing of 1.1.0 (with its source time) is before the window: not read, so not known
    assert (prod["images"][0]["lead_time"]["count"], prod["images"][0]["lead_time_unknown"]) == (0, 1)
    assert data["promotions"][0]["count"] == 0


def test_history_shows_the_source_time(history_repo: Path) -> None:
    events = json.loads(ok(run_cli(history_repo, "-o", "json", "history", "dev", env=NO_CI)))["events"]
    assert [(e["image"], e["action"], e["source_time"], e["pipeline_id"]) for e in events] == [
        ("aegis/web", "rollback", None, None),
        ("aegis/web", "set-image", None, None),
        ("aegis/web", "set-image", "2026-11-04T08:30:00+01:00", "103"),
        ("aegis/api", "set-image", "2026-11-02T09:00:00Z", "101"),
        (None, "manual", None, None),
    ]


def test_a_ci_commit_timestamp_that_is_not_one_is_refused(history_repo: Path, tmp_path: Path) -> None:
    repo = copy_checkout(history_repo, tmp_path / "copy")
    before = untouched(repo)
    r = run_cli(repo, "image", "set", "dev", "aegis/api=*:1.2.0", env={**NO_CI, "CI_COMMIT_TIMESTAMP": "yesterday"})
    assert r.returncode == 1
    assert "error: CI_COMMIT_TIMESTAMP 'yesterday' is not what GitLab CI sets (an ISO 8601 time such as " \
           "2026-11-20T09:58:00Z)" in r.stderr
    assert untouched(repo) == before


def test_bad_input_is_a_clear_error_and_changes_nothing(history_repo: Path) -> None:
    before = untouched(history_repo)
    cases = [
        (["--since", "last monday"], 2, "error: --since 'last monday': not a date or a time span"),
        (["--until", "soon"], 2, "error: --until 'soon': not a date or a time span"),
        (["--since", "2026-11-05", "--until", "2026-11-04"], 2,
         "error: --until '2026-11-04' is before --since '2026-11-05'"),
        (["qa"], 1, 'unknown environment "qa"'),
        (["--pushgateway", "pushgateway:9091"], 2,
         "error: --pushgateway 'pushgateway:9091': not an http:// or https:// URL"),
        (["--pushgateway", "http://"], 2, "error: --pushgateway 'http://': names no host"),
        (["--pushgateway", "http://localhost:99999"], 2, "error: --pushgateway 'http://localhost:99999': not a URL"),
        (["--pushgateway", "http://user:secret@localhost:9091"], 2, "credentials in a URL end up in logs"),
        (["--pushgateway", "http://localhost:9091/?x=1"], 2, "has a query, a fragment or a blank"),
        (["--pushgateway", "http://localhost:9091", "--job", "a/b"], 2, "error: --job 'a/b': not a Pushgateway job"),
        (["-o", "yaml"], 2, "Invalid value for '-o' / '--output'"),
    ]
    for args, code, message in cases:
        r = metrics(history_repo, *args)
        assert (r.returncode, r.stdout) == (code, ""), (args, r.stdout, r.stderr)
        assert message in r.stderr, (args, r.stderr)
    assert untouched(history_repo) == before


# --- OpenMetrics -------------------------------------------------------------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str, openmetrics: bool = False) -> Samples:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families  # type: ignore[assignment]
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def check_values(s: Samples, **extra: str) -> None:
    repo = {"repository": "aegis/gitops", **extra}
    assert value(s, "gitops_delivery_window_seconds", environment="dev", **repo) == 432000
    assert value(s, "gitops_delivery_window_end_timestamp_seconds", environment="prod", **repo) == \
        datetime.datetime(2026, 11, 6, tzinfo=datetime.timezone.utc).timestamp()
    web = {**repo, "environment": "dev", "image": "aegis/web"}
    assert value(s, "gitops_delivery_deployments", **web) == 2
    assert value(s, "gitops_delivery_deployments_per_day", **web) == 0.4
    assert value(s, "gitops_delivery_lead_time_seconds", quantile="0.5", **web) == 1800
    assert value(s, "gitops_delivery_lead_time_seconds_sum", **web) == 1800
    assert value(s, "gitops_delivery_lead_time_seconds_count", **web) == 1
    assert value(s, "gitops_delivery_deployments_without_source_time", **web) == 1
    assert value(s, "gitops_delivery_failed_deployments", **web) == 1
    assert value(s, "gitops_delivery_change_failure_ratio", **web) == 0.5
    assert value(s, "gitops_delivery_rollbacks", **web) == 1
    assert value(s, "gitops_delivery_time_to_restore_seconds_sum", **web) == 3600
    assert value(s, "gitops_delivery_time_to_restore_seconds_count", **web) == 1
    prod = {**repo, "environment": "prod", "image": "aegis/api"}
    assert value(s, "gitops_delivery_lead_time_seconds", quantile="0.5", **prod) == 86400
    assert value(s, "gitops_delivery_change_failure_ratio", **prod) == 1
    assert value(s, "gitops_delivery_promotion_lead_time_seconds", quantile="0.5", source_environment="dev",
                 **prod) == 82800
    assert value(s, "gitops_delivery_manual_changes", environment="staging", **repo) == 2


def test_openmetrics_output(history_repo: Path) -> None:
    text = ok(metrics(history_repo, "-o", "openmetrics", "--until", UNTIL))
    assert text.endswith("# EOF\n")
    assert "# TYPE gitops_delivery_lead_time_seconds summary\n# UNIT gitops_delivery_lead_time_seconds seconds\n" \
        in text
    check_values(parse(text, openmetrics=True))
    # no deployment, no failure rate: the series is absent rather than a made-up 0
    assert not [k for k in parse(text, openmetrics=True) if k[0] == "gitops_delivery_change_failure_ratio"
                and ("environment", "staging") in k[1] and ("image", "aegis/web") in k[1]]


def test_promtool_accepts_the_exposition(history_repo: Path, tmp_path: Path) -> None:
    promtool = tool_or_skip("promtool", install=PROMTOOL_INSTALL)["promtool"]
    text = ok(metrics(history_repo, "-o", "openmetrics", "--until", UNTIL))
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# --- the Pushgateway ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


class Pushgateway:
    """The real Pushgateway (Debian's prometheus-pushgateway) on a loopback port of its own, metrics in memory."""

    def __init__(self, binary: str, data: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data / "pushgateway.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{self.port}",
                                          "--persistence.file=", "--log.level=warn"],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if get(self.url + "/-/ready").strip():
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the Pushgateway did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def metrics(self) -> str:
        return get(self.url + "/metrics")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    binary = tool_or_skip("prometheus-pushgateway", install=PUSHGATEWAY_INSTALL)["prometheus-pushgateway"]
    gateway = Pushgateway(binary, tmp_path)
    try:
        yield gateway
    finally:
        gateway.stop()


def test_push_to_a_real_pushgateway_and_read_it_back(history_repo: Path, pushgateway: Pushgateway) -> None:
    r = metrics(history_repo, "--until", UNTIL, "--pushgateway", pushgateway.url + "/", "--job", "delivery")
    out = ok(r)
    assert out.splitlines()[-1] == (f"pushed to {pushgateway.url} (job=delivery repository=aegis/gitops): "
                                    "environment=dev, environment=staging, environment=prod")
    exposed = pushgateway.metrics()
    check_values(parse(exposed), job="delivery")
    # one group per environment, each labelled with the grouping key
    groups = {(dict(ls)["environment"], dict(ls)["repository"]) for (n, ls) in parse(exposed)
              if n == "push_time_seconds"}
    assert groups == {("dev", "aegis/gitops"), ("staging", "aegis/gitops"), ("prod", "aegis/gitops")}
    if tool_or_skip("promtool", install=PROMTOOL_INSTALL):
        done = subprocess.run(["promtool", "check", "metrics"], input=exposed, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr

    # A later push replaces its group: with the window from 11-03 on, dev's api series is gone, and JSON says
    # what was pushed.
    data = json.loads(ok(metrics(history_repo, "-o", "json", "--since", "2026-11-03", "--until", UNTIL,
                                 "--pushgateway", pushgateway.url, "--job", "delivery", "dev")))
    assert data["pushed"] == {"url": pushgateway.url, "job": "delivery",
                              "groups": [{"repository": "aegis/gitops", "environment": "dev"}]}
    after = parse(pushgateway.metrics())
    dev_images = {dict(ls)["image"] for (n, ls) in after
                  if n == "gitops_delivery_deployments" and ("environment", "dev") in ls}
    assert dev_images == {"aegis/web"}
    assert value(after, "gitops_delivery_window_seconds", environment="dev") == 3 * 86400
    assert value(after, "gitops_delivery_window_seconds", environment="prod") == 432000  # not pushed again


def test_openmetrics_output_and_a_push_together(history_repo: Path, pushgateway: Pushgateway) -> None:
    r = metrics(history_repo, "-o", "openmetrics", "--until", UNTIL, "--pushgateway", pushgateway.url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("# EOF\n")  # stdout holds the exposition alone; what was pushed goes to stderr
    assert r.stderr.startswith(f"pushed to {pushgateway.url} (job=gitops-tools repository=aegis/gitops)")


def test_a_pushgateway_that_is_down_is_a_temporary_failure(history_repo: Path, pushgateway: Pushgateway) -> None:
    pushgateway.stop()
    before = untouched(history_repo)
    r = metrics(history_repo, "--pushgateway", pushgateway.url)
    assert r.returncode == 75, r.stderr
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"error: cannot reach the Pushgateway at {pushgateway.url} (job gitops-tools, repository aegis/gitops, "
        "environment dev): [Errno 111] Connection refused",
        "hint: check that it runs and the URL; try again later (exit 75)"]
    assert untouched(history_repo) == before


def test_a_4xx_of_the_real_pushgateway_is_an_error(history_repo: Path, pushgateway: Pushgateway) -> None:
    # another job pushed a metric of the same name with another type: the Pushgateway refuses ours (400)
    other = b"# TYPE gitops_delivery_deployments counter\ngitops_delivery_deployments 1\n"
    request = urllib.request.Request(pushgateway.url + "/metrics/job/other", method="PUT", data=other)
    urllib.request.urlopen(request, timeout=5).close()
    r = metrics(history_repo, "--pushgateway", pushgateway.url)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"error: the Pushgateway at {pushgateway.url} (job gitops-tools, repository "
                               "aegis/gitops, environment dev) answered 400 Bad Request: ")
    assert "gitops_delivery_deployments" in r.stderr
    # a wrong base URL: 404
    r = metrics(history_repo, "--pushgateway", pushgateway.url + "/prefix")
    assert r.returncode == 1 and "answered 404 Not Found" in r.stderr, r.stderr


class _Unavailable(http.server.BaseHTTPRequestHandler):
    def do_PUT(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b"maintenance\n")

    def log_message(self, *args: object) -> None:
        pass


def test_a_5xx_and_a_timeout_are_temporary_failures(history_repo: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        r = metrics(history_repo, "--pushgateway", url)
        assert r.returncode == 75, r.stderr
        assert "answered 503 Service Unavailable: maintenance" in r.stderr
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        r = metrics(history_repo, "--pushgateway", url, "--timeout", "0.5")
        assert time.monotonic() - started < 20
    assert r.returncode == 75, r.stderr
    assert "no answer within 0.5 s" in r.stderr, r.stderr


# --- the Grafana dashboard ---------------------------------------------------------------------------------------

DASHBOARD = ROOT / "base/monitoring/dashboards/delivery.json"
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: every identifier that is not a function, a keyword, a label
    (inside braces, by/without/on/ignoring lists), a string, a duration or a Grafana variable."""
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "0", expr)  # Grafana variables
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', text)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?!\w)", text):
        if text[m.end():].lstrip().startswith("(") or m.group(1).lower() in _KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else ""
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", text)
        if m:
            exprs.append(m.group(1))
        elif variable["type"] == "query":
            exprs.append(text)
    return exprs


def test_metric_names_are_found_in_promql() -> None:
    assert metric_names('sum by (environment) (a_b{x="y", z=~"$env"}) / ignoring(q) rate(c:d[5m] offset 1h)') == {
        "a_b", "c:d"}
    assert metric_names('time() - max(m_seconds{r="$repository"}) > bool 1e3') == {"m_seconds"}


def test_every_dashboard_query_names_only_metrics_the_tool_emits(history_repo: Path) -> None:
    exposition = parse(ok(metrics(history_repo, "-o", "openmetrics", "--until", UNTIL)), openmetrics=True)
    emitted = {name for name, _ in exposition}
    queries = dashboard_queries()
    assert len(queries) >= 15
    named: set[str] = set()
    for expr in queries:
        names = metric_names(expr)
        assert names, expr
        assert names <= emitted, (expr, names - emitted)
        named |= names
    # the four measures are all on it
    assert {"gitops_delivery_deployments_per_day", "gitops_delivery_lead_time_seconds_sum",
            "gitops_delivery_failed_deployments", "gitops_delivery_time_to_restore_seconds_sum"} <= named
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "gitops-delivery"
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_the_dashboard_ships_as_a_configmap_for_grafanas_sidecar() -> None:
    out = subprocess.run([kubectl(), "kustomize", str(ROOT / "environments/prod")], check=True, capture_output=True,
                         text=True).stdout
    (cm,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "ConfigMap"
             and d["metadata"]["name"] == "gitops-delivery-dashboard"]
    assert cm["metadata"]["namespace"] == "aegis-prod"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["data"] == {"gitops-delivery.json": DASHBOARD.read_text()}


# --- the scheduled job template ----------------------------------------------------------------------------------


def test_the_job_template_parses() -> None:
    class Loader(yaml.SafeLoader):  # GitLab's `!reference [job, key]` tag (the GitOps jobs share a clone step)
        pass

    Loader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))
    templates = yaml.load((ROOT / "ci/templates.gitlab-ci.yml").read_text(), Loader=Loader)  # noqa: S506
    job = templates[".gitops:metrics"]
    assert {"PUSHGATEWAY_URL", "METRICS_SINCE", "METRICS_ENVIRONMENTS", "METRICS_JOB"} <= set(job["variables"])
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in job["rules"]
    assert job["retry"]["exit_codes"] == [75]
    assert job["script"][0] == [".gitops:tools", "script"]  # !reference: the published wheel, installed
    assert job["script"][-1].startswith('PATH="$GITOPS_TOOLS_DIR/.venv/bin:$PATH" gitops-tools metrics '
                                        '$METRICS_ENVIRONMENTS')


def gitlab_ci_local(cwd: Path, job: str, *variables: str) -> subprocess.CompletedProcess[str]:
    tools = tool_or_skip("gitlab-ci-local", "rsync", install="bash ci/install-test-tools.sh installs "
                                                          "gitlab-ci-local 4.60.1 (npm) and rsync (apt-get)")
    pip_cache = REAL_HOME / ".cache" / "pip"
    command = [tools["gitlab-ci-local"], "--force-shell-executor"]
    for v in (f"PIP_CACHE_DIR={pip_cache}", *variables):
        command += ["--variable", v]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "GITOPS_TOOLS_REQUIRE_CORPUS"}
    tmp = cwd.parent / "job-tmp"
    tmp.mkdir(exist_ok=True)
    env.update(PIP_CACHE_DIR=str(pip_cache), FORCE_COLOR="0", TMPDIR=str(tmp), **NO_CI)
    return subprocess.run([*command, job], cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


def test_the_scheduled_job_pushes_to_a_real_pushgateway(tmp_path: Path, pushgateway: Pushgateway) -> None:
    """This repository with a scheduled pipeline job extending .gitops:metrics, run by gitlab-ci-local: it
    installs gitops-tools from a copy of this repository and pushes the measures of the copy's history."""
    repo = copy_checkout(ROOT, tmp_path / "gitops")
    (repo / ".gitlab-ci.yml").write_text("include:\n  - local: ci/templates.gitlab-ci.yml\nstages: [report]\n"
                                         "delivery-metrics:\n  stage: report\n  extends: .gitops:metrics\n")
    git(repo, "commit", "-qam", "a scheduled job")
    git(repo, "remote", "add", "origin", "https://gitlab.com/aegis/gitops.git")
    r = run_cli(repo, "image", "set", "dev", "aegis/api=*:1.4.3", env={**NO_CI, "CI_COMMIT_TIMESTAMP":
                                                                      "2026-11-20T09:00:00Z"},
                date="2026-11-20T09:45:00Z")
    assert r.returncode == 0, r.stderr
    r = gitlab_ci_local(repo, "delivery-metrics", "CI_PIPELINE_SOURCE=schedule", f"PUSHGATEWAY_URL={pushgateway.url}",
                        f"GITOPS_TOOLS_SOURCE=file://{repo}", "METRICS_SINCE=", "METRICS_ENVIRONMENTS=dev staging")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert f"pushed to {pushgateway.url} (job=gitops-tools repository=aegis/gitops): environment=dev, " \
           "environment=staging" in out
    s = parse(pushgateway.metrics())
    api = {"repository": "aegis/gitops", "environment": "dev", "image": "aegis/api", "job": "gitops-tools"}
    assert value(s, "gitops_delivery_deployments", **api) == 1
    assert value(s, "gitops_delivery_lead_time_seconds_sum", **api) == 45 * 60
    assert value(s, "gitops_delivery_manual_changes", repository="aegis/gitops", environment="staging") == 1
    assert not [k for k in s if k[0] == "gitops_delivery_deployments" and ("environment", "prod") in k[1]]
