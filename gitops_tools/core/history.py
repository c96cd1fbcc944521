"""Who changed what, when, from which pipeline: read back from commit trailers alone.

The commits of ``git log`` (:class:`~gitops_tools.core.records.CommitRecord`, read by the git edge) become
:class:`Event` values.
A commit that changed an environment without a ``Gitops-Change`` trailer for it (an edit by hand) is reported
as such, never guessed at. Trailers are read only from the trailer blocks of a message, never from its prose.

Pure: text in, values out.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from gitops_tools.core.records import CommitRecord, number
from gitops_tools.errors import UsageError

# env image old -> new: none of them has a blank (commit_message refuses one), which keeps the match linear
_CHANGE = re.compile(r"^Gitops-Change:\s*(\S+)\s+(\S+)\s+(\S+)\s+->\s+(\S+)\s*$")
# A trailer line as git writes one: a token, a colon, its value on the same line (no control characters).
_TRAILER = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*([^\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]*)")
# What `git cherry-pick -x` appends to a trailer block.
_CHERRY_PICKED = re.compile(r"\(cherry picked from commit [0-9a-f]{7,64}\)")

# A Gitops-Source-Time value as ci_trailers writes one (GitLab's CI_COMMIT_TIMESTAMP): ISO 8601 to the second.
SOURCE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                         r"(Z|[+-][0-9]{2}:[0-9]{2})")


class Event(NamedTuple):
    time: str
    env: str | None
    image: str | None
    old: str | None
    new: str | None
    action: str  # set-image, promote, rollback… or "manual" for a commit without trailers
    author: str
    pipeline: str | None
    source_commit: str | None
    commit: str
    pipeline_id: str | None = None
    pipeline_iid: str | None = None
    source_project: str | None = None
    source_time: str | None = None  # the source commit's time (Gitops-Source-Time: CI_COMMIT_TIMESTAMP)

    def as_dict(self) -> dict[str, str | None]:
        return dict(self._asdict())


def _none(value: str) -> str | None:
    return None if value == "(none)" else value


class _Block:
    """One commit message's trailers inside a (possibly squashed) message."""

    def __init__(self) -> None:
        self.action = "set-image"
        self.pipeline: str | None = None
        self.source: str | None = None
        self.pipeline_id: str | None = None
        self.pipeline_iid: str | None = None
        self.project: str | None = None
        self.source_time: str | None = None
        self.changes: list[tuple[str, ...]] = []


# trailer -> the _Block attribute it sets
_BLOCK_FIELDS = {"Gitops-Action": "action", "Gitops-Pipeline": "pipeline", "Gitops-Source-Commit": "source",
                 "Gitops-Pipeline-Id": "pipeline_id", "Gitops-Pipeline-Iid": "pipeline_iid",
                 "Gitops-Source-Project": "project", "Gitops-Source-Time": "source_time"}


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*(?=\n)")


def _paragraphs(message: str) -> list[list[str]]:
    """The paragraphs of a commit message that mention ``Gitops-`` (the others hold no trailer of ours): runs of
    lines between blank ones (lines split at ``\n`` only, as git splits them)."""
    paragraphs: list[list[str]] = []
    for chunk in _BLANK_LINE.split(message):
        if "Gitops-" not in chunk:
            continue
        lines = [line.removesuffix("\r") for line in chunk.split("\n") if line.strip()]
        if lines:
            paragraphs.append(lines)
    return paragraphs


def _trailer_block(paragraph: Sequence[str]) -> list[tuple[str, str, str]] | None:
    """The ``Gitops-`` trailers of ``paragraph`` as (key, value, line) when it is a trailer block (every line a
    trailer, at least one of them ours), else None."""
    found: list[tuple[str, str, str]] = []
    for line in paragraph:
        m = _TRAILER.fullmatch(line)
        if m:
            if m.group(1).startswith("Gitops-"):
                found.append((m.group(1), m.group(2).rstrip(" \t"), line))
        elif not _CHERRY_PICKED.fullmatch(line):
            return None
    return found or None


def _blocks(body: str) -> list[_Block]:
    """The trailer blocks of a message: a squash of several commits carries one block per commit.

    Trailers are read only from trailer blocks: paragraphs made of trailer lines alone (``Key: value``), as each
    message gitops-tools writes ends with one. A ``Gitops-`` line in prose, in a list of changes or in a subject is
    not a trailer. A squash's body holds the original messages one after the other, so each of their blocks is read.
    A block starts with its paragraph, and again at each ``Gitops-Action:`` line in it; it holds the changes and
    source trailers that follow.
    """
    blocks: list[_Block] = []
    if "Gitops-" not in body:
        return blocks
    for paragraph in _paragraphs(body):
        trailers = _trailer_block(paragraph)
        if trailers is None:
            continue
        current: _Block | None = None
        for key, value, line in trailers:
            if current is None or key == "Gitops-Action":
                current = _Block()
                blocks.append(current)
            if key in ("Gitops-Pipeline-Id", "Gitops-Pipeline-Iid") and number(value) is None:
                continue  # not a pipeline number as gitops-tools writes one (ASCII digits): no pipeline
            if key == "Gitops-Source-Time" and not SOURCE_TIME.fullmatch(value):
                continue  # not an ISO 8601 time as gitops-tools writes one (CI_COMMIT_TIMESTAMP): no source time
            if key in _BLOCK_FIELDS:
                setattr(current, _BLOCK_FIELDS[key], value)
            elif key == "Gitops-Change":
                change = _CHANGE.match(line)
                if change:
                    current.changes.append(change.groups())
    return blocks


def _inside(file: str, path: str) -> bool:
    """True when ``file`` is ``path`` or below it (``path`` "" or "." is the whole tree), as
    :meth:`CommitRecord.touches` decides for a commit's files."""
    return not path or path == "." or file == path or file.startswith(path.rstrip("/") + "/")


def events(commits: Iterable[CommitRecord], env_paths: Mapping[str, str], env: str | None = None,
           image: str | None = None) -> list[Event]:
    """Every change recorded in ``commits`` (newest first, as git log gives them), filtered by env and image.

    ``env_paths`` maps each environment to its directory, to say which environment a manual commit touched.
    A ``Gitops-Change`` trailer counts only when its commit really changed that environment's directory (or,
    for an overlay outside the configuration, the directory the trailer names): a message cannot claim a
    change it did not make. An environment in which the commit changed a file that no believed trailer speaks for
    (the file is outside the directories of the trailers the commit is believed for) was changed by hand: it is
    reported as ``manual``, even when the message has trailers about other environments. Merge
    commits report no ``manual`` events (the commits they merge carry the trailers, or are manual themselves).
    """
    out: list[Event] = []
    append = out.append  # ten thousand commits are read at once: the loop stays lean
    for c in commits:
        author = f"{c.author} <{c.email}>"
        files = c.files
        covered: list[str] = []  # the directories that believed trailers speak for
        if "Gitops-" in c.message:
            for b in _blocks(c.message):
                for e, img, old, new in b.changes:
                    where = env_paths.get(e, e)
                    if not _touched(files, where):
                        continue  # a trailer about a place this commit did not change: not believed
                    covered.append(where)
                    if (env is None or e == env) and (image is None or img == image):
                        append(Event(c.date, e, img, _none(old), _none(new), b.action, author, b.pipeline,
                                     b.source, c.sha, b.pipeline_id, b.pipeline_iid, b.project, b.source_time))
        if len(c.parents) > 1 or image is not None:
            continue
        # An environment where the commit changed a file that no believed trailer speaks for (by its environment's
        # or overlay's directory) was changed by hand, even when the message has trailers about other places.
        uncovered = [f for f in files if not any(_inside(f, d) for d in covered)] if covered else files
        if not uncovered:
            continue
        for e in sorted(name for name, path in env_paths.items() if _touched(uncovered, path)):
            if env is None or e == env:
                append(Event(c.date, e, None, None, None, "manual", author, None, None, c.sha))
    return out


def _touched(files: Sequence[str], path: str) -> bool:
    """True when one of ``files`` is ``path`` or below it (as :meth:`CommitRecord.touches` decides)."""
    if not path or path == ".":
        return True
    prefix = path.rstrip("/") + "/"
    for f in files:
        if f == path or f.startswith(prefix):
            return True
    return False


_RELATIVE = re.compile(
    r"^(\d+)\s*[. ]?\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?|months?|years?)"
    r"(?:\s*[. ]?\s*ago)?$", re.IGNORECASE | re.ASCII)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# ISO 8601 dates and times, in the forms read here (each part extended or basic):
# a calendar date (2026-11-01, 20261101), a week date (2026-W44-7, 2026W447; the week alone means its Monday) or
# an ordinal date (2026-305, 2026305); then optionally T (or a blank) and hh, hh:mm or hh:mm:ss with a fraction
# of a second (. or ,), then optionally Z or an offset (+hh, +hh:mm, +hhmm).
_ISO = re.compile(
    r"(?P<year>\d{4})(?:"
    r"-(?P<month>\d{2})-(?P<day>\d{2})|(?P<bmonth>\d{2})(?P<bday>\d{2})"
    r"|-W(?P<week>\d{2})(?:-(?P<weekday>\d))?|W(?P<bweek>\d{2})(?P<bweekday>\d)?"
    r"|-(?P<yday>\d{3})|(?P<byday>\d{3}))"
    r"(?:[Tt ](?P<hour>\d{2})(?::?(?P<minute>\d{2})(?::?(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?", re.ASCII)
_UTC = datetime.timezone.utc
# What git reads: its date parser takes the years 1970 to 2099 and nothing else, whatever the offset.
_EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
_LATEST = datetime.datetime(2099, 12, 31, 23, 59, 59, tzinfo=_UTC)
_SINCE_FIX = ("write a date or time (2026-11-01, 2026-11-01T10:00:00+00:00) or a span back from now "
              "(30m, 2h, 3 days, 2.weeks, yesterday)")


def _iso(value: str) -> datetime.datetime | None:
    """``value`` as an exact, aware time when it is an ISO 8601 date or time of the forms of ``_ISO`` (a date
    alone is its midnight, no offset is UTC, a fraction of a second counts as the next whole second); None when
    it is not one or names no real time (2026-02-30, 25:00, week 53 of a short year)."""
    m = _ISO.fullmatch(value)
    if m is None:
        return None
    g = m.groupdict()
    year = int(g["year"])
    try:
        if g["month"] or g["bmonth"]:
            day = datetime.date(year, int(g["month"] or g["bmonth"]), int(g["day"] or g["bday"]))
        elif g["week"] or g["bweek"]:
            day = datetime.date.fromisocalendar(year, int(g["week"] or g["bweek"]),
                                                int(g["weekday"] or g["bweekday"] or 1))
        else:
            ordinal = int(g["yday"] or g["byday"])
            if not 1 <= ordinal <= (datetime.date(year, 12, 31) - datetime.date(year, 1, 1)).days + 1:
                return None
            day = datetime.date(year, 1, 1) + datetime.timedelta(days=ordinal - 1)
        hour, minute, second = (int(g[k] or 0) for k in ("hour", "minute", "second"))
        end_of_day = hour == 24 and minute == second == 0 and not (g["fraction"] or "").strip("0")
        tz = _UTC
        offset = g["offset"]
        if offset and offset not in "Zz":
            digits = offset[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:] or 0)
            if hours > 23 or minutes > 59:
                return None
            sign = -1 if offset[0] == "-" else 1
            tz = datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
        when = datetime.datetime(day.year, day.month, day.day, 0 if end_of_day else hour, minute, second, tzinfo=tz)
    except (ValueError, OverflowError):
        return None
    if end_of_day:  # 24:00 is the end of the day: the next one's midnight
        if when.date() == datetime.date.max:
            return datetime.datetime.max.replace(tzinfo=_UTC)  # later than git reads: refused as such
        when += datetime.timedelta(days=1)
    if (g["fraction"] or "").strip("0"):
        when += datetime.timedelta(seconds=1)  # commit times are whole seconds: after 10:00:00.5 is from 10:00:01
    return when


def _for_git(when: datetime.datetime, text: str) -> str:
    """``when`` as ``git log --since`` reads it exactly: ISO 8601 to the second with its offset (in UTC when its own
    offset would put the date outside the years git reads); a time git cannot read is refused."""
    if when < _EARLIEST:
        raise UsageError(f"--since {text!r}: before {_EARLIEST.isoformat()}, the earliest time git reads",
                         fix="leave out --since to see the whole history")
    if when > _LATEST:
        raise UsageError(f"--since {text!r}: after {_LATEST.isoformat()}, the latest time git reads",
                         fix="give an earlier time (no change can be recorded after it)")
    if not 1970 <= when.year <= 2099:
        when = when.astimezone(_UTC)
    return when.isoformat(timespec="seconds")


def since_argument(text: str, now: datetime.datetime) -> str:
    """What ``history --since WHEN`` gives ``git log --since``: always an exact ISO 8601 time with its offset
    (``2026-11-01T00:00:00+00:00``), which git cannot misread.

    - An ISO 8601 date or time: a calendar date (``2026-11-01``, ``20261101``), a week date (``2026-W44-7``;
      ``2026-W44`` is its Monday) or an ordinal date (``2026-305``), optionally followed by ``T`` (or a blank)
      and ``hh``, ``hh:mm`` or ``hh:mm:ss[.fff]`` (basic forms too) and ``Z`` or an offset (``+02:00``,
      ``+0200``, ``+02``). A date alone means midnight UTC of that day; a time without an offset is UTC; the
      offset given is kept; a fraction of a second means the next whole second (commit times are whole
      seconds); ``24:00`` is the next day's midnight.
    - A span back from ``now``: ``30m``, ``45 seconds``, ``2h``, ``3 days ago``, ``2.weeks``, ``1 month`` (30
      days), ``1 year`` (365 days), ``yesterday`` (24 hours), ``now``; ``today`` is the last midnight in
      ``now``'s offset. Counted from ``now`` to the second, in its offset (a naive ``now`` is UTC).

    Anything else is refused (a UsageError, exit 2), as is a time before 1970 or after 2099, which git's date
    parser does not read: git would read the text as something else (often "now") and show nothing, silently.
    """
    value = text.strip()
    if now.tzinfo is None:
        now = now.replace(tzinfo=_UTC)
    now = now.replace(microsecond=0)
    when = _iso(value)
    if when is not None:
        return _for_git(when, text)
    seconds: int | None = None
    lowered = value.lower()
    if lowered == "yesterday":
        seconds = 86400
    elif lowered == "now":
        seconds = 0
    elif lowered == "today":
        return _for_git(now.replace(hour=0, minute=0, second=0), text)
    else:
        m = _RELATIVE.match(value)
        if m:
            unit = m.group(2).lower()
            if unit.startswith("mo"):
                per = 30 * 86400
            elif unit.startswith("y"):
                per = 365 * 86400
            else:
                per = _SECONDS[unit[0]]
            seconds = int(m.group(1)) * per
    if seconds is None:
        raise UsageError(f"--since {text!r}: not a date or a time span", fix=_SINCE_FIX)
    if seconds > (now - _EARLIEST).total_seconds():  # also before year 1, where datetime overflows
        raise UsageError(f"--since {text!r}: reaches back before {_EARLIEST.isoformat()}, the earliest time git reads",
                         fix="leave out --since to see the whole history")
    return _for_git(now - datetime.timedelta(seconds=seconds), text)


def since_when(commits: Sequence[CommitRecord], env: str, env_path: str, image: str, value: str) -> CommitRecord | None:
    """The commit that made ``image`` ``value`` in ``env``, if history says so for certain (for --min-age).

    Walks back from the newest change of the environment: the first recorded change of the image must set
    it to ``value``; a commit on the way that changed the environment without a trailer for it (an edit by hand,
    even one whose message has trailers about other environments) means we cannot know.
    """
    for ev in events(commits, {env: env_path}, env):
        if ev.action == "manual":
            return None
        if ev.image == image:
            return next((c for c in commits if c.sha == ev.commit), None) if ev.new == value else None
    return None


def who_set(commits: Sequence[CommitRecord], scope: str, path: str, image: str, value: str,
            shallow: bool) -> Event | str | None:
    """The recorded change that made ``image`` ``value`` in ``scope`` (whose directory is ``path``): the event,
    or why history cannot say (a string), or None when the answer lies behind the edge of a shallow clone
    (``shallow``: a commit without parents there is that edge, not a change by hand)."""
    by_sha = {c.sha: c for c in commits}
    for ev in events(commits, {scope: path}, scope):
        if ev.action == "manual":
            if shallow and not by_sha[ev.commit].parents:
                return None
            return f"it was last changed without gitops-tools (commit {ev.commit[:12]})"
        if ev.image != image:
            continue
        if ev.new != value:
            return f"history's last change of it (commit {ev.commit[:12]}) does not match the file"
        return ev
    return None if shallow else "no commit in history says which pipeline set it"
