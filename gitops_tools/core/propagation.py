"""What ``propagate`` writes into a service's repository besides its files: the branch, the commit message and
the merge request's push options. Pure: values in, text out.

Everything that reaches a message or a push option is checked or cleaned: the library name and version are
validated before anything runs (a PEP 508 name, a PEP 440 version), the requirement texts are single lines by
construction (checked again here), and the CHANGELOG section (text from another repository) loses its control
characters and is cut at :data:`CHANGELOG_LIMIT` characters. It sits in the body, above the one trailer block, so
no line of it is read back as a trailer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gitops_tools.core.pins import Pin, specifier_text

CHANGELOG_LIMIT = 16_000
BRANCH_PREFIX = "gitops-tools/propagate"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def branch_name(library: str, version: str) -> str:
    """One branch per library and version: running again updates it, and opens no second merge request."""
    return f"{BRANCH_PREFIX}/{library}-{version}"


def _one_line(value: str, what: str) -> str:
    if _ONE_LINE.search(value):
        raise ValueError(f"{what} {value!r} is not one line")
    return value


def clean_changelog(text: str) -> str:
    """A CHANGELOG section as it may go into a commit body: LF line ends, no control character but tabs, at most
    :data:`CHANGELOG_LIMIT` characters (cut at a line, and said so)."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip("\n")
    if len(text) > CHANGELOG_LIMIT:
        cut = text.rfind("\n", 0, CHANGELOG_LIMIT)
        text = text[:cut if cut > 0 else CHANGELOG_LIMIT] + "\n\n(the rest of the section is in the CHANGELOG)"
    return text


def _exact(requirement: str) -> str | None:
    """The version an exact pin names (``shared-library==1.2.3 ; marker`` -> ``1.2.3``), else None."""
    spec = specifier_text(requirement).split(";")[0].strip()
    found = re.fullmatch(r"===?\s*([^\s,*=][^\s,*]*)", spec)
    return found.group(1) if found else None


def title(library: str, version: str, pins: Sequence[Pin]) -> str:
    """``build(deps): shared-library 1.2.3 -> 1.3.0`` when every changed pin was one exact version, else
    ``build(deps): move shared-library to 1.3.0``."""
    olds = {_exact(p.old) for p in pins if p.status == "changed"}
    if len(olds) == 1 and None not in olds:
        return f"build(deps): {library} {olds.pop()} -> {version}"
    return f"build(deps): move {library} to {version}"


def commit_message(library: str, version: str, pins: Sequence[Pin], changelog: str | None,
                   extra_trailers: Sequence[tuple[str, str]] = ()) -> str:
    """The commit of one service: subject, what moved (and what was left alone), the library's CHANGELOG section,
    then the trailers ``history`` and people read back."""
    _one_line(library, "the library")
    _one_line(version, "the version")
    breaking = any(p.breaking for p in pins)
    body = [f"Moves {library} to {version}" + (
        ", a new major version: read its breaking changes before merging." if breaking else ".")]
    body.append("")
    for p in pins:
        _one_line(p.old, "the requirement")
        _one_line(p.new, "the requirement")
        if p.status == "changed":
            body.append(f"- {p.file}:{p.line}: {p.old} -> {p.new}" + (" (breaking)" if p.breaking else ""))
        else:
            body.append(f"- {p.file}:{p.line}: {p.old} already admits {version}, left alone")
    if changelog:
        body += ["", f"Changelog of {library} {version}:", "", clean_changelog(changelog)]
    trailers = ["Gitops-Action: propagate", f"Gitops-Library: {library} {version}"]
    if breaking:
        trailers.append("Gitops-Breaking: true")
    trailers += [f"{k}: {_one_line(v, k)}" for k, v in extra_trailers]
    return "\n".join([title(library, version, pins), "", *body, "", *trailers]) + "\n"


def push_options(library: str, version: str, target: str, breaking: bool, first: bool) -> list[str]:
    """GitLab push options: on the first push, open a merge request into ``target``; later pushes only update
    the branch (the merge request it already has follows it)."""
    if not first:
        return []
    options = ["merge_request.create", f"merge_request.target={_one_line(target, 'the branch')}",
               f"merge_request.title={'[breaking] ' if breaking else ''}Move {library} to {version}",
               "merge_request.remove_source_branch", "merge_request.label=dependencies"]
    if breaking:
        options.append("merge_request.label=breaking")
    return options
