"""The release plan: from the commits since the last release to the next version, the level, the reasons and
the CHANGELOG section; and the whole changelog from the history and its tags.

Pure: commit records and tag names in (the git edge reads them), values and text out. Release arithmetic takes
a sequence of commits, never a live repository.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from gitops_tools.core.records import CommitRecord
from gitops_tools.release.changelog import render_section
from gitops_tools.release.config import ReleaseConfig
from gitops_tools.release.conventional import Conventional, Decision, Level, decide, highest, parse_all
from gitops_tools.release.versioning import next_version, parse_version

RELEASE_SUBJECT = "chore(release):"


class Tags(NamedTuple):
    """The release tags that bound the range: the newest reachable one, and the newest final one."""

    last: str | None
    last_final: str | None
    last_sha: str | None = None  # the commit of ``last`` when it is a pre-release


class ReleasePlan(NamedTuple):
    current: str
    next: str | None
    level: Level
    tag: str | None
    decisions: tuple[Decision, ...]
    section: str


def plan_release(config: ReleaseConfig, current: str, tags: Tags, records: Sequence[CommitRecord], rel: str,
                 prerelease: str | None, today: datetime.date, source: str = "pyproject.toml") -> ReleasePlan:
    """The next release from ``records`` (the commits since ``tags.last_final``, newest first, with their files
    when ``rel`` names the library's directory)."""
    prefix = config.tag_prefix
    last_v, final_v = _versions(config, current, tags, source)
    commits: list[CommitRecord] = []
    outside: list[Decision] = []
    newer: list[CommitRecord] = []  # since the last pre-release
    since_last = True
    for rec in records:
        if rec.sha == tags.last_sha:
            since_last = False
        if rec.message.startswith(RELEASE_SUBJECT):
            continue
        if rel and not rec.touches(rel):
            outside.append(Decision(rec.sha, rec.subject, "none", f"touches nothing under {rel}"))
            continue
        commits.append(rec)
        if since_last:
            newer.append(rec)
    zero = final_v.major == 0 and not config.major_on_zero
    level, decided = decide(commits, config.types, zero_major=zero)
    by_sha = {d.sha: d for d in [*decided, *outside]}
    decisions = tuple(by_sha[r.sha] for r in records if r.sha in by_sha)
    if prerelease and last_v.prerelease and decide(newer, config.types, zero_major=zero)[0] == "none":
        level = "none"  # nothing new since the last pre-release: another one would repeat it
    nxt = next_version(final_v, last_v, level, prerelease)
    if nxt is None:
        return ReleasePlan(current, None, level, None, decisions, "")
    counted = _counted(config)
    entries = [c for commit in commits for c in parse_all(commit) if c.breaking or c.type in counted]
    section = render_section(f"{config.name} {nxt}", today.isoformat(), entries, config.commit_url,
                             sorted(counted - {"feat", "fix", "perf"}))
    return ReleasePlan(current, str(nxt), level, f"{prefix}{nxt}", decisions, section)


def plan_next(config: ReleaseConfig, current: str, tags: Tags, messages: str,
              source: str = "pyproject.toml") -> ReleasePlan:
    """The next final version alone, without the per-commit reasons and the CHANGELOG section: what
    ``--print-next-version`` prints, for a library at the root of its repository. ``messages`` is ``git log -z
    --format=%B`` of the commits since ``tags.last_final`` (only the commits that may ask for a level are parsed,
    :func:`~gitops_tools.release.conventional.highest`); the answer is :func:`plan_release`'s."""
    last_v, final_v = _versions(config, current, tags, source)
    zero = final_v.major == 0 and not config.major_on_zero
    level = highest(messages, config.types, zero, RELEASE_SUBJECT)
    nxt = next_version(final_v, last_v, level, None)
    if nxt is None:
        return ReleasePlan(current, None, level, None, (), "")
    return ReleasePlan(current, str(nxt), level, f"{config.tag_prefix}{nxt}", (), "")


def _versions(config: ReleaseConfig, current: str, tags: Tags, source: str) -> tuple[Any, Any]:
    """The versions of the last release tag and of the last final one (``semver.Version``)."""
    prefix = config.tag_prefix
    current_v = parse_version(current, source)
    last_v = parse_version(tags.last[len(prefix):], tags.last) if tags.last else current_v
    final_v = (parse_version(tags.last_final[len(prefix):], tags.last_final) if tags.last_final
               else last_v.finalize_version())
    return last_v, final_v


def _counted(config: ReleaseConfig) -> set[str]:
    return {t for t, lvl in config.types.items() if lvl != "none"}


def whole_changelog(config: ReleaseConfig, records: Sequence[CommitRecord], tags: Mapping[str, tuple[str, str]],
                    today: datetime.date) -> str:
    """The whole history as CHANGELOG text: one section per release tag, newest first, plus Unreleased.
    ``tags`` maps a commit to (tag name, date). A final release's section covers everything since the previous
    final release, pre-releases included."""
    counted = _counted(config)
    extra = sorted(counted - {"feat", "fix", "perf"})
    # ranges, newest first: (tag name or None for unreleased, date, commits)
    ranges: list[tuple[str | None, str, list[Conventional]]] = [(None, today.isoformat(), [])]
    for rec in records:
        if rec.sha in tags:
            name, tag_date = tags[rec.sha]
            ranges.append((name, tag_date, []))
        if rec.message.startswith(RELEASE_SUBJECT):
            continue
        ranges[-1][2].extend(c for c in parse_all(rec) if c.breaking or c.type in counted)
    sections: list[str] = []
    prefix = config.tag_prefix
    for i, (tag_name, date, commits) in enumerate(ranges):
        version = tag_name[len(prefix):] if tag_name else None
        if version and "-" not in version:  # a final release: add the pre-releases before it
            for later_name, _, later in ranges[i + 1:]:
                if later_name is None or "-" not in later_name[len(prefix):]:
                    break
                commits = commits + later
        if commits:
            title = f"{config.name} {version}" if version else "Unreleased"
            sections.append(render_section(title, date, commits, config.commit_url, extra))
    return "# Changelog\n\n" + "".join(sections)
