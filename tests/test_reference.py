"""Tests for gitops_tools.core.reference: the Docker distribution reference grammar and its error messages."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gitops_tools.errors import GitopsError, InvalidReference, exit_code_for
from gitops_tools.core.reference import (
    ImageRef,
    format_reference,
    is_valid_reference,
    parse_name,
    parse_reference,
    validate_digest,
    validate_name,
    validate_tag,
)

H64 = "0123456789abcdef" * 4
H96 = "fedcba9876543210" * 6
H128 = "0123456789abcdef" * 8
SHA256 = f"sha256:{H64}"
SHA384 = f"sha384:{H96}"
SHA512 = f"sha512:{H128}"
TAG128 = "v" + "1" * 127
PATH250 = "/".join(["a" * 49] * 5)  # 5 * 49 + 4 = 249 characters
NAME255 = "r.io/" + PATH250 + "b"  # 5 + 250 = 255 characters


def refused(call: object, text: object) -> InvalidReference:
    """Run ``call(text)``, insist it raises InvalidReference (a GitopsError, exit 1), and return the error."""
    with pytest.raises(InvalidReference) as info:
        call(text)  # type: ignore[operator]
    err = info.value
    assert isinstance(err, GitopsError)
    assert err.exit_code == 1
    assert exit_code_for(err) == 1
    return err


# --- valid references ------------------------------------------------------------------------------------------

VALID = [
    # text, domain, path, tag, digest
    ("nginx", None, "nginx", None, None),
    ("nginx:latest", None, "nginx", "latest", None),
    ("library/nginx:1.25", None, "library/nginx", "1.25", None),
    ("docker.io/library/nginx", "docker.io", "library/nginx", None, None),
    ("registry.gitlab.com/aegis/app/api:1.4.2", "registry.gitlab.com", "aegis/app/api", "1.4.2", None),
    ("localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", None),
    ("localhost/x", "localhost", "x", None, None),
    ("localhost", None, "localhost", None, None),
    ("localhost:5000", None, "localhost", "5000", None),  # no "/": the ":" starts a tag, as in Docker
    ("example.com:5000", None, "example.com", "5000", None),
    (f"[::1]:5000/x@{SHA256}", "[::1]:5000", "x", None, SHA256),
    ("[fe80::1]/team/app:1", "[fe80::1]", "team/app", "1", None),
    ("192.168.1.10:5000/app:v2", "192.168.1.10:5000", "app", "v2", None),
    ("Registry.Example.COM/x", "Registry.Example.COM", "x", None, None),
    ("Aegis/api:1.0", "Aegis", "api", "1.0", None),  # uppercase first component: a registry (Docker's heuristic)
    ("my-registry.io:443/a-b", "my-registry.io:443", "a-b", None, None),
    ("a__b/c-d---e/f.g:v1.0.0-rc.1_x", None, "a__b/c-d---e/f.g", "v1.0.0-rc.1_x", None),
    ("a_b/c", None, "a_b/c", None, None),
    ("0/1/2/3/4", None, "0/1/2/3/4", None, None),
    ("nginx:V1.0-RC_Final", None, "nginx", "V1.0-RC_Final", None),
    ("nginx:_underscore", None, "nginx", "_underscore", None),
    (f"nginx:{TAG128}", None, "nginx", TAG128, None),
    (NAME255, "r.io", PATH250 + "b", None, None),
    (f"{NAME255}:{TAG128}@{SHA256}", "r.io", PATH250 + "b", TAG128, SHA256),
    (f"ghcr.io/aegis/api:1.4.2@{SHA256}", "ghcr.io", "aegis/api", "1.4.2", SHA256),
    (f"nginx@{SHA384}", None, "nginx", None, SHA384),
    (f"quay.io/x/y@{SHA512}", "quay.io", "x/y", None, SHA512),
]


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), VALID)
def test_valid_references(
    text: str, domain: str | None, path: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert ref == ImageRef(domain, path, tag, digest)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == text
    assert is_valid_reference(text)
    assert ref.name == (path if domain is None else f"{domain}/{path}")
    assert validate_name(ref.name) == ref.name
    assert parse_name(ref.name) == ImageRef(domain, path, None, None)
    if tag is not None:
        assert validate_tag(tag) == tag
    if digest is not None:
        assert validate_digest(digest) == digest


def test_boundaries_are_what_the_table_says() -> None:
    assert len(TAG128) == 128
    assert len(NAME255) == 255


def test_imageref_name_and_str() -> None:
    ref = ImageRef("registry.gitlab.com", "aegis/api", "1.0", SHA256)
    assert ref.name == "registry.gitlab.com/aegis/api"
    assert str(ref) == f"registry.gitlab.com/aegis/api:1.0@{SHA256}"
    assert ImageRef(None, "nginx", None, None).name == "nginx"
    assert str(ImageRef(None, "nginx", None, None)) == "nginx"
    assert str(ImageRef(None, "nginx")) == "nginx"
    assert ImageRef("localhost:5000", "x", None, None).name == "localhost:5000/x"


@pytest.mark.parametrize(
    ("name", "tag", "digest", "expected"),
    [
        ("nginx", None, None, "nginx"),
        ("nginx", "1.25", None, "nginx:1.25"),
        ("nginx", None, SHA256, f"nginx@{SHA256}"),
        ("localhost:5000/a", "t", SHA256, f"localhost:5000/a:t@{SHA256}"),
        # No validation: what the caller gives is what it gets back, even an empty tag.
        ("Not Valid", "", "x", "Not Valid:@x"),
    ],
)
def test_format_reference(name: str, tag: str | None, digest: str | None, expected: str) -> None:
    assert format_reference(name, tag, digest) == expected


def test_format_reference_defaults() -> None:
    assert format_reference("nginx") == "nginx"
    assert format_reference("nginx", "1") == "nginx:1"
    assert format_reference("nginx", digest=SHA256) == f"nginx@{SHA256}"


# --- invalid references: each with its pinned problem text ------------------------------------------------------

SEP_ALLOWED = '(allowed: ".", "_", "__" or a run of "-")'
PATH_CHARS = '(allowed: lowercase letters, digits and the separators ".", "_", "__", "-")'
TAG_CHARS = '(allowed: letters, digits, "_", "." and "-")'

INVALID = [
    # empty and whitespace
    ("", "it is empty"),
    (" nginx", "it contains whitespace (a space at character 1)"),
    ("nginx:1.25 ", "it contains whitespace (a space at character 11)"),
    ("nginx\n", "it contains whitespace (a newline at character 6)"),
    ("ngi\tnx", "it contains whitespace (a tab at character 4)"),
    ("nginx:1.0\u00a0", "it contains whitespace (U+00A0 at character 10)"),
    # uppercase in the path
    ("Nginx", 'the repository path must be lowercase ("Nginx" is not allowed here)'),
    ("aegis/Api:1.0", 'the repository path must be lowercase ("Api" is not allowed here)'),
    ("registry.gitlab.com/Aegis/api", 'the repository path must be lowercase ("Aegis" is not allowed here)'),
    ("library/nginX", 'the repository path must be lowercase ("nginX" is not allowed here)'),
    # empty path components
    ("a//b", 'the repository path has an empty component ("//")'),
    ("/nginx", 'the repository path must not start with "/"'),
    ("nginx/", 'the repository path must not end with "/"'),
    ("a/b/:1", 'the repository path must not end with "/"'),
    ("ghcr.io//x", 'the repository path has an empty component ("//")'),
    ("ghcr.io/", 'the repository path after the registry "ghcr.io/" is empty'),
    # separators and characters in a path component
    ("a..b", f'the repository path component "a..b" contains the separator ".." {SEP_ALLOWED}'),
    ("a._b", f'the repository path component "a._b" contains the separator "._" {SEP_ALLOWED}'),
    ("a___b", f'the repository path component "a___b" contains the separator "___" {SEP_ALLOWED}'),
    ("a-_b", f'the repository path component "a-_b" contains the separator "-_" {SEP_ALLOWED}'),
    (
        "-nginx",
        'the repository path component "-nginx" starts with a separator '
        "(it must start with a lowercase letter or digit)",
    ),
    (
        "aegis/api_",
        'the repository path component "api_" ends with a separator (it must end with a lowercase letter or digit)',
    ),
    (
        "_a/b",
        'the repository path component "_a" starts with a separator (it must start with a lowercase letter or digit)',
    ),
    ("a+b", f'the repository path component "a+b" contains "+" {PATH_CHARS}'),
    ("caf\u00e9/x", f'the repository path component "caf\u00e9" contains "\u00e9" {PATH_CHARS}'),
    ("a/\x00", f'the repository path component "\\x00" contains "\\x00" {PATH_CHARS}'),
    # name length
    (NAME255 + "c", "the repository name is 256 characters long (at most 255 are allowed)"),
    (NAME255 + "c:1", "the repository name is 256 characters long (at most 255 are allowed)"),
    # registry host and port
    ("host:abc/x", 'the registry port "abc" must be digits only'),
    ("localhost:5o00/x", 'the registry port "5o00" must be digits only'),
    ("localhost:/x", 'the registry port after "localhost:" is empty'),
    (":5000/x", 'the registry host before ":5000" is empty'),
    ("my_registry.io/x", 'the registry host "my_registry.io" contains "_" (allowed: letters, digits, "-" and ".")'),
    ("a..io/x", 'the registry host "a..io" has an empty label (a leading, trailing or doubled ".")'),
    (".io/x", 'the registry host ".io" has an empty label (a leading, trailing or doubled ".")'),
    ("-reg.io/x", 'the registry host label "-reg" must not start or end with "-"'),
    ("reg-.io/x", 'the registry host label "reg-" must not start or end with "-"'),
    ("::1:5000/x", 'the registry "::1:5000" contains more than one ":"'),
    ("[::1/x", 'the IPv6 address in the registry "[::1" has no closing "]"'),
    ("[xyz]:5000/x", 'the IPv6 address "[xyz]" may contain only hex digits and ":"'),
    ("[]/x", 'the IPv6 address "[]" may contain only hex digits and ":"'),
    ("[::ffff:1.2.3.4]/x", 'the IPv6 address "[::ffff:1.2.3.4]" may contain only hex digits and ":"'),
    ("[::1]5000/x", 'only ":port" may follow the IPv6 address "[::1]", not "5000"'),
    ("[::1]:/x", 'the registry port after "[::1]:" is empty'),
    ("[::1]:5000", 'the registry "[::1]:5000" must be followed by "/" and a repository path'),
    # name missing
    (":1.0", "the repository name is empty"),
    (f"@{SHA256}", "the repository name is empty"),
    # tag
    ("nginx:", 'the tag after ":" is empty'),
    (f"nginx:@{SHA256}", 'the tag after ":" is empty'),
    ("nginx:1.2:3", 'the tag "1.2:3" contains ":" (only one ":" may follow the repository path)'),
    ("localhost:5000:1.0", 'the tag "5000:1.0" contains ":" (only one ":" may follow the repository path)'),
    ("nginx:.hidden", 'the tag ".hidden" starts with "." (it must start with a letter, digit or "_")'),
    ("nginx:-rc1", 'the tag "-rc1" starts with "-" (it must start with a letter, digit or "_")'),
    ("nginx:1.0+build", f'the tag "1.0+build" contains "+" {TAG_CHARS}'),
    ("nginx:v\u00e9", f'the tag "v\u00e9" contains "\u00e9" {TAG_CHARS}'),
    ("nginx:" + "a" * 129, "the tag is 129 characters long (at most 128 are allowed)"),
    # digest
    ("nginx@", 'the digest after "@" is empty'),
    (f"nginx@sha256{H64}", f'the digest "sha256{H64}" has no ":" between algorithm and hex digits'),
    (f"nginx@:{H64}", 'the digest algorithm before ":" is empty'),
    (
        f"nginx@sha-256:{H64}",
        'the digest algorithm "sha-256" is malformed (expected letter-led alphanumeric components joined by '
        '"+", ".", "_" or "-", e.g. "sha256")',
    ),
    (f"nginx@md5:{H64[:32]}", 'unsupported digest algorithm "md5" (supported: sha256, sha384, sha512)'),
    (f"nginx@sha1:{H64[:40]}", 'unsupported digest algorithm "sha1" (supported: sha256, sha384, sha512)'),
    (f"nginx@SHA256:{H64}", 'unsupported digest algorithm "SHA256" (supported: sha256, sha384, sha512)'),
    (f"nginx@sha256:{H64[:-1]}", "a sha256 digest has exactly 64 hex digits, this one has 63"),
    (f"nginx@sha256:{H64}0", "a sha256 digest has exactly 64 hex digits, this one has 65"),
    ("nginx@sha256:", "a sha256 digest has exactly 64 hex digits, this one has 0"),
    (f"nginx@sha512:{H64}", "a sha512 digest has exactly 128 hex digits, this one has 64"),
    (f"nginx@sha384:{H128}", "a sha384 digest has exactly 96 hex digits, this one has 128"),
    (f"nginx@sha256:{H64.upper()}", 'the sha256 digest must be lowercase hex ("A" is not allowed)'),
    (f"nginx@sha256:{'g' * 64}", 'the sha256 digest contains "g" (only hex digits 0-9 and a-f are allowed)'),
    (f"nginx@sha256:{H64[:-1]}:", 'the sha256 digest contains ":" (only hex digits 0-9 and a-f are allowed)'),
    # more than one "@"
    (f"nginx@{SHA256}@{SHA256}", 'it contains more than one "@" (a reference has at most one "@digest", at the end)'),
    ("a@b@c", 'it contains more than one "@" (a reference has at most one "@digest", at the end)'),
]


@pytest.mark.parametrize(("text", "problem"), INVALID)
def test_invalid_references(text: str, problem: str) -> None:
    err = refused(parse_reference, text)
    shown = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    shown = shown.replace("\x00", "\\x00").replace("\u00a0", "\\xa0")
    assert err.problem == f'invalid image reference "{shown}": {problem}'
    assert not is_valid_reference(text)


def test_fix_hints_suggest_the_repair() -> None:
    assert refused(parse_reference, "nginx:1.0\n").fix == (
        "remove the whitespace; it often comes from a trailing newline or a copy-paste"
    )
    assert refused(parse_reference, f"nginx:sha256:{H64}").fix == 'a digest is written after "@": "name@sha256:<hex>"'
    assert refused(parse_reference, "reg.io:5000:1.0").fix == (
        'a registry port needs a repository path after it: "host:5000/path:tag"'
    )
    assert refused(parse_reference, "::1/x").fix == 'write an IPv6 registry in brackets, e.g. "[::1]:5000/app"'
    assert refused(parse_reference, f"nginx@sha256:{H64.upper()}").fix == "write the hex digits in lowercase"
    assert refused(parse_reference, "aegis/Api").fix == (
        "only the registry host may contain uppercase letters; repository paths are lowercase"
    )


def test_long_input_is_cut_in_the_message() -> None:
    text = "a" * 400 + "/B"
    err = refused(parse_reference, text)
    assert err.problem == (
        f'invalid image reference "{"a" * 120}"... (402 characters): '
        'the repository path must be lowercase ("B" is not allowed here)'
    )


def test_quotes_and_backslashes_are_escaped_in_the_message() -> None:
    err = refused(parse_reference, 'a"b')
    assert err.problem == (
        f'invalid image reference "a\\"b": the repository path component "a\\"b" contains "\\"" {PATH_CHARS}'
    )


def test_error_renders_as_a_user_message() -> None:
    err = refused(parse_reference, "nginx:")
    assert str(err) == (
        'invalid image reference "nginx:": the tag after ":" is empty\nhint: write a tag after ":" or remove the ":"'
    )
    assert err.as_dict()["kind"] == "InvalidReference"
    assert err.as_dict()["exit_code"] == 1


# --- parse_name / validate_name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("nginx:1.25", 'a tag (":1.25") is not allowed in an image name'),
        ("localhost:5000", 'a tag (":5000") is not allowed in an image name'),
        (f"nginx@{SHA256}", f'a digest ("@{SHA256}") is not allowed in an image name'),
        (f"nginx:1@{SHA256}", 'a tag (":1") is not allowed in an image name'),
        ("Nginx:1", 'the repository path must be lowercase ("Nginx" is not allowed here)'),
        ("a//b", 'the repository path has an empty component ("//")'),
        ("nginx ", "it contains whitespace (a space at character 6)"),
        (NAME255 + "x", "the repository name is 256 characters long (at most 255 are allowed)"),
    ],
)
def test_invalid_names(text: str, problem: str) -> None:
    for call in (parse_name, validate_name):
        err = refused(call, text)
        assert err.problem == f'invalid image name "{text}": {problem}'


def test_name_with_a_registry_port_gets_a_hint() -> None:
    err = refused(parse_name, "localhost:5000")
    assert err.fix == 'if "localhost:5000" is a registry, add the repository path after it: "localhost:5000/<path>"'
    assert refused(parse_name, "nginx:1").fix == "give the tag separately; an image name is only [registry/]path"


def test_validate_name_returns_its_input() -> None:
    assert validate_name("registry.gitlab.com/aegis/api") == "registry.gitlab.com/aegis/api"


# --- validate_tag / validate_digest -------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["latest", "1.25", "v1.0.0-rc.1_x", "_", "A", TAG128, "1-2-3", "5000"])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("", "it is empty"),
        (" 1.0", "it contains whitespace (a space at character 1)"),
        (".1", 'the tag ".1" starts with "." (it must start with a letter, digit or "_")'),
        ("-1", 'the tag "-1" starts with "-" (it must start with a letter, digit or "_")'),
        ("1:2", f'the tag "1:2" contains ":" {TAG_CHARS}'),
        ("a/b", f'the tag "a/b" contains "/" {TAG_CHARS}'),
        ("a@b", f'the tag "a@b" contains "@" {TAG_CHARS}'),
        ("a" * 129, "the tag is 129 characters long (at most 128 are allowed)"),
        ("\u0661", f'the tag "\u0661" contains "\u0661" {TAG_CHARS}'),  # a non-ASCII digit is not \w here
    ],
)
def test_invalid_tags(tag: str, problem: str) -> None:
    err = refused(validate_tag, tag)
    assert err.problem == f'invalid tag "{tag}": {problem}'


@pytest.mark.parametrize("digest", [SHA256, SHA384, SHA512])
def test_valid_digests(digest: str) -> None:
    assert validate_digest(digest) == digest


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ("", "it is empty"),
        (H64, f'the digest "{H64}" has no ":" between algorithm and hex digits'),
        (f"md5:{H64}", 'unsupported digest algorithm "md5" (supported: sha256, sha384, sha512)'),
        (f"sha256+b64:{H64}", 'unsupported digest algorithm "sha256+b64" (supported: sha256, sha384, sha512)'),
        (f"Sha256:{H64}", 'unsupported digest algorithm "Sha256" (supported: sha256, sha384, sha512)'),
        (f"1sha:{H64}", 'the digest algorithm "1sha" is malformed (expected letter-led alphanumeric components '
         'joined by "+", ".", "_" or "-", e.g. "sha256")'),
        ("sha256:abc", "a sha256 digest has exactly 64 hex digits, this one has 3"),
        (f"sha256:{H64[:-1]}F", 'the sha256 digest must be lowercase hex ("F" is not allowed)'),
        (f"{SHA256}\n", "it contains whitespace (a newline at character 72)"),
    ],
)
def test_invalid_digests(digest: str, problem: str) -> None:
    err = refused(validate_digest, digest)
    assert err.problem == f'invalid digest "{digest.replace(chr(10), chr(92) + "n")}": {problem}'


# --- values that are not strings (YAML turns 1.10 into 1.1) --------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (parse_reference, "image reference"),
        (parse_name, "image name"),
        (validate_name, "image name"),
        (validate_tag, "tag"),
        (validate_digest, "digest"),
    ],
)
@pytest.mark.parametrize("value", [1.1, 5, None, True, b"nginx"])
def test_non_strings_are_refused(call: object, what: str, value: object) -> None:
    err = refused(call, value)
    assert err.problem == f"invalid {what} {value!r}: it must be a string, not {type(value).__name__}"
    assert err.fix is not None and "quote the value in YAML" in err.fix


@pytest.mark.parametrize("value", [1.1, None, ["nginx"]])
def test_is_valid_reference_never_raises(value: object) -> None:
    assert is_valid_reference(value) is False  # type: ignore[arg-type]


# --- property tests -------------------------------------------------------------------------------------------------

LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
alpha_numeric = st.text(alphabet=LOWER_ALNUM, min_size=1, max_size=6)
separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def path_components(draw: st.DrawFn) -> str:
    parts = [draw(alpha_numeric)]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        parts += [draw(separator), draw(alpha_numeric)]
    return "".join(parts)


domain_label = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
port = st.from_regex(r"[0-9]{1,5}", fullmatch=True)
optional_port = st.none() | port


def with_port(host: st.SearchStrategy[str], port_strategy: st.SearchStrategy[str | None]) -> st.SearchStrategy[str]:
    return st.tuples(host, port_strategy).map(lambda hp: hp[0] if hp[1] is None else f"{hp[0]}:{hp[1]}")


# Every generated registry must look like one to Docker's heuristic, or it would (rightly) parse as a path.
dotted_host = st.lists(domain_label, min_size=2, max_size=4).map(".".join)
uppercase_host = domain_label.filter(lambda label: any(c.isupper() for c in label))
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.from_regex(r"[0-9a-fA-F:]{1,16}", fullmatch=True).map(lambda a: f"[{a}]")
domains = st.one_of(
    with_port(dotted_host, optional_port),
    with_port(domain_label, port),
    with_port(st.just("localhost"), optional_port),
    with_port(uppercase_host, optional_port),
    with_port(ipv4, optional_port),
    with_port(ipv6, optional_port),
)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True)
sha256_digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")


@st.composite
def references(draw: st.DrawFn) -> tuple[str, ImageRef]:
    """A valid reference built from the grammar, with the parts it was built from."""
    domain = draw(st.none() | domains)
    components = draw(st.lists(path_components(), min_size=1, max_size=4))
    if domain is None and len(components) > 1:
        assume("." not in components[0])  # a first component with "." is a registry, by Docker's heuristic
    path = "/".join(components)
    name = path if domain is None else f"{domain}/{path}"
    assume(len(name) <= 255)
    tag = draw(st.none() | tags)
    digest = draw(st.none() | sha256_digests)
    text = name + ("" if tag is None else f":{tag}") + ("" if digest is None else f"@{digest}")
    return text, ImageRef(domain, path, tag, digest)


# An independent oracle: the grammar as one anchored regex (Docker's ReferenceRegexp), then Docker's registry
# heuristic, the name length and go-digest's rules for the known algorithms.
_DC = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DC}(?:\.{_DC})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PC = r"[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*"
_PATH = rf"{_PC}(?:/{_PC})*"
_ALG = r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*"
_ORACLE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH})(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}))?"
    rf"(?:@(?P<digest>{_ALG}:[0-9a-fA-F]{{32,}}))?"
)
_KNOWN = {"sha256": 64, "sha384": 96, "sha512": 128}


def oracle(text: str) -> ImageRef | None:
    m = _ORACLE.fullmatch(text)
    if m is None:
        return None
    name, tag, digest = m.group("name", "tag", "digest")
    first, slash, rest = name.partition("/")
    registry_like = (
        "." in first or ":" in first or first == "localhost" or first.startswith("[") or first != first.lower()
    )
    if slash and registry_like:
        if re.fullmatch(_DOMAIN, first) is None or re.fullmatch(_PATH, rest) is None:
            return None
        domain, path = first, rest
    else:
        if re.fullmatch(_PATH, name) is None:
            return None
        domain, path = None, name
    if len(name) > 255:
        return None
    if digest is not None:
        algorithm, _, hex_digits = digest.partition(":")
        if _KNOWN.get(algorithm) != len(hex_digits) or hex_digits != hex_digits.lower():
            return None
    return ImageRef(domain, path, tag, digest)


@settings(max_examples=300, deadline=None)
@given(references())
def test_generated_references_round_trip(case: tuple[str, ImageRef]) -> None:
    text, expected = case
    ref = parse_reference(text)
    assert ref == expected
    assert str(ref) == text
    assert is_valid_reference(text)
    assert oracle(text) == expected
    assert parse_name(ref.name) == expected._replace(tag=None, digest=None)


def _check_any_text(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference as err:
        assert err.problem.startswith("invalid image reference ")
        assert err.exit_code == 1
        assert "\n" not in err.problem
        assert not is_valid_reference(text)
        assert oracle(text) is None
    else:
        assert str(ref) == text
        assert is_valid_reference(text)
        assert oracle(text) == ref


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_is_parsed_or_refused_cleanly(text: str) -> None:
    _check_any_text(text)


# Random text almost never parses; text over the grammar's own characters reaches far more of the rules.
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abAB019.-_:/@[] \n\u00e9", max_size=40))
def test_text_near_the_grammar_is_parsed_or_refused_cleanly(text: str) -> None:
    _check_any_text(text)


@settings(max_examples=300, deadline=None)
@given(references(), st.text(alphabet="abAB019.-_:/@[]", max_size=6), st.integers(min_value=0))
def test_splicing_into_valid_references_agrees_with_the_oracle(
    case: tuple[str, ImageRef], insert: str, where: int
) -> None:
    text = case[0]
    at = where % (len(text) + 1)
    _check_any_text(text[:at] + insert + text[at:])


def _replace_last_component(ref: ImageRef, component: str) -> str:
    head, _, _ = ref.path.rpartition("/")
    path = f"{head}/{component}" if head else component
    return str(ref._replace(path=path))


@settings(max_examples=300, deadline=None)
@given(references(), st.sampled_from("ABCXYZ"), st.integers(min_value=0))
def test_uppercase_in_the_path_is_refused(case: tuple[str, ImageRef], upper: str, where: int) -> None:
    # The last component is always part of the path (never taken for a registry), so uppercase there is invalid.
    ref = case[1]
    last = ref.path.rpartition("/")[2]
    at = where % (len(last) + 1)
    err = refused(parse_reference, _replace_last_component(ref, last[:at] + upper + last[at:]))
    assert "the repository path must be lowercase" in err.problem


@settings(max_examples=300, deadline=None)
@given(references(), st.sampled_from("aZ0_"))
def test_a_129_character_tag_is_refused(case: tuple[str, ImageRef], char: str) -> None:
    ref = case[1]
    err = refused(parse_reference, str(ref._replace(tag=char * 129)))
    assert err.problem.endswith("the tag is 129 characters long (at most 128 are allowed)")


@settings(max_examples=300, deadline=None)
@given(references(), st.integers(min_value=0))
def test_a_double_dot_in_the_path_is_refused(case: tuple[str, ImageRef], where: int) -> None:
    ref = case[1]
    last = ref.path.rpartition("/")[2]
    at = where % (len(last) + 1)
    err = refused(parse_reference, _replace_last_component(ref, last[:at] + ".." + last[at:]))
    assert "the repository path component" in err.problem
    assert "separator" in err.problem


@settings(max_examples=300, deadline=None)
@given(references(), sha256_digests, st.integers(min_value=1, max_value=64))
def test_a_truncated_digest_is_refused(case: tuple[str, ImageRef], digest: str, cut: int) -> None:
    ref = case[1]
    err = refused(parse_reference, str(ref._replace(digest=digest[:-cut])))
    assert err.problem.endswith(f"a sha256 digest has exactly 64 hex digits, this one has {64 - cut}")
