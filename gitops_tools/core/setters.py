"""Flux image-automation setter markers: ``value # {"$imagepolicy": "NAMESPACE:POLICY[:name|:tag|:digest]"}``.

Repositories that used Flux's image automation carry these markers next to the values it kept up to date.
``image set --setter NAMESPACE:POLICY=REF`` updates every marked value the same way Flux does, so a team can
move to gitops-tools without rewriting its files (see the golden pair in tests/golden/flux-setters).

Pure: text in, text and Change values out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from typing import NamedTuple

from gitops_tools.core.changes import Change
from gitops_tools.core.helmvalues import field_value
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.reference import ImageRef, parse_reference
from gitops_tools.core.yamldoc import (
    Mapping,
    Node,
    Scalar,
    Sequence,
    line_col,
    parse_documents,
)
from gitops_tools.core.yamledit import Splice, apply_splices, set_scalar
from gitops_tools.errors import GitopsError

MARKER = re.compile(r'[ \t]*#[ \t]*(\{"\$imagepolicy":[^}\n]*\})')
_POLICY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class Setter(NamedTuple):
    policy: str  # NAMESPACE:POLICY
    ref: ImageRef


def parse_setter(text: str) -> Setter:
    policy, eq, ref = text.partition("=")
    if not eq or not _POLICY.match(policy):
        raise GitopsError(
            f"invalid setter {text!r}",
            fix="write --setter NAMESPACE:POLICY=IMAGE:TAG, e.g. flux-system:api=registry.example.com/api:1.4.2",
        )
    return Setter(policy, parse_reference(ref))


def has_marker(text: str) -> bool:
    return '"$imagepolicy"' in text


def _value_for(ref: ImageRef, field: str) -> str | None:
    """What a marker of kind ``field`` ("" for the whole reference) takes from ``ref``."""
    if field not in ("", "name", "tag", "digest"):
        return None
    return field_value(field or "ref", KustImage(ref.name, None, ref.tag, ref.digest))


def _scalars(node: Node | None) -> Iterator[Scalar]:
    if isinstance(node, Scalar):
        yield node
    elif isinstance(node, Mapping):
        for _, value in node.items:
            yield from _scalars(value)
    elif isinstance(node, Sequence):
        for item in node.items:
            yield from _scalars(item)


def apply_setters(
    text: str, file: str, setters: MappingABC[str, ImageRef]
) -> tuple[str, tuple[tuple[str, Change], ...]]:
    """Set every marked value whose policy is in ``setters``; other markers are left alone.

    Returns the new text and, per changed value, the policy (NAMESPACE:POLICY) and the Change.
    """
    if not has_marker(text):
        return text, ()
    splices: list[Splice] = []
    changes: list[tuple[str, Change]] = []
    seen: set[int] = set()
    for root in parse_documents(text, file):
        for scalar in _scalars(root):
            m = MARKER.match(text, scalar.end)
            if not m or scalar.start in seen:  # an alias reaches its anchor's scalar twice
                continue
            seen.add(scalar.start)
            import json  # a marker is rare: the JSON module is loaded for one

            try:
                marker = json.loads(m.group(1))["$imagepolicy"]
            except (ValueError, KeyError, TypeError):
                line, _ = line_col(text, scalar.end)
                raise GitopsError("unreadable $imagepolicy marker", file=file, line=line) from None
            namespace, _, rest = str(marker).partition(":")
            name, _, field = rest.partition(":")
            ref = setters.get(f"{namespace}:{name}")
            if ref is None:
                continue
            value = _value_for(ref, field)
            line, _ = line_col(text, scalar.start)
            if value is None:
                raise GitopsError(
                    f"marker {marker!r} asks for the {field or 'reference'}, which {ref} does not have",
                    file=file, line=line, fix="give the setter a reference with that part",
                )
            if value != scalar.value:
                splices.append(set_scalar(text, scalar, value, file, f"line {line}"))
                changes.append((f"{namespace}:{name}", Change(file, f"line {line}", scalar.value, value)))
    return apply_splices(text, splices), tuple(changes)
