"""The public API as a Python program uses it: nothing is imported but ``gitops_tools`` (and the standard
library, to make the repositories). A bump, a promotion and a release, with the values the CLI prints as JSON."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import gitops_tools
from gitops_tools import GitopsError, Library, PolicyError, Repository

KUST = """\
images:
  - name: aegis/api
    newName: registry.example.com/aegis/api
    newTag: {tag}
"""


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_all(cwd: Path, message: str) -> None:
    sh(cwd, "git", "add", "-A")
    sh(cwd, "git", "commit", "-qm", message)


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    repo = tmp_path / "gitops"
    for env, tag in (("dev", "1.4.2"), ("staging", "1.4.1"), ("prod", "1.4.0")):
        (repo / "environments" / env).mkdir(parents=True)
        (repo / "environments" / env / "kustomization.yaml").write_text(KUST.format(tag=tag))
    (repo / "gitops-tools.yaml").write_text("environments:\n  - name: dev\n  - name: staging\n  - name: prod\n"
                                            "    protected: true\n")
    sh(repo, "git", "init", "-q", "-b", "main")
    commit_all(repo, "initial")
    return repo


def test_the_public_names_are_exported_and_load_nothing_heavy() -> None:
    code = ("import sys, gitops_tools; print(sorted(m for m in ('click', 'git', 'yaml', 'ruamel') if m in sys.modules))")
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"
    assert {"Repository", "Library", "GitopsError", "SetResult", "PromoteResult", "ReleaseResult"} <= set(
        gitops_tools.__all__)
    assert all(getattr(gitops_tools, name) is not None for name in gitops_tools.__all__)


def test_a_bump_a_promotion_and_the_matrix(gitops: Path) -> None:
    repo = Repository(gitops)
    result = repo.set_images("dev", ["aegis/api=*:1.4.3"])
    assert result.commit == sh(gitops, "git", "rev-parse", "HEAD").strip()
    assert [(u.image, u.old, u.new, u.status) for u in result.updates] == [
        ("aegis/api", "registry.example.com/aegis/api:1.4.2", "registry.example.com/aegis/api:1.4.3", "updated")]
    assert result.as_dict()["files"] == ["environments/dev/kustomization.yaml"]

    plan = repo.plan_promotion("dev", "staging")
    assert [(p.image, p.source.value) for p in plan.plan] == [("aegis/api", "registry.example.com/aegis/api:1.4.3")]
    assert plan.landed.commit is None and sh(gitops, "git", "status", "--porcelain") == ""
    promoted = repo.promote("dev", "staging")
    assert promoted.landed.commit == sh(gitops, "git", "rev-parse", "HEAD").strip()

    matrix = repo.status()
    assert matrix.envs == ("dev", "staging", "prod")
    assert [c.value.rsplit(":", 1)[1] if c.value else None for c in matrix.rows[0].cells] == ["1.4.3", "1.4.3", "1.4.0"]
    assert [e.action for e in repo.history(image="aegis/api")] == ["promote", "set-image"]


def test_errors_carry_their_exit_code(gitops: Path) -> None:
    repo = Repository(gitops)
    with pytest.raises(PolicyError) as refused:
        repo.set_images("prod", ["aegis/api=*:latest"])
    assert refused.value.exit_code == 1
    with pytest.raises(GitopsError) as unknown:
        repo.set_images("qa", ["aegis/api=*:1.0.0"])
    assert unknown.value.exit_code == 1 and unknown.value.problem == "unknown environment 'qa', and no directory of that name"


def test_a_release(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "pyproject.toml").write_text('[project]\nname = "shared-library"\nversion = "1.2.0"\n')
    sh(lib, "git", "init", "-q", "-b", "main")
    commit_all(lib, "initial")
    sh(lib, "git", "tag", "-a", "v1.2.0", "-m", "1.2.0")
    (lib / "feature.py").write_text("x = 1\n")
    commit_all(lib, "feat(api): a feature")
    library = Library(lib)
    assert library.next_version() == "1.3.0"
    assert library.plan().level == "minor"
    import datetime

    done = library.release(push=False, today=datetime.date(2026, 11, 29))
    assert (done.next, done.tag, done.pushed) == ("1.3.0", "v1.3.0", False)
    assert sh(lib, "git", "tag", "--list") == "v1.2.0\nv1.3.0\n"
    assert (lib / "CHANGELOG.md").read_text().splitlines()[4] == "## shared-library 1.3.0 (2026-11-29)"
    assert library.next_version() is None
