from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.errors import GitopsError
from gitops_tools.core.keypath import Index, Key, Select, format_keypath, parse_keypath


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("api.image.tag", (Key("api"), Key("image"), Key("tag"))),
        ("containers[0].image", (Key("containers"), Index(0), Key("image"))),
        ("images[name=registry.gitlab.com/aegis/api].newTag",
         (Key("images"), Select("name", "registry.gitlab.com/aegis/api"), Key("newTag"))),
        ('metadata.annotations["app.kubernetes.io/name"]',
         (Key("metadata"), Key("annotations"), Key("app.kubernetes.io/name"))),
        ("a[0][1]", (Key("a"), Index(0), Index(1))),
    ],
)
def test_parse_and_format(text: str, parsed: tuple[object, ...]) -> None:
    assert parse_keypath(text) == parsed
    assert format_keypath(parse_keypath(text)) == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the key path is empty"),
        ("a..b", "invalid key path 'a..b' at character 3: empty segment"),
        (".a", "invalid key path '.a' at character 1: empty segment"),
        ("a.", "invalid key path 'a.' at character 3: path ends with '.'"),
        ("a[x", "invalid key path 'a[x' at character 2: expected [N], [field=value] or [\"key\"]"),
        ("a]", "invalid key path 'a]' at character 2: expected '.' or '[' before a key"),
        ("a[0]b", "invalid key path 'a[0]b' at character 5: expected '.' or '[' before a key"),
    ],
)
def test_refused(text: str, problem: str) -> None:
    with pytest.raises(GitopsError) as err:
        parse_keypath(text)
    assert err.value.problem == problem


segment = st.one_of(
    st.builds(Key, st.text(min_size=1, max_size=8)),
    st.builds(Index, st.integers(0, 99)),
    st.builds(Select, st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.from_regex(r"[a-z0-9./-]{0,12}", fullmatch=True)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(segment, min_size=1, max_size=5).filter(lambda s: isinstance(s[0], Key)))
def test_round_trip(path: list[object]) -> None:
    text = format_keypath(tuple(path))  # type: ignore[arg-type]
    assert parse_keypath(text) == tuple(path)
