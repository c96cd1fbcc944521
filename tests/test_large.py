"""Large changes: a thousand images in one commit (the message alone is larger than an argument may be)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import git, make_checkout

N = 1000


def kustomization(tag: str) -> str:
    lines = ["images:"]
    for i in range(N):
        lines += [f"  - name: registry.example.com/team/service-{i:04d}", f"    newTag: {tag}"]
    return "\n".join(lines) + "\n"


def test_promote_a_thousand_images_in_one_commit(tmp_path: Path) -> None:
    repo = make_checkout(tmp_path / "gitops", {
        "gitops-tools.yaml": "environments:\n  - name: dev\n  - name: staging\n",
        "environments/dev/kustomization.yaml": kustomization("2.0.0"),
        "environments/staging/kustomization.yaml": kustomization("1.0.0"),
    })
    r = subprocess.run([sys.executable, "-m", "gitops_tools", "promote", "dev", "staging"], cwd=repo,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (repo / "environments/staging/kustomization.yaml").read_text() == kustomization("2.0.0")
    message = git(repo, "log", "-1", "--format=%B")
    assert len(message.encode()) > 128 * 1024  # more than one command-line argument may hold
    assert git(repo, "log", "-1", "--format=%s") == (
        "chore(staging): promote 1000 images (registry.example.com/team/service-0000, "
        "registry.example.com/team/service-0001, registry.example.com/team/service-0002, "
        "registry.example.com/team/service-0003, registry.example.com/team/service-0004 and 995 more)\n")
    assert message.count("\nGitops-Change: staging ") == N
    assert git(repo, "status", "--porcelain") == ""
