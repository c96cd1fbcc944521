"""``[tool.gitops-tools.release]`` in a library's ``pyproject.toml``, the version files, and ``--prerelease``.

Configuration::

    [tool.gitops-tools.release]
    name = "shared-library"                 # default: [project] name
    tag_prefix = "shared-library-v"         # default: "v" (or --tag-prefix)
    version_files = ["src/shared/__init__.py"]   # files holding __version__ = "X.Y.Z"; "FILE:NAME" for
                                            # another name (NAME = "X.Y.Z" or NAME: "X.Y.Z", as in YAML)
    changelog = "CHANGELOG.md"
    commit_url = "https://gitlab.com/aegis/shared-library/-/commit/{sha}"
    major_on_zero = false                   # true: a breaking change in 0.y.z bumps to 1.0.0
    types = { feat = "minor", fix = "patch", perf = "patch" }

Pure: text in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from gitops_tools.errors import GitopsError
from gitops_tools.release.conventional import DEFAULT_TYPES, LEVELS

SETTING = "tool.gitops-tools.release"
DEFAULT_VARIABLE = "__version__"
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# SemVer 2.0.0 pre-release: dot-separated identifiers, each ASCII letters, digits and hyphens, numbers without a
# leading zero; the token of --prerelease is such a sequence (X.Y.Z-TOKEN.N must be a version and a tag name)
_IDENTIFIER = re.compile(r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)")


class ReleaseConfig(NamedTuple):
    name: str
    tag_prefix: str
    version_files: tuple[str, ...]
    changelog: str
    commit_url: str | None
    major_on_zero: bool
    types: Mapping[str, str]


def parse_toml(text: str, file: str) -> Any:
    """The document as plain data for reading: the standard library's parser where there is one (about 10 ms
    less start-up than tomlkit, which is needed only to write)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomlkit as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except Exception as err:  # both parsers raise their own error types
        raise GitopsError(f"cannot parse TOML: {err}", file=file, fix="fix the syntax; nothing was written") from None


def load_config(pyproject_text: str, file: str, tag_prefix: str | None) -> tuple[ReleaseConfig, str]:
    """The release configuration and the current ``[project] version`` of a ``pyproject.toml``."""
    doc = parse_toml(pyproject_text, file)
    project = doc.get("project") or {}
    version = project.get("version")
    if not isinstance(version, str):
        raise GitopsError("no [project] version", file=file, key="project.version",
                          fix='add version = "0.1.0" under [project]; release refuses to guess it')
    table = (doc.get("tool") or {}).get("gitops-tools", {}).get("release", {})
    types = dict(DEFAULT_TYPES)
    for k, v in dict(table.get("types", {})).items():
        if v not in LEVELS:
            raise GitopsError(f"type {k} bumps {v!r}", file=file, key=f"{SETTING}.types.{k}",
                              fix=f"use one of {', '.join(LEVELS)}")
        types[str(k)] = str(v)
    version_files = table.get("version_files", [])
    if not isinstance(version_files, list) or not all(isinstance(f, str) for f in version_files):
        raise GitopsError(f"version_files is {version_files!r}, not a list of paths", file=file,
                          key=f"{SETTING}.version_files", fix='write a list, e.g. ["src/lib/__init__.py"]')
    for entry in version_files:
        path, variable = version_file(entry)
        if not path or not _VARIABLE.fullmatch(variable):
            raise GitopsError(f"version_files entry {entry!r} is not FILE or FILE:NAME", file=file,
                              key=f"{SETTING}.version_files",
                              fix='name a file ("src/lib/__init__.py") or a file and the variable holding the '
                                  'version in it ("ci/jobs.yml:TOOL_VERSION")')
    changelog = table.get("changelog", "CHANGELOG.md")
    if not isinstance(changelog, str):
        raise GitopsError(f"changelog is {changelog!r}, not a path", file=file, key=f"{SETTING}.changelog",
                          fix='write a path relative to the library, e.g. "CHANGELOG.md"')
    url = table.get("commit_url")
    if url is not None:
        try:
            str(url).format(sha="0" * 40, short="0" * 7)
        except (KeyError, IndexError, ValueError) as err:
            raise GitopsError(f"commit_url {url!r} has an unknown placeholder ({err})", file=file,
                              key=f"{SETTING}.commit_url",
                              fix="use {sha} (the full hash) or {short} (7 characters)") from None
    config = ReleaseConfig(
        name=str(table.get("name", project.get("name", "release"))),
        tag_prefix=tag_prefix if tag_prefix is not None else str(table.get("tag_prefix", "v")),
        version_files=tuple(version_files),
        changelog=changelog,
        commit_url=str(url) if url is not None else None,
        major_on_zero=bool(table.get("major_on_zero", False)),
        types=types,
    )
    return config, str(version)


def check_prerelease(token: str | None) -> None:
    """Refuse a ``--prerelease`` token that would not make ``X.Y.Z-TOKEN.N`` a semantic version."""
    if token is None:
        return
    if not all(_IDENTIFIER.fullmatch(part) for part in token.split(".")):
        raise GitopsError(f"--prerelease {token!r} is not a pre-release identifier: dot-separated parts of ASCII "
                          "letters, digits and hyphens, none empty, numbers without a leading zero",
                          fix="use a token such as rc, beta or alpha (the release is X.Y.Z-TOKEN.N); nothing was run")


def version_file(entry: str) -> tuple[str, str]:
    """The path and the variable of a ``version_files`` entry: ``FILE`` (``__version__``) or ``FILE:NAME``."""
    path, colon, variable = entry.rpartition(":")
    return (path, variable) if colon else (entry, DEFAULT_VARIABLE)


def _version_line(variable: str) -> re.Pattern[str]:
    """``NAME = "X"``, ``NAME: str = "X"`` (Python) or ``NAME: "X"`` (YAML), at the start of a line (indented in
    YAML); the version quoted."""
    return re.compile(rf"""^([ \t]*{re.escape(variable)}\s*(?::\s*str\s*=|=|:)\s*)(["'])([^"'\n]*)\2""",
                      re.MULTILINE)


def check_version_file(text: str, file: str, current: str, variable: str = DEFAULT_VARIABLE) -> None:
    """A version file holds exactly one ``VARIABLE = "CURRENT"`` line."""
    found = [m.group(3) for m in _version_line(variable).finditer(text)]
    if found != [current]:
        raise GitopsError(f"expected one {variable} = \"{current}\" line, found {found or 'none'}", file=file,
                          fix="make the version files agree with pyproject.toml before releasing; nothing was written")


def with_version(text: str, version: str, variable: str = DEFAULT_VARIABLE) -> str:
    """A version file's text with its ``VARIABLE`` set to ``version`` (quotes and layout kept)."""
    return _version_line(variable).sub(lambda m: f"{m.group(1)}{m.group(2)}{version}{m.group(2)}", text)


def pyproject_with_version(text: str, version: str) -> str:
    """``pyproject.toml`` with ``[project] version`` set, comments and layout kept (tomlkit)."""
    import tomlkit  # the layout-keeping parser: only when there is something to write

    doc = tomlkit.parse(text)
    doc["project"]["version"] = version
    return tomlkit.dumps(doc)
