"""Conventional Commits 1.0: parse messages, decide bump levels, and say why.

A message is ``type(scope)!: description``, a body, and footers (``BREAKING CHANGE: …``, ``BREAKING-CHANGE: …``,
``Token: value``, ``Token #value``).  A squash-merge body that lists several commits (``* feat(x): …`` or
``- fix: …`` lines) counts each listed commit.  Release arithmetic takes these values, never a repository.

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, NamedTuple

from gitops_tools.core.records import CommitRecord

Level = Literal["none", "patch", "minor", "major"]
MAJOR: Final = "major"
MINOR: Final = "minor"
PATCH: Final = "patch"
NONE: Final = "none"
LEVELS: tuple[Level, ...] = (NONE, PATCH, MINOR, MAJOR)
DEFAULT_TYPES: Mapping[str, str] = {"feat": MINOR, "fix": PATCH, "perf": PATCH}

_HEADER = re.compile(r"^(?P<type>[A-Za-z][\w-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<desc>\S.*)$")
_FOOTER = re.compile(r"^(?P<token>BREAKING[ -]CHANGE|[\w-]+)(?:: | #)(?P<value>.*)$")
_LISTED = re.compile(r"^\s*[*-]\s+(?P<header>[A-Za-z][\w-]*(?:\([^()\r\n]*\))?!?: \S.*)$")


class Conventional(NamedTuple):
    type: str
    scope: str | None
    description: str
    breaking: bool
    breaking_note: str | None  # the text of a BREAKING CHANGE footer (or the description for `!`)
    sha: str
    bang: bool = False  # the header had `!`


def parse(message: str, sha: str = "") -> Conventional | None:
    """The header and footers of one message, or None when the header is not conventional."""
    lines = message.strip("\n").splitlines()
    if not lines:
        return None
    m = _HEADER.match(lines[0].strip())
    if not m:
        return None
    note = _breaking_footer(lines[1:])
    bang = bool(m.group("bang"))
    breaking = bang or note is not None
    desc = m.group("desc").strip()
    return Conventional(m.group("type").lower(), m.group("scope") or None, desc, breaking,
                        note if note is not None else (desc if bang else None), sha, bang)


def _breaking_footer(lines: Sequence[str]) -> str | None:
    """The BREAKING CHANGE footer's text (with its continuation lines), if any."""
    for i, line in enumerate(lines):
        m = _FOOTER.match(line)
        if m and m.group("token") in ("BREAKING CHANGE", "BREAKING-CHANGE"):
            text = [m.group("value").strip()]
            for more in lines[i + 1:]:
                if _FOOTER.match(more) or _LISTED.match(more) or not more.strip():
                    break
                text.append(more.strip())
            return " ".join(t for t in text if t)
    return None


def parse_all(commit: CommitRecord) -> list[Conventional]:
    """The conventional commits in one git commit: its own header, and those listed in a squash body."""
    body = commit.message.splitlines()[1:]
    first_listed = next((i for i, line in enumerate(body) if _LISTED.match(line)), len(body))
    # The squash commit's own footers come before the first listed commit; later ones belong to those.
    own = parse("\n".join(commit.message.splitlines()[:1] + body[:first_listed]), commit.sha)
    listed = []
    for i, line in enumerate(body):
        m = _LISTED.match(line)
        if m:
            # the listed commit's own footers follow until the next listed line
            rest = []
            for more in body[i + 1:]:
                if _LISTED.match(more):
                    break
                rest.append(more.strip())
            found = parse("\n".join([m.group("header"), "", *rest]), commit.sha)
            if found:
                listed.append(found)
    if listed and own is not None and not own.breaking and own.type not in DEFAULT_TYPES:
        return listed  # a squash whose subject is a summary: the listed commits decide
    if listed:
        return [c for c in [own] if c is not None] + listed
    return [own] if own is not None else []


class Decision(NamedTuple):
    """Why a commit counts (or not) toward the next version: what --explain prints."""

    sha: str
    subject: str
    level: Level
    reason: str


def decide(commits: Iterable[CommitRecord], types: Mapping[str, str] = DEFAULT_TYPES,
           zero_major: bool = True) -> tuple[Level, list[Decision]]:
    """The bump level of ``commits`` and, per commit, the level it asked for and why.

    ``zero_major``: while the version is 0.y.z a breaking change bumps the minor version (the usual 0.x
    rule); the caller passes False for 1.0.0 and later, or to turn the rule off.
    """
    overall: Level = NONE
    decisions = []
    for commit in commits:
        subject = commit.message.splitlines()[0] if commit.message else ""
        level, reason = commit_level(commit, types, zero_major)
        decisions.append(Decision(commit.sha, subject, level, reason))
        if LEVELS.index(level) > LEVELS.index(overall):
            overall = level
    return overall, decisions


def commit_level(commit: CommitRecord, types: Mapping[str, str] = DEFAULT_TYPES,
                 zero_major: bool = True) -> tuple[Level, str]:
    """The level one commit asks for, and why (see :func:`decide`)."""
    parsed = parse_all(commit)
    if not parsed:
        return NONE, "not a conventional commit"
    level: Level = NONE
    reason = ""
    for c in parsed:
        lvl: Level
        if c.breaking:
            lvl = MINOR if zero_major else MAJOR
            why = f"breaking change ({c.type}{'!' if c.bang else ''})"
            if zero_major:
                why += ", minor while the version is 0.y.z"
        else:
            lvl = _level(types.get(c.type, NONE))
            why = f"type {c.type} bumps {lvl}" if lvl != NONE else f"type {c.type} does not bump"
        if LEVELS.index(lvl) > LEVELS.index(level) or not reason:
            level, reason = (lvl, why) if LEVELS.index(lvl) >= LEVELS.index(level) else (level, reason)
    if len(parsed) > 1:
        reason += f" (one of {len(parsed)} commits in this squash)"
    return level, reason


# A commit can only be breaking with "!: " (a header or a listed header with `!`) or a BREAKING CHANGE footer.
_MAY_BREAK = re.compile(r"!: |BREAKING[ -]CHANGE")
# ASCII letters to lower case, every other character kept: the text keeps its length, so positions carry over.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def highest(messages: str, types: Mapping[str, str] = DEFAULT_TYPES, zero_major: bool = True,
            skip: str = "") -> Level:
    """The level :func:`decide` gives the commits whose messages ``messages`` holds, each ended by NUL (``git log
    -z --format=%B``); a commit whose message starts with ``skip`` is left out.

    Only the next version needs no per-commit answer: instead of parsing every commit, the text is searched, for
    each level from the highest down, for the commits that may ask for it (one that may be breaking holds "!: "
    or "BREAKING CHANGE"; one of type T holds T followed by "(", "!" or ":", in any case), and only those are
    parsed. The first one that asks for the level decides; the answer is :func:`decide`'s, at C speed for the
    commits that ask for nothing.
    """
    if not all(t.isascii() for t in types):  # a type the ASCII-only lowering below would not find
        kept = (m for m in messages.split("\0") if m and not (skip and m.startswith(skip)))
        return decide((CommitRecord("", m) for m in kept), types, zero_major)[0]
    lowered = messages.translate(_ASCII_LOWER)
    for level in (MAJOR, MINOR, PATCH):
        searches = [(re.compile(re.escape(t.lower()) + "[(!:]"), lowered) for t, lvl in types.items() if lvl == level]
        if level == (MINOR if zero_major else MAJOR):
            searches.append((_MAY_BREAK, messages))
        parsed: set[int] = set()  # the messages already parsed for this level, by their start
        for pattern, text in searches:
            for hit in pattern.finditer(text):
                start = messages.rfind("\0", 0, hit.start()) + 1
                if start in parsed:
                    continue
                parsed.add(start)
                end = messages.find("\0", hit.end())
                message = messages[start:len(messages) if end < 0 else end]
                if skip and message.startswith(skip):
                    continue
                if commit_level(CommitRecord("", message), types, zero_major)[0] == level:
                    return level
    return NONE

def _level(text: str) -> Level:
    for level in LEVELS:
        if level == text:
            return level
    return NONE
