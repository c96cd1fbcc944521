"""``gitops-tools image set``: read the overlay, decide with the pure core, hand the edits to the writer.

The decisions (which fields change, downgrades, policies, the new text) are made by pure functions; this
module reads the files and returns the edits as a semantic change, which :mod:`gitops_tools.commands.writer` writes,
commits and pushes (and applies again on fresh remote state when a push is rejected).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gitops_tools.commands import admission
from gitops_tools.core import policy
from gitops_tools.core.changes import Change, ImageUpdate
from gitops_tools.errors import GitopsError, UsageError
from gitops_tools.files import ensure_inside, find_kustomization, read_text
from gitops_tools.core.helmvalues import field_value, missing_value_error, set_value
from gitops_tools.core.history import LOG_FORMAT, events, parse_log
from gitops_tools.core.kustomize import (
    ImageSpec,
    KustImage,
    desired,
    parse_specs,
    read_kustomization,
    resolve_specs,
    set_images,
)
from gitops_tools.core.policy import Pipeline
from gitops_tools.core.reference import ImageRef
from gitops_tools.core.setters import apply_setters, has_marker, parse_setter
from gitops_tools.commands.workspace import Target, Workspace, resolve_target
from gitops_tools.commands.writer import Applied, FileEdit, Landed, Runtime, WriteOptions, land


class SetResult(NamedTuple):
    target: Target
    landed: Landed
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

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target.scope,
            "environment": self.target.env.name if self.target.env else None,
            "directory": self.target.display,
            "dry_run": self.dry_run,
            "changed": bool(self.edits),
            "commit": self.commit,
            "pushed": self.landed.pushed,
            "merge_request_branch": self.landed.merge_request,
            "attempts": self.landed.attempts,
            "files": [e.display for e in self.edits],
            "images": [u.as_dict() for u in self.updates],
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
    targets: list[Target] = []

    def change(ws: Workspace) -> Applied:
        applied = plan(ws, target_arg, specs, setters, opts.allow_downgrade, add=opts.add, running=running, now=now)
        targets.append(applied.detail)
        return applied

    landed = land(cwd, repo, target_arg, change, opts.write, Runtime(env))
    return SetResult(targets[-1], landed, opts.write.dry_run)


def plan(ws: Workspace, target_arg: str, specs: Sequence[ImageSpec], setters: dict[str, ImageRef],
         allow_downgrade_flag: bool, action: str = "set-image", *, add: bool = False,
         running: Pipeline | None = None, now: datetime.datetime | None = None) -> Applied:
    """The semantic change "set these images in TARGET", as edits of the tree ``ws`` holds (nothing written).

    ``action`` is ``set-image`` for ``image set``; ``promote`` and ``rollback`` check their own policies and
    pass ``add`` (an image the target does not have yet is added)."""
    target = resolve_target(ws, target_arg)
    # Nothing is read from or written to a place outside the repository (or, for a plain directory, outside
    # TARGET), however the repository was found: a symbolic link would leak a file into a commit.
    boundary = ws.root if ws.root is not None else target.directory
    kfile = find_kustomization(target.directory, target.display)
    kdisplay = ws.display(kfile)
    ensure_inside(boundary, kfile, kdisplay)
    before = read_text(kfile, kdisplay)
    kust = read_kustomization(before, kdisplay)
    # In an environment of the configuration, a name matches an entry by name or by newName (the path a CI job
    # knows), and a name that matches nothing is refused unless --add; elsewhere kustomize's rule holds.
    specs = resolve_specs(kust, specs, by_new_name=target.env is not None, add=add or target.env is None,
                          scope=target.scope)

    allow_downgrade = allow_downgrade_flag or ws.config.policies.allow_downgrade
    updates: list[ImageUpdate] = []
    wanted: list[KustImage] = []  # every entry this command sets (values keys follow all of them)
    changed: list[KustImage] = []  # the entries whose kustomization fields change
    for spec in specs:
        found = kust.find(spec.name)
        current = found[0] if found else None
        target_entry = desired(current, spec)
        old_value = current.value if current else None
        note = None
        if current != target_entry and current is not None and not allow_downgrade:
            if action == "set-image":
                ordering = _order(ws, target, kdisplay, current, target_entry, running)
                refusal, note = ordering.downgrade, ordering.undecided
            else:  # promote and rollback are deliberate: semver alone guards them
                refusal = policy.downgrade(current.new_tag, target_entry.new_tag)
            if refusal:
                message = (
                    f"{kdisplay}: images[name={spec.name}].newTag: {refusal}; skipped"
                    " (pass --allow-downgrade to roll back on purpose)"
                )
                updates.append(ImageUpdate(spec.name, old_value, target_entry.value, "skipped-downgrade", (), message))
                continue
        if target.env is not None and current != target_entry:
            policy.check_mutable(ws.config, target.env, spec.name, target_entry, kdisplay)
        wanted.append(target_entry)
        if current != target_entry:
            changed.append(target_entry)
        status = "unchanged" if current == target_entry else "added" if current is None else "updated"
        if note:
            note = f"{kdisplay}: images[name={spec.name}].newTag: {note}; set anyway"
        updates.append(ImageUpdate(spec.name, old_value, target_entry.value, status, (), note))
    if action == "set-image" and target.env is not None and changed:
        _admit(ws, target.env, changed, kdisplay, now or datetime.datetime.now(datetime.timezone.utc))

    texts: dict[Path, tuple[str, str]] = {}  # path -> (display, current text)
    changes_by_image: dict[str, list[Change]] = {}
    if changed:
        after, changes = set_images(kust, changed)
        texts[kfile] = (kdisplay, after)
        for c in changes:
            changes_by_image.setdefault(_image_of(c.path), []).append(c)
    if wanted and target.env is not None and ws.root is not None:
        # Values keys follow every image set, so `image set` also repairs a values file that drifted.
        _move_values(ws, target, boundary, wanted, texts, changes_by_image)
    if setters:
        _apply_setters(ws, target, boundary, setters, texts, changes_by_image, updates)

    updates = [_with_changes(u, changes_by_image.get(u.image, ())) for u in updates]
    originals = {p: (kust.text if p == kfile else read_text(p, d)) for p, (d, _) in texts.items()}
    edits = tuple(
        FileEdit(p, d, originals[p], t) for p, (d, t) in sorted(texts.items()) if t != originals[p]
    )
    return Applied(edits, tuple(updates), target.scope, target.env, action, target, (target.display,))


def _with_changes(update: ImageUpdate, changes: Sequence[Change]) -> ImageUpdate:
    if not changes or update.status == "skipped-downgrade":
        return update
    status = "updated" if update.status == "unchanged" else update.status  # only a values key moved
    return update._replace(changes=tuple(changes), status=status)


def _image_of(path: str) -> str:
    # "images[name=aegis/api].newTag" -> "aegis/api"
    return path.split("[name=", 1)[1].split("]", 1)[0] if path.startswith("images[name=") else path


def _admit(ws: Workspace, env: Any, entries: Sequence[KustImage], file: str, now: datetime.datetime) -> None:
    """The policies of the environment that need more than this file: ``only_from_previous`` and ``min_age``
    (the version must have run in the environment before this one for that long)."""
    admission.check_from_previous(ws, env, entries, file, fix="set it in {previous} first, then promote it "
                                  "(policy only_from_previous in gitops-tools.yaml)")
    configured = ws.config.policies.min_age_for(env.name)
    previous = ws.config.previous_environment(env.name)
    if configured and previous is not None:
        admission.check_age(ws, previous.name, [(e.name, e.value) for e in entries], admission.parse_age(configured),
                            now, f"promote it once it has run in {previous.name} long enough "
                                 f"(policies.min_age.{env.name} in gitops-tools.yaml)")


def _order(ws: Workspace, target: Target, file: str, current: KustImage, new: KustImage,
           running: Pipeline | None) -> policy.Ordering:
    """Is ``new`` older than ``current``? Semver, else the pipelines (the one that set ``current``, per
    history, against the one running now); looks at history only when semver cannot decide."""
    if not policy.needs_pipelines(current.new_tag, new.new_tag) or running is None:
        return policy.order(current.new_tag, new.new_tag, None, running)
    setter, why = _pipeline_that_set(ws, target, file, current)
    return policy.order(current.new_tag, new.new_tag, setter, running, why)


_DEEPEN = (50, 500)  # a shallow clone (--repo-url) fetches this many more commits at a time, then gives up


def _pipeline_that_set(ws: Workspace, target: Target, file: str, current: KustImage) -> tuple[Pipeline | None, str]:
    """The pipeline recorded (``Gitops-Pipeline-Id``/``-Iid`` trailers) by the newest commit that changed
    ``current``'s image in TARGET, if that commit set it to its current value; else why it is not known."""
    git = ws.git
    if git is None:
        return None, "this tree is not a git checkout, so no history says which pipeline set it"
    shallow = git.run("rev-parse", "--is-shallow-repository").strip() == "true"
    steps = [0, *(_DEEPEN if shallow else ())]
    for depth in steps:
        if depth:
            try:
                git.network_step("fetch", "--quiet", f"--deepen={depth}", "origin")
            except GitopsError:
                break
        commits = parse_log(git.run("log", f"--format={LOG_FORMAT}", "--name-only", "--", file))
        for ev in events(commits, {target.scope: target.display}, target.scope):
            if ev.action == "manual":
                commit = next(c for c in commits if c.sha == ev.commit)
                if shallow and not commit.parents:
                    break  # the edge of a shallow clone, not a change by hand: look further back
                return None, f"it was last changed without gitops-tools (commit {ev.commit[:12]})"
            if ev.image != current.name:
                continue
            if ev.new != current.value:
                return None, f"history's last change of it (commit {ev.commit[:12]}) does not match the file"
            if ev.pipeline_id is None and ev.pipeline_iid is None:
                return None, f"the commit that set it ({ev.commit[:12]}) records no pipeline"
            return policy.Pipeline(_int(ev.pipeline_id), _int(ev.pipeline_iid), ev.source_project), ""
    return None, "no commit in history says which pipeline set it"


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _move_values(
    ws: Workspace, target: Target, boundary: Path, wanted: Sequence[KustImage], texts: dict[Path, tuple[str, str]],
    changes_by_image: dict[str, list[Change]],
) -> None:
    assert target.env is not None and ws.root is not None
    for entry in wanted:
        for i, loc in enumerate(ws.config.image_options(entry.name).values):
            path = target.directory / loc.file
            display = ws.display(path)
            ensure_inside(boundary, path, display)
            value = field_value(loc.field, entry)
            if value is None:
                raise missing_value_error(entry.name, loc.field, display, loc.key)
            current = texts[path][1] if path in texts else read_text(path, display)
            after, change = set_value(current, display, loc.key, value)
            if change is not None:
                texts[path] = (display, after)
                changes_by_image.setdefault(entry.name, []).append(change)


def _apply_setters(
    ws: Workspace, target: Target, boundary: Path, setters: dict, texts: dict[Path, tuple[str, str]],  # type: ignore[type-arg]
    changes_by_image: dict[str, list[Change]], updates: list[ImageUpdate],
) -> None:
    for path in sorted(_yaml_files(target.directory)):
        display = ws.display(path)
        current = texts[path][1] if path in texts else read_text(path, display)
        if not has_marker(current):
            continue
        ensure_inside(boundary, path, display)
        after, changes = apply_setters(current, display, setters)
        if changes:
            texts[path] = (display, after)
            for policy_name, change in changes:
                changes_by_image.setdefault(f"setter {policy_name}", []).append(change)
    for name, found in sorted(changes_by_image.items()):
        if name.startswith("setter "):
            updates.append(ImageUpdate(name, None, None, "updated", tuple(found)))


def _yaml_files(directory: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith((".yaml", ".yml")) or name == "Kustomization":
                out.append(Path(dirpath) / name)
    return out
