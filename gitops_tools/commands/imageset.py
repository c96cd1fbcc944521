"""``image set``: read the overlay once, plan with the pure core, hand the plan to the writer.

The decisions (which entry a name means, which fields change, downgrades, policies, the new texts) are made by
:mod:`gitops_tools.core.imageplan`; this module reads what they need (the kustomization, the values files that
follow an image, the files with setter markers, and only where a decision needs it the environment before a
protected one and the history of a tag semver cannot order) and returns the plan, which
:mod:`gitops_tools.commands.writer` writes, commits and pushes, and plans again on fresh remote state when a
push is rejected.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.commands.reading import env_images, history
from gitops_tools.commands.workspace import Target, Workspace, resolve_target
from gitops_tools.commands.writer import Applied, FileEdit, Folding, Landed, Runtime, WriteOptions, land
from gitops_tools.core import fold, imageplan, policy
from gitops_tools.core.changes import Change, ImageUpdate
from gitops_tools.core.kustomize import ImageSpec, Kustomization, parse_specs, read_kustomization
from gitops_tools.core.policy import Pipeline
from gitops_tools.core.records import number
from gitops_tools.core.reference import ImageRef
from gitops_tools.core.setters import has_marker, parse_setter
from gitops_tools.errors import GitopsError, UsageError
from gitops_tools.files import ensure_inside, find_kustomization, read_text

if TYPE_CHECKING:
    from gitops_tools.commands.notifying import Notification


class ImageSetPlan(NamedTuple):
    """One attempt's plan: where, and the edits it wants."""

    target: Target
    applied: Applied


class SetResult(NamedTuple):
    target: Target
    landed: Landed[ImageSetPlan]
    dry_run: bool

    @property
    def updates(self) -> tuple[ImageUpdate, ...]:
        return self.landed.applied.updates

    @property
    def edits(self) -> tuple[FileEdit, ...]:
        return self.landed.applied.edits

    @property
    def commit(self) -> str | None:
        return self.landed.commit

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for u in self.updates for c in u.changes)

    @property
    def notifications(self) -> tuple[Notification, ...]:
        """What became of each notification target (none unless the change was pushed)."""
        return self.landed.notifications

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target.scope,
            "environment": self.target.env.name if self.target.env else None,
            "directory": self.target.display,
            "dry_run": self.dry_run,
            "changed": bool(self.edits) and (self.landed.fold is None or self.landed.fold.status == "landed"),
            "commit": self.commit,
            "pushed": self.landed.pushed,
            "merge_request_branch": self.landed.merge_request,
            "attempts": self.landed.attempts,
            "files": [e.display for e in self.edits],
            "images": [u.as_dict() for u in self.updates],
            **self.landed.fold_dict(),
            **self.landed.notifications_dict(),
        }


class SetOptions(NamedTuple):
    allow_downgrade: bool = False
    setters: tuple[str, ...] = ()
    write: WriteOptions = WriteOptions()
    add: bool = False  # in an environment of the configuration, a name it does not have is added, not refused
    env: Mapping[str, str] | None = None  # the CI variables (default: the process environment)
    now: datetime.datetime | None = None  # for min_age (default: the current time)


def image_set(cwd: Path, repo: Path | None, target_arg: str, spec_args: Sequence[str], opts: SetOptions) -> SetResult:
    if not spec_args and not opts.setters:
        raise UsageError("give at least one SPEC (e.g. 'aegis/api=*:1.4.2') or --setter",
                         fix="see gitops-tools image set --help")
    specs = parse_specs(spec_args)  # bad input is refused before anything is cloned or read
    setters = {s.policy: s.ref for s in (parse_setter(t) for t in opts.setters)}
    env = os.environ if opts.env is None else opts.env
    running = policy.running_pipeline(env)
    now = opts.now or datetime.datetime.now(datetime.timezone.utc)

    def attempt(ws: Workspace, previous: ImageSetPlan | None) -> ImageSetPlan:
        return plan_images(ws, read_target(ws, target_arg), specs, setters, opts.allow_downgrade, "set-image",
                           add=opts.add, running=running, now=now)

    def plan_for(change: fold.PendingChange, ws: Workspace) -> ImageSetPlan:
        """Another job's change (or this one's), as that job would have planned it on this tree."""
        theirs = {s.policy: s.ref for s in (parse_setter(t) for t in change.setters)}
        return plan_images(ws, read_target(ws, change.target), parse_specs(change.specs), theirs,
                           change.allow_downgrade, "set-image", add=change.add,
                           running=policy.running_pipeline(change.environ), now=now)

    folding = Folding(fold.PendingChange("", target_arg, tuple(spec_args), tuple(opts.setters), opts.add,
                                         opts.allow_downgrade, fold.ci_environment(env)), plan_for)
    landed = land(cwd, repo, target_arg, attempt, opts.write, Runtime(env), folding)
    return SetResult(landed.plan.target, landed, opts.write.dry_run)


class TargetFiles(NamedTuple):
    """TARGET's kustomization, read and parsed once per attempt."""

    target: Target
    boundary: Path  # nothing is read or written outside it: the repository (for a plain directory, TARGET)
    path: Path
    kustomization: Kustomization

    @property
    def display(self) -> str:
        return self.kustomization.file


def read_target(ws: Workspace, target_arg: str) -> TargetFiles:
    target = resolve_target(ws, target_arg)
    # Nothing is read from or written to a place outside the repository (or, for a plain directory, outside
    # TARGET), however the repository was found: a symbolic link would leak a file into a commit.
    boundary = ws.root if ws.root is not None else target.directory
    kfile = find_kustomization(target.directory, target.display)
    kdisplay = ws.display(kfile)
    ensure_inside(boundary, kfile, kdisplay)
    return TargetFiles(target, boundary, kfile, read_kustomization(read_text(kfile, kdisplay), kdisplay))


def plan_images(ws: Workspace, files: TargetFiles, specs: Sequence[ImageSpec], setters: Mapping[str, ImageRef],
                allow_downgrade: bool, action: imageplan.Action, *, add: bool = False,
                running: Pipeline | None = None, now: datetime.datetime | None = None) -> ImageSetPlan:
    """Plan "set these images in TARGET" from its files (nothing written).

    ``promote`` and ``rollback`` check their own policies and pass ``add`` (an image the target does not
    have yet is added)."""
    target, boundary = files.target, files.boundary
    res = imageplan.resolve(files.kustomization, specs, configured=target.env is not None, add=add,
                            scope=target.scope)
    paths = {files.display: files.path}
    values = _read_values(ws, target, boundary, [w.desired.name for w in res.wanted], paths)
    marked = _read_marked(ws, target, boundary, paths) if setters else {}
    facts = _facts(ws, target, files.display, res, action, running, now)
    where = imageplan.Target(target.scope, target.display, target.env)
    planned = imageplan.plan_set(res, facts, config=ws.config, target=where, action=action,
                                 allow_downgrade=allow_downgrade, values=values, marked=marked, setters=setters)
    edits = tuple(FileEdit(paths[d], d, before, after) for d, (before, after) in planned.texts.items())
    return ImageSetPlan(target, Applied(edits, planned.updates, target.scope, target.env, action, (target.display,)))


def _read_values(ws: Workspace, target: Target, boundary: Path, names: Sequence[str],
                 paths: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """The values files configured to follow these images in TARGET's environment, by their configured name."""
    out: dict[str, tuple[str, str]] = {}
    if target.env is None:
        return out
    for name in names:
        for loc in ws.config.image_options(name).values:
            if loc.file in out:
                continue
            path = target.directory / loc.file
            display = ws.display(path)
            ensure_inside(boundary, path, display)
            out[loc.file] = (display, read_text(path, display))
            paths[display] = path
    return out


def _read_marked(ws: Workspace, target: Target, boundary: Path, paths: dict[str, Path]) -> dict[str, str]:
    """The YAML files under TARGET that carry Flux setter markers, by display path."""
    out: dict[str, str] = {}
    for path in sorted(_yaml_files(target.directory)):
        display = ws.display(path)
        text = read_text(path, display)
        if has_marker(text):
            ensure_inside(boundary, path, display)
            out[display] = text
            paths[display] = path
    return out


def _yaml_files(directory: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith((".yaml", ".yml")) or name == "Kustomization":
                out.append(Path(dirpath) / name)
    return out


def _facts(ws: Workspace, target: Target, kdisplay: str, res: imageplan.Resolution, action: imageplan.Action,
           running: Pipeline | None, now: datetime.datetime | None) -> imageplan.Facts:
    """What the decisions need besides TARGET's files, read only where they need it."""
    changing = any(w.current != w.desired for w in res.wanted)
    if action != "set-image" or target.env is None or not changing:
        return imageplan.Facts(running=running, now=now)
    setters = {w.spec.name: _pipeline_that_set(ws, target, kdisplay, w.spec.name, w.current.value)
               for w in imageplan.needs_pipelines(res) if w.current is not None and running is not None}
    config, env = ws.config, target.env
    previous = config.previous_environment(env.name)
    facts = imageplan.Facts(running=running, setters=setters, now=now)
    if previous is None or ws.root is None:
        return facts
    if env.protected and config.policies.only_from_previous:
        facts = facts._replace(previous=env_images(ws, previous.name))
    if config.policies.min_age_for(env.name) and ws.git is not None:
        facts = facts._replace(previous_history=history(ws, [previous.path]), previous_path=previous.path)
    return facts


_DEEPEN = (50, 500)  # a shallow clone (--repo-url) fetches this many more commits at a time, then gives up


def _pipeline_that_set(ws: Workspace, target: Target, file: str, image: str,
                       value: str) -> tuple[Pipeline | None, str]:
    """The pipeline recorded (``Gitops-Pipeline-Id``/``-Iid`` trailers) by the newest commit that changed
    ``image`` in TARGET, if that commit set it to ``value``; else why it is not known."""
    from gitops_tools.core.history import who_set  # the trailers' reader: only this look-up needs it

    git = ws.git
    if git is None:
        return None, "this tree is not a git checkout, so no history says which pipeline set it"
    shallow = git.is_shallow()
    for depth in (0, *(_DEEPEN if shallow else ())):
        if depth:
            try:
                git.network_step("fetch", "--quiet", f"--deepen={depth}", "origin")
            except GitopsError:
                break
        found = who_set(git.log(paths=[file]), target.scope, target.display, image, value, shallow)
        if isinstance(found, str):
            return None, found
        if found is not None:
            if found.pipeline_id is None and found.pipeline_iid is None:
                return None, f"the commit that set it ({found.commit[:12]}) records no pipeline"
            return Pipeline(number(found.pipeline_id), number(found.pipeline_iid), found.source_project), ""
    return None, "no commit in history says which pipeline set it"


