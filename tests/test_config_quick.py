"""The quick reading of gitops-tools.yaml (libyaml) takes only what ruamel.yaml reads the same way: on generated
documents full of YAML's traps, it either steps aside (None) or gives exactly ruamel.yaml's values; and a
configuration it reads is the very Config the careful reading builds."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.config.loader import careful_config, parse_config
from gitops_tools.config.quick import quick_tree
from gitops_tools.errors import ConfigError
from tests.conftest import ROOT

TOKENS = ["abc", "a b", "dev", "environments/dev", "https://gitlab.com/a/b.git", "/abs/path", "_x", "aegis/api",
          "yes", "no", "on", "off", "y", "n", "Yes", "ON", "true", "True", "TRUE", "false", "False", "tRuE",
          "null", "Null", "NULL", "~", "", "nan", "inf", "e5", "0", "007", "12", "-3", "+4", "1.4", "1.4.2", "0x1F",
          "0o17", "0b11", "1_000", "1e3", ".5", "0.", ".inf", "-.inf", ".nan", "2024-01-01", "2024-13-45",
          "2001-12-14t21:59:43.10-05:00", "12:30:00", "=", "<<", "-x", "'quoted'", '"dq"', "'yes'", '"12"',
          "!!str 12", "!!int '3'", "!!bool yes", "!custom x", "&a x", "*a", "[]", "{}", "[a, 1, true]", "{k: v}",
          "'it''s'", '"tab\\there"', "|\n  block", ">-\n  folded"]
KEYS = ["name", "path", "repo_url", "protected", "yes", "1", "true", "null", "<<", "'quoted key'", "a b", "x"]


def plain(value: Any) -> Any:
    """ruamel.yaml's round-trip values as plain Python (its scalar types are subclasses of the plain ones)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if value is None or isinstance(value, (datetime.date, datetime.datetime)):
        return value
    return ("other", type(value).__name__, str(value))


def careful_tree(text: str) -> Any:
    import warnings

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a generated document may define an anchor twice: ruamel.yaml warns
        return plain(yaml.load(text))


def block(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out += [f"{pad}{k}:", *block(v, indent + 2)]
            else:
                out.append(f"{pad}{k}: {v}".rstrip() if "\n" not in str(v) else
                           f"{pad}{k}: " + str(v).replace("\n", "\n" + pad + "  "))
        return out
    out = []
    for v in value:
        if isinstance(v, (dict, list)) and v:
            inner = block(v, indent + 2)
            out += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
        else:
            out.append(f"{pad}- {v}".rstrip() if "\n" not in str(v) else
                       f"{pad}- " + str(v).replace("\n", "\n" + pad + "  "))
    return out


documents = st.recursive(
    st.sampled_from(TOKENS),
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=4),
                            st.lists(st.tuples(st.sampled_from(KEYS), inner), min_size=1, max_size=4)
                            .map(lambda pairs: dict(pairs) if len(pairs) < 3 else {**dict(pairs[:-1]),
                                                                                   f"{pairs[0][0]}": pairs[-1][1]})),
    max_leaves=12,
).filter(lambda v: isinstance(v, dict))


def render(doc: dict[str, Any], repeat: bool) -> str:
    lines = block(doc, 0)
    if repeat and lines:  # a repeated top-level key
        lines.append(lines[0])
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans())
def test_the_quick_reading_steps_aside_or_agrees_with_ruamel(doc: dict[str, Any], repeat: bool) -> None:
    text = render(doc, repeat)
    quick = quick_tree(text)
    try:
        careful = careful_tree(text)
    except Exception:  # ruamel.yaml refuses the text (syntax, repeated key, bad date): so must the quick reading
        assert quick is None, text
        return
    if quick is not None:
        assert quick == careful, text


@pytest.mark.parametrize("text, expected", [
    ("version: 1\nenvironments:\n  - name: dev\n    protected: true\n  - name: prod\n",
     {"version": 1, "environments": [{"name": "dev", "protected": True}, {"name": "prod"}]}),
    ("a: yes\nb: 'on'\nc: ~\nd: https://x.example/a:b\n", {"a": "yes", "b": "on", "c": None,
                                                          "d": "https://x.example/a:b"}),
])
def test_plain_documents_are_read_quickly(text: str, expected: Any) -> None:
    assert quick_tree(text) == expected == careful_tree(text)


@pytest.mark.parametrize("text", ["a: 1.4\n", "a: 0x1F\n", "a: 2024-01-01\n", "a: !!str 12\n", "a: &x 1\nb: *x\n",
                                  "a: 1\na: 2\n", "<<: {a: 1}\n", "%YAML 1.2\n---\na: 1\n", "a: [1\n",
                                  "a: 007\n", "1: a\n", "a: !!set {x}\n", "", "a: .inf\n"])
def test_anything_else_is_left_to_the_careful_reading(text: str) -> None:
    assert quick_tree(text) is None


def test_the_repositorys_configuration_is_the_same_config_either_way() -> None:
    text = (ROOT / "gitops-tools.yaml").read_text()
    assert quick_tree(text) is not None
    assert parse_config(text) == careful_config(text)


def test_a_problem_the_walker_finds_is_reported_by_the_careful_reading_with_its_position() -> None:
    text = "environments:\n  - name: dev\n    protected: maybe\n"
    assert quick_tree(text) is not None
    with pytest.raises(ConfigError) as quick_err:
        parse_config(text)
    with pytest.raises(ConfigError) as careful_err:
        careful_config(text)
    assert str(quick_err.value) == str(careful_err.value)
    assert (quick_err.value.line, quick_err.value.column) == (3, 16)


def test_the_quick_reading_imports_no_ruamel(tmp_path: Path) -> None:
    from tests.test_startup import imported_modules
    from tests.conftest import make_checkout

    root = make_checkout(tmp_path / "repo", {
        "gitops-tools.yaml": "environments:\n  - name: dev\n",
        "environments/dev/kustomization.yaml": "images:\n  - name: a/b\n    newTag: v1\n",
    })
    loaded = imported_modules("image", "set", "dev", "a/b=*:v2", "--dry-run", cwd=root)
    assert "gitops_tools.config.quick" in loaded and "ruamel" not in loaded
