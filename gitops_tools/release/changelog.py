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
