"""Moving a pin in its style: golden pairs (exact bytes), the rule for every kind of specifier, refusals that
name the line, and the commit text that goes with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from gitops_tools.core.pins import PinError, plan_file, retarget, specifier_text
from gitops_tools.core.propagation import CHANGELOG_LIMIT, branch_name, clean_changelog, commit_message, push_options
from gitops_tools.release.changelog import section_for

GOLDEN = Path(__file__).resolve().parent.parent / "pins_golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES)
def test_golden_pairs(case: str) -> None:
    """Every file of the case, moved: byte for byte the ``after`` file (line ends, quotes, comments, spacing)."""
    before = next((GOLDEN / case).glob("before.*"))
    after = GOLDEN / case / ("after" + before.suffix)
    library, version = (GOLDEN / case / "args").read_text().split()
    plan = plan_file(before.read_bytes().decode(), "file" + before.suffix, library, Version(version))
    assert plan.after.encode() == after.read_bytes()
    # and moving again changes nothing more: every pin now admits the version
    again = plan_file(plan.after, "file" + before.suffix, library, Version(version))
    assert again.after == plan.after
    assert {p.status for p in again.pins} == {"admits"}


def test_golden_requirements_pins_are_reported_with_their_lines() -> None:
    text = (GOLDEN / "requirements-styles" / "before.txt").read_text()
    plan = plan_file(text, "requirements.txt", "shared-library", Version("1.3.0"))
    assert [(p.line, p.old, p.new, p.status) for p in plan.pins] == [
        (7, "Shared_Library[db,cache] ==  1.2.3", "Shared_Library[db,cache] ==  1.3.0", "changed"),
        (8, 'shared-library ~= 1.2.0 ; python_version < "3.12"', 'shared-library ~= 1.3.0 ; python_version < "3.12"',
         "changed"),
        (9, 'shared.library==1.2.*;python_version>="3.12"', 'shared.library==1.3.*;python_version>="3.12"', "changed"),
        (11, "shared-library>=1.0,<1.3", "shared-library>=1.0,<1.4", "changed"),
    ]


@pytest.mark.parametrize(("spec", "version", "moved", "status", "breaking"), [
    ("==1.2.3", "1.3.0", "==1.3.0", "changed", False),
    ("===1.2.3", "1.3.0", "===1.3.0", "changed", False),
    ("==1.2.3", "2.0.0", "==2.0.0", "changed", True),
    ("==1.2.*", "1.3.0", "==1.3.*", "changed", False),
    ("==1.*", "1.3.0", "==1.*", "admits", False),
    ("~=1.2", "1.3.0", "~=1.2", "admits", False),
    ("~=1.2.3", "1.3.0", "~=1.3.0", "changed", False),
    ("~=1.2", "2.1.0", "~=2.1", "changed", True),
    (">=1.2,<2", "1.3.0", ">=1.2,<2", "admits", False),
    (">=1.2,<2", "2.0.0", ">=1.2,<3", "changed", True),
    (">= 1.2 , < 2.0.0", "2.0.1", ">= 1.2 , < 3.0.0", "changed", True),
    ("<1.5", "1.6.0", "<1.7", "changed", False),
    ("<=1.5", "1.6.0", "<=1.6.0", "changed", False),
    ("<0.5", "0.5.0", "<0.6", "changed", True),
    ("==0.4.1", "0.4.2", "==0.4.2", "changed", False),
    ("==0.4.1", "0.5.0", "==0.5.0", "changed", True),
    ("", "9.0.0", "", "admits", False),
    (">=1.2", "1.3.0", ">=1.2", "admits", False),
    ("==1.2.3", "1.3.0rc1", "==1.3.0rc1", "changed", False),
    (">=1.2,<2", "1.3.0rc1", ">=1.2,<2", "admits", False),
])
def test_the_rule_for_each_kind_of_specifier(spec: str, version: str, moved: str, status: str,
                                             breaking: bool) -> None:
    assert retarget(spec, Version(version)) == (moved, status, breaking)


@pytest.mark.parametrize(("line", "problem"), [
    ("shared-library!=1.3.0", "cannot move 'shared-library!=1.3.0' to 1.3.0: it excludes 1.3.0 explicitly (!=1.3.0)"),
    ("shared-library>=1.4", "cannot move 'shared-library>=1.4' to 1.3.0: 1.3.0 is older than it allows (>=1.4): "
                            "propagate moves services forward only"),
    ("shared-library==1.4.0", "cannot move 'shared-library==1.4.0' to 1.3.0: 1.3.0 is older than it pins (==1.4.0): "
                              "propagate moves services forward only"),
    ("shared-library @ https://example.com/shared_library-1.2.3-py3-none-any.whl",
     "cannot move 'shared-library @ https://example.com/shared_library-1.2.3-py3-none-any.whl' to 1.3.0: it is a "
     "direct reference (name @ URL): give the new URL by hand"),
    ("shared-library=1.2", "cannot move 'shared-library=1.2' to 1.3.0: it is not a PEP 508 requirement (Expected "
                           "semicolon (after name with no version specifier) or end)"),
    ("shared-library==1.2.3 --hash=sha256:00", "shared-library is hash-locked ('shared-library==1.2.3 "
                                               "--hash=sha256:00'): its hashes would no longer match"),
    ('"shared-library==1.2.3"', "'\"shared-library==1.2.3\"' is not a requirement pip reads"),
])
def test_what_cannot_move_is_refused_naming_file_and_line(line: str, problem: str) -> None:
    with pytest.raises(PinError) as err:
        plan_file(f"flask\n\n{line}\n", "requirements.txt", "shared-library", Version("1.3.0"))
    assert err.value.headline == f"requirements.txt:3: {problem}"


def test_a_pin_in_pyproject_that_cannot_move_names_its_table_and_line() -> None:
    text = '[project]\nname = "x"\ndependencies = [\n  "shared-library>=2",\n]\n'
    with pytest.raises(PinError) as err:
        plan_file(text, "pyproject.toml", "shared-library", Version("1.3.0"))
    assert err.value.headline == ("pyproject.toml:4: cannot move 'shared-library>=2' in project.dependencies to "
                                  "1.3.0: 1.3.0 is older than it allows (>=2): propagate moves services forward only")


def test_invalid_toml_is_refused() -> None:
    with pytest.raises(PinError) as err:
        plan_file("[project\n", "pyproject.toml", "shared-library", Version("1.3.0"))
    assert err.value.headline.startswith("pyproject.toml: not valid TOML: ")


def test_a_file_that_does_not_mention_the_library_has_no_pins_and_stays_as_it_is() -> None:
    text = "flask==3.0.0\nshared-library-extras==1.2.3\n# shared-library is pinned elsewhere\n"
    plan = plan_file(text, "requirements.txt", "shared-library", Version("1.3.0"))
    assert plan.pins == () and plan.after == text


_OTHER = st.from_regex(r"(flask|requests|celery\[redis\]|shared-library-extras)(==|>=|~=)[1-9]\.[0-9](\.[0-9])?"
                       r"( +# [a-z ]{0,12})?", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(_OTHER, max_size=8), st.lists(_OTHER, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_only_the_version_of_the_library_changes(before: list[str], after: list[str], nl: str) -> None:
    lines = [*before, "shared-library==1.2.3  # ours", *after]
    plan = plan_file(nl.join(lines) + nl, "requirements.txt", "shared-library", Version("1.3.0"))
    assert plan.after == nl.join([*before, "shared-library==1.3.0  # ours", *after]) + nl


def test_specifier_text_is_what_follows_the_name() -> None:
    assert specifier_text('Shared_Library[db] >= 1.2, < 2 ; python_version < "3.12"') == \
        '>= 1.2, < 2 ; python_version < "3.12"'
    assert specifier_text("shared-library") == "(any version)"


# --- the CHANGELOG section, the commit and the push options ------------------------------------------------


CHANGELOG = """# Changelog

## shared-library-v1.3.0 (2026-11-29)

### Features

- pooled connections

### Bug fixes

- a fix

## 1.3.0rc1 (2026-11-20)

- candidate

## [1.2.3] - 2026-11-01

- older
"""


def test_section_for_finds_the_heading_of_the_version_and_stops_at_the_next() -> None:
    assert section_for(CHANGELOG, "1.3.0") == (
        "## shared-library-v1.3.0 (2026-11-29)\n\n### Features\n\n- pooled connections\n\n### Bug fixes\n\n- a fix\n")
    assert section_for(CHANGELOG, "1.3.0rc1") == "## 1.3.0rc1 (2026-11-20)\n\n- candidate\n"
    assert section_for(CHANGELOG, "1.2.3") == "## [1.2.3] - 2026-11-01\n\n- older\n"
    assert section_for(CHANGELOG, "1.3") is None
    assert section_for(CHANGELOG, "11.3.0") is None


def test_a_changelog_is_cleaned_and_cut() -> None:
    assert clean_changelog("a\r\nb\x1b[31m\x00\tc\u2028\n") == "a\nb[31m\tc"
    long = "\n".join(f"- entry {i}" for i in range(5000))
    cut = clean_changelog(long)
    assert len(cut) < CHANGELOG_LIMIT + 60
    assert cut.endswith("\n\n(the rest of the section is in the CHANGELOG)")


def test_the_branch_is_one_per_library_and_version() -> None:
    assert branch_name("shared-library", "1.3.0") == "gitops-tools/propagate/shared-library-1.3.0"


def test_push_options_open_a_merge_request_only_the_first_time() -> None:
    assert push_options("shared-library", "2.0.0", "main", True, first=True) == [
        "merge_request.create", "merge_request.target=main", "merge_request.title=[breaking] Move shared-library to "
        "2.0.0", "merge_request.remove_source_branch", "merge_request.label=dependencies",
        "merge_request.label=breaking"]
    assert push_options("shared-library", "2.0.0", "main", True, first=False) == []


def test_the_commit_message_says_what_moved_and_what_was_left_alone() -> None:
    plan = plan_file("shared-library==1.2.3\nshared-library>=1.0\n", "requirements.txt", "shared-library",
                     Version("1.3.0"))
    message = commit_message("shared-library", "1.3.0", plan.pins, "## 1.3.0\n\n- new\n",
                             [("Gitops-Pipeline-Id", "42")])
    assert message == (
        "build(deps): shared-library 1.2.3 -> 1.3.0\n\n"
        "Moves shared-library to 1.3.0.\n\n"
        "- requirements.txt:1: shared-library==1.2.3 -> shared-library==1.3.0\n"
        "- requirements.txt:2: shared-library>=1.0 already admits 1.3.0, left alone\n\n"
        "Changelog of shared-library 1.3.0:\n\n## 1.3.0\n\n- new\n\n"
        "Gitops-Action: propagate\nGitops-Library: shared-library 1.3.0\nGitops-Pipeline-Id: 42\n")
    ranged = plan_file("shared-library~=1.2.3\n", "r.txt", "shared-library", Version("1.3.0"))
    assert commit_message("shared-library", "1.3.0", ranged.pins, None).splitlines()[0] == \
        "build(deps): move shared-library to 1.3.0"


@pytest.mark.parametrize(("text", "subject"), [
    ("shared-library==1.2.3\n", "build(deps): shared-library 1.2.3 -> 1.3.0"),
    ("shared-library===1.2.3\n", "build(deps): shared-library 1.2.3 -> 1.3.0"),
    ('shared-library == 1.2.3 ; python_version < "3.12"\n', "build(deps): shared-library 1.2.3 -> 1.3.0"),
    ("shared-library==1.2.*\n", "build(deps): move shared-library to 1.3.0"),
    ("shared-library==1.2.3\nshared-library==1.2.4\n", "build(deps): move shared-library to 1.3.0"),
    ("shared-library==1.2.3\nshared-library~=1.2.3\n", "build(deps): move shared-library to 1.3.0"),
])
def test_the_subject_names_the_old_version_only_when_one_exact_pin_moved(text: str, subject: str) -> None:
    from gitops_tools.core.propagation import title

    plan = plan_file(text, "requirements.txt", "shared-library", Version("1.3.0"))
    assert title("shared-library", "1.3.0", plan.pins) == subject
