"""Read ``gitops-tools.yaml``: the environments, their promotion order and the policies.

The file is optional.  Without it the CLI calls :func:`default_config` with the directories it finds under
``environments/``; with it, :func:`parse_config` turns the text into frozen values.  Every field, its type and its
default::

    version: 1                    # optional; int; only 1 is known
    repo_url: https://gitlab.com/aegis/gitops.git   # optional; str: the URL Argo CD Applications use for
                                  #   this repository (validate checks the paths and revisions they name)
    branch: main                  # optional; str; default "main": the branch Argo CD watches, writers push to
    environments:                 # required; non-empty list; ORDER = promotion order (dev -> staging -> prod)
      - name: dev                 # required; str matching ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ; unique
        path: environments/dev    # optional; default "environments/<name>"; relative POSIX path, no "..",
                                  #   not absolute, unique (stored normalised: "./a//b/" becomes "a/b")
        protected: false          # optional; bool; default false: protected envs change only through merge requests
    commit:                       # optional mapping
      author_name: gitops-tools   # optional str (default None = take from git / CI env)
      author_email: gitops-tools@example.com   # optional str; must contain "@"
      skip_ci: false              # optional bool: append "[skip ci]" to commit subjects
      sign: false                 # optional bool: sign commits
    images:                       # optional mapping: image name -> options
      aegis/api:                  # key: an image name as used in kustomization images[].name
        values:                   # list of Helm values locations that move with this image
          - file: values.yaml     # required; path relative to EACH environment's path; no "..", not absolute
            key: api.image.tag    # required; key path (gitops_tools/keypath.py): dotted keys, `[N]` list
                                  #   indexes, `[field=value]` selectors, e.g. "containers[name=app].image"
            field: tag            # optional; one of tag, name, ref, digest; default tag
    policies:                     # optional mapping
      allow_downgrade: false      # bool: allow a semver-older tag to replace a newer one
      refuse_mutable_tags: true   # bool: protected environments refuse mutable tags
      mutable_tags: [latest, main, master, develop, dev, stable, edge, nightly]   # list of str
      promote_to_next_only: true  # bool: promotion only to the next environment unless --force
      only_from_previous: true    # bool: a protected environment takes only what the environment before it runs
      min_age:                    # mapping: target environment -> how long a version must have run in the
        prod: 1d                  #   environment it comes from (a number and s, m, h or d; from history)

Why the strictness: this file decides what may be pushed to production, so a typo must not silently become a
default.  Unknown keys are errors (with a "did you mean"), duplicate keys are errors, and the file is read as
YAML 1.2, so ``protected: yes`` is the *string* "yes" and is refused instead of being guessed at.  Types are
checked exactly: a boolean must be ``true``/``false``, an integer a plain integer, a string a string (``18``
where a string is expected is refused, the hint says to quote it).  An explicit empty value (``commit:`` with
nothing below it) means "use the defaults" only for the optional sections, lists and the two author strings;
for a boolean or a required key it is an error, because an empty ``protected:`` is more likely a mistake than
a wish for ``false``.

Every problem is a :class:`~gitops_tools.errors.ConfigError` naming the file, the 1-based line and column, the
key path (``environments[1].protected``, ``images.aegis/api.values[0].field``), the problem and the fix.

This module is pure: it takes text and returns values; reading the file is the caller's job.  It is also the
only module that imports ruamel.yaml, and it does so inside :func:`parse_config`, because most CLI commands
never need it and importing it costs start-up time.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from gitops_tools.errors import ConfigError, GitopsError
from gitops_tools.core.keypath import parse_keypath

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_MUTABLE_TAGS",
    "PROMOTION_ORDER",
    "VALUES_FIELDS",
    "CommitOptions",
    "Config",
    "Environment",
    "ImageOptions",
    "Policies",
    "ValuesLocation",
    "default_config",
    "parse_config",
]

CONFIG_FILE = "gitops-tools.yaml"

#: Tags that name a moving target rather than a release; protected environments refuse them by default.
DEFAULT_MUTABLE_TAGS: tuple[str, ...] = ("latest", "main", "master", "develop", "dev", "stable", "edge", "nightly")

#: The usual promotion order used by :func:`default_config`; unknown names go between "uat" and "stage".
PROMOTION_ORDER: tuple[str, ...] = (
    "dev",
    "development",
    "test",
    "qa",
    "uat",
    "stage",
    "staging",
    "preprod",
    "prod",
    "production",
)
_UNKNOWN_RANK = PROMOTION_ORDER.index("uat") + 0.5
_PROTECTED_BY_DEFAULT = frozenset({"prod", "production"})

#: The values of ``images.<name>.values[].field``: which part of the image reference the Helm value holds.
VALUES_FIELDS: tuple[str, ...] = ("tag", "name", "ref", "digest")

ENVIRONMENT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# The line breaks ruamel.yaml counts when it reports a line number.
_LINE_BREAK_RE = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")
_YAML_DIRECTIVE_RE = re.compile(r"^%YAML[ \t]+(\S+)", re.MULTILINE)

_TOP_KEYS = ("version", "repo_url", "branch", "environments", "commit", "images", "policies")
_ENV_KEYS = ("name", "path", "protected")
_COMMIT_KEYS = ("author_name", "author_email", "skip_ci", "sign")
_IMAGE_KEYS = ("values",)
_VALUES_KEYS = ("file", "key", "field")
_POLICY_KEYS = ("allow_downgrade", "refuse_mutable_tags", "mutable_tags", "promote_to_next_only", "only_from_previous",
                "min_age")
# A key that belongs one level down is a common mistake; say where it goes instead of only "unknown key".
_NESTED_HOME = {
    **{key: '"commit:"' for key in _COMMIT_KEYS},
    **{key: '"policies:"' for key in _POLICY_KEYS},
    **{key: 'each entry of "environments:"' for key in _ENV_KEYS},
}

_KEY_PATH_FIX = (
    'write dot-separated keys, [N] for list items, [field=value] to pick an item, ["a.b"] for a key with dots, '
    'e.g. "api.image.tag" or "containers[name=app].image"'
)


@dataclass(frozen=True)
class ValuesLocation:
    """A Helm values entry that moves with an image: ``key`` in ``file``, relative to each environment's path.

    ``field`` says which part of the reference the value holds: ``tag`` (``1.2.3``), ``name``
    (``registry/team/app``), ``ref`` (the whole ``name:tag@digest``) or ``digest`` (``sha256:...``).
    """

    file: str
    key: str
    field: str = "tag"


@dataclass(frozen=True)
class ImageOptions:
    """Per-image options; ``values`` lists the Helm values locations updated together with the image."""

    name: str
    values: tuple[ValuesLocation, ...] = ()


@dataclass(frozen=True)
class Environment:
    """One environment: its name, its directory relative to the repository root, and whether it is protected.

    Protected environments change only through merge requests, never by a direct push.
    """

    name: str
    path: str
    protected: bool = False


@dataclass(frozen=True)
class CommitOptions:
    """How commits are written.  ``None`` author fields mean "take them from git or the CI environment"."""

    author_name: str | None = None
    author_email: str | None = None
    skip_ci: bool = False
    sign: bool = False


@dataclass(frozen=True)
class Policies:
    """The safety rules the update and promote commands enforce."""

    allow_downgrade: bool = False
    refuse_mutable_tags: bool = True
    mutable_tags: tuple[str, ...] = DEFAULT_MUTABLE_TAGS
    promote_to_next_only: bool = True
    only_from_previous: bool = True
    min_age: tuple[tuple[str, str], ...] = ()  # (target environment, duration text), as written

    def min_age_for(self, target: str) -> str | None:
        return next((text for env, text in self.min_age if env == target), None)


@dataclass(frozen=True)
class Config:
    """The whole configuration.  ``environments`` is in promotion order; ``source`` is the file it came from.

    ``source`` is None when the configuration was derived from the directory layout by :func:`default_config`.
    """

    environments: tuple[Environment, ...]
    branch: str = "main"
    repo_url: str | None = None
    commit: CommitOptions = CommitOptions()
    images: tuple[ImageOptions, ...] = ()
    policies: Policies = Policies()
    source: str | None = None

    def find_environment(self, name: str) -> Environment | None:
        """The environment called ``name``, or None."""
        for env in self.environments:
            if env.name == name:
                return env
        return None

    def environment(self, name: str) -> Environment:
        """The environment called ``name``; a :class:`GitopsError` listing the known ones when there is none.

        The error is a plain :class:`GitopsError`, not a :class:`ConfigError`: the configuration is fine, the
        name the user typed is not.
        """
        env = self.find_environment(name)
        if env is not None:
            return env
        names = [e.name for e in self.environments]
        if names:
            fix = f"known environments: {', '.join(names)}"
            close = _close_match(name, names)
            if close is not None:
                fix = f"did you mean {_q(close)}? {fix}"
        else:
            fix = (
                "no environments are configured: create directories under environments/ "
                f"or list them in {CONFIG_FILE}"
            )
        raise GitopsError(f"unknown environment {_q(name)}", file=self.source, fix=fix)

    def next_environment(self, name: str) -> Environment | None:
        """The environment after ``name`` in promotion order; None for the last one.

        An unknown ``name`` raises like :meth:`environment`, so that "last" and "misspelt" are not confused.
        """
        index = self.environments.index(self.environment(name))
        return self.environments[index + 1] if index + 1 < len(self.environments) else None

    def previous_environment(self, name: str) -> Environment | None:
        """The environment before ``name`` in promotion order; None for the first one (unknown names raise)."""
        index = self.environments.index(self.environment(name))
        return self.environments[index - 1] if index > 0 else None

    def image_options(self, name: str) -> ImageOptions:
        """The options configured for image ``name``; an :class:`ImageOptions` without values when there are none."""
        for options in self.images:
            if options.name == name:
                return options
        return ImageOptions(name=name)


def default_config(env_dirs: Iterable[str]) -> Config:
    """The configuration used when there is no config file, from the directory names under ``environments/``.

    Names are put in the usual promotion order (:data:`PROMOTION_ORDER`); names it does not know are sorted
    alphabetically after "uat" and before "stage", i.e. after the early test stages and before the
    pre-production ones.  ``prod`` and ``production`` are protected.  Names that are not valid environment
    names (hidden directories, upper case, ...) are ignored; duplicates are listed once.
    """
    names = {name for name in env_dirs if isinstance(name, str) and ENVIRONMENT_NAME_RE.match(name)}

    def rank(name: str) -> tuple[float, str]:
        if name in PROMOTION_ORDER:
            return (PROMOTION_ORDER.index(name), name)
        return (_UNKNOWN_RANK, name)

    environments = tuple(
        Environment(name=name, path=f"environments/{name}", protected=name in _PROTECTED_BY_DEFAULT)
        for name in sorted(names, key=rank)
    )
    return Config(environments=environments, source=None)


def parse_config(text: str, filename: str = CONFIG_FILE) -> Config:
    """Parse the text of ``gitops-tools.yaml``; ``filename`` is only used in error messages and ``source``.

    Raises :class:`ConfigError` for invalid YAML, an empty file and every schema violation.
    """
    # Imported here, not at module level: see the module docstring.
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import TaggedScalar
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.scalarbool import ScalarBoolean

    from gitops_tools.core.yamldoc import check_size

    check_size(text, filename)
    _refuse_other_yaml_versions(text, filename)
    # A fresh instance per call: a "%YAML" directive changes the resolver of the instance that read it.
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except DuplicateKeyError as exc:
        raise _duplicate_key_error(exc, text, filename) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, filename) from None
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for everything it reports
        raise ConfigError(f"invalid YAML: {exc}", file=filename, fix="fix the YAML syntax") from None
    except ValueError as exc:
        # The constructor refuses a plain scalar that looks like a date but is not one (2024-13-45).
        raise _bad_timestamp_error(exc, text, filename) from None
    except RecursionError:  # ruamel.yaml composes recursively: a few thousand nested brackets exhaust the stack
        raise ConfigError("invalid YAML: nested too deeply", file=filename,
                          fix="the configuration is a few levels deep: check the file") from None
    if data is None and _is_empty_document(text):
        raise ConfigError(
            "the file is empty",
            file=filename,
            line=1,
            fix="delete it to use the defaults or list the environments",
        )
    reader = _Reader(text, filename, scalar_bool=ScalarBoolean, tagged=TaggedScalar)
    try:
        return reader.config(data)
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=filename,
                          fix="the configuration is a few levels deep: check the file") from None


# --------------------------------------------------------------------------------------------------------------
# Errors raised before the document is walked


def _refuse_other_yaml_versions(text: str, filename: str) -> None:
    """Refuse ``%YAML 1.1``: under 1.1 ``yes``/``no``/``on``/``off`` are booleans, which this file must not mean."""
    for match in _YAML_DIRECTIVE_RE.finditer(text):
        if match.group(1) != "1.2":
            line = text.count("\n", 0, match.start()) + 1
            raise ConfigError(
                f"YAML version {match.group(1)} is not supported",
                file=filename,
                line=line,
                column=1,
                fix=f'delete the "%YAML {match.group(1)}" line; this file is read as YAML 1.2',
            )


def _mark_position(mark: Any) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    return int(mark.line) + 1, int(mark.column) + 1


def _syntax_error(exc: Any, filename: str) -> ConfigError:
    problem = str(exc.problem or exc.context or "cannot parse the file")
    line, column = _mark_position(exc.problem_mark or exc.context_mark)
    context = exc.context
    if context and exc.context_mark is not None and exc.problem_mark is not None:
        ctx_line, _ = _mark_position(exc.context_mark)
        if ctx_line != line:
            context = f"{context} started on line {ctx_line}"
    text = f"invalid YAML: {problem}" + (f" ({context})" if context and exc.problem else "")
    if "\\t" in problem:
        fix = "indent with spaces; YAML does not allow tabs for indentation"
    elif "another document" in problem:
        text = "invalid YAML: the file holds more than one document"
        fix = 'keep a single document: remove the second "---" and what follows, or merge the two'
    elif "undefined alias" in problem:
        fix = "define the anchor (&name) before using the alias (*name), or write the value out"
    else:
        fix = "fix the YAML syntax at this position (check indentation, quotes, brackets and colons)"
    return ConfigError(text, file=filename, line=line, column=column, fix=fix)


def _duplicate_key_error(exc: Any, text: str, filename: str) -> ConfigError:
    """Name the repeated key and where it first appeared; the key path comes from a second, node-level pass."""
    line, column = _mark_position(exc.problem_mark)
    match = re.match(r'found duplicate key "(.*)" with value', str(exc.problem), re.DOTALL)
    key_text = match.group(1) if match else "?"
    path, first_line = _find_duplicate(text, line, column)
    where = f" (the first is on line {first_line})" if first_line is not None else ""
    return ConfigError(
        f"duplicate key {_q(key_text)}",
        file=filename,
        line=line,
        column=column,
        key=path,
        fix=f"keep one {_q(key_text)} entry{where}; a repeated key would silently override the first",
    )


def _find_duplicate(text: str, line: int | None, column: int | None) -> tuple[str | None, int | None]:
    """Key path and first line of the duplicate key at ``line:column``, found on the composed node tree.

    Composing does not check for duplicates, so it succeeds where loading failed.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    try:
        root = YAML(typ="rt").compose(text)
    except Exception:  # pragma: no cover - the text composed fine before the constructor saw the duplicate
        return None, None

    def walk(node: Any, path: str, seen: set[int]) -> tuple[str | None, int | None] | None:
        if id(node) in seen:  # aliases can make the tree a graph
            return None
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                name = str(key_node.value)
                key_line, key_col = _mark_position(key_node.start_mark)
                child = _join(path, name)
                if name in first and (key_line, key_col) == (line, column):
                    return child, first[name]
                first.setdefault(name, key_line or 0)
                found = walk(value_node, child, seen)
                if found is not None:
                    return found
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                found = walk(item, f"{path}[{index}]", seen)
                if found is not None:
                    return found
        return None

    return walk(root, "", set()) or (None, None)


def _bad_timestamp_error(exc: ValueError, text: str, filename: str) -> ConfigError:
    """Locate the date-like scalar the constructor refused (it raises a bare ValueError without a position)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            found.append(node)
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                walk(key_node)
                walk(value_node)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                walk(item)

    try:
        walk(YAML(typ="rt").compose(text))
    except Exception:  # pragma: no cover - defensive: composing does not construct values
        pass
    bad = next((node for node in found if not _is_real_date(str(node.value))), found[0] if found else None)
    if bad is None:  # pragma: no cover - only timestamps raise ValueError during construction
        return ConfigError(f"invalid value: {exc}", file=filename, fix="fix the value")
    line, column = _mark_position(bad.start_mark)
    return ConfigError(
        f"invalid date {_q(str(bad.value))}: {exc}",
        file=filename,
        line=line,
        column=column,
        fix=f'quote it if it is not meant as a date: "{bad.value}"',
    )


def _is_real_date(value: str) -> bool:
    import datetime

    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", value)
    if not match:
        return False
    try:
        datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return False
    return True


def _is_empty_document(text: str) -> bool:
    """True when the stream has no document or only an empty one ("", comments, a bare "---")."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode

    node = YAML(typ="rt").compose(text)
    return node is None or (
        isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value == ""
    )


# --------------------------------------------------------------------------------------------------------------
# Walking the loaded document

_Pos = tuple[int | None, int | None]


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """``30m``, ``2h``, ``1d`` → seconds; None when ``text`` is not a number followed by s, m, h or d."""
    if len(text) < 2 or text[-1] not in _DURATION_UNITS or not text[:-1].isdigit() or not text[:-1].isascii():
        return None
    return int(text[:-1]) * _DURATION_UNITS[text[-1]]


def _q(value: str) -> str:
    """A string in double quotes, with escapes for quotes, backslashes and control characters (as JSON does)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = _CONTROL_RE.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), escaped)
    return f'"{escaped}"'


def _close_match(word: str, choices: Sequence[str]) -> str | None:
    """The allowed word closest to a misspelt one, for "did you mean"; difflib is imported only when needed."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key_text(key: object) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


class _Reader:
    """Walks the ruamel round-trip tree, checking types and turning it into the frozen dataclasses.

    Holds the text (to quote the source of a wrongly typed scalar in the fix) and the ruamel types that need
    special handling (anchored booleans are ``ScalarBoolean``, an ``int`` subclass, not ``bool``; ``!!str 12``
    is a ``TaggedScalar``), which are imported lazily by :func:`parse_config`.
    """

    def __init__(self, text: str, filename: str, *, scalar_bool: type, tagged: type) -> None:
        self.lines = _LINE_BREAK_RE.split(text)
        self.filename = filename
        self.scalar_bool = scalar_bool
        self.tagged = tagged

    # ---- positions (ruamel keeps 0-based line/column on every CommentedMap/CommentedSeq) -------------------

    @staticmethod
    def node_pos(node: Any) -> _Pos:
        lc = getattr(node, "lc", None)
        if lc is None or getattr(lc, "line", None) is None:
            return None, None
        return int(lc.line) + 1, int(lc.col) + 1

    def key_pos(self, mapping: Any, key: object) -> _Pos:
        try:
            line, col = mapping.lc.key(key)
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.node_pos(mapping)  # a key that came in through a "<<" merge has no position of its own
        return int(line) + 1, int(col) + 1

    def value_pos(self, mapping: Any, key: object) -> _Pos:
        if mapping[key] is None:  # for an empty value ruamel points at the next token; the key is clearer
            return self.key_pos(mapping, key)
        try:
            line, col = mapping.lc.value(key)
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.key_pos(mapping, key)
        return int(line) + 1, int(col) + 1

    def item_pos(self, seq: Any, index: int) -> _Pos:
        try:
            line, col = seq.lc.item(index)
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.node_pos(seq)
        return int(line) + 1, int(col) + 1

    def fail(self, problem: str, fix: str, key: str | None, pos: _Pos) -> NoReturn:
        raise ConfigError(problem, file=self.filename, line=pos[0], column=pos[1], key=key, fix=fix)

    # ---- types ---------------------------------------------------------------------------------------------

    def unwrap(self, value: Any) -> Any:
        """``!!str 12`` arrives as a TaggedScalar; it is the string "12".  Other tags stay wrapped (and are refused)."""
        if isinstance(value, self.tagged) and str(getattr(value, "tag", "")) == "tag:yaml.org,2002:str":
            return str(getattr(value, "value", ""))
        return value

    def is_bool(self, value: Any) -> bool:
        return isinstance(value, (bool, self.scalar_bool))

    def is_scalar(self, value: Any) -> bool:
        """A boolean, number or date: a value that becomes the intended string once quoted."""
        import datetime

        return self.is_bool(value) or isinstance(value, (int, float, datetime.date))

    def describe(self, value: Any) -> str:
        import datetime

        if value is None:
            return "an empty value (null)"
        if self.is_bool(value):
            return f"the boolean {'true' if value else 'false'}"
        if isinstance(value, int):
            return f"the integer {int(value)}"
        if isinstance(value, float):
            return f"the number {float(value)!r}"
        if isinstance(value, str):
            return f"the string {_q(str(value))}"
        if isinstance(value, datetime.datetime):
            return f"the timestamp {value.isoformat()}"
        if isinstance(value, datetime.date):
            return f"the date {value.isoformat()}"
        if isinstance(value, Mapping):
            return "a mapping"
        if isinstance(value, (bytes, bytearray)):
            return "binary data"
        if isinstance(value, Sequence):
            return "a list"
        if isinstance(value, self.tagged):
            return f"a value tagged {getattr(value, 'tag', '?')}"
        return f"a value of type {type(value).__name__}"  # pragma: no cover - every YAML value is handled above

    def source_token(self, value: Any, pos: _Pos) -> str:
        """The scalar as written (``0x1F``, ``2024-01-01``), for the "quote it" hint; a rendering as fallback."""
        import datetime

        line, column = pos
        if line is not None and column is not None and 0 < line <= len(self.lines):
            token = re.split(r"[,\]}#]|:(?=\s|$)", self.lines[line - 1][column - 1 :], maxsplit=1)[0].strip()
            if token and token[0] not in "&*!'\"":
                return token
        if self.is_bool(value):
            return "true" if value else "false"
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        return str(value)

    # ---- typed accessors: `mapping[key]` checked, with the error at the value ------------------------------

    def get_str(self, mapping: Any, key: str, path: str, *, required: bool = False) -> str | None:
        """The string at ``mapping[key]``; None when absent, or when empty and the key is optional."""
        if key not in mapping:
            return None
        value = self.unwrap(mapping[key])
        if isinstance(value, str):
            return str(value)
        pos = self.value_pos(mapping, key)
        if value is None:
            if required:
                self.fail(f"expected a string, got {self.describe(value)}", f'write a value after "{key}:"', path, pos)
            return None
        if self.is_scalar(value):
            fix = f'quote it: "{self.source_token(value, pos)}"'
        else:
            fix = f'write a single string after "{key}:"'
        self.fail(f"expected a string, got {self.describe(value)}", fix, path, pos)

    def get_bool(self, mapping: Any, key: str, path: str, default: bool) -> bool:
        if key not in mapping:
            return default
        value = self.unwrap(mapping[key])
        if self.is_bool(value):
            return bool(value)
        self.fail(
            f"expected a boolean (true or false), got {self.describe(value)}",
            "write true or false",
            path,
            self.value_pos(mapping, key),
        )

    def get_int(self, mapping: Any, key: str, path: str) -> int | None:
        if key not in mapping:
            return None
        value = self.unwrap(mapping[key])
        if isinstance(value, int) and not self.is_bool(value):
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            fix = f"remove the quotes: {value.strip()}"
        else:
            fix = "write a whole number such as 1"
        self.fail(f"expected an integer, got {self.describe(value)}", fix, path, self.value_pos(mapping, key))

    def get_mapping(self, mapping: Any, key: str, path: str) -> Any:
        """The mapping at ``mapping[key]``; an empty dict when absent or null (an optional section left empty)."""
        if key not in mapping or mapping[key] is None:
            return {}
        value = mapping[key]
        if isinstance(value, Mapping):
            return value
        self.fail(
            f"expected a mapping, got {self.describe(self.unwrap(value))}",
            f'write "key: value" lines indented below "{key}:"',
            path,
            self.value_pos(mapping, key),
        )

    def get_list(self, mapping: Any, key: str, path: str) -> Any:
        """The list at ``mapping[key]``; None when absent or null."""
        if key not in mapping or mapping[key] is None:
            return None
        value = mapping[key]
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
            return value
        self.fail(
            f"expected a list, got {self.describe(self.unwrap(value))}",
            'write one "- item" per line below the key, or [a, b] on one line',
            path,
            self.value_pos(mapping, key),
        )

    def check_keys(self, mapping: Any, allowed: Sequence[str], path: str, *, top: bool = False) -> None:
        """Refuse unknown keys, suggesting the closest allowed one."""
        for key in mapping:
            if isinstance(key, str) and key in allowed:
                continue
            text = _key_text(key)
            listing = f"keys allowed here: {', '.join(allowed)}"
            close = _close_match(text, allowed) if isinstance(key, str) else None
            if top and text in _NESTED_HOME:
                fix = f"{_q(text)} belongs under {_NESTED_HOME[text]}; {listing}"
            elif close is not None:
                fix = f"did you mean {_q(close)}? {listing}"
            else:
                fix = listing
            self.fail(f"unknown key {_q(text)}", fix, _join(path, text), self.key_pos(mapping, key))

    def require(self, mapping: Any, key: str, path: str, pos: _Pos, example: str) -> None:
        if key not in mapping:
            self.fail(f"missing required key {_q(key)}", f"add {example}", path, pos)

    # ---- sections ------------------------------------------------------------------------------------------

    def config(self, data: Any) -> Config:
        if not isinstance(data, Mapping):
            self.fail(
                f"expected a mapping at the top of the file, got {self.describe(self.unwrap(data))}",
                'write "key: value" lines, starting with "environments:"',
                None,
                self.node_pos(data) if self.node_pos(data)[0] is not None else (1, 1),
            )
        self.check_keys(data, _TOP_KEYS, "", top=True)

        version = self.get_int(data, "version", "version")
        if version is not None and version != 1:
            self.fail(
                f"unknown config version {version}",
                'this gitops-tools reads version 1 only: write "version: 1" or upgrade gitops-tools',
                "version",
                self.value_pos(data, "version"),
            )

        branch = "main"
        if "branch" in data:
            branch = self.get_str(data, "branch", "branch", required=True) or ""
            reason = _branch_problem(branch)
            if reason is not None:
                self.fail(
                    f"invalid branch name {_q(branch)}: {reason}",
                    'write a git branch name such as "main" (see git check-ref-format)',
                    "branch",
                    self.value_pos(data, "branch"),
                )

        repo_url = self.get_str(data, "repo_url", "repo_url") if "repo_url" in data else None
        environments = self.environments(data)
        return Config(
            environments=environments,
            repo_url=repo_url,
            branch=branch,
            commit=self.commit(data),
            images=self.images(data),
            policies=self.policies(data, environments),
            source=self.filename,
        )

    def environments(self, data: Any) -> tuple[Environment, ...]:
        root_pos = self.node_pos(data)
        self.require(
            data,
            "environments",
            "environments",
            root_pos,
            'the environments in promotion order, e.g. "environments: [{name: dev}, {name: prod, protected: true}]"',
        )
        items = self.get_list(data, "environments", "environments")
        if not items:
            self.fail(
                "the environment list is empty",
                'list at least one environment, in promotion order, e.g. "- name: dev"',
                "environments",
                self.value_pos(data, "environments"),
            )
        result: list[Environment] = []
        names: dict[str, tuple[str, int | None]] = {}
        paths: dict[str, tuple[str, str, int | None]] = {}
        for index, item in enumerate(items):
            path = f"environments[{index}]"
            pos = self.item_pos(items, index)
            if not isinstance(item, Mapping):
                value = self.unwrap(item)
                if isinstance(value, str) and ENVIRONMENT_NAME_RE.match(value):
                    fix = f'write "- name: {value}"'
                else:
                    fix = 'write each entry as "- name: <environment>" with optional "path:" and "protected:"'
                self.fail(f"expected a mapping, got {self.describe(value)}", fix, path, pos)
            self.check_keys(item, _ENV_KEYS, path)
            self.require(item, "name", path, pos, 'the environment name, e.g. "name: dev"')
            name = self.get_str(item, "name", f"{path}.name", required=True) or ""
            name_pos = self.value_pos(item, "name")
            if not ENVIRONMENT_NAME_RE.match(name):
                self.fail(
                    f"invalid environment name {_q(name)}",
                    'use lowercase letters, digits and "-", starting and ending with a letter or digit, '
                    'e.g. "dev" or "prod-eu"',
                    f"{path}.name",
                    name_pos,
                )
            if name in names:
                first, first_line = names[name]
                self.fail(
                    f"duplicate environment name {_q(name)}",
                    f"environment names must be unique; {first} (line {first_line}) is already {_q(name)}",
                    f"{path}.name",
                    name_pos,
                )
            names[name] = (path, name_pos[0])

            if "path" in item and item["path"] is not None:
                env_path = self.relative_path(item, "path", f"{path}.path", for_values=False)
                path_key, path_pos = f"{path}.path", self.value_pos(item, "path")
            else:
                if "path" in item:
                    self.get_str(item, "path", f"{path}.path", required=True)  # raises: empty value
                env_path = f"environments/{name}"
                path_key, path_pos = path, pos
            if env_path in paths:
                first, first_name, first_line = paths[env_path]
                self.fail(
                    f"duplicate environment path {_q(env_path)}",
                    f"each environment needs its own directory; {first} ({_q(first_name)}, line {first_line}) "
                    "already uses it",
                    path_key,
                    path_pos,
                )
            paths[env_path] = (path, name, path_pos[0])

            protected = self.get_bool(item, "protected", f"{path}.protected", False)
            result.append(Environment(name=name, path=env_path, protected=protected))
        return tuple(result)

    def relative_path(self, mapping: Any, key: str, path: str, *, for_values: bool) -> str:
        """A relative POSIX path that stays below its base, normalised ("./a//b/" -> "a/b")."""
        value = self.get_str(mapping, key, path, required=True) or ""
        pos = self.value_pos(mapping, key)
        if for_values:
            base = "each environment's directory"
            example = '"values.yaml"'
        else:
            base = "the repository root"
            example = '"environments/dev"'
        relative = f"write it relative to {base}, e.g. {example}"
        if value.strip() == "":
            self.fail("the path is empty", relative, path, pos)
        if _CONTROL_RE.search(value):
            self.fail(f"path {_q(value)} contains a control character", relative, path, pos)
        if "\\" in value:
            self.fail(f"path {_q(value)} contains a backslash", 'separate directories with "/"', path, pos)
        if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
            self.fail(f"path {_q(value)} is absolute", relative, path, pos)
        if ".." in value.split("/"):
            self.fail(f'path {_q(value)} contains ".."', f'{relative}, without ".."', path, pos)
        normalised = posixpath.normpath(value)
        if normalised == ".":
            what = "the environment's directory itself, not a file" if for_values else "the repository root"
            self.fail(f"path {_q(value)} names {what}", relative, path, pos)
        return normalised

    def commit(self, data: Any) -> CommitOptions:
        section = self.get_mapping(data, "commit", "commit")
        self.check_keys(section, _COMMIT_KEYS, "commit")
        name = self.get_str(section, "author_name", "commit.author_name")
        if name is not None:
            pos = self.value_pos(section, "author_name")
            if name.strip() == "":
                self.fail(
                    "the author name is empty",
                    "write a name, or delete the key to take it from git or the CI environment",
                    "commit.author_name",
                    pos,
                )
            bad = next((c for c in ("<", ">", "\n") if c in name), None)
            if bad is not None or _CONTROL_RE.search(name):
                self.fail(
                    f"invalid author name {_q(name)}",
                    'write the name without "<", ">" or control characters',
                    "commit.author_name",
                    pos,
                )
        email = self.get_str(section, "author_email", "commit.author_email")
        if email is not None:
            reason = _email_problem(email)
            if reason is not None:
                self.fail(
                    f"invalid e-mail address {_q(email)}: {reason}",
                    "write an address like gitops-tools@example.com",
                    "commit.author_email",
                    self.value_pos(section, "author_email"),
                )
        return CommitOptions(
            author_name=name,
            author_email=email,
            skip_ci=self.get_bool(section, "skip_ci", "commit.skip_ci", False),
            sign=self.get_bool(section, "sign", "commit.sign", False),
        )

    def images(self, data: Any) -> tuple[ImageOptions, ...]:
        section = self.get_mapping(data, "images", "images")
        result: list[ImageOptions] = []
        used: dict[tuple[str, str], tuple[str, int | None]] = {}
        for image in section:
            key_pos = self.key_pos(section, image)
            if not isinstance(image, str):
                self.fail(
                    f"expected an image name (a string) as the key, got {self.describe(image)}",
                    f'quote it: "{self.source_token(image, key_pos)}"',
                    f"images.{_key_text(image)}",
                    key_pos,
                )
            path = f"images.{image}"
            if image == "" or any(c.isspace() for c in image) or _CONTROL_RE.search(image):
                self.fail(
                    f"invalid image name {_q(image)}",
                    'write the image name as in the kustomization\'s images[].name, without spaces, '
                    'e.g. "registry.example.com/team/app"',
                    path,
                    key_pos,
                )
            options = section[image]
            if options is None:
                result.append(ImageOptions(name=str(image)))
                continue
            if not isinstance(options, Mapping):
                self.fail(
                    f"expected a mapping, got {self.describe(self.unwrap(options))}",
                    f'write "values:" indented below "{image}:"',
                    path,
                    self.value_pos(section, image),
                )
            self.check_keys(options, _IMAGE_KEYS, path)
            items = self.get_list(options, "values", f"{path}.values") or []
            locations: list[ValuesLocation] = []
            for index, item in enumerate(items):
                item_path = f"{path}.values[{index}]"
                pos = self.item_pos(items, index)
                if not isinstance(item, Mapping):
                    self.fail(
                        f"expected a mapping, got {self.describe(self.unwrap(item))}",
                        'write each entry as "- file: values.yaml" with "key:" (and optionally "field:") below',
                        item_path,
                        pos,
                    )
                self.check_keys(item, _VALUES_KEYS, item_path)
                self.require(item, "file", item_path, pos, 'the values file, e.g. "file: values.yaml"')
                self.require(item, "key", item_path, pos, 'the key path of the value, e.g. "key: api.image.tag"')
                file = self.relative_path(item, "file", f"{item_path}.file", for_values=True)
                key = self.key_path(item, f"{item_path}.key")
                field = self.field(item, f"{item_path}.field")
                if (file, key) in used:
                    first, first_line = used[(file, key)]
                    self.fail(
                        f"{_q(file)} key {_q(key)} is listed twice",
                        f"{first} (line {first_line}) already writes it; a value can move with one image only",
                        f"{item_path}.key",
                        self.value_pos(item, "key"),
                    )
                used[(file, key)] = (item_path, pos[0])
                locations.append(ValuesLocation(file=file, key=key, field=field))
            result.append(ImageOptions(name=str(image), values=tuple(locations)))
        return tuple(result)

    def key_path(self, item: Any, path: str) -> str:
        key = self.get_str(item, "key", path, required=True) or ""
        try:
            parse_keypath(key)
        except GitopsError as exc:
            self.fail(exc.problem, _KEY_PATH_FIX, path, self.value_pos(item, "key"))
        return key

    def field(self, item: Any, path: str) -> str:
        if "field" not in item:
            return "tag"
        value = self.get_str(item, "field", path, required=True) or ""
        if value in VALUES_FIELDS:
            return value
        listing = f"values allowed here: {', '.join(VALUES_FIELDS)}"
        close = _close_match(value, VALUES_FIELDS)
        fix = f"did you mean {_q(close)}? {listing}" if close is not None else listing
        self.fail(f"unknown field {_q(value)}", fix, path, self.value_pos(item, "field"))

    def policies(self, data: Any, environments: Sequence[Environment]) -> Policies:
        section = self.get_mapping(data, "policies", "policies")
        self.check_keys(section, _POLICY_KEYS, "policies")
        mutable_tags = DEFAULT_MUTABLE_TAGS
        if "mutable_tags" in section:
            if section["mutable_tags"] is None:
                self.fail(
                    "expected a list, got an empty value (null)",
                    "write [] for no mutable tags, or delete the key to use the defaults",
                    "policies.mutable_tags",
                    self.key_pos(section, "mutable_tags"),
                )
            items = self.get_list(section, "mutable_tags", "policies.mutable_tags")
            tags: list[str] = []
            for index, raw in enumerate(items):
                tag_path = f"policies.mutable_tags[{index}]"
                pos = self.item_pos(items, index)
                tag = self.unwrap(raw)
                if not isinstance(tag, str):
                    scalar = self.is_scalar(tag)
                    self.fail(
                        f"expected a string, got {self.describe(tag)}",
                        f'quote it: "{self.source_token(tag, pos)}"' if scalar else "write a tag such as latest",
                        tag_path,
                        pos,
                    )
                if not _TAG_RE.match(tag):
                    self.fail(
                        f"invalid tag {_q(tag)}",
                        'a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"',
                        tag_path,
                        pos,
                    )
                tags.append(str(tag))
            mutable_tags = tuple(tags)
        return Policies(
            allow_downgrade=self.get_bool(section, "allow_downgrade", "policies.allow_downgrade", False),
            refuse_mutable_tags=self.get_bool(section, "refuse_mutable_tags", "policies.refuse_mutable_tags", True),
            mutable_tags=mutable_tags,
            promote_to_next_only=self.get_bool(
                section, "promote_to_next_only", "policies.promote_to_next_only", True
            ),
            only_from_previous=self.get_bool(section, "only_from_previous", "policies.only_from_previous", True),
            min_age=self.min_ages(section, [e.name for e in environments]),
        )

    def min_ages(self, section: Any, names: Sequence[str]) -> tuple[tuple[str, str], ...]:
        ages = self.get_mapping(section, "min_age", "policies.min_age")
        out: list[tuple[str, str]] = []
        for key in ages:
            name = _key_text(key)
            path = f"policies.min_age.{name}"
            if not isinstance(key, str) or name not in names:
                close = _close_match(name, names) if isinstance(key, str) else None
                listing = f"environments: {', '.join(names)}"
                self.fail(f"unknown environment {_q(name)}",
                          f"did you mean {_q(close)}? {listing}" if close is not None else listing,
                          path, self.key_pos(ages, key))
            text = self.get_str(ages, key, path, required=True) if isinstance(self.unwrap(ages[key]), str) else None
            if text is None or parse_duration(text) is None:
                problem = (f"invalid duration {_q(text)}" if text is not None else
                           f"expected a duration such as 1d, got {self.describe(self.unwrap(ages[key]))}")
                self.fail(problem, "write a number and a unit: 30m, 2h, 1d", path, self.value_pos(ages, key))
            out.append((name, str(text)))
        return tuple(out)


def _branch_problem(name: str) -> str | None:
    """Why ``name`` is not a valid git branch name (a subset of git check-ref-format), or None."""
    if name == "":
        return "it is empty"
    if name == "@":
        return 'it is "@"'
    if name.startswith("-"):
        return 'it starts with "-"'
    if any(c.isspace() for c in name) or _CONTROL_RE.search(name):
        return "it contains a space or a control character"
    for bad in ("~", "^", ":", "?", "*", "[", "\\", "..", "@{"):
        if bad in name:
            return f"it contains {_q(bad)}"
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


def _email_problem(email: str) -> str | None:
    """Why ``email`` cannot be a commit author address, or None.  Deliberately loose: git itself checks little."""
    if "@" not in email:
        return 'it has no "@"'
    if any(c.isspace() for c in email) or _CONTROL_RE.search(email):
        return "it contains a space or a control character"
    if "<" in email or ">" in email:
        return 'it contains "<" or ">"'
    local, _, domain = email.rpartition("@")
    if not local or not domain:
        return 'it needs text before and after the "@"'
    return None
