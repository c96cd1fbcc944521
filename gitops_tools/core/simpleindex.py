"""Python package indexes, pure: distribution file names, the simple repository API's pages, credentials.

- :func:`dist_file` reads the project and version out of a wheel's or an sdist's file name (PEP 427, PEP 625),
  with ``packaging``'s parsers: a name that is neither is an error, never a guess.
- :func:`parse_page` reads one project's page of a simple index, HTML (PEP 503) or JSON (PEP 691): every
  distribution file it lists, with its version and, when the index gives one, its sha256.
- :func:`credentials` picks the credentials from an environment mapping (``TWINE_USERNAME`` and
  ``TWINE_PASSWORD``, else GitLab's ``CI_JOB_TOKEN`` as ``gitlab-ci-token``) and says where they came from,
  for messages that never show them.
- :func:`check_url` refuses what is not an ``http(s)://`` URL, or carries credentials.

Nothing here does I/O: :mod:`gitops_tools.pyindex` fetches the pages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import unquote, urljoin, urlsplit

from gitops_tools.core.redact import basic
from gitops_tools.errors import GitopsError, UsageError

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# What an index is asked for: PEP 691 JSON where it speaks it, the PEP 503 HTML page everywhere else.
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

CREDENTIALS_FIX = "put them in TWINE_USERNAME and TWINE_PASSWORD (masked CI/CD variables)"


class IndexFile(NamedTuple):
    """One distribution file a simple index lists: its file name, the version it holds, its sha256 (None when
    the index does not say)."""

    filename: str
    version: str
    sha256: str | None


class DistFile(NamedTuple):
    """What a distribution file's name says: the project (canonical name), its version (normalized), the kind."""

    project: str
    version: str
    kind: str  # "wheel" or "sdist"


class Credentials(NamedTuple):
    """A user and a password for an index, and the variables they came from (``source``, for messages)."""

    username: str
    password: str
    source: str

    @property
    def basic(self) -> str:
        """The ``Authorization: Basic`` value."""
        return basic(self.username, self.password)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every form in which the password could show up in output."""
        return (self.password, self.basic)


def canonical(project: str) -> str:
    """The PEP 503 normalized name: ``Shared_Library`` -> ``shared-library``."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(project))


def dist_file(filename: str) -> DistFile:
    """The project and version of a wheel (``.whl``) or an sdist (``.tar.gz``, ``.zip``) file name; a
    GitopsError for any other name."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return DistFile(str(name), str(version), "wheel")
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return DistFile(str(name), str(version), "sdist")
    except (InvalidWheelFilename, InvalidSdistFilename) as err:
        raise GitopsError(f"{filename}: not a valid distribution file name ({err})",
                          fix="publish what `python -m build` wrote, under the names it gave them") from None
    raise GitopsError(f"{filename}: not a wheel (.whl) or an sdist (.tar.gz)",
                      fix="give the directory `python -m build` wrote (dist/), or only its .whl and .tar.gz files")


class _Links(HTMLParser):
    """The ``href`` and text of every ``<a>`` of a PEP 503 page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _file(filename: str, sha256: str | None) -> IndexFile | None:
    """An index entry, or None for a file that is not a distribution (a signature, a stray upload)."""
    try:
        found = dist_file(filename)
    except GitopsError:
        return None
    digest = sha256.lower() if sha256 and len(sha256) == 64 and all(c in "0123456789abcdefABCDEF" for c in sha256) \
        else None
    return IndexFile(filename, found.version, digest)


def parse_page(body: bytes, content_type: str, page_url: str, project: str) -> tuple[IndexFile, ...]:
    """Every distribution file of ``project`` on its simple index page (HTML or JSON, by ``content_type``),
    in the order listed. Files of another project are left out (an index that answers for a project it does
    not hold with another's page must not make it look published)."""
    return tuple(f for f, _ in parse_links(body, content_type, page_url, project))


def parse_links(body: bytes, content_type: str, page_url: str,
                project: str) -> tuple[tuple[IndexFile, str], ...]:
    """:func:`parse_page`, each file with its absolute URL (without the fragment)."""
    wanted = canonical(project)
    entries: list[tuple[str, str | None, str]] = []
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE or kind.endswith("+json") or kind == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
            files = data["files"]
            for item in files:
                hashes = item.get("hashes") or {}
                entries.append((str(item["filename"]), hashes.get("sha256"), urljoin(page_url, str(item["url"]))))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise GitopsError(f"the index page {page_url} is not a PEP 691 JSON page ({type(err).__name__})",
                              fix="give the simple index's URL (…/simple/), not the upload URL") from None
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        parser.close()
        for href, text in parser.links:
            url, _, fragment = href.partition("#")
            name = unquote(urlsplit(urljoin(page_url, url)).path.rsplit("/", 1)[-1]) or text
            algo, _, value = fragment.partition("=")
            entries.append((name, value if algo == "sha256" else None, urljoin(page_url, url)))
    found: list[tuple[IndexFile, str]] = []
    for name, digest, link in entries:
        entry = _file(name, digest)
        if entry is not None and canonical(dist_file(name).project) == wanted:
            found.append((entry, link))
    return tuple(found)


def archive_contents(data: bytes, filename: str) -> dict[str, bytes] | None:
    """The members of a wheel (zip) or an sdist (tar.gz, zip) by name, their bytes; None when ``data`` is not
    such an archive. Two builds of the same source differ in timestamps and member order, never in this."""
    import io
    import tarfile
    import zipfile

    try:
        if filename.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
            out: dict[str, bytes] = {}
            for member in t.getmembers():
                if member.isfile():
                    f = t.extractfile(member)
                    out[member.name] = f.read() if f is not None else b""
                elif not member.isdir():
                    out[member.name] = f"{member.type!r}->{member.linkname}".encode()
            return out
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError):
        return None


def same_contents(a: bytes, b: bytes, filename: str) -> bool:
    """True when two distribution files hold the same members with the same bytes (a rebuild of one source)."""
    ours, theirs = archive_contents(a, filename), archive_contents(b, filename)
    return ours is not None and ours == theirs


def credentials(env: Mapping[str, str]) -> Credentials | None:
    """``TWINE_USERNAME`` and ``TWINE_PASSWORD`` when both are set, else ``CI_JOB_TOKEN`` as the user
    ``gitlab-ci-token`` (GitLab CI), else None (anonymous). One of the two TWINE variables alone is an error."""
    user, password = env.get("TWINE_USERNAME", ""), env.get("TWINE_PASSWORD", "")
    if user and password:
        return Credentials(user, password, "TWINE_USERNAME and TWINE_PASSWORD")
    if user or password:
        given, missing = ("TWINE_USERNAME", "TWINE_PASSWORD") if user else ("TWINE_PASSWORD", "TWINE_USERNAME")
        raise GitopsError(f"{given} is set but {missing} is not",
                          fix="set both (for GitLab's package registry: a deploy or personal access token and its "
                              "user name), or neither to use CI_JOB_TOKEN in GitLab CI")
    token = env.get("CI_JOB_TOKEN", "")
    if token:
        return Credentials("gitlab-ci-token", token, "CI_JOB_TOKEN (as the user gitlab-ci-token)")
    return None


def check_url(url: str, option: str) -> str:
    """``url`` when it is an ``http(s)://`` URL without credentials, a query or a blank; else an error naming
    ``option``. Credentials in a URL end up in logs: they are refused, never used."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as err:
        raise UsageError(f"{option}: not a URL ({err})") from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise GitopsError(f"{option}: the URL carries credentials, which end up in logs; it was not used",
                          fix=f"give the URL without user:password@ and {CREDENTIALS_FIX}")
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{option} {text!r}: not an http:// or https:// URL")
    if not parts.hostname:
        raise UsageError(f"{option} {text!r}: names no host")
    if parts.query or parts.fragment or any(c.isspace() or ord(c) < 32 for c in text):
        raise UsageError(f"{option} {text!r}: has a query, a fragment or a blank")
    return text


def project_url(index_url: str, project: str) -> str:
    """The page of ``project`` on the simple index at ``index_url``: ``<index>/<canonical name>/``."""
    return index_url.rstrip("/") + "/" + canonical(project) + "/"


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


