"""``status``, ``diff``, ``history``, ``promote`` and ``rollback``: seeing what runs where and moving it.

Reading uses :mod:`gitops_tools.core.envstate` and :mod:`gitops_tools.core.history` (pure); writing goes through the same
semantic-change path as ``image set`` (:func:`gitops_tools.commands.imageset.plan` and :mod:`gitops_tools.commands.writer`), so
promotions and rollbacks get the same retries, merge requests, trailers and policies.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gitops_tools.core import policy
from gitops_tools.commands.admission import check_age, check_from_previous, deepen, env_images, fields, git_of, local_git
from gitops_tools.commands.admission import log as history_log
from gitops_tools.commands.admission import parse_age
from gitops_tools.core.envstate import (
    Difference,
    EnvImages,
    Matrix,
    differences,
    matrix,
    read_env_images,
)
from gitops_tools.errors import ConflictError, GitopsError, PolicyError
from gitops_tools.files import find_kustomization
from gitops_tools.core.history import Event, events, since_argument
from gitops_tools.commands.imageset import plan as plan_images
from gitops_tools.core.kustomize import ImageSpec, KustImage
from gitops_tools.commands.workspace import Workspace, open_workspace
from gitops_tools.commands.writer import Applied, Landed, WriteOptions, land


def _workspace(cwd: Path, repo_dir: Path | None, verbose: bool = False) -> Workspace:
    ws = open_workspace(cwd, repo_dir)
    if ws.root is None:
        raise GitopsError("not in a GitOps repository", fix="run from the checkout, or pass -C DIR")
    return ws._replace(git=local_git(ws.root, verbose)) if ws.in_checkout else ws


def status(cwd: Path, repo_dir: Path | None, images: Sequence[str] = ()) -> Matrix:
    ws = _workspace(cwd, repo_dir)
    states = [env_images(ws, e.name) for e in ws.config.environments]
    known = sorted({name for s in states for name in s.images})
    unknown = [i for i in images if i not in known]
    if unknown:
        raise GitopsError(f"{', '.join(unknown)}: set in no environment", fix=f"images: {', '.join(known) or '(none)'}")
    return matrix(states, images)


def diff(cwd: Path, repo_dir: Path | None, a: str, b: str, images: Sequence[str] = ()) -> tuple[Difference, ...]:
    ws = _workspace(cwd, repo_dir)
    return differences(env_images(ws, a), env_images(ws, b), images)


def history(cwd: Path, repo_dir: Path | None, env: str | None, image: str | None, since: str | None,
            verbose: bool = False, now: datetime.datetime | None = None) -> list[Event]:
    when = None if since is None else since_argument(since, now or datetime.datetime.now(datetime.timezone.utc))
    ws = _workspace(cwd, repo_dir, verbose)
    if env is not None:
        ws.config.environment(env)
    paths = {e.name: e.path for e in ws.config.environments}
    return events(history_log(ws, sorted(paths.values()), when), paths, env, image)


class PlanItem(NamedTuple):
    image: str
    target_now: KustImage | None
    source: KustImage

    def as_dict(self) -> dict[str, str | None]:
        return {"image": self.image, "target_now": self.target_now.value if self.target_now else None,
                "source": self.source.value}


class PromoteResult(NamedTuple):
    source: str
    target: str
    plan: tuple[PlanItem, ...]
    landed: Landed
    dry_run: bool

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "plan": [p.as_dict() for p in self.plan],
                "dry_run": self.dry_run,
                "files": [e.display for e in self.landed.applied.edits], **self.landed.as_dict()}


def _spec(entry: KustImage) -> ImageSpec:
    """Make the target entry exactly the source entry (every field set or cleared)."""
    return ImageSpec(entry.name, entry.new_name, entry.new_tag, entry.digest, entry.value)


def promote(cwd: Path, repo_dir: Path | None, source: str, target: str, images: Sequence[str], force: bool,
            min_age: str | None, opts: WriteOptions, now: datetime.datetime | None = None) -> PromoteResult:
    recorded: list[tuple[PlanItem, ...]] = []

    def change(ws: Workspace) -> Applied:
        dst_env = ws.config.environment(target)
        src, dst = env_images(ws, source), env_images(ws, target)
        if not recorded:
            recorded.append(_plan(ws, src, dst, images, force, min_age, now))
        items = recorded[0]
        for item in items:  # compare-and-set: the target must still hold what the plan saw
            current = dst.images.get(item.image)
            if current != item.target_now:
                raise ConflictError(
                    f"{item.image} changed in {target} since the plan: it was "
                    f"{item.target_now.value if item.target_now else '(none)'}, now "
                    f"{current.value if current else '(none)'}",
                    file=dst.file, key=f"images[name={item.image}]",
                    fix="look at the new state (gitops-tools status) and run the promotion again",
                )
        return plan_images(ws, dst_env.name, [_spec(i.source) for i in items], {}, force, "promote", add=True)

    landed = land(cwd, repo_dir, None, change, opts)
    return PromoteResult(source, target, recorded[0] if recorded else (), landed, opts.dry_run)


def _plan(ws: Workspace, src: EnvImages, dst: EnvImages, images: Sequence[str], force: bool, min_age: str | None,
          now: datetime.datetime | None) -> tuple[PlanItem, ...]:
    config = ws.config
    target_env = config.environment(dst.env)
    nxt = config.next_environment(src.env)
    if not force and config.policies.promote_to_next_only and (nxt is None or nxt.name != dst.env):
        order = " -> ".join(e.name for e in config.environments)
        raise PolicyError(
            f"{src.env} promotes to {nxt.name if nxt else 'nothing (it is the last environment)'}, not {dst.env} "
            f"(order: {order})",
            fix="promote one step at a time, or pass --force",
        )
    unknown = [i for i in images if i not in src.images]
    if unknown:
        raise GitopsError(f"{', '.join(unknown)}: not set in {src.env}", file=src.file,
                          fix=f"images in {src.env}: {', '.join(sorted(src.images)) or '(none)'}")
    names = images or sorted(src.images)
    items = tuple(
        PlanItem(n, dst.images.get(n), src.images[n]) for n in names
        if fields(dst.images.get(n)) != fields(src.images[n])
    )
    previous = config.previous_environment(dst.env)
    if previous is not None and previous.name != src.env:  # from the environment before: nothing to check
        check_from_previous(ws, target_env, [i.source for i in items], dst.file,
                            fix=f"promote {src.env} to {{previous}} first")
    if target_env.protected:
        for item in items:
            policy.check_mutable(config, target_env, item.image, item.source, dst.file)
    # --min-age, else the configured minimum for this target (policies.min_age); "--min-age 0s" waives it
    configured = config.policies.min_age_for(dst.env)
    age = min_age if min_age is not None else configured
    minimum = parse_age(age) if age else datetime.timedelta(0)
    if minimum and items:
        waive = ("promote without --min-age" if min_age is not None else
                 f"pass --min-age 0s to waive policies.min_age.{dst.env} of gitops-tools.yaml")
        check_age(ws, src.env, [(i.image, i.source.value) for i in items], minimum,
                  now or datetime.datetime.now(datetime.timezone.utc), waive)
    return items


class RollbackResult(NamedTuple):
    env: str
    revision: str
    landed: Landed

    def as_dict(self) -> dict[str, object]:
        return {"environment": self.env, "revision": self.revision,
                "images": [u.as_dict() for u in self.landed.applied.updates],
                "files": [e.display for e in self.landed.applied.edits], **self.landed.as_dict()}


def rollback(cwd: Path, repo_dir: Path | None, env_name: str, to: str | None, images: Sequence[str],
             opts: WriteOptions) -> RollbackResult:
    revisions: list[str] = []

    def change(ws: Workspace) -> Applied:
        env = ws.config.environment(env_name)
        assert ws.root is not None
        kfile = find_kustomization(ws.root / env.path, env.path)
        path = ws.display(kfile)
        git = git_of(ws)
        deepen(git)
        if not revisions:
            if to is not None:
                try:
                    revisions.append(git.run("rev-parse", "--verify", "--quiet", f"{to}^{{commit}}").strip())
                except GitopsError:
                    raise GitopsError(f"revision {to!r} does not exist in this repository",
                                      fix="give a commit, branch or tag (git log shows them)") from None
            else:
                last = git.run("log", "-1", "--format=%H", "--", path).strip()
                if not last:
                    raise GitopsError("has no history to roll back to", file=path)
                parent = git.run("rev-parse", "--verify", f"{last}^").strip() if _has_parent(git, last) else ""
                if not parent or not _exists(git, parent, path):
                    raise GitopsError("was created by its first change; there is nothing before it",
                                      file=path, fix="give --to REV")
                revisions.append(parent)
        rev = revisions[0]
        if not _exists(git, rev, path):
            raise GitopsError(f"does not exist at {rev[:12]}", file=path, fix="pick another --to REV")
        old_text = git.run("show", f"{rev}:{path}")
        old = read_env_images(env.name, old_text, f"{path}@{rev[:12]}")
        unknown = [i for i in images if i not in old.images]
        if unknown:
            raise GitopsError(f"{', '.join(unknown)}: not set in {env.name} at {rev[:12]}", file=path)
        names = images or sorted(old.images)
        return plan_images(ws, env.name, [_spec(old.images[n]) for n in names], {}, True, "rollback", add=True)

    landed = land(cwd, repo_dir, None, change, opts)
    return RollbackResult(env_name, revisions[0] if revisions else "", landed)


def _exists(git: Any, rev: str, path: str) -> bool:
    try:
        git.run("cat-file", "-e", f"{rev}:{path}")
    except GitopsError:
        return False
    return True


def _has_parent(git: Any, sha: str) -> bool:
    return len(git.run("rev-list", "--parents", "-n", "1", sha).split()) > 1
