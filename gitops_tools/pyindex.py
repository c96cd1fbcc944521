"""Reading a Python package index (the simple repository API, PEP 503 HTML and PEP 691 JSON), over HTTP.

:func:`index_files` lists the distribution files of one project: what ``publish`` checks before and after it
uploads, and what ``propagate`` checks before it moves services to a version. The pages are parsed by
:mod:`gitops_tools.core.simpleindex`; this module only fetches them, with urllib3 (imported on the first call).

- Credentials come from the environment alone: ``TWINE_USERNAME`` and ``TWINE_PASSWORD``, else GitLab's
  ``CI_JOB_TOKEN`` as the user ``gitlab-ci-token``, else none. A URL that carries credentials is refused. No
  message, log record or exception text shows a password.
- 404 (the project was never published there) is an empty tuple; 401 and 403 are a GitopsError (exit 1)
  naming the variables the credentials came from; no answer, a timeout or a 5xx is a TemporaryError (exit 75,
  a CI job retries it). A redirect to another host (an index that forwards unknown projects to pypi.org, as
  GitLab's does) counts as "not on this index": its files would be another project's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from gitops_tools.core.simpleindex import (
    ACCEPT,
    IndexFile,
    check_url,
    credentials,
    parse_links,
    project_url,
    same_origin,
)
from gitops_tools.core.redact import mask
from gitops_tools.errors import GitopsError, TemporaryError

__all__ = ["IndexFile", "download", "index_files", "index_links"]

REDIRECTS = 5
RETRIES = 2  # connection failures and 502/503/504 are retried this often (urllib3's backoff) before exit 75
MAX_PAGE = 20 * 1024 * 1024  # bytes: a simple page larger than this is not one


def index_files(index_url: str, project: str, env: Mapping[str, str], *,
                timeout: float = 10.0) -> tuple[IndexFile, ...]:
    """Every distribution file of ``project`` on the simple index at ``index_url`` (e.g.
    ``https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple``), in the order the index lists them;
    empty when the index does not have the project."""
    return tuple(f for f, _ in index_links(index_url, project, env, timeout=timeout))


class _Access(NamedTuple):
    base: str  # the index URL, checked
    headers: dict[str, str]
    secrets: tuple[str, ...]  # what no message may show
    who: str  # where the credentials came from, for messages


def _access(index_url: str, env: Mapping[str, str]) -> _Access:
    base = check_url(index_url, "--index-url")
    creds = credentials(env)
    headers = {"Accept": ACCEPT, "User-Agent": _user_agent()}
    if creds is None:
        return _Access(base, headers, (), "no credentials (anonymous)")
    headers["Authorization"] = f"Basic {creds.basic}"
    return _Access(base, headers, creds.secrets, creds.source)


def index_links(index_url: str, project: str, env: Mapping[str, str], *,
                timeout: float = 10.0) -> tuple[tuple[IndexFile, str], ...]:
    """:func:`index_files`, each file with its URL (for :func:`download`)."""
    access = _access(index_url, env)
    url = project_url(access.base, project)
    response = _follow(url, access, access.headers, timeout)
    if response is None:
        return ()  # forwarded elsewhere (pypi.org): not on this index
    _refused(response, access, project)
    if response.status == 404:
        return ()
    if response.status != 200:
        raise GitopsError(f"the index {access.base} answered HTTP {response.status} for {project}",
                          fix="give the simple index's URL (…/simple/)")
    body = response.data or b""
    if len(body) > MAX_PAGE:
        raise GitopsError(f"the index page {url} is larger than {MAX_PAGE} bytes: not a simple page")
    try:
        return parse_links(body, response.headers.get("Content-Type", "text/html"), url, project)
    except GitopsError as err:
        raise GitopsError(mask(err.problem, access.secrets), fix=err.fix) from None


def download(index_url: str, file_url: str, env: Mapping[str, str], *, timeout: float = 60.0) -> bytes:
    """The bytes of a file the index at ``index_url`` lists; the credentials go only to the index's own host."""
    access = _access(index_url, env)
    headers = dict(access.headers)
    if not same_origin(file_url, access.base):
        headers.pop("Authorization", None)
    response = _follow(file_url, access, headers, timeout)
    if response is None:
        raise GitopsError(f"the index {access.base} redirected {file_url} to another host")
    _refused(response, access, file_url)
    if response.status != 200:
        raise GitopsError(f"the index {access.base} answered HTTP {response.status} for {file_url}")
    return bytes(response.data or b"")


def _follow(url: str, access: _Access, headers: dict[str, str], timeout: float) -> Any:
    """The answer to GET ``url``, following redirects within its origin; None for a redirect elsewhere."""
    from urllib.parse import urljoin

    import urllib3

    pool = urllib3.PoolManager(num_pools=2)
    first = url
    try:
        for _ in range(REDIRECTS + 1):
            response = _get(pool, url, headers, timeout, access.secrets, access.base)
            if response.status not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location") or ""
            target = urljoin(url, location)
            if not location or not same_origin(target, first):
                return None
            url = target
        raise GitopsError(f"the index {access.base} redirected {REDIRECTS} times for {first}: not a simple index",
                          fix="give the simple index's URL (…/simple/)")
    finally:
        pool.clear()


def _refused(response: Any, access: _Access, what: str) -> None:
    status = int(response.status)
    if status in (401, 403):
        if not access.secrets:
            raise GitopsError(f"the index {access.base} refused anonymous access (HTTP {status})",
                              fix="set TWINE_USERNAME and TWINE_PASSWORD, or run in GitLab CI (CI_JOB_TOKEN)")
        raise GitopsError(f"the index {access.base} refused the credentials from {access.who} (HTTP {status})",
                          fix="check the token: it must be valid and may read the package registry")
    if status >= 500 or status == 429:
        raise TemporaryError(f"the index {access.base} answered HTTP {status} for {what}",
                             fix="try again later (exit 75: a CI job can retry)")


def _get(pool: Any, url: str, headers: dict[str, str], timeout: float, secrets: tuple[str, ...], base: str) -> Any:
    import urllib3
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.util import Retry

    retry = Retry(total=RETRIES, connect=RETRIES, read=False, status=RETRIES, other=0, redirect=0,
                  raise_on_redirect=False, raise_on_status=False, status_forcelist=frozenset({502, 503, 504}),
                  backoff_factor=0.5, allowed_methods=frozenset({"GET"}))
    try:
        return pool.request("GET", url, headers=headers, timeout=urllib3.Timeout(connect=timeout, read=timeout),
                            retries=retry, redirect=False, preload_content=True)
    except Urllib3Error as err:
        reason = getattr(err, "reason", None) or err
        import re

        words = re.sub(r"^\[Errno -?\d+\]\s*", "", str(reason).rsplit(": ", 1)[-1].strip().rstrip(")'\""))
        text = mask(words[:1].lower() + words[1:], secrets) or type(reason).__name__
        if "timed out" in str(reason).lower():
            text = f"no answer within {timeout:g} s"
        raise TemporaryError(f"cannot reach the index {base}: {text}",
                             fix="check the URL and that the index is up; try again later (exit 75: a CI job "
                                 "can retry)") from None


def _user_agent() -> str:
    from gitops_tools import __version__

    return f"gitops-tools/{__version__}"
