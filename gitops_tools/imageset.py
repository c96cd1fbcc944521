"""``gitops-tools image set``: read the overlay, decide with the pure core, hand the edits to the writer.

The decisions (which fields change, downgrades, policies, the new text) are made by pure functions; this
module reads the files and returns the edits as a semantic change, which :mod:`gitops_tools.writer` writes,
commits and pushes (and applies again on fresh remote state when a push is rejected).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from gitops_tools import policy
from gitops_tools.changes import Change, ImageUpdate
from gitops_tools.errors import GitopsError, UsageError
from gitops_tools.files import find_kustomization, is_inside, read_text
from gitops_tools.helmvalues import field_value, missing_value_error, set_value
from gitops_tools.kustomize import ImageSpec, KustImage, desired, parse_specs, read_kustomization, set_images
from gitops_tools.reference import ImageRef
from gitops_tools.setters import apply_setters, has_marker, parse_setter
from gitops_tools.workspace import Target, Workspace, resolve_target
from gitops_tools.writer import Applied, FileEdit, Landed, WriteOptions, land


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


def image_set(cwd: Path, repo: Path | None, target_arg: str, spec_args: Sequence[str], opts: SetOptions) -> SetResult:
    if not spec_args and not opts.setters:
        raise UsageError("give at least one SPEC (e.g. aegis/api:1.4.2) or --setter", fix="see gitops-tools image set --help")
    specs = parse_specs(spec_args)  # bad input is refused before anything is cloned or read
    setters = {s.policy: s.ref for s in (parse_setter(t) for t in opts.setters)}
    targets: list[Target] = []

    def change(ws: Workspace) -> Applied:
        applied = plan(ws, target_arg, specs, setters, opts.allow_downgrade)
        targets.append(applied.detail)
        return applied

    landed = land(cwd, repo, target_arg, change, opts.write)
    return SetResult(targets[-1], landed, opts.write.dry_run)


def plan(ws: Workspace, target_arg: str, specs: Sequence[ImageSpec], setters: dict[str, ImageRef],
         allow_downgrade_flag: bool, action: str = "set-image") -> Applied:
    """The semantic change "set these images in TARGET", as edits of the tree ``ws`` holds (nothing written)."""
    target = resolve_target(ws, target_arg)
    kfile = find_kustomization(target.directory, target.display)
    kdisplay = ws.display(kfile)
    _check_inside(ws, kfile, kdisplay)
    before = read_text(kfile, kdisplay)
    kust = read_kustomization(before, kdisplay)

    allow_downgrade = allow_downgrade_flag or ws.config.policies.allow_downgrade
    updates: list[ImageUpdate] = []
    wanted: list[KustImage] = []  # every entry this command sets (values keys follow all of them)
    changed: list[KustImage] = []  # the entries whose kustomization fields change
    for spec in specs:
        found = kust.find(spec.name)
        current = found[0] if found else None
        target_entry = desired(current, spec)
        old_value = current.value if current else None
        if current != target_entry and current is not None and not allow_downgrade:
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
        updates.append(ImageUpdate(spec.name, old_value, target_entry.value, status))

    texts: dict[Path, tuple[str, str]] = {}  # path -> (display, current text)
    changes_by_image: dict[str, list[Change]] = {}
    if changed:
        after, changes = set_images(kust, changed)
        texts[kfile] = (kdisplay, after)
        for c in changes:
            changes_by_image.setdefault(_image_of(c.path), []).append(c)
    if wanted and target.env is not None and ws.root is not None:
        # Values keys follow every image set, so `image set` also repairs a values file that drifted.
        _move_values(ws, target, wanted, texts, changes_by_image)
    if setters:
        _apply_setters(ws, target, setters, texts, changes_by_image, updates)

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


def _check_inside(ws: Workspace, path: Path, display: str) -> None:
    if ws.root is not None and ws.root_given and not is_inside(ws.root, path):
        raise GitopsError(
            "resolves (through a symbolic link) to a file outside the repository",
            file=display, fix="replace the link with the file itself",
        )


def _move_values(
    ws: Workspace, target: Target, wanted: Sequence[KustImage], texts: dict[Path, tuple[str, str]],
    changes_by_image: dict[str, list[Change]],
) -> None:
    assert target.env is not None and ws.root is not None
    for entry in wanted:
        for i, loc in enumerate(ws.config.image_options(entry.name).values):
            path = target.directory / loc.file
            display = ws.display(path)
            _check_inside(ws, path, display)
            value = field_value(loc.field, entry)
            if value is None:
                raise missing_value_error(entry.name, loc.field, display, loc.key)
            current = texts[path][1] if path in texts else read_text(path, display)
            after, change = set_value(current, display, loc.key, value)
            if change is not None:
                texts[path] = (display, after)
                changes_by_image.setdefault(entry.name, []).append(change)


def _apply_setters(
    ws: Workspace, target: Target, setters: dict, texts: dict[Path, tuple[str, str]],  # type: ignore[type-arg]
    changes_by_image: dict[str, list[Change]], updates: list[ImageUpdate],
) -> None:
    for path in sorted(_yaml_files(target.directory)):
        display = ws.display(path)
        current = texts[path][1] if path in texts else read_text(path, display)
        if not has_marker(current):
            continue
        _check_inside(ws, path, display)
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
