"""``rollback ENV [--to REV]``: ENV's images as they were at REV, as a new commit through the same write path.

Never a ``git revert`` of unrelated work: the old kustomization is read at REV (GitPython's persistent
``cat-file --batch``), and its entries are set again like a promotion from the past. The revision is resolved by
the first attempt and kept in its plan, so an attempt after a rejected push restores the same state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.commands.imageset import ImageSetPlan, plan_images, read_target
from gitops_tools.commands.reading import git_of
from gitops_tools.commands.workspace import Workspace
from gitops_tools.commands.writer import Applied, Landed, Runtime, WriteOptions, land
from gitops_tools.core.envstate import read_env_images
from gitops_tools.core.promotion import PlanItem
from gitops_tools.errors import GitopsError
from gitops_tools.git.repo import Git

if TYPE_CHECKING:
    from gitops_tools.commands.notifying import Notification


class RollbackPlan(NamedTuple):
    revision: str
    target: ImageSetPlan

    @property
    def applied(self) -> Applied:
        return self.target.applied


class RollbackResult(NamedTuple):
    env: str
    revision: str
    landed: Landed[RollbackPlan]

    @property
    def notifications(self) -> tuple[Notification, ...]:
        """What became of each notification target (none unless the change was pushed)."""
        return self.landed.notifications

    def as_dict(self) -> dict[str, object]:
        return {"environment": self.env, "revision": self.revision,
                "images": [u.as_dict() for u in self.landed.applied.updates],
                "files": [e.display for e in self.landed.applied.edits], **self.landed.as_dict()}


def rollback(cwd: Path, repo_dir: Path | None, env_name: str, to: str | None, images: Sequence[str],
             opts: WriteOptions,
             env: Mapping[str, str] | None = None) -> RollbackResult:
    def attempt(ws: Workspace, previous: RollbackPlan | None) -> RollbackPlan:
        files = read_target(ws, ws.config.environment(env_name).name)
        path = files.display
        git = git_of(ws)
        if git.is_shallow():  # history is read from commits: a shallow clone fetches the rest first
            git.network_step("fetch", "--quiet", "--unshallow")
        rev = previous.revision if previous is not None else _revision(git, path, to)
        old_text = git.show(rev, path)
        if old_text is None:
            raise GitopsError(f"does not exist at {rev[:12]}", file=path, fix="pick another --to REV")
        old = read_env_images(env_name, old_text, f"{path}@{rev[:12]}")
        unknown = [i for i in images if i not in old.images]
        if unknown:
            raise GitopsError(f"{', '.join(unknown)}: not set in {env_name} at {rev[:12]}", file=path)
        specs = [PlanItem(n, None, old.images[n]).spec for n in images or sorted(old.images)]
        return RollbackPlan(rev, plan_images(ws, files, specs, {}, True, "rollback", add=True))

    landed = land(cwd, repo_dir, None, attempt, opts, Runtime(os.environ if env is None else env))
    return RollbackResult(env_name, landed.plan.revision, landed)


def _revision(git: Git, path: str, to: str | None) -> str:
    """REV as a commit; by default the parent of the last commit that changed ``path``."""
    if to is not None:
        rev = git.rev_parse(to)
        if rev is None:
            raise GitopsError(f"revision {to!r} does not exist in this repository",
                              fix="give a commit, branch or tag (git log shows them)")
        return rev
    last = git.log(paths=[path], max_count=1, files=False)
    if not last:
        raise GitopsError("has no history to roll back to", file=path)
    parent = last[0].parents[0] if last[0].parents else None
    if parent is None or git.show(parent, path) is None:
        raise GitopsError("was created by its first change; there is nothing before it", file=path,
                          fix="give --to REV")
    return parent
