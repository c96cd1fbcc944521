"""Helm values keys that move together with a kustomization image (``images.<name>.values`` in the config).

Pure: text in, text and Change values out.
"""

from __future__ import annotations

from gitops_tools.core.changes import Change
from gitops_tools.errors import GitopsError, YamlError
from gitops_tools.core.keypath import Key, format_keypath, parse_keypath
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.reference import format_reference
from gitops_tools.core.yamldoc import STR_TAG, Mapping, Scalar, find, parse_documents, require
from gitops_tools.core.yamledit import apply_splices, insert_key, set_scalar


def field_value(field: str, entry: KustImage) -> str | None:
    """What a values key of kind ``field`` (config ``VALUES_FIELDS``) holds for ``entry``: ``ref`` is the whole
    ``name:tag@digest``, ``tag@digest`` the tag with ``@digest`` when there is one (for charts that print
    ``repository:tag``, such as app-template)."""
    if field == "tag":
        return entry.new_tag
    if field == "tag@digest":
        if entry.new_tag is None:
            return None
        return entry.new_tag + (f"@{entry.digest}" if entry.digest else "")
    if field == "digest":
        return entry.digest
    if field == "name":
        return entry.effective_name
    if field == "ref":
        return format_reference(entry.effective_name, entry.new_tag, entry.digest)
    raise ValueError(field)


def read_value(text: str, file: str, key: str) -> str | None:
    """The scalar at ``key`` (None when absent); used to compare values with the kustomization."""
    docs = [d for d in parse_documents(text, file) if d is not None]
    node = find(docs[0], parse_keypath(key)) if docs else None
    return node.value if isinstance(node, Scalar) else None


def set_value(text: str, file: str, key: str, value: str) -> tuple[str, Change | None]:
    """Set the scalar at ``key`` to ``value`` (adding the last key when its mapping exists)."""
    path = parse_keypath(key)
    docs = [d for d in parse_documents(text, file) if d is not None]
    if not docs:
        raise YamlError("the file is empty", file=file, key=key, fix=f"add {key} to the values file")
    root = docs[0]
    node = find(root, path)
    if isinstance(node, Scalar) and node.value == value and node.tag == STR_TAG:
        return text, None
    if node is not None:
        new_text = apply_splices(text, [set_scalar(text, node, value, file, key)])
        old: str | None = node.value if isinstance(node, Scalar) else None
    else:
        parent = require(root, path[:-1], file, text) if len(path) > 1 else root
        last = path[-1]
        if not isinstance(parent, Mapping) or not isinstance(last, Key) or (parent.flow is False and not parent.items):
            require(root, path, file, text)  # raises with what exists
            raise AssertionError("unreachable")
        new_text = apply_splices(text, [insert_key(text, parent, last.name, value)])
        old = None
    after = [d for d in parse_documents(new_text, file) if d is not None]
    check = find(after[0], path) if after else None
    if not isinstance(check, Scalar) or check.value != value or check.tag != STR_TAG:
        raise AssertionError(f"{file}: {key}: edit did not take")
    return new_text, Change(file, format_keypath(path), old, value)


def missing_part(field: str) -> str:
    """The part of the image reference a key of kind ``field`` cannot do without: ``tag@digest`` needs the tag."""
    return "tag" if field == "tag@digest" else field


def missing_value_error(image: str, field: str, file: str, key: str) -> GitopsError:
    field = missing_part(field)
    return GitopsError(
        f"the image has no {field} after this change, so this values key cannot follow it",
        file=file,
        key=key,
        fix=f"configure `field: ref` (or digest) for {image} in gitops-tools.yaml, or set a {field}",
    )
