"""Tokens (DESIGN §3.7, §3.10): used, never shown, never written, for every command at ``-v``.

The "GitLab" here is a real git server over HTTP on a loopback port (``git http-backend`` behind
:mod:`tests.githttp`) that demands Basic authentication and records the Authorization headers it receives, so a
test proves the token really travelled, as a header, before proving it appears nowhere: not in any output, not
in any file under the test's directory (checkouts, ``.git``, the server's repositories, TMPDIR), and not in a
leftover clone. Its repositories refuse every push with a pre-receive hook, so each writing command also goes
through the failing-push path.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_checkout, git, make_checkout
from tests.conftest import run_cli as run
from tests.githttp import GitHTTPServer

TOKEN = "glpat-" + secrets.token_hex(10)  # made per run: a token written in a source file would be in the copies
FORMS = (TOKEN, base64.b64encode(f"oauth2:{TOKEN}".encode()).decode(),
         base64.b64encode(f"gitlab-ci-token:{TOKEN}".encode()).decode())
HOOK = "#!/bin/sh\necho 'refused by the test hook' >&2\nexit 1\n"
LIBRARY = {
    "pyproject.toml": '[project]\nname = "lib"\nversion = "1.0.0"\n',
    "CHANGELOG.md": "# Changelog\n",
}


class Served:
    def __init__(self, root: Path, server: GitHTTPServer) -> None:
        self.root = root
        self.server = server
        self.gitops = server.url("gitops.git")
        self.lib = server.url("lib.git")

    def refs(self) -> dict[str, str]:
        return {name: git(self.root / "srv" / name, "for-each-ref") for name in ("gitops.git", "lib.git")}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    srv = tmp_path / "srv"
    srv.mkdir()
    seed = copy_checkout(ROOT, tmp_path / "seed")
    # dev ahead of staging (something to promote), and a second change to staging (something to roll back)
    # by digest, as CI sets them: prod takes nothing else (policy require_digest)
    for target, spec in (("dev", "aegis/api=*:1.4.3@sha256:" + "0123456789abcdef" * 4),
                         ("staging", "aegis/api=*:1.4.2@sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b")):
        r = run(seed, "image", "set", target, spec)
        assert r.returncode == 0, r.stderr
    lib = make_checkout(tmp_path / "lib-seed", dict(LIBRARY))
    git(lib, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    (lib / "feature.py").write_text("x = 1\n")
    git(lib, "add", "feature.py")
    git(lib, "commit", "-qm", "feat: a feature")
    for name, source in (("gitops.git", seed), ("lib.git", lib)):
        git(tmp_path, "clone", "-q", "--bare", str(source), str(srv / name))
        git(srv / name, "config", "receive.advertisePushOptions", "true")  # as GitLab does
        hook = srv / name / "hooks" / "pre-receive"
        hook.parent.mkdir(exist_ok=True)  # GIT_TEMPLATE_DIR is empty in tests: no hooks directory
        hook.write_text(HOOK)
        hook.chmod(0o755)
    with GitHTTPServer(srv, {"oauth2": TOKEN, "gitlab-ci-token": TOKEN}) as server:
        yield Served(tmp_path, server)




def assert_nowhere(root: Path, *texts: str) -> None:
    """No form of the token in ``texts`` or in any file under ``root``."""
    for text in texts:
        for form in FORMS:
            assert form not in text
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for form in FORMS:
                assert form.encode() not in data, path


def with_token_in_url(url: str, user: str = "oauth2") -> str:
    return url.replace("http://", f"http://{user}:{TOKEN}@")


WRITES = {
    "image set": lambda s: ["image", "set", "--repo-url", s.gitops, "dev", "aegis/api=*:1.4.4"],
    "promote": lambda s: ["promote", "--repo-url", s.gitops, "dev", "staging"],
    "promote to protected prod (merge request)": lambda s: ["promote", "--repo-url", s.gitops, "staging", "prod"],
    "rollback": lambda s: ["rollback", "--repo-url", s.gitops, "staging"],
    "release": lambda s: ["release", "--repo-url", s.lib, "."],
}


@pytest.mark.parametrize("how", ["GITOPS_TOKEN", "CI_JOB_TOKEN", "in the URL"])
@pytest.mark.parametrize("command", sorted(WRITES))
def test_repo_url_commands_use_the_token_and_never_show_it(served: Served, command: str, how: str) -> None:
    args = WRITES[command](served)
    env = {how: TOKEN} if how != "in the URL" else {}
    if how == "in the URL":
        args = [with_token_in_url(a) if a.startswith("http://") else a for a in args]
    user = "gitlab-ci-token" if how == "CI_JOB_TOKEN" else "oauth2"
    before = served.refs()
    job = served.root / "job"
    job.mkdir()

    r = run(job, "-v", *args, env=env)

    # the push reached the server's hook, so the clone, the fetches and the push were all authenticated
    assert r.returncode == 1, r.stderr
    assert "refused by the test hook" in r.stderr
    assert "$ git push" in r.stderr and "$ git clone" in r.stderr  # -v shows the commands...
    expected = "Basic " + base64.b64encode(f"{user}:{TOKEN}".encode()).decode()
    assert served.server.authorizations and set(served.server.authorizations) == {expected}  # ...and the header went
    assert served.refs() == before
    assert list((served.root / "tmp").iterdir()) == []  # the clone is gone
    assert_nowhere(served.root, r.stdout, r.stderr)


@pytest.mark.parametrize("command", sorted(WRITES))
def test_refused_loopback_port_is_temporary_and_never_shows_the_token(served: Served, command: str) -> None:
    dead = "http://127.0.0.1:9/x.git"
    args = [dead if a in (served.gitops, served.lib) else a for a in WRITES[command](served)]
    job = served.root / "job"
    job.mkdir()
    for env, url_args in (({"GITOPS_TOKEN": TOKEN}, args),
                          ({}, [with_token_in_url(a) if a == dead else a for a in args])):
        r = run(job, "-v", *url_args, env=env)
        assert r.returncode == 75, r.stderr
        assert "Failed to connect to 127.0.0.1 port 9" in r.stderr
        assert_nowhere(served.root, r.stdout, r.stderr)
    assert list((served.root / "tmp").iterdir()) == []


def test_every_command_in_a_checkout_at_v(served: Served) -> None:
    """A checkout cloned over HTTP (the header given to that one clone only), then every command at -v."""
    header = "Authorization: Basic " + base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()
    gitops = served.root / "gitops"
    lib = served.root / "lib"
    for url, dst in ((served.gitops, gitops), (served.lib, lib)):
        subprocess.run(["git", "-c", f"http.extraHeader={header}", "clone", "-q", url, str(dst)], check=True,
                       capture_output=True)
    env = {"GITOPS_TOKEN": TOKEN}
    before = served.refs()
    outputs: list[str] = []

    def check(cwd: Path, code: int, *args: str) -> subprocess.CompletedProcess[str]:
        served.server.authorizations.clear()
        r = run(cwd, "-v", *args, env=env)
        assert r.returncode == code, (args, r.stdout, r.stderr)
        outputs.extend((r.stdout, r.stderr))
        return r

    for args in (("image", "set", "--push", "dev", "aegis/api=*:1.4.4"),
                 ("promote", "--push", "dev", "staging"),
                 ("promote", "--push", "staging", "prod"),
                 ("rollback", "--push", "staging")):
        r = check(gitops, 1, *args)
        assert "refused by the test hook" in r.stderr and "$ git push" in r.stderr
        assert served.server.authorizations, args  # the token went, as a header
        # the refused commit is not left behind (the next command would refuse to work on top of it)
        assert git(gitops, "rev-parse", "HEAD") == git(gitops, "rev-parse", "origin/main"), args
        assert r.stderr.endswith("; the commit was undone in this checkout\n"), r.stderr
    r = check(lib, 1, "release")
    assert "refused by the test hook" in r.stderr and served.server.authorizations
    check(gitops, 0, "status")
    check(gitops, 0, "diff", "dev", "staging")
    # -v shows the git commands of reads too
    assert "$ git -c core.quotePath=false log" in check(gitops, 0, "history").stderr
    assert "$ git -c core.quotePath=false log" in check(gitops, 0, "history", "staging").stderr
    assert "$ git" not in check(gitops, 0, "validate").stderr  # validate reads refs from files: no git runs
    check(lib, 0, "changelog")
    check(lib, 0, "release", "--dry-run")

    assert served.refs() == before
    for checkout in (gitops, lib):
        assert "extraheader" not in git(checkout, "config", "--list").lower()
        assert git(checkout, "status", "--porcelain") == ""
    assert_nowhere(served.root, *outputs)


# --- release in a checkout: the credentials that origin is set up with ------------------------------------


@pytest.fixture
def library_server(tmp_path: Path) -> Iterator[tuple[Path, GitHTTPServer]]:
    """lib.git (tag v1.0.0, then a feat) served over HTTP to oauth2:TOKEN and alice:TOKEN, accepting pushes."""
    srv = tmp_path / "srv"
    srv.mkdir()
    lib = make_checkout(tmp_path / "lib-seed", dict(LIBRARY))
    git(lib, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    (lib / "feature.py").write_text("x = 1\n")
    git(lib, "add", "feature.py")
    git(lib, "commit", "-qm", "feat: a feature")
    git(tmp_path, "clone", "-q", "--bare", str(lib), str(srv / "lib.git"))
    with GitHTTPServer(srv, {"oauth2": TOKEN, "alice": TOKEN}) as server:
        yield srv / "lib.git", server


def clone_with_header(url: str, dst: Path, user: str = "oauth2") -> Path:
    header = "Authorization: Basic " + base64.b64encode(f"{user}:{TOKEN}".encode()).decode()
    subprocess.run(["git", "-c", f"http.extraHeader={header}", "clone", "-q", url, str(dst)], check=True,
                   capture_output=True)
    return dst


def test_release_uses_a_token_stored_in_origin_over_ci_job_token(library_server: tuple[Path, GitHTTPServer],
                                                                  tmp_path: Path) -> None:
    bare, server = library_server
    work = clone_with_header(server.url("lib.git"), tmp_path / "work")
    git(work, "remote", "set-url", "origin", with_token_in_url(server.url("lib.git")))  # set up on purpose
    server.authorizations.clear()

    r = run(work, "release", env={"CI_JOB_TOKEN": "job-token-that-cannot-push"})

    assert r.returncode == 0, r.stderr
    assert git(bare, "tag", "--list") == "v1.0.0\nv1.1.0\n"
    assert set(server.authorizations) == {"Basic " + base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()}
    assert_nowhere(tmp_path / "tmp", r.stdout, r.stderr)


def test_release_leaves_a_user_name_in_origin_to_the_credential_helper(
        library_server: tuple[Path, GitHTTPServer], tmp_path: Path) -> None:
    bare, server = library_server
    work = clone_with_header(server.url("lib.git"), tmp_path / "work", user="alice")
    git(work, "remote", "set-url", "origin", server.url("lib.git").replace("http://", "http://alice@"))
    helper = tmp_path / "helper.sh"  # what a credential store would answer for alice
    helper.write_text(f"#!/bin/sh\necho username=alice\necho password={TOKEN}\n")
    helper.chmod(0o700)
    git(work, "config", "credential.helper", str(helper))

    r = run(work, "release")

    assert r.returncode == 0, r.stderr
    assert git(bare, "tag", "--list") == "v1.0.0\nv1.1.0\n"
    assert "Basic " + base64.b64encode(f"alice:{TOKEN}".encode()).decode() in server.authorizations
    assert "Basic " + base64.b64encode(b"oauth2:alice").decode() not in server.authorizations  # not a token


def test_release_pushes_where_origin_pushes(tmp_path: Path) -> None:
    lib = make_checkout(tmp_path / "lib-seed", dict(LIBRARY))
    git(lib, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    git(lib, "commit", "-q", "--allow-empty", "-m", "fix: a fix")
    bare = tmp_path / "push-here.git"
    git(tmp_path, "clone", "-q", "--bare", str(lib), str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "remote", "set-url", "origin", "http://127.0.0.1:9/fetch-only.git")  # fetching would fail
    git(work, "remote", "set-url", "--push", "origin", str(bare))

    r = run(work, "release", env={"GITOPS_TOKEN": TOKEN})

    assert r.returncode == 0, r.stderr
    assert git(bare, "tag", "--list") == "v1.0.0\nv1.0.1\n"


def test_image_set_push_from_a_checkout_whose_origin_stores_a_token(tmp_path: Path) -> None:
    """origin set up with a token: CI_JOB_TOKEN does not replace it; GITOPS_TOKEN, meant for the tool, does."""
    srv = tmp_path / "srv"
    srv.mkdir()
    seed = make_checkout(tmp_path / "seed", {
        "gitops-tools.yaml": "environments:\n  - name: dev\n",
        "environments/dev/kustomization.yaml": "images:\n  - name: aegis/api\n    newTag: 1.0.0\n",
    })
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(srv / "gitops.git"))
    stored = "glpat-" + secrets.token_hex(8)
    with GitHTTPServer(srv, {"oauth2": TOKEN, "stored": stored}) as server:
        work = clone_with_header(server.url("gitops.git"), tmp_path / "work")
        git(work, "remote", "set-url", "origin",
            server.url("gitops.git").replace("http://", f"http://stored:{stored}@"))
        server.authorizations.clear()

        r = run(work, "image", "set", "--push", "dev", "aegis/api=*:1.0.1", env={"CI_JOB_TOKEN": "cannot-push"})
        assert r.returncode == 0, r.stderr
        assert set(server.authorizations) == {"Basic " + base64.b64encode(f"stored:{stored}".encode()).decode()}

        server.authorizations.clear()
        r = run(work, "image", "set", "--push", "dev", "aegis/api=*:1.0.2", env={"GITOPS_TOKEN": TOKEN})
        assert r.returncode == 0, r.stderr
        assert set(server.authorizations) == {"Basic " + base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()}
    assert "newTag: 1.0.2" in git(srv / "gitops.git", "show", "main:environments/dev/kustomization.yaml")
    assert_nowhere(tmp_path / "tmp", r.stdout, r.stderr)
