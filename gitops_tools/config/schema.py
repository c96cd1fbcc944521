"""The schema of ``gitops-tools.yaml`` as one table: every key once, with its type, checks and nested sections.

:data:`CONFIG` is read by one generic walker (:mod:`gitops_tools.config.walker`); docs/configuration.md is
tested against it (:func:`key_paths`).  A key's default is the default of the model field it fills
(:mod:`gitops_tools.config.model`), so a key that is absent is simply not passed to the dataclass.  Pure: no YAML.

A check takes the value read (a ``str`` or ``int`` of the right type) and returns it, normalised, or raises
:class:`Invalid` with the problem and the fix; the walker adds the file, line, column and key path.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from gitops_tools.config import model
from gitops_tools.config.messages import CONTROL_RE, join, quote, suggest
from gitops_tools.core.keypath import parse_keypath
from gitops_tools.errors import GitopsError

KEY_PATH_FIX = (
    'write dot-separated keys, [N] for list items, [field=value] to pick an item, ["a.b"] for a key with dots, '
    'e.g. "api.image.tag" or "containers[name=app].image"'
)
_DURATION_FIX = "write a number and a unit: 30m, 2h, 1d"
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class Invalid(Exception):
    """A value of the right type that a check refuses: what is wrong and how to fix it."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


# --------------------------------------------------------------------------------------------------------------
# What the table is made of


class Bool(NamedTuple):
    """``true`` or ``false``, nothing else (YAML 1.2: ``yes`` is a string)."""


class Int(NamedTuple):
    check: Callable[[int], int] | None = None


class OneOf(NamedTuple):
    """The string must be one of ``choices(top)``, where ``top`` holds the top-level values read before it."""

    what: str  # unknown <what> "x"
    label: str  # did you mean "y"? <label>: a, b
    choices: Callable[[Mapping[str, Any]], Sequence[str]]


class Str(NamedTuple):
    check: Callable[[str], str] | None = None
    one_of: OneOf | None = None
    nullable: bool = False  # an empty value means the default (else it is an error)
    expected: str = "a string"
    type_fix: str | None = None  # the fix for a value of any other type (else: quote it, or write a string)
    other_fix: str | None = None  # the fix for a list item that is a list, mapping or empty


class ListOf(NamedTuple):
    item: Spec
    empty: tuple[str, str] | None = None  # (problem, fix) when the list is empty or null: it needs an item
    null_fix: str | None = None  # an empty value is an error with this fix (else it means the default)


class MapOf(NamedTuple):
    """A mapping whose keys are names the user chooses (``<label>``) rather than keys of the schema."""

    label: str
    key: Str
    value: Spec
    key_field: str | None = None  # the value is a Section built with the key as this field; else (key, value)


class Unique(NamedTuple):
    """No two entries may share this field's value (and the ``with_`` fields read before it).

    ``problem`` is formatted with this entry's fields, ``fix`` with the first one's, plus ``{first}`` (its key
    path) and ``{line}``; string fields arrive quoted.
    """

    problem: str
    fix: str
    with_: tuple[str, ...] = ()


class Field(NamedTuple):
    name: str
    spec: Spec
    required: str | None = None  # when set, a missing key is an error: "add <required>"
    default: Callable[[Mapping[str, Any]], Any] | None = None  # computed from the fields before; else the model's
    unique: Unique | None = None
    keep: bool = True  # False: checked, but not a field of the model


class Section(NamedTuple):
    """A mapping with the keys ``fields``, built into ``build(**values)``; keys not in ``fields`` are errors."""

    build: Callable[..., Any]
    fields: tuple[Field, ...]
    # The fix when the value is not a mapping: formatted with {key}, or a function of the value.
    fix: str | Callable[[Any], str] = 'write "key: value" lines indented below "{key}:"'
    # Keys refused with their own (problem, fix) rather than "unknown key": a secret written where it must not be.
    refused: tuple[tuple[str, str, str], ...] = ()


Spec = Bool | Int | Str | ListOf | MapOf | Section


# --------------------------------------------------------------------------------------------------------------
# Checks


def _version(version: int) -> int:
    if version != 1:
        raise Invalid(
            f"unknown config version {version}",
            'this gitops-tools reads version 1 only: write "version: 1" or upgrade gitops-tools',
        )
    return version


def _reasoned(why: Callable[[str], str | None], what: str, fix: str) -> Callable[[str], str]:
    """A check from a function that says why a value is wrong: ``invalid <what> "<value>": <why>``."""

    def check(value: str) -> str:
        reason = why(value)
        if reason is not None:
            raise Invalid(f"invalid {what} {quote(value)}: {reason}", fix)
        return value

    return check


def _branch_problem(name: str) -> str | None:
    """Why ``name`` is not a valid git branch name (a subset of git check-ref-format), or None."""
    if name == "":
        return "it is empty"
    if name == "@":
        return 'it is "@"'
    if name.startswith("-"):
        return 'it starts with "-"'
    if any(c.isspace() for c in name) or CONTROL_RE.search(name):
        return "it contains a space or a control character"
    for bad in ("~", "^", ":", "?", "*", "[", "\\", "..", "@{"):
        if bad in name:
            return f"it contains {quote(bad)}"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return 'it starts or ends with "/" or contains "//"'
    if name.endswith("."):
        return 'it ends with "."'
    for part in name.split("/"):
        if part.startswith("."):
            return 'a part starts with "."'
        if part.endswith(".lock"):
            return 'a part ends with ".lock"'
    return None


def _environment_name(name: str) -> str:
    if not model.ENVIRONMENT_NAME_RE.match(name):
        raise Invalid(
            f"invalid environment name {quote(name)}",
            'use lowercase letters, digits and "-", starting and ending with a letter or digit, e.g. "dev" or "prod-eu"',
        )
    return name


def _relative_path(base: str, example: str, itself: str) -> Callable[[str], str]:
    """A check for a relative POSIX path that stays below ``base``, normalised ("./a//b/" -> "a/b")."""
    relative = f"write it relative to {base}, e.g. {example}"

    def check(value: str) -> str:
        if value.strip() == "":
            raise Invalid("the path is empty", relative)
        if CONTROL_RE.search(value):
            raise Invalid(f"path {quote(value)} contains a control character", relative)
        if "\\" in value:
            raise Invalid(f"path {quote(value)} contains a backslash", 'separate directories with "/"')
        if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
            raise Invalid(f"path {quote(value)} is absolute", relative)
        if ".." in value.split("/"):
            raise Invalid(f'path {quote(value)} contains ".."', f'{relative}, without ".."')
        normalised = posixpath.normpath(value)
        if normalised == ".":
            raise Invalid(f"path {quote(value)} names {itself}", relative)
        return normalised

    return check


def _author_name(name: str) -> str:
    if name.strip() == "":
        raise Invalid("the author name is empty",
                      "write a name, or delete the key to take it from git or the CI environment")
    if any(c in name for c in "<>\n") or CONTROL_RE.search(name):
        raise Invalid(f"invalid author name {quote(name)}", 'write the name without "<", ">" or control characters')
    return name


def _email_problem(email: str) -> str | None:
    """Why ``email`` cannot be a commit author address, or None.  Deliberately loose: git itself checks little."""
    if "@" not in email:
        return 'it has no "@"'
    if any(c.isspace() for c in email) or CONTROL_RE.search(email):
        return "it contains a space or a control character"
    if "<" in email or ">" in email:
        return 'it contains "<" or ">"'
    local, _, domain = email.rpartition("@")
    if not local or not domain:
        return 'it needs text before and after the "@"'
    return None


def _image_name(name: str) -> str:
    if name == "" or any(c.isspace() for c in name) or CONTROL_RE.search(name):
        raise Invalid(
            f"invalid image name {quote(name)}",
            "write the image name as in the kustomization's images[].name, without spaces, "
            'e.g. "registry.example.com/team/app"',
        )
    return name


def _key_path(key: str) -> str:
    try:
        parse_keypath(key)
    except GitopsError as exc:
        raise Invalid(exc.problem, KEY_PATH_FIX) from None
    return key


def _tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise Invalid(f"invalid tag {quote(tag)}",
                      'a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"')
    return tag


def _duration(text: str) -> str:
    if model.parse_duration(text) is None:
        raise Invalid(f"invalid duration {quote(text)}", _DURATION_FIX)
    return text


_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^https?:", re.IGNORECASE)
URL_FIX = ("a webhook URL is a secret: keep it in a (masked) CI/CD variable and write the variable's name in "
            "url_env, e.g. url_env: SLACK_WEBHOOK_URL")


def no_url(value: str) -> str:
    """Refuse a URL where a notification target's key expects a name; the message never repeats the URL."""
    if _URL_RE.match(value.strip()):
        raise Invalid("a URL is never written in gitops-tools.yaml", URL_FIX)
    return value


def url_env_name(name: str) -> str:
    if _URL_RE.match(name.strip()):
        raise Invalid("expected the name of an environment variable, got a URL", URL_FIX)
    if not model.ENV_VAR_NAME_RE.match(name):
        raise Invalid(f"invalid environment variable name {quote(name)}",
                      'write the name of the variable holding the URL: letters, digits and "_", not starting with '
                      "a digit, e.g. SLACK_WEBHOOK_URL")
    return name


def _notify_event(event: str) -> str:
    no_url(event)
    if event == model.RELEASE_EVENT:
        raise Invalid('"release" is not an event of gitops-tools.yaml',
                      "a library announces its releases to the targets of [[tool.gitops-tools.release.notify]] in "
                      f"its pyproject.toml; events here: {', '.join(model.NOTIFY_EVENTS)}")
    if event not in model.NOTIFY_EVENTS:
        raise Invalid(f"unknown event {quote(event)}", suggest(event, model.NOTIFY_EVENTS, "events"))
    return event


_BATCH_WINDOW_FIX = "write a number of seconds or minutes from 0s to 10m, e.g. 2s"


def batch_window(text: str) -> str:
    """How long a CI job waits for others before folding: a duration from 0s to 10m."""
    seconds = model.parse_duration(text)
    if seconds is None:
        raise Invalid(f"invalid duration {quote(text)}", _BATCH_WINDOW_FIX)
    if seconds > 600:
        raise Invalid(f"batch window {quote(text)} is out of range", _BATCH_WINDOW_FIX)
    return text


_NOTIFY_TIMEOUT_FIX = "write a number of seconds or minutes from 1s to 5m, e.g. 10s"


def notify_timeout(text: str) -> str:
    """A notification's timeout: a duration from 1s to 5m (shared with the release targets of pyproject.toml)."""
    seconds = model.parse_duration(no_url(text))
    if seconds is None:
        raise Invalid(f"invalid duration {quote(text)}", _NOTIFY_TIMEOUT_FIX)
    if not 1 <= seconds <= 300:
        raise Invalid(f"timeout {quote(text)} is out of range", _NOTIFY_TIMEOUT_FIX)
    return text


_SERVICE_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
_LIBRARY_NAME_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")


def service_name(name: str) -> str:
    if not _SERVICE_NAME_RE.match(name):
        raise Invalid(f"invalid service name {quote(name)}",
                      'use lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit, '
                      'e.g. "api"')
    return name


def service_url(url: str) -> str:
    if url.strip() == "" or CONTROL_RE.search(url) or any(c.isspace() for c in url):
        raise Invalid(f"invalid repository URL {quote(url)}",
                      "write the URL git clones, e.g. https://gitlab.com/aegis/api.git")
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0] and scheme.lower() in ("http", "https"):
        raise Invalid("the repository URL carries credentials",
                      "a token never goes into the URL: write it without them and give the token in GITOPS_TOKEN "
                      "(or run in GitLab CI for CI_JOB_TOKEN)")
    return url


def library_name(name: str) -> str:
    """A Python distribution name (PEP 508), normalised as PEP 503 does (``Shared_Library`` -> ``shared-library``)."""
    if not _LIBRARY_NAME_RE.match(name):
        raise Invalid(f"invalid library name {quote(name)}",
                      'write the name of a Python distribution: letters, digits, ".", "_" and "-", e.g. '
                      '"shared-library"')
    return re.sub(r"[-_.]+", "-", name).lower()


def _environment_entry_fix(value: Any) -> str:
    if isinstance(value, str) and model.ENVIRONMENT_NAME_RE.match(value):
        return f'write "- name: {value}"'
    return 'write each entry as "- name: <environment>" with optional "path:" and "protected:"'


_branch = _reasoned(_branch_problem, "branch name", 'write a git branch name such as "main" (see git check-ref-format)')
_author_email = _reasoned(_email_problem, "e-mail address", "write an address like gitops-tools@example.com")
_environment_path = _relative_path("the repository root", '"environments/dev"', "the repository root")
_values_file = _relative_path("each environment's directory", '"values.yaml"',
                              "the environment's directory itself, not a file")


_service_file = _relative_path("the service repository's root", '"requirements.txt"', "the repository's root")


def _environment_names(top: Mapping[str, Any]) -> list[str]:
    return [env.name for env in top["environments"]]


# --------------------------------------------------------------------------------------------------------------
# The table: every key once.  Its default is the model's; what an empty value means is the spec's.

ENVIRONMENT = Section(model.Environment, fix=_environment_entry_fix, fields=(
    Field("name", Str(check=_environment_name), required='the environment name, e.g. "name: dev"',
          unique=Unique("duplicate environment name {name}",
                        "environment names must be unique; {first} (line {line}) is already {name}")),
    Field("path", Str(check=_environment_path), default=lambda env: f"environments/{env['name']}",
          unique=Unique("duplicate environment path {path}",
                        "each environment needs its own directory; {first} ({name}, line {line}) already uses it")),
    Field("protected", Bool()),
))

COMMIT = Section(model.CommitOptions, fields=(
    Field("author_name", Str(check=_author_name, nullable=True)),
    Field("author_email", Str(check=_author_email, nullable=True)),
    Field("skip_ci", Bool()),
    Field("sign", Bool()),
    Field("batch_window", Str(check=batch_window, expected="a duration such as 2s", type_fix=_BATCH_WINDOW_FIX)),
))

VALUES_LOCATION = Section(model.ValuesLocation, fix=(
    'write each entry as "- file: values.yaml" with "key:" (and optionally "field:") below'), fields=(
    Field("file", Str(check=_values_file), required='the values file, e.g. "file: values.yaml"'),
    Field("key", Str(check=_key_path), required='the key path of the value, e.g. "key: api.image.tag"',
          unique=Unique("{file} key {key} is listed twice",
                        "{first} (line {line}) already writes it; a value can move with one image only",
                        with_=("file",))),
    Field("field", Str(one_of=OneOf("field", "values allowed here", lambda _: model.VALUES_FIELDS))),
))

IMAGE = Section(model.ImageOptions, fix='write "values:" indented below "{key}:"', fields=(
    Field("values", ListOf(VALUES_LOCATION)),
))

POLICIES = Section(model.Policies, fields=(
    Field("allow_downgrade", Bool()),
    Field("refuse_mutable_tags", Bool()),
    Field("mutable_tags", ListOf(Str(check=_tag, other_fix="write a tag such as latest"),
                                 null_fix="write [] for no mutable tags, or delete the key to use the defaults")),
    Field("promote_to_next_only", Bool()),
    Field("only_from_previous", Bool()),
    Field("require_digest", Bool()),
    Field("min_age", MapOf("environment", Str(one_of=OneOf("environment", "environments", _environment_names)),
                           Str(check=_duration, expected="a duration such as 1d", type_fix=_DURATION_FIX))),
))

NOTIFY_TARGET = Section(model.NotifyTarget, fix=(
    'write each entry as "- kind: slack" with "url_env:" (and optionally "events:", "environments:", "required:" '
    'and "timeout:") below'), refused=(("url", "a URL is never written in gitops-tools.yaml", URL_FIX),), fields=(
    Field("kind", Str(check=no_url, one_of=OneOf("kind", "kinds", lambda _: model.NOTIFY_KINDS)),
          required='the kind of target, e.g. "kind: slack" (or webhook)'),
    Field("url_env", Str(check=url_env_name), required='the environment variable holding the URL, e.g. '
                                                   '"url_env: SLACK_WEBHOOK_URL"',
          unique=Unique("url_env {url_env} is listed twice",
                        "{first} (line {line}) already sends to it: list the events and environments in one entry")),
    Field("events", ListOf(Str(check=_notify_event, other_fix="write an event such as promote"), empty=(
        "the event list is empty", "delete the key to send every event, or list some: set-image, promote, rollback, "
                                   "merge-request"))),
    Field("environments", ListOf(Str(check=no_url, one_of=OneOf("environment", "environments", _environment_names),
                                     other_fix="write an environment name such as prod"), empty=(
        "the environment list is empty", "delete the key to send for every environment, or list some"))),
    Field("required", Bool()),
    Field("timeout", Str(check=notify_timeout, expected="a duration such as 10s", type_fix=_NOTIFY_TIMEOUT_FIX)),
))

SERVICE = Section(model.Service, fix='write "repo_url:" (and optionally "branch:", "files:", "libraries:") indented '
                                      'below "{key}:"', fields=(
    Field("repo_url", Str(check=service_url), required='the URL to clone, e.g. '
                                                        '"repo_url: https://gitlab.com/aegis/api.git"'),
    Field("branch", Str(check=_branch)),
    Field("files", ListOf(Str(check=_service_file, other_fix="write a file name such as requirements.txt"), empty=(
        "the file list is empty", "delete the key to look for requirements*.txt, constraints*.txt and pyproject.toml, "
                                  "or list some"))),
    Field("libraries", ListOf(Str(check=library_name, other_fix="write a library name such as shared-library"),
                              empty=("the library list is empty",
                                     "delete the key to propagate every library to this service, or list some"))),
))

CONFIG = Section(model.Config, fields=(
    Field("version", Int(check=_version), keep=False),
    Field("repo_url", Str(nullable=True)),
    Field("branch", Str(check=_branch)),
    Field("environments", ListOf(ENVIRONMENT, empty=(
        "the environment list is empty", 'list at least one environment, in promotion order, e.g. "- name: dev"')),
        required='the environments in promotion order, e.g. "environments: [{name: dev}, {name: prod, protected: true}]"'),
    Field("commit", COMMIT),
    Field("images", MapOf("image", Str(check=_image_name), IMAGE, key_field="name")),
    Field("policies", POLICIES),
    Field("notify", ListOf(NOTIFY_TARGET)),
    Field("services", MapOf("service", Str(check=service_name), SERVICE, key_field="name")),
))


def nested_homes(section: Section) -> dict[str, str]:
    """Where each key one level below ``section`` belongs, for the hint on a key written a level too high."""
    homes: dict[str, str] = {}
    for field in section.fields:
        spec = field.spec
        if isinstance(spec, Section):
            homes.update((child.name, f'"{field.name}:"') for child in spec.fields)
        elif isinstance(spec, ListOf) and isinstance(spec.item, Section):
            homes.update((child.name, f'each entry of "{field.name}:"') for child in spec.item.fields)
    return homes


def key_paths(section: Section = CONFIG, prefix: str = "") -> Iterator[tuple[str, Section, Field]]:
    """Every key of the schema as a documented path (``environments[].name``, ``images.<image>.values``)."""
    for field in section.fields:
        path = join(prefix, field.name)
        yield path, section, field
        spec = field.spec
        if isinstance(spec, ListOf):
            path, spec = f"{path}[]", spec.item
        if isinstance(spec, MapOf):
            path = f"{path}.<{spec.label}>"
            yield path, section, field
            spec = spec.value
        if isinstance(spec, Section):
            yield from key_paths(spec, path)
