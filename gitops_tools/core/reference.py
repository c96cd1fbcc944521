"""Parse and validate container image references with Docker's distribution grammar.

Every image the tool reads or writes passes through here, so this module has two jobs that pull in different
directions:

* be *exact*: accept what ``docker pull`` and the registries accept and nothing else.  A reference that is
  normalised or "repaired" here would be written into a GitOps repository and only fail later, in a cluster, far
  from the person who can fix it.  So invalid input is refused, never guessed at;
* be *helpful*: a refusal names the part of the reference (registry, path, tag, digest) and the rule it breaks,
  because "invalid reference format" alone sends people hunting character by character.

The grammar (from the ``distribution/reference`` package)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name             (whole name at most 255 characters)
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | '[' IPv6address ']'
    domain-name      := domain-component ['.' domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    remote-name      := path-component ['/' path-component]*
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/                  (ASCII only)
    digest           := algorithm ":" hex
    algorithm        := component [ /[+._-]/ component ]*     component := /[A-Za-z][A-Za-z0-9]*/
    hex              := /[0-9a-fA-F]{32,}/

On top of the grammar, the digest is checked the way ``go-digest`` checks it before Docker uses it: only
``sha256``, ``sha384`` and ``sha512`` are supported, with exactly 64, 96 and 128 *lowercase* hex digits.

Which part of a name is the registry is not decided by the grammar (``library/nginx`` matches both ways) but by
Docker's heuristic: the first ``/``-separated component is the registry when it contains ``.`` or ``:``, is
``localhost``, starts with ``[`` or contains an uppercase letter.  Otherwise the whole name is the repository path
(on Docker Hub).  Nothing is filled in: a Docker Hub name keeps ``domain=None`` and no ``library/`` is added,
so that ``str(parse_reference(s)) == s`` for every valid ``s``.

Speed: references are parsed once per image in hot paths.  Acceptance is therefore decided by a handful of regular
expressions compiled at import; only when one of them refuses a part does the (slower) diagnosis run to find out
*which* rule was broken and word the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple, NoReturn

from gitops_tools.core.refrules import (
    DIGEST_RE,
    DOMAIN_RE,
    NAME_MAX_LENGTH,
    PATH_RE,
    PORT_RE,
    SUPPORTED_DIGEST_ALGORITHMS,
    TAG_MAX_LENGTH,
    TAG_RE,
    UPPERCASE_RE,
    WHITESPACE_RE,
    Refusal,
    describe_space,
    diagnose_digest,
    diagnose_domain,
    diagnose_path,
    diagnose_tag,
    escape,
    quote,
)
from gitops_tools.errors import InvalidReference

__all__ = [
    "ImageRef",
    "NAME_MAX_LENGTH",
    "SUPPORTED_DIGEST_ALGORITHMS",
    "TAG_MAX_LENGTH",
    "format_reference",
    "is_valid_reference",
    "parse_name",
    "parse_reference",
    "validate_digest",
    "validate_name",
    "validate_tag",
]

class ImageRef(NamedTuple):
    """A parsed reference, split into the parts callers edit separately.

    Nothing is normalised: ``domain`` is ``None`` for a Docker Hub name (no ``docker.io`` or ``library/`` is
    invented) so that ``str(ref)`` is exactly the text that was parsed.
    """

    domain: str | None
    """The registry, e.g. ``registry.gitlab.com``, ``localhost:5000`` or ``[::1]:5000``; None for Docker Hub."""
    path: str
    """The repository path, e.g. ``aegis/app/api``."""
    tag: str | None = None
    digest: str | None = None
    """``<algorithm>:<hex>``, e.g. ``sha256:<64 hex digits>``."""

    @property
    def name(self) -> str:
        """Registry and path: the reference without tag and digest (what kustomize calls the image name)."""
        if self.domain is None:
            return self.path
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        return format_reference(self.name, self.tag, self.digest)


# --- public API --------------------------------------------------------------------------------------------------


def parse_reference(text: str) -> ImageRef:
    """Split a full reference ``[registry/]path[:tag][@digest]`` into its parts, refusing anything invalid.

    Raises :class:`InvalidReference` whose ``problem`` names the broken rule.
    """
    _require_str("image reference", text)
    try:
        name, tag, digest = _split(text)
        domain, path = _check_name(name)
        if tag is not None:
            _check_tag(tag, in_reference=True)
        if digest is not None:
            _check_digest(digest, in_reference=True)
    except Refusal as refusal:
        _raise_invalid("image reference", text, refusal)
    return ImageRef(domain, path, tag, digest)


def parse_name(text: str) -> ImageRef:
    """Parse a name alone (``[registry/]path``): a tag or digest is an error, not something to drop silently.

    Used where a tag or digest would be ambiguous, e.g. the ``name`` of a kustomize ``images:`` entry, whose tag
    lives in a separate field.  Returns an :class:`ImageRef` with ``tag`` and ``digest`` both None.
    """
    _require_str("image name", text)
    try:
        name, tag, digest = _split(text)
        domain, path = _check_name(name)
        if tag is not None:
            fix = "give the tag separately; an image name is only [registry/]path"
            if PORT_RE.fullmatch(tag) and (name == "localhost" or "." in name):
                fix = f'if "{name}:{tag}" is a registry, add the repository path after it: "{name}:{tag}/<path>"'
            raise Refusal(f'a tag (":{escape(tag)}") is not allowed in an image name', fix)
        if digest is not None:
            raise Refusal(
                f'a digest ("@{escape(digest)}") is not allowed in an image name',
                "give the digest separately; an image name is only [registry/]path",
            )
    except Refusal as refusal:
        _raise_invalid("image name", text, refusal)
    return ImageRef(domain, path, None, None)


def validate_name(text: str) -> str:
    """Return ``text`` unchanged if it is a valid name (no tag, no digest); raise InvalidReference otherwise."""
    parse_name(text)
    return text


def validate_tag(text: str) -> str:
    """Return ``text`` unchanged if it is a valid tag; raise InvalidReference otherwise."""
    return _validated("tag", text, _check_tag)


def validate_digest(text: str) -> str:
    """Return ``text`` unchanged if it is a valid, supported ``<algorithm>:<hex>`` digest; raise otherwise."""
    return _validated("digest", text, _check_digest)


def _validated(what: str, text: str, check: Callable[..., None]) -> str:
    _require_str(what, text)
    try:
        check(text, in_reference=False)
    except Refusal as refusal:
        _raise_invalid(what, text, refusal)
    return text


def format_reference(name: str, tag: str | None = None, digest: str | None = None) -> str:
    """Join ``name[:tag][@digest]``.  No validation: callers format parts that were validated already.

    ``None`` leaves a part out; an empty string is kept (and would make an invalid reference) on purpose, so
    that a caller's bug shows up at the next parse instead of being hidden here.
    """
    text = name
    if tag is not None:
        text = f"{text}:{tag}"
    if digest is not None:
        text = f"{text}@{digest}"
    return text


def is_valid_reference(text: str) -> bool:
    """True when :func:`parse_reference` accepts ``text``.  Never raises, whatever ``text`` is."""
    try:
        parse_reference(text)
    except InvalidReference:
        return False
    return True


# --- splitting and checking --------------------------------------------------------------------------------------


def _split(text: str) -> tuple[str, str | None, str | None]:
    """Cut ``text`` into name, tag and digest at the separators, before any part is checked.

    The digest is cut first because it contains a ``:``.  The tag is what follows the first ``:`` after the last
    ``/``: a ``:`` before a ``/`` belongs to the registry port.
    """
    at = text.find("@")
    if at < 0:
        rest, digest = text, None
    else:
        if text.find("@", at + 1) >= 0:
            raise Refusal(
                'it contains more than one "@" (a reference has at most one "@digest", at the end)',
                'keep a single "@<algorithm>:<hex>" after the name and tag',
            )
        rest, digest = text[:at], text[at + 1 :]
    slash = rest.rfind("/")
    if slash < 0 and rest.startswith("["):
        # Without this the ":" inside the brackets would be read as a tag separator and the message would be
        # about a tag nobody wrote.
        raise Refusal(
            f'the registry "{escape(rest)}" must be followed by "/" and a repository path',
            'write the repository path after the registry, e.g. "[::1]:5000/app"',
        )
    colon = rest.find(":", slash + 1)
    if colon < 0:
        return rest, None, digest
    return rest[:colon], rest[colon + 1 :], digest


def _is_registry(first: str) -> bool:
    """Docker's heuristic (``splitDockerDomain``): is the first component of a name a registry host?"""
    return (
        "." in first
        or ":" in first
        or first == "localhost"
        or first.startswith("[")
        or UPPERCASE_RE.search(first) is not None
    )


def _check_name(name: str) -> tuple[str | None, str]:
    """Check a name (no tag, no digest) and split it into registry and path."""
    if not name:
        raise Refusal(
            "the repository name is empty",
            'write the repository name before ":tag" or "@digest", e.g. "nginx:1.25"',
        )
    domain: str | None = None
    path = name
    slash = name.find("/")
    if slash >= 0 and _is_registry(name[:slash]):
        domain, path = name[:slash], name[slash + 1 :]
        if DOMAIN_RE.fullmatch(domain) is None:
            diagnose_domain(domain)
    if PATH_RE.fullmatch(path) is None:
        diagnose_path(path, domain)
    if domain is None and re.fullmatch(r"[a-f0-9]{64}", name):
        # docker/distribution's ParseNormalizedNamed refuses it: 64 hex digits name an image ID, not a repository
        raise Refusal(
            "64 hexadecimal digits are an image ID, not a repository name",
            'name the repository (e.g. "registry.example.com/team/app"), and give an ID as a digest (@sha256:...)',
        )
    if len(name) > NAME_MAX_LENGTH:
        raise Refusal(
            f"the repository name is {len(name)} characters long (at most {NAME_MAX_LENGTH} are allowed)",
            "shorten the registry or the repository path",
        )
    return domain, path


def _check_tag(tag: str, *, in_reference: bool) -> None:
    if TAG_RE.fullmatch(tag) is None:
        diagnose_tag(tag, in_reference=in_reference)


def _check_digest(digest: str, *, in_reference: bool) -> None:
    if DIGEST_RE.fullmatch(digest) is None:
        diagnose_digest(digest, in_reference=in_reference)


# --- messages ----------------------------------------------------------------------------------------------------


def _raise_invalid(what: str, text: str, refusal: Refusal) -> NoReturn:
    """Raise the public error for ``text``.

    Emptiness and whitespace are reported for the whole input, ahead of whichever part tripped first: "the tag
    contains ' '" is a worse message than "whitespace at character 12" when the real problem is a pasted newline.
    """
    detail, fix = refusal.detail, refusal.fix
    if not text:
        detail, fix = "it is empty", None
    else:
        space = WHITESPACE_RE.search(text)
        if space is not None:
            detail = f"it contains whitespace ({describe_space(space.group())} at character {space.start() + 1})"
            fix = "remove the whitespace; it often comes from a trailing newline or a copy-paste"
    raise InvalidReference(f"invalid {what} {quote(text)}: {detail}", fix=fix) from None


def _require_str(what: str, value: object) -> None:
    """Refuse non-strings with a message, rather than a TypeError from deep inside ``re``.

    Values come from YAML, where an unquoted ``1.10`` is the float ``1.1`` and ``true`` a bool: the hint says so.
    """
    if isinstance(value, str):
        return
    raise InvalidReference(
        f"invalid {what} {value!r}: it must be a string, not {type(value).__name__}",
        fix='quote the value in YAML (e.g. "1.10"); unquoted, YAML may read it as a number and change it',
    )
