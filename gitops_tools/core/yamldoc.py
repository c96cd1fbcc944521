"""Locate things in YAML text: a read-only tree of nodes that know where their bytes are.

We never re-dump a loaded document (that reformats files, see DESIGN §3.3).  Instead the parser tells us
where each scalar starts and ends, and :mod:`gitops_tools.core.yamledit` splices new text into exactly that span.

Parsing uses PyYAML's safe *composer* (libyaml when available: about 15x faster than the pure-Python parsers),
which builds nodes without constructing any Python object, so no tag can run code.  Offsets are character
offsets into the ``str`` that was parsed (CRLF counts as two characters), exactly what slicing needs.

Pure: text in, immutable values out.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Union

import yaml

from gitops_tools.errors import YamlError
from gitops_tools.core.keypath import Index, KeyPath, Key, Select, format_keypath

# libyaml is an optional part of PyYAML; the pure-Python loader gives the same marks.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]  # PyYAML's loaders are untyped
    """PyYAML's safe loader, resolving each plain or quoted scalar's tag once per process: the composer asks for
    every scalar, and a thousand images repeat ``name`` and ``newTag`` a thousand times (the safe loader has no
    path resolvers, so a tag depends on the kind, the value and its style alone)."""

    _tags: dict[tuple[Any, ...], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._tags) < 4096:  # bounded: values rarely repeat, keys do
                self._tags[key] = tag
        return tag


def composer_loader() -> type:
    """The loader whose composer builds nodes (libyaml's where PyYAML has it): for other readers of YAML text."""
    return _Loader


# A kustomization or values file is a few kilobytes (a thousand images: about 90 KB). Parsing costs about 85
# bytes of memory and 2 microseconds per byte, so a 50 MB file would take minutes and gigabytes: refuse it.
MAX_YAML_CHARS = 4 * 1024 * 1024

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"


class Scalar(NamedTuple):
    value: str
    start: int  # first character of the scalar itself (after any &anchor / !tag)
    end: int  # one past its last character (closing quote included)
    node_start: int  # first character of the node, properties included
    style: str  # "" plain, "'" single, '"' double, "|" literal, ">" folded
    tag: str  # resolved tag, e.g. tag:yaml.org,2002:str


class Mapping(NamedTuple):
    items: tuple[tuple["Node", "Node"], ...]
    start: int
    end: int
    flow: bool

    def get(self, key: str) -> "Node | None":
        for k, v in self.items:
            if isinstance(k, Scalar) and k.value == key:
                return v
        return None

    def key_node(self, key: str) -> Scalar | None:
        for k, _ in self.items:
            if isinstance(k, Scalar) and k.value == key:
                return k
        return None


class Sequence(NamedTuple):
    items: tuple["Node", ...]
    start: int
    end: int
    flow: bool


Node = Union[Scalar, Mapping, Sequence]


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` (only called on the way to a message)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def check_size(text: str, filename: str) -> None:
    """Refuse a YAML file larger than :data:`MAX_YAML_CHARS` before parsing it."""
    if len(text) > MAX_YAML_CHARS:
        raise YamlError(
            f"is {len(text) / 1048576:.1f} MiB; gitops-tools reads YAML files of at most "
            f"{MAX_YAML_CHARS // 1048576} MiB", file=filename,
            fix="a kustomization or values file is a few kilobytes: check that this is the right file; "
                "nothing was written",
        )


def parse_documents(text: str, filename: str) -> tuple[Node | None, ...]:
    """Every document of ``text`` as a node tree (None for an empty document).

    A file that does not parse, or that repeats a key in one mapping (kustomize and Helm refuse both), raises
    :class:`YamlError` naming the file, line and column.
    """
    check_size(text, filename)
    # libyaml does not count a byte-order mark in its offsets; parse without it and shift every offset by one.
    bom = 1 if text.startswith("\ufeff") else 0
    try:
        roots = list(yaml.compose_all(text[bom:], Loader=_Loader))
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, terminal escapes…)
        line, column = line_col(text, err.position + bom)
        raise YamlError(
            f"cannot parse YAML: character U+{err.character:04X} is not allowed in YAML",
            file=filename, line=line, column=column, fix="remove the character; nothing was written",
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        problem = err.problem or "invalid YAML"
        if err.context:
            problem = f"{err.context}, {problem}"
        raise YamlError(
            f"cannot parse YAML: {problem}",
            file=filename,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            fix="fix the syntax; nothing was written",
        ) from None
    except yaml.YAMLError as err:  # pragma: no cover - reader errors without a mark
        raise YamlError(f"cannot parse YAML: {err}", file=filename, fix="fix the syntax; nothing was written") from None
    converter = _Converter(text, filename, bom)
    try:
        return tuple(converter.convert(root) if root is not None else None for root in roots)
    except RecursionError:  # libyaml refuses deep flow nesting, but block nesting only costs stack
        raise YamlError("cannot parse YAML: nested too deeply", file=filename,
                        fix="a kustomization or values file is a few levels deep; nothing was written") from None


class _Converter:
    def __init__(self, text: str, filename: str, shift: int = 0) -> None:
        self.text = text
        self.filename = filename
        self.shift = shift  # a byte-order mark the parser did not see
        self.memo: dict[int, Node] = {}

    def convert(self, node: yaml.Node) -> Node:
        shift = self.shift
        if isinstance(node, yaml.ScalarNode):  # an alias of a scalar converts to the same value: no memo needed
            start = node.start_mark.index + shift
            end = node.end_mark.index + shift
            properties = start < end and self.text[start] in "&!"
            value_start = _skip_properties(self.text, start, end) if properties else start
            return Scalar(node.value, value_start, end, start, node.style or "", node.tag)
        done = self.memo.get(id(node))
        if done is not None:  # an alias: the same node as its anchor, with the anchor's position
            return done
        result: Node
        assert isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
        start, end, flow = node.start_mark.index + shift, node.end_mark.index + shift, bool(node.flow_style)
        convert = self.convert
        # the node stands for itself, empty, while its children are converted: an alias inside it ends there
        if isinstance(node, yaml.MappingNode):
            self.memo[id(node)] = Mapping((), start, end, flow)
            items = tuple([(convert(k), convert(v)) for k, v in node.value])
            self._check_duplicates(items)
            result = Mapping(items, start, end, flow)
        else:
            self.memo[id(node)] = Sequence((), start, end, flow)
            result = Sequence(tuple([convert(v) for v in node.value]), start, end, flow)
        self.memo[id(node)] = result
        return result

    def _check_duplicates(self, items: tuple[tuple[Node, Node], ...]) -> None:
        seen: dict[str, Scalar] = {}
        for k, _ in items:
            if not isinstance(k, Scalar) or k.value == "<<":
                continue
            first = seen.get(k.value)
            if first is not None:
                line, column = line_col(self.text, k.start)
                first_line, _ = line_col(self.text, first.start)
                raise YamlError(
                    f"duplicate key {k.value!r} (first defined on line {first_line})",
                    file=self.filename,
                    line=line,
                    column=column,
                    fix="remove one of them; kustomize and Helm refuse duplicate keys",
                )
            seen[k.value] = k


def _skip_properties(text: str, start: int, end: int) -> int:
    """Skip ``&anchor`` and ``!tag`` (and the blanks or comments after them) at the start of a node."""
    pos = start
    while pos < end and text[pos] in "&!":
        while pos < end and text[pos] not in " \t\r\n":
            pos += 1
        while pos < end:
            ch = text[pos]
            if ch in " \t\r\n":
                pos += 1
            elif ch == "#":
                while pos < end and text[pos] != "\n":
                    pos += 1
            else:
                break
    return pos


def find(root: Node | None, path: KeyPath) -> Node | None:
    """The node at ``path`` or None; never raises for a missing key."""
    node = root
    for seg in path:
        if node is None:
            return None
        node = _step(node, seg)
    return node


def _step(node: Node, seg: Key | Index | Select) -> Node | None:
    if isinstance(seg, Key):
        return node.get(seg.name) if isinstance(node, Mapping) else None
    if not isinstance(node, Sequence):
        return None
    if isinstance(seg, Index):
        return node.items[seg.position] if seg.position < len(node.items) else None
    for item in node.items:
        if isinstance(item, Mapping):
            field = item.get(seg.field)
            if isinstance(field, Scalar) and field.value == seg.value:
                return item
    return None


def require(root: Node | None, path: KeyPath, filename: str, text: str) -> Node:
    """The node at ``path``; a missing step is a YamlError naming the deepest part that exists."""
    node = root
    for i, seg in enumerate(path):
        nxt = _step(node, seg) if node is not None else None
        if nxt is None:
            walked = format_keypath(path[: i + 1])
            where = line_col(text, node.start) if node is not None else (None, None)
            raise YamlError(
                "not found",
                file=filename,
                line=where[0],
                key=walked,
                fix=_missing_fix(node, seg),
            )
        node = nxt
    assert node is not None
    return node


def _missing_fix(node: Node | None, seg: Key | Index | Select) -> str:
    if isinstance(node, Mapping):
        keys = [k.value for k, _ in node.items if isinstance(k, Scalar)]
        return "keys here: " + (", ".join(keys) if keys else "(none)")
    if isinstance(node, Sequence) and isinstance(seg, Select):
        known = []
        for item in node.items:
            if isinstance(item, Mapping):
                field = item.get(seg.field)
                if isinstance(field, Scalar):
                    known.append(field.value)
        return f"known {seg.field}s: " + (", ".join(known) if known else "(none)")
    if isinstance(node, Sequence):
        return f"the list has {len(node.items)} items"
    return "the parent is not a mapping or list"
