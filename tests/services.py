"""Service repositories for the propagate tests: a bare remote per service that records the push options of
every push (what GitLab reads to open a merge request), and a GitOps checkout whose gitops-tools.yaml lists them."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

from tests.conftest import git, make_checkout

# Appends "push" then one line per push option, for every push the remote accepts or refuses.
RECORD_PUSH_OPTIONS = """#!/bin/sh
{
  echo push
  i=0
  while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "echo \\"option \\$GIT_PUSH_OPTION_$i\\""
    i=$((i + 1))
  done
} >> "$(dirname "$0")/../push-options.log"
"""

REFUSE = """#!/bin/sh
echo "GitLab: You are not allowed to push code to this project." >&2
exit 1
"""


def _hook(remote: Path, name: str, text: str) -> None:
    path = remote / "hooks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def service_remote(base: Path, name: str, files: dict[str, str], *, refuse: bool = False) -> Path:
    """A bare repository ``base/NAME.git`` whose main holds ``files``; it accepts push options and records them."""
    work = make_checkout(base / "work" / name, files)
    remote = base / f"{name}.git"
    git(base, "clone", "-q", "--bare", str(work), str(remote))
    git(remote, "config", "receive.advertisePushOptions", "true")
    _hook(remote, "pre-receive", REFUSE if refuse else RECORD_PUSH_OPTIONS)
    return remote


def pushes(remote: Path) -> list[list[str]]:
    """The push options of each push the remote saw, in order."""
    log = remote / "push-options.log"
    if not log.exists():
        return []
    out: list[list[str]] = []
    for line in log.read_text().splitlines():
        if line == "push":
            out.append([])
        else:
            out[-1].append(line.removeprefix("option "))
    return out


def branches(remote: Path) -> dict[str, str]:
    refs = git(remote, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split() for line in refs.splitlines())


def gitops_checkout(path: Path, services: dict[str, Path | str], more: str = "") -> Path:
    """A GitOps checkout whose gitops-tools.yaml lists ``services`` (name -> remote path or URL), then the
    service entries written in ``more``."""
    lines = ["version: 1", "environments:", "  - name: dev", "services:"]
    for name, url in services.items():
        lines += [f"  {name}:", f"    repo_url: {url}"]
    config = "\n".join(lines) + "\n" + textwrap.indent(textwrap.dedent(more), "  ")
    return make_checkout(path, {"gitops-tools.yaml": config, "environments/dev/kustomization.yaml": "resources: []\n"})
