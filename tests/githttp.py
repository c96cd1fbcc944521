"""A real git server over HTTP on a loopback port, for tests that need credentials to travel like they do to GitLab.

``git http-backend`` (git's own smart-HTTP CGI program) serves the bare repositories under a directory; a small
threaded HTTP server in front of it asks for Basic authentication, records every Authorization header it is sent
(so a test can prove the token was really used), and passes the request through as CGI. Loopback only.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit


class _Server(ThreadingHTTPServer):
    # GitLab takes hundreds of clients at once: a listen backlog of 5 (the default) would make the kernel drop
    # their connections (resets, one-second SYN retries), which no real server does
    request_queue_size = 1024
    daemon_threads = True


class GitHTTPServer:
    """``with GitHTTPServer(root, {"oauth2": token}) as server: server.url("remote.git")``."""

    def __init__(self, project_root: Path, credentials: Mapping[str, str]) -> None:
        self.project_root = project_root
        self.accepted = {"Basic " + base64.b64encode(f"{user}:{token}".encode()).decode(): user
                         for user, token in credentials.items()}
        self.authorizations: list[str] = []  # every Authorization header received, in order
        self.requests: list[str] = []  # "METHOD /path?query", in order
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, repo: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/{repo}"

    def __enter__(self) -> "GitHTTPServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each response waits ~40 ms for a delayed ACK between its writes

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _serve(self) -> None:
                body = self._body()
                server.requests.append(f"{self.command} {self.path}")
                auth = self.headers.get("Authorization")
                if auth is not None:
                    server.authorizations.append(auth)
                user = server.accepted.get(auth or "")
                if user is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                parts = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", ""),
                    "GIT_PROJECT_ROOT": str(server.project_root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user,
                    "REMOTE_ADDR": "127.0.0.1",
                }
                for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "GIT_PROTOCOL")):
                    if self.headers.get(header):
                        env[var] = self.headers[header]
                done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                if not _:
                    head, _, payload = done.stdout.partition(b"\n\n")
                status, headers = 200, []
                for line in head.decode("latin-1").splitlines():
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
