"""One generic walker: checks a loaded ruamel round-trip tree against the table of :mod:`.schema` and builds the
model from it, raising a :class:`ConfigError` with the file, 1-based line and column and key path of the value.

It never imports ruamel.yaml: it reads the positions ruamel keeps on every mapping and list (``.lc``), and is
given the two ruamel types that need special handling (anchored booleans are ``ScalarBoolean``, an ``int``
subclass, not ``bool``; ``!!str 12`` is a ``TaggedScalar``) by :func:`~gitops_tools.config.loader.parse_config`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NoReturn

from gitops_tools.config.messages import join, key_text, quote, suggest
from gitops_tools.config.schema import (
    Bool,
    Field,
    Int,
    Invalid,
    ListOf,
    MapOf,
    Section,
    Spec,
    Str,
    Unique,
    nested_homes,
)
from gitops_tools.errors import ConfigError

Pos = tuple[int | None, int | None]

# The line breaks ruamel.yaml counts when it reports a line number.
_LINE_BREAK_RE = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


class At:
    """Where a value is: its key path (``environments[1].protected``; "" for the whole file) and position.

    The 1-based line and column are looked up when a message needs them: most values are fine, and asking
    ruamel for the position of each one doubled the time the walk takes over a thousand environments.
    """

    __slots__ = ("_locate", "_pos", "path")

    def __init__(self, path: str, locate: Callable[[], Pos]) -> None:
        self.path = path
        self._locate = locate
        self._pos: Pos | None = None

    @property
    def pos(self) -> Pos:
        if self._pos is None:
            self._pos = self._locate()
        return self._pos

    def renamed(self, path: str) -> At:
        """The same place under another key path."""
        return At(path, self._locate)


_OMIT: Any = object()  # what an empty value reads as where it means "the default": the key is not passed on


class Walker:
    """Reads one document; ``key`` arguments are the key a value sits under, None for a list item."""

    def __init__(self, text: str, filename: str, *, scalar_bool: type, tagged: type) -> None:
        self.lines = _LINE_BREAK_RE.split(text)
        self.filename = filename
        self.scalar_bool = scalar_bool
        self.tagged = tagged
        self.top: dict[str, Any] = {}  # the top-level values read so far (OneOf.choices looks at them)
        # per Unique: the identity of each entry read so far -> (its fields, its key path, where the value is)
        self.seen: dict[Unique, dict[tuple[Any, ...], tuple[dict[str, Any], str, At]]] = {}

    def document(self, data: Any, schema: Section) -> Any:
        """The model built from ``data``, the loaded document, checked against ``schema``."""
        pos = self.node_pos(data)
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"expected a mapping at the top of the file, got {self.describe(self.unwrap(data))}",
                file=self.filename,
                line=pos[0] if pos[0] is not None else 1,
                column=pos[1] if pos[0] is not None else 1,
                fix='write "key: value" lines, starting with "environments:"',
            )
        self.top["source"] = self.filename
        return self.fields(data, At("", lambda: pos), schema, self.top, nested_homes(schema))

    # ---- positions (ruamel keeps 0-based line/column on every CommentedMap/CommentedSeq) -------------------

    @staticmethod
    def node_pos(node: Any) -> Pos:
        lc = getattr(node, "lc", None)
        if lc is None or getattr(lc, "line", None) is None:
            return None, None
        return int(lc.line) + 1, int(lc.col) + 1

    def key_pos(self, mapping: Any, key: object) -> Pos:
        try:
            line, col = mapping.lc.key(key)
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.node_pos(mapping)  # a key that came in through a "<<" merge has no position of its own
        return int(line) + 1, int(col) + 1

    def value_pos(self, mapping: Any, key: object) -> Pos:
        if mapping[key] is None:  # for an empty value ruamel points at the next token; the key is clearer
            return self.key_pos(mapping, key)
        try:
            line, col = mapping.lc.value(key)
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.key_pos(mapping, key)
        return int(line) + 1, int(col) + 1

    def item_pos(self, seq: Any, index: int) -> Pos:
        try:
            line, col = seq.lc.item(index)
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.node_pos(seq)
        return int(line) + 1, int(col) + 1

    def fail(self, problem: str, fix: str, at: At) -> NoReturn:
        raise ConfigError(problem, file=self.filename, line=at.pos[0], column=at.pos[1], key=at.path, fix=fix)

    # ---- what a value is -----------------------------------------------------------------------------------

    def unwrap(self, value: Any) -> Any:
        """``!!str 12`` arrives as a TaggedScalar; it is the string "12".  Other tags stay wrapped (and are refused)."""
        if isinstance(value, self.tagged) and str(getattr(value, "tag", "")) == "tag:yaml.org,2002:str":
            return str(getattr(value, "value", ""))
        return value

    def is_bool(self, value: Any) -> bool:
        return isinstance(value, (bool, self.scalar_bool))

    def is_scalar(self, value: Any) -> bool:
        """A boolean, number or date: a value that becomes the intended string once quoted."""
        import datetime  # here and below: only errors need it

        return self.is_bool(value) or isinstance(value, (int, float, datetime.date))

    def describe(self, value: Any) -> str:
        import datetime

        if value is None:
            return "an empty value (null)"
        if self.is_bool(value):
            return f"the boolean {'true' if value else 'false'}"
        if isinstance(value, int):
            return f"the integer {int(value)}"
        if isinstance(value, float):
            return f"the number {float(value)!r}"
        if isinstance(value, str):
            return f"the string {quote(str(value))}"
        if isinstance(value, datetime.datetime):
            return f"the timestamp {value.isoformat()}"
        if isinstance(value, datetime.date):
            return f"the date {value.isoformat()}"
        if isinstance(value, Mapping):
            return "a mapping"
        if isinstance(value, (bytes, bytearray)):
            return "binary data"
        if isinstance(value, Sequence):
            return "a list"
        if isinstance(value, self.tagged):
            return f"a value tagged {getattr(value, 'tag', '?')}"
        return f"a value of type {type(value).__name__}"  # pragma: no cover - every YAML value is handled above

    def source_token(self, value: Any, pos: Pos) -> str:
        """The scalar as written (``0x1F``, ``2024-01-01``), for the "quote it" hint; a rendering as fallback."""
        import datetime

        line, column = pos
        if line is not None and column is not None and 0 < line <= len(self.lines):
            token = re.split(r"[,\]}#]|:(?=\s|$)", self.lines[line - 1][column - 1 :], maxsplit=1)[0].strip()
            if token and token[0] not in "&*!'\"":
                return token
        if self.is_bool(value):
            return "true" if value else "false"
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        return str(value)

    # ---- reading a value by its spec -----------------------------------------------------------------------

    def read(self, value: Any, at: At, key: str | None, spec: Spec) -> Any:
        if isinstance(spec, Bool):
            return self.boolean(value, at)
        if isinstance(spec, Int):
            return self.integer(value, at, spec)
        if isinstance(spec, Str):
            return self.string(value, at, key, spec)
        if isinstance(spec, ListOf):
            return self.sequence(value, at, spec)
        if isinstance(spec, MapOf):
            return self.names(value, at, key, spec)
        return self.section(value, at, key, spec, {})

    def checked(self, check: Callable[[Any], Any] | None, value: Any, at: At) -> Any:
        """``check(value)``, with an :class:`Invalid` it raises made a :class:`ConfigError` at ``at``."""
        try:
            return check(value) if check is not None else value
        except Invalid as exc:
            self.fail(exc.problem, exc.fix, at)

    def boolean(self, value: Any, at: At) -> bool:
        value = self.unwrap(value)
        if self.is_bool(value):
            return bool(value)
        self.fail(f"expected a boolean (true or false), got {self.describe(value)}", "write true or false", at)

    def integer(self, value: Any, at: At, spec: Int) -> int:
        value = self.unwrap(value)
        if isinstance(value, int) and not self.is_bool(value):
            return int(self.checked(spec.check, int(value), at))
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            fix = f"remove the quotes: {value.strip()}"
        else:
            fix = "write a whole number such as 1"
        self.fail(f"expected an integer, got {self.describe(value)}", fix, at)

    def string(self, value: Any, at: At, key: str | None, spec: Str) -> Any:
        value = self.unwrap(value)
        if isinstance(value, str):
            text = str(self.checked(spec.check, str(value), at))
            if spec.one_of is not None:
                choices = spec.one_of.choices(self.top)
                if text not in choices:
                    self.fail(f"unknown {spec.one_of.what} {quote(text)}",
                              suggest(text, choices, spec.one_of.label), at)
            return text
        if value is None and spec.nullable:
            return _OMIT
        if spec.type_fix is not None:
            fix = spec.type_fix
        elif value is None and key is not None:
            fix = f'write a value after "{key}:"'
        elif self.is_scalar(value):
            fix = f'quote it: "{self.source_token(value, at.pos)}"'
        elif key is None:
            fix = spec.other_fix or "write a string"
        else:
            fix = f'write a single string after "{key}:"'
        self.fail(f"expected {spec.expected}, got {self.describe(value)}", fix, at)

    def sequence(self, value: Any, at: At, spec: ListOf) -> Any:
        if value is None:
            if spec.null_fix is not None:
                self.fail("expected a list, got an empty value (null)", spec.null_fix, at)
            if spec.empty is None:
                return _OMIT
        elif not isinstance(value, Sequence) or isinstance(value, (str, bytes, bytearray)):
            self.fail(f"expected a list, got {self.describe(self.unwrap(value))}",
                      'write one "- item" per line below the key, or [a, b] on one line', at)
        if not value and spec.empty is not None:
            self.fail(*spec.empty, at)
        return tuple(
            self.read(item, At(f"{at.path}[{index}]", partial(self.item_pos, value, index)), None, spec.item)
            for index, item in enumerate(value)
        )

    def names(self, value: Any, at: At, key: str | None, spec: MapOf) -> Any:
        """A mapping from names the user chooses: (name, value) pairs, or Sections built with the name."""
        if value is None:
            return _OMIT
        if not isinstance(value, Mapping):
            self.fail(f"expected a mapping, got {self.describe(self.unwrap(value))}",
                      f'write "key: value" lines indented below "{key}:"', at)
        result: list[Any] = []
        for name in value:
            name_at = At(join(at.path, key_text(name)), partial(self.key_pos, value, name))
            if not isinstance(name, str):
                self.fail(f"expected an {spec.label} name (a string) as the key, got {self.describe(name)}",
                          f'quote it: "{self.source_token(name, name_at.pos)}"', name_at)
            self.string(name, name_at, None, spec.key)
            value_at = At(name_at.path, partial(self.value_pos, value, name))
            if spec.key_field is not None and isinstance(spec.value, Section):
                result.append(self.section(value[name], value_at, name, spec.value, {spec.key_field: name}))
            else:
                result.append((name, self.read(value[name], value_at, name, spec.value)))
        return tuple(result)

    def section(self, value: Any, at: At, key: str | None, spec: Section, values: dict[str, Any]) -> Any:
        if value is None and key is not None:  # an optional section left empty: its defaults
            value = {}
        if not isinstance(value, Mapping):
            fix = spec.fix(self.unwrap(value)) if callable(spec.fix) else spec.fix.format(key=key)
            self.fail(f"expected a mapping, got {self.describe(self.unwrap(value))}", fix, at)
        return self.fields(value, at, spec, values, {})

    def fields(self, mapping: Any, at: At, spec: Section, values: dict[str, Any], homes: dict[str, str]) -> Any:
        """Check the keys of ``mapping``, read each field of ``spec`` into ``values`` and build the model."""
        self.check_keys(mapping, spec, at.path, homes)
        for field in spec.fields:
            if field.name in mapping:
                where = At(join(at.path, field.name), partial(self.value_pos, mapping, field.name))
                value = self.read(mapping[field.name], where, field.name, field.spec)
            elif field.required is not None:
                self.fail(f"missing required key {quote(field.name)}", f"add {field.required}",
                          at.renamed(at.path or field.name))
            elif field.default is not None:
                value, where = field.default(values), at
            else:
                continue
            if value is _OMIT:
                continue
            if field.unique is not None:
                self.check_unique(field, field.unique, value, values, where, at.path)
            if field.keep:
                values[field.name] = value
        return spec.build(**values)

    def check_keys(self, mapping: Any, spec: Section, path: str, homes: dict[str, str]) -> None:
        """Refuse unknown keys, suggesting the closest allowed one (or where a key from one level down goes)."""
        allowed = [field.name for field in spec.fields]
        refused = {key: (problem, fix) for key, problem, fix in spec.refused}
        for key in mapping:
            if isinstance(key, str) and key in allowed:
                continue
            text = key_text(key)
            if text in refused:
                self.fail(*refused[text], At(join(path, text), partial(self.key_pos, mapping, key)))
            if text in homes:
                fix = f"{quote(text)} belongs under {homes[text]}; keys allowed here: {', '.join(allowed)}"
            else:
                fix = suggest(text if isinstance(key, str) else None, allowed, "keys allowed here")
            self.fail(f"unknown key {quote(text)}", fix, At(join(path, text), partial(self.key_pos, mapping, key)))

    def check_unique(self, field: Field, unique: Unique, value: Any, values: dict[str, Any], at: At,
                     entry: str) -> None:
        seen = self.seen.setdefault(unique, {})
        identity = (*(values[name] for name in unique.with_), value)
        current = {**values, field.name: value}
        if identity in seen:
            first, first_entry, first_at = seen[identity]
            self.fail(unique.problem.format(**_quoted(current)),
                      unique.fix.format(**_quoted(first), first=first_entry, line=first_at.pos[0]), at)
        seen[identity] = (current, entry, at)


def _quoted(values: Mapping[str, Any]) -> dict[str, str]:
    """The string fields of an entry, quoted, for the messages of :class:`Unique`."""
    return {name: quote(value) for name, value in values.items() if isinstance(value, str)}
