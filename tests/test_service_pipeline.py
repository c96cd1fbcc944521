"""The service pipeline of ci/examples/service.gitlab-ci.yml, run for real with gitlab-ci-local against a bare GitOps
remote: build -> deploy:dev (.gitops:update-image) -> promote:staging (.gitops:promote) -> promote:prod (manual,
a merge request branch: prod is protected). Every job installs the published wheel of gitops-tools, the version
the templates pin, from a package index (pypiserver on loopback, the job token as its password): no clone of the
tool, no build."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, copy_checkout, git
from tests.pyindexserver import Index, start_index
from tests.test_gitlab_ci import gitlab_ci_local

JOB_TOKEN = "job-t0ken-of-the-service"
DIGEST = "sha256:" + "5e" * 32  # what the fake build says it pushed

EXAMPLE = ROOT / "ci/examples/service.gitlab-ci.yml"
ENVIRONMENTS = {
    "deploy:dev": ("dev", "https://api.dev.aegis.example.com", "development"),
    "promote:staging": ("staging", "https://api.staging.aegis.example.com", "staging"),
    "promote:prod": ("prod", "https://api.aegis.example.com", "production"),
}


def _loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!reference", lambda loader, node: ["!reference", *loader.construct_sequence(node)])
    return Loader


def merged_job(docs: list[dict[str, object]], name: str) -> dict[str, object]:
    """A job with its `extends:` chain merged as GitLab does (hashes deep, everything else replaced)."""
    jobs: dict[str, object] = {}
    for doc in docs:
        jobs.update(doc)

    def merge(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v  # type: ignore[arg-type]
        return out

    def resolve(job_name: str) -> dict[str, object]:
        job = dict(jobs[job_name])  # type: ignore[call-overload]
        parents = job.pop("extends", [])
        base: dict[str, object] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            base = merge(base, resolve(parent))
        return merge(base, job)

    return resolve(name)


@pytest.fixture
def gitops_remote(tmp_path: Path) -> Path:
    """A bare GitOps remote (this repository) that advertises push options and records them."""
    remote = tmp_path / "gitops.git"
    source = copy_checkout(ROOT, tmp_path / "source")
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    git(remote, "config", "receive.advertisePushOptions", "true")
    hook = remote / "hooks/post-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text('#!/bin/sh\ni=0\nwhile [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do\n'
                    '  eval "echo \\"\\$GIT_PUSH_OPTION_$i\\"" >> push-options.log\n  i=$((i + 1))\ndone\n'
                    'cat >> pushed-refs.log\n')
    hook.chmod(0o755)
    return remote


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A service repository whose pipeline is the example's, with a build that needs no Docker."""
    service = tmp_path / "service"
    (service / "ci").mkdir(parents=True)
    (service / "ci/templates.gitlab-ci.yml").write_bytes((ROOT / "ci/templates.gitlab-ci.yml").read_bytes())
    (service / "ci/service.gitlab-ci.yml").write_bytes(EXAMPLE.read_bytes())
    (service / ".gitlab-ci.yml").write_text(
        "include:\n"
        "  - local: ci/templates.gitlab-ci.yml\n"
        "  - local: ci/service.gitlab-ci.yml\n"
        "build:\n"
        "  script:\n"
        '    - echo "built $IMAGE_REPOSITORY:$CI_COMMIT_SHORT_SHA"\n'
        f'    - echo "GITOPS_DIGEST={DIGEST}" > build.env\n'  # as the example's build does from kaniko's digest
    )
    (service / "app.py").write_text("print('api')\n")
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-qm", "feat: the api")
    return service


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, as the release pipeline publishes it (the version in pyproject.toml)."""
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out),
                        str(copy_checkout(ROOT, out / "source"))], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    [built] = out.glob("gitops_tools-*.whl")
    return built


@pytest.fixture
def tools_index(tmp_path: Path, wheel: Path) -> Iterator[Index]:
    """The GitOps project's package registry: it holds the published wheel, and wants the job token to serve it."""
    for index in start_index(tmp_path / "index", authenticate="download,list,update", user="gitlab-ci-token",
                             password=JOB_TOKEN):
        (index.packages / wheel.name).write_bytes(wheel.read_bytes())
        yield index


def index_variables(index: Index) -> tuple[str, str]:
    return f"GITOPS_TOOLS_INDEX_URL={index.simple}", f"CI_JOB_TOKEN={JOB_TOKEN}"


def kustomization(remote: Path, ref: str, env: str) -> str:
    return git(remote, "show", f"{ref}:environments/{env}/kustomization.yaml")


def test_the_example_pipeline_deploys_dev_promotes_staging_and_opens_a_merge_request_for_prod(
        gitops_remote: Path, service: Path, tools_index: Index, wheel: Path) -> None:
    from gitops_tools import __version__

    sha = git(service, "rev-parse", "--short", "HEAD").strip()
    prod_before = kustomization(gitops_remote, "main", "prod")
    staging_before = kustomization(gitops_remote, "main", "staging")
    url = f"GITOPS_REPO_URL=file://{gitops_remote}"

    # The pipeline, as GitLab starts it on main: every job but the manual one.
    r = gitlab_ci_local(service, "", url, *index_variables(tools_index))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert JOB_TOKEN not in out
    # each job took the pinned version's wheel from the index, with the job token
    assert wheel.name == f"gitops_tools-{__version__}-py3-none-any.whl"
    served = (tools_index.packages.parent / "server.log").read_text()
    assert served.count('"GET /simple/gitops-tools/ HTTP/1.1" 200') == 2, served[-3000:]  # once per job
    assert f'"GET /packages/{wheel.name} HTTP/1.1" 200' in served, served[-3000:]  # then pip's cache may serve it
    assert f"built registry.gitlab.com/aegis/app/api:{sha}" in out
    assert re.search(r"^promote:prod\s+starting", out, re.M) is None  # manual: not run by the pipeline
    # dev got the tag and the digest the build pushed on main, with the trailers of the pipeline
    # CI's short sha may be longer than git's; a sha that YAML would read as a number (8e59353: a float) is quoted
    pinned = re.compile(rf'newTag: "?{sha}[0-9a-f]*"?\n    digest: {DIGEST}\n')
    assert pinned.search(kustomization(gitops_remote, "main", "dev"))
    log = git(gitops_remote, "log", "--format=%s%n%(trailers:only)%x00", "main").split("\x00")
    dev_commit = next(c for c in log if "Gitops-Change: dev aegis/api" in c and sha in c)
    assert f"-> registry.gitlab.com/aegis/app/api:{sha}" in dev_commit
    # staging promoted from dev, on main
    staging = kustomization(gitops_remote, "main", "staging")
    assert staging != staging_before and pinned.search(staging)
    promote_commit = next(c for c in log if "Gitops-Change: staging aegis/api" in c)
    assert f"registry.gitlab.com/aegis/app/api:{sha}" in promote_commit
    # prod untouched, no merge request yet
    assert kustomization(gitops_remote, "main", "prod") == prod_before
    assert not (gitops_remote / "push-options.log").exists()
    main_before_prod = git(gitops_remote, "rev-parse", "main").strip()

    # The manual job, run by naming it: a merge request branch, never main.
    r = gitlab_ci_local(service, "promote:prod", url, *index_variables(tools_index))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert git(gitops_remote, "rev-parse", "main").strip() == main_before_prod
    assert kustomization(gitops_remote, "main", "prod") == prod_before
    options = (gitops_remote / "push-options.log").read_text().splitlines()
    assert "merge_request.create" in options
    assert "merge_request.target=main" in options
    assert any(o.startswith("merge_request.title=") for o in options)
    branches = [b.strip() for b in git(gitops_remote, "branch", "--format=%(refname:short)").splitlines()
                if b.strip() != "main"]
    assert len(branches) == 1, branches
    assert pinned.search(kustomization(gitops_remote, branches[0], "prod"))
    assert f"refs/heads/{branches[0]}" in (gitops_remote / "pushed-refs.log").read_text()


def test_the_example_pipeline_lists_its_jobs_environments_and_resource_groups(service: Path) -> None:
    r = gitlab_ci_local(service, "", args=("--list-json",))
    assert r.returncode == 0, r.stdout + r.stderr
    jobs = {job["name"]: job for job in json.loads(r.stdout)}
    assert [jobs[n]["stage"] for n in ("build", "deploy:dev", "promote:staging", "promote:prod")] == [
        "build", "deploy", "staging", "prod"]
    assert (jobs["promote:prod"]["when"], jobs["promote:prod"]["allow_failure"]) == ("manual", True)
    assert {jobs[n]["when"] for n in ("build", "deploy:dev", "promote:staging")} == {"on_success"}
    # environment, resource_group and retry as GitLab reads them: the example merged with the templates it extends
    docs = [yaml.load(p.read_text(), Loader=_loader())
            for p in (ROOT / "ci/templates.gitlab-ci.yml", EXAMPLE)]
    for name, (env, url, tier) in ENVIRONMENTS.items():
        job = merged_job(docs, name)
        assert job["environment"] == {"name": env, "url": url, "deployment_tier": tier}, name
        assert job["resource_group"] == f"gitops-{env}", name
        assert job["retry"] == {"max": 2, "exit_codes": [75]}, name
    assert merged_job(docs, "promote:prod")["rules"] == [
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual", "allow_failure": True}]


def test_the_example_pipeline_preview_expands_the_shared_install_step(service: Path) -> None:
    """`!reference [.gitops:tools, script]` is expanded (gitlab-ci-local --preview prints the merged YAML): every
    GitOps job installs the pinned gitops-tools from the index first, with pip's cache kept between jobs, and
    clones nothing but what the tool clones itself."""
    from gitops_tools import __version__

    r = gitlab_ci_local(service, "", args=("--preview",))
    assert r.returncode == 0, r.stdout + r.stderr
    preview = yaml.safe_load(r.stdout)
    for name in ENVIRONMENTS:
        script = preview[name]["script"]
        assert 'pip install --quiet --no-deps "gitops-tools==$GITOPS_TOOLS_VERSION"' in script[0], name
        assert "git clone" not in "\n".join(script), name
        assert preview[name]["variables"]["GITOPS_TOOLS_VERSION"] == __version__
        assert preview[name]["cache"][0]["paths"] == [".cache/pip"]
        assert preview[name]["resource_group"] == f"gitops-{ENVIRONMENTS[name][0]}"
        assert preview[name]["environment"]["deployment_tier"] == ENVIRONMENTS[name][2]
    assert '--image "$GITOPS_IMAGE"' in preview["promote:prod"]["script"][-1]
    assert '--repo-url "$GITOPS_REPO_URL" --branch "$GITOPS_BRANCH"' in preview["promote:staging"]["script"][-1]


def test_a_job_token_the_index_refuses_fails_the_job_before_anything_is_written_and_is_never_printed(
        gitops_remote: Path, service: Path, tools_index: Index) -> None:
    from gitops_tools import __version__

    before = git(gitops_remote, "rev-parse", "main")
    wrong = "wr0ng-job-t0ken-value"
    r = gitlab_ci_local(service, "deploy:dev", f"GITOPS_REPO_URL=file://{gitops_remote}",
                        f"GITOPS_TOOLS_INDEX_URL={tools_index.simple}", f"CI_JOB_TOKEN={wrong}")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    assert (f"gitops-tools {__version__}: not on {tools_index.simple}, or the index refused the job token (allow this "
            "project in the GitOps project's job token settings)") in out
    assert wrong not in out and JOB_TOKEN not in out
    assert "gitops-tools image set" not in out and "dev: aegis/api" not in out  # the tool's line never ran
    assert git(gitops_remote, "rev-parse", "main") == before
    served = (tools_index.packages.parent / "server.log").read_text()
    assert '"GET /simple/gitops-tools/ HTTP/1.1" 403' in served, served[-2000:]
