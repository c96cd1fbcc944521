"""The repository's own `.gitlab-ci.yml` and the templates for service repositories, run for real with
gitlab-ci-local (--force-shell-executor) against copies of this repository and a bare-repository remote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REAL_HOME, ROOT, copy_checkout, git, tool_or_skip

INSTALL = "npm install -g gitlab-ci-local@4.60.1 and apt-get install rsync"


def gitlab_ci_local(cwd: Path, job: str, *variables: str) -> subprocess.CompletedProcess[str]:
    tools = tool_or_skip("gitlab-ci-local", "rsync", install=INSTALL)
    args = [tools["gitlab-ci-local"], "--force-shell-executor"]
    for v in variables:
        args += ["--variable", v]
    env = {**os.environ, "PIP_CACHE_DIR": str(REAL_HOME / ".cache" / "pip"), "FORCE_COLOR": "0"}
    return subprocess.run([*args, job], cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return copy_checkout(ROOT, tmp_path / "gitops")


def test_validate_job_passes_on_this_repository(checkout: Path) -> None:
    r = gitlab_ci_local(checkout, "validate")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "rendered: dev (22 objects), staging (22 objects), prod (22 objects)" in out
    assert "0 error(s), 0 warning(s)" in out
    assert "PASS" in out and "validate" in out
    assert sorted(p.name for p in (checkout / ".gitlab-ci-local/artifacts/validate/rendered").iterdir()) == [
        "applications.yaml", "dev.yaml", "prod.yaml", "staging.yaml",
    ]


def test_validate_job_fails_on_a_broken_copy(checkout: Path) -> None:
    path = checkout / "environments/prod/kustomization.yaml"
    path.write_text(path.read_text().replace("newTag: 1.4.0", "newTag: latest"))
    git(checkout, "commit", "-qam", "prod on latest")
    r = gitlab_ci_local(checkout, "validate")
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "uses the mutable tag 'latest' in a protected environment" in out
    assert "1 error(s), 0 warning(s)" in out
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
    """A service repository includes ci/templates.gitlab-ci.yml and extends .gitops:update-image."""
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
    )
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-qm", "service")
    before = git(remote, "rev-parse", "main").strip()
    r = gitlab_ci_local(service, "deploy:dev", f"GITOPS_REPO_URL=file://{remote}")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "dev: aegis/api registry.gitlab.com/aegis/app/api:1.4.2 -> registry.gitlab.com/aegis/app/api:1.4.3" in out
    assert git(remote, "rev-parse", "main~1").strip() == before
    assert git(remote, "show", "main:environments/dev/kustomization.yaml") == (
        (ROOT / "environments/dev/kustomization.yaml").read_text().replace("newTag: 1.4.2", "newTag: 1.4.3")
    )
    trailers = git(remote, "log", "-1", "--format=%(trailers:only)", "main")
    assert "Gitops-Change: dev aegis/api registry.gitlab.com/aegis/app/api:1.4.2 -> " \
           "registry.gitlab.com/aegis/app/api:1.4.3" in trailers


def test_templates_parse_for_a_service_repository(tmp_path: Path) -> None:
    """Every template is hidden until extended, and a service pipeline extending all of them lists its jobs."""
    service = tmp_path / "library"
    service.mkdir()
    (service / "templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (service / ".gitlab-ci.yml").write_text(
        "include:\n  - local: templates.gitlab-ci.yml\n"
        "stages: [test, build, release, publish, deploy]\n"
        "test: {extends: .shared-library:test}\n"
        "build: {extends: .shared-library:build}\n"
        "release: {extends: .shared-library:release}\n"
        "publish: {extends: .shared-library:publish}\n"
        "deploy: {extends: .gitops:update-image, stage: deploy}\n"
    )
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-qm", "library")
    tools = tool_or_skip("gitlab-ci-local", "rsync", install=INSTALL)
    r = subprocess.run([tools["gitlab-ci-local"], "--list-all"], cwd=service, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    names = {line.split()[0] for line in r.stdout.splitlines()[1:] if line.strip() and not line.startswith(" ")}
    assert {"test", "build", "release", "publish", "deploy"} <= names
