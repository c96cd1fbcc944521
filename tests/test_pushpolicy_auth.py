"""Pure parts of the write path: classifying git's rejections, backoff, merge-request branches, credentials."""

from __future__ import annotations

import pytest

from gitops_tools.git.auth import Credentials, choose, for_checkout, from_environment, git_environment, split_url
from gitops_tools.core.redact import mask
from gitops_tools.git.refusals import FINAL, RETRY, TEMPORARY, Backoff, classify_push_error, mr_branch, rejection_reason


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        (" ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs", RETRY),
        (" ! [rejected]        HEAD -> main (non-fast-forward)", RETRY),
        ("hint: Updates were rejected because the remote contains work that you do", RETRY),
        (" ! [remote rejected] HEAD -> main (cannot lock ref 'refs/heads/main': is at 1a but expected 2b)", RETRY),
        (" ! [remote rejected] HEAD -> main (failed to update ref)", RETRY),
        ("error: cannot lock ref 'refs/heads/main': reference already exists", RETRY),
        ("remote: error: incorrect old value provided", RETRY),
        (" ! [remote rejected] HEAD -> main (pre-receive hook declined)", FINAL),
        ("remote: GitLab: You are not allowed to push code to protected branches on this project.", FINAL),
        ("remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://gitlab.com/x.git/'", FINAL),
        ("fatal: could not read Username for 'https://gitlab.com': terminal prompts disabled", FINAL),
        ("fatal: the receiving end does not support push options", FINAL),
        ("fatal: unable to access 'https://gitlab.com/x.git/': Could not resolve host: gitlab.com", TEMPORARY),
        ("fatal: unable to access 'http://127.0.0.1:9/x.git/': Failed to connect to 127.0.0.1 port 9", TEMPORARY),
        ("fatal: '/tmp/gone.git' does not appear to be a git repository", TEMPORARY),
        ("error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502", TEMPORARY),
        ("fatal: the remote end hung up unexpectedly\nfatal: early EOF", TEMPORARY),
        ("something nobody has seen before", FINAL),
    ],
)
def test_classify(stderr: str, kind: str) -> None:
    assert classify_push_error(stderr) == kind


def test_rejection_reason_keeps_what_explains() -> None:
    stderr = (
        "remote: \nremote: deploy freeze until Monday\nTo /srv/gitops.git\n"
        " ! [remote rejected] HEAD -> main (pre-receive hook declined)\n"
        "error: failed to push some refs to '/srv/gitops.git'\nhint: see git help\n"
    )
    assert rejection_reason(stderr) == (
        "deploy freeze until Monday; ! [remote rejected] HEAD -> main (pre-receive hook declined); "
        "error: failed to push some refs to '/srv/gitops.git'"
    )
    assert rejection_reason("") == "no reason given"


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    b = Backoff(base=0.1, cap=1.0)
    assert [b.delay(n, lambda: 1.0) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert b.delay(3, lambda: 0.0) == 0.0
    assert b.delay(3, lambda: 0.5) == 0.4


def test_merge_request_branch_is_deterministic() -> None:
    a = mr_branch("prod", "set-image", ["Gitops-Change: prod a 1 -> 2", "Gitops-Change: prod b 1 -> 2"])
    assert a == mr_branch("prod", "set-image", ["Gitops-Change: prod b 1 -> 2", "Gitops-Change: prod a 1 -> 2"])
    assert a.startswith("gitops/prod/set-image-") and len(a) == len("gitops/prod/set-image-") + 12
    assert a != mr_branch("prod", "set-image", ["Gitops-Change: prod a 1 -> 3"])


@pytest.mark.parametrize(
    ("url", "clean", "creds"),
    [
        ("https://oauth2:tok@gitlab.com/aegis/gitops.git", "https://gitlab.com/aegis/gitops.git",
         Credentials("oauth2", "tok")),
        ("https://tok@gitlab.com/aegis/gitops.git", "https://gitlab.com/aegis/gitops.git", Credentials("oauth2", "tok")),
        ("https://gitlab.com/aegis/gitops.git", "https://gitlab.com/aegis/gitops.git", None),
        ("http://u:p@127.0.0.1:8080/x.git", "http://127.0.0.1:8080/x.git", Credentials("u", "p")),
        ("file:///srv/gitops.git", "file:///srv/gitops.git", None),
        ("git@gitlab.com:aegis/gitops.git", "git@gitlab.com:aegis/gitops.git", None),
    ],
)
def test_split_url(url: str, clean: str, creds: Credentials | None) -> None:
    assert split_url(url) == (clean, creds)


def test_a_percent_encoded_token_in_a_url_is_decoded() -> None:
    """RFC 3986: `@`, `:` and `/` in a token are written %40, %3A, %2F; git decodes them, and so must we,
    or the header carries the encoded text and the server refuses it."""
    assert split_url("https://oauth2:a%40b%3Ac%2Fd@gitlab.com/x.git") == (
        "https://gitlab.com/x.git", Credentials("oauth2", "a@b:c/d"))
    assert split_url("https://bot%2B1:t%25k@gitlab.com/x.git")[1] == Credentials("bot+1", "t%k")


def test_credentials_say_where_they_came_from_never_what_they_are() -> None:
    assert from_environment({"GITOPS_TOKEN": "s3cret"}).describe() == "the token from GITOPS_TOKEN (user oauth2)"
    assert from_environment({"CI_JOB_TOKEN": "s3cret"}).describe() == (
        "the token from CI_JOB_TOKEN (user gitlab-ci-token)")
    assert split_url("https://u:s3cret@h/x.git")[1].describe() == "the token from the URL (user u)"


def test_credentials_from_the_environment() -> None:
    assert from_environment({}) is None
    assert from_environment({"CI_JOB_TOKEN": "j"}) == Credentials("gitlab-ci-token", "j", "CI_JOB_TOKEN")
    assert from_environment({"CI_JOB_TOKEN": "j", "GITOPS_TOKEN": "g"}) == Credentials("oauth2", "g", "GITOPS_TOKEN")
    assert from_environment({"GITOPS_TOKEN": "g", "GITOPS_TOKEN_USER": "bot"}) == Credentials("bot", "g", "GITOPS_TOKEN")


def test_git_environment_carries_the_header_not_the_url() -> None:
    env = git_environment(Credentials("oauth2", "tok"))
    assert env == {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": "Authorization: Basic b2F1dGgyOnRvaw==",
        "GIT_TERMINAL_PROMPT": "0",
    }
    assert git_environment(None) == {}
    assert Credentials("oauth2", "tok").secrets == ("tok", "b2F1dGgyOnRvaw==")


def test_mask() -> None:
    assert mask("fatal: unable to access 'https://oauth2:tok@gitlab.com/x.git/'") == (
        "fatal: unable to access 'https://***@gitlab.com/x.git/'")
    assert mask("header b2F1dGgyOnRvaw== and tok", ("tok", "b2F1dGgyOnRvaw==")) == "header *** and ***"


GITOPS = {"GITOPS_TOKEN": "gt"}
JOB = {"CI_JOB_TOKEN": "jt"}
STORED = "https://oauth2:st@gitlab.example.com/x.git"
CLEAN = "https://gitlab.example.com/x.git"


@pytest.mark.parametrize(("url", "env", "user_alone_is_token", "expected"), [
    (STORED, {**GITOPS, **JOB}, True, (CLEAN, Credentials("oauth2", "gt", "GITOPS_TOKEN"))),  # meant for the tool: first
    (STORED, JOB, True, (CLEAN, Credentials("oauth2", "st"))),  # set up on purpose: before the job token
    (CLEAN, JOB, True, (CLEAN, Credentials("gitlab-ci-token", "jt", "CI_JOB_TOKEN"))),
    (CLEAN, {}, True, (CLEAN, None)),
    ("https://tok@gitlab.example.com/x.git", {}, True, (CLEAN, Credentials("oauth2", "tok"))),
    ("https://alice@gitlab.example.com/x.git", JOB, False,  # a user name for the credential helper
     ("https://alice@gitlab.example.com/x.git", Credentials("gitlab-ci-token", "jt", "CI_JOB_TOKEN"))),
    ("git@gitlab.example.com:x.git", GITOPS, True, ("git@gitlab.example.com:x.git", None)),  # SSH: no header
    ("/srv/x.git", GITOPS, True, ("/srv/x.git", None)),
])
def test_choose_credentials_by_precedence(url: str, env: dict[str, str], user_alone_is_token: bool,
                                          expected: tuple[str, Credentials | None]) -> None:
    assert choose(url, env, user_alone_is_token=user_alone_is_token) == expected


@pytest.mark.parametrize(("url", "env", "expected"), [
    (STORED, JOB, None),  # the stored token wins, and git sends it itself
    (STORED, GITOPS, Credentials("oauth2", "gt", "GITOPS_TOKEN")),
    (CLEAN, JOB, Credentials("gitlab-ci-token", "jt", "CI_JOB_TOKEN")),
    ("https://alice@gitlab.example.com/x.git", {}, None),
    ("git@gitlab.example.com:x.git", JOB, None),
])
def test_for_checkout_sends_a_header_only_when_git_would_not_have_the_winner(
        url: str, env: dict[str, str], expected: Credentials | None) -> None:
    assert for_checkout(url, env) == expected
