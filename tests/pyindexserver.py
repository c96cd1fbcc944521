"""A real package index for the tests: pypiserver on a free loopback port, with authentication (an htpasswd file
holding USER:PASSWORD), its packages in a temporary directory, no fallback to PyPI."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

USER, PASSWORD = "ci-publisher", "s3cret-t0ken"
CREDS = {"TWINE_USERNAME": USER, "TWINE_PASSWORD": PASSWORD}


class Index(NamedTuple):
    url: str  # the upload URL (pypiserver's root)
    simple: str  # its simple index
    packages: Path  # what it serves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_on_free_port(argv: Callable[[int], list[str]], log_path: Path, name: str) -> Iterator[int]:
    """Run the server ``argv(port)`` on a free loopback port until it accepts connections (bounded in count and
    time), give the port, stop the server on leaving. Everything it prints goes to ``log_path``."""
    log = log_path.open("wb")
    for _ in range(3):  # a port taken between choosing and binding: another one
        port = free_port()
        server = subprocess.Popen(argv(port), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        for _ in range(300):  # bounded in count and in time
            if server.poll() is not None or time.monotonic() > deadline:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        if server.poll() is None:
            break
    else:
        log.close()
        pytest.fail(f"{name} did not start: {log_path.read_text()[-2000:]}")
    try:
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def start_index(root: Path, authenticate: str = "update,download,list", user: str = USER,
                password: str = PASSWORD) -> Iterator[Index]:
    """pypiserver on a free loopback port, ``authenticate`` the actions that need ``user:password`` (no fallback
    to PyPI: a project it does not have is a 404), every request in ``server.log``. Stopped when the generator is
    closed."""
    from passlib.apache import HtpasswdFile

    root.mkdir(parents=True, exist_ok=True)
    packages = root / "packages"
    packages.mkdir()
    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password(user, password)
    htpasswd.save()
    argv = [sys.executable, "-m", "pypiserver", "run", "-v", "-i", "127.0.0.1", "-p", "{port}", "-P",
            str(root / "htpasswd"), "-a", authenticate, "--disable-fallback", "--hash-algo", "sha256", str(packages)]
    with serve_on_free_port(lambda port: [a.replace("{port}", str(port)) for a in argv],
                            root / "server.log", "pypiserver") as port:
        yield Index(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/simple/", packages)
