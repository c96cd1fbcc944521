"""Notifications end to end (DESIGN §3.12): real git (a bare remote, --repo-url clones and checkouts with --push)
and a real HTTP server on loopback that records what it is sent, or fails the way webhooks fail: 500, 4xx, an
answer later than the timeout, a closed port.

What is checked each time: the change landed (or, refused, nothing was written), the exit code, the warnings'
exact text, the body the server got (Slack blocks and text, the JSON payload), and that the URL appears in no
output while the name of its variable does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, make_checkout
from tests.conftest import run_cli as run

KUST = """\
images:
  - name: aegis/api
    newName: registry.gitlab.com/aegis/app/api
    newTag: 1.4.1
  - name: aegis/web
    newTag: 2.0.0
"""
SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb1234567890secret"
PIPELINE = "https://gitlab.com/aegis/app/-/pipelines/4242"


class Webhook:
    """A threaded HTTP server on 127.0.0.1: records each POST (path, headers, JSON body) and answers as ``mode``
    says: ``ok`` (200), a status code, or ``slow`` (200 after ``delay`` seconds)."""

    def __init__(self, mode: str = "ok", delay: float = 3.0) -> None:
        self.mode = mode
        self.delay = delay
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{SECRET_PATH}"

    def bodies(self) -> list[Any]:
        return [body for _, _, body in self.requests]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append((self.path, dict(self.headers), json.loads(raw)))
                if server.mode == "slow":
                    time.sleep(server.delay)
                status = 200 if server.mode in ("ok", "slow") else int(server.mode)
                answer = b"ok" if status == 200 else (b"invalid_payload" if status < 500 else b"oops")
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: every connection is refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


def config(notify: str, repo_url: str | None = None) -> str:
    return ((f"repo_url: {repo_url}\n" if repo_url else "")
            + "environments:\n  - name: dev\n  - name: staging\n  - name: prod\n    protected: true\n"
            + "policies:\n  only_from_previous: false\n" + "notify:\n" + notify)


SLACK = "  - kind: slack\n    url_env: SLACK_WEBHOOK_URL\n    timeout: 1s\n"
WEBHOOK = "  - kind: webhook\n    url_env: DEPLOY_HOOK_URL\n    timeout: 1s\n"


def remote_with(tmp_path: Path, notify: str, repo_url: str | None = None) -> Path:
    """A bare remote holding a GitOps tree whose gitops-tools.yaml has ``notify``."""
    seed = make_checkout(tmp_path / "seed", {
        "gitops-tools.yaml": config(notify, repo_url),
        "environments/dev/kustomization.yaml": KUST,
        "environments/staging/kustomization.yaml": KUST,
        "environments/prod/kustomization.yaml": KUST,
    })
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    git(bare, "config", "receive.advertisePushOptions", "true")
    return bare


@pytest.fixture
def job(tmp_path: Path) -> Path:
    d = tmp_path / "job"
    d.mkdir()
    return d


def main_sha(remote: Path) -> str:
    return git(remote, "rev-parse", "main").strip()


def dev_tag(remote: Path, rev: str = "main") -> str:
    text = git(remote, "show", f"{rev}:environments/dev/kustomization.yaml")
    return text.split("newTag: ", 1)[1].split("\n", 1)[0]


def no_url_in(result: Any, *urls: str, name: str | None = None) -> None:
    """Neither the URL nor its secret path is in stdout or stderr (the variable's name may be)."""
    output = result.stdout + result.stderr
    for url in urls:
        assert url not in output
    assert SECRET_PATH not in output and "xoxb1234567890secret" not in output
    if name is not None:
        assert f"${name}" in output


# --- what is sent, and when -----------------------------------------------------------------------------------


def test_slack_message_after_a_push_from_a_clone(tmp_path: Path, job: Path, hook: Webhook) -> None:
    remote = remote_with(tmp_path, SLACK, repo_url="https://gitlab.example.com/aegis/gitops.git")
    r = run(job, "-v", "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2",
            env={"SLACK_WEBHOOK_URL": hook.url, "CI_PIPELINE_URL": PIPELINE})
    assert r.returncode == 0, r.stderr
    sha = main_sha(remote)
    assert dev_tag(remote) == "1.4.2"
    assert r.stdout.splitlines()[-2:] == ["pushed to main", "notified slack $SLACK_WEBHOOK_URL"]
    [(path, headers, body)] = hook.requests
    assert path == SECRET_PATH
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"].startswith("gitops-tools/")
    commit_url = f"https://gitlab.example.com/aegis/gitops/-/commit/{sha}"
    assert body == {
        "text": ("Image update in dev landed on main\n"
                 "- aegis/api: 1.4.1 -> 1.4.2\n"
                 f"commit: {sha[:12]} ({commit_url})\n"
                 f"pipeline: {PIPELINE}\n"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Image update in dev landed on main"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*aegis/api* `1.4.1` → `1.4.2`"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                f"<{commit_url}|commit {sha[:12]}> on `main` · <{PIPELINE}|pipeline>")}]},
        ],
    }
    # -v tells what it posts, naming the variable, never the URL
    assert "notify: POST $SLACK_WEBHOOK_URL (slack, " in r.stderr
    assert "notify: $SLACK_WEBHOOK_URL answered HTTP 200 (1 attempt)" in r.stderr
    no_url_in(r, hook.url, name="SLACK_WEBHOOK_URL")


def test_webhook_payload_and_json_outcomes_from_a_checkout_with_push(tmp_path: Path, hook: Webhook) -> None:
    remote = remote_with(tmp_path, WEBHOOK)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    r = run(checkout, "-o", "json", "image", "set", "--push", "dev", "aegis/api=*:1.4.2", "aegis/web=*:2.1.0",
            env={"DEPLOY_HOOK_URL": hook.url})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    sha = main_sha(remote)
    assert data["commit"] == sha and data["pushed"] == "main"
    assert data["notifications"] == [{"kind": "webhook", "url_env": "DEPLOY_HOOK_URL", "required": False,
                                      "outcome": "sent", "status": 200, "attempts": 1, "error": None,
                                      "message": None}]
    [body] = hook.bodies()
    assert body == {
        "source": "gitops-tools", "event": "set-image", "status": "landed", "environment": "dev", "target": "dev",
        "branch": "main", "commit": sha, "commit_url": None, "merge_request_branch": None,
        "merge_request_url": None, "pipeline_url": None,
        "images": [
            {"image": "aegis/api", "from": "registry.gitlab.com/aegis/app/api:1.4.1",
             "to": "registry.gitlab.com/aegis/app/api:1.4.2"},
            {"image": "aegis/web", "from": "2.0.0", "to": "2.1.0"},
        ],
        "text": f"Image update in dev landed on main\n- aegis/api: 1.4.1 -> 1.4.2\n- aegis/web: 2.0.0 -> 2.1.0\n"
                f"commit: {sha[:12]}\n",
    }
    assert r.stderr == ""
    no_url_in(r, hook.url)


def test_a_protected_environment_says_awaiting_merge_and_links_the_branch(tmp_path: Path, job: Path,
                                                                          hook: Webhook) -> None:
    remote = remote_with(tmp_path, SLACK + "    events: [merge-request]\n",
                         repo_url="https://gitlab.example.com/aegis/gitops.git")
    before = main_sha(remote)
    r = run(job, "image", "set", "--repo-url", str(remote), "prod", "aegis/api=*:1.4.2",
            env={"SLACK_WEBHOOK_URL": hook.url})
    assert r.returncode == 0, r.stderr
    assert main_sha(remote) == before  # prod's change waits in its merge request
    branch = r.stdout.splitlines()[-2].split()[1]
    assert branch.startswith("gitops/prod/set-image-")
    sha = git(remote, "rev-parse", branch).strip()
    [body] = hook.bodies()
    mr_url = ("https://gitlab.example.com/aegis/gitops/-/merge_requests?scope=all&state=opened&source_branch="
              + branch)
    assert body["text"] == (
        "Image update in prod awaiting merge into main\n"
        "- aegis/api: 1.4.1 -> 1.4.2\n"
        f"merge request: from {branch} into main ({mr_url})\n"
        f"commit: {sha[:12]} (https://gitlab.example.com/aegis/gitops/-/commit/{sha})\n")
    assert body["blocks"][0]["text"]["text"] == "Image update in prod awaiting merge into main"
    assert body["blocks"][2] == {"type": "section", "text": {"type": "mrkdwn", "text": (
        f":hourglass: *Awaiting merge*: merge request from `{branch}` into `main` · <{mr_url}|open it>")}}


def test_promote_and_rollback_are_their_own_events(tmp_path: Path, job: Path, hook: Webhook) -> None:
    remote = remote_with(tmp_path, WEBHOOK + "    events: [promote, rollback]\n    environments: [staging]\n")
    env = {"DEPLOY_HOOK_URL": hook.url}
    r = run(job, "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2", env=env)
    assert r.returncode == 0, r.stderr
    assert hook.requests == []  # set-image is not one of its events
    r = run(job, "promote", "--repo-url", str(remote), "dev", "staging", env=env)
    assert r.returncode == 0, r.stderr
    r = run(job, "-o", "json", "rollback", "--repo-url", str(remote), "staging", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["notifications"][0]["outcome"] == "sent"
    promoted, rolled_back = hook.bodies()
    assert (promoted["event"], promoted["environment"], promoted["images"]) == ("promote", "staging", [
        {"image": "aegis/api", "from": "registry.gitlab.com/aegis/app/api:1.4.1",
         "to": "registry.gitlab.com/aegis/app/api:1.4.2"}])
    assert promoted["text"].startswith("Promotion to staging landed on main\n")
    assert (rolled_back["event"], rolled_back["images"][0]["to"]) == ("rollback",
                                                                     "registry.gitlab.com/aegis/app/api:1.4.1")
    assert rolled_back["text"].startswith("Rollback of staging landed on main\n")
    # an environment it does not list: nothing
    r = run(job, "rollback", "--repo-url", str(remote), "dev", env=env)
    assert r.returncode == 0, r.stderr
    assert len(hook.requests) == 2


def test_nothing_is_sent_without_a_push(tmp_path: Path, job: Path, hook: Webhook) -> None:
    """A dry run, a change already there, a refused change, a checkout commit without --push: nothing sent."""
    remote = remote_with(tmp_path, SLACK)
    env = {"SLACK_WEBHOOK_URL": hook.url}
    r = run(job, "image", "set", "--dry-run", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2", env=env)
    assert r.returncode == 0, r.stderr
    r = run(job, "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.1", env=env)  # no-op
    assert (r.returncode, r.stdout) == (0, "dev: aegis/api is already registry.gitlab.com/aegis/app/api:1.4.1; "
                                           "nothing to do\n")
    r = run(job, "image", "set", "--repo-url", str(remote), "prod", "aegis/api=*:latest", env=env)  # refused
    assert r.returncode == 1
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    r = run(checkout, "-o", "json", "image", "set", "dev", "aegis/api=*:1.4.2", env=env)  # committed, not pushed
    assert r.returncode == 0, r.stderr
    assert "notifications" not in json.loads(r.stdout)
    assert hook.requests == []


# --- failures: the change stays, a warning says why ---------------------------------------------------------------


@pytest.mark.parametrize(("mode", "error", "attempts"), [
    ("500", "HTTP 500 (oops) after 3 attempts", 3),
    ("404", "HTTP 404 (invalid_payload)", 1),
    ("slow", "no answer within 1s (not retried: the target may have received it)", 1),
], ids=["500", "4xx", "slow"])
def test_a_failed_notification_is_a_warning_and_the_change_stays(tmp_path: Path, job: Path, mode: str, error: str,
                                                                 attempts: int) -> None:
    remote = remote_with(tmp_path, SLACK)
    server = Webhook(mode, delay=3)
    try:
        r = run(job, "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2",
                env={"SLACK_WEBHOOK_URL": server.url})
        assert len(server.requests) == attempts
    finally:
        server.close()
    assert r.returncode == 0, r.stderr
    sha = main_sha(remote)
    assert dev_tag(remote) == "1.4.2" and git(remote, "log", "-1", "--format=%s").startswith("chore(dev): set")
    assert r.stderr == (f"warning: notification to slack $SLACK_WEBHOOK_URL failed: {error}; "
                        f"the change landed anyway (commit {sha[:12]} on main)\n")
    no_url_in(r, server.url, name="SLACK_WEBHOOK_URL")


def test_a_closed_port_is_retried_then_warned_about_in_json_too(tmp_path: Path, job: Path) -> None:
    remote = remote_with(tmp_path, SLACK)
    url = closed_port_url()
    r = run(job, "-o", "json", "-v", "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2",
            env={"SLACK_WEBHOOK_URL": url})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    sha = main_sha(remote)
    assert data["commit"] == sha and data["pushed"] == "main"
    message = ("notification to slack $SLACK_WEBHOOK_URL failed: could not connect (connection refused) after 3 "
               f"attempts; the change landed anyway (commit {sha[:12]} on main)")
    assert data["notifications"] == [{
        "kind": "slack", "url_env": "SLACK_WEBHOOK_URL", "required": False, "outcome": "failed", "status": None,
        "attempts": 3, "error": "could not connect (connection refused) after 3 attempts", "message": message}]
    assert r.stderr.endswith(f"notify: $SLACK_WEBHOOK_URL no answer (3 attempts)\nwarning: {message}\n")
    no_url_in(r, url, name="SLACK_WEBHOOK_URL")


def test_a_required_target_that_fails_exits_75_with_the_change_landed(tmp_path: Path, job: Path) -> None:
    remote = remote_with(tmp_path, SLACK + "    required: true\n" + WEBHOOK)
    failing, working = Webhook("503"), Webhook()
    try:
        r = run(job, "-o", "json", "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2",
                env={"SLACK_WEBHOOK_URL": failing.url, "DEPLOY_HOOK_URL": working.url})
    finally:
        failing.close()
        working.close()
    assert r.returncode == 75
    sha = main_sha(remote)
    assert dev_tag(remote) == "1.4.2"
    data = json.loads(r.stdout)  # one JSON object: the result, with what became of each target
    assert data["commit"] == sha
    assert [(n["url_env"], n["outcome"], n["attempts"]) for n in data["notifications"]] == [
        ("SLACK_WEBHOOK_URL", "failed", 3), ("DEPLOY_HOOK_URL", "sent", 1)]
    assert r.stderr == ("error: required notification to slack $SLACK_WEBHOOK_URL failed: HTTP 503 (oops) after 3 "
                        f"attempts; the change stays landed (commit {sha[:12]} on main): announce it by hand, a new "
                        "run finds nothing to change and sends nothing\n")
    assert len(working.requests) == 1  # the other target still got it
    no_url_in(r, failing.url, working.url)


# --- bad input --------------------------------------------------------------------------------------------------


def test_an_unset_variable_warns_for_an_optional_target(tmp_path: Path, job: Path) -> None:
    remote = remote_with(tmp_path, SLACK)
    r = run(job, "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("warning: notification to slack $SLACK_WEBHOOK_URL not sent: the variable is not set; "
                        f"the change landed anyway (commit {main_sha(remote)[:12]} on main)\n")


@pytest.mark.parametrize(("value", "problem"), [
    (None, "the variable is not set"),
    ("", "the variable is empty"),
    ("http://hooks.example.com/services/T0SECRET/B0SECRET/xoxb1234567890secret",
     "it is http, not https (plain http only to 127.0.0.1, localhost or ::1)"),
    ("ftp://hooks.example.com/services/T0SECRET/B0SECRET/xoxb1234567890secret", "it is not an http(s) URL"),
    ("https://hooks.example.com:99999/services/T0SECRET/B0SECRET/xoxb1234567890secret",
     "its port is not a number from 0 to 65535"),
], ids=["unset", "empty", "http", "ftp", "port"])
def test_a_required_target_without_a_usable_url_refuses_the_change(tmp_path: Path, job: Path, value: str | None,
                                                                   problem: str) -> None:
    remote = remote_with(tmp_path, SLACK + "    required: true\n")
    before = git(remote, "for-each-ref")
    r = run(job, "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2",
            env={} if value is None else {"SLACK_WEBHOOK_URL": value})
    assert r.returncode == 1
    assert r.stderr == (
        "error: gitops-tools.yaml: notify[0].url_env: the required notification to slack $SLACK_WEBHOOK_URL could "
        f"not be sent: {problem}; nothing was written\n"
        "hint: set SLACK_WEBHOOK_URL to the webhook's https URL (a masked CI/CD variable), or make the target "
        "required: false to land changes without it\n")
    assert git(remote, "for-each-ref") == before  # nothing pushed
    if value:
        no_url_in(r, value)


def test_a_url_in_the_configuration_is_refused_without_repeating_it(tmp_path: Path, job: Path) -> None:
    url = "https://hooks.slack.com/services/T0SECRET/B0SECRET/xoxb1234567890secret"
    remote = remote_with(tmp_path, f"  - kind: slack\n    url_env: {url}\n")
    before = git(remote, "for-each-ref")
    r = run(job, "image", "set", "--repo-url", str(remote), "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 1
    assert r.stderr == (
        "error: gitops-tools.yaml:10:14: notify[0].url_env: expected the name of an environment variable, got a URL\n"
        "hint: a webhook URL is a secret: keep it in a (masked) CI/CD variable and write the variable's name in "
        "url_env, e.g. url_env: SLACK_WEBHOOK_URL\n")
    assert git(remote, "for-each-ref") == before
    no_url_in(r, url)


# --- releases --------------------------------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "shared-library"
version = "1.2.3"

[tool.gitops-tools.release]
tag_prefix = "shared-library-v"
commit_url = "https://gitlab.example.com/aegis/shared-library/-/commit/{sha}"

[[tool.gitops-tools.release.notify]]
kind = "webhook"
url_env = "RELEASE_HOOK_URL"
timeout = "2s"
"""


def library(tmp_path: Path, pyproject: str) -> tuple[Path, Path]:
    seed = make_checkout(tmp_path / "seed", {"pyproject.toml": pyproject, "CHANGELOG.md": "# Changelog\n"})
    git(seed, "tag", "-a", "shared-library-v1.2.3", "-m", "release")
    (seed / "lib.py").write_text("x = 1\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "feat(api): add x")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    return remote, work


def test_a_pushed_release_is_announced(tmp_path: Path, hook: Webhook) -> None:
    remote, work = library(tmp_path, PYPROJECT)
    r = run(work, "release", env={"RELEASE_HOOK_URL": hook.url, "CI_PIPELINE_URL": PIPELINE},
            date="2026-11-20T10:00:00+00:00")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "notified webhook $RELEASE_HOOK_URL"
    sha = main_sha(remote)
    assert git(remote, "rev-parse", "shared-library-v1.3.0^{commit}").strip() == sha
    [body] = hook.bodies()
    section = body["changelog"]
    assert section.startswith("## shared-library 1.3.0 (") and "- **api:** add x ([" in section
    commit_url = f"https://gitlab.example.com/aegis/shared-library/-/commit/{sha}"
    assert body == {
        "source": "gitops-tools", "event": "release", "status": "released", "library": "shared-library",
        "previous": "1.2.3", "version": "1.3.0", "tag": "shared-library-v1.3.0", "commit": sha, "branch": "main",
        "commit_url": commit_url, "pipeline_url": PIPELINE, "changelog": section,
        "text": (f"shared-library 1.3.0 released\nversion: 1.2.3 -> 1.3.0 (tag shared-library-v1.3.0)\n"
                 f"commit: {sha[:12]} on main ({commit_url})\npipeline: {PIPELINE}\n\n{section.strip()}\n"),
    }


def test_a_release_without_push_or_as_a_dry_run_sends_nothing(tmp_path: Path, hook: Webhook) -> None:
    remote, work = library(tmp_path, PYPROJECT)
    env = {"RELEASE_HOOK_URL": hook.url}
    assert run(work, "release", "--dry-run", env=env).returncode == 0
    r = run(work, "-o", "json", "release", "--no-push", env=env)
    assert r.returncode == 0, r.stderr
    assert "notifications" not in json.loads(r.stdout)
    assert hook.requests == []


def test_a_required_release_target_without_its_variable_refuses_the_release(tmp_path: Path) -> None:
    remote, work = library(tmp_path, PYPROJECT + "required = true\n")
    before = git(remote, "for-each-ref"), git(work, "for-each-ref")
    r = run(work, "release")
    assert r.returncode == 1
    assert r.stderr == (
        "error: pyproject.toml: tool.gitops-tools.release.notify[0].url_env: the required notification to webhook "
        "$RELEASE_HOOK_URL could not be sent: the variable is not set; nothing was written\n"
        "hint: set RELEASE_HOOK_URL to the webhook's https URL (a masked CI/CD variable), or make the target "
        "required: false to land changes without it\n")
    assert (git(remote, "for-each-ref"), git(work, "for-each-ref")) == before
    assert git(work, "status", "--porcelain") == ""


def test_release_notify_configuration_errors(tmp_path: Path) -> None:
    _, work = library(tmp_path, PYPROJECT + 'events = ["release"]\n')
    r = run(work, "release", "--dry-run")
    assert r.returncode == 1
    assert r.stderr == ("error: pyproject.toml: tool.gitops-tools.release.notify[0].events: a release target has no "
                        "events\nhint: a release is its only event; delete events (keys here: kind, url_env, "
                        "required, timeout)\n")


# --- the public API --------------------------------------------------------------------------------------------


def test_the_api_returns_the_outcomes(tmp_path: Path, hook: Webhook) -> None:
    from gitops_tools import Repository

    remote = remote_with(tmp_path, SLACK + WEBHOOK)
    repo = Repository(url=str(remote), cwd=tmp_path, env={"SLACK_WEBHOOK_URL": hook.url})
    result = repo.set_images("dev", ["aegis/api=*:1.4.2"])
    assert result.commit == main_sha(remote)
    sent, skipped = result.notifications
    assert (sent.sent, sent.status, sent.failed_required) == (True, 200, False)
    assert (skipped.outcome, skipped.error) == ("skipped", "the variable is not set")
    assert [n["outcome"] for n in result.as_dict()["notifications"]] == ["sent", "skipped"]  # type: ignore[index]
    assert len(hook.requests) == 1
