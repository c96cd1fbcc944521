"""Notifications, the pure parts and the edges that need no git: the ``notify`` section of gitops-tools.yaml and
its errors, a library's release targets, the messages (gitops_tools/core/notify.py), URL checks and masking,
what a run that sends nothing loads, and urllib3's log records masked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gitops_tools.commands.notifying import announce, preflight, url_problem
from gitops_tools.config import NotifyTarget, parse_config
from gitops_tools.core import notify
from gitops_tools.core.changes import Change, ImageUpdate
from gitops_tools.errors import ConfigError, GitopsError
from tests.test_notify import SECRET_PATH, Webhook
from tests.test_startup import imported_modules

ENVS = "environments: [{name: dev}, {name: staging}, {name: prod, protected: true}]\n"
URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/xoxb1234567890secret"


# --- the notify section of gitops-tools.yaml --------------------------------------------------------------------


def test_defaults_and_every_key() -> None:
    config = parse_config(ENVS + "notify:\n"
                          "  - {kind: slack, url_env: SLACK_WEBHOOK_URL}\n"
                          "  - kind: webhook\n    url_env: DEPLOY_HOOK\n    events: [promote, merge-request]\n"
                          "    environments: [prod]\n    required: true\n    timeout: 2m\n")
    assert config.notify == (
        NotifyTarget("slack", "SLACK_WEBHOOK_URL", ("set-image", "promote", "rollback", "merge-request"), (),
                     False, "10s"),
        NotifyTarget("webhook", "DEPLOY_HOOK", ("promote", "merge-request"), ("prod",), True, "2m"),
    )
    assert config.notify[1].timeout_seconds == 120
    assert parse_config(ENVS).notify == () and parse_config(ENVS + "notify:\n").notify == ()


def test_which_targets_want_which_events() -> None:
    every = NotifyTarget("slack", "A")
    promotions = NotifyTarget("slack", "B", events=("promote",), environments=("prod",))
    merge_requests = NotifyTarget("slack", "C", events=("merge-request",))
    assert every.wants("set-image", "dev") and every.wants("rollback", None)
    assert promotions.wants("promote", "prod", merge_request=True) and not promotions.wants("promote", "staging")
    assert not promotions.wants("set-image", "prod", merge_request=True)
    assert merge_requests.wants("set-image", "prod", merge_request=True)
    assert not merge_requests.wants("set-image", "dev")


@pytest.mark.parametrize(("notify_yaml", "expected"), [
    ("  - kind: slack\n    url: " + URL + "\n",
     "gitops-tools.yaml:4:5: notify[0].url: a URL is never written in gitops-tools.yaml\n"
     "hint: a webhook URL is a secret: keep it in a (masked) CI/CD variable and write the variable's name in "
     "url_env, e.g. url_env: SLACK_WEBHOOK_URL"),
    ("  - kind: slack\n    url_env: " + URL + "\n",
     "gitops-tools.yaml:4:14: notify[0].url_env: expected the name of an environment variable, got a URL\n"
     "hint: a webhook URL is a secret: keep it in a (masked) CI/CD variable and write the variable's name in "
     "url_env, e.g. url_env: SLACK_WEBHOOK_URL"),
    ("  - kind: " + URL + "\n    url_env: X\n",
     "gitops-tools.yaml:3:11: notify[0].kind: a URL is never written in gitops-tools.yaml\n"
     "hint: a webhook URL is a secret: keep it in a (masked) CI/CD variable and write the variable's name in "
     "url_env, e.g. url_env: SLACK_WEBHOOK_URL"),
    ("  - kind: slack\n    url_env: 1SLACK\n",
     'gitops-tools.yaml:4:14: notify[0].url_env: invalid environment variable name "1SLACK"\n'
     'hint: write the name of the variable holding the URL: letters, digits and "_", not starting with a digit, '
     "e.g. SLACK_WEBHOOK_URL"),
    ("  - kind: teams\n    url_env: X\n",
     'gitops-tools.yaml:3:11: notify[0].kind: unknown kind "teams"\nhint: kinds: slack, webhook'),
    ("  - kind: slack\n", 'gitops-tools.yaml:3:5: notify[0]: missing required key "url_env"\n'
                        'hint: add the environment variable holding the URL, e.g. "url_env: SLACK_WEBHOOK_URL"'),
    ("  - kind: slack\n    url_env: X\n    events: [promote, set_image]\n",
     'gitops-tools.yaml:5:23: notify[0].events[1]: unknown event "set_image"\n'
     'hint: did you mean "set-image"? events: set-image, promote, rollback, merge-request'),
    ("  - kind: slack\n    url_env: X\n    events: [release]\n",
     'gitops-tools.yaml:5:14: notify[0].events[0]: "release" is not an event of gitops-tools.yaml\n'
     "hint: a library announces its releases to the targets of [[tool.gitops-tools.release.notify]] in its "
     "pyproject.toml; events here: set-image, promote, rollback, merge-request"),
    ("  - kind: slack\n    url_env: X\n    events: []\n",
     "gitops-tools.yaml:5:13: notify[0].events: the event list is empty\n"
     "hint: delete the key to send every event, or list some: set-image, promote, rollback, merge-request"),
    ("  - kind: slack\n    url_env: X\n    environments: [stagin]\n",
     'gitops-tools.yaml:5:20: notify[0].environments[0]: unknown environment "stagin"\n'
     'hint: did you mean "staging"? environments: dev, staging, prod'),
    ("  - kind: slack\n    url_env: X\n    required: yes\n",
     'gitops-tools.yaml:5:15: notify[0].required: expected a boolean (true or false), got the string "yes"\n'
     "hint: write true or false"),
    ("  - kind: slack\n    url_env: X\n    timeout: 10\n",
     "gitops-tools.yaml:5:14: notify[0].timeout: expected a duration such as 10s, got the integer 10\n"
     "hint: write a number of seconds or minutes from 1s to 5m, e.g. 10s"),
    ("  - kind: slack\n    url_env: X\n    timeout: 1h\n",
     'gitops-tools.yaml:5:14: notify[0].timeout: timeout "1h" is out of range\n'
     "hint: write a number of seconds or minutes from 1s to 5m, e.g. 10s"),
    ("  - {kind: slack, url_env: X}\n  - {kind: webhook, url_env: X}\n",
     'gitops-tools.yaml:4:30: notify[1].url_env: url_env "X" is listed twice\n'
     "hint: notify[0] (line 3) already sends to it: list the events and environments in one entry"),
    ("  kind: slack\n",
     "gitops-tools.yaml:3:3: notify: expected a list, got a mapping\n"
     'hint: write one "- item" per line below the key, or [a, b] on one line'),
], ids=["url-key", "url-in-url_env", "url-as-kind", "bad-name", "kind", "missing-url_env", "event", "release-event",
        "no-events", "environment", "required-yes", "timeout-int", "timeout-range", "duplicate", "not-a-list"])
def test_errors_name_file_line_and_key_and_never_repeat_a_url(notify_yaml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(ENVS + "notify:\n" + notify_yaml)
    assert str(info.value) == expected
    assert URL not in str(info.value)


def test_a_key_of_a_target_at_the_top_says_where_it_belongs() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(ENVS + "url_env: SLACK\n")
    assert info.value.fix is not None and info.value.fix.startswith('"url_env" belongs under each entry of "notify:"')


# --- a library's targets ---------------------------------------------------------------------------------------


def _release(entries: object) -> tuple[NotifyTarget, ...]:
    return notify.release_targets({"tool": {"gitops-tools": {"release": {"notify": entries}}}}, "pyproject.toml")


def test_release_targets() -> None:
    assert _release([{"kind": "slack", "url_env": "RELEASES", "required": True, "timeout": "5s"}]) == (
        NotifyTarget("slack", "RELEASES", ("release",), (), True, "5s"),)
    assert notify.release_targets({"project": {}}, "pyproject.toml") == ()


@pytest.mark.parametrize(("entries", "expected"), [
    ([{"kind": "slack", "url": URL}], "pyproject.toml: tool.gitops-tools.release.notify[0].url: a URL is never "
                                      "written in pyproject.toml"),
    ([{"kind": "slack", "url_env": URL}], "pyproject.toml: tool.gitops-tools.release.notify[0].url_env: expected "
                                          "the name of an environment variable, got a URL"),
    ([{"kind": "slack"}], 'pyproject.toml: tool.gitops-tools.release.notify[0]: missing required key "url_env"'),
    ([{"kind": "slack", "url_env": "A", "environments": ["prod"]}],
     "pyproject.toml: tool.gitops-tools.release.notify[0].environments: a release target has no environments"),
    ([{"kind": "slack", "url_env": "A", "requierd": True}],
     'pyproject.toml: tool.gitops-tools.release.notify[0].requierd: unknown key "requierd"'),
    ([{"kind": "slack", "url_env": "A", "required": "yes"}],
     "pyproject.toml: tool.gitops-tools.release.notify[0].required: expected a boolean (true or false)"),
    ([{"kind": "slack", "url_env": "A"}, {"kind": "webhook", "url_env": "A"}],
     'pyproject.toml: tool.gitops-tools.release.notify[1].url_env: url_env "A" is listed twice'),
    ({"kind": "slack"}, "pyproject.toml: tool.gitops-tools.release.notify: notify is not a list of tables"),
])
def test_release_target_errors(entries: object, expected: str) -> None:
    with pytest.raises(GitopsError) as info:
        _release(entries)
    assert info.value.headline == expected
    assert URL not in str(info.value)


# --- URLs --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "problem"), [
    (URL, None),
    ("http://127.0.0.1:8080/hook", None),
    ("http://127.9.9.9/hook", None),
    ("http://localhost/hook", None),
    ("http://[::1]:9/hook", None),
    (" https://example.com/hook\n", None),  # a variable set from a file keeps its newline
    ("http://example.com/hook", "it is http, not https (plain http only to 127.0.0.1, localhost or ::1)"),
    ("http://10.0.0.1/hook", "it is http, not https (plain http only to 127.0.0.1, localhost or ::1)"),
    ("hooks.slack.com/services/x", "it is not an http(s) URL"),
    ("file:///etc/passwd", "it is not an http(s) URL"),
    ("https://", "it is not an http(s) URL"),
    ("https://exa mple.com/", "it contains a space or a control character"),
    ("https://example.com:http/", "its port is not a number from 0 to 65535"),
])
def test_check_url(url: str, problem: str | None) -> None:
    assert notify.check_url(url) == problem


def test_url_problem() -> None:
    assert url_problem(None) == "the variable is not set"
    assert url_problem("  ") == "the variable is empty"


def test_mask() -> None:
    secrets = {URL: "SLACK_WEBHOOK_URL"}
    text = (f"POST {URL} failed; retrying /services/T0SECRET/B0SECRET/xoxb1234567890secret on "
            "hooks.slack.com/services/T0SECRET/B0SECRET/xoxb1234567890secret")
    masked = notify.mask(text, secrets)
    assert masked == ("POST $SLACK_WEBHOOK_URL failed; retrying $SLACK_WEBHOOK_URL on $SLACK_WEBHOOK_URL")


@pytest.mark.parametrize(("url", "web"), [
    ("https://gitlab.com/aegis/gitops.git", "https://gitlab.com/aegis/gitops"),
    ("https://oauth2:glpat-secret@gitlab.com/aegis/gitops.git", "https://gitlab.com/aegis/gitops"),
    ("git@gitlab.com:aegis/gitops.git", "https://gitlab.com/aegis/gitops"),
    ("ssh://git@gitlab.example.com:2222/aegis/gitops.git", "https://gitlab.example.com/aegis/gitops"),
    ("/srv/git/gitops.git", None),
    ("file:///srv/git/gitops.git", None),
    (None, None),
])
def test_web_url(url: str | None, web: str | None) -> None:
    assert notify.web_url(url) == web


# --- the messages ------------------------------------------------------------------------------------------------


def _update(image: str, old: str | None, new: str) -> ImageUpdate:
    return ImageUpdate(image, old, new, "updated", (Change("k.yaml", "images", old, new),))


def test_short_pair() -> None:
    assert notify.short_pair("reg/a/api:1.0", "reg/a/api:1.1") == ("1.0", "1.1")
    assert notify.short_pair("reg:5000/a/api:1.0@sha256:aa", "reg:5000/a/api:1.1@sha256:bb") == (
        "1.0@sha256:aa", "1.1@sha256:bb")
    assert notify.short_pair("reg/a/api:1.0", "mirror/a/api:1.0") == ("reg/a/api:1.0", "mirror/a/api:1.0")
    assert notify.short_pair(None, "reg/a/api:1.0") == ("(none)", "reg/a/api:1.0")


def test_slack_escapes_values_and_drops_unsafe_links() -> None:
    notice = notify.change_notice("set-image", "dev", "dev", [_update("a&b/<x>", "r/x:1", "r/x:2")], "f" * 40, "main",
                                  None, None, {"CI_PIPELINE_URL": "https://ci.example.com/p/1|evil"})
    data = notify.slack(notice)
    assert data["blocks"][1]["text"]["text"] == "*a&amp;b/&lt;x&gt;* `1` → `2`"
    assert data["blocks"][2]["elements"][0]["text"] == "commit ffffffffffff on `main`"  # no pipeline link
    assert notice.pipeline_url is None


def test_a_long_promotion_lists_twenty_images_and_the_payload_has_all() -> None:
    updates = [_update(f"team/app{i:02}", f"r/app{i:02}:1", f"r/app{i:02}:2") for i in range(25)]
    notice = notify.change_notice("promote", "staging", "staging", updates, "a" * 40, "main", None, None, {})
    text = notify.text(notice)
    assert text.splitlines()[0] == "Promotion to staging landed on main"
    assert text.splitlines()[20:22] == ["- team/app19: 1 -> 2", "- and 5 more"]
    assert notify.slack(notice)["blocks"][1]["text"]["text"].endswith("\n_and 5 more_")
    assert len(notify.webhook(notice)["images"]) == 25
    assert json.loads(notify.payload("webhook", notice))["event"] == "promote"


def test_a_release_in_slack() -> None:
    section = ("## lib 1.3.0 (2026-11-20)\n\n### Features\n\n"
               "- **api:** add x & y ([abc1234](https://gitlab.example.com/lib/-/commit/abc1234))\n")
    notice = notify.release_notice("lib", "1.2.3", "1.3.0", "v1.3.0", "c" * 40, "main", section,
                                   "https://gitlab.example.com/lib/-/commit/{sha}", {})
    blocks = notify.slack(notice)["blocks"]
    assert blocks[0]["text"]["text"] == "lib 1.3.0 released"
    assert blocks[1]["text"]["text"] == "*lib* `1.2.3` → `1.3.0` · tag `v1.3.0`"
    assert blocks[2]["text"]["text"] == ("*lib 1.3.0 (2026-11-20)*\n\n*Features*\n\n"
                                         "• *api:* add x &amp; y (<https://gitlab.example.com/lib/-/commit/abc1234|abc1234>)")
    assert blocks[3]["elements"][0]["text"] == (
        f"<https://gitlab.example.com/lib/-/commit/{'c' * 40}|commit cccccccccccc> on `main`")


# --- sending, in-process: preflight, and urllib3's log records -------------------------------------------------


def test_preflight_checks_only_required_targets_that_want_the_change() -> None:
    targets = (NotifyTarget("slack", "OPTIONAL"), NotifyTarget("webhook", "PROD_ONLY", environments=("prod",),
                                                               required=True))
    preflight(targets, "set-image", "dev", False, {}, "gitops-tools.yaml")  # neither is a reason to refuse
    with pytest.raises(GitopsError) as info:
        preflight(targets, "set-image", "prod", True, {"PROD_ONLY": "http://example.com/x"}, "gitops-tools.yaml")
    assert info.value.key == "notify[1].url_env"
    assert "it is http, not https" in info.value.problem and "example.com" not in str(info.value)


def test_urllib3_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    server = Webhook("500")
    notice = notify.change_notice("set-image", "dev", "dev", [_update("a/b", "r/b:1", "r/b:2")], "d" * 40, "main",
                                  None, None, {})
    try:
        with caplog.at_level(logging.DEBUG):
            [outcome] = announce([NotifyTarget("webhook", "HOOK", timeout="1s")], notice, {"HOOK": server.url},
                                 "commit dddddddddddd on main")
    finally:
        server.close()
    assert (outcome.outcome, outcome.status, outcome.attempts) == ("failed", 500, 3)
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # urllib3 did log the retries
    assert SECRET_PATH not in caplog.text and server.url not in caplog.text


# --- what a run loads ----------------------------------------------------------------------------------------------


def test_a_run_that_sends_nothing_loads_no_http_client(tmp_path: Path) -> None:
    from tests.conftest import git, make_checkout

    kust = "images:\n  - name: a/b\n    newTag: v1\n"
    plain = make_checkout(tmp_path / "plain", {"environments/dev/kustomization.yaml": kust})
    loaded = imported_modules("image", "set", "dev", "a/b:v2", cwd=plain)
    assert "gitops_tools.commands.imageset" in loaded
    assert not {"urllib3", "gitops_tools.commands.notifying", "gitops_tools.core.notify"} & loaded
    # configured, but not pushed: nothing about notifications is loaded either
    configured = make_checkout(tmp_path / "configured", {
        "environments/dev/kustomization.yaml": kust,
        "gitops-tools.yaml": "environments: [{name: dev}]\nnotify: [{kind: slack, url_env: SLACK}]\n"})
    loaded = imported_modules("image", "set", "dev", "a/b:v2", cwd=configured)
    assert git(configured, "log", "-1", "--format=%s").startswith("chore(dev): set a/b")
    assert not {"urllib3", "gitops_tools.commands.notifying"} & loaded


# --- docs/notifications.md shows what the code sends -------------------------------------------------------------


def test_the_samples_of_the_docs_are_what_is_sent() -> None:
    import re

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "notifications.md").read_text()
    samples = [json.loads(body) for body in re.findall(r"^```json\n(.*?)^```", doc, re.MULTILINE | re.DOTALL)
               if body.startswith("{")]
    updates = [_update("aegis/api", "registry.gitlab.com/aegis/app/api:1.4.1", "registry.gitlab.com/aegis/app/api:1.4.2"),
               _update("aegis/recommendation", "registry.gitlab.com/aegis/app/recommendation:2.0.0",
                       "registry.gitlab.com/aegis/app/recommendation:2.0.1")]
    env = {"CI_PIPELINE_URL": "https://gitlab.com/aegis/app/-/pipelines/4242"}
    staging = notify.change_notice("promote", "staging", "staging", updates, "3f2a1bc4d5e6f708192a3b4c5d6e7f8091a2b3c4",
                                   "main", None, "https://gitlab.com/aegis/gitops.git", env)
    prod = notify.change_notice("promote", "prod", "prod", updates[:1], "9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a392817161",
                                "main", "gitops/prod/promote-5d41402abc4b", "https://gitlab.com/aegis/gitops.git", env)
    assert samples == [notify.slack(staging), notify.webhook(prod)]
    assert f"```text\n{notify.text(staging)}```" in doc


def test_a_long_retry_after_is_cut_and_retries_are_bounded() -> None:
    from urllib3 import HTTPResponse

    from gitops_tools.commands.notifying import ATTEMPTS, RETRY_AFTER_MAX, _retry_policy

    policy = _retry_policy()
    assert policy.get_retry_after(HTTPResponse(status=429, headers={"Retry-After": "3600"})) == RETRY_AFTER_MAX
    assert policy.get_retry_after(HTTPResponse(status=503, headers={"Retry-After": "2"})) == 2
    assert (policy.total, policy.connect, policy.read, policy.redirect) == (ATTEMPTS - 1, ATTEMPTS - 1, False, 0)
    assert 429 in policy.status_forcelist and 404 not in policy.status_forcelist
