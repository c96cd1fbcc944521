"""Moving one dependency pin to a new version, in the style it was written, and nothing else.

A service names a library in ``requirements*.txt`` and constraints files (one PEP 508 requirement per line) or in
``pyproject.toml`` (``[project] dependencies``, ``[project.optional-dependencies]``, ``[dependency-groups]``).
:func:`plan_file` finds every requirement of the library in a file's text and decides, clause by clause:

- a specifier that already admits the new version is left alone (``>=1.2,<2`` or ``~=1.2`` for 1.3.0), and said so;
- an exact pin moves (``==1.2.3`` -> ``==1.3.0``; ``==1.2.*`` -> ``==1.3.*``), a compatible release keeps its
  precision (``~=1.2.3`` -> ``~=1.3.0``), an upper bound moves by the step it was written with (``<2`` -> ``<3``,
  ``<1.5`` -> ``<1.7``); a move into another release series (1.x -> 2.0, 0.4 -> 0.5) is flagged as breaking;
- what cannot be moved forward is refused, naming the line: an exclusion of the version (``!=1.3.0``), a lower
  bound above it (the version would go back), a direct reference (``name @ URL``), a hash-locked line (its
  hashes would no longer match), or a line that names the library but is not a requirement.

Only the version text inside the specifier changes: spaces, extras, markers, comments, quoting and line endings
stay byte for byte. Pure: text in, text out (``packaging`` for PEP 440/508, ``tomlkit`` for TOML strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from gitops_tools.errors import GitopsError

PinStatus = Literal["changed", "admits"]

#: The start of a requirement: a distribution name and its extras.
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?")
#: One clause of a specifier: its operator and its version.
_CLAUSE = re.compile(r"(~=|===|==|!=|<=|>=|<|>)(\s*)([^\s,;()#]+)")


class PinError(GitopsError):
    """A pin of the library that cannot be moved to the version (file and line named)."""


class Pin(NamedTuple):
    """One requirement of the library in a file, and what became of it."""

    file: str
    line: int  # 1-based
    old: str  # the requirement as written (a TOML string's value, or the line without its comment)
    new: str  # the same after the move (== old when the specifier admits the version)
    status: PinStatus
    breaking: bool = False  # the version leaves the release series the pin allowed (1.x -> 2.0)

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "old": self.old, "new": self.new, "status": self.status,
                "breaking": self.breaking}


class FilePlan(NamedTuple):
    file: str
    before: str
    after: str
    pins: tuple[Pin, ...]  # empty: the file does not mention the library


def parse_version(text: str) -> Version:
    """A PEP 440 version, or a GitopsError saying what one looks like."""
    try:
        return Version(text)
    except InvalidVersion:
        raise GitopsError(f"invalid version {text!r}", fix="give a PEP 440 version such as 1.3.0 or 2.0.0rc1") from None


def _series(v: Version) -> tuple[int, ...]:
    """The release series within which upgrades are compatible (semver: the major; 0.x: the minor)."""
    major = v.release[0]
    minor = v.release[1] if len(v.release) > 1 else 0
    return (major,) if major > 0 else (0, minor)


def _series_below(bound: Version) -> tuple[int, ...]:
    """The series of the highest version below ``bound`` (``<2`` and ``<2.0.0``: 1; ``<1.5``: 1; ``<0.5``: 0.4)."""
    rel = list(bound.release) + [0, 0]
    if rel[0] > 0:
        return (rel[0] - 1,) if not any(rel[1:]) else (rel[0],)
    return (0, rel[1] - 1) if rel[1] > 0 and not any(rel[2:]) else (0, rel[1])


def _step(bound: Version, new: Version) -> str:
    """An upper bound ``bound`` (``<bound``) moved above ``new`` by the step it was written with: its precision
    kept, the component it counted in (its last non-zero one) one above ``new``'s."""
    rel = bound.release
    nonzero = [i for i, part in enumerate(rel) if part]
    at = nonzero[-1] if nonzero else len(rel) - 1
    target = list(new.release) + [0] * len(rel)
    moved = target[:at] + [target[at] + 1] + [0] * (len(rel) - at - 1)
    return ".".join(str(p) for p in moved)


def _truncated(new: Version, width: int) -> str:
    parts = list(new.release) + [0] * width
    return ".".join(str(p) for p in parts[:width])


def retarget(spec: str, new: Version) -> tuple[str, PinStatus, bool]:
    """``spec`` (the specifier text as written, e.g. ``>= 1.2, < 2``) moved so that it admits ``new``; raises
    ValueError with the reason when it cannot be moved forward. Returns (text, status, breaking)."""
    clauses = list(_CLAUSE.finditer(spec))
    try:
        current = SpecifierSet(",".join(m.group(1) + m.group(3) for m in clauses))
    except InvalidSpecifier:
        raise ValueError(f"{spec.strip()!r} is not a PEP 440 specifier") from None
    if not clauses or current.contains(new, prereleases=True):
        return spec, "admits", False
    pieces: list[str] = []
    last = 0
    before: list[tuple[int, ...]] = []
    for m in clauses:
        op, version = m.group(1), m.group(3)
        clause = SpecifierSet(op + version)
        replacement = version
        if not clause.contains(new, prereleases=True):
            if op in ("==", "===", "~=") and new < Version(version.removesuffix(".*")):
                raise ValueError(f"{new} is older than it pins ({op}{version}): propagate moves services forward only")
            if op in ("==", "===") and version.endswith(".*"):
                width = len(version[:-2].split("."))
                replacement = _truncated(new, width) + ".*"
                before.append(_series(Version(version[:-2])))
            elif op in ("==", "==="):
                replacement = str(new)
                before.append(_series(Version(version)))
            elif op == "~=":
                replacement = _truncated(new, len(Version(version).release))
                before.append(_series(Version(version)))
            elif op == "<":
                replacement = _step(Version(version), new)
                before.append(_series_below(Version(version)))
            elif op == "<=":
                replacement = str(new)
                before.append(_series(Version(version)))
            elif op == "!=":
                raise ValueError(f"it excludes {new} explicitly ({op}{version})")
            else:  # > or >=: the version would go back
                raise ValueError(f"{new} is older than it allows ({op}{version}): propagate moves services forward only")
        pieces.append(spec[last:m.start(3)] + replacement)
        last = m.end(3)
    pieces.append(spec[last:])
    moved = "".join(pieces)
    if not SpecifierSet(",".join(m.group(1) + m.group(3) for m in _CLAUSE.finditer(moved))).contains(
            new, prereleases=True):
        raise ValueError(f"{spec.strip()!r} cannot be moved to admit {new}")
    breaking = any(series != _series(new) for series in before)
    return moved, "changed", breaking


def _move_requirement(text: str, new: Version, library: str) -> tuple[str, PinStatus, bool] | None:
    """``text`` (one requirement, no comment) moved; None when it names another distribution; ValueError with
    the reason when it names the library but cannot be moved."""
    head = _NAME.match(text)
    if head is None or canonicalize_name(head.group(1)) != library:
        return None
    try:
        requirement = Requirement(text.strip())
    except InvalidRequirement as err:
        raise ValueError(f"it is not a PEP 508 requirement ({str(err).splitlines()[0]})") from None
    if requirement.url:
        raise ValueError("it is a direct reference (name @ URL): give the new URL by hand")
    start = head.end()
    marker = text.find(";", start)
    end = marker if marker >= 0 else len(text)
    spec = text[start:end]
    moved, status, breaking = retarget(spec, new)
    return text[:start] + moved + text[end:], status, breaking


def specifier_text(requirement: str) -> str:
    """What follows the name and extras of a requirement (``==1.2.3``, ``>= 1.2, < 2 ; python_version < "3.12"``),
    or ``(any version)``."""
    head = _NAME.match(requirement)
    rest = requirement[head.end():].strip() if head else requirement.strip()
    return rest or "(any version)"


def _lines(text: str) -> Iterator[tuple[int, int, int]]:
    """(line number, start offset, end offset without the line break) of every line."""
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        body = line.rstrip("\r\n")
        yield number, offset, offset + len(body)
        offset += len(line)


_COMMENT = re.compile(r"(^|\s)#")


def plan_requirements(text: str, file: str, library: str, new: Version) -> FilePlan:
    """Every requirement of ``library`` in a requirements or constraints file, moved to ``new``."""
    library = canonicalize_name(library)
    pins: list[Pin] = []
    out: list[str] = []
    last = 0
    continued = False
    for number, start, end in _lines(text):
        line = text[start:end]
        was_continued, continued = continued, line.endswith("\\")
        if was_continued:  # the tail of a requirement (or option) broken over lines: hashes, markers
            continue
        comment = _COMMENT.search(line)
        body = line[:comment.start()] if comment else line
        stripped = body.strip()
        if not stripped or stripped.startswith("-"):  # an option line (-r, -c, --index-url, -e): not a pin
            continue
        head = _NAME.match(body)
        if head is None or canonicalize_name(head.group(1)) != library:
            if head is None and library in {canonicalize_name(w) for w in re.findall(r"[A-Za-z0-9._-]+", stripped)}:
                raise PinError(f"{stripped!r} is not a requirement pip reads", file=file, line=number,
                               fix=f"write it as a PEP 508 requirement, e.g. {library}=={new}")
            continue
        if "--hash" in line or (continued and _hash_follows(text, end)):
            raise PinError(f"{library} is hash-locked ({stripped.rstrip(chr(92)).strip()!r}): its hashes would no "
                           "longer match", file=file, line=number,
                           fix="regenerate the lock file with the new version (pip-compile --generate-hashes)")
        requirement = body.rstrip("\\").rstrip()
        try:
            result = _move_requirement(requirement, new, library)
        except ValueError as err:
            raise PinError(f"cannot move {stripped!r} to {new}: {err}", file=file, line=number,
                           fix="change the line by hand, or remove it from the files propagate reads") from None
        assert result is not None
        moved, status, breaking = result
        pins.append(Pin(file, number, requirement.strip(), moved.strip(), status, breaking))
        if status == "changed":
            out.append(text[last:start] + moved)
            last = start + len(requirement)
    out.append(text[last:])
    return FilePlan(file, text, "".join(out), tuple(pins))


def _hash_follows(text: str, end: int) -> bool:
    rest = text[end:]
    for line in rest.splitlines()[1:]:
        if "--hash" in line:
            return True
        if not line.rstrip().endswith("\\"):
            return False
    return False


#: The tables of pyproject.toml whose arrays hold PEP 508 requirements.
def _requirement_arrays(doc: object) -> Iterator[tuple[str, object]]:
    from tomlkit.items import Array, Table

    def table(node: object, key: str) -> object:
        return node.get(key) if isinstance(node, (dict, Table)) else None

    project = table(doc, "project")
    deps = table(project, "dependencies")
    if isinstance(deps, Array):
        yield "project.dependencies", deps
    optional = table(project, "optional-dependencies")
    if isinstance(optional, (dict, Table)):
        for name, value in optional.items():
            if isinstance(value, Array):
                yield f"project.optional-dependencies.{name}", value
    groups = table(doc, "dependency-groups")
    if isinstance(groups, (dict, Table)):
        for name, value in groups.items():
            if isinstance(value, Array):
                yield f"dependency-groups.{name}", value


def plan_pyproject(text: str, file: str, library: str, new: Version) -> FilePlan:
    """Every requirement of ``library`` in a ``pyproject.toml``, moved to ``new``; the rest byte for byte."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import String

    library = canonicalize_name(library)
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as err:
        raise PinError(f"not valid TOML: {err}", file=file, fix="fix the file; nothing was written") from None
    pins: list[Pin] = []
    seen: dict[str, int] = {}  # raw string -> where it was last found: the same string twice has two lines
    for key, array in _requirement_arrays(doc):
        for index, item in enumerate(list(array)):  # type: ignore[call-overload]
            if not isinstance(item, String):
                continue
            value = str(item)
            raw = item.as_string()
            at = text.find(raw, seen.get(raw, -1) + 1)
            at = at if at >= 0 else text.find(raw)
            seen[raw] = at
            number = text.count("\n", 0, at) + 1 if at >= 0 else 0
            try:
                result = _move_requirement(value, new, library)
            except ValueError as err:
                raise PinError(f"cannot move {value!r} in {key} to {new}: {err}", file=file, line=number,
                               fix="change it by hand, or remove the file from the files propagate reads") from None
            if result is None:
                continue
            moved, status, breaking = result
            pins.append(Pin(file, number, value, moved, status, breaking))
            if status == "changed":
                array[index] = String.from_raw(moved, item.type)  # type: ignore[index]
    after = tomlkit.dumps(doc) if any(p.status == "changed" for p in pins) else text
    return FilePlan(file, text, after, tuple(pins))


def plan_file(text: str, file: str, library: str, new: Version) -> FilePlan:
    """The plan for one service file, by its kind: ``*.toml`` is a pyproject, anything else a requirements file."""
    if file.rsplit("/", 1)[-1].endswith(".toml"):
        return plan_pyproject(text, file, library, new)
    return plan_requirements(text, file, library, new)
