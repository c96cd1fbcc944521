"""Notifications: what a landed change or a release says, as plain text, a Slack message and a JSON payload.

A notice is built from the values the write path returns (the image updates, the commit, the branch or the
merge-request branch) and the CI variables it is given; nothing is read again. :func:`text` is the message as
plain text (the Slack ``text`` fallback, and what a webhook payload carries as ``text``); :func:`slack` is a
Block Kit message; :func:`webhook` the generic JSON payload. :func:`check_url` says why a webhook URL is not
acceptable and :func:`mask` takes it out of any text. :func:`release_targets` reads the targets of a library's
``[[tool.gitops-tools.release.notify]]``.

Pure: values in, values out; the sending is :mod:`gitops_tools.commands.notifying`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

from gitops_tools.config.model import NotifyTarget
from gitops_tools.core.changes import ImageUpdate
from gitops_tools.errors import GitopsError

#: How many images a message lists (Slack limits a section to 3,000 characters); the JSON payload has them all.
MAX_LISTED = 20
_MAX_CHANGELOG = 2_800  # characters of the CHANGELOG section in a Slack section block
_MAX_HEADER = 150  # Slack's limit for a header block
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LOOPBACK_NAMES = ("localhost",)


class Moved(NamedTuple):
    """One image that changed: its name, and its whole value before (None: added) and after."""

    image: str
    old: str | None
    new: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"image": self.image, "from": self.old, "to": self.new}


@dataclass(frozen=True)
class ChangeNotice:
    """An environment changed (``image set``, ``promote``, ``rollback``): pushed to ``branch``, or, for a
    protected environment, pushed to ``merge_request_branch`` and awaiting merge into ``branch``."""

    event: str  # set-image, promote, rollback
    scope: str  # the environment's name, or the overlay directory
    environment: str | None
    images: tuple[Moved, ...]
    commit: str | None
    branch: str
    merge_request_branch: str | None = None
    merge_request_url: str | None = None
    commit_url: str | None = None
    pipeline_url: str | None = None

    @property
    def awaiting_merge(self) -> bool:
        return self.merge_request_branch is not None


@dataclass(frozen=True)
class ReleaseNotice:
    """A library was released: its version committed, tagged and pushed to ``branch``."""

    library: str
    previous: str | None
    version: str
    tag: str
    commit: str | None
    branch: str
    changelog: str
    commit_url: str | None = None
    pipeline_url: str | None = None

    event = "release"
    environment: None = None
    awaiting_merge = False


Notice = ChangeNotice | ReleaseNotice


# --- building notices -------------------------------------------------------------------------------------------


def change_notice(action: str, scope: str, environment: str | None, updates: Iterable[ImageUpdate],
                  commit: str | None, branch: str, merge_request_branch: str | None, repo_url: str | None,
                  env: Mapping[str, str]) -> ChangeNotice:
    """The notice of a change that landed; ``repo_url`` (the repository's URL, for web links) and ``env`` (the
    CI variables: ``CI_PIPELINE_URL``) may give links."""
    web = web_url(repo_url)
    moved = tuple(Moved(u.image, u.old, u.new) for u in sorted(updates, key=lambda u: u.image) if u.changes)
    mr_url = None
    if web and merge_request_branch:
        mr_url = f"{web}/-/merge_requests?scope=all&state=opened&source_branch={url_quote(merge_request_branch)}"
    return ChangeNotice(action, scope, environment, moved, commit, branch, merge_request_branch, mr_url,
                        commit_link(web, commit), pipeline_url(env))


def release_notice(library: str, previous: str | None, version: str, tag: str, commit: str | None, branch: str,
                   changelog: str, commit_url: str | None, env: Mapping[str, str]) -> ReleaseNotice:
    """The notice of a release that was pushed; ``commit_url`` is the library's ``commit_url`` template."""
    link = None
    if commit_url and commit:
        link = safe_link(commit_url.format(sha=commit, short=commit[:7]))
    return ReleaseNotice(library, previous, version, tag, commit, branch, changelog, link, pipeline_url(env))


def pipeline_url(env: Mapping[str, str]) -> str | None:
    """``CI_PIPELINE_URL`` when it is an http(s) URL on one line (a value that is not is left out, not trusted)."""
    return safe_link(env.get("CI_PIPELINE_URL", ""))


def commit_link(web: str | None, commit: str | None) -> str | None:
    """The web page of ``commit`` in the project at ``web`` (:func:`web_url`); None without either."""
    return f"{web}/-/commit/{commit}" if web and commit else None


def web_url(repo_url: str | None) -> str | None:
    """The web address of a GitLab project from its clone URL (``https://gitlab.com/aegis/gitops.git`` or
    ``git@gitlab.com:aegis/gitops.git`` -> ``https://gitlab.com/aegis/gitops``), credentials removed; None for
    a local path or anything else."""
    if not repo_url:
        return None
    url = repo_url.strip()
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(?!//)([\w./-]+)", url)
    if scp:
        url = f"https://{scp.group(1)}/{scp.group(2)}"
    parts = urlsplit(url)
    if parts.scheme == "ssh" and parts.hostname:
        parts = parts._replace(scheme="https", netloc=parts.hostname)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port and parts.scheme != "ssh" else "")
    path = parts.path.rstrip("/").removesuffix(".git")
    return safe_link(urlunsplit((parts.scheme, host, path, "", "")))


def safe_link(url: str) -> str | None:
    """``url`` if it is an http(s) URL without blanks, control characters or the characters that end a Slack
    link; else None."""
    if not url or _UNSAFE.search(url) or any(c in url for c in "|<>\"'`"):
        return None
    return url if re.match(r"^https?://[^/]", url) else None


# --- which targets, and their URLs --------------------------------------------------------------------------------


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a webhook URL, or None: http(s) only, https except to loopback (127.0.0.0/8,
    ``localhost``, ``::1``). The reasons never repeat the URL."""
    import ipaddress

    if _UNSAFE.search(url.strip()):
        return "it contains a space or a control character"
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return "it is not an http(s) URL"
    try:
        host, _ = parts.hostname, parts.port
    except ValueError:
        return "its port is not a number from 0 to 65535"
    if not host:
        return "it has no host"
    if scheme == "http":
        try:
            loopback = host in _LOOPBACK_NAMES or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return "it is http, not https (plain http only to 127.0.0.1, localhost or ::1)"
    return None


def mask(text: str, secrets: Mapping[str, str]) -> str:
    """``text`` with each secret URL (and the parts of it that identify it: without its scheme, its path and
    query) replaced by ``$NAME``, the name of the variable that holds it."""
    for url, name in secrets.items():
        url = url.strip()
        if not url:
            continue
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        pieces = {url, url.rstrip("/"), url.split("://", 1)[-1], path, parts.path}
        for piece in sorted(pieces, key=len, reverse=True):
            if len(piece) >= 8 or piece == url:
                text = text.replace(piece, f"${name}")
    return text


# --- the messages -------------------------------------------------------------------------------------------------


_SUBJECTS = {"set-image": "Image update in {scope}", "promote": "Promotion to {scope}",
             "rollback": "Rollback of {scope}"}


def title(notice: Notice) -> str:
    """One line: what happened and where it stands."""
    if isinstance(notice, ReleaseNotice):
        return f"{notice.library} {notice.version} released"
    subject = _SUBJECTS.get(notice.event, "{scope}").format(scope=notice.scope)
    if notice.awaiting_merge:
        return f"{subject} awaiting merge into {notice.branch}"
    return f"{subject} landed on {notice.branch}"


def _split(value: str) -> tuple[str, str]:
    """``registry/team/app:1.2@sha256:…`` -> (``registry/team/app``, ``1.2@sha256:…``)."""
    name, at, digest = value.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    repo, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "")
    return repo, tag + (f"@{digest}" if at else "")


def short_pair(old: str | None, new: str | None) -> tuple[str, str]:
    """The two values as a reader wants them: only the tags (and digests) when the repository stayed the same."""
    if old is not None and new is not None:
        (old_repo, old_version), (new_repo, new_version) = _split(old), _split(new)
        if old_repo == new_repo and old_version and new_version:
            return old_version, new_version
    return old or "(none)", new or "(removed)"


def _listed(images: Sequence[Moved]) -> tuple[list[tuple[str, str, str]], int]:
    shown = [(m.image, *short_pair(m.old, m.new)) for m in images[:MAX_LISTED]]
    return shown, max(0, len(images) - MAX_LISTED)


def text(notice: Notice) -> str:
    """The message as plain text: a title line, then one line per fact."""
    lines = [title(notice)]
    if isinstance(notice, ReleaseNotice):
        lines.append(f"version: {notice.previous or '(none)'} -> {notice.version} (tag {notice.tag})")
        if notice.commit:
            lines.append(f"commit: {notice.commit[:12]} on {notice.branch}"
                         + (f" ({notice.commit_url})" if notice.commit_url else ""))
        if notice.pipeline_url:
            lines.append(f"pipeline: {notice.pipeline_url}")
        if notice.changelog.strip():
            lines += ["", notice.changelog.strip()]
        return "\n".join(lines) + "\n"
    shown, more = _listed(notice.images)
    lines += [f"- {image}: {old} -> {new}" for image, old, new in shown]
    if more:
        lines.append(f"- and {more} more")
    if notice.merge_request_branch:
        lines.append(f"merge request: from {notice.merge_request_branch} into {notice.branch}"
                     + (f" ({notice.merge_request_url})" if notice.merge_request_url else ""))
    if notice.commit:
        lines.append(f"commit: {notice.commit[:12]}" + (f" ({notice.commit_url})" if notice.commit_url else ""))
    if notice.pipeline_url:
        lines.append(f"pipeline: {notice.pipeline_url}")
    return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    """Text for Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped, as Slack asks."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: str) -> str:
    return f"`{_esc(value.replace('`', ''))}`"


def _link(url: str | None, label: str) -> str:
    return f"<{url}|{_esc(label)}>" if url else _esc(label)


def _mrkdwn_changelog(section: str) -> str:
    """A CHANGELOG section (Markdown) as Slack mrkdwn: headings bold, ``**x**`` bold, ``[t](url)`` links."""
    lines = []
    for line in _esc(section.strip()).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading:
            line = f"*{heading.group(1)}*"
        line = re.sub(r"\*\*(.+?)\*\*", r"*\1*", line)
        line = re.sub(r"\[([^\]]+)\]\((https?://[^)\s|]+)\)", r"<\2|\1>", line)
        lines.append(re.sub(r"^- ", "• ", line))
    out = "\n".join(lines)
    return out if len(out) <= _MAX_CHANGELOG else out[:_MAX_CHANGELOG].rsplit("\n", 1)[0] + "\n…"


def _context(notice: Notice) -> dict[str, Any] | None:
    parts = []
    if notice.commit:
        label = f"commit {notice.commit[:12]}"
        parts.append(f"<{notice.commit_url}|{label}>" if notice.commit_url else _esc(label))
        if isinstance(notice, ReleaseNotice) or not notice.awaiting_merge:
            parts[-1] += f" on {_code(notice.branch)}"
    if notice.pipeline_url:
        parts.append(_link(notice.pipeline_url, "pipeline"))
    if not parts:
        return None
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(parts)}]}


def slack(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message: Block Kit blocks, and :func:`text` as the ``text`` fallback (what
    notifications and clients without blocks show)."""
    header = title(notice)
    if len(header) > _MAX_HEADER:
        header = header[:_MAX_HEADER - 1] + "…"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
    if isinstance(notice, ReleaseNotice):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*{_esc(notice.library)}* {_code(notice.previous or '(none)')} → {_code(notice.version)}"
            f" · tag {_code(notice.tag)}")}})
        if notice.changelog.strip():
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn_changelog(notice.changelog)}})
    else:
        shown, more = _listed(notice.images)
        rows = [f"*{_esc(image)}* {_code(old)} → {_code(new)}" for image, old, new in shown]
        if more:
            rows.append(f"_and {more} more_")
        if rows:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(rows)}})
        if notice.merge_request_branch:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
                f":hourglass: *Awaiting merge*: merge request from {_code(notice.merge_request_branch)} into "
                f"{_code(notice.branch)}" + (f" · {_link(notice.merge_request_url, 'open it')}"
                                             if notice.merge_request_url else ""))}})
    context = _context(notice)
    if context is not None:
        blocks.append(context)
    return {"text": text(notice), "blocks": blocks}


def webhook(notice: Notice) -> dict[str, Any]:
    """The generic JSON payload: every fact as a field, every image with its whole values, and ``text``."""
    common: dict[str, Any] = {"source": "gitops-tools", "event": notice.event}
    if isinstance(notice, ReleaseNotice):
        return {**common, "status": "released", "library": notice.library, "previous": notice.previous,
                "version": notice.version, "tag": notice.tag, "commit": notice.commit, "branch": notice.branch,
                "commit_url": notice.commit_url, "pipeline_url": notice.pipeline_url,
                "changelog": notice.changelog, "text": text(notice)}
    return {**common, "status": "awaiting-merge" if notice.awaiting_merge else "landed",
            "environment": notice.environment, "target": notice.scope, "branch": notice.branch,
            "commit": notice.commit, "commit_url": notice.commit_url,
            "merge_request_branch": notice.merge_request_branch, "merge_request_url": notice.merge_request_url,
            "pipeline_url": notice.pipeline_url, "images": [m.as_dict() for m in notice.images],
            "text": text(notice)}


def payload(kind: str, notice: Notice) -> bytes:
    """The request body for a target of ``kind``: UTF-8 JSON."""
    import json

    data = slack(notice) if kind == "slack" else webhook(notice)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- a library's targets: [[tool.gitops-tools.release.notify]] ---------------------------------------------------

RELEASE_NOTIFY = "tool.gitops-tools.release.notify"
_RELEASE_KEYS = ("kind", "url_env", "required", "timeout")


def release_targets(document: Mapping[str, Any], file: str) -> tuple[NotifyTarget, ...]:
    """The targets a library announces its releases to, from its ``pyproject.toml`` (parsed); the same keys as a
    ``notify`` entry of ``gitops-tools.yaml`` but ``events`` (a release is the only event) and ``environments``."""
    from gitops_tools.config.messages import quote, suggest
    from gitops_tools.config.model import NOTIFY_KINDS, RELEASE_EVENT
    from gitops_tools.config.schema import URL_FIX, Invalid, no_url, notify_timeout, url_env_name

    table = ((document.get("tool") or {}).get("gitops-tools") or {}).get("release") or {}
    entries = table.get("notify", [])
    if not isinstance(entries, list):
        raise GitopsError("notify is not a list of tables", file=file, key=RELEASE_NOTIFY,
                          fix='write one [[tool.gitops-tools.release.notify]] table per target, with kind = "slack" '
                              'and url_env = "SLACK_WEBHOOK_URL"')
    targets: list[NotifyTarget] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        at = f"{RELEASE_NOTIFY}[{index}]"

        def fail(key: str, problem: str, fix: str, at: str = at) -> GitopsError:
            return GitopsError(problem, file=file, key=f"{at}.{key}" if key else at, fix=fix)

        if not isinstance(entry, Mapping):
            raise fail("", "expected a table", 'write [[tool.gitops-tools.release.notify]] with kind and url_env')
        for key in entry:
            if key == "url":
                raise fail(key, "a URL is never written in pyproject.toml", URL_FIX)
            if key in ("events", "environments"):
                raise fail(key, f"a release target has no {key}",
                           f"a release is its only event; delete {key} (keys here: {', '.join(_RELEASE_KEYS)})")
            if key not in _RELEASE_KEYS:
                raise fail(key, f"unknown key {quote(str(key))}", suggest(str(key), _RELEASE_KEYS, "keys allowed here"))
        values: dict[str, Any] = {"events": (RELEASE_EVENT,)}
        for key in _RELEASE_KEYS:
            if key not in entry:
                if key in ("kind", "url_env"):
                    raise fail("", f"missing required key {quote(key)}",
                               'add kind = "slack" (or "webhook") and url_env = "NAME_OF_THE_VARIABLE"')
                continue
            value = entry[key]
            if key == "required":
                if not isinstance(value, bool):
                    raise fail(key, "expected a boolean (true or false)", "write true or false")
                values[key] = value
                continue
            if not isinstance(value, str):
                raise fail(key, "expected a string", f'write it in quotes, e.g. {key} = "…"')
            try:
                if key == "kind":
                    no_url(value)
                    if value not in NOTIFY_KINDS:
                        raise Invalid(f"unknown kind {quote(value)}", suggest(value, NOTIFY_KINDS, "kinds"))
                elif key == "url_env":
                    url_env_name(value)
                else:
                    notify_timeout(value)
            except Invalid as exc:
                raise fail(key, exc.problem.replace("gitops-tools.yaml", "pyproject.toml"), exc.fix) from None
            values[key] = value
        if values["url_env"] in seen:
            raise fail("url_env", f"url_env {quote(values['url_env'])} is listed twice",
                       f"{RELEASE_NOTIFY}[{seen[values['url_env']]}] already sends to it")
        seen[values["url_env"]] = index
        targets.append(NotifyTarget(**values))
    return tuple(targets)
