"""Key paths: how a user (and every message) names a place in a YAML document.

Grammar, one segment after another::

    images[name=aegis/api].newTag      # a key, then the sequence item whose `name` is aegis/api, then a key
    spec.template.spec.containers[0].image
    metadata.annotations["app.kubernetes.io/name"]

- ``key``            a mapping key without ``.``, ``[`` or ``]``
- ``["any key"]``    a mapping key written as a JSON string (for keys with dots)
- ``[N]``            the N-th item of a sequence (0-based)
- ``[field=value]``  the item of a sequence of mappings whose ``field`` equals ``value``

Pure: text in, tuples out.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Union

from gitops_tools.errors import GitopsError


class Key(NamedTuple):
    name: str


class Index(NamedTuple):
    position: int


class Select(NamedTuple):
    field: str
    value: str


Segment = Union[Key, Index, Select]
KeyPath = tuple[Segment, ...]

_BARE = re.compile(r"[^.\[\]]+")
_INDEX = re.compile(r"\[(\d+)\]")
_SELECT = re.compile(r"\[([^=\[\]\"]+)=([^\[\]]*)\]")
_QUOTED = re.compile(r'\[("(?:[^"\\]|\\.)*")\]')


def parse_keypath(text: str) -> KeyPath:
    """Parse ``a.b[0].c[name=x]`` into segments; raise GitopsError naming the bad spot."""
    segments: list[Segment] = []
    pos = 0
    expect_key = True
    if not text:
        raise GitopsError("the key path is empty", fix='write a path such as "image.tag"')
    while pos < len(text):
        ch = text[pos]
        if ch == "[":
            for regex, build in ((_INDEX, _index), (_QUOTED, _quoted), (_SELECT, _select)):
                m = regex.match(text, pos)
                if m:
                    segments.append(build(m))
                    pos = m.end()
                    break
            else:
                raise _bad(text, pos, "expected [N], [field=value] or [\"key\"]")
            expect_key = False
        elif ch == ".":
            if expect_key:
                raise _bad(text, pos, "empty segment")
            pos += 1
            expect_key = True
            if pos == len(text):
                raise _bad(text, pos, "path ends with '.'")
        else:
            if not expect_key:
                raise _bad(text, pos, "expected '.' or '[' before a key")
            m = _BARE.match(text, pos)
            assert m is not None  # ch is not one of . [ ]
            if ch == "]":
                raise _bad(text, pos, "unbalanced ']'")
            segments.append(Key(m.group()))
            pos = m.end()
            expect_key = False
    return tuple(segments)


def _index(m: re.Match[str]) -> Segment:
    return Index(int(m.group(1)))


def _quoted(m: re.Match[str]) -> Segment:
    import json  # a quoted key is rare: the JSON module is loaded for it alone

    return Key(str(json.loads(m.group(1))))


def _select(m: re.Match[str]) -> Segment:
    return Select(m.group(1), m.group(2))


def _bad(text: str, pos: int, problem: str) -> GitopsError:
    return GitopsError(f"invalid key path {text!r} at character {pos + 1}: {problem}")


def format_keypath(path: KeyPath) -> str:
    """The inverse of :func:`parse_keypath`, used in every message and Change."""
    out: list[str] = []
    for seg in path:
        if isinstance(seg, Key):
            if _BARE.fullmatch(seg.name):
                out.append(("." if out else "") + seg.name)
            else:
                import json  # a key that needs quoting is rare

                out.append(f"[{json.dumps(seg.name)}]")
        elif isinstance(seg, Index):
            out.append(f"[{seg.position}]")
        else:
            out.append(f"[{seg.field}={seg.value}]")
    return "".join(out)
