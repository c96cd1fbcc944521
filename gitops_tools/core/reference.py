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
from typing import NamedTuple, NoReturn

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

NAME_MAX_LENGTH = 255
"""Longest allowed name (registry, ``/`` and repository path), as in distribution's ``NameTotalLengthMax``."""

TAG_MAX_LENGTH = 128
"""Longest allowed tag; the grammar's ``[\\w][\\w.-]{0,127}``."""

SUPPORTED_DIGEST_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}
"""The algorithms go-digest accepts, with the exact number of hex digits each one needs."""

# --- acceptance: these patterns alone decide what is valid -------------------------------------------------------
# Character classes are spelled out instead of using \w or re.ASCII-less \d: in Python those match non-ASCII
# letters and digits, which the grammar (and Docker) refuse.

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")

_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
# Docker's own IPv6 pattern: hex digits and colons in brackets.  It is deliberately loose (it does not check the
# address shape); being stricter than Docker would refuse references Docker pulls.  IPv4 addresses are matched by
# the domain-name pattern, as in Docker.
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?")

_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")

# --- diagnosis only: used after a part was refused, to say which rule it broke ----------------------------------

_UPPERCASE_RE = re.compile(r"[A-Z]")
_WHITESPACE_RE = re.compile(r"\s")
_PATH_BAD_CHAR_RE = re.compile(r"[^a-z0-9._-]")
_PATH_SEPARATOR_RUN_RE = re.compile(r"[._-]+")
_PATH_GOOD_SEPARATOR_RE = re.compile(r"[._]|__|-+")
_HOST_BAD_CHAR_RE = re.compile(r"[^a-zA-Z0-9.-]")
_IPV6_BODY_RE = re.compile(r"[a-fA-F0-9:]+")
_PORT_RE = re.compile(r"[0-9]+")
_TAG_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_.-]")
_ALGORITHM_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
_HEX_BAD_CHAR_RE = re.compile(r"[^0-9a-fA-F]")

_SUPPORTED_LIST = ", ".join(SUPPORTED_DIGEST_ALGORITHMS)
_SHOWN_MAX = 300
_SHOWN_HEAD = 120


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


class _Refusal(Exception):
    """Internal: one broken rule, worded without the input.  The public functions add which input it was.

    Keeping the wording separate from the prefix lets the same checks serve ``parse_reference`` ("invalid image
    reference ...") and ``validate_tag`` ("invalid tag ...").
    """

    def __init__(self, detail: str, fix: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


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
    except _Refusal as refusal:
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
            if _PORT_RE.fullmatch(tag) and (name == "localhost" or "." in name):
                fix = f'if "{name}:{tag}" is a registry, add the repository path after it: "{name}:{tag}/<path>"'
            raise _Refusal(f'a tag (":{_escape(tag)}") is not allowed in an image name', fix)
        if digest is not None:
            raise _Refusal(
                f'a digest ("@{_escape(digest)}") is not allowed in an image name',
                "give the digest separately; an image name is only [registry/]path",
            )
    except _Refusal as refusal:
        _raise_invalid("image name", text, refusal)
    return ImageRef(domain, path, None, None)


def validate_name(text: str) -> str:
    """Return ``text`` unchanged if it is a valid name (no tag, no digest); raise InvalidReference otherwise."""
    parse_name(text)
    return text


def validate_tag(text: str) -> str:
    """Return ``text`` unchanged if it is a valid tag; raise InvalidReference otherwise."""
    _require_str("tag", text)
    try:
        _check_tag(text, in_reference=False)
    except _Refusal as refusal:
        _raise_invalid("tag", text, refusal)
    return text


def validate_digest(text: str) -> str:
    """Return ``text`` unchanged if it is a valid, supported ``<algorithm>:<hex>`` digest; raise otherwise."""
    _require_str("digest", text)
    try:
        _check_digest(text, in_reference=False)
    except _Refusal as refusal:
        _raise_invalid("digest", text, refusal)
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
            raise _Refusal(
                'it contains more than one "@" (a reference has at most one "@digest", at the end)',
                'keep a single "@<algorithm>:<hex>" after the name and tag',
            )
        rest, digest = text[:at], text[at + 1 :]
    slash = rest.rfind("/")
    if slash < 0 and rest.startswith("["):
        # Without this the ":" inside the brackets would be read as a tag separator and the message would be
        # about a tag nobody wrote.
        raise _Refusal(
            f'the registry "{_escape(rest)}" must be followed by "/" and a repository path',
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
        or _UPPERCASE_RE.search(first) is not None
    )


def _check_name(name: str) -> tuple[str | None, str]:
    """Check a name (no tag, no digest) and split it into registry and path."""
    if not name:
        raise _Refusal(
            "the repository name is empty",
            'write the repository name before ":tag" or "@digest", e.g. "nginx:1.25"',
        )
    domain: str | None = None
    path = name
    slash = name.find("/")
    if slash >= 0 and _is_registry(name[:slash]):
        domain, path = name[:slash], name[slash + 1 :]
        if _DOMAIN_RE.fullmatch(domain) is None:
            _diagnose_domain(domain)
    if _PATH_RE.fullmatch(path) is None:
        _diagnose_path(path, domain)
    if domain is None and re.fullmatch(r"[a-f0-9]{64}", name):
        # docker/distribution's ParseNormalizedNamed refuses it: 64 hex digits name an image ID, not a repository
        raise _Refusal(
            "64 hexadecimal digits are an image ID, not a repository name",
            'name the repository (e.g. "registry.example.com/team/app"), and give an ID as a digest (@sha256:...)',
        )
    if len(name) > NAME_MAX_LENGTH:
        raise _Refusal(
            f"the repository name is {len(name)} characters long (at most {NAME_MAX_LENGTH} are allowed)",
            "shorten the registry or the repository path",
        )
    return domain, path


def _check_tag(tag: str, *, in_reference: bool) -> None:
    if _TAG_RE.fullmatch(tag) is None:
        _diagnose_tag(tag, in_reference=in_reference)


def _check_digest(digest: str, *, in_reference: bool) -> None:
    if _DIGEST_RE.fullmatch(digest) is None:
        _diagnose_digest(digest, in_reference=in_reference)


# --- diagnosis: runs only after a pattern refused a part, and always raises ----------------------------------------


def _diagnose_domain(domain: str) -> NoReturn:
    if domain.startswith("["):
        close = domain.find("]")
        if close < 0:
            raise _Refusal(
                f'the IPv6 address in the registry "{_escape(domain)}" has no closing "]"',
                'write an IPv6 registry as "[address]:port", e.g. "[::1]:5000/app"',
            )
        address, rest = domain[: close + 1], domain[close + 1 :]
        if _IPV6_BODY_RE.fullmatch(address[1:-1]) is None:
            raise _Refusal(
                f'the IPv6 address "{_escape(address)}" may contain only hex digits and ":"',
            )
        if rest and not rest.startswith(":"):
            raise _Refusal(
                f'only ":port" may follow the IPv6 address "{_escape(address)}", not "{_escape(rest)}"',
            )
        if rest:
            _diagnose_port(address, rest[1:])
        raise _Refusal(f'the registry "{_escape(domain)}" is not a valid [IPv6]:port')
    if domain.count(":") > 1:
        raise _Refusal(
            f'the registry "{_escape(domain)}" contains more than one ":"',
            'write an IPv6 registry in brackets, e.g. "[::1]:5000/app"',
        )
    host, colon, port = domain.partition(":")
    if not host:
        raise _Refusal(f'the registry host before ":{_escape(port)}" is empty')
    bad = _HOST_BAD_CHAR_RE.search(host)
    if bad is not None:
        raise _Refusal(
            f'the registry host "{_escape(host)}" contains {_show_char(bad.group())} '
            '(allowed: letters, digits, "-" and ".")',
        )
    for label in host.split("."):
        if not label:
            raise _Refusal(
                f'the registry host "{_escape(host)}" has an empty label (a leading, trailing or doubled ".")',
            )
        if label.startswith("-") or label.endswith("-"):
            raise _Refusal(f'the registry host label "{_escape(label)}" must not start or end with "-"')
    if colon:
        _diagnose_port(host, port)
    raise _Refusal(f'the registry "{_escape(domain)}" is not a valid host[:port]')


def _diagnose_port(host: str, port: str) -> None:
    """Raise if ``port`` is not a valid port; return when it is fine (the problem is elsewhere)."""
    if not port:
        raise _Refusal(
            f'the registry port after "{_escape(host)}:" is empty',
            'write the port number after ":" or remove the ":"',
        )
    if _PORT_RE.fullmatch(port) is None:
        raise _Refusal(
            f'the registry port "{_escape(port)}" must be digits only',
            'a registry port is a number, e.g. "localhost:5000/app"',
        )


def _diagnose_path(path: str, domain: str | None) -> NoReturn:
    components = path.split("/")
    last = len(components) - 1
    for index, component in enumerate(components):
        if component:
            continue
        if domain is not None and last == 0:
            raise _Refusal(
                f'the repository path after the registry "{_escape(domain)}/" is empty',
                f'add the repository path, e.g. "{_escape(domain)}/team/app"',
            )
        if index == 0 and domain is None:
            raise _Refusal('the repository path must not start with "/"', 'remove the leading "/"')
        if index == last:
            raise _Refusal('the repository path must not end with "/"', 'remove the trailing "/"')
        raise _Refusal('the repository path has an empty component ("//")', 'remove the extra "/"')
    for component in components:
        if _UPPERCASE_RE.search(component) is not None:
            raise _Refusal(
                f'the repository path must be lowercase ("{_escape(component)}" is not allowed here)',
                "only the registry host may contain uppercase letters; repository paths are lowercase",
            )
    separators_fix = (
        'separate words with one ".", one "_", two "__" or any number of "-", '
        "and start and end each component with a letter or digit"
    )
    for component in components:
        bad = _PATH_BAD_CHAR_RE.search(component)
        if bad is not None:
            raise _Refusal(
                f'the repository path component "{_escape(component)}" contains {_show_char(bad.group())} '
                '(allowed: lowercase letters, digits and the separators ".", "_", "__", "-")',
            )
        if component[0] in "._-":
            raise _Refusal(
                f'the repository path component "{_escape(component)}" starts with a separator '
                "(it must start with a lowercase letter or digit)",
                separators_fix,
            )
        if component[-1] in "._-":
            raise _Refusal(
                f'the repository path component "{_escape(component)}" ends with a separator '
                "(it must end with a lowercase letter or digit)",
                separators_fix,
            )
        for run in _PATH_SEPARATOR_RUN_RE.findall(component):
            if _PATH_GOOD_SEPARATOR_RE.fullmatch(run) is None:
                raise _Refusal(
                    f'the repository path component "{_escape(component)}" contains the separator "{run}" '
                    '(allowed: ".", "_", "__" or a run of "-")',
                    separators_fix,
                )
    raise _Refusal(f'the repository path "{_escape(path)}" is not valid')


def _diagnose_tag(tag: str, *, in_reference: bool) -> NoReturn:
    if not tag:
        raise _Refusal('the tag after ":" is empty', 'write a tag after ":" or remove the ":"')
    if in_reference and ":" in tag:
        # "nginx:1.2:3": more likely a registry port without a path, or a digest written with ":" instead of "@".
        algorithm = tag.partition(":")[0]
        if algorithm in SUPPORTED_DIGEST_ALGORITHMS:
            fix = f'a digest is written after "@": "name@{algorithm}:<hex>"'
        else:
            fix = 'a registry port needs a repository path after it: "host:5000/path:tag"'
        raise _Refusal(f'the tag "{_escape(tag)}" contains ":" (only one ":" may follow the repository path)', fix)
    bad = _TAG_BAD_CHAR_RE.search(tag)
    if bad is not None:
        raise _Refusal(
            f'the tag "{_escape(tag)}" contains {_show_char(bad.group())} '
            '(allowed: letters, digits, "_", "." and "-")',
        )
    if tag[0] in ".-":
        raise _Refusal(
            f'the tag "{_escape(tag)}" starts with "{tag[0]}" (it must start with a letter, digit or "_")',
        )
    if len(tag) > TAG_MAX_LENGTH:
        raise _Refusal(
            f"the tag is {len(tag)} characters long (at most {TAG_MAX_LENGTH} are allowed)",
            f"shorten the tag to {TAG_MAX_LENGTH} characters or fewer",
        )
    raise _Refusal(f'the tag "{_escape(tag)}" is not valid')


def _diagnose_digest(digest: str, *, in_reference: bool) -> NoReturn:
    form_fix = 'write the digest as "<algorithm>:<hex>", e.g. "sha256:" followed by 64 hex digits'
    if not digest:
        raise _Refusal('the digest after "@" is empty', form_fix)
    algorithm, colon, hex_digits = digest.partition(":")
    if not colon:
        raise _Refusal(f'the digest "{_escape(digest)}" has no ":" between algorithm and hex digits', form_fix)
    if not algorithm:
        raise _Refusal('the digest algorithm before ":" is empty', form_fix)
    if _ALGORITHM_RE.fullmatch(algorithm) is None:
        raise _Refusal(
            f'the digest algorithm "{_escape(algorithm)}" is malformed (expected letter-led alphanumeric '
            'components joined by "+", ".", "_" or "-", e.g. "sha256")',
            form_fix,
        )
    length = SUPPORTED_DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        raise _Refusal(
            f'unsupported digest algorithm "{algorithm}" (supported: {_SUPPORTED_LIST})',
            "use the sha256 digest the registry reports for the image",
        )
    copy_fix = "copy the full digest again from the registry or the build output"
    bad = _HEX_BAD_CHAR_RE.search(hex_digits)
    if bad is not None:
        raise _Refusal(
            f"the {algorithm} digest contains {_show_char(bad.group())} "
            "(only hex digits 0-9 and a-f are allowed)",
            copy_fix,
        )
    upper = _UPPERCASE_RE.search(hex_digits)
    if upper is not None:
        raise _Refusal(
            f'the {algorithm} digest must be lowercase hex ("{upper.group()}" is not allowed)',
            "write the hex digits in lowercase",
        )
    if len(hex_digits) != length:
        raise _Refusal(
            f"a {algorithm} digest has exactly {length} hex digits, this one has {len(hex_digits)}",
            copy_fix,
        )
    raise _Refusal(f'the digest "{_escape(digest)}" is not valid')


# --- messages ----------------------------------------------------------------------------------------------------


def _raise_invalid(what: str, text: str, refusal: _Refusal) -> NoReturn:
    """Raise the public error for ``text``.

    Emptiness and whitespace are reported for the whole input, ahead of whichever part tripped first: "the tag
    contains ' '" is a worse message than "whitespace at character 12" when the real problem is a pasted newline.
    """
    detail, fix = refusal.detail, refusal.fix
    if not text:
        detail, fix = "it is empty", None
    else:
        space = _WHITESPACE_RE.search(text)
        if space is not None:
            detail = f"it contains whitespace ({_describe_space(space.group())} at character {space.start() + 1})"
            fix = "remove the whitespace; it often comes from a trailing newline or a copy-paste"
    raise InvalidReference(f"invalid {what} {_quote(text)}: {detail}", fix=fix) from None


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


def _escape(text: str) -> str:
    """Make ``text`` safe to print inside double quotes: one line, no control characters."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    out: list[str] = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return "".join(out)


def _quote(text: str) -> str:
    """The input, quoted for a message; very long input is cut so the message stays readable."""
    if len(text) > _SHOWN_MAX:
        return f'"{_escape(text[:_SHOWN_HEAD])}"... ({len(text)} characters)'
    return f'"{_escape(text)}"'


def _show_char(char: str) -> str:
    return f'"{_escape(char)}"'


def _describe_space(char: str) -> str:
    names = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return"}
    return names.get(char, f"U+{ord(char):04X}")
