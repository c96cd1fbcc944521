"""Listing refs in one request (gitops_tools/git/lsrefs.py): the wire format, when it applies, and against a real
``git http-backend`` served on loopback, the same answer as ``git ls-remote`` with one request per poll."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_tools.git import lsrefs
from gitops_tools.git.auth import Credentials
from gitops_tools.git.refusals import FINAL
from gitops_tools.git.repo import Git, PushRejected
from tests.conftest import git, make_checkout
from tests.githttp import GitHTTPServer

PREFIX = "refs/gitops-tools/pending/main/"
TOKEN = "t0ken-of-the-lsrefs-test"
A, B = "1" * 40, "2" * 40


def pkt(text: str) -> bytes:
    return lsrefs.pkt_line(text)


def test_the_request_is_the_ls_refs_command_git_sends() -> None:
    assert lsrefs.ls_refs_request(PREFIX) == (
        b"0014command=ls-refs\n" b"0017agent=gitops-tools\n" b"0001"
        b"002fref-prefix refs/gitops-tools/pending/main/\n" b"0000")


def test_an_answer_is_read_and_only_refs_under_the_prefix_are_kept() -> None:
    body = pkt(f"{A} {PREFIX}x\n") + pkt(f"{B} refs/heads/main\n") + pkt(f"{B} {PREFIX}y symref-target:z\n") + b"0000"
    assert lsrefs.parse_ls_refs(body, PREFIX) == {f"{PREFIX}x": A, f"{PREFIX}y": B}
    assert lsrefs.parse_ls_refs(b"0000", PREFIX) == {}
    assert lsrefs.parse_ls_refs(pkt(f"{'3' * 64} {PREFIX}sha256\n") + b"0000", PREFIX) == {f"{PREFIX}sha256": "3" * 64}


@pytest.mark.parametrize("body", [
    b"",  # nothing at all
    pkt(f"{A} {PREFIX}x\n"),  # cut before the flush packet
    pkt("ERR upload-pack: not our ref\n") + b"0000",  # the server's error
    pkt(f"{A[:39]} {PREFIX}x\n") + b"0000",  # not an object id
    b"00zz" + b"0000",  # not a length
    b"0002" + b"0000",  # an impossible length
    b"0040" + b"short",  # longer than the body
    b"0000" + pkt(f"{A} {PREFIX}x\n"),  # something after the flush
    b"<html>sign in</html>",  # a login page
])
def test_anything_else_is_not_understood(body: bytes) -> None:
    assert lsrefs.parse_ls_refs(body, PREFIX) is None


HEADER = Credentials("oauth2", TOKEN).header


@pytest.mark.parametrize("url, config, environ, expected", [
    ("https://gitlab.example.com/aegis/gitops.git", [], {}, True),
    ("http://127.0.0.1:8080/gitops.git", [("http.extraheader", HEADER)], {}, True),  # the run's own token
    ("file:///srv/gitops.git", [], {}, False),
    ("git@gitlab.example.com:aegis/gitops.git", [], {}, False),
    ("ssh://git@gitlab.example.com/aegis/gitops.git", [], {}, False),
    ("https://oauth2:tok@gitlab.example.com/gitops.git", [], {}, False),  # never a credential from a URL
    ("https://gitlab.example.com/gitops.git", [], {"https_proxy": "http://proxy:3128"}, False),
    ("https://gitlab.example.com/gitops.git", [], {"GIT_SSL_CAINFO": "/etc/ca.pem"}, False),
    ("https://gitlab.example.com/gitops.git", [], {"GIT_SSL_NO_VERIFY": "1"}, False),
    ("https://gitlab.example.com/gitops.git", [("http.sslcainfo", "/etc/ca.pem")], {}, False),
    ("https://gitlab.example.com/gitops.git", [("http.proxy", "http://proxy:3128")], {}, False),
    ("https://gitlab.example.com/gitops.git", [("http.extraheader", "X-Other: 1")], {}, False),
    ("https://gitlab.example.com/gitops.git", [("url.https://mirror/.insteadof", "https://gitlab.example.com/")],
     {}, False),
])
def test_it_applies_only_where_git_would_send_the_same_request(url: str, config: list[tuple[str, str]],
                                                                environ: dict[str, str], expected: bool) -> None:
    assert lsrefs.eligible(url, config, HEADER, environ) is expected


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[GitHTTPServer, Path, Path]]:
    """A bare remote with two pending refs behind the test HTTP server, and a clone of it."""
    seed = make_checkout(tmp_path / "seed", {"a.txt": "a\n"})
    projects = tmp_path / "srv"
    projects.mkdir()
    bare = projects / "gitops.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    head = git(bare, "rev-parse", "main").strip()
    for name in ("01", "02"):
        git(bare, "update-ref", f"{PREFIX}{name}", head)
    with GitHTTPServer(projects, {"oauth2": TOKEN}) as server:
        clone = tmp_path / "clone"
        git(tmp_path, "-c", f"http.extraHeader={HEADER}", "clone", "-q", server.url("gitops.git"), str(clone))
        yield server, bare, clone


def test_one_request_per_poll_with_the_answer_git_ls_remote_gives(served: tuple[GitHTTPServer, Path, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server, bare, clone = served
    for name in lsrefs._GIT_ONLY_ENV:
        monkeypatch.delenv(name, raising=False)
    g = Git(clone, credentials=Credentials("oauth2", TOKEN, "GITOPS_TOKEN"))
    before, sent = len(server.requests), len(server.authorizations)
    first = g.ls_remote("origin", PREFIX)
    git(bare, "update-ref", "-d", f"{PREFIX}01")
    second = g.ls_remote("origin", PREFIX)
    head = git(bare, "rev-parse", "main").strip()
    assert first == {f"{PREFIX}01": head, f"{PREFIX}02": head}
    assert second == {f"{PREFIX}02": head}
    by_git = git(clone, "-c", f"http.extraHeader={HEADER}", "ls-remote", "origin", f"{PREFIX}*")
    assert dict(line.split("\t")[::-1] for line in by_git.splitlines()) == second
    asked = server.requests[before:before + 2]
    assert asked == ["POST /gitops.git/git-upload-pack", "POST /gitops.git/git-upload-pack"]  # no advertisement
    assert server.authorizations[sent:sent + 2] == [HEADER.split(": ", 1)[1]] * 2  # the run's token, as git sends it
    g.close()


def test_a_refused_token_falls_back_to_git_which_says_why(served: tuple[GitHTTPServer, Path, Path]) -> None:
    server, _, clone = served
    g = Git(clone, credentials=Credentials("oauth2", "wrong-token", "GITOPS_TOKEN"))
    with pytest.raises(PushRejected) as refused:
        g.ls_remote("origin", PREFIX)
    assert refused.value.kind == FINAL
    assert "wrong-token" not in str(refused.value)
    # from then on git lists the refs: no second request of our own
    posts = [r for r in server.requests if r.startswith("POST")]
    with pytest.raises(PushRejected):
        g.ls_remote("origin", PREFIX)
    assert [r for r in server.requests if r.startswith("POST")] == posts
    g.close()


def test_a_server_that_answers_something_else_is_not_believed(tmp_path: Path) -> None:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<html>sign in</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        lister = lsrefs.RefLister(f"http://127.0.0.1:{server.server_address[1]}/gitops.git", None)
        assert lister.list(PREFIX) is None
        lister.close()
    finally:
        server.shutdown()
        server.server_close()
    # nobody listening at all
    assert lsrefs.RefLister(f"http://127.0.0.1:{server.server_address[1]}/gitops.git", None).list(PREFIX) is None
