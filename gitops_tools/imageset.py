"""``gitops-tools image set``: read the overlay, decide with the pure core, write, commit.

The decisions (which fields change, downgrades, policies, the new text) are made by pure functions; this
module only reads the files, hands them over, and writes and commits the result when the bytes changed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from gitops_tools import policy
from gitops_tools.changes import Change, ImageUpdate, commit_message
from gitops_tools.errors import GitopsError, UsageError
from gitops_tools.files import find_kustomization, is_inside, read_text, write_all
from gitops_tools.helmvalues import field_value, missing_value_error, set_value
from gitops_tools.kustomize import KustImage, desired, parse_specs, read_kustomization, set_images
from gitops_tools.setters import apply_setters, has_marker, parse_setter
from gitops_tools.workspace import Target, Workspace, open_workspace, resolve_target


class FileEdit(NamedTuple):
    path: Path
    display: str
    before: str
    after: str


class SetResult(NamedTuple):
    target: Target
    updates: tuple[ImageUpdate, ...]
    edits: tuple[FileEdit, ...]
    commit: str | None
    dry_run: bool

    @property
    def changes(self) -> tuple[Change, ...]:
        out: list[Change] = []
        for u in self.updates:
            out.extend(u.changes)
        return tuple(out)

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target.scope,
            "environment": self.target.env.name if self.target.env else None,
            "directory": self.target.display,
            "dry_run": self.dry_run,
            "changed": bool(self.edits),
            "commit": self.commit,
            "files": [e.display for e in self.edits],
            "images": [u.as_dict() for u in self.updates],
        }


class SetOptions(NamedTuple):
    dry_run: bool = False
    commit: bool = True
    allow_downgrade: bool = False
    setters: tuple[str, ...] = ()
    verbose: bool = False


def image_set(cwd: Path, repo: Path | None, target_arg: str, spec_args: Sequence[str], opts: SetOptions) -> SetResult:
    if not spec_args and not opts.setters:
        raise UsageError("give at least one SPEC (e.g. aegis/api:1.4.2) or --setter", fix="see gitops-tools image set --help")
    specs = parse_specs(spec_args)
    setters = {s.policy: s.ref for s in (parse_setter(t) for t in opts.setters)}
    ws = open_workspace(cwd, repo, target_arg)
    target = resolve_target(ws, target_arg)
    kfile = find_kustomization(target.directory, target.display)
    kdisplay = ws.display(kfile)
    _check_inside(ws, kfile, kdisplay)
    before = read_text(kfile, kdisplay)
    kust = read_kustomization(before, kdisplay)

    allow_downgrade = opts.allow_downgrade or ws.config.policies.allow_downgrade
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
    result = SetResult(target, tuple(updates), edits, None, opts.dry_run)
    if opts.dry_run or not edits:
        return result
    git = None
    if opts.commit and ws.in_checkout and ws.root is not None:
        from gitops_tools.gitrepo import GitRepo  # GitPython only when there is something to commit

        git = GitRepo(ws.root, verbose=opts.verbose, secrets=_secrets())
        dirty = git.dirty_paths([e.display for e in edits])
        if dirty:
            raise GitopsError(
                f"uncommitted changes in {', '.join(dirty)}",
                fix="commit or discard them first (git diff shows them), or pass --no-commit",
            )
    if git is None:
        write_all({e.path: e.after for e in edits})
        return result
    message = commit_message(target.scope, "set-image", result.updates, skip_ci=ws.config.commit.skip_ci)
    author = None
    if ws.config.commit.author_name and ws.config.commit.author_email:
        author = f"{ws.config.commit.author_name} <{ws.config.commit.author_email}>"
    head = git.head()
    write_all({e.path: e.after for e in edits})
    try:
        sha = git.commit_paths([e.display for e in edits], message, author)
    except BaseException:
        # A rejected or interrupted commit must not leave edited files behind: put the old bytes back,
        # unless the commit did land before the interruption.
        if git.head() == head:
            write_all({e.path: e.before for e in edits})
        raise
    return result._replace(commit=sha)


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


def _secrets() -> tuple[str, ...]:
    return tuple(v for k in ("GITOPS_TOKEN", "CI_JOB_TOKEN") if (v := os.environ.get(k)))
