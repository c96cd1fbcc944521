"""The rules of the Docker distribution reference grammar, and how a refusal is explained.

The compiled patterns below alone decide what is valid (:mod:`gitops_tools.core.reference` uses them); the
diagnosis runs only after a pattern refused a part, to say *which* rule was broken and word the message, and
always raises :class:`Refusal`.

Pure.
"""

from __future__ import annotations

import re
from typing import NoReturn

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
PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")

_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
# Docker's own IPv6 pattern: hex digits and colons in brackets.  It is deliberately loose (it does not check the
# address shape); being stricter than Docker would refuse references Docker pulls.  IPv4 addresses are matched by
# the domain-name pattern, as in Docker.
_IPV6 = r"\[[a-fA-F0-9:]+\]"
DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?")

TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")

# --- diagnosis only: used after a part was refused, to say which rule it broke ----------------------------------

UPPERCASE_RE = re.compile(r"[A-Z]")
WHITESPACE_RE = re.compile(r"\s")
_PATH_BAD_CHAR_RE = re.compile(r"[^a-z0-9._-]")
_PATH_SEPARATOR_RUN_RE = re.compile(r"[._-]+")
_PATH_GOOD_SEPARATOR_RE = re.compile(r"[._]|__|-+")
_HOST_BAD_CHAR_RE = re.compile(r"[^a-zA-Z0-9.-]")
_IPV6_BODY_RE = re.compile(r"[a-fA-F0-9:]+")
PORT_RE = re.compile(r"[0-9]+")
_TAG_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_.-]")
_ALGORITHM_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
_HEX_BAD_CHAR_RE = re.compile(r"[^0-9a-fA-F]")

_SUPPORTED_LIST = ", ".join(SUPPORTED_DIGEST_ALGORITHMS)
_SHOWN_MAX = 300
_SHOWN_HEAD = 120



class Refusal(Exception):
    """Internal: one broken rule, worded without the input.  The public functions add which input it was.

    Keeping the wording separate from the prefix lets the same checks serve ``parse_reference`` ("invalid image
    reference ...") and ``validate_tag`` ("invalid tag ...").
    """

    def __init__(self, detail: str, fix: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


# --- diagnosis: runs only after a pattern refused a part, and always raises ----------------------------------------


def diagnose_domain(domain: str) -> NoReturn:
    if domain.startswith("["):
        close = domain.find("]")
        if close < 0:
            raise Refusal(
                f'the IPv6 address in the registry "{escape(domain)}" has no closing "]"',
                'write an IPv6 registry as "[address]:port", e.g. "[::1]:5000/app"',
            )
        address, rest = domain[: close + 1], domain[close + 1 :]
        if _IPV6_BODY_RE.fullmatch(address[1:-1]) is None:
            raise Refusal(
                f'the IPv6 address "{escape(address)}" may contain only hex digits and ":"',
            )
        if rest and not rest.startswith(":"):
            raise Refusal(
                f'only ":port" may follow the IPv6 address "{escape(address)}", not "{escape(rest)}"',
            )
        if rest:
            _diagnose_port(address, rest[1:])
        raise Refusal(f'the registry "{escape(domain)}" is not a valid [IPv6]:port')
    if domain.count(":") > 1:
        raise Refusal(
            f'the registry "{escape(domain)}" contains more than one ":"',
            'write an IPv6 registry in brackets, e.g. "[::1]:5000/app"',
        )
    host, colon, port = domain.partition(":")
    if not host:
        raise Refusal(f'the registry host before ":{escape(port)}" is empty')
    bad = _HOST_BAD_CHAR_RE.search(host)
    if bad is not None:
        raise Refusal(
            f'the registry host "{escape(host)}" contains {_show_char(bad.group())} '
            '(allowed: letters, digits, "-" and ".")',
        )
    for label in host.split("."):
        if not label:
            raise Refusal(
                f'the registry host "{escape(host)}" has an empty label (a leading, trailing or doubled ".")',
            )
        if label.startswith("-") or label.endswith("-"):
            raise Refusal(f'the registry host label "{escape(label)}" must not start or end with "-"')
    if colon:
        _diagnose_port(host, port)
    raise Refusal(f'the registry "{escape(domain)}" is not a valid host[:port]')


def _diagnose_port(host: str, port: str) -> None:
    """Raise if ``port`` is not a valid port; return when it is fine (the problem is elsewhere)."""
    if not port:
        raise Refusal(
            f'the registry port after "{escape(host)}:" is empty',
            'write the port number after ":" or remove the ":"',
        )
    if PORT_RE.fullmatch(port) is None:
        raise Refusal(
            f'the registry port "{escape(port)}" must be digits only',
            'a registry port is a number, e.g. "localhost:5000/app"',
        )


def diagnose_path(path: str, domain: str | None) -> NoReturn:
    components = path.split("/")
    last = len(components) - 1
    for index, component in enumerate(components):
        if component:
            continue
        if domain is not None and last == 0:
            raise Refusal(
                f'the repository path after the registry "{escape(domain)}/" is empty',
                f'add the repository path, e.g. "{escape(domain)}/team/app"',
            )
        if index == 0 and domain is None:
            raise Refusal('the repository path must not start with "/"', 'remove the leading "/"')
        if index == last:
            raise Refusal('the repository path must not end with "/"', 'remove the trailing "/"')
        raise Refusal('the repository path has an empty component ("//")', 'remove the extra "/"')
    for component in components:
        if UPPERCASE_RE.search(component) is not None:
            raise Refusal(
                f'the repository path must be lowercase ("{escape(component)}" is not allowed here)',
                "only the registry host may contain uppercase letters; repository paths are lowercase",
            )
    separators_fix = (
        'separate words with one ".", one "_", two "__" or any number of "-", '
        "and start and end each component with a letter or digit"
    )
    for component in components:
        bad = _PATH_BAD_CHAR_RE.search(component)
        if bad is not None:
            raise Refusal(
                f'the repository path component "{escape(component)}" contains {_show_char(bad.group())} '
                '(allowed: lowercase letters, digits and the separators ".", "_", "__", "-")',
            )
        for edge, verb in ((component[0], "start"), (component[-1], "end")):
            if edge in "._-":
                raise Refusal(
                    f'the repository path component "{escape(component)}" {verb}s with a separator '
                    f"(it must {verb} with a lowercase letter or digit)",
                    separators_fix,
                )
        for run in _PATH_SEPARATOR_RUN_RE.findall(component):
            if _PATH_GOOD_SEPARATOR_RE.fullmatch(run) is None:
                raise Refusal(
                    f'the repository path component "{escape(component)}" contains the separator "{run}" '
                    '(allowed: ".", "_", "__" or a run of "-")',
                    separators_fix,
                )
    raise Refusal(f'the repository path "{escape(path)}" is not valid')


def diagnose_tag(tag: str, *, in_reference: bool) -> NoReturn:
    if not tag:
        raise Refusal('the tag after ":" is empty', 'write a tag after ":" or remove the ":"')
    if in_reference and ":" in tag:
        # "nginx:1.2:3": more likely a registry port without a path, or a digest written with ":" instead of "@".
        algorithm = tag.partition(":")[0]
        if algorithm in SUPPORTED_DIGEST_ALGORITHMS:
            fix = f'a digest is written after "@": "name@{algorithm}:<hex>"'
        else:
            fix = 'a registry port needs a repository path after it: "host:5000/path:tag"'
        raise Refusal(f'the tag "{escape(tag)}" contains ":" (only one ":" may follow the repository path)', fix)
    bad = _TAG_BAD_CHAR_RE.search(tag)
    if bad is not None:
        raise Refusal(
            f'the tag "{escape(tag)}" contains {_show_char(bad.group())} '
            '(allowed: letters, digits, "_", "." and "-")',
        )
    if tag[0] in ".-":
        raise Refusal(
            f'the tag "{escape(tag)}" starts with "{tag[0]}" (it must start with a letter, digit or "_")',
        )
    if len(tag) > TAG_MAX_LENGTH:
        raise Refusal(
            f"the tag is {len(tag)} characters long (at most {TAG_MAX_LENGTH} are allowed)",
            f"shorten the tag to {TAG_MAX_LENGTH} characters or fewer",
        )
    raise Refusal(f'the tag "{escape(tag)}" is not valid')


def diagnose_digest(digest: str, *, in_reference: bool) -> NoReturn:
    form_fix = 'write the digest as "<algorithm>:<hex>", e.g. "sha256:" followed by 64 hex digits'
    if not digest:
        raise Refusal('the digest after "@" is empty', form_fix)
    algorithm, colon, hex_digits = digest.partition(":")
    if not colon:
        raise Refusal(f'the digest "{escape(digest)}" has no ":" between algorithm and hex digits', form_fix)
    if not algorithm:
        raise Refusal('the digest algorithm before ":" is empty', form_fix)
    if _ALGORITHM_RE.fullmatch(algorithm) is None:
        raise Refusal(
            f'the digest algorithm "{escape(algorithm)}" is malformed (expected letter-led alphanumeric '
            'components joined by "+", ".", "_" or "-", e.g. "sha256")',
            form_fix,
        )
    length = SUPPORTED_DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        raise Refusal(
            f'unsupported digest algorithm "{algorithm}" (supported: {_SUPPORTED_LIST})',
            "use the sha256 digest the registry reports for the image",
        )
    copy_fix = "copy the full digest again from the registry or the build output"
    bad = _HEX_BAD_CHAR_RE.search(hex_digits)
    if bad is not None:
        raise Refusal(
            f"the {algorithm} digest contains {_show_char(bad.group())} "
            "(only hex digits 0-9 and a-f are allowed)",
            copy_fix,
        )
    upper = UPPERCASE_RE.search(hex_digits)
    if upper is not None:
        raise Refusal(
            f'the {algorithm} digest must be lowercase hex ("{upper.group()}" is not allowed)',
            "write the hex digits in lowercase",
        )
    if len(hex_digits) != length:
        raise Refusal(
            f"a {algorithm} digest has exactly {length} hex digits, this one has {len(hex_digits)}",
            copy_fix,
        )
    raise Refusal(f'the digest "{escape(digest)}" is not valid')


def escape(text: str) -> str:
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


def quote(text: str) -> str:
    """The input, quoted for a message; very long input is cut so the message stays readable."""
    if len(text) > _SHOWN_MAX:
        return f'"{escape(text[:_SHOWN_HEAD])}"... ({len(text)} characters)'
    return f'"{escape(text)}"'


def _show_char(char: str) -> str:
    return f'"{escape(char)}"'


def describe_space(char: str) -> str:
    names = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return"}
    return names.get(char, f"U+{ord(char):04X}")
