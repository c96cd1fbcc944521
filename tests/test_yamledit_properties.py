"""Property tests for the format-preserving editor (DESIGN §3.3): quoting, in-place bumps, added entries, refusals.

What is checked, and against what:

* ``needs_quotes`` / ``render_scalar``: the written value loads back as the same string with PyYAML (YAML 1.1)
  and ruamel.yaml (YAML 1.2); plain stays plain when every loader reads a string (no over-quoting); tags
  written by the package render through the real ``kubectl kustomize`` unchanged.  kustomize reads YAML
  with Go's YAML resolver, which neither Python loader imitates, so a small model of it
  (:func:`go_yaml_non_string`) is checked against the real kustomize here and then used as a fast oracle.
* ``set_images`` on generated kustomizations (comments, blank lines, ``---``, CRLF, no final newline, both
  list indentations, quote styles, anchors, same-line comments, null values): a bump replaces exactly the
  bytes of one scalar; an added entry keeps every original line; a cleared digest leaves the rest alone.
* ``image set`` refuses invalid SPECs with ``error: invalid image spec`` and writes nothing.

Bugs these properties found (Go number forms such as ``0X1F`` and ``1e1_0`` left unquoted, offsets shifted by a
byte-order mark, control characters reported without a position) are fixed; their tests stay as regressions.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gitops_tools.errors import GitopsError, YamlError
from gitops_tools.core.kustomize import KustImage, desired, parse_spec, read_kustomization, set_images
from gitops_tools.core.reference import validate_name
from gitops_tools.core.yamldoc import Mapping, Scalar, parse_documents
from gitops_tools.core.yamledit import needs_quotes, render_scalar
from tests.conftest import kubectl, tree_bytes
from tests.conftest import run_in_process as run_cli

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_RUAMEL = YAML(typ="safe", pure=True)


# --- oracles -------------------------------------------------------------------------------------------------


def load_pyyaml(text: str) -> object:
    return yaml.safe_load(text)


def load_ruamel(text: str) -> object:
    return _RUAMEL.load(text)


def loads_back(doc: str, want: object) -> tuple[bool, object, object]:
    """(both loaders give ``want``, what PyYAML gave, what ruamel gave); a loader error counts as a miss."""
    got = []
    for load in (load_pyyaml, load_ruamel):
        try:
            got.append(load(doc))
        except Exception as err:  # noqa: BLE001 - any failure to load is the finding
            got.append(f"{type(err).__name__}: {err}")
    return got[0] == want and got[1] == want, got[0], got[1]


# Bools and nulls of the Go YAML library behind kustomize (sigs.k8s.io/yaml reads `y`/`yes`/`on` as bools).
_GO_WORDS = {
    "", "~", "null", "Null", "NULL", "<<",
    *"y Y yes Yes YES on On ON true True TRUE n N no No NO off Off OFF false False FALSE".split(),
    *(s + v for s in ("", "+", "-") for v in (".inf", ".Inf", ".INF")), ".nan", ".NaN", ".NAN",
}
_GO_INT = re.compile(r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def go_yaml_non_string(s: str) -> bool:
    """Whether a PLAIN scalar ``s`` is read as a bool, null, int or float by kustomize's Go YAML resolver.

    A model of go-yaml's ``resolve()``: words from a table; text starting with a sign or digit has every ``_``
    removed and is then tried with Go's ``strconv.ParseInt(s, 0, 64)`` / ``ParseUint`` (which accept the
    prefixes ``0x``, ``0o``, ``0b`` in either case, and a leading ``0`` as octal), then as a float when it
    matches ``yamlStyleFloat`` (an overflow to ±Inf is an error there, so such text stays a string); text
    starting with ``.`` goes to ``ParseFloat`` as it is.  :func:`test_go_yaml_model_matches_kustomize`
    holds this against the real kustomize.
    """
    if s in _GO_WORDS:
        return True
    if not s or s[0] not in "+-.0123456789":
        return False
    if s[0] == ".":
        return bool(re.fullmatch(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?", s)) and math.isfinite(float(s))
    plain = s.replace("_", "")
    m = _GO_INT.fullmatch(plain)
    if m:
        sign, hexa, octal, binary, old_octal, decimal = m.groups()
        if hexa is not None:
            value = int(hexa, 16)
        elif octal is not None:
            value = int(octal, 8)
        elif binary is not None:
            value = int(binary, 2)
        elif old_octal is not None:  # `0`, `017`: a leading 0 means octal (`08` falls through to the float)
            value = int(old_octal or "0", 8)
        else:
            value = int(decimal)
        if sign == "-":
            value = -value
        if -(2**63) <= value < 2**63 or (not sign and 0 <= value < 2**64):  # else Go's ErrRange: try a float
            return True
    if _GO_FLOAT.fullmatch(plain):
        return math.isfinite(float(plain))
    return False


def known_quoting_bug(s: str) -> bool:
    """A value the loaders (or kustomize) misread while needs_quotes leaves it plain: must never happen."""
    if needs_quotes(s):
        return False
    return go_yaml_non_string(s) or bool(re.fullmatch(r"(?:[-+]\.?|\.)_[0-9_]*(?:[eE][-+]?[0-9]+)?", s))


# --- needs_quotes / render_scalar ----------------------------------------------------------------------------

IMAGE_CHARS = "ABCDEFXYZabcdefoxyz0123456789._:/@+-"
TAG_CHARS = "ABEOXabeox0123456789_.-"
YAML_SPECIALS = " #'\"!&*[]{},?|>%`~=<:\t\n\r\\\x85\u2028\ufeff\x00\x7f\u00a0é😀"
ANY_TEXT = st.one_of(
    st.text(alphabet=IMAGE_CHARS, max_size=16),  # the image-reference alphabet, heavily
    st.text(alphabet=IMAGE_CHARS, max_size=16),
    st.text(alphabet=TAG_CHARS, min_size=1, max_size=8),  # number-like tags
    st.text(alphabet=IMAGE_CHARS + YAML_SPECIALS, max_size=12),
    st.text(max_size=12),  # anything at all
)
TAG_LIKE = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.text(alphabet=TAG_CHARS, min_size=1, max_size=8).filter(lambda s: s[0] not in ".-"),
)

MUST_STAY_PLAIN = [
    "1.4.2", "v1.10", "sha256:abc", "latest", "v1", "1.0.0-rc.1", "1.2.3+build.5", "1.2.3.4", "1.10.0", "0.0.1",
    "v0", "x1", "e3", "1e", "1-2", "a_b", "CONTAINER_IMAGES_TAG", "main-3d9b390", "6.14.1", "stable-alpine",
    "foo/bar", "registry:5000/app", "app@sha256", "a:b", "-a", "a~", "1.e", "nul", "yess", "0x", "0b2",
]
MUST_BE_QUOTED = [
    "._E0", "+._1e5", "1.10", "18", "true", "null", "~", "1e3", "yes", "on", "0x1F", "0o17", "1_000", "12:30", "2024-01-01",
    ".inf", "=", "<<", "", "-", "*a", "&a", "!a", "a: b", "a #b", "[x]",
    "y", "N", "No", "OFF", "True", "NULL", ".NaN", "-.inf", "+1", "-1.5", "1.", ".5", "0b101", "017", "08",
    "1e-5", "1:20:30", "2024-01-01T10:00:00Z", "x:", "#x", "%x", "@x", "`x", "?x", "|x", ">x", "'x", '"x',
    "{x}", "a,b", " a", "a ", "a\tb", "a\nb", "\x00",
]


@pytest.mark.parametrize("value", MUST_STAY_PLAIN)
def test_valid_plain_values_are_not_quoted(value: str) -> None:
    assert not needs_quotes(value)
    assert render_scalar(value) == value
    ok, py, ru = loads_back(f"key: {value}\n", {"key": value})
    assert ok, (py, ru)


@pytest.mark.parametrize("value", MUST_BE_QUOTED)
def test_values_that_would_not_load_as_this_string_are_quoted(value: str) -> None:
    assert needs_quotes(value)
    rendered = render_scalar(value)
    assert rendered[0] == '"' and rendered[-1] == '"'
    ok, py, ru = loads_back(f"key: {rendered}\n", {"key": value})
    assert ok, (py, ru)


@SETTINGS
@given(value=ANY_TEXT, style=st.sampled_from(["", "'", '"']))
@example(value="1.10", style="")
@example(value="it's", style="'")
@example(value='say "hi" \\ now', style='"')
@example(value="line\nbreak", style="'")
def test_render_scalar_loads_back_as_the_same_string(value: str, style: str) -> None:
    """`key: <render_scalar(s)>` gives {"key": s} with PyYAML (YAML 1.1) and ruamel (YAML 1.2), as a str."""
    assert not known_quoting_bug(value)
    rendered = render_scalar(value, style)
    ok, py, ru = loads_back(f"key: {rendered}\n", {"key": value})
    assert ok, f"{rendered!r}: PyYAML gave {py!r}, ruamel gave {ru!r}"
    assert isinstance(load_pyyaml(f"key: {rendered}\n")["key"], str)  # type: ignore[index]
    if style == "" and not needs_quotes(value):
        assert rendered == value


@SETTINGS
@given(value=ANY_TEXT, style=st.sampled_from(["", "'", '"']))
def test_render_scalar_is_also_safe_in_flow_collections(value: str, style: str) -> None:
    """insert_key/append_item write render_scalar output into `{…}` and `[…]` too.

    Checked with the package's own parser (libyaml) and ruamel: the pure-Python PyYAML scanner ends a plain
    scalar at `?` inside flow collections (`{k: a?b}`), which libyaml, ruamel and Go all accept.
    """
    assert not known_quoting_bug(value)
    rendered = render_scalar(value, style)
    for doc, want in ((f"{{key: {rendered}, other: x}}\n", {"key": value, "other": "x"}),
                      (f"[{rendered}, x]\n", [value, "x"])):
        assert yaml.load(doc, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == want, doc
        assert load_ruamel(doc) == want, doc


@SETTINGS
@given(value=TAG_LIKE)
@example(value="1.4.2")
@example(value="v1.10")
def test_tag_like_values_are_quoted_only_when_some_reader_would_misread_them(value: str) -> None:
    """No over-quoting: a tag is quoted only when PyYAML, ruamel or kustomize's Go resolver reads it as a non-string."""
    assert not known_quoting_bug(value)
    plain_doc = f"key: {value}\n"
    ok, _, _ = loads_back(plain_doc, {"key": value})
    misread = not ok or go_yaml_non_string(value)
    assert needs_quotes(value) == misread, (value, needs_quotes(value), misread)
    assert (render_scalar(value) == value) == (not misread)


# kustomize refuses these with "json: cannot unmarshal number into Go struct field Image.images.newTag".
GO_NUMBERS_LEFT_PLAIN = ["0X1F", "0XAB", "0B1", "0O17", "-0X1F", "0_x1F", "1e1_0", "1e_5", "1E5_", "2e__2", "+_1"]


@SETTINGS
@given(value=st.sampled_from(GO_NUMBERS_LEFT_PLAIN) | TAG_LIKE)
@example(value="0X1F")
def test_values_kustomize_reads_as_numbers_are_quoted(value: str) -> None:
    if go_yaml_non_string(value):
        assert needs_quotes(value), value


RUAMEL_MISREADS_LEFT_PLAIN = ["._4", "+_", "-_", "._", "+_3"]


@pytest.mark.parametrize("value", RUAMEL_MISREADS_LEFT_PLAIN)
def test_values_ruamel_misreads_are_quoted(value: str) -> None:
    ok, py, ru = loads_back(f"key: {render_scalar(value)}\n", {"key": value})
    assert ok, (py, ru)


# --- the Go model against the real kustomize ------------------------------------------------------------------


def _render_tags(tmp: Path, values: list[str], *, raw: bool) -> subprocess.CompletedProcess[str]:
    """Render a Pod with one container per value through `images: newTag:` (raw: written plain as given)."""
    pod = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: p", "spec:", "  containers:"]
    kust = ["resources:", "- pod.yaml", "images:"]
    for i, value in enumerate(values):
        pod += [f"  - name: c{i}", f"    image: img{i}"]
        kust += [f"- name: img{i}", f"  newTag: {value if raw else render_scalar(value)}"]
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "pod.yaml").write_text("\n".join(pod) + "\n")
    (tmp / "kustomization.yaml").write_text("\n".join(kust) + "\n")
    return subprocess.run([kubectl(), "kustomize", str(tmp)], capture_output=True, text=True, check=False)


GO_MODEL_STRINGS = ["0x", "0b", "0b2", "._5", "1e400", "0XFFFFFFFFFFFFFFFFF", "2024-1-2", "1.2.3", "v1", "yess", "e5"]
GO_MODEL_NON_STRINGS = ["y", "N", "Yes", "off", "1.10", "18", "08", "09.5", ".5", "1.e5", "+.5", "1e-999", "0x_1F",
                        "18446744073709551616", "-9223372036854775809", *GO_NUMBERS_LEFT_PLAIN]


@pytest.mark.kubectl
def test_go_yaml_model_matches_kustomize(tmp_path: Path) -> None:
    """The model says string → kustomize renders `img:<value>`; the model says non-string → kustomize refuses."""
    assert not any(go_yaml_non_string(v) for v in GO_MODEL_STRINGS)
    done = _render_tags(tmp_path / "strings", GO_MODEL_STRINGS, raw=True)
    assert done.returncode == 0, done.stderr
    for i, value in enumerate(GO_MODEL_STRINGS):
        assert f"image: img{i}:{value}\n" in done.stdout
    for j, value in enumerate(GO_MODEL_NON_STRINGS):
        assert go_yaml_non_string(value), value
        done = _render_tags(tmp_path / f"n{j}", [value], raw=True)
        assert done.returncode != 0 and "cannot unmarshal" in done.stderr, (value, done.stdout, done.stderr)


@pytest.mark.kubectl
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(TAG_LIKE | st.sampled_from(MUST_STAY_PLAIN + MUST_BE_QUOTED).filter(
    lambda s: re.fullmatch(r"[\w][\w.-]{0,127}", s) is not None), min_size=1, max_size=40))
def test_tags_written_by_render_scalar_render_unchanged_in_kustomize(tmp_path_factory: pytest.TempPathFactory,
                                                                      values: list[str]) -> None:
    """Every tag the package writes comes out of the real `kubectl kustomize` as exactly that tag."""
    assert not any(known_quoting_bug(v) for v in values)
    assume(values)
    done = _render_tags(tmp_path_factory.mktemp("tags"), values, raw=False)
    assert done.returncode == 0, done.stderr
    for i, value in enumerate(values):
        assert f"image: img{i}:{value}\n" in done.stdout, value


@pytest.mark.kubectl
def test_image_set_with_a_go_number_tag_keeps_the_overlay_renderable(tmp_path: Path) -> None:
    work = tmp_path / "overlay"
    done = _render_tags(work, ["1.0.0"], raw=True)
    assert done.returncode == 0, done.stderr
    code, out, err = run_cli(tmp_path, "image", "set", str(work), "img0=*:0X1F")
    assert code == 0, out + err
    done = subprocess.run([kubectl(), "kustomize", str(work)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "image: img0:0X1F\n" in done.stdout


# --- generated kustomizations -------------------------------------------------------------------------------


class Field(NamedTuple):
    key: str
    value: str | None  # None: a null value (`newTag:`, `newTag: ~`, `newTag: null`)


class Entry(NamedTuple):
    name: str
    fields: tuple[Field, ...]  # in file order, `name` included

    def get(self, key: str) -> str | None:
        return next((f.value for f in self.fields if f.key == key), None)

    def has(self, key: str) -> bool:
        return any(f.key == key for f in self.fields)


class Doc(NamedTuple):
    text: str
    nl: str
    entries: tuple[Entry, ...]


def _valid_name(s: str) -> bool:
    try:
        validate_name(s)
    except GitopsError:
        return False
    return True


_COMPONENT = r"[a-z0-9]{1,6}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4})?"
IMAGE_NAMES = st.one_of(
    st.from_regex(rf"{_COMPONENT}", fullmatch=True),
    st.from_regex(rf"[a-z0-9]{{1,6}}(?:-[a-z0-9]{{1,4}})?/{_COMPONENT}(?:/{_COMPONENT})?", fullmatch=True),
    st.builds("{}/{}".format, st.sampled_from(["ghcr.io", "reg.example.com", "localhost:5000", "quay.io/org"]),
              st.from_regex(_COMPONENT, fullmatch=True)),
).filter(_valid_name)
OLD_TAGS = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}", fullmatch=True),
    st.sampled_from(["1.4.2", "v1.10", "1.10", "18", "latest", "true", "yes", "1e3", "2024-01-01"]),
)
NEW_TAGS = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.sampled_from(["1.10", "18", "true", "yes", "on", "null", "1e3", "0x1F", "1_000", "v1.10", "1.4.2"]),
).filter(lambda s: re.fullmatch(r"[\w][\w.-]{0,127}", s) is not None)
HEX = "0123456789abcdef"
DIGESTS = st.text(alphabet=HEX, min_size=64, max_size=64).map("sha256:{}".format)
COMMENT_TEXT = st.text(alphabet="abc XYZ-.:#'\"{}[]", max_size=12).map(lambda s: s.rstrip())


@st.composite
def scalar_text(draw: st.DrawFn, value: str, anchor: str | None) -> str:
    style = draw(st.sampled_from(["plain", "plain", "single", "double"]))
    if style == "plain" and needs_quotes(value):
        style = "double"
    text = {"plain": value, "single": "'" + value.replace("'", "''") + "'",
            "double": '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'}[style]
    if anchor:
        text = f"&{anchor} {text}"
    if draw(st.booleans()):
        text += draw(st.sampled_from(["", " ", "  "])) + " # " + draw(COMMENT_TEXT)
    elif draw(st.integers(0, 5)) == 0:
        text += " " * draw(st.integers(1, 2))  # trailing blanks after a value
    return text


@st.composite
def null_text(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", " ~", " null", " # none yet", "  # none"]))


@st.composite
def image_entries(draw: st.DrawFn) -> list[Entry]:
    names = draw(st.lists(IMAGE_NAMES, max_size=4, unique=True))
    entries = []
    for name in names:
        keys = ["name"] + [k for k in ("newName", "newTag", "digest") if draw(st.booleans())]
        keys = draw(st.permutations(keys))
        fields = []
        for key in keys:
            if key == "name":
                fields.append(Field(key, name))
            elif key != "name" and draw(st.integers(0, 6)) == 0:
                fields.append(Field(key, None))
            elif key == "newName":
                fields.append(Field(key, draw(IMAGE_NAMES)))
            elif key == "newTag":
                fields.append(Field(key, draw(OLD_TAGS)))
            else:
                fields.append(Field(key, draw(DIGESTS)))
        entries.append(Entry(name, tuple(fields)))
    return entries


@st.composite
def kustomization_docs(draw: st.DrawFn, *, allow_null_images: bool = True) -> Doc:
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    lines: list[str] = []
    anchors = iter(f"a{i}" for i in range(1000))

    def gap() -> None:
        for _ in range(draw(st.integers(0, 2))):
            lines.append(draw(st.sampled_from(["", "# " + draw(COMMENT_TEXT)])))

    if draw(st.booleans()):
        lines += ["# Copyright 2024 Example", "#", "# Licensed under the Apache License, Version 2.0"]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["---", "--- # kustomization"])))
    entries = draw(image_entries())
    seq_indent = draw(st.sampled_from([0, 2]))  # `- name` at the key's column, or indented
    dash_gap = draw(st.sampled_from([1, 1, 3]))  # blanks after the dash
    sections = ["apiVersion", "kind", "resources", "images", "labels", "namespace", "patches"]
    sections = draw(st.permutations(sections))
    if not entries and (not allow_null_images or draw(st.booleans())):
        sections = [s for s in sections if s != "images"]
    for section in sections:
        gap()
        if section == "apiVersion":
            lines.append("apiVersion: kustomize.config.k8s.io/v1beta1")
        elif section == "kind":
            lines.append("kind: Kustomization")
        elif section == "namespace":
            lines.append("namespace: " + draw(scalar_text("aegis-dev", None)))
        elif section == "resources":
            lines.append("resources:")
            lines += [" " * seq_indent + "- " + r for r in ("deployment.yaml", "../base")]
        elif section == "labels":
            lines += ["labels:", "- pairs:", "    app: api", "    version: '18'"]
        elif section == "patches":
            lines += ["patches:", "- patch: |-", "    - op: replace", "      path: /spec/image",
                      "      value: newTag: v0.0.1 # not an image entry", "  target:", "    kind: Deployment"]
        else:
            if not entries:
                lines.append("images:" + draw(null_text()))
                continue
            lines.append("images:" + draw(st.sampled_from(["", "", " # pinned by CI"])))
            dash = " " * seq_indent + "-" + " " * dash_gap
            inner = " " * len(dash)
            for n, entry in enumerate(entries):
                if n and draw(st.booleans()):
                    lines.append(draw(st.sampled_from(["", " " * seq_indent + "# next image", "# at column 0"])))
                for i, field in enumerate(entry.fields):
                    prefix = dash if i == 0 else inner
                    if field.value is None:
                        lines.append(f"{prefix}{field.key}:{draw(null_text())}")
                        continue
                    anchor = next(anchors) if draw(st.integers(0, 5)) == 0 else None
                    lines.append(f"{prefix}{field.key}: {draw(scalar_text(field.value, anchor))}")
    gap()
    text = nl.join(lines)
    if draw(st.booleans()) or not text:
        text += nl
    return Doc(text, nl, tuple(entries))


def assert_same_line_ends(before: str, after: str, nl: str) -> None:
    if nl == "\r\n":
        assert after.count("\n") == after.count("\r\n"), "a bare LF appeared in a CRLF file"
    else:
        assert "\r" not in after, "a CR appeared in an LF file"
    assert after.endswith("\n") == before.endswith("\n"), "the final-newline state changed"


def entry_dicts(doc_text: str) -> list[dict[str, object]]:
    data = load_pyyaml(doc_text)
    assert isinstance(data, dict)
    images = data.get("images") or []
    assert isinstance(images, list)
    return images


@SETTINGS
@given(doc=kustomization_docs())
def test_generated_documents_read_as_written(doc: Doc) -> None:
    """The generator itself: read_kustomization and PyYAML both see the entries that were generated."""
    kust = read_kustomization(doc.text, "k.yaml")
    assert [e.name for e, _ in kust.entries] == [e.name for e in doc.entries]
    for (got, _), entry in zip(kust.entries, doc.entries):
        assert got == KustImage(entry.name, entry.get("newName"), entry.get("newTag"), entry.get("digest"))
    assert [d.get("name") for d in entry_dicts(doc.text)] == [e.name for e in doc.entries]


@SETTINGS
@given(doc=kustomization_docs(), data=st.data())
@example(doc=Doc("images:\n- name: app\n  newTag: v1 # pinned\n", "\n", (Entry("app", (Field("name", "app"), Field("newTag", "v1"))),)), data=None)
@example(doc=Doc("images:\r\n  - name: app\r\n    newTag: '1.0'", "\r\n", (Entry("app", (Field("name", "app"), Field("newTag", "1.0"))),)), data=None)
def test_bumping_a_tag_changes_only_that_scalar(doc: Doc, data: st.DataObject | None) -> None:
    assume(doc.entries)
    index = data.draw(st.integers(0, len(doc.entries) - 1), label="entry") if data else 0
    tag = data.draw(NEW_TAGS, label="new tag") if data else "1.10"
    entry = doc.entries[index]
    kust = read_kustomization(doc.text, "k.yaml")
    found = kust.find(entry.name)
    assert found is not None
    current, node = found
    assume(current.new_tag != tag)
    # `*:TAG` keeps newName; `@*` keeps a digest too (without it kustomize semantics clear the digest,
    # which is test_setting_name_tag_clears_only_the_digest below).
    spec = parse_spec(f"{entry.name}=*:{tag}" + ("@*" if current.digest else ""))
    target = desired(current, spec)
    assert target == current._replace(new_tag=tag)
    new_text, changes = set_images(kust, [target])

    assert [(c.path, c.old, c.new) for c in changes] == [(f"images[name={entry.name}].newTag", current.new_tag, tag)]
    vnode = node.get("newTag")
    if vnode is not None:
        # Replaced in place: everything before and after the old scalar's span is byte-identical.
        assert isinstance(vnode, Scalar)
        head, tail = doc.text[: vnode.start], doc.text[vnode.end :]
        assert new_text.startswith(head) and new_text.endswith(tail), (doc.text, new_text)
        middle = new_text[len(head) : len(new_text) - len(tail)]
        assert "\n" not in middle
        assert load_pyyaml("k: " + middle.strip() + "\n") == {"k": tag}
        if vnode.style in ("'", '"'):
            assert middle[0] == vnode.style == middle[-1], "quote style changed"
    else:
        # Added after the entry's last line, at the indentation of its keys; nothing else moves.
        pos = _line_end(doc.text, _last_key_start(node))
        inserted = doc.nl + " " * _column(doc.text, node.items[0][0].start) + "newTag: " + render_scalar(tag)
        assert new_text == doc.text[:pos] + inserted + doc.text[pos:], (doc.text, new_text)

    # It reads back: this entry has the new tag (a str for both loaders), every other value is unchanged.
    after = read_kustomization(new_text, "k.yaml")
    assert [e for e, _ in after.entries] == [target if e.name == entry.name else e for e, _ in kust.entries]
    want = copy.deepcopy(load_pyyaml(doc.text))
    assert isinstance(want, dict)
    want["images"][index]["newTag"] = tag
    assert load_pyyaml(new_text) == want
    ruamel_images = load_ruamel(new_text)["images"]  # type: ignore[index]
    assert ruamel_images[index]["newTag"] == tag and isinstance(ruamel_images[index]["newTag"], str)
    assert_same_line_ends(doc.text, new_text, doc.nl)


def _last_key_start(node: object) -> int:
    """Where the entry's last key starts (the generator writes every value on its key's line)."""
    assert isinstance(node, Mapping)
    return node.items[-1][0].start


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    if nl < 0:
        return len(text)
    return nl - 1 if text[nl - 1] == "\r" else nl


def _column(text: str, pos: int) -> int:
    return pos - (text.rfind("\n", 0, pos) + 1)


@SETTINGS
@given(doc=kustomization_docs(), data=st.data())
def test_setting_name_tag_clears_only_the_digest(doc: Doc, data: st.DataObject) -> None:
    """`NAME=*:TAG` on an entry with a digest: the digest goes (kustomize semantics), all else stays."""
    with_digest = [e for e in doc.entries if e.get("digest")]
    assume(with_digest)
    entry = data.draw(st.sampled_from(with_digest), label="entry")
    tag = data.draw(NEW_TAGS, label="new tag")
    kust = read_kustomization(doc.text, "k.yaml")
    found = kust.find(entry.name)
    assert found is not None
    current, node = found
    target = desired(current, parse_spec(f"{entry.name}=*:{tag}"))
    assert target == current._replace(new_tag=tag, digest=None)
    new_text, _ = set_images(kust, [target])
    # Bytes before the entry's first line and after its last line are untouched.
    first = doc.text.rfind("\n", 0, node.start) + 1
    last = _line_end(doc.text, _last_key_start(node))
    assert new_text.startswith(doc.text[:first]) and new_text.endswith(doc.text[last:]), (doc.text, new_text)
    after = read_kustomization(new_text, "k.yaml")
    assert [e for e, _ in after.entries] == [target if e.name == entry.name else e for e, _ in kust.entries]
    got = {d["name"]: d for d in entry_dicts(new_text)}
    assert "digest" not in got[entry.name] and got[entry.name].get("newTag") == tag
    assert_same_line_ends(doc.text, new_text, doc.nl)


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(line == other for other in it) for line in small)


@SETTINGS
@given(doc=kustomization_docs(), name=IMAGE_NAMES, tag=NEW_TAGS)
def test_adding_an_entry_keeps_every_original_line(doc: Doc, name: str, tag: str) -> None:
    assume(all(e.name != name for e in doc.entries))
    kust = read_kustomization(doc.text, "k.yaml")
    target = desired(None, parse_spec(f"{name}:{tag}"))
    assert target == KustImage(name, None, tag, None)
    new_text, changes = set_images(kust, [target])
    assert [(c.path, c.old, c.new) for c in changes] == [(f"images[name={name}].newTag", None, tag)]
    # `images: ~` / `images: null` rightly lose their null value to the new list; every other line stays.
    original = [re.sub(r"^images: (?:~|null)(?= |$)", "images:", line) for line in doc.text.splitlines()]
    assert _is_subsequence(original, new_text.splitlines()), (doc.text, new_text)
    assert len(new_text.splitlines()) > len(doc.text.splitlines())
    after = read_kustomization(new_text, "k.yaml")
    assert [e for e, _ in after.entries] == [e for e, _ in kust.entries] + [target]
    images = entry_dicts(new_text)
    assert images[-1] == {"name": name, "newTag": tag}
    assert images[:-1] == entry_dicts(doc.text)
    assert_same_line_ends(doc.text, new_text, doc.nl)


def test_a_byte_order_mark_does_not_shift_the_edit() -> None:
    text = "\ufeffkind: Kustomization\nimages:\n- name: app\n  newTag: v1.0.0\n"
    kust = read_kustomization(text, "k.yaml")
    found = kust.find("app")
    assert found is not None
    new_text, _ = set_images(kust, [desired(found[0], parse_spec("app=*:v2.0.0"))])
    assert new_text == text.replace("v1.0.0", "v2.0.0")


# --- parse errors ---------------------------------------------------------------------------------------------


@SETTINGS
@given(doc=kustomization_docs(), cut=st.integers(0, 10_000), junk=st.text(alphabet="-:?[]{}#&*!|>'\"%@` \t\n", max_size=4))
def test_broken_documents_raise_yaml_error_with_a_location(doc: Doc, cut: int, junk: str) -> None:
    """Text spliced with YAML indicators either parses or raises YamlError naming line and column."""
    pos = cut % (len(doc.text) + 1)
    text = doc.text[:pos] + junk + doc.text[pos:]
    try:
        parse_documents(text, "k.yaml")
    except YamlError as err:
        assert err.file == "k.yaml" and err.line is not None and err.column is not None, str(err)


@pytest.mark.parametrize("text", ["a: b\x00c\n", "images:\n- name: app\n  newTag: v1\x1b[0m\n"])
def test_control_characters_are_reported_with_a_location(text: str) -> None:
    with pytest.raises(YamlError) as info:
        parse_documents(text, "k.yaml")
    assert info.value.line is not None and info.value.column is not None, str(info.value)


# --- invalid SPECs through the CLI ----------------------------------------------------------------------------




@st.composite
def invalid_specs(draw: st.DrawFn) -> str:
    """A valid SPEC broken in one way the reference grammar refuses."""
    path = draw(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True), min_size=1, max_size=3))
    registry = draw(st.sampled_from(["", "ghcr.io/", "localhost:5000/"]))
    tag = draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True))
    digest = "sha256:" + draw(st.text(alphabet=HEX, min_size=64, max_size=64))
    how = draw(st.sampled_from(["upper", "long-tag", "dots", "bad-digest", "empty", "blank"]))
    tag_forms = ["name:tag", "name:tag@digest", "name=new:tag", "name=*:tag"]
    digest_forms = ["name@digest", "name:tag@digest", "name=*:tag@digest"]
    form = draw(st.sampled_from(
        tag_forms if how == "long-tag" else digest_forms if how == "bad-digest" else tag_forms + digest_forms))
    name = registry + "/".join(path)
    if how == "upper":  # uppercase in the repository path (not a first component, which would be a registry)
        i = draw(st.sampled_from([j for j, c in enumerate(path[-1]) if c.isalpha()]))  # a letter, not a digit
        path[-1] = path[-1][:i] + path[-1][i].upper() + path[-1][i + 1 :]
        name = registry + "/".join(path)
    elif how == "long-tag":  # 129 to 133 characters
        tag = tag[0] + "x" * 127 + draw(st.from_regex(r"[A-Za-z0-9_.-]{1,5}", fullmatch=True))
    elif how == "dots":  # `..` inside a component
        i = draw(st.integers(0, len(path) - 1))
        path[i] = path[i] + ".." + draw(st.from_regex(r"[a-z0-9]{1,3}", fullmatch=True))
        name = registry + "/".join(path)
    elif how == "bad-digest":
        hexa = digest[len("sha256:") :]
        digest = draw(st.sampled_from([
            "sha256:" + hexa[:-1],  # 63 digits
            "sha256:" + hexa + "0",  # 65 digits
            "sha256:A" + hexa[1:],  # uppercase hex
            "sha256:" + "g" * 64,  # not hex
            "md5:" + hexa[:32],  # unsupported algorithm
            "sha512:" + hexa,  # too short for sha512
            "sha256" + hexa,  # no algorithm separator
            "sha256:",  # no hex
        ]))
    spec = {
        "name:tag": f"{name}:{tag}",
        "name@digest": f"{name}@{digest}",
        "name:tag@digest": f"{name}:{tag}@{digest}",
        "name=new:tag": f"{name}=ghcr.io/{path[-1]}:{tag}",
        "name=*:tag": f"{name}=*:{tag}",
        "name=*:tag@digest": f"{name}=*:{tag}@{digest}",
    }[form]
    if how == "empty":  # a part left empty
        spec = draw(st.sampled_from([
            f"{name}:", f":{tag}", f"{name}=", f"={name}:{tag}", f"{name}@", f"{name}=:{tag}", f"{name}=*:",
            f"{name}:{tag}@", "", f"{name}//x:{tag}", f"{name}/:{tag}", f"/{name}:{tag}", f"{name}=*@",
        ]))
    elif how == "blank":  # whitespace anywhere
        i = draw(st.integers(0, len(spec)))
        spec = spec[:i] + draw(st.sampled_from([" ", "\t", "\n", "\u00a0"])) + spec[i:]
    return spec


@SETTINGS
@given(spec=invalid_specs())
@example(spec="aegis/API:1.4.2")
@example(spec="aegis/api:" + "x" * 129)
@example(spec="aegis/a..b:1")
@example(spec="aegis/api@sha256:abc")
@example(spec="aegis/api:")
@example(spec="aegis/api :1.0")
def test_invalid_specs_are_refused_and_nothing_is_written(tmp_path: Path, spec: str) -> None:
    work = tmp_path / "overlay"
    if not work.exists():
        work.mkdir()
        (work / "kustomization.yaml").write_bytes(
            b"apiVersion: kustomize.config.k8s.io/v1beta1\r\nkind: Kustomization\r\nimages:\r\n"
            b"- name: aegis/api\r\n  newTag: 1.4.1 # pinned\r\n"
        )
    before = tree_bytes(tmp_path)
    with pytest.raises(GitopsError):
        parse_spec(spec)
    code, out, err = run_cli(tmp_path, "image", "set", "overlay", spec)
    assert code == 1, (out, err)
    assert "error: invalid image spec" in err, err
    assert tree_bytes(tmp_path) == before
