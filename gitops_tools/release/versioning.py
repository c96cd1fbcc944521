"""Next-version arithmetic for releases: semver bumps, the 0.x rule, and pre-release cycles.

Pure: versions and levels in, a version out.
"""

from __future__ import annotations

import semver

from gitops_tools.release.conventional import MAJOR, MINOR, NONE, PATCH
from gitops_tools.errors import GitopsError


def parse_version(text: str, where: str) -> semver.Version:
    try:
        return semver.Version.parse(text)
    except ValueError:
        raise GitopsError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH[-PRE][+BUILD])",
                          file=where, fix="write a version such as 1.4.2") from None


def bump(version: semver.Version, level: str) -> semver.Version:
    """``version`` raised by ``level``; a pre-release of X.Y.Z is finished as X.Y.Z when that is enough."""
    final = version.finalize_version()
    if version.prerelease:
        # 1.3.0-rc.2 + patch -> 1.3.0 (the release it was preparing), + minor -> 1.3.0 unless patch-only base
        if level == MAJOR and not (final.minor == 0 and final.patch == 0):
            return final.bump_major()
        if level == MINOR and final.patch != 0:
            return final.bump_minor()
        return final
    if level == MAJOR:
        return version.bump_major()
    if level == MINOR:
        return version.bump_minor()
    if level == PATCH:
        return version.bump_patch()
    return version


def next_version(last_final: semver.Version, last: semver.Version, level: str,
                 prerelease: str | None = None) -> semver.Version | None:
    """The version to release, or None when ``level`` is none.

    ``last_final`` is the newest final release (the base of the level), ``last`` the newest release of any
    kind.  With ``prerelease`` (e.g. "rc") the result is ``X.Y.Z-rc.N``: N counts on from ``last`` when it
    is a pre-release of the same X.Y.Z and token, else starts at 1.
    """
    if level == NONE:
        return None
    target = bump(last_final, level)
    if prerelease is None:
        return target
    if last.prerelease and last.finalize_version() == target:
        token, _, number = last.prerelease.rpartition(".")
        if token == prerelease and number.isdigit():
            return target.replace(prerelease=f"{prerelease}.{int(number) + 1}")
    return target.replace(prerelease=f"{prerelease}.1")
