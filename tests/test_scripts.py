"""scripts/update-image.sh and scripts/promote-env.sh, run for real on a git checkout copy of this repository:
GITOPS_TOOLS names the command they exec, with its arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_checkout, git

# The CLI as a command with arguments (`python -m gitops_tools`): the scripts split it into words.
GITOPS_TOOLS = f"{sys.executable} -m gitops_tools"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return copy_checkout(ROOT, tmp_path / "gitops")


def script(checkout: Path, name: str, *args: str, gitops_tools: str = GITOPS_TOOLS) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITOPS_REPO_URL", "CI")}
    env["GITOPS_TOOLS"] = gitops_tools
    return subprocess.run([str(checkout / "scripts" / name), *args], cwd=checkout, capture_output=True, text=True,
                          env=env, timeout=120)


def test_update_image_runs_a_gitops_tools_command_with_arguments(checkout: Path) -> None:
    path = checkout / "environments/dev/kustomization.yaml"
    before = path.read_text()
    old = "newTag: 1.4.2\n    digest: sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b\n"
    assert old in before
    digest = "sha256:" + "0123456789abcdef" * 4  # TAG@DIGEST: what the build printed
    r = script(checkout, "update-image.sh", "dev", "aegis/api", f"1.4.3@{digest}", "--no-commit")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (f"dev: aegis/api registry.gitlab.com/aegis/app/api:1.4.2@sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b -> "
            f"registry.gitlab.com/aegis/app/api:1.4.3@{digest}") in r.stdout
    assert path.read_text() == before.replace(old, f"newTag: 1.4.3\n    digest: {digest}\n", 1)
    assert git(checkout, "rev-list", "--count", "HEAD") == "1\n"  # --no-commit reached the CLI


def test_promote_env_runs_a_gitops_tools_command_with_arguments(checkout: Path) -> None:
    before = git(checkout, "status", "--porcelain"), git(checkout, "rev-parse", "HEAD")
    r = script(checkout, "promote-env.sh", "dev", "staging", "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "+++ b/environments/staging/kustomization.yaml" in r.stdout
    assert "+    newTag: 1.4.2" in r.stdout
    assert (git(checkout, "status", "--porcelain"), git(checkout, "rev-parse", "HEAD")) == before


def test_gitops_tools_words_are_not_globbed_and_errors_keep_their_exit_code(checkout: Path, tmp_path: Path) -> None:
    """The command is split into words, nothing more: a `*` stays a `*`, and the CLI's own exit code comes back."""
    show = tmp_path / "show_args.py"
    show.write_text("import sys\nprint(sys.argv[1:])\n")
    r = script(checkout, "promote-env.sh", "dev", "staging", "--dry-run",
               gitops_tools=f"{sys.executable}  {show}\tgitops_tools*")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "['gitops_tools*', 'promote', 'dev', 'staging', '--dry-run']\n"
    r = script(checkout, "update-image.sh", "nowhere", "aegis/api", "1.4.3", "--no-commit")
    assert (r.returncode, r.stdout) == (1, ""), r.stdout + r.stderr
    assert "nowhere" in r.stderr
