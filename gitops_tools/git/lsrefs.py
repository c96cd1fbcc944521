"""Listing a remote's refs over smart HTTP in one request, for the polls of a waiting job.

A job whose change waits to be folded (:mod:`gitops_tools.commands.folding`) asks the server again and again
which pending refs exist. ``git ls-remote`` over HTTP costs two processes on the job's side and two requests on
the server's (the capability advertisement, then the listing), each served by a process of its own: with
hundreds of jobs waiting, the polls alone would keep a server busy. Git's protocol v2 is stateless over HTTP, so
the listing is one ``POST .../git-upload-pack`` with the ``ls-refs`` command, the very request ``git ls-remote``
sends second; this module sends it from this process (the standard library's ``http.client``, imported on the
first poll, one connection kept open), with the token of the run as the ``Authorization`` header git would send.

Only where nothing git would do differently applies: an ``http``/``https`` URL, no proxy, no TLS settings of
git's, no URL rewriting (``url.*.insteadOf``), no other ``http.*`` configuration. Anything unexpected in an
answer (a status other than 200, another content type, a malformed line, an error from the server, a broken
connection) makes :meth:`RefLister.list` return None: the caller runs ``git ls-remote`` instead, from then on,
and git gives its own diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

# Environment variables that make git connect differently than a plain request would (proxies, TLS, tracing
# that a user asked for): with any of them set, git lists the refs.
_GIT_ONLY_ENV = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "GIT_SSL_NO_VERIFY", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_CERT", "GIT_SSL_KEY",
                 "GIT_SSL_VERSION", "GIT_SSL_CIPHER_LIST", "GIT_HTTP_USER_AGENT", "GIT_CURL_VERBOSE",
                 "GIT_TRACE_CURL", "GIT_PROXY_SSL_CERT", "GIT_PROXY_SSL_KEY", "GIT_PROXY_SSL_CAINFO")
_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
TIMEOUT = 30.0  # seconds: connecting, and each read of the answer


def pkt_line(text: str) -> bytes:
    """One pkt-line: four hex digits of length (themselves included), then the data."""
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


def ls_refs_request(prefix: str) -> bytes:
    """The body of a protocol v2 ``ls-refs`` command for the refs under ``prefix``."""
    return (pkt_line("command=ls-refs\n") + pkt_line("agent=gitops-tools\n") + b"0001"
            + pkt_line(f"ref-prefix {prefix}\n") + b"0000")


def parse_ls_refs(body: bytes, prefix: str) -> dict[str, str] | None:
    """``{ref: object id}`` from an ``ls-refs`` answer (the refs under ``prefix`` only); None for anything that
    is not a well-formed answer ending in a flush packet (an ``ERR`` line, a short read)."""
    refs: dict[str, str] = {}
    at = 0
    while at + 4 <= len(body):
        try:
            size = int(body[at:at + 4], 16)
        except ValueError:
            return None
        if size == 0:  # flush: the end of the listing
            return refs if at + 4 == len(body) else None
        if size < 4 or at + size > len(body):
            return None
        line = body[at + 4:at + size].decode("utf-8", "replace").rstrip("\n")
        at += size
        oid, _, rest = line.partition(" ")
        ref = rest.split(" ", 1)[0]
        if not _OID.fullmatch(oid) or not ref:
            return None  # "ERR ..." or anything else git would complain about
        if ref.startswith(prefix):
            refs[ref] = oid
    return None


def eligible(url: str, config: Iterable[tuple[str, str]], own_header: str | None,
             environ: Mapping[str, str]) -> bool:
    """Whether one plain request asks what ``git ls-remote`` would: ``config`` is git's ``(key, value)`` pairs
    for ``http.*`` and ``url.*`` (keys in lower case), ``own_header`` the ``http.extraHeader`` this run gives git."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return False
    if any(environ.get(name) for name in _GIT_ONLY_ENV):
        return False
    for key, value in config:
        if key.startswith("url.") or (key.startswith("http.") and not (key == "http.extraheader"
                                                                       and value == own_header)):
            return False
    return True


class RefLister:
    """``RefLister(url, header).list(prefix)``: the refs under ``prefix``, one request each time."""

    def __init__(self, url: str, header: str | None) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.path = parts.path.rstrip("/") + "/git-upload-pack"
        self.headers = {"Content-Type": "application/x-git-upload-pack-request",
                        "Accept": "application/x-git-upload-pack-result", "Git-Protocol": "version=2",
                        "User-Agent": "git/gitops-tools"}
        if header:
            name, _, value = header.partition(":")
            self.headers[name.strip()] = value.strip()
        self._connection: Any = None

    def _connect(self) -> Any:
        import http.client

        if self.https:
            import ssl

            return http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)

    def list(self, prefix: str) -> dict[str, str] | None:
        """The refs under ``prefix``; None when the answer is not one this module understands."""
        import http.client

        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.request("POST", self.path, body=ls_refs_request(prefix), headers=self.headers)
            response = self._connection.getresponse()
            body = response.read()
            kind = response.getheader("Content-Type", "")
        except (OSError, ValueError, http.client.HTTPException):  # refused, reset, timed out, TLS, bad answer
            self.close()
            return None
        if response.status != 200 or kind != "application/x-git-upload-pack-result":
            self.close()
            return None
        return parse_ls_refs(body, prefix)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
