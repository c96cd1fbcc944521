"""Release arithmetic, table-driven: Conventional Commits parsing, bump levels and reasons, next versions, changelog.

Pure: no repository, no subprocess.  The whole command on real repositories is in test_release.py.
"""

from __future__ import annotations

import pytest
import semver
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.release.changelog import HEADER, prepend, render_section
from gitops_tools.release.conventional import (
    DEFAULT_TYPES,
    LEVELS,
    MAJOR,
    MINOR,
    NONE,
    PATCH,
    Conventional,
    Decision,
    decide,
    highest,
    parse,
    parse_all,
)
from gitops_tools.core.records import CommitRecord as Commit
from gitops_tools.release.versioning import bump, next_version

SHA = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "fedcba9876543210fedcba9876543210fedcba98"


def C(type_: str, desc: str, scope: str | None = None, breaking: bool = False, note: str | None = None,
      sha: str = SHA, bang: bool = False) -> Conventional:
    return Conventional(type_, scope, desc, breaking, note, sha, bang)


def V(text: str) -> semver.Version:
    return semver.Version.parse(text)


# --- parsing -------------------------------------------------------------------------------------------------

PARSE = [
    ("plain", "feat: x", C("feat", "x")),
    ("scope", "feat(api): x", C("feat", "x", "api")),
    ("scope-bang", "feat(api)!: x", C("feat", "x", "api", True, "x", bang=True)),
    ("bang", "fix!: x", C("fix", "x", None, True, "x", bang=True)),
    ("breaking-footer", "feat: x\n\nBREAKING CHANGE: y", C("feat", "x", None, True, "y")),
    ("breaking-hyphen-footer", "feat: x\n\nBREAKING-CHANGE: y", C("feat", "x", None, True, "y")),
    ("bang-and-footer: the footer is the note", "feat!: x\n\nBREAKING CHANGE: y", C("feat", "x", None, True, "y", bang=True)),
    ("footer continuation lines",
     "feat: x\n\nbody text\n\nBREAKING CHANGE: the config\n  key moved\nto [tool.x]\nRefs #12\n",
     C("feat", "x", None, True, "the config key moved to [tool.x]")),
    ("continuation stops at a blank line",
     "fix: x\n\nBREAKING CHANGE: gone\n\nnot part of it", C("fix", "x", None, True, "gone")),
    ("continuation stops at the next footer",
     "fix: x\n\nBREAKING CHANGE: gone\nReviewed-by: Z <z@example.com>", C("fix", "x", None, True, "gone")),
    ("Refs #123 footer is not breaking", "fix: x\n\nRefs #123", C("fix", "x")),
    ("other footers are not breaking", "fix: x\n\nReviewed-by: Z\nCloses #4", C("fix", "x")),
    ("lowercase breaking change is not the token", "feat: x\n\nbreaking change: y", C("feat", "x")),
    ("uppercase type is lowered", "Feat: x", C("feat", "x")),
    ("all caps type", "FIX(Core)!: X y", C("fix", "X y", "Core", True, "X y", bang=True)),
    ("empty scope parses, as no scope", "feat(): x", C("feat", "x")),
    ("hyphenated type", "feat-x: y", C("feat-x", "y")),
    ("surrounding whitespace of the header", "  feat: x  \n", C("feat", "x")),
    ("leading blank lines", "\n\nfix: x", C("fix", "x")),
    ("sha is carried", "fix: x", C("fix", "x")),
    # not conventional
    ("prose", "Update README", None),
    ("no space after the colon", "feat:x", None),
    ("two spaces after the colon", "feat:  x", None),
    ("space before the scope", "feat (api): x", None),
    ("bang before the scope", "feat!(api): x", None),
    ("two scopes", "feat(a)(b): x", None),
    ("nested parentheses in scope", "feat(a(b)): x", None),
    ("digit first", "1feat: x", None),
    ("merge commit", "Merge branch 'x'", None),
    ("merge commit of a conventional branch", "Merge branch 'feat: x' into main", None),
    ("revert", 'Revert "feat: x"', None),
    ("empty", "", None),
    ("only newlines", "\n\n", None),
    ("empty description", "feat: ", None),
    ("a conventional line in the body only", "Update\n\nfeat: x", None),
]


@pytest.mark.parametrize("message, expected", [p[1:] for p in PARSE], ids=[p[0] for p in PARSE])
def test_parse(message: str, expected: Conventional | None) -> None:
    assert parse(message, SHA) == expected


SQUASH = [
    ("non-conventional subject: the listed commits count",
     "Merge branch 'feature' (!12)\n\n* feat(x): a\n- fix: b\n\nnot a listed line\n",
     [C("feat", "a", "x"), C("fix", "b")]),
    ("a listed feat! makes it breaking",
     "Squashed (#4)\n\n- fix: b\n- feat!: c\n",
     [C("fix", "b"), C("feat", "c", None, True, "c", bang=True)]),
    ("indented bullets",
     "Squashed\n\n  * perf(db): faster\n  * docs: words\n", [C("perf", "faster", "db"), C("docs", "words")]),
    ("summary subject of a non-bumping type: only the listed ones",
     "chore: squash of !42\n\n* feat: a\n* fix: b\n", [C("feat", "a"), C("fix", "b")]),
    ("bumping subject: its own header and the listed ones",
     "feat(api): endpoints (#4)\n\n* feat(api): add x\n* fix(api): y\n",
     [C("feat", "endpoints (#4)", "api"), C("feat", "add x", "api"), C("fix", "y", "api")]),
    ("a breaking summary subject stays",
     "chore!: drop python 3.8\n\n* fix: b\n", [C("chore", "drop python 3.8", None, True, "drop python 3.8", bang=True),
                                                C("fix", "b")]),
    ("the listed commit's own BREAKING footer",
     "Squashed\n\n* fix: b\n* feat: a\n\nBREAKING CHANGE: gone\n", [C("fix", "b"), C("feat", "a", None, True, "gone")]),
    ("non-conventional bullets are not commits",
     "Squashed\n\n* Update README\n* feat:x\n- fix: b\n", [C("fix", "b")]),
    ("no listed commits: the header alone", "fix: x\n\n* a bullet\n- another\n", [C("fix", "x")]),
    ("nothing conventional", "Update README\n\n* tidy\n", []),
]


@pytest.mark.parametrize("message, expected", [p[1:] for p in SQUASH], ids=[p[0] for p in SQUASH])
def test_parse_all_squash_bodies(message: str, expected: list[Conventional]) -> None:
    assert parse_all(Commit(SHA, message)) == expected


def test_listed_breaking_footer_belongs_to_the_listed_commit_only() -> None:
    message = "chore: squash (!42)\n\n* feat: a\n\nBREAKING CHANGE: gone\n* fix: b\n"
    # got: [chore 'squash (!42)' breaking, note 'gone * fix: b'], feat a (breaking, 'gone'), fix b]
    assert parse_all(Commit(SHA, message)) == [C("feat", "a", None, True, "gone"), C("fix", "b")]


# --- bump levels and reasons ---------------------------------------------------------------------------------

WITH_REFACTOR = {**DEFAULT_TYPES, "refactor": PATCH}

DECIDE = [
    # id, messages, types, zero_major, level, reasons
    ("feat", ["feat: a"], DEFAULT_TYPES, False, MINOR, ["type feat bumps minor"]),
    ("fix", ["fix: a"], DEFAULT_TYPES, False, PATCH, ["type fix bumps patch"]),
    ("perf", ["perf: a"], DEFAULT_TYPES, False, PATCH, ["type perf bumps patch"]),
    ("refactor, by default", ["refactor: a"], DEFAULT_TYPES, False, NONE, ["type refactor does not bump"]),
    ("refactor, configured", ["refactor: a"], WITH_REFACTOR, False, PATCH, ["type refactor bumps patch"]),
    ("feat configured down", ["feat: a"], {**DEFAULT_TYPES, "feat": PATCH}, False, PATCH, ["type feat bumps patch"]),
    ("docs chore test ci", ["docs: a", "chore: b", "test: c", "ci: d"], DEFAULT_TYPES, False, NONE,
     ["type docs does not bump", "type chore does not bump", "type test does not bump", "type ci does not bump"]),
    ("not conventional", ["Update README", "Merge branch 'x'"], DEFAULT_TYPES, False, NONE,
     ["not a conventional commit", "not a conventional commit"]),
    ("bang with a scope", ["feat(api)!: a"], DEFAULT_TYPES, False, MAJOR, ["breaking change (feat!)"]),
    ("breaking footer", ["fix: a\n\nBREAKING CHANGE: b"], DEFAULT_TYPES, False, MAJOR, ["breaking change (fix)"]),
    ("breaking non-bumping type", ["chore!: drop 3.8"], DEFAULT_TYPES, False, MAJOR, ["breaking change (chore!)"]),
    ("0.x rule: breaking is minor", ["feat!: a"], DEFAULT_TYPES, True, MINOR,
     ["breaking change (feat!), minor while the version is 0.y.z"]),
    ("0.x rule, footer", ["fix: a\n\nBREAKING-CHANGE: b"], DEFAULT_TYPES, True, MINOR,
     ["breaking change (fix), minor while the version is 0.y.z"]),
    ("0.x rule does not touch fix", ["fix: a"], DEFAULT_TYPES, True, PATCH, ["type fix bumps patch"]),
    ("highest wins", ["fix: a", "docs: b", "feat: c", "perf: d"], DEFAULT_TYPES, False, MINOR,
     ["type fix bumps patch", "type docs does not bump", "type feat bumps minor", "type perf bumps patch"]),
    ("squash: listed feat decides", ["Merge (!3)\n\n* fix: a\n* feat(x): b\n"], DEFAULT_TYPES, False, MINOR,
     ["type feat bumps minor (one of 2 commits in this squash)"]),
    ("squash: listed feat! decides", ["Merge (!3)\n\n* fix: a\n- feat!: b\n"], DEFAULT_TYPES, False, MAJOR,
     ["breaking change (feat!) (one of 2 commits in this squash)"]),
    ("squash: footer inside the body", ["Merge (!3)\n\n* fix: a\n* feat: b\n\nBREAKING CHANGE: c\n"],
     DEFAULT_TYPES, False, MAJOR, ["breaking change (feat) (one of 2 commits in this squash)"]),
    ("squash: footer inside the body, 0.x", ["Merge (!3)\n\n* fix: a\n* feat: b\n\nBREAKING CHANGE: c\n"],
     DEFAULT_TYPES, True, MINOR,
     ["breaking change (feat), minor while the version is 0.y.z (one of 2 commits in this squash)"]),
    ("squash of non-bumping commits", ["docs: squash\n\n* docs: a\n* chore: b\n"], DEFAULT_TYPES, False, NONE,
     ["type docs does not bump (one of 2 commits in this squash)"]),
    ("nothing", [], DEFAULT_TYPES, False, NONE, []),
]


@pytest.mark.parametrize("messages, types, zero_major, level, reasons", [d[1:] for d in DECIDE],
                         ids=[d[0] for d in DECIDE])
def test_decide(messages: list[str], types: dict[str, str], zero_major: bool, level: str,
                reasons: list[str]) -> None:
    shas = [f"{i:040x}" for i in range(len(messages))]
    got_level, decisions = decide([Commit(s, m) for s, m in zip(shas, messages)], types, zero_major=zero_major)
    assert got_level == level
    assert [d.reason for d in decisions] == reasons
    assert [d.sha for d in decisions] == shas
    assert [d.subject for d in decisions] == [m.splitlines()[0] if m else "" for m in messages]


def test_decision_fields_and_default_is_the_zero_rule() -> None:
    level, decisions = decide([Commit(SHA, "feat(api)!: drop v1\n\nbody"), Commit(SHA2, "docs: typo")])
    assert level == MINOR  # zero_major=True is the default
    assert decisions == [
        Decision(SHA, "feat(api)!: drop v1", MINOR, "breaking change (feat!), minor while the version is 0.y.z"),
        Decision(SHA2, "docs: typo", NONE, "type docs does not bump"),
    ]


# --- versioning ----------------------------------------------------------------------------------------------

NEXT = [
    # id, last final, last, level, prerelease, expected
    ("patch", "1.2.3", "1.2.3", PATCH, None, "1.2.4"),
    ("minor", "1.2.3", "1.2.3", MINOR, None, "1.3.0"),
    ("major", "1.2.3", "1.2.3", MAJOR, None, "2.0.0"),
    ("0.x breaking is minor (decide gave minor)", "0.4.1", "0.4.1", MINOR, None, "0.5.0"),
    ("0.x with major_on_zero", "0.4.1", "0.4.1", MAJOR, None, "1.0.0"),
    ("none", "1.2.3", "1.2.3", NONE, None, None),
    ("none with a prerelease token", "1.2.3", "1.3.0-rc.1", NONE, "rc", None),
    ("rc.1", "1.2.3", "1.2.3", MINOR, "rc", "1.3.0-rc.1"),
    ("rc.2", "1.2.3", "1.3.0-rc.1", MINOR, "rc", "1.3.0-rc.2"),
    ("rc.10 after rc.9", "1.2.3", "1.3.0-rc.9", MINOR, "rc", "1.3.0-rc.10"),
    ("final after rc.2", "1.2.3", "1.3.0-rc.2", MINOR, None, "1.3.0"),
    ("switching token restarts", "1.2.3", "1.3.0-rc.2", MINOR, "beta", "1.3.0-beta.1"),
    ("level rises during the cycle", "1.2.3", "1.3.0-rc.2", MAJOR, "rc", "2.0.0-rc.1"),
    ("final after the level rose", "1.2.3", "2.0.0-rc.1", MAJOR, None, "2.0.0"),
    ("rc of a patch", "1.2.3", "1.2.3", PATCH, "rc", "1.2.4-rc.1"),
    ("token without a number restarts", "1.2.3", "1.3.0-rc", MINOR, "rc", "1.3.0-rc.1"),
]


@pytest.mark.parametrize("final, last, level, pre, expected", [n[1:] for n in NEXT], ids=[n[0] for n in NEXT])
def test_next_version(final: str, last: str, level: str, pre: str | None, expected: str | None) -> None:
    got = next_version(V(final), V(last), level, pre)
    assert (str(got) if got is not None else None) == expected


BUMP = [
    ("1.2.3", PATCH, "1.2.4"), ("1.2.3", MINOR, "1.3.0"), ("1.2.3", MAJOR, "2.0.0"), ("1.2.3", NONE, "1.2.3"),
    ("0.4.1", MINOR, "0.5.0"), ("0.4.1", MAJOR, "1.0.0"),
    # a pre-release is finished as the release it prepared when that is enough
    ("1.3.0-rc.2", PATCH, "1.3.0"), ("1.3.0-rc.2", MINOR, "1.3.0"), ("1.3.0-rc.2", MAJOR, "2.0.0"),
    ("2.0.0-rc.1", MAJOR, "2.0.0"), ("1.2.4-rc.1", PATCH, "1.2.4"), ("1.2.4-rc.1", MINOR, "1.3.0"),
]


@pytest.mark.parametrize("version, level, expected", BUMP, ids=[f"{v}+{lv}" for v, lv, _ in BUMP])
def test_bump(version: str, level: str, expected: str) -> None:
    assert str(bump(V(version), level)) == expected


# --- changelog -----------------------------------------------------------------------------------------------

URL = "https://gitlab.example.com/lib/-/commit/{sha}"


def test_render_section_order_scope_hash_and_links() -> None:
    commits = [
        C("fix", "handle empty input", "api", sha="b" * 40),
        C("feat", "stream results", sha="a" * 40, breaking=True, note="results are now a generator"),
        C("perf", "cache the index", sha="c" * 40),
        C("feat", "dark mode", "ui", sha="d" * 40),
        C("refactor", "drop the old client", "api", True, "drop the old client", sha="e" * 40),
    ]
    a, b, c, d, e = ("a" * 40, "b" * 40, "c" * 40, "d" * 40, "e" * 40)
    u = "https://gitlab.example.com/lib/-/commit/"
    assert render_section("lib 2.0.0", "2024-03-01", commits, URL) == (
        "## lib 2.0.0 (2024-03-01)\n"
        "\n"
        "### Breaking changes\n"
        "\n"
        f"- results are now a generator ([aaaaaaa]({u}{a}))\n"
        f"- **api:** drop the old client ([eeeeeee]({u}{e}))\n"
        "\n"
        "### Features\n"
        "\n"
        f"- stream results ([aaaaaaa]({u}{a}))\n"
        f"- **ui:** dark mode ([ddddddd]({u}{d}))\n"
        "\n"
        "### Bug fixes\n"
        "\n"
        f"- **api:** handle empty input ([bbbbbbb]({u}{b}))\n"
        "\n"
        "### Performance\n"
        "\n"
        f"- cache the index ([ccccccc]({u}{c}))\n"
        "\n"
    )


RENDER = [
    ("no url: short hash only", [C("fix", "x", sha=SHA)], None,
     "## t (d)\n\n### Bug fixes\n\n- x (0123456)\n\n"),
    ("{short} in the url", [C("fix", "x", sha=SHA)], "https://h/{short}",
     "## t (d)\n\n### Bug fixes\n\n- x ([0123456](https://h/0123456))\n\n"),
    ("no sha: no reference", [C("feat", "x", "s", sha="")], URL, "## t (d)\n\n### Features\n\n- **s:** x\n\n"),
    ("empty groups left out", [C("perf", "p"), C("docs", "ignored")], None,
     "## t (d)\n\n### Performance\n\n- p (0123456)\n\n"),
    ("nothing", [], None, "## t (d)\n\n"),
]


@pytest.mark.parametrize("commits, url, expected", [r[1:] for r in RENDER], ids=[r[0] for r in RENDER])
def test_render_section_table(commits: list[Conventional], url: str | None, expected: str) -> None:
    assert render_section("t", "d", commits, url) == expected


SECTION = "## lib 1.3.0 (2024-03-01)\n\n### Features\n\n- a (0123456)\n\n"
SECTION_CRLF = SECTION.replace("\n", "\r\n")
OLD = "## lib 1.2.3 (2023-01-01)\n\n### Bug fixes\n\n- old (abcdef0)\n"

PREPEND = [
    ("missing file: header", None, HEADER + "\n" + SECTION),
    ("empty file: header", "", HEADER + "\n" + SECTION),
    ("header and older sections", "# Changelog\n\nSome intro  \n\n" + OLD + "\n" + OLD.replace("1.2.3", "1.2.2"),
     "# Changelog\n\nSome intro  \n\n" + SECTION + OLD + "\n" + OLD.replace("1.2.3", "1.2.2")),
    ("crlf file", "# Changelog\r\n\r\n" + OLD.replace("\n", "\r\n"),
     "# Changelog\r\n\r\n" + SECTION_CRLF + OLD.replace("\n", "\r\n")),
    ("no final newline", "# Changelog\n\n" + OLD.rstrip("\n"), "# Changelog\n\n" + SECTION + OLD.rstrip("\n")),
    ("header only, no final newline", "# Changelog", "# Changelog\n\n" + SECTION),
    ("header only", "# Changelog\n", "# Changelog\n\n" + SECTION),
    ("header and blank line", "# Changelog\n\n", "# Changelog\n\n" + SECTION),
    ("crlf header only", "# Changelog\r\n", "# Changelog\r\n\r\n" + SECTION_CRLF),
    ("sections without a header", OLD, SECTION + OLD),
    ("### is not a release heading", "# C\n\n### Notes\n\nx\n", "# C\n\n### Notes\n\nx\n\n" + SECTION),
]


@pytest.mark.parametrize("existing, expected", [p[1:] for p in PREPEND], ids=[p[0] for p in PREPEND])
def test_prepend(existing: str | None, expected: str) -> None:
    out = prepend(existing, SECTION)
    assert out == expected
    if existing:  # the old text is kept byte for byte, after the new section
        nl = "\r\n" if "\r\n" in existing else "\n"
        index = existing.find(f"{nl}## ")
        rest = existing if existing.startswith("## ") else existing[index + len(nl):] if index >= 0 else ""
        assert out.endswith(rest)


# --- properties ----------------------------------------------------------------------------------------------

TYPES = ["feat", "fix", "perf", "docs", "chore", "refactor", "test", "ci", "build", "Feat", "FIX"]
words = st.text(alphabet="abcdefghij xyz.", min_size=1, max_size=12).map(str.strip).filter(bool)


@st.composite
def headers(draw: st.DrawFn) -> tuple[str, str, bool]:
    """A conventional header, its type and whether it says breaking with `!`."""
    type_ = draw(st.sampled_from(TYPES))
    scope = draw(st.one_of(st.none(), st.sampled_from(["api", "ui", "db-x"])))
    bang = draw(st.booleans())
    return f"{type_}{f'({scope})' if scope else ''}{'!' if bang else ''}: {draw(words)}", type_.lower(), bang


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, str | None]:
    """A commit message, and its level when it is a single commit (None for squashes: checked by the max rule)."""
    kind = draw(st.sampled_from(["single", "single", "single", "prose", "squash"]))
    if kind == "prose":
        return draw(st.sampled_from(["Update README", "Merge branch 'x'", "wip", "feat:x"])), NONE
    header, type_, bang = draw(headers())
    footers = draw(st.lists(st.sampled_from(["Refs #12", "Reviewed-by: Z", "BREAKING CHANGE: gone",
                                             "BREAKING-CHANGE: gone too"]), max_size=2))
    if kind == "single":
        breaking = bang or any(f.startswith("BREAKING") for f in footers)
        level = MAJOR if breaking else DEFAULT_TYPES.get(type_, NONE)
        return "\n\n".join([header, *(["\n".join(footers)] if footers else [])]), level
    listed = draw(st.lists(headers(), min_size=1, max_size=3))
    subject = draw(st.sampled_from(["Merge branch 'x' (!7)", header]))
    return subject + "\n\n" + "\n".join(f"* {h}" for h, _, _ in listed) + "\n", None


def _max(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index, default=NONE)


@settings(max_examples=300, deadline=None)
@given(st.lists(messages(), max_size=8), st.booleans())
def test_level_is_the_max_of_the_individual_levels(msgs: list[tuple[str, str | None]], zero: bool) -> None:
    commits = [Commit(f"{i:040x}", m) for i, (m, _) in enumerate(msgs)]
    level, decisions = decide(commits, zero_major=zero)
    singles = [decide([c], zero_major=zero)[0] for c in commits]
    assert level == _max(singles)
    assert [d.level for d in decisions] == singles
    for (_, expected), got in zip(msgs, singles):
        if expected is not None:  # a single commit: the model's level (0.x rule: breaking is minor)
            assert got == (MINOR if zero and expected == MAJOR else expected)


@pytest.mark.parametrize("message, reason", [
    ("feat: x\n\nBREAKING CHANGE: x", "breaking change (feat)"),  # got "breaking change (feat!)"
    ("feat!: x\n\nBREAKING CHANGE: y", "breaking change (feat!)"),  # got "breaking change (feat)"
], ids=["footer equal to the description", "bang and footer"])
def test_breaking_reason_says_bang_only_for_a_bang(message: str, reason: str) -> None:
    assert decide([Commit(SHA, message)], zero_major=False)[1][0].reason == reason


# --- highest: the level alone, searched for in git log's text -------------------------------------------------


@pytest.mark.parametrize("messages, types, zero_major, level", [(d[1], d[2], d[3], d[4]) for d in DECIDE],
                         ids=[d[0] for d in DECIDE])
def test_highest_agrees_with_decide_on_the_table(messages: list[str], types: dict[str, str], zero_major: bool,
                                                  level: str) -> None:
    assert highest("".join(m + "\n\0" for m in messages), types, zero_major) == level


TRICKY = st.sampled_from([
    "chore(release): lib 1.2.3", "chore(release): lib 2.0.0\n\nBREAKING CHANGE: not this one",
    "docs: say feat: in prose", "docs: a\n\nfeat: on a line of the body", "  FEAT: shouting, indented",
    "Fix: capital", "feat!:no space", "style: x\n\nBREAKING CHANGE: a footer", "style: x\n\nbreaking change: lower",
    "ci: x\n\nsee !: in the body", "Revert \"feat: a\"", "refactor(x)!: y", "build: deps\n\n- fix: listed",
    "Merge branch 'x'\n\n* feat: listed\n* docs: b\n\nBREAKING-CHANGE: c", "perf: p\r\n\r\nRefs #1",
    "", "\n", "feat", "feat(: broken scope", "x\n\n  * refactor!: listed and indented",
    "prefix: fix: inside a word", "hotfix(x): y", "FÏX: non-ASCII", "fïx(z): non-ASCII", "İfeat: dotted I",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(messages().map(lambda m: m[0]), TRICKY), max_size=10), st.booleans(),
       st.sampled_from([DEFAULT_TYPES, WITH_REFACTOR, {**DEFAULT_TYPES, "feat": PATCH, "style": MAJOR},
                        {"fix": PATCH}, {}, {"Feat": MINOR, "fix": PATCH}, {"fïx": PATCH, "feat": MINOR}]))
def test_highest_is_decides_level_without_the_release_commits(msgs: list[str], zero: bool,
                                                               types: dict[str, str]) -> None:
    skip = "chore(release):"
    commits = [Commit(f"{i:040x}", m) for i, m in enumerate(msgs) if not m.startswith(skip)]
    text = "".join(m + "\n\0" for m in msgs)  # git log -z --format=%B: each body ends with a newline, then NUL
    assert highest(text, types, zero, skip) == decide(commits, types, zero_major=zero)[0]
