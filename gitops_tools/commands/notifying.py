"""Sending notifications, after a change has landed: the I/O of :mod:`gitops_tools.core.notify`.

- :func:`preflight` runs before anything is written: a *required* target that would be sent this change but
  whose URL variable is unset, empty or not an acceptable URL refuses the change (exit 1, nothing written). A
  target that is not required is only warned about, after the change landed: a developer without the Slack
  variable must still be able to deploy.
- :func:`announce` sends one notice to every target that wants it, each POST with a timeout and bounded retries
  (connection failures and 429/5xx answers; a timeout while waiting for the answer is not retried, the target may
  have the message already). It never raises for a target that failed: it returns one :class:`Notification`
  per target, whose ``message`` is the warning the CLI prints. The command's change stays landed whatever
  happens here; a failed ``required`` target makes the CLI exit 75.
- The URL is a secret: it is read from the environment variable the configuration names, and every text that
  leaves this module (messages, ``-v`` lines, errors, urllib3's log records) has it replaced by ``$NAME``.

urllib3 (connection pooling, connect and read timeouts, TLS verification, its retry policy with backoff and
Retry-After) is imported by the first notification sent: a run that sends nothing does not load it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from gitops_tools.config.model import NotifyTarget
from gitops_tools.errors import GitopsError

if TYPE_CHECKING:
    from gitops_tools.core.changes import ImageUpdate
    from gitops_tools.core.notify import Notice

Outcome = Literal["sent", "failed", "skipped"]

ATTEMPTS = 3  # per target: the first POST and at most two retries
BACKOFF = 0.5  # seconds: retries wait 0, then 1 s (urllib3's exponential backoff), plus up to JITTER
JITTER = 0.25
RETRY_AFTER_MAX = 10  # seconds: a longer Retry-After is cut to this
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# url -> the name of its variable, while it is being sent: what urllib3's log records are masked with
_SECRETS: dict[str, str] = {}


class Notification(NamedTuple):
    """What became of one target: ``sent``; ``failed`` (the URL did not take it); ``skipped`` (its variable is
    unset or not an acceptable URL). ``message`` is the warning (``error`` for a required target) to print."""

    kind: str
    url_env: str
    required: bool
    outcome: Outcome
    status: int | None = None  # the HTTP status of the last answer
    attempts: int = 0
    error: str | None = None
    message: str | None = None

    @property
    def sent(self) -> bool:
        return self.outcome == "sent"

    @property
    def failed_required(self) -> bool:
        """A required target that did not get the message: the CLI exits 75."""
        return self.required and not self.sent

    @property
    def target(self) -> str:
        return f"{self.kind} ${self.url_env}"

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "url_env": self.url_env, "required": self.required, "outcome": self.outcome,
                "status": self.status, "attempts": self.attempts, "error": self.error, "message": self.message}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def url_problem(value: str | None) -> str | None:
    """Why the value of a URL variable cannot be used, or None."""
    from gitops_tools.core.notify import check_url

    if value is None:
        return "the variable is not set"
    if not value.strip():
        return "the variable is empty"
    return check_url(value)


def preflight(targets: Sequence[NotifyTarget], event: str, environment: str | None, merge_request: bool,
              env: Mapping[str, str], file: str | None, key: str = "notify") -> None:
    """Refuse the change before anything is written when a required target that wants it cannot be sent to."""
    for index, target in enumerate(targets):
        if not target.required or not target.wants(event, environment, merge_request):
            continue
        problem = url_problem(env.get(target.url_env))
        if problem is not None:
            raise GitopsError(
                f"the required notification to {target.kind} ${target.url_env} could not be sent: {problem}; "
                "nothing was written",
                file=file, key=f"{key}[{index}].url_env",
                fix=f"set {target.url_env} to the webhook's https URL (a masked CI/CD variable), or make the target "
                    "required: false to land changes without it")


def announce(targets: Sequence[NotifyTarget], notice: Notice, env: Mapping[str, str], landed: str, *,
             verbose: bool = False, echo: Callable[[str], None] = _stderr) -> tuple[Notification, ...]:
    """Send ``notice`` to every target that wants it; ``landed`` says where the change is (for the messages:
    ``commit 3f2a1bc4d5e6 on main``). Never raises for a target (Ctrl-C and SIGTERM excepted)."""
    chosen = [t for t in targets if t.wants(notice.event, notice.environment, notice.awaiting_merge)]
    if not chosen:
        return ()
    from gitops_tools.core.notify import payload

    results = []
    pool: Any = None
    try:
        for target in chosen:
            url = env.get(target.url_env)
            problem = url_problem(url)
            if problem is not None or url is None:
                results.append(_done(target, "skipped", None, 0, problem or "the variable is not set", landed))
                continue
            url = url.strip()
            _SECRETS[url] = target.url_env
            try:
                body = payload(target.kind, notice)
                if pool is None:
                    pool = _pool_manager()
                if verbose:
                    echo(f"notify: POST ${target.url_env} ({target.kind}, {len(body)} bytes, "
                         f"timeout {target.timeout})")
                status, attempts, error = _post(pool, url, body, target.timeout_seconds, env)
            except Exception as exc:  # noqa: BLE001 - a notification never fails a landed change
                status, attempts, error = None, 1, _mask(f"{type(exc).__name__}: {exc}")
            finally:
                _SECRETS.pop(url, None)
            if verbose:
                echo(f"notify: ${target.url_env} " + (f"answered HTTP {status}" if status is not None else "no answer")
                     + f" ({attempts} attempt{'s' if attempts != 1 else ''})")
            outcome: Outcome = "sent" if error is None else "failed"
            results.append(_done(target, outcome, status, attempts, error, landed))
    finally:
        if pool is not None:
            pool.clear()
    return tuple(results)


def _done(target: NotifyTarget, outcome: Outcome, status: int | None, attempts: int, error: str | None,
          landed: str) -> Notification:
    message = None
    if outcome == "skipped":
        message = f"notification to {target.kind} ${target.url_env} not sent: {error}"
    elif outcome == "failed":
        message = f"notification to {target.kind} ${target.url_env} failed: {error}"
    if message is not None:
        if target.required:
            message = (f"required {message}; the change stays landed ({landed}): announce it by hand, a new run "
                       "finds nothing to change and sends nothing")
        else:
            message += f"; the change landed anyway ({landed})"
    return Notification(target.kind, target.url_env, target.required, outcome, status, attempts, error, message)


def _mask(text: str) -> str:
    from gitops_tools.core.notify import mask

    return mask(text, _SECRETS)


# --- the HTTP edge ------------------------------------------------------------------------------------------------


def _pool_manager() -> Any:
    import logging

    import urllib3

    # a logger's filters do not apply to its children's records: each of urllib3's loggers gets one
    names = ["urllib3", *(n for n in logging.root.manager.loggerDict if n.startswith("urllib3."))]
    for logger in map(logging.getLogger, names):
        if not any(isinstance(f, _MaskingFilter) for f in logger.filters):
            logger.addFilter(_MaskingFilter())
    return urllib3.PoolManager(num_pools=4)


def _user_agent() -> str:
    from gitops_tools import __version__

    return f"gitops-tools/{__version__}"


class _MaskingFilter:
    """urllib3 logs the URL path of a retried request at WARNING: mask it before any handler sees it."""

    def filter(self, record: Any) -> bool:
        if _SECRETS:
            record.msg, record.args = _mask(record.getMessage()), None
        return True


_policy: Any = None


def _retry_policy() -> Any:
    """urllib3's Retry, telling how many attempts were made when it gives up (on the error it raises)."""
    global _policy
    if _policy is None:
        from urllib3.util import Retry

        class Policy(Retry):
            def get_retry_after(self, response: Any) -> float | None:
                after = super().get_retry_after(response)  # a Retry-After of hours must not hold a deployment
                return None if after is None else min(after, RETRY_AFTER_MAX)

            def increment(self, *args: Any, **kwargs: Any) -> Policy:
                try:
                    return super().increment(*args, **kwargs)
                except Exception as exc:
                    exc.gitops_attempts = len(self.history) + 1  # type: ignore[attr-defined]
                    raise

        _policy = Policy
    return _policy(total=ATTEMPTS - 1, connect=ATTEMPTS - 1, read=False, status=ATTEMPTS - 1, other=0,
                   redirect=0, raise_on_redirect=False, raise_on_status=False, allowed_methods=frozenset({"POST"}),
                   status_forcelist=RETRY_STATUSES, backoff_factor=BACKOFF, backoff_jitter=JITTER)


def _proxy(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy of ``https_proxy``/``http_proxy`` for this URL (never for loopback, nor a ``no_proxy`` host)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    lowered = {k.lower(): v for k, v in env.items() if k.lower() in ("https_proxy", "http_proxy", "no_proxy")}
    proxy = lowered.get(f"{parts.scheme}_proxy")
    if not proxy:
        return None
    for entry in (e.strip().lstrip(".") for e in lowered.get("no_proxy", "").split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith(f".{entry}"))):
            return None
    return proxy


def _post(pool: Any, url: str, body: bytes, timeout: int, env: Mapping[str, str]) -> tuple[int | None, int, str | None]:
    """POST ``body``: (the last HTTP status, the attempts made, None or why it failed, masked)."""
    import urllib3
    from urllib3.exceptions import (
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )
    from urllib3.exceptions import ConnectTimeoutError as ConnectTimeout

    proxy = _proxy(url, env)
    manager = urllib3.ProxyManager(proxy) if proxy else pool
    try:
        response = manager.request("POST", url, body=body, headers={"Content-Type": "application/json", "User-Agent": _user_agent()},
                                   timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=_retry_policy(),
                                   redirect=False)
    except Exception as exc:  # urllib3's errors name the URL: each is told in words of our own
        attempts = int(getattr(exc, "gitops_attempts", 1))
        reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(reason, NewConnectionError):
            return None, attempts, f"could not connect ({_errno_text(reason)}){tries}"
        if isinstance(reason, ConnectTimeout):
            return None, attempts, f"could not connect within {timeout}s{tries}"
        if isinstance(reason, ReadTimeoutError):
            return None, attempts, (f"no answer within {timeout}s{tries} (not retried: the target may have "
                                    "received it)")
        if isinstance(reason, ProtocolError):
            return None, attempts, (f"the connection closed without an answer{tries} (not retried: the target may "
                                    "have received it)")
        if isinstance(reason, SSLError):
            return None, attempts, _mask(f"TLS failed: {_errno_text(reason)}{tries}")
        return None, attempts, _mask(f"{type(reason).__name__}: {reason}{tries}")
    finally:
        if proxy:
            manager.clear()
    attempts = len(response.retries.history) + 1 if response.retries is not None else 1
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if 200 <= response.status < 300:
        return response.status, attempts, None
    said = _said(response.data)
    if 300 <= response.status < 400:
        return response.status, attempts, f"HTTP {response.status}: redirects are not followed{tries}"
    return response.status, attempts, f"HTTP {response.status}{f' ({said})' if said else ''}{tries}"


def _errno_text(error: BaseException) -> str:
    """``...: [Errno 111] Connection refused`` -> ``connection refused``."""
    import re

    words = str(error).rsplit(": ", 1)[-1]
    words = re.sub(r"^\[Errno -?\d+\]\s*", "", words).strip().rstrip(")").strip()
    return _mask(words[:1].lower() + words[1:]) if words else type(error).__name__


def _said(data: bytes | None) -> str:
    """The start of an error answer's body, on one line (Slack says ``invalid_payload``, ``no_service``)."""
    import re

    if not data:
        return ""
    words = re.sub(r"\s+", " ", data[:400].decode("utf-8", "replace")).strip()
    words = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", words)
    return _mask(words[:120] + ("…" if len(words) > 120 else ""))


# --- the write path's and the release's notices ------------------------------------------------------------------


def change_landed(targets: Sequence[NotifyTarget], action: str, scope: str, environment: str | None,
                  updates: Sequence[ImageUpdate], commit: str | None, branch: str, merge_request: str | None,
                  repo_url: Callable[[], str | None], env: Mapping[str, str], verbose: bool) -> tuple[Notification, ...]:
    """Announce a change that was pushed to ``branch``, or (``merge_request``) to a merge-request branch."""
    if not any(t.wants(action, environment, merge_request is not None) for t in targets):
        return ()
    from gitops_tools.core.notify import change_notice

    notice = change_notice(action, scope, environment, updates, commit, branch, merge_request, repo_url(), env)
    where = (f"merge request branch {merge_request} pushed, awaiting merge into {branch}" if merge_request else
             f"commit {(commit or '')[:12]} on {branch}")
    return announce(targets, notice, env, where, verbose=verbose)


def release_pushed(targets: Sequence[NotifyTarget], name: str, previous: str | None, version: str, tag: str,
                   commit: str | None, branch: str, section: str, commit_url: str | None, env: Mapping[str, str],
                   verbose: bool) -> tuple[Notification, ...]:
    """Announce a release that was pushed (commit and tag)."""
    if not targets:
        return ()
    from gitops_tools.core.notify import release_notice

    notice = release_notice(name, previous, version, tag, commit, branch, section, commit_url, env)
    return announce(targets, notice, env, f"{tag} pushed to {branch}", verbose=verbose)


def release_targets(pyproject_text: str, file: str) -> tuple[NotifyTarget, ...]:
    """The ``[[tool.gitops-tools.release.notify]]`` targets of a library's ``pyproject.toml``."""
    from gitops_tools.core.notify import release_targets as parse
    from gitops_tools.release.config import parse_toml

    return parse(parse_toml(pyproject_text, file), file)
