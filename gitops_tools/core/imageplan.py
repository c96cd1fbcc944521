"""Planning "set these images in TARGET": which entries change, what every file's new text is, and why.

In two steps, so that the edge reads each thing once and only what is needed: :func:`resolve` parses the
kustomization and says which entry each SPEC means and what it becomes; the edge then reads the history it needs
(the pipeline that set a tag semver cannot order, the environment before a protected one) into
:class:`Facts`; :func:`plan_set` decides (downgrades, policies) and returns the new texts.

Pure: texts and values in, texts and values out.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from gitops_tools.config import Config, Environment
from gitops_tools.core import admission, policy
from gitops_tools.core.changes import Change, ImageUpdate, Status
from gitops_tools.core.envstate import EnvImages
from gitops_tools.core.helmvalues import field_value, missing_value_error, set_value
from gitops_tools.core.kustomize import (
    ImageSpec,
    KustImage,
    Kustomization,
    desired,
    resolve_specs,
    set_images,
)
from gitops_tools.core.policy import Pipeline
from gitops_tools.core.records import CommitRecord
from gitops_tools.core.reference import ImageRef
from gitops_tools.core.setters import apply_setters

Action = Literal["set-image", "promote", "rollback"]


class Wanted(NamedTuple):
    """One SPEC, resolved: the entry it means as the file holds it (None: not there) and as it will be."""

    spec: ImageSpec
    current: KustImage | None
    desired: KustImage


class Resolution(NamedTuple):
    kustomization: Kustomization
    wanted: tuple[Wanted, ...]


def resolve(kust: Kustomization, specs: Sequence[ImageSpec], *, configured: bool, add: bool,
            scope: str) -> Resolution:
    """Resolve every SPEC against the (parsed) kustomization: by name, or in an environment of the
    configuration by newName; a name that matches nothing needs ``add`` there."""
    resolved = resolve_specs(kust, specs, by_new_name=configured, add=add or not configured, scope=scope)
    wanted = []
    for spec in resolved:
        found = kust.find(spec.name)
        current = found[0] if found else None
        wanted.append(Wanted(spec, current, desired(current, spec)))
    return Resolution(kust, tuple(wanted))


def needs_pipelines(res: Resolution) -> tuple[Wanted, ...]:
    """The entries whose new tag semver cannot order against the current one: history must say which
    pipeline set the current tag."""
    return tuple(w for w in res.wanted if w.current is not None and w.current != w.desired
                 and policy.needs_pipelines(w.current.new_tag, w.desired.new_tag))


class Facts(NamedTuple):
    """What the edge read besides the target's files, for the decisions that need it."""

    running: Pipeline | None = None  # the pipeline of this run (CI_PIPELINE_ID…)
    setters: Mapping[str, tuple[Pipeline | None, str]] = {}  # image -> the pipeline that set it, or why unknown
    previous: EnvImages | None = None  # the environment before a protected target (only_from_previous)
    previous_history: Sequence[CommitRecord] | None = None  # its history (min_age)
    previous_path: str = ""
    now: datetime.datetime | None = None


class Target(NamedTuple):
    """Where the images are set: the environment (None for an overlay outside the configuration)."""

    scope: str  # environment name, or the overlay directory, for messages and commit subjects
    display: str  # repository-relative path of the directory
    env: Environment | None


class SetPlan(NamedTuple):
    """The new text of every file that changes (display path -> (before, after)) and each image's outcome."""

    texts: Mapping[str, tuple[str, str]]
    updates: tuple[ImageUpdate, ...]


def plan_set(res: Resolution, facts: Facts, *, config: Config, target: Target, action: Action,
             allow_downgrade: bool, values: Mapping[str, tuple[str, str]] = {},
             marked: Mapping[str, str] = {}, setters: Mapping[str, ImageRef] = {}) -> SetPlan:
    """Decide and edit. ``values`` maps each configured values file (as written in the configuration, relative
    to the environment's directory) to (display path, text); ``marked`` holds the texts of the files under
    TARGET that carry Flux setter markers, by display path."""
    kfile = res.kustomization.file
    allow_downgrade = allow_downgrade or config.policies.allow_downgrade
    updates: list[ImageUpdate] = []
    wanted: list[KustImage] = []  # every entry this command sets (values keys follow all of them)
    changed: list[KustImage] = []  # the entries whose kustomization fields change
    for w in res.wanted:
        name, current, target_entry = w.spec.name, w.current, w.desired
        old_value = current.value if current else None
        note = None
        if current != target_entry and current is not None and not allow_downgrade:
            if action == "set-image":
                setter, why = facts.setters.get(name, (None, "history does not say which pipeline set it"))
                ordering = policy.order(current.new_tag, target_entry.new_tag, setter, facts.running, why)
                refusal, note = ordering.downgrade, ordering.undecided
            else:  # promote and rollback are deliberate: semver alone guards them
                refusal = policy.downgrade(current.new_tag, target_entry.new_tag)
            if refusal:
                message = (f"{kfile}: images[name={name}].newTag: {refusal}; skipped"
                           " (pass --allow-downgrade to roll back on purpose)")
                updates.append(ImageUpdate(name, old_value, target_entry.value, "skipped-downgrade", (), message))
                continue
        if target.env is not None and current != target_entry:
            policy.check_mutable(config, target.env, name, target_entry, kfile)
            policy.check_digest(config, target.env, name, target_entry, kfile)
        wanted.append(target_entry)
        if current != target_entry:
            changed.append(target_entry)
        status: Status = "unchanged" if current == target_entry else "added" if current is None else "updated"
        if note:
            note = f"{kfile}: images[name={name}].newTag: {note}; set anyway"
        updates.append(ImageUpdate(name, old_value, target_entry.value, status, (), note))
    if action == "set-image" and target.env is not None and changed:
        _admit(config, target.env, changed, kfile, facts)

    texts: dict[str, tuple[str, str]] = {}  # display -> (before, after)
    changes_by_image: dict[str, list[Change]] = {}
    if changed:
        after, changes = set_images(res.kustomization, changed)
        texts[kfile] = (res.kustomization.text, after)
        for c in changes:
            changes_by_image.setdefault(_image_of(c.path), []).append(c)
    if wanted and target.env is not None:
        # Values keys follow every image set, so `image set` also repairs a values file that drifted.
        _move_values(config, wanted, values, texts, changes_by_image)
    if setters:
        for display in sorted(marked):
            before = texts[display][1] if display in texts else marked[display]
            after, found = apply_setters(before, display, setters)
            if found:
                texts[display] = (texts.get(display, (marked[display], ""))[0], after)
                for policy_name, change in found:
                    changes_by_image.setdefault(f"setter {policy_name}", []).append(change)
        for name, found_changes in sorted(changes_by_image.items()):
            if name.startswith("setter "):
                updates.append(ImageUpdate(name, None, None, "updated", tuple(found_changes)))
    final = tuple(_with_changes(u, changes_by_image.get(u.image, ())) for u in updates)
    return SetPlan({d: t for d, t in sorted(texts.items()) if t[0] != t[1]}, final)


def _admit(config: Config, env: Environment, entries: Sequence[KustImage], file: str, facts: Facts) -> None:
    """The policies of a protected environment that need more than this file."""
    previous = config.previous_environment(env.name)
    if previous is None:
        return
    if env.protected and config.policies.only_from_previous and facts.previous is not None:
        admission.check_from_previous(env, previous.name, facts.previous.images, entries, file,
                                      fix="set it in {previous} first, then promote it "
                                          "(policy only_from_previous in gitops-tools.yaml)")
    configured = config.policies.min_age_for(env.name)
    if configured and facts.previous_history is not None:
        admission.check_age(facts.previous_history, previous.name, facts.previous_path,
                            [(e.name, e.value) for e in entries], admission.parse_age(configured),
                            facts.now or datetime.datetime.now(datetime.timezone.utc),
                            f"promote it once it has run in {previous.name} long enough "
                            f"(policies.min_age.{env.name} in gitops-tools.yaml)")


def _move_values(config: Config, wanted: Sequence[KustImage], values: Mapping[str, tuple[str, str]],
                 texts: dict[str, tuple[str, str]], changes_by_image: dict[str, list[Change]]) -> None:
    for entry in wanted:
        for loc in config.image_options(entry.name).values:
            display, original = values[loc.file]
            value = field_value(loc.field, entry)
            if value is None:
                raise missing_value_error(entry.name, loc.field, display, loc.key)
            current = texts[display][1] if display in texts else original
            after, change = set_value(current, display, loc.key, value)
            if change is not None:
                texts[display] = (original, after)
                changes_by_image.setdefault(entry.name, []).append(change)


def _with_changes(update: ImageUpdate, changes: Sequence[Change]) -> ImageUpdate:
    if not changes or update.status == "skipped-downgrade":
        return update
    status = "updated" if update.status == "unchanged" else update.status  # only a values key moved
    return update._replace(changes=tuple(changes), status=status)


def _image_of(path: str) -> str:
    # "images[name=aegis/api].newTag" -> "aegis/api"
    return path.split("[name=", 1)[1].split("]", 1)[0] if path.startswith("images[name=") else path
