"""Read the text of ``gitops-tools.yaml`` into a :class:`~gitops_tools.config.model.Config`.

YAML 1.2 with ruamel.yaml (positions for every key; ``yes`` stays a string), refusing what YAML would let
through silently: a duplicate key, a ``%YAML 1.1`` directive, a second document, a date that is no date.  The
loaded tree is then checked against the table of :mod:`.schema` by the walker of :mod:`.walker`.

This is the only module of the package that imports ruamel.yaml, and it does so inside the functions, because
most CLI commands never read the configuration and importing ruamel costs start-up time. A plain document is read
by :mod:`.quick` (libyaml) instead, and ruamel.yaml only where that reading is unsure or finds a problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops_tools.config.messages import join, quote
from gitops_tools.config.model import CONFIG_FILE, Config
from gitops_tools.config.schema import CONFIG
from gitops_tools.config.walker import Walker
from gitops_tools.errors import ConfigError

_YAML_DIRECTIVE_RE = re.compile(r"^%YAML[ \t]+(\S+)", re.MULTILINE)


def parse_config(text: str, filename: str = CONFIG_FILE) -> Config:
    """Parse the text of ``gitops-tools.yaml``; ``filename`` is only used in error messages and ``source``.

    Raises :class:`ConfigError` for invalid YAML, an empty file and every schema violation.
    """
    from gitops_tools.config.quick import quick_tree
    from gitops_tools.core.yamldoc import check_size

    check_size(text, filename)
    _refuse_other_yaml_versions(text, filename)
    tree = quick_tree(text)
    if tree is not None:  # plain YAML, read by libyaml as ruamel.yaml would read it
        try:
            quick: Config = Walker(text, filename, scalar_bool=_Never, tagged=_Never).document(tree, CONFIG)
            return quick
        except ConfigError:
            pass  # the careful reading finds the same problem, with its line and column
    return careful_config(text, filename)


def careful_config(text: str, filename: str = CONFIG_FILE) -> Config:
    """:func:`parse_config` with ruamel.yaml alone (positions for every error); the text's size and YAML version
    already checked."""
    from ruamel.yaml.comments import TaggedScalar
    from ruamel.yaml.scalarbool import ScalarBoolean

    try:
        data = _load(text, filename)
        walker = Walker(text, filename, scalar_bool=ScalarBoolean, tagged=TaggedScalar)
        config: Config = walker.document(data, CONFIG)
    except RecursionError:  # ruamel.yaml composes recursively: a few thousand nested brackets exhaust the stack
        raise ConfigError("invalid YAML: nested too deeply", file=filename,
                          fix="the configuration is a few levels deep: check the file") from None
    return config


class _Never:
    """A type no value of the quick reading has (it has no ruamel.yaml scalar types)."""


def _load(text: str, filename: str) -> Any:
    """The round-trip tree of the one document in ``text``; a :class:`ConfigError` where YAML refuses it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    # A fresh instance per call: a "%YAML" directive changes the resolver of the instance that read it.
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except DuplicateKeyError as exc:
        raise _duplicate_key_error(exc, text, filename) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, filename) from None
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for everything it reports
        raise ConfigError(f"invalid YAML: {exc}", file=filename, fix="fix the YAML syntax") from None
    except ValueError as exc:
        # The constructor refuses a plain scalar that looks like a date but is not one (2024-13-45).
        raise _bad_timestamp_error(exc, text, filename) from None
    if data is None and _is_empty_document(text):
        raise ConfigError("the file is empty", file=filename, line=1,
                          fix="delete it to use the defaults or list the environments")
    return data


def _refuse_other_yaml_versions(text: str, filename: str) -> None:
    """Refuse ``%YAML 1.1``: under 1.1 ``yes``/``no``/``on``/``off`` are booleans, which this file must not mean."""
    for match in _YAML_DIRECTIVE_RE.finditer(text):
        if match.group(1) != "1.2":
            line = text.count("\n", 0, match.start()) + 1
            raise ConfigError(
                f"YAML version {match.group(1)} is not supported",
                file=filename,
                line=line,
                column=1,
                fix=f'delete the "%YAML {match.group(1)}" line; this file is read as YAML 1.2',
            )


def _mark_position(mark: Any) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    return int(mark.line) + 1, int(mark.column) + 1


def _syntax_error(exc: Any, filename: str) -> ConfigError:
    problem = str(exc.problem or exc.context or "cannot parse the file")
    line, column = _mark_position(exc.problem_mark or exc.context_mark)
    context = exc.context
    if context and exc.context_mark is not None and exc.problem_mark is not None:
        ctx_line, _ = _mark_position(exc.context_mark)
        if ctx_line != line:
            context = f"{context} started on line {ctx_line}"
    text = f"invalid YAML: {problem}" + (f" ({context})" if context and exc.problem else "")
    if "\\t" in problem:
        fix = "indent with spaces; YAML does not allow tabs for indentation"
    elif "another document" in problem:
        text = "invalid YAML: the file holds more than one document"
        fix = 'keep a single document: remove the second "---" and what follows, or merge the two'
    elif "undefined alias" in problem:
        fix = "define the anchor (&name) before using the alias (*name), or write the value out"
    else:
        fix = "fix the YAML syntax at this position (check indentation, quotes, brackets and colons)"
    return ConfigError(text, file=filename, line=line, column=column, fix=fix)


def _nodes(text: str) -> Iterator[tuple[str, Any]]:
    """Every node of the composed document (mapping keys included) with its key path, each node once.

    Composing neither checks for duplicate keys nor constructs values, so it succeeds where loading failed.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    def walk(node: Any, path: str, seen: set[int]) -> Iterator[tuple[str, Any]]:
        if id(node) in seen:  # aliases can make the tree a graph
            return
        seen.add(id(node))
        yield path, node
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                child = join(path, str(key_node.value))
                yield from walk(key_node, child, seen)
                yield from walk(value_node, child, seen)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                yield from walk(item, f"{path}[{index}]", seen)

    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError:  # pragma: no cover - the text composed fine before the constructor refused it
        return
    if root is not None:
        yield from walk(root, "", set())


def _duplicate_key_error(exc: Any, text: str, filename: str) -> ConfigError:
    """Name the repeated key and where it first appeared; the key path comes from the composed node tree."""
    from ruamel.yaml.nodes import MappingNode

    line, column = _mark_position(exc.problem_mark)
    match = re.match(r'found duplicate key "(.*)" with value', str(exc.problem), re.DOTALL)
    key_text = match.group(1) if match else "?"
    path: str | None = None
    first_line: int | None = None
    for node_path, node in _nodes(text):
        if not isinstance(node, MappingNode):
            continue
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            name = str(key_node.value)
            key_line, key_column = _mark_position(key_node.start_mark)
            if name in first and (key_line, key_column) == (line, column):
                path, first_line = join(node_path, name), first[name]
            first.setdefault(name, key_line or 0)
    where = f" (the first is on line {first_line})" if first_line is not None else ""
    return ConfigError(
        f"duplicate key {quote(key_text)}",
        file=filename,
        line=line,
        column=column,
        key=path,
        fix=f"keep one {quote(key_text)} entry{where}; a repeated key would silently override the first",
    )


def _bad_timestamp_error(exc: ValueError, text: str, filename: str) -> ConfigError:
    """Locate the date-like scalar the constructor refused (it raises a bare ValueError without a position)."""
    from ruamel.yaml.nodes import ScalarNode

    found = [node for _, node in _nodes(text)
             if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp"]
    bad = next((node for node in found if not _is_real_date(str(node.value))), found[0] if found else None)
    if bad is None:  # pragma: no cover - only timestamps raise ValueError during construction
        return ConfigError(f"invalid value: {exc}", file=filename, fix="fix the value")
    line, column = _mark_position(bad.start_mark)
    return ConfigError(
        f"invalid date {quote(str(bad.value))}: {exc}",
        file=filename,
        line=line,
        column=column,
        fix=f'quote it if it is not meant as a date: "{bad.value}"',
    )


def _is_real_date(value: str) -> bool:
    import datetime

    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", value)
    if not match:
        return False
    try:
        datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return False
    return True


def _is_empty_document(text: str) -> bool:
    """True when the stream has no document or only an empty one ("", comments, a bare "---")."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode

    node = YAML(typ="rt").compose(text)
    return node is None or (
        isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value == ""
    )
