"""Many writers, one branch: pending changes published as refs, folded into one commit by whoever goes next.

DESIGN §3.14. A CI job that sets images does not race the others for the target branch: it publishes its
*semantic change* (target, specs, options, the CI variables of its pipeline) as a commit message under a ref of
its own, ``refs/gitops-tools/pending/<branch>/<id>``, that no other job writes. The job whose pending change is
the oldest then *folds*: it applies every pending change in the order they were made (the same plan and the same
downgrade guard as a single job), makes one commit with one trailer block per change, and pushes atomically the
branch and the deletion of every ref it folded, each deletion leased on the commit it read. The others find their
ref gone and their id in that commit's ``Gitops-Fold`` trailers.

This module is the data: the id, the ref names, the pending change as text and back, the fold commit's message
and what it says about each change. Pure: the time and the random part of an id are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from gitops_tools.core.changes import ImageUpdate, VERBS, _checked, describe, trailer_lines

PENDING_ROOT = "refs/gitops-tools/pending"
_HEADER = "gitops-tools pending change"
_ID = re.compile(r"[0-9]{20}-[0-9a-f]{8}")
# The CI variables a pending change carries: what its trailers and its downgrade guard read.
CI_VARIABLES = ("CI_PROJECT_PATH", "CI_COMMIT_SHA", "CI_PIPELINE_URL", "CI_PIPELINE_ID", "CI_PIPELINE_IID",
                "GITLAB_USER_EMAIL", "CI_COMMIT_TIMESTAMP")

Status = Literal["landed", "unchanged", "skipped", "failed"]
STATUSES: tuple[Status, ...] = ("landed", "unchanged", "skipped", "failed")


def new_id(time_ns: int, random_bits: int) -> str:
    """An id that sorts by creation time (nanoseconds since the epoch, 20 digits) and is unique (32 random bits)."""
    return f"{time_ns:020d}-{random_bits & 0xFFFFFFFF:08x}"


def id_time(change_id: str) -> float:
    """When the change of ``change_id`` was made, in seconds since the epoch."""
    return int(change_id[:20]) / 1e9


def is_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def pending_prefix(branch: str) -> str:
    return f"{PENDING_ROOT}/{branch}/"


def pending_ref(branch: str, change_id: str) -> str:
    return pending_prefix(branch) + change_id


class PendingChange(NamedTuple):
    """One job's change, as it waits to be folded: enough to plan it again on any tree."""

    id: str
    target: str  # an environment of the configuration
    specs: tuple[str, ...]
    setters: tuple[str, ...] = ()
    add: bool = False
    allow_downgrade: bool = False
    env: tuple[tuple[str, str], ...] = ()  # the CI variables of its pipeline (CI_VARIABLES only)

    @property
    def environ(self) -> dict[str, str]:
        return dict(self.env)


def ci_environment(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The CI variables of ``env`` a pending change keeps."""
    return tuple((k, env[k]) for k in CI_VARIABLES if env.get(k))


def encode(change: PendingChange) -> str:
    """The pending commit's message: a subject, then the change as one line of JSON."""
    import json  # only a folded change is written as JSON

    data = {"id": change.id, "target": change.target, "specs": list(change.specs), "setters": list(change.setters),
            "add": change.add, "allow_downgrade": change.allow_downgrade, "env": dict(change.env)}
    return f"{_HEADER} {change.id}\n\n{json.dumps(data, sort_keys=True, ensure_ascii=True)}\n"


def decode(message: str) -> PendingChange | None:
    """The change a pending commit's message holds; None when it is not one gitops-tools wrote."""
    subject, _, rest = message.partition("\n")
    if not subject.startswith(_HEADER + " "):
        return None
    import json

    try:
        data = json.loads(rest.strip())
        change = PendingChange(
            id=str(data["id"]), target=str(data["target"]),
            specs=tuple(str(s) for s in data["specs"]), setters=tuple(str(s) for s in data.get("setters", [])),
            add=data.get("add") is True, allow_downgrade=data.get("allow_downgrade") is True,
            env=tuple((str(k), str(v)) for k, v in sorted(dict(data.get("env", {})).items())
                      if k in CI_VARIABLES))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not is_id(change.id) or subject != f"{_HEADER} {change.id}":
        return None
    return change


class FoldEntry(NamedTuple):
    """What became of one pending change in a fold."""

    id: str
    scope: str
    status: Status
    action: str = "set-image"
    updates: tuple[ImageUpdate, ...] = ()
    trailers: tuple[tuple[str, str], ...] = ()  # its pipeline's (ci_trailers of its CI variables)
    reason: str = ""  # why it was skipped or failed


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line without control characters, at most ``limit`` characters (a reason in a trailer)."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fold_message(entries: Sequence[FoldEntry], *, skip_ci: bool = False) -> str:
    """The fold commit's message: a subject naming what changed, a line per changed value, and one trailer block
    per change (``Gitops-Action``, its ``Gitops-Change`` trailers, its pipeline's trailers, and
    ``Gitops-Fold: <id> <status> [reason]``), newest change first as ``git log`` lists commits, so that history
    reads each change with its own pipeline."""
    landed = [e for e in entries if e.status == "landed"]
    if not landed:
        raise ValueError("no change to describe")
    changed = [(e.scope, u) for e in landed for u in e.updates if u.changes]
    scopes = sorted({s for s, _ in changed})
    verb = VERBS.get(landed[0].action, landed[0].action)
    names = []
    for _, u in changed:
        if u.image not in names:
            names.append(u.image)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    where = scopes[0] if len(scopes) == 1 else ",".join(scopes)
    if len(changed) == 1:
        s, u = changed[0]
        subject = f"chore({where}): {verb} {u.image} {describe(u.old)} -> {describe(u.new)}"
    else:
        subject = f"chore({where}): {verb} {len(changed)} images ({shown})"
    subject += f" [{len(entries)} changes folded]" if len(entries) > 1 else ""
    if skip_ci:
        subject += " [skip ci]"
    body = [f"- {c.file}: {c.path}: {describe(c.old)} -> {describe(c.new)}" for _, u in changed for c in u.changes]
    trailers: list[str] = []
    for e in reversed(entries):
        _checked(e.scope, "the target", blanks=False)
        block = [f"Gitops-Action: {e.action}"]
        if e.status == "landed":
            block += trailer_lines(e.scope, e.updates)
        for key, value in e.trailers:
            block.append(f"{key}: {_checked(value, key)}")
        fold = f"Gitops-Fold: {e.id} {e.status}"
        if e.reason:
            fold += f" {one_line(e.reason)}"
        block.append(fold)
        trailers += block
    return "\n".join([subject, "", *body, "", *trailers]) + "\n"


_FOLD = re.compile(r"^Gitops-Fold: ([0-9]{20}-[0-9a-f]{8}) (landed|unchanged|skipped|failed)(?: (.*))?$",
                   re.MULTILINE)


class Folded(NamedTuple):
    status: Status
    reason: str


def folded(message: str) -> dict[str, Folded]:
    """What a fold commit's message says became of each change it folded, by id (empty for any other commit)."""
    if "Gitops-Fold: " not in message:
        return {}
    return {m.group(1): Folded(m.group(2), (m.group(3) or "").strip())  # type: ignore[arg-type]
            for m in _FOLD.finditer(message)}


Names = frozenset[tuple[str, str]] | set[tuple[str, str]]


def touches(names: Names, others: Names) -> bool:
    """Whether a change of ``names`` ((target, image name) pairs; ``(target, "*")`` for a change whose specs
    cannot be read: any image of the target) may set an image one of ``others`` sets."""
    return bool(names & others) or any((t, "*") in others for t, _ in names) or \
        any(i == "*" and any(t2 == t for t2, _ in others) for t, i in names)


def followed(names: Sequence[Names]) -> list[bool]:
    """For each change of a fold, in order, whether a later one may set one of its images again."""
    out: list[bool] = []
    seen: set[tuple[str, str]] = set()
    for n in reversed(names):
        out.append(touches(n, seen))
        seen |= n
    return out[::-1]
