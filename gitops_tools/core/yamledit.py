"""Format-preserving YAML edits: splice new text into the spans that :mod:`gitops_tools.core.yamldoc` located.

Every function here returns a :class:`Splice` (replace ``text[start:end]`` with ``new``) and never touches a
byte outside it, so comments, blank lines, key order, indentation, quote style, CRLF line ends, a missing final
newline, other documents and ``&anchor``/``!tag`` properties all survive an edit.

Pure: text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence as Seq
from typing import NamedTuple

import yaml.resolver

from gitops_tools.core.refrules import escape
from gitops_tools.errors import YamlError
from gitops_tools.core.yamldoc import STR_TAG, Mapping, Node, Scalar, Sequence, line_col


class Splice(NamedTuple):
    start: int
    end: int
    new: str


def apply_splices(text: str, splices: Iterable[Splice]) -> str:
    """Apply non-overlapping splices (any order) to ``text``."""
    ordered = sorted(splices, key=lambda s: (s.start, s.end))
    out: list[str] = []
    pos = 0
    for sp in ordered:
        if sp.start < pos:
            raise ValueError(f"overlapping edits at offset {sp.start}")  # a bug, not user input
        out.append(text[pos : sp.start])
        out.append(sp.new)
        pos = sp.end
    out.append(text[pos:])
    return "".join(out)


def newline_of(text: str) -> str:
    """The line ending the file already uses (CRLF when its first line ends so)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


# --- quoting -----------------------------------------------------------------------------------------------

# What YAML 1.2 (and go-yaml v3, which kustomize uses) reads as something other than a string, on top of what
# PyYAML's YAML 1.1 resolver already knows (yes/no/on/off, 1_000, 1:20, timestamps, "=", "<<").
_NON_STRING_12 = re.compile(
    r"""^(?:
        ~|null|Null|NULL
      | true|True|TRUE|false|False|FALSE
      | y|Y|n|N
      | [-+]?[0-9][0-9_]*
      | [-+]?0o[0-7_]+ | [-+]?0x[0-9a-fA-F_]+ | [-+]?0b[01_]+
      | [-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
      | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
    )$""",
    re.VERBOSE,
)
# Go's YAML resolver (kustomize) tries a number when the first character is a digit, sign or dot; it accepts
# upper-case base prefixes and drops every "_" first, so 0X1F, 1e1_0 and +_1 are numbers to kustomize.
_GO_NUMBER = re.compile(
    r"""^[-+]?(?:
        0[xX][0-9a-fA-F]+ | 0[oO][0-7]+ | 0[bB][01]+
      | (?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
      | \.(?:inf|Inf|INF|nan|NaN|NAN)
    )$""",
    re.VERBOSE,
)
# A plain scalar that is safe in block and flow context: no blanks, no flow indicators, no leading indicator.
_SAFE_PLAIN = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^\s,\[\]{}]*$|^-[^\s,\[\]{}]+$")
_RUAMEL_UNDERSCORE_FLOAT = re.compile(r"(?:[-+]\.?|\.)_[0-9_]*(?:[eE][-+]?[0-9]+)?")
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


def needs_quotes(value: str) -> bool:
    """True when ``value`` written plain would not load back as this same string in YAML 1.1 or 1.2."""
    if not _SAFE_PLAIN.match(value) or value.endswith(":") or ": " in value or " #" in value:
        return True
    if not value.isprintable() or not value.isascii() and any(ord(c) > 0xFFFF for c in value):
        return True
    if _NON_STRING_12.match(value):
        return True
    if value[0] in "+-.0123456789" and "_" in value:
        bare = value.replace("_", "")
        # ruamel (YAML 1.2) also reads "._4" as 0.4 and fails on "+_" or "._E0": quote what is only signs and dots,
        # with underscores and an exponent, too.
        if _GO_NUMBER.match(bare) or bare.strip("+-.") == "" or _RUAMEL_UNDERSCORE_FLOAT.fullmatch(value):
            return True
    if _GO_NUMBER.match(value):
        return True
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag != _STR


def double_quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar: the escapes of :func:`~gitops_tools.core.refrules.escape`
    (``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\r``, ``\\xNN``, ``\\uNNNN``, ``\\UNNNNNNNN``) are all YAML's."""
    return f'"{escape(value)}"'


def render_scalar(value: str, style: str = "") -> str:
    """``value`` as YAML text in ``style`` ("" plain, "'" or '"'), quoting plain text that would not stay a string."""
    if style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or style == "'":
        return double_quoted(value)
    return double_quoted(value) if needs_quotes(value) else value


# --- splices -----------------------------------------------------------------------------------------------


def set_scalar(text: str, node: Node, value: str, filename: str, key: str) -> Splice:
    """Replace the scalar ``node`` by ``value``, keeping its quote style and any properties and comment."""
    if not isinstance(node, Scalar):
        line, column = line_col(text, node.start)
        kind = "a mapping" if isinstance(node, Mapping) else "a list"
        raise YamlError(
            f"expected a single value, found {kind}",
            file=filename, line=line, column=column, key=key,
            fix="point the key path at the scalar to change",
        )
    if node.style in ("|", ">"):
        line, column = line_col(text, node.start)
        raise YamlError(
            "the value is a block scalar (| or >), which gitops-tools does not rewrite",
            file=filename, line=line, column=column, key=key,
            fix="write the value on one line, e.g. `key: value`",
        )
    explicit = "!" in text[node.node_start:node.start]
    if explicit and node.tag.startswith("tag:yaml.org,2002:") and node.tag != STR_TAG:
        line, column = line_col(text, node.node_start)
        kind = node.tag.rsplit(":", 1)[1]
        raise YamlError(
            f"the value is tagged !!{kind}, so a new value written there would not load as a string",
            file=filename, line=line, column=column, key=key,
            fix=f"remove the !!{kind} tag (or write !!str); nothing was written",
        )
    if node.start == node.end and node.style == "":
        # An empty (null) value such as `newTag:` or `tag: # comment` sits right after its colon.
        space = " " if node.start > 0 and text[node.start - 1] == ":" else ""
        return Splice(node.start, node.end, space + render_scalar(value))
    return Splice(node.start, node.end, render_scalar(value, node.style))


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _column(text: str, pos: int) -> int:
    return pos - _line_start(text, pos)


def content_end(text: str, node: Node) -> int:
    """Where the last meaningful character of ``node`` ends (before trailing comments and newlines)."""
    if isinstance(node, Scalar):
        if node.style in ("|", ">"):
            end = node.end
            while end > node.start and text[end - 1] in "\r\n":
                end -= 1
            return end
        return node.end
    if node.flow or not node.items:
        return node.end
    if isinstance(node, Mapping):
        return content_end(text, node.items[-1][1])  # an empty value ends right after its colon
    return content_end(text, node.items[-1])


def _eol(text: str, pos: int) -> int:
    """Index of the end of the line containing ``pos`` (before its CR LF or LF), or len(text)."""
    nl = text.find("\n", pos)
    if nl < 0:
        return len(text)
    return nl - 1 if nl > 0 and text[nl - 1] == "\r" else nl


def _after_node(text: str, node: Node) -> int:
    """Where to insert a new line after ``node``: the end of its last line, before the line break."""
    return _eol(text, content_end(text, node))


def insert_key(text: str, mapping: Mapping, key: str, value: str) -> Splice:
    """Add ``key: value`` to ``mapping`` after its last entry, at the indentation of its keys."""
    rendered = f"{render_scalar(key)}: {render_scalar(value)}"
    if mapping.flow:
        close = mapping.end - 1
        sep = ", " if mapping.items else ""
        return Splice(close, close, f"{sep}{rendered}")
    if not mapping.items:  # pragma: no cover - an empty block mapping cannot be written in YAML
        raise ValueError("empty block mapping")
    nl = newline_of(text)
    indent = " " * _column(text, mapping.items[0][0].start)
    pos = _after_node(text, mapping)
    return Splice(pos, pos, f"{nl}{indent}{rendered}")


def delete_key(text: str, mapping: Mapping, key: str) -> Splice:
    """Remove ``key`` and its value from ``mapping`` (the entry's lines, or its text on a ``- `` line)."""
    index = next(i for i, (k, _) in enumerate(mapping.items) if isinstance(k, Scalar) and k.value == key)
    knode, vnode = mapping.items[index]
    if mapping.flow:
        if index + 1 < len(mapping.items):
            return Splice(knode.start, mapping.items[index + 1][0].start, "")
        if index > 0:
            return Splice(content_end(text, mapping.items[index - 1][1]), content_end(text, vnode), "")
        return Splice(knode.start, content_end(text, vnode), "")
    line_start = _line_start(text, knode.start)
    end = _eol(text, content_end(text, vnode))
    if text[line_start : knode.start].strip() == "":
        # The entry has its own lines: remove them with their line break.
        nl_end = text.find("\n", end)
        if nl_end >= 0:
            return Splice(line_start, nl_end + 1, "")
        # The last line of a file without a final newline: take the previous line break instead.
        prev = line_start - 1
        if prev > 0 and text[prev - 1] == "\r":
            prev -= 1
        return Splice(max(prev, 0), len(text), "")
    # The entry shares its line with a "- " (first key of a list item): the next key moves up to its place.
    if index + 1 < len(mapping.items):
        return Splice(knode.start, mapping.items[index + 1][0].start, "")
    raise YamlError(  # pragma: no cover - callers never delete the last key of an item
        "cannot remove the only key of a list item", key=key
    )


def render_block_items(items: Seq[Seq[tuple[str, str]]], dash_indent: str, offset: int, nl: str) -> str:
    """Block sequence items of mappings, one ``- k: v`` entry per item, lines joined by ``nl`` (no leading nl)."""
    lines: list[str] = []
    inner = dash_indent + " " * offset
    for fields in items:
        for i, (k, v) in enumerate(fields):
            prefix = dash_indent + "-" + " " * (offset - 1) if i == 0 else inner
            lines.append(f"{prefix}{render_scalar(k)}: {render_scalar(v)}")
    return nl.join(lines)


def append_item(text: str, seq: Sequence, fields: Seq[tuple[str, str]]) -> Splice:
    """Add a mapping item to the end of ``seq``, in the same dash column and item indentation."""
    if seq.flow:
        close = seq.end - 1
        body = ", ".join(f"{render_scalar(k)}: {render_scalar(v)}" for k, v in fields)
        sep = ", " if seq.items else ""
        return Splice(close, close, f"{sep}{{{body}}}")
    nl = newline_of(text)
    dash_col = _column(text, seq.start)
    first = seq.items[0]
    offset = _column(text, first.items[0][0].start if isinstance(first, Mapping) and not first.flow and first.items else first.start) - dash_col
    if offset < 2:
        offset = 2
    pos = _after_node(text, seq)
    return Splice(pos, pos, nl + render_block_items([fields], " " * dash_col, offset, nl))


def sequence_style(text: str, root: Mapping) -> int:
    """How far this file's block lists put their ``-`` right of their key (0 = kustomize's own style)."""
    for key, value in root.items:
        if isinstance(value, Sequence) and not value.flow and value.items:
            return max(_column(text, value.start) - _column(text, key.start), 0)
    return 0


def set_key_to_items(text: str, root: Mapping, key: str, items: Seq[Seq[tuple[str, str]]]) -> Splice:
    """Make ``key`` (missing, null or ``[]``) hold a block list of the given mapping items."""
    nl = newline_of(text)
    key_col = _column(text, root.items[0][0].start) if root.items else 0
    dash = " " * (key_col + sequence_style(text, root))
    block = render_block_items(items, dash, 2, nl)
    existing = root.key_node(key)
    value = root.get(key)
    if existing is None:
        pos = _after_node(text, root) if root.items else len(text)
        lead = nl if root.items else ""
        return Splice(pos, pos, f"{lead}{' ' * key_col}{render_scalar(key)}:{nl}{block}")
    assert value is not None
    colon = text.index(":", existing.end)
    eol = _eol(text, colon)
    if isinstance(value, Scalar) and value.start >= value.end:  # `images:` with nothing (or a comment) after it
        return Splice(eol, eol, nl + block)
    # `images: []` or `images: null`: the value goes, a comment after it stays on the key's line.
    return Splice(colon + 1, eol, text[value.end : eol] + nl + block)
