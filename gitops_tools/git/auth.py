"""Credentials for git over HTTPS, without ever putting them where they could leak.

A token (``GITOPS_TOKEN``, else GitLab's ``CI_JOB_TOKEN``, else one a user wrote into the URL) reaches git as an
``http.extraHeader`` set through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` environment
variables of each git process: not in a URL on disk, not in ``.git/config``, not in the process list, and every
echoed command and error message is masked.

Pure: the environment is passed in as a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from gitops_tools.core.redact import basic


class Credentials(NamedTuple):
    user: str
    token: str
    source: str = "the URL"  # where they came from, for messages: GITOPS_TOKEN, CI_JOB_TOKEN or the URL

    def describe(self) -> str:
        """``the token from GITOPS_TOKEN (user oauth2)``: which credentials were sent, never their value."""
        return f"the token from {self.source} (user {self.user})"

    @property
    def header(self) -> str:
        return f"Authorization: Basic {basic(self.user, self.token)}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every form in which the token could show up in output."""
        return (self.token, basic(self.user, self.token))


def split_url(url: str) -> tuple[str, Credentials | None]:
    """``https://user:token@host/x.git`` → (``https://host/x.git``, Credentials(user, token))."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    user, password = unquote(user), unquote(password)  # RFC 3986: a token with `@` or `:` is percent-encoded
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    if not password:  # https://TOKEN@host: the token alone, as GitLab accepts with user oauth2
        return clean, Credentials("oauth2", user) if user else None
    return clean, Credentials(user or "oauth2", password)


def from_environment(env: Mapping[str, str]) -> Credentials | None:
    """``GITOPS_TOKEN`` (user ``GITOPS_TOKEN_USER``, default oauth2), else ``CI_JOB_TOKEN`` (gitlab-ci-token)."""
    token = env.get("GITOPS_TOKEN")
    if token:
        return Credentials(env.get("GITOPS_TOKEN_USER") or "oauth2", token, "GITOPS_TOKEN")
    job_token = env.get("CI_JOB_TOKEN")
    if job_token:
        return Credentials("gitlab-ci-token", job_token, "CI_JOB_TOKEN")
    return None


def git_environment(credentials: Credentials | None) -> dict[str, str]:
    """Environment variables that give git the header for this run only (git 2.31 and newer)."""
    if credentials is None:
        return {}
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": credentials.header,
        "GIT_TERMINAL_PROMPT": "0",
    }


def choose(url: str, env: Mapping[str, str], *, user_alone_is_token: bool) -> tuple[str, Credentials | None]:
    """The URL to give git (credentials removed) and the credentials to send as a header, by precedence:
    ``GITOPS_TOKEN`` (meant for this tool), then a ``user:password`` written in the URL (someone set it up on
    purpose, as ``git remote set-url origin https://oauth2:$PAT@...`` does), then ``CI_JOB_TOKEN``.

    ``user_alone_is_token``: an ``https://TOKEN@host`` URL given to ``--repo-url`` carries a token; in a
    checkout's own remote, ``https://alice@host`` names a user whose password a credential helper supplies.
    None when no credentials apply: git is left to its own configuration.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url, None
    clean, in_url = split_url(url)
    if in_url is not None and not user_alone_is_token and ":" not in parts.netloc.rpartition("@")[0]:
        clean, in_url = url, None  # a user name alone stays in the URL, for git's credential helper
    token = env.get("GITOPS_TOKEN")
    if token:
        return clean, Credentials(env.get("GITOPS_TOKEN_USER") or "oauth2", token, "GITOPS_TOKEN")
    if in_url is not None:
        return clean, in_url
    job_token = env.get("CI_JOB_TOKEN")
    return clean, (Credentials("gitlab-ci-token", job_token, "CI_JOB_TOKEN") if job_token else None)


def for_checkout(origin_url: str, env: Mapping[str, str]) -> Credentials | None:
    """The header to give git for a checkout's own ``origin`` (by the precedence of :func:`choose`): None when
    git needs none from us, either because the URL is not HTTP(S) or because the credentials that win are the
    ones stored in the URL, which git sends itself."""
    _, creds = choose(origin_url, env, user_alone_is_token=False)
    return None if creds is not None and creds == split_url(origin_url)[1] else creds
