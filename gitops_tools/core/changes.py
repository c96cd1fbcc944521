"""What an edit did, and the commit message, JSON and text built from it.

Every semantic change ("set aegis/api to 1.4.2 in dev") returns :class:`Change` values; commit messages,
dry-run output, JSON and (later) retries are all derived from them, never from a second look at the files.

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple

from gitops_tools.errors import GitopsError


class Change(NamedTuple):
    """One scalar that changed: ``old`` None means added, ``new`` None means removed."""

    file: str  # repository-relative POSIX path (or as given, outside a repository)
    path: str  # key path, e.g. images[name=aegis/api].newTag
    old: str | None
    new: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"file": self.file, "path": self.path, "old": self.old, "new": self.new}


Status = Literal["updated", "added", "unchanged", "skipped-downgrade"]


class ImageUpdate(NamedTuple):
    """The outcome for one image in one target: what it was, what it is, and why."""

    image: str
    old: str | None  # the image's value before ("1.4.1", "reg/x:1.4.1@sha256:..."), None when absent
    new: str | None
    status: Status
    changes: tuple[Change, ...] = ()
    message: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "image": self.image,
            "old": self.old,
            "new": self.new,
            "status": self.status,
            "message": self.message,
            "changes": [c.as_dict() for c in self.changes],
        }


def describe(value: str | None) -> str:
    return "(none)" if value is None else value


def trailer_lines(scope: str, updates: Iterable[ImageUpdate]) -> list[str]:
    """``Gitops-Change: dev aegis/api 1.4.1 -> 1.4.2``, one per image that changed, sorted by image."""
    return [
        f"Gitops-Change: {scope} {u.image} {describe(u.old)} -> {describe(u.new)}"
        for u in sorted(updates, key=lambda u: u.image)
        if u.changes
    ]


VERBS = {"set-image": "set", "promote": "promote", "rollback": "roll back"}

# Line breaks (also Unicode's) and every other control character (C0, DEL, C1: ESC, NUL, CSI…): what would let a
# value add a line to a message, or rewrite what a terminal shows of it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BLANK = re.compile(r"\s")
# A trailer key as git reads one.
_TRAILER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _checked(value: str, what: str, *, file: str | None = None, key: str | None = None,
             blanks: bool = True) -> str:
    """``value`` if it can go into a commit message as it is: one line, no control characters (and, for the
    words of a ``Gitops-Change`` trailer, no blanks); else an error naming where it came from."""
    bad = _CONTROL.search(value) or (not blanks and _BLANK.search(value))
    if bad:
        char = bad.group(0)
        kind = "a line break" if char in "\r\n\x85\u2028\u2029" else \
            "a blank" if char.isspace() and char not in "\t\x0b\x0c" else "a control character"
        raise GitopsError(
            f"{what} {value!r} contains {kind}, so it would forge or break lines of the commit message",
            file=file, key=key, fix="fix the value (history reads the commit's trailers back); nothing was written",
        )
    return value


# GitLab CI variables recorded as trailers: (trailer, variable, what a valid value looks like, example)
_CI_TRAILERS = (
    ("Gitops-Source-Project", "CI_PROJECT_PATH", r"[\w.+-]+(/[\w.+-]+)+", "aegis/api"),
    ("Gitops-Source-Commit", "CI_COMMIT_SHA", r"[0-9a-f]{7,64}", "a 40-hex-digit commit"),
    ("Gitops-Pipeline", "CI_PIPELINE_URL", r"https?://[^\s<>]+", "https://gitlab.com/aegis/api/-/pipelines/7"),
    ("Gitops-Pipeline-Id", "CI_PIPELINE_ID", r"[0-9]{1,20}", "a number"),
    ("Gitops-Pipeline-Iid", "CI_PIPELINE_IID", r"[0-9]{1,20}", "a number"),
    ("Gitops-Triggered-By", "GITLAB_USER_EMAIL", r"[^\s<>@]+@[^\s<>@]+", "an e-mail address"),
    # the source commit's time (ISO 8601), where lead time for changes starts (``metrics``)
    ("Gitops-Source-Time", "CI_COMMIT_TIMESTAMP",
     r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
     "an ISO 8601 time such as 2026-11-20T09:58:00Z"),
)


def ci_trailers(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Where the change came from, as GitLab CI tells it; a variable that is not what GitLab sets is refused,
    naming the variable: a line break (it would add a forged trailer), a blank or any control character (ESC,
    NUL…) in any of them, or a value of another form."""
    out = []
    for trailer, var, pattern, example in _CI_TRAILERS:
        value = env.get(var)
        if not value:
            continue
        _checked(value, var, blanks=False)  # no line break, blank or control character, whatever the pattern
        if not re.fullmatch(pattern, value):
            raise GitopsError(f"{var} {value!r} is not what GitLab CI sets ({example})",
                              fix=f"fix or unset {var}: it goes into the commit's {trailer} trailer; "
                                  "nothing was written")
        out.append((trailer, value))
    return out


def commit_message(
    scope: str,
    action: str,
    updates: Sequence[ImageUpdate],
    *,
    extra_trailers: Sequence[tuple[str, str]] = (),
    skip_ci: bool = False,
) -> str:
    """A Conventional Commit whose trailers alone say what changed (``history`` reads them back).

    ``scope`` is the environment name (or the overlay directory when the target is not an environment). Every
    value that goes into the message (scope, action, images, values, files, key paths, extra trailers) is
    checked: a line break or another control character (and, in the words of a trailer, a blank) is refused
    with a GitopsError, so no value can add a line; the message ends with one trailer block.
    """
    changed = sorted((u for u in updates if u.changes), key=lambda u: u.image)
    if not changed:
        raise ValueError("no change to describe")
    # Every value that goes into the message is checked: none may add a line (history reads the trailers back).
    _checked(scope, "the target", blanks=False)
    _checked(action, "the action", blanks=False)
    for u in changed:
        first = u.changes[0]
        _checked(u.image, "the image name", file=first.file, blanks=False)
        for value in (u.old, u.new):
            if value is not None:
                _checked(value, f"the value of {u.image}", file=first.file, blanks=False)
        for c in u.changes:
            _checked(c.file, "the file name", blanks=False)
            _checked(c.path, "the key path", file=c.file)
            for value in (c.old, c.new):
                if value is not None:
                    _checked(value, "the value", file=c.file, key=c.path)
    for key, value in extra_trailers:
        if not _TRAILER_KEY.fullmatch(key):
            raise GitopsError(f"the trailer key {key!r} is not a git trailer key (letters, digits and '-')",
                              fix="fix the key; nothing was written")
        _checked(value, key)
    verb = VERBS.get(action, action)
    if len(changed) == 1:
        u = changed[0]
        subject = f"chore({scope}): {verb} {u.image} {describe(u.old)} -> {describe(u.new)}"
    else:
        shown = [u.image for u in changed[:5]]
        names = ", ".join(shown) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        subject = f"chore({scope}): {verb} {len(changed)} images ({names})"
    if skip_ci:
        subject += " [skip ci]"
    body: list[str] = []
    for u in changed:
        for c in u.changes:
            body.append(f"- {c.file}: {c.path}: {describe(c.old)} -> {describe(c.new)}")
    trailers = [f"Gitops-Action: {action}", *trailer_lines(scope, changed)]
    trailers += [f"{k}: {v}" for k, v in extra_trailers]
    return "\n".join([subject, "", *body, "", *trailers]) + "\n"


FALLBACK_NAME, FALLBACK_EMAIL = "gitops-tools", "gitops-tools@localhost"


def identity(configured: tuple[str | None, str | None], env: Mapping[str, str],
             git_has_email: bool) -> tuple[str | None, dict[str, str]]:
    """Who a commit (or tag) is by: the configured author, else the GitLab user of the pipeline
    (``GITLAB_USER_NAME``/``GITLAB_USER_EMAIL``); and a committer for a machine where git has no identity
    (a fresh CI image), so that the commit does not fail there. Returns (``--author`` value or None, extra
    environment for git)."""
    name, email = configured
    author = None
    if name and email:
        author = f"{name} <{email}>"
    elif env.get("GITLAB_USER_NAME") and env.get("GITLAB_USER_EMAIL"):
        for var in ("GITLAB_USER_NAME", "GITLAB_USER_EMAIL"):
            if "<" in env[var] or ">" in env[var]:
                raise GitopsError(f"{var} {env[var]!r} contains '<' or '>'", fix=f"fix or unset {var}: it "
                                  "becomes the commit's author; nothing was written")
            _checked(env[var], var)
        author = f"{env['GITLAB_USER_NAME']} <{env['GITLAB_USER_EMAIL']}>"
    extra: dict[str, str] = {}
    if not (env.get("GIT_COMMITTER_EMAIL") or git_has_email):
        extra = {"GIT_COMMITTER_NAME": FALLBACK_NAME, "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL}
        if author is None:
            author = f"{FALLBACK_NAME} <{FALLBACK_EMAIL}>"
    return author, extra


def unified_diff(file: str, before: str, after: str) -> str:
    """``git diff``-style text for one file (``a/``/``b/`` prefixes, 3 lines of context)."""
    import difflib  # only dry runs pay for it

    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{file}", f"b/{file}"
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)
