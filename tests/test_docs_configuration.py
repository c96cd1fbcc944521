"""docs/configuration.md is run and cannot fall behind the schema.

- Every ```yaml block is a whole gitops-tools.yaml and is read with ``parse_config``. When the next block is a
  ```text block starting with ``error:``, the file is wrong on purpose and that block is exactly the error
  (as the CLI prints it); otherwise it must parse.
- Every key of the loader's table (:func:`gitops_tools.config.schema.key_paths`) has a row in the table of
  keys, whose default cell shows the model's default; the complete example sets every key; the module
  docstring of :mod:`gitops_tools.config` names every key too.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import gitops_tools.config
from gitops_tools.config import parse_config
from gitops_tools.config.schema import key_paths
from gitops_tools.errors import ConfigError

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
TEXT = DOC.read_text(encoding="utf-8")


class Block(NamedTuple):
    line: int  # 1-based line of the opening fence
    lang: str
    body: str


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(`{3,}|~{3,})\s*(\S*)", lines[i])
        if not opening:
            i += 1
            continue
        fence, lang, start = opening.group(1), opening.group(2), i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        found.append(Block(start + 1, lang, "\n".join(body) + "\n"))
    return found


BLOCKS = blocks(TEXT)
YAML = [(block, following) for block, following in zip(BLOCKS, [*BLOCKS[1:], None]) if block.lang == "yaml"]


def expected_error(following: Block | None) -> str | None:
    if following is not None and following.lang == "text" and following.body.startswith("error:"):
        return following.body.rstrip("\n")
    return None


@pytest.mark.parametrize(("block", "following"), YAML, ids=[f"line-{block.line}" for block, _ in YAML])
def test_yaml_example(block: Block, following: Block | None) -> None:
    error = expected_error(following)
    if error is None:
        parse_config(block.body)
        return
    with pytest.raises(ConfigError) as info:
        parse_config(block.body)
    assert f"error: {info.value}" == error


def test_the_page_has_examples_of_both_kinds() -> None:
    assert sum(expected_error(following) is None for _, following in YAML) >= 3
    assert sum(expected_error(following) is not None for _, following in YAML) >= 3


# --- the table of keys -------------------------------------------------------------------------------------


def table() -> dict[str, list[str]]:
    """The rows of the table of keys: the key path, without its backticks, to the other cells."""
    rows: dict[str, list[str]] = {}
    for line in TEXT.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


SCHEMA = list(key_paths())
PATHS = [path for path, _, _ in SCHEMA]
# The keys as written in a file: "name" for environments[].name (the <image> and <environment> names excepted).
NAMES = sorted({path.rsplit(".", 1)[-1].removesuffix("[]") for path in PATHS if not path.endswith(">")})


def test_the_schema_is_what_the_docs_say_it_is() -> None:
    """A guard on key_paths itself: the documented paths are the schema's, in the same order."""
    assert PATHS == list(table())


@pytest.mark.parametrize("path", PATHS)
def test_every_key_has_a_row(path: str) -> None:
    assert path in table(), f"docs/configuration.md: no row for `{path}` in the table of keys"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


DEFAULTS = [
    (path, _yaml(f.default))
    for path, section, field in SCHEMA
    if dataclasses.is_dataclass(section.build) and not path.endswith(">")
    for f in dataclasses.fields(section.build)
    if f.name == field.name and f.default is not dataclasses.MISSING and isinstance(f.default, (bool, str, tuple))
    and f.default != ()
]


def test_defaults_are_checked() -> None:
    assert ("branch", "main") in DEFAULTS and ("policies.refuse_mutable_tags", "true") in DEFAULTS
    assert len(DEFAULTS) >= 10


@pytest.mark.parametrize(("path", "default"), DEFAULTS, ids=[path for path, _ in DEFAULTS])
def test_the_default_cell_shows_the_models_default(path: str, default: str) -> None:
    _, shown, _ = table()[path]
    assert shown == f"`{default}`"


def test_the_complete_example_sets_every_key() -> None:
    heading = TEXT.index("## A complete example")
    example = next(block for block, _ in YAML if TEXT.count("\n", 0, heading) < block.line)
    missing = [name for name in NAMES if not re.search(rf"^\s*(- )?{name}:", example.body, re.MULTILINE)]
    assert not missing
    assert parse_config(example.body).policies.min_age != ()


def test_the_module_docstring_names_every_key() -> None:
    doc = textwrap.dedent(gitops_tools.config.__doc__ or "")
    assert [name for name in NAMES if f"{name}:" not in doc] == []
