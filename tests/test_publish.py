"""`gitops-tools publish` and `index_files`, against a real package index: pypiserver, started on loopback by the
tests with authentication (an htpasswd file), its packages in a temporary directory. What was published is then
installed with pip from that index into a fresh virtualenv. The library and this tool are also built and published
by the real pipeline jobs (gitlab-ci-local)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.pyindex import IndexFile, index_files
from tests.conftest import ROOT, copy_checkout, git, run_cli
from tests.pyindexserver import CREDS, PASSWORD, USER, Index, free_port, start_index
from tests.test_gitlab_ci import gitlab_ci_local

WHEEL = "shared_library-1.3.0-py3-none-any.whl"
SDIST = "shared_library-1.3.0.tar.gz"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    yield from start_index(tmp_path / "index")


LIBRARY_PYPROJECT = textwrap.dedent("""\
    [build-system]
    requires = ["setuptools>=61"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "shared-library"
    version = "{version}"
    description = "Helpers shared by the Aegis services"
    """)


def library(path: Path, version: str = "1.3.0", answer: int = 42) -> Path:
    """A tiny shared library (setuptools), a git repository whose pipeline builds and publishes it."""
    (path / "shared_library").mkdir(parents=True)
    (path / "pyproject.toml").write_text(LIBRARY_PYPROJECT.format(version=version))
    (path / "shared_library/__init__.py").write_text(f"ANSWER = {answer}\n")
    (path / "templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (path / ".gitlab-ci.yml").write_text(
        "include:\n  - local: templates.gitlab-ci.yml\n"
        "stages: [build, publish]\n"
        "build: {extends: .shared-library:build}\n"
        "publish: {extends: .shared-library:publish}\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "feat: the answer")
    return path


def build(path: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", "dist", "."], cwd=path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return path / "dist"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """shared-library 1.3.0, built once: a directory holding dist/ (wheel and sdist)."""
    root = library(tmp_path_factory.mktemp("built") / "library")
    build(root)
    return root


def work(built: Path, tmp_path: Path) -> Path:
    """A copy of the built library, dist/ included."""
    return Path(shutil.copytree(built, tmp_path / "library"))


def pip_install(tmp_path: Path, index: Index, requirement: str, *, no_deps: bool = True) -> Path:
    """Install ``requirement`` from ``index`` alone into a fresh virtualenv (pip's own configuration, extra indexes
    and find-links of this machine left out): the venv's python."""
    where = tmp_path / f"venv-{len(list(tmp_path.glob('venv-*')))}"
    venv.create(where, with_pip=True)
    python = where / "bin/python"
    authed = index.simple.replace("http://", f"http://{USER}:{PASSWORD}@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", "--index-url", authed,
                           *(["--no-deps"] if no_deps else []), requirement],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def on_index(index: Index) -> list[str]:
    return sorted(p.name for p in index.packages.iterdir())


# --- publish ---------------------------------------------------------------------------------------------------


def test_publish_uploads_then_pip_installs_it_and_a_second_run_is_a_clear_skip(
        built: Path, index: Index, tmp_path: Path) -> None:
    lib = work(built, tmp_path)
    r = run_cli(lib, "publish", "--repository-url", index.url, env=CREDS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == (f"uploaded {WHEEL}, {SDIST} to {index.url}\n"
                        f"shared-library 1.3.0 is now on {index.simple}: {WHEEL}, {SDIST}\n")
    assert PASSWORD not in r.stdout + r.stderr
    assert on_index(index) == [WHEEL, SDIST]

    python = pip_install(tmp_path, index, "shared-library==1.3.0")
    done = subprocess.run([str(python), "-c", "import shared_library; print(shared_library.ANSWER)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == "42\n", done.stderr

    # The pipeline of the tag runs again: nothing to publish, exit 0.
    r = run_cli(lib, "publish", "dist", "--repository-url", index.url, env=CREDS)
    assert (r.returncode, r.stdout, r.stderr) == (
        0, f"shared-library 1.3.0 is already on {index.simple}: nothing to publish\n", "")
    r = run_cli(lib, "publish", "-o", "json", "--repository-url", index.url, env=CREDS)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["project"], data["version"], data["published"]) == ("shared-library", "1.3.0", False)
    assert [(f["filename"], f["outcome"]) for f in data["files"]] == [(WHEEL, "skipped"), (SDIST, "skipped")]
    assert [f["filename"] for f in data["on_index"]] == [WHEEL, SDIST]
    assert all(len(f["sha256"]) == 64 for f in data["on_index"])


def test_publish_json_and_the_job_token(built: Path, index: Index, tmp_path: Path) -> None:
    """Without TWINE_USERNAME/TWINE_PASSWORD, GitLab's CI_JOB_TOKEN is the password of gitlab-ci-token: here the
    index knows no such user, so it refuses; with the right user it publishes, JSON on stdout alone."""
    lib = work(built, tmp_path)
    r = run_cli(lib, "publish", "--repository-url", index.url, env={"CI_JOB_TOKEN": PASSWORD})
    assert r.returncode == 1
    assert r.stderr == (f"error: the index {index.simple} refused the credentials from CI_JOB_TOKEN (as the user "
                        "gitlab-ci-token) (HTTP 403)\n"
                        "hint: check the token: it must be valid and may read the package registry\n")
    r = run_cli(lib, "publish", "dist/", "-o", "json", "--repository-url", index.url,
                env={**CREDS, "GITOPS_PUBLISH_INDEX_URL": index.simple})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["published"] is True
    assert [(f["filename"], f["outcome"]) for f in data["files"]] == [(WHEEL, "uploaded"), (SDIST, "uploaded")]
    assert data["index_url"] == index.simple and data["repository_url"] == index.url


def test_a_wrong_token_is_a_clear_error_and_nothing_is_uploaded(built: Path, index: Index, tmp_path: Path) -> None:
    lib = work(built, tmp_path)
    r = run_cli(lib, "publish", "--repository-url", index.url,
                env={"TWINE_USERNAME": USER, "TWINE_PASSWORD": "wrong-token"})
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (f"error: the index {index.simple} refused the credentials from TWINE_USERNAME and "
                        "TWINE_PASSWORD (HTTP 403)\n"
                        "hint: check the token: it must be valid and may read the package registry\n")
    assert "wrong-token" not in r.stderr
    assert on_index(index) == []
    # no credentials at all
    r = run_cli(lib, "publish", "--repository-url", index.url)
    assert (r.returncode, r.stderr) == (1, f"error: the index {index.simple} refused anonymous access (HTTP 401)\n"
                                           "hint: set TWINE_USERNAME and TWINE_PASSWORD, or run in GitLab CI "
                                           "(CI_JOB_TOKEN)\n")


def test_a_token_refused_for_uploading_only(built: Path, tmp_path: Path) -> None:
    """An index that lets anyone read but only the publisher upload: twine is refused, the message says by whom
    and with which credentials, masked; nothing is on the index."""
    lib = work(built, tmp_path)
    server = start_index(tmp_path / "index", authenticate="update")
    index = next(server)
    try:
        r = run_cli(lib, "publish", "-v", "--repository-url", index.url,
                    env={"TWINE_USERNAME": USER, "TWINE_PASSWORD": "wrong-token"})
        assert r.returncode == 1, r.stdout + r.stderr
        assert (f"error: the package index at {index.url} refused the credentials from TWINE_USERNAME and "
                f"TWINE_PASSWORD (HTTP 403): {WHEEL}, {SDIST} not uploaded\n") in r.stderr
        assert f"$ python -m twine --no-color upload --non-interactive --disable-progress-bar --repository-url " \
               f"{index.url} {WHEEL} {SDIST}" in r.stderr
        assert "wrong-token" not in r.stdout + r.stderr
        assert on_index(index) == []
        # and with the right one, it publishes
        r = run_cli(lib, "publish", "--repository-url", index.url, env=CREDS)
        assert r.returncode == 0, r.stderr
        assert on_index(index) == [WHEEL, SDIST]
    finally:
        server.close()


def test_other_bytes_under_a_published_version_are_refused(built: Path, index: Index, tmp_path: Path) -> None:
    lib = work(built, tmp_path)
    assert run_cli(lib, "publish", "--repository-url", index.url, env=CREDS).returncode == 0
    before = {p.name: p.read_bytes() for p in index.packages.iterdir()}
    other = library(tmp_path / "other", answer=43)  # the same version, other code
    build(other)
    r = run_cli(other, "publish", "--repository-url", index.url, env=CREDS)
    assert r.returncode == 1
    assert r.stdout == ""
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"error: {WHEEL} is already on {index.simple} with other bytes (sha256 ")
    assert first.endswith("here): shared-library 1.3.0 was published from another build, and a version is never "
                          "published again with other contents")
    assert r.stderr.splitlines()[1] == ("hint: release a new version (gitops-tools release), or publish the files "
                                        "that were published")
    assert {p.name: p.read_bytes() for p in index.packages.iterdir()} == before


def test_one_file_missing_from_the_index_is_uploaded_alone(built: Path, index: Index, tmp_path: Path) -> None:
    lib = work(built, tmp_path)
    assert run_cli(lib, "publish", f"dist/{WHEEL}", "--repository-url", index.url, env=CREDS).returncode == 0
    assert on_index(index) == [WHEEL]
    r = run_cli(lib, "publish", "--repository-url", index.url, env=CREDS)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"uploaded {SDIST} to {index.url}\n"
                        f"skipped {WHEEL}: already on the index with the same sha256\n"
                        f"shared-library 1.3.0 is now on {index.simple}: {WHEEL}, {SDIST}\n")


@pytest.mark.parametrize(("setup", "args", "message"), [
    ("", ("nowhere",), "error: nowhere: no such file or directory\n"
                       "hint: build them first (python -m build --outdir dist), or give the directory they are in\n"),
    ("empty", ("empty",), "error: empty: no wheel or sdist in it\nhint: build them first: python -m build --outdir dist\n"),
    ("notes", ("notes",), "error: notes.txt: not a wheel (.whl) or an sdist (.tar.gz)\n"
                          "hint: give the directory `python -m build` wrote (dist/), or only its .whl and .tar.gz "
                          "files\n"),
    ("mixed", ("mixed",), "error: the files are not all one project and one version (shared-library 1.2.0: "
                          "shared_library-1.2.0.tar.gz; shared-library 1.3.0: shared_library-1.3.0.tar.gz)\n"
                          "hint: publish one release at a time: clean the directory (rm -rf dist) and build again\n"),
])
def test_bad_distribution_files_are_clear_errors(tmp_path: Path, setup: str, args: tuple[str, ...],
                                                 message: str) -> None:
    if setup:
        (tmp_path / setup).mkdir()
    if setup == "notes":
        (tmp_path / "notes/notes.txt").write_text("not a distribution\n")
    if setup == "mixed":
        for v in ("1.2.0", "1.3.0"):
            (tmp_path / f"mixed/shared_library-{v}.tar.gz").write_bytes(b"")
    r = run_cli(tmp_path, "publish", *args, "--repository-url", "http://127.0.0.1:9/")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", message)


def test_urls_with_credentials_are_refused_and_an_index_that_does_not_answer_is_exit_75(
        built: Path, tmp_path: Path) -> None:
    lib = work(built, tmp_path)
    r = run_cli(lib, "publish", "--repository-url", f"http://{USER}:{PASSWORD}@127.0.0.1:9/")
    assert r.returncode == 1
    assert r.stderr == ("error: --repository-url: the URL carries credentials, which end up in logs; it was not "
                        "used\nhint: give the URL without user:password@ and put them in TWINE_USERNAME and "
                        "TWINE_PASSWORD (masked CI/CD variables)\n")
    assert PASSWORD not in r.stderr
    r = run_cli(lib, "publish", "--repository-url", f"http://127.0.0.1:{free_port()}/", env=CREDS)
    assert r.returncode == 75
    assert r.stderr.startswith("error: cannot reach the index http://127.0.0.1:")
    assert "hint: check the URL and that the index is up; try again later (exit 75: a CI job can retry)" in r.stderr
    r = run_cli(lib, "publish", "--repository-url", "ftp://example.com/")
    assert (r.returncode, r.stderr) == (2, "error: --repository-url 'ftp://example.com/': not an http:// or "
                                           "https:// URL\n")


# --- index_files -----------------------------------------------------------------------------------------------


def test_index_files_reads_what_the_index_has(built: Path, index: Index, tmp_path: Path) -> None:
    assert index_files(index.simple, "shared-library", CREDS) == ()  # 404: never published there
    with pytest.raises(GitopsError) as refused:
        index_files(index.simple, "shared-library", {"TWINE_USERNAME": USER, "TWINE_PASSWORD": "nope"})
    assert refused.value.exit_code == 1
    assert refused.value.problem == (f"the index {index.simple} refused the credentials from TWINE_USERNAME and "
                                     "TWINE_PASSWORD (HTTP 403)")
    with pytest.raises(GitopsError, match=r"refused anonymous access \(HTTP 401\)"):
        index_files(index.simple, "shared-library", {})
    with pytest.raises(GitopsError, match="TWINE_USERNAME is set but TWINE_PASSWORD is not"):
        index_files(index.simple, "shared-library", {"TWINE_USERNAME": USER})
    with pytest.raises(GitopsError, match="the URL carries credentials") as in_url:
        index_files(index.simple.replace("http://", f"http://{USER}:{PASSWORD}@"), "shared-library", {})
    assert PASSWORD not in str(in_url.value)

    assert run_cli(work(built, tmp_path), "publish", "--repository-url", index.url, env=CREDS).returncode == 0
    import hashlib

    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in index.packages.iterdir()}
    expected = (IndexFile(WHEEL, "1.3.0", digests[WHEEL]), IndexFile(SDIST, "1.3.0", digests[SDIST]))
    assert index_files(index.simple, "shared-library", CREDS) == expected
    # any spelling of the name; the index URL with or without its slash; the job token as gitlab-ci-token is
    # refused by this index, which knows no such user
    assert index_files(index.simple.rstrip("/"), "Shared_Library", CREDS) == expected
    with pytest.raises(GitopsError, match=r"CI_JOB_TOKEN \(as the user gitlab-ci-token\) \(HTTP 403\)"):
        index_files(index.simple, "shared-library", {"CI_JOB_TOKEN": PASSWORD})

    with pytest.raises(TemporaryError) as down:
        index_files(f"http://127.0.0.1:{free_port()}/simple/", "shared-library", CREDS, timeout=2)
    assert down.value.exit_code == 75


# --- the pipeline jobs -----------------------------------------------------------------------------------------


def test_the_library_pipeline_builds_and_publishes_through_the_templates(index: Index, tmp_path: Path) -> None:
    """.shared-library:build then .shared-library:publish for a release tag, with gitlab-ci-local, against the
    index; then pip installs the version from it. The pipeline of the tag run again passes (nothing to publish)."""
    lib = library(tmp_path / "library")
    source = copy_checkout(ROOT, tmp_path / "gitops-tools")
    variables = (f"GITOPS_TOOLS_SOURCE=file://{source}", "CI_COMMIT_TAG=v1.3.0",
                 f"PUBLISH_REPOSITORY_URL={index.url}", f"PUBLISH_INDEX_URL={index.simple}",
                 f"TWINE_USERNAME={USER}", f"TWINE_PASSWORD={PASSWORD}")
    r = gitlab_ci_local(lib, "", *variables)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert f"uploaded {WHEEL}, {SDIST} to {index.url}" in out
    assert PASSWORD not in out.replace(f"TWINE_PASSWORD={PASSWORD}", "")
    assert on_index(index) == [WHEEL, SDIST]
    python = pip_install(tmp_path, index, "shared-library==1.3.0")
    done = subprocess.run([str(python), "-c", "import shared_library; print(shared_library.ANSWER)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == "42\n", done.stderr

    r = gitlab_ci_local(lib, "", *variables)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert f"shared-library 1.3.0 is already on {index.simple}: nothing to publish" in out

    # a wrong token: the job fails with the message (exit 1: not retried)
    r = gitlab_ci_local(lib, "publish", *variables[:-1], "TWINE_PASSWORD=wrong-token")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert f"error: the index {index.simple} refused the credentials from TWINE_USERNAME and TWINE_PASSWORD " \
           "(HTTP 403)" in out
    assert "wrong-token" not in out.replace("TWINE_PASSWORD=wrong-token", "")


def test_gitops_tools_publishes_itself_with_its_own_pipeline(index: Index, tmp_path: Path) -> None:
    """The build and publish jobs of this repository's .gitlab-ci.yml for the tag v<version>, against the index;
    then `pip install gitops-tools==<version>` from it, and the installed command runs."""
    from gitops_tools import __version__

    checkout = copy_checkout(ROOT, tmp_path / "gitops")
    # `publish --needs`: publish and the job it needs (build). Not the whole pipeline: gitlab-ci-local sets
    # CI_COMMIT_BRANCH beside the tag, which would run validate and test (this very test suite) as well.
    r = gitlab_ci_local(checkout, "publish", f"CI_COMMIT_TAG=v{__version__}", f"GITOPS_TOOLS_SOURCE=file://{checkout}",
                        f"PUBLISH_REPOSITORY_URL={index.url}", f"PUBLISH_INDEX_URL={index.simple}",
                        f"TWINE_USERNAME={USER}", f"TWINE_PASSWORD={PASSWORD}", args=("--needs",))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    names = [f"gitops_tools-{__version__}-py3-none-any.whl", f"gitops_tools-{__version__}.tar.gz"]
    assert f"uploaded {', '.join(names)} to {index.url}" in out
    assert on_index(index) == names
    assert {line.split()[1] for line in out.splitlines() if line.startswith(" PASS ")} == {"build", "publish"}
    with zipfile.ZipFile(index.packages / names[0]) as wheel:  # the lock the CI templates install from
        assert wheel.read("gitops_tools/requirements.lock") == (ROOT / "gitops_tools/requirements.lock").read_bytes()
    python = pip_install(tmp_path, index, f"gitops-tools=={__version__}")
    # gitops-tools came from the index alone (--no-deps); its dependencies come from the lock it carries, every
    # file checked against its hash, as the .gitops:tools template installs them
    where = subprocess.run([str(python), "-c", "import importlib.util, os; print(os.path.join(os.path.dirname("
                            "importlib.util.find_spec('gitops_tools').origin), 'requirements.lock'))"],
                           capture_output=True, text=True, timeout=60, check=True)
    lock = where.stdout.strip()
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps", "-r",
                           lock], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([str(python.parent / "gitops-tools"), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (0, f"gitops-tools {__version__}\n"), done.stderr


def with_services(config: str, services: str) -> str:
    """gitops-tools.yaml with its `services:` block (if any) replaced by ``services``."""
    lines = config.splitlines(keepends=True)
    if "services:\n" not in lines:
        return config + ("" if config.endswith("\n") else "\n") + services
    start = lines.index("services:\n")
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "#")) or not lines[end].strip()):
        end += 1
    return "".join(lines[:start]) + services + "".join(lines[end:])


def test_the_library_pipeline_publishes_then_propagates_to_a_service(index: Index, tmp_path: Path) -> None:
    """build -> publish -> propagate of a release tag, through the templates: the service that pins
    shared-library==1.2.0 (listed under `services:` of the GitOps repository's gitops-tools.yaml) gets a merge
    request branch with the pin moved to 1.3.0, checked against the index first."""
    # the service: a bare remote that advertises push options and records them
    api_remote = tmp_path / "api.git"
    api = tmp_path / "api"
    api.mkdir()
    (api / "requirements.txt").write_text("requests==2.32.3\nshared-library==1.2.0  # the platform's helpers\n")
    git(api, "init", "-q", "-b", "main")
    git(api, "add", "-A")
    git(api, "commit", "-qm", "the api")
    git(tmp_path, "clone", "-q", "--bare", str(api), str(api_remote))
    git(api_remote, "config", "receive.advertisePushOptions", "true")
    hook = api_remote / "hooks/post-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text('#!/bin/sh\ni=0\nwhile [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do\n'
                    '  eval "echo \\"\\$GIT_PUSH_OPTION_$i\\"" >> push-options.log\n  i=$((i + 1))\ndone\n')
    hook.chmod(0o755)
    api_main = git(api_remote, "rev-parse", "main").strip()

    # the GitOps repository (this one), listing the service
    source = copy_checkout(ROOT, tmp_path / "gitops-source")
    config = source / "gitops-tools.yaml"
    config.write_text(with_services(config.read_text(), f"services:\n  api:\n    repo_url: file://{api_remote}\n"))
    git(source, "commit", "-qam", "the api takes the platform's libraries")
    gitops_remote = tmp_path / "gitops.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(gitops_remote))

    # the library, with its CHANGELOG and the propagate job
    lib = library(tmp_path / "library")
    (lib / "CHANGELOG.md").write_text("# Changelog\n\n## 1.3.0 (2026-11-29)\n\n### Features\n\n"
                                      "- the answer (abc1234)\n\n## 1.2.0 (2026-11-01)\n\n- first\n")
    (lib / ".gitlab-ci.yml").write_text(
        "include:\n  - local: templates.gitlab-ci.yml\n"
        "stages: [build, publish, propagate]\n"
        "build: {extends: .shared-library:build}\n"
        "publish: {extends: .shared-library:publish}\n"
        "propagate: {extends: .shared-library:propagate}\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "docs: changelog")

    r = gitlab_ci_local(lib, "", f"GITOPS_TOOLS_SOURCE=file://{source}", "CI_COMMIT_TAG=v1.3.0",
                        f"PUBLISH_REPOSITORY_URL={index.url}", f"PUBLISH_INDEX_URL={index.simple}",
                        f"TWINE_USERNAME={USER}", f"TWINE_PASSWORD={PASSWORD}", f"GITOPS_REPO_URL=file://{gitops_remote}")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    # every job passed (gitlab-ci-local counts any failure of a job with allow_failure: {exit_codes: [4]} as allowed)
    assert [line.split() for line in out.splitlines() if line.startswith((" PASS ", " FAIL ", " WARN "))][-3:] == [
        ["PASS", "build"], ["PASS", "publish"], ["PASS", "propagate"]], out[-6000:]
    assert f"uploaded {WHEEL}, {SDIST} to {index.url}" in out
    assert on_index(index) == [WHEEL, SDIST]
    branch = "gitops-tools/propagate/shared-library-1.3.0"
    assert git(api_remote, "branch", "--format=%(refname:short)").split() == [branch, "main"], out[-6000:]
    assert git(api_remote, "rev-parse", "main").strip() == api_main  # main untouched: a merge request
    assert git(api_remote, "show", f"{branch}:requirements.txt") == (
        "requests==2.32.3\nshared-library==1.3.0  # the platform's helpers\n")
    message = git(api_remote, "log", "-1", "--format=%B", branch)
    assert "shared-library==1.2.0 -> shared-library==1.3.0" in message and "- the answer (abc1234)" in message
    options = (api_remote / "push-options.log").read_text().splitlines()
    assert "merge_request.create" in options and "merge_request.target=main" in options
    assert PASSWORD not in out.replace(f"TWINE_PASSWORD={PASSWORD}", "")


# --- the pages, pure ---------------------------------------------------------------------------------------------


def test_simple_pages_in_html_and_json_give_the_same_files() -> None:
    from gitops_tools.core.simpleindex import parse_links, parse_page

    digest = "ab" * 32
    html = (b'<html><body><a href="../../files/shared_library-1.3.0-py3-none-any.whl#sha256=' + digest.encode()
            + b'">shared_library-1.3.0-py3-none-any.whl</a><br>'
            b'<a href="/files/shared_library-1.2.0.tar.gz#md5=00">shared_library-1.2.0.tar.gz</a>'
            b'<a href="/files/shared_library-1.2.0.tar.gz.asc">signature</a>'
            b'<a href="/files/other_library-1.3.0.tar.gz#sha256=' + digest.encode() + b'">other</a></body></html>')
    page = "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple/shared-library/"
    expected = (IndexFile("shared_library-1.3.0-py3-none-any.whl", "1.3.0", digest),
                IndexFile("shared_library-1.2.0.tar.gz", "1.2.0", None))
    assert parse_page(html, "text/html; charset=utf-8", page, "Shared_Library") == expected
    assert [url for _, url in parse_links(html, "text/html", page, "shared-library")] == [
        "https://gitlab.example.com/api/v4/projects/42/packages/pypi/files/shared_library-1.3.0-py3-none-any.whl",
        "https://gitlab.example.com/files/shared_library-1.2.0.tar.gz"]
    data = {"meta": {"api-version": "1.1"}, "name": "shared-library", "files": [
        {"filename": "shared_library-1.3.0-py3-none-any.whl", "url": "../../files/x.whl",
         "hashes": {"sha256": digest}},
        {"filename": "shared_library-1.2.0.tar.gz", "url": "/files/y.tar.gz", "hashes": {}}]}
    assert parse_page(json.dumps(data).encode(), "application/vnd.pypi.simple.v1+json", page,
                      "shared-library") == expected
    with pytest.raises(GitopsError, match="is not a PEP 691 JSON page"):
        parse_page(b"{}", "application/vnd.pypi.simple.v1+json", page, "shared-library")


def test_rebuilds_of_one_source_have_the_same_contents(built: Path, tmp_path: Path) -> None:
    """Two builds of the same source differ in bytes (timestamps) but not in contents; other code does."""
    from gitops_tools.core.simpleindex import same_contents

    again = work(built, tmp_path)
    shutil.rmtree(again / "dist")
    time.sleep(1.1)  # another second in the archives' timestamps
    (again / "shared_library/__init__.py").touch()
    build(again)
    other = library(tmp_path / "other", answer=43)
    build(other)
    for name in (WHEEL, SDIST):
        first, rebuilt = (built / "dist" / name).read_bytes(), (again / "dist" / name).read_bytes()
        assert same_contents(first, rebuilt, name)
        assert not same_contents(first, (other / "dist" / name).read_bytes(), name)
        assert not same_contents(first, b"not an archive", name)
