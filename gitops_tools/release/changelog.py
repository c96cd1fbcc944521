"""CHANGELOG.md sections from Conventional Commits: grouped, scoped, linked, and prepended byte-exactly.

Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_tools.release.conventional import Conventional

HEADER = "# Changelog\n\nAll notable changes, newest first. Made by `gitops-tools release`.\n"
GROUPS = (("feat", "Features"), ("fix", "Bug fixes"), ("perf", "Performance"))


def _entry(c: Conventional, text: str, url: str | None) -> str:
    short = c.sha[:7]
    ref = f"[{short}]({url.format(sha=c.sha, short=short)})" if url and c.sha else short
    scope = f"**{c.scope}:** " if c.scope else ""
    return f"- {scope}{text} ({ref})" if c.sha else f"- {scope}{text}"


def render_section(title: str, date: str, commits: Sequence[Conventional], url: str | None = None,
                   extra_types: Sequence[str] = ()) -> str:
    """``## title (date)``, then Breaking changes, Features, Bug fixes, Performance, then any other type the
    caller counted (a configured ``refactor = "patch"``), each under its own heading; empty groups left out."""
    lines = [f"## {title} ({date})", ""]
    breaking = [c for c in commits if c.breaking]
    if breaking:
        lines += ["### Breaking changes", ""]
        lines += [_entry(c, c.breaking_note or c.description, url) for c in breaking]
        lines.append("")
    others = sorted({c.type for c in commits if c.type in extra_types and c.type not in dict(GROUPS)})
    for kind, heading in (*GROUPS, *((t, t.capitalize()) for t in others)):
        group = [c for c in commits if c.type == kind and not (c.breaking and kind not in dict(GROUPS))]
        if group:
            lines += [f"### {heading}", ""]
            lines += [_entry(c, c.description, url) for c in group]
            lines.append("")
    return "\n".join(lines) + "\n"


def prepend(existing: str | None, section: str) -> str:
    """``section`` above the newest release of ``existing`` (after its title text); the rest byte for byte."""
    if existing is None or existing == "":
        return HEADER + "\n" + section
    nl = "\r\n" if "\r\n" in existing else "\n"
    section = section.replace("\n", nl) if nl != "\n" else section
    index = existing.find(f"{nl}## ")
    if existing.startswith("## "):
        return section + nl + existing if not section.endswith(nl + nl) else section + existing
    if index < 0:
        sep = "" if existing.endswith(nl + nl) else (nl if existing.endswith(nl) else nl + nl)
        return existing + sep + section
    cut = index + len(nl)
    return existing[:cut] + section + existing[cut:]


def section_for(text: str, version: str) -> str | None:
    """The section of a CHANGELOG about ``version``: from the heading that names it (``## 1.3.0 (date)``,
    ``## [1.3.0] - date``, ``## shared-library-v1.3.0``) to the next heading of the same or a higher level;
    None when no heading names it. ``1.3.0`` never matches ``1.3.0rc1`` or ``11.3.0``."""
    import re

    wanted = re.compile(r"(?<![0-9.])" + re.escape(version) + r"(?![0-9A-Za-z+-]|\.[0-9A-Za-z])")
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        heading = re.match(r"(#{1,6})\s", line)
        if heading is None or not wanted.search(line):
            continue
        level = len(heading.group(1))
        end = len(lines)
        for j in range(i + 1, len(lines)):
            other = re.match(r"(#{1,6})\s", lines[j])
            if other is not None and len(other.group(1)) <= level:
                end = j
                break
        return "\n".join(lines[i:end]).strip("\n") + "\n"
    return None
