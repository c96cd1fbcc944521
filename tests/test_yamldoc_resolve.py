"""The tags the YAML reader gives scalars are PyYAML's own.

gitops_tools.core.yamldoc remembers PyYAML's answer to the composer's "which tag?" for the rest of the process
(a thousand images ask it for ``name`` a thousand times). Whatever the value and its style, first asked or
remembered, the answer must be the one PyYAML's safe loader gives: a tag decides whether a value loads as a
string, which every edit checks.
"""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.core.yamldoc import composer_loader, parse_documents

_Reference = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# values that start like every implicit tag (bool, int, float, null, timestamp, merge, value) and like none
_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "~", "null", "Null", "NULL", "true", "True", "yes", "No", "off", "On", "y", "n", "0",
                     "0x1F", "0o17", "017", "1_000", "+1", "-1", ".5", "1e3", ".inf", "-.Inf", ".NaN", "1:20",
                     "2026-11-29", "2026-11-29T10:00:00Z", "<<", "=", "registry.example.com/team/app", "1.4.2",
                     "v1.4.2", "latest", "name", "newTag", "sha256:abc"]),
)


@settings(max_examples=400, deadline=None)
@given(_values, st.sampled_from([(True, False), (False, True), (True, True), (False, False)]))
def test_a_scalar_gets_the_tag_pyyaml_gives_it(value: str, implicit: tuple[bool, bool]) -> None:
    ours = composer_loader()("").resolve(yaml.ScalarNode, value, implicit)
    assert ours == _Reference("").resolve(yaml.ScalarNode, value, implicit)
    again = composer_loader()("").resolve(yaml.ScalarNode, value, implicit)  # a remembered answer is the same
    assert again == ours


def test_tags_read_from_a_file_are_pyyamls() -> None:
    text = ("a: registry.example.com/x\nb: '1.0'\nc: 1.0\nd: yes\ne: ~\nf:\ng: \"on\"\nh: 2026-11-29\n"
            "i: !!str 12\nj: 0x1F\n")
    [root] = parse_documents(text, "values.yaml")
    assert root is not None
    [reference] = list(yaml.compose_all(text, Loader=_Reference))
    ours = [(k.value, getattr(v, "tag", None)) for k, v in root.items]  # type: ignore[union-attr]
    theirs = [(k.value, v.tag) for k, v in reference.value]
    assert ours == theirs
    assert dict(ours)["a"] == "tag:yaml.org,2002:str" and dict(ours)["c"] == "tag:yaml.org,2002:float"
