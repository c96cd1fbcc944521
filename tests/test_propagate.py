"""`propagate` for real: bare remotes per service (recording GitLab's push options), a GitOps checkout whose
gitops-tools.yaml lists them, the CLI as a separate process. What a release engineer checks: which services got a
merge request branch, its exact files and message, what was left alone and why, and that one failure stops
nothing else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import git, run_cli, stalling_hook
from tests.services import branches, gitops_checkout, pushes, service_remote

BRANCH = "gitops-tools/propagate/shared-library-1.3.0"
CHANGELOG = """# Changelog

## 1.3.0 (2026-11-29)

### Features

- **db:** pooled connections (abc1234)

## 1.2.3 (2026-11-01)

### Bug fixes

- an older fix (def5678)
"""
API_REQUIREMENTS = "requests==2.32.3\nshared-library==1.2.3  # the platform's helpers\nflask>=3\n"
WORKER_PYPROJECT = """[project]
name = "worker"
dependencies = [
    "shared-library>=1.2,<2",   # any 1.x
    "celery~=5.4",
]
"""


@pytest.fixture
def platform(tmp_path: Path) -> dict[str, Path]:
    """api pins exactly, worker takes a range, billing does not use the library at all."""
    remotes = {
        "api": service_remote(tmp_path, "api", {"requirements.txt": API_REQUIREMENTS}),
        "worker": service_remote(tmp_path, "worker", {"pyproject.toml": WORKER_PYPROJECT}),
        "billing": service_remote(tmp_path, "billing", {"requirements.txt": "flask==3.0.0\n"}),
    }
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    gitops_checkout(tmp_path / "gitops", dict(remotes))
    return {**remotes, "gitops": tmp_path / "gitops", "changelog": tmp_path / "CHANGELOG.md"}


def show(remote: Path, rev: str, path: str) -> str:
    return git(remote, "show", f"{rev}:{path}")


def test_every_dependent_service_gets_one_merge_request_and_the_others_say_why_not(platform: dict[str, Path]) -> None:
    before = {name: branches(platform[name]) for name in ("api", "worker", "billing")}
    r = run_cli(platform["gitops"], "propagate", "shared-library", "1.3.0", "--changelog", str(platform["changelog"]))
    assert r.returncode == 4, r.stdout + r.stderr  # partly done: billing does not depend on it
    assert r.stdout.splitlines() == [
        "SERVICE  RESULT    PIN                                    DETAIL",
        "api      proposed  requirements.txt:2 ==1.2.3 -> ==1.3.0  gitops-tools/propagate/shared-library-1.3.0 -> "
        "main: merge request branch pushed, merge request asked for",
        "worker   admits    pyproject.toml:4 >=1.2,<2 (admits)     every pin already admits the version: nothing to do",
        "billing  failed    -                                      shared-library is not a dependency of billing: "
        "requirements.txt does not name it",
        "2 of 3 services done, 1 failed",
    ]
    assert r.stderr == (
        "error: billing: shared-library is not a dependency of billing: requirements.txt does not name it\n"
        "hint: pin shared-library in its files, or list the libraries it takes under services.billing.libraries\n")

    # api: only the pin moved, on its own branch; main untouched
    api = platform["api"]
    assert branches(api)["main"] == before["api"]["main"]
    assert show(api, BRANCH, "requirements.txt") == API_REQUIREMENTS.replace("==1.2.3", "==1.3.0")
    assert git(api, "rev-parse", f"{BRANCH}~1") == git(api, "rev-parse", "main")
    assert git(api, "log", "-1", "--format=%B", BRANCH) == (
        "build(deps): shared-library 1.2.3 -> 1.3.0\n\n"
        "Moves shared-library to 1.3.0.\n\n"
        "- requirements.txt:2: shared-library==1.2.3 -> shared-library==1.3.0\n\n"
        "Changelog of shared-library 1.3.0:\n\n"
        "## 1.3.0 (2026-11-29)\n\n### Features\n\n- **db:** pooled connections (abc1234)\n\n"
        "Gitops-Action: propagate\n"
        "Gitops-Library: shared-library 1.3.0\n\n")
    assert pushes(api) == [["merge_request.create", "merge_request.target=main",
                            "merge_request.title=Move shared-library to 1.3.0", "merge_request.remove_source_branch",
                            "merge_request.label=dependencies"]]
    # worker and billing: nothing pushed at all
    for name in ("worker", "billing"):
        assert branches(platform[name]) == before[name]
        assert pushes(platform[name]) == []


def test_running_again_opens_nothing_new_and_updates_the_same_branch(platform: dict[str, Path]) -> None:
    args = ("propagate", "shared-library", "1.3.0", "--service", "api")
    assert run_cli(platform["gitops"], *args).returncode == 0
    first = branches(platform["api"])[BRANCH]

    again = run_cli(platform["gitops"], *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[1].split()[:2] == ["api", "unchanged"]
    assert branches(platform["api"])[BRANCH] == first
    assert len(pushes(platform["api"])) == 1  # no second push at all

    # main moved on (someone merged other work): the branch is rebuilt on it, without asking for a new MR
    work = platform["api"].parent / "work" / "api"
    (work / "README.md").write_text("api\n")
    git(work, "add", "README.md")
    git(work, "commit", "-qm", "docs")
    git(work, "push", "-q", str(platform["api"]), "main")
    pushes_before = len(pushes(platform["api"]))
    third = run_cli(platform["gitops"], *args)
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[1].split()[:2] == ["api", "updated"]
    assert git(platform["api"], "rev-parse", f"{BRANCH}~1") == git(platform["api"], "rev-parse", "main")
    assert show(platform["api"], BRANCH, "README.md") == "api\n"
    assert pushes(platform["api"])[pushes_before:] == [[]]  # the push carried no merge_request.create


def test_a_major_version_moves_a_range_and_is_flagged_breaking(platform: dict[str, Path]) -> None:
    r = run_cli(platform["gitops"], "-o", "json", "propagate", "shared-library", "2.0.0", "--service", "worker",
                "--service", "api")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [(s["service"], s["status"], s["breaking"]) for s in data["services"]] == [
        ("worker", "proposed", True), ("api", "proposed", True)]
    branch = "gitops-tools/propagate/shared-library-2.0.0"
    assert show(platform["worker"], branch, "pyproject.toml") == WORKER_PYPROJECT.replace("<2\"", "<3\"")
    assert data["services"][0]["pins"] == [{
        "file": "pyproject.toml", "line": 4, "old": "shared-library>=1.2,<2", "new": "shared-library>=1.2,<3",
        "status": "changed", "breaking": True}]
    assert pushes(platform["worker"])[0][2:] == [
        "merge_request.title=[breaking] Move shared-library to 2.0.0", "merge_request.remove_source_branch",
        "merge_request.label=dependencies", "merge_request.label=breaking"]
    message = git(platform["worker"], "log", "-1", "--format=%B", branch)
    assert "Moves shared-library to 2.0.0, a new major version: read its breaking changes before merging." in message
    assert "- pyproject.toml:4: shared-library>=1.2,<2 -> shared-library>=1.2,<3 (breaking)" in message
    assert message.endswith("Gitops-Library: shared-library 2.0.0\nGitops-Breaking: true\n\n")
    assert data["exit_code"] == 0 and data["summary"] == {"proposed": 2}


def test_one_service_failing_in_every_way_stops_none_of_the_others(tmp_path: Path) -> None:
    remotes = {
        "refuses": service_remote(tmp_path, "refuses", {"requirements.txt": "shared-library==1.2.3\n"}, refuse=True),
        "unparsable": service_remote(tmp_path, "unparsable", {"requirements.txt": "flask\nshared-library=1.2\n"}),
        "hashed": service_remote(tmp_path, "hashed", {"requirements.txt":
                                                      "shared-library==1.2.3 \\\n    --hash=sha256:" + "0" * 64 + "\n"}),
        "unreachable": tmp_path / "no-such-repository.git",
        "ok": service_remote(tmp_path, "ok", {"requirements.txt": "shared-library==1.2.3\n"}),
    }
    gitops = gitops_checkout(tmp_path / "gitops", dict(remotes))
    r = run_cli(gitops, "-o", "json", "propagate", "shared-library", "1.3.0")
    assert r.returncode == 4, r.stderr
    services = {s["service"]: s for s in json.loads(r.stdout)["services"]}
    assert {name: s["status"] for name, s in services.items()} == {
        "refuses": "failed", "unparsable": "failed", "hashed": "failed", "unreachable": "failed", "ok": "proposed"}
    assert services["refuses"]["problem"].startswith(
        f"push of {BRANCH} to refuses rejected: GitLab: You are not allowed to push code to this project.; ")
    assert services["refuses"]["fix"] == (
        "the repository refused it for good (hook, protection or credentials); no token was sent (set GITOPS_TOKEN, "
        "or run in GitLab CI for CI_JOB_TOKEN)")
    assert services["unparsable"]["problem"] == (
        "requirements.txt:2: cannot move 'shared-library=1.2' to 1.3.0: it is not a PEP 508 requirement "
        "(Expected semicolon (after name with no version specifier) or end)")
    assert services["hashed"]["problem"] == (
        "requirements.txt:1: shared-library is hash-locked ('shared-library==1.2.3'): its hashes would no longer match")
    assert services["hashed"]["fix"] == "regenerate the lock file with the new version (pip-compile --generate-hashes)"
    assert services["unreachable"]["problem"].startswith("git clone failed: ")
    for name in ("refuses", "unparsable", "hashed"):
        assert list(branches(remotes[name])) == ["main"], name
    assert BRANCH in branches(remotes["ok"])


def test_all_failing_is_exit_1_not_partly_done(tmp_path: Path) -> None:
    gitops = gitops_checkout(tmp_path / "gitops", {"gone": tmp_path / "gone.git"})
    r = run_cli(gitops, "propagate", "shared-library", "1.3.0")
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "0 of 1 services done, 1 failed"


def test_dry_run_shows_the_diff_and_pushes_nothing(platform: dict[str, Path]) -> None:
    r = run_cli(platform["gitops"], "propagate", "shared-library", "1.3.0", "--service", "api", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[:2] == ["api", "planned"]
    assert ("--- a/requirements.txt\n+++ b/requirements.txt\n@@ -1,3 +1,3 @@\n requests==2.32.3\n"
            "-shared-library==1.2.3  # the platform's helpers\n+shared-library==1.3.0  # the platform's helpers\n"
            " flask>=3\n") in r.stdout
    assert r.stdout.splitlines()[-1] == "1 of 1 services done; dry run: nothing committed or pushed"
    assert list(branches(platform["api"])) == ["main"] and pushes(platform["api"]) == []


def test_services_and_files_come_from_the_configuration(tmp_path: Path) -> None:
    """files: picks what is read (a constraints file deeper in the tree); libraries: picks who takes what."""
    remote = service_remote(tmp_path, "api", {
        "requirements.txt": "shared-library\n",  # unpinned: taken from the constraints
        "ci/constraints.txt": "shared-library==1.2.3\n",
    })
    other = service_remote(tmp_path, "other", {"requirements.txt": "shared-library==1.2.3\n"})
    gitops = gitops_checkout(tmp_path / "gitops", {}, more=f"""\
      api:
        repo_url: {remote}
        files: [requirements.txt, ci/constraints.txt]
      other:
        repo_url: {other}
        libraries: [another-library]
    """)
    r = run_cli(gitops, "-o", "json", "propagate", "Shared_Library", "1.3.0")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["library"] == "shared-library"
    assert [s["service"] for s in data["services"]] == ["api"]
    assert [(p["file"], p["status"]) for p in data["services"][0]["pins"]] == [
        ("requirements.txt", "admits"), ("ci/constraints.txt", "changed")]
    assert show(remote, BRANCH, "ci/constraints.txt") == "shared-library==1.3.0\n"
    assert show(remote, BRANCH, "requirements.txt") == "shared-library\n"


@pytest.mark.parametrize(("args", "code", "message"), [
    (("shared library", "1.3.0"), 1, "error: invalid library name \"shared library\"\n"),
    (("shared-library", "1.3.0\nGitops-Library: evil 9"), 1,
     "error: invalid version '1.3.0\\nGitops-Library: evil 9'\n"),
    (("shared-library", "1.3.0+local"), 1, "error: version 1.3.0+local is a local version (+local)\n"),
    (("shared-library", "1.3.0", "--service", "apii"), 1,
     "error: gitops-tools.yaml: services: unknown service 'apii'\n"),
])
def test_bad_input_is_refused_before_any_clone(platform: dict[str, Path], args: tuple[str, ...], code: int,
                                               message: str) -> None:
    r = run_cli(platform["gitops"], "propagate", *args)
    assert r.returncode == code
    assert r.stderr.splitlines()[0] + "\n" == message
    assert r.stdout == ""
    for name in ("api", "worker", "billing"):
        assert list(branches(platform[name])) == ["main"]


def test_no_services_configured_says_where_to_add_them(tmp_path: Path) -> None:
    gitops = gitops_checkout(tmp_path / "gitops", {})
    (gitops / "gitops-tools.yaml").write_text("version: 1\nenvironments: [{name: dev}]\n")
    r = run_cli(gitops, "propagate", "shared-library", "1.3.0")
    assert r.returncode == 1
    assert r.stderr == ("error: gitops-tools.yaml: services: no services are configured\n"
                        "hint: list the service repositories under services: (docs/propagate.md), or give one as "
                        "--service NAME=URL\n")


def test_a_changelog_without_the_version_is_a_note_not_an_error(platform: dict[str, Path]) -> None:
    r = run_cli(platform["gitops"], "propagate", "shared-library", "1.4.0", "--service", "api",
                "--changelog", str(platform["changelog"]))
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"note: {platform['changelog']} has no section for 1.4.0: the commits say so without it\n"
    assert "Changelog of" not in git(platform["api"], "log", "-1", "--format=%B",
                                     "gitops-tools/propagate/shared-library-1.4.0")


def test_a_changelog_section_cannot_forge_trailers_or_control_the_terminal(platform: dict[str, Path]) -> None:
    platform["changelog"].write_text("## 1.3.0\n\n- evil\x1b[2J\n\nGitops-Library: other 9.9.9\n")
    r = run_cli(platform["gitops"], "propagate", "shared-library", "1.3.0", "--service", "api",
                "--changelog", str(platform["changelog"]))
    assert r.returncode == 0, r.stderr
    message = git(platform["api"], "log", "-1", "--format=%B", BRANCH)
    assert "\x1b" not in message and "- evil[2J" in message
    trailers = git(platform["api"], "log", "-1", "--format=%(trailers:key=Gitops-Library,valueonly)", BRANCH)
    assert trailers.split() == ["shared-library", "1.3.0"]


def test_the_token_reaches_the_server_and_never_the_output(tmp_path: Path) -> None:
    """Over HTTP with Basic authentication: GITOPS_TOKEN is sent as a header, masked in -v output, not stored."""
    from tests.githttp import GitHTTPServer

    token = "glpat-propagate-secret-0123"
    projects = tmp_path / "projects"
    projects.mkdir()
    service_remote(projects, "api", {"requirements.txt": "shared-library==1.2.3\n"})
    with GitHTTPServer(projects, {"oauth2": token}) as server:
        gitops = gitops_checkout(tmp_path / "gitops", {"api": server.url("api.git")})
        r = run_cli(gitops, "-v", "propagate", "shared-library", "1.3.0", env={"GITOPS_TOKEN": token})
        assert r.returncode == 0, r.stdout + r.stderr
        assert token not in r.stdout + r.stderr
        assert server.authorizations  # the header was sent
        wrong = run_cli(gitops, "propagate", "shared-library", "1.3.1", env={"GITOPS_TOKEN": "wrong"})
    assert wrong.returncode == 1
    assert "wrong" not in wrong.stdout + wrong.stderr.replace("wrong token", "")
    assert "the token from GITOPS_TOKEN (user oauth2)" in wrong.stderr
    assert BRANCH in branches(projects / "api.git")


@pytest.mark.parametrize("same_commit", [True, False], ids=["same-commit", "another-commit-same-tree"])
def test_a_second_run_finds_the_branch_as_it_would_make_it(platform: dict[str, Path], same_commit: bool) -> None:
    """The second run makes the very same commit (same second: the push finds it there) or another commit with the
    same tree (the lease refuses the blind push; the trees are compared): either way `unchanged`, nothing sent."""
    args = ("propagate", "shared-library", "1.3.0", "--service", "api")
    first = run_cli(platform["gitops"], *args, date="2026-11-29T10:00:00+00:00")
    assert first.returncode == 0, first.stderr
    tip = branches(platform["api"])[BRANCH]
    second = run_cli(platform["gitops"], *args,
                     date="2026-11-29T10:00:00+00:00" if same_commit else "2026-11-29T11:00:00+00:00")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[1].split()[:2] == ["api", "unchanged"]
    assert branches(platform["api"])[BRANCH] == tip
    assert len(pushes(platform["api"])) == 1


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_stops_every_service_that_has_not_pushed_and_leaves_no_clone(tmp_path: Path, jobs: str) -> None:
    """A cancelled CI job: the service whose push hangs in the server's hook is interrupted at once (with workers
    too: the cancelled run does not wait for the hook), the services not yet pushed are not pushed at all, every
    clone is removed, and the exit is 143."""
    import signal
    import subprocess
    import sys
    import time

    from tests.githttp import GitHTTPServer

    projects = tmp_path / "projects"
    slow = service_remote(projects, "slow", {"requirements.txt": "shared-library==1.2.3\n"})
    started, release = tmp_path / "hook-started", tmp_path / "hook-released"
    stalling_hook(slow / "hooks" / "pre-receive", started, 120, release)  # longer than the test waits below
    others = [service_remote(projects, f"other{i}", {"requirements.txt": "shared-library==1.2.3\n"})
              for i in range(3)]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with GitHTTPServer(projects, {"oauth2": "glpat-propagate-0123"}) as server:
        gitops = gitops_checkout(tmp_path / "gitops", {r.stem: server.url(r.name) for r in [slow, *others]})
        proc = subprocess.Popen([sys.executable, "-m", "gitops_tools", "propagate", "shared-library", "1.3.0",
                                 "--jobs", jobs], cwd=gitops,
                                env={**os.environ, "TMPDIR": str(scratch), "GITOPS_TOKEN": "glpat-propagate-0123"},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert started.exists(), proc.communicate(timeout=30)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)  # the hook holds the push for 120 s
        finally:
            release.touch()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 143, out + err
    assert "terminated (SIGTERM)" in err
    assert [p.name for p in scratch.iterdir() if p.name.startswith("gitops-tools-propagate-")] == []
    if jobs == "1":  # one after the other: none of the others was even cloned
        for remote in others:
            assert list(branches(remote)) == ["main"]


def test_the_version_must_be_on_the_index_before_any_service_is_touched(platform: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    """A real index (pypiserver on loopback, with authentication): 1.3.0 is there, 1.4.0 is not; a wrong token is
    refused naming the variables, never printing it."""
    from tests.pyindexserver import CREDS, start_index

    server = start_index(tmp_path / "index")
    index = next(server)
    try:
        (index.packages / "shared_library-1.3.0-py3-none-any.whl").write_bytes(b"not really a wheel")
        (index.packages / "shared_library-1.2.3.tar.gz").write_bytes(b"not really an sdist")
        missing = run_cli(platform["gitops"], "propagate", "shared-library", "1.4.0", "--index-url", index.simple,
                          env=CREDS)
        assert missing.returncode == 1
        assert missing.stderr == (
            f"error: shared-library 1.4.0 is not on the index {index.simple} (it has 1.2.3, 1.3.0)\n"
            "hint: publish it first (gitops-tools publish), or give the version that was published; no service was "
            "touched\n")
        refused = run_cli(platform["gitops"], "propagate", "shared-library", "1.3.0", "--index-url", index.simple,
                          env={**CREDS, "TWINE_PASSWORD": "wrong-password-0123"})
        assert refused.returncode == 1
        assert refused.stderr == (
            f"error: the index {index.simple} refused the credentials from TWINE_USERNAME and TWINE_PASSWORD "
            "(HTTP 403)\nhint: check the token: it must be valid and may read the package registry\n")
        for name in ("api", "worker", "billing"):
            assert list(branches(platform[name])) == ["main"]

        found = run_cli(platform["gitops"], "propagate", "shared-library", "1.3.0", "--service", "api",
                        "--index-url", index.simple, env=CREDS)
        assert found.returncode == 0, found.stderr
        assert found.stdout.splitlines()[0] == f"shared-library 1.3.0 is on {index.simple}"
        assert BRANCH in branches(platform["api"])
    finally:
        server.close()
