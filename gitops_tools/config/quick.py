"""The quick reading of ``gitops-tools.yaml``: libyaml's composer, for a document that ruamel.yaml would read the
same way; None for anything else, which the careful reader (:mod:`.loader`, ruamel.yaml) then reads.

Most configurations are plain: mappings, lists, quoted strings, names, paths, URLs, ``true``/``false`` and whole
numbers. For those, PyYAML's composer (libyaml, already loaded to read the kustomizations) builds the nodes in a
fraction of the time ruamel.yaml's pure-Python parser takes, and ruamel.yaml is not imported at all (about 7 ms
of a bump; most of a 1,000-environment file's reading). Only what both readers see alike is taken:

- a quoted or block scalar is a string;
- a plain scalar is ``true``/``false`` (``True``, ``TRUE``, ...), null (empty, ``~``, ``null``, ...), a decimal
  integer without a leading zero, or, when it starts with a letter, ``_`` or ``/``, a string: in YAML 1.2 a plain
  scalar that starts so is a string unless it is one of those words (``yes``, ``on``, ``no`` are strings too, as
  the careful reader reads them);
- no tag, anchor, alias, merge key, directive or repeated key; keys are strings.

Anything else (``1.4``, ``0x1F``, ``2024-01-01``, ``.inf``, a tag, a syntax error, ...) returns None. The walker
then checks the tree; where it finds a problem, the careful reader runs instead, so that every error names its
line and column exactly as before. Pure: text in, plain values out.
"""

from __future__ import annotations

import re
from typing import Any

import yaml  # PyYAML: this module is imported by the first reading of a configuration, never at start-up

_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Unsure(Exception):
    """The careful reader must decide."""


def quick_tree(text: str) -> Any:
    """The document as dicts, lists, strings, booleans, integers and None; None when it is not that plain."""
    if text.lstrip().startswith("%") or "\n%" in text:
        return None  # a directive: the careful reader refuses or applies it
    from gitops_tools.core.yamldoc import composer_loader

    try:
        root = yaml.compose(text, Loader=composer_loader())
        return None if root is None else _value(root, text, set())
    except (yaml.YAMLError, _Unsure, RecursionError):
        return None


def _value(node: Any, text: str, seen: set[int]) -> Any:
    if id(node) in seen:
        raise _Unsure  # an alias: the same node twice
    seen.add(id(node))
    if text[node.start_mark.index:node.start_mark.index + 1] in ("!", "&", "*"):
        raise _Unsure  # a tag or an anchor
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        return [_value(item, text, seen) for item in node.value]
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Unsure
            key = _value(key_node, text, seen)
            if not isinstance(key, str) or key in out or key == "<<":
                raise _Unsure  # a key that is not a string, a repeated key, a merge key
            out[key] = _value(value_node, text, seen)
        return out
    raise _Unsure  # !!set, !!omap, ...


def _scalar(node: Any) -> Any:
    value = str(node.value)
    if node.style:  # quoted or block (a plain scalar's style is None or ""): a string, unless tagged otherwise
        if node.tag != _STR:
            raise _Unsure
        return value
    if value in _BOOLEANS:
        return _BOOLEANS[value]
    if value in _NULLS:
        return None
    if _DECIMAL.fullmatch(value):
        return int(value)
    if value[0].isascii() and (value[0].isalpha() or value[0] in "_/"):
        return value
    raise _Unsure
