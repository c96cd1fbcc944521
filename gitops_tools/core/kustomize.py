"""Kustomization ``images:`` logic: `kustomize edit set image` arguments, entries, and the edits between them.

Field semantics follow ``kustomize edit set image``: a SPEC sets ``newName``, ``newTag`` and ``digest``; a
field given as ``*`` keeps what the entry has; a field the SPEC does not mention is cleared.  Unlike kustomize
we edit the entry in place (no re-sorting, no re-dumping) and leave its other keys (``tagSuffix``, comments)
alone.

Pure: text in, text and Change values out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence as Seq
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.errors import GitopsError, InvalidReference, YamlError
from gitops_tools.core.keypath import Key, Select, format_keypath
from gitops_tools.core.reference import format_reference, validate_digest, validate_name, validate_tag
from gitops_tools.core.yamldoc import STR_TAG, Mapping, Node, Scalar, Sequence, line_col, parse_documents

if TYPE_CHECKING:  # what reads a kustomization (status, diff) loads neither the splicer nor the change records
    from gitops_tools.core.changes import Change
    from gitops_tools.core.yamledit import Splice

KEEP = "*"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
FIELDS = (("new_name", "newName"), ("new_tag", "newTag"), ("digest", "digest"))

SPEC_FORMS = (
    "NAME:TAG, NAME@DIGEST, NAME:TAG@DIGEST, NAME=NEWNAME, NAME=NEWNAME:TAG, NAME=NEWNAME@DIGEST or "
    "NAME=NEWNAME:TAG@DIGEST; `*` as NEWNAME, TAG or DIGEST keeps the current value"
)


class ImageSpec(NamedTuple):
    """One ``kustomize edit set image`` argument.  Each field is a value, None (clear it) or KEEP."""

    name: str
    new_name: str | None
    new_tag: str | None
    digest: str | None
    text: str


class KustImage(NamedTuple):
    """One ``images:`` entry as kustomize reads it."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None

    @property
    def value(self) -> str:
        """What the image is set to, for messages and trailers: ``1.4.2``, ``reg/x:1.4.2``, ``@sha256:…``."""
        if self.new_name:
            return format_reference(self.new_name, self.new_tag, self.digest)
        value = (self.new_tag or "") + (f"@{self.digest}" if self.digest else "")
        return value or "(name only)"

    @property
    def effective_name(self) -> str:
        return self.new_name or self.name


_TAG_TAIL = re.compile(r"^(.*):([^:/@]*)$")


def parse_spec(text: str) -> ImageSpec:
    """Parse a SPEC argument; invalid names, tags and digests are refused with the rule they break."""
    if not text or any(ch.isspace() for ch in text):
        raise _bad_spec(text, "it is empty or contains blanks")
    if text.count("=") > 1:
        raise _bad_spec(text, "more than one '='")
    name, eq, rhs = text.partition("=")
    if eq:
        if not name:
            raise _bad_spec(text, "nothing before '='")
        if not rhs:
            raise _bad_spec(text, "nothing after '='")
        new_name, tag, digest = _split_overwrite(text, rhs)
        if new_name == "":
            raise _bad_spec(text, "no new name after '=' (write * to keep the current one)")
    else:
        name, tag, digest = _split_overwrite(text, text)
        new_name = None
        if tag is None and digest is None:
            raise _bad_spec(text, "no tag or digest to set")
    _checked(text, validate_name, name)
    if new_name not in (None, KEEP):
        _checked(text, validate_name, new_name)
    if tag not in (None, KEEP):
        _checked(text, validate_tag, tag)
    if digest not in (None, KEEP):
        _checked(text, validate_digest, digest)
    return ImageSpec(name, new_name, tag, digest, text)


def _split_overwrite(text: str, part: str) -> tuple[str, str | None, str | None]:
    """``NAME[:TAG][@DIGEST]`` → (name, tag, digest); a port in the registry is not a tag."""
    digest: str | None = None
    if "@" in part:
        part, _, digest = part.partition("@")
        if "@" in digest:
            raise _bad_spec(text, "more than one '@'")
        if not digest:
            raise _bad_spec(text, "nothing after '@'")
    tag: str | None = None
    m = _TAG_TAIL.match(part)
    if m:
        part, tag = m.group(1), m.group(2)
        if not tag:
            raise _bad_spec(text, "nothing after ':'")
    return part, tag, digest


def _checked(spec: str, check: object, value: str) -> None:
    try:
        check(value)  # type: ignore[operator]
    except InvalidReference as err:
        raise InvalidReference(f"invalid image spec {spec!r}: {err.problem}", fix=err.fix) from None


def _bad_spec(text: str, why: str) -> InvalidReference:
    return InvalidReference(f"invalid image spec {text!r}: {why}", fix=f"use one of {SPEC_FORMS}")


def parse_specs(texts: Seq[str]) -> tuple[ImageSpec, ...]:
    specs = tuple(parse_spec(t) for t in texts)
    seen: dict[str, str] = {}
    for s in specs:
        if s.name in seen:
            raise GitopsError(
                f"image {s.name} is given twice ({seen[s.name]!r} and {s.text!r})",
                fix="give each image once",
            )
        seen[s.name] = s.text
    return specs


def desired(current: KustImage | None, spec: ImageSpec) -> KustImage:
    """The entry after ``spec``: ``*`` keeps the current field, an unmentioned field is cleared."""

    def pick(given: str | None, now: str | None) -> str | None:
        return now if given == KEEP else given

    cur = current or KustImage(spec.name)
    return KustImage(
        spec.name,
        pick(spec.new_name, cur.new_name),
        pick(spec.new_tag, cur.new_tag),
        pick(spec.digest, cur.digest),
    )


def resolve_specs(kust: "Kustomization", specs: Seq[ImageSpec], *, by_new_name: bool, add: bool,
                  scope: str) -> tuple[ImageSpec, ...]:
    """Which entry each SPEC means: the one with that ``name``; else (``by_new_name``, an environment of the
    configuration) the one whose ``newName`` is that path, which is what a CI job knows. A SPEC that names
    no entry is added only with ``add``; otherwise it is refused, listing the names there are.

    A SPEC found by its newName without ``=`` (``registry/team/api:1.4.3``) means that image at that tag: its
    newName stays (kustomize's "clear what is not given" would otherwise move the image to ``team/api``)."""
    out: list[ImageSpec] = []
    seen: dict[str, str] = {}
    for spec in specs:
        resolved: ImageSpec | None = spec if kust.find(spec.name) is not None else None
        if resolved is None and by_new_name:
            matches = [e for e, _ in kust.entries if e.new_name == spec.name]
            if len(matches) > 1:
                raise GitopsError(
                    f"{spec.name} is the newName of {len(matches)} entries ({', '.join(e.name for e in matches)})",
                    file=kust.file, key="images", fix="give the entry's name instead of its newName")
            if matches:
                entry = matches[0]
                resolved = spec._replace(name=entry.name,
                                         new_name=spec.name if spec.new_name is None else spec.new_name)
        if resolved is None:
            if by_new_name and not add:
                known = ", ".join(e.name + (f" ({e.new_name})" if e.new_name else "") for e, _ in kust.entries)
                raise GitopsError(
                    f"not found in {scope} (known: {known or 'none'})", file=kust.file,
                    key=f"images[name={spec.name}]",
                    fix="give one of the known names (or its newName), or pass --add to add a new entry",
                )
            resolved = spec
        if resolved.name in seen:
            raise GitopsError(f"image {resolved.name} is given twice ({seen[resolved.name]!r} and {spec.text!r})",
                              fix="give each image once")
        seen[resolved.name] = spec.text
        out.append(resolved)
    return tuple(out)


# --- reading -----------------------------------------------------------------------------------------------


class Kustomization(NamedTuple):
    text: str
    file: str
    root: Mapping
    images_node: Node | None  # the value of `images:` (None when the key is absent)
    entries: tuple[tuple[KustImage, Mapping], ...]
    positions: dict[str, int]  # image name -> its place in entries (names are unique: duplicates are refused)

    def find(self, name: str) -> tuple[KustImage, Mapping] | None:
        index = self.positions.get(name)
        return self.entries[index] if index is not None else None


def read_kustomization(text: str, file: str) -> Kustomization:
    docs = [d for d in parse_documents(text, file) if d is not None]
    if len(docs) != 1 or not isinstance(docs[0], Mapping) or docs[0].flow:
        raise YamlError(
            "not a kustomization: expected one YAML document holding a block mapping",
            file=file,
            fix="point TARGET at an overlay directory whose kustomization.yaml has apiVersion, kind, resources…",
        )
    root = docs[0]
    images = root.get("images")
    entries: list[tuple[KustImage, Mapping]] = []
    if isinstance(images, Sequence):
        for i, item in enumerate(images.items):
            entries.append((_read_entry(text, file, i, item), item))  # type: ignore[arg-type]
    elif images is not None and not (isinstance(images, Scalar) and images.tag.endswith(":null")):
        line, column = line_col(text, images.start)
        raise YamlError(
            "expected a list of images", file=file, line=line, column=column, key="images",
            fix="write images: as a list of `- name: …` entries",
        )
    positions: dict[str, int] = {}
    for i, (entry, node) in enumerate(entries):
        if entry.name in positions:
            # kustomize applies both: with tags only the last wins, with a newName the first renames the
            # image so the second never matches. Two answers to "what runs": refuse, everywhere.
            first_line, _ = line_col(text, entries[positions[entry.name]][1].start)
            line, column = line_col(text, node.start)
            raise YamlError(
                f"a second entry for {entry.name} (the first is on line {first_line})", file=file, line=line,
                column=column, key=f"images[{i}]",
                fix="keep one entry per image: kustomize applies both, and which one wins depends on their fields",
            )
        positions[entry.name] = i
    return Kustomization(text, file, root, images, tuple(entries), positions)


def _read_entry(text: str, file: str, index: int, item: Node) -> KustImage:
    key = f"images[{index}]"
    if not isinstance(item, Mapping):
        line, column = line_col(text, item.start)
        raise YamlError(
            "expected a mapping with a name", file=file, line=line, column=column, key=key,
            fix="write the entry as `- name: IMAGE` followed by newName/newTag/digest",
        )
    values: dict[str, str | None] = {}
    for k, v in item.items:
        if isinstance(k, Scalar) and k.value in ("name", "newName", "newTag", "digest"):
            if not isinstance(v, Scalar):
                line, column = line_col(text, v.start)
                raise YamlError(
                    "expected a single value", file=file, line=line, column=column, key=f"{key}.{k.value}",
                    fix="write the value on the same line as its key",
                )
            values[k.value] = None if v.tag.endswith(":null") else v.value
    name = values.get("name")
    if not name:
        line, column = line_col(text, item.start)
        raise YamlError(
            "image entry without a name", file=file, line=line, column=column, key=key,
            fix="add `name:` with the image name the resources use",
        )
    return KustImage(name, values.get("newName"), values.get("newTag"), values.get("digest"))


# --- editing -----------------------------------------------------------------------------------------------


def entry_path(name: str, field: str | None = None) -> str:
    path = (Key("images"), Select("name", name)) + ((Key(field),) if field else ())
    return format_keypath(path)


def set_images(kust: Kustomization, targets: Seq[KustImage]) -> tuple[str, tuple[Change, ...]]:
    """Make each entry in ``targets`` hold exactly those fields; return the new text and what changed.

    Scalar replacements are spliced in one pass; a key that must be added or removed changes the structure,
    so those are applied one at a time on a fresh parse.  The result is read back and checked.
    """
    from gitops_tools.core.changes import Change
    from gitops_tools.core.yamledit import (
        append_item,
        apply_splices,
        delete_key,
        insert_key,
        set_key_to_items,
        set_scalar,
    )

    changes: list[Change] = []
    text = kust.text
    scalar_splices: list[Splice] = []
    structural: list[tuple[str, str, str | None]] = []  # (image, yaml key, new value or None to delete)
    new_entries: list[KustImage] = []
    for target in targets:
        found = kust.find(target.name)
        if found is None:
            new_entries.append(target)
            for attr, key in FIELDS:
                value = getattr(target, attr)
                if value is not None:
                    changes.append(Change(kust.file, entry_path(target.name, key), None, value))
            continue
        current, node = found
        for attr, key in FIELDS:
            old, new = getattr(current, attr), getattr(target, attr)
            if old == new:
                continue
            path = entry_path(target.name, key)
            changes.append(Change(kust.file, path, old, new))
            vnode = node.get(key)
            if new is not None and vnode is not None:
                scalar_splices.append(set_scalar(text, vnode, new, kust.file, path))
            else:
                structural.append((target.name, key, new))
    text = apply_splices(text, scalar_splices)
    for name, key, new in structural:
        kust = read_kustomization(text, kust.file)
        found = kust.find(name)
        assert found is not None
        node = found[1]
        splice = insert_key(text, node, key, new) if new is not None else delete_key(text, node, key)
        text = apply_splices(text, [splice])
    if new_entries:
        kust = read_kustomization(text, kust.file)
        items = [[(k, v) for k, v in _entry_fields(e)] for e in new_entries]
        if isinstance(kust.images_node, Sequence) and kust.images_node.items:
            for fields in items:
                kust = read_kustomization(text, kust.file)
                assert isinstance(kust.images_node, Sequence)
                text = apply_splices(text, [append_item(text, kust.images_node, fields)])
        else:
            text = apply_splices(text, [set_key_to_items(text, kust.root, "images", items)])
    _verify(text, kust.file, targets, {c.path for c in changes})
    return text, tuple(changes)


def _entry_fields(entry: KustImage) -> list[tuple[str, str]]:
    fields = [("name", entry.name)]
    for attr, key in FIELDS:
        value = getattr(entry, attr)
        if value is not None:
            fields.append((key, value))
    return fields


def _verify(text: str, file: str, targets: Seq[KustImage], changed: set[str]) -> None:
    """Re-parse the edited text and check that every entry now reads as intended (DESIGN §3.3)."""
    after = read_kustomization(text, file)
    for target in targets:
        found = after.find(target.name)
        if found is None or found[0] != target:
            raise AssertionError(f"{file}: edit of {target.name} did not take: {found and found[0]} != {target}")
        for _, key in FIELDS:
            node = found[1].get(key)
            # the key path is built only for a value that would not load as a string (a thousand images: 3,000)
            if isinstance(node, Scalar) and node.tag != STR_TAG and entry_path(target.name, key) in changed:
                raise AssertionError(f"{file}: {entry_path(target.name, key)} would not load as a string")
