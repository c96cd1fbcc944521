"""The configuration as values: frozen dataclasses, their defaults, and the configuration used without a file.

Pure: no YAML here.  :mod:`gitops_tools.config.loader` turns the text of ``gitops-tools.yaml`` into these values;
the defaults of the dataclass fields are the defaults of the file's keys (docs/configuration.md lists them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gitops_tools.config.messages import quote, suggest
from gitops_tools.errors import GitopsError

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
VALUES_FIELDS: tuple[str, ...] = ("tag", "name", "ref", "digest", "tag@digest")

ENVIRONMENT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

#: The values of ``notify[].kind``: a Slack incoming webhook (Block Kit) or a generic JSON POST.
NOTIFY_KINDS: tuple[str, ...] = ("slack", "webhook")
#: The events of ``notify[].events``: the three commands that change an environment, and a change to a protected
#: environment that waits in a merge request (whichever command made it). ``release`` is a library's event:
#: its targets are in the library's ``pyproject.toml`` (``[[tool.gitops-tools.release.notify]]``).
NOTIFY_EVENTS: tuple[str, ...] = ("set-image", "promote", "rollback", "merge-request")
RELEASE_EVENT = "release"
#: An environment variable's name, as POSIX shells and GitLab CI/CD variables write one.
ENV_VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """``30m``, ``2h``, ``1d`` → seconds; None when ``text`` is not a number followed by s, m, h or d."""
    if len(text) < 2 or text[-1] not in _DURATION_UNITS or not text[:-1].isdigit() or not text[:-1].isascii():
        return None
    return int(text[:-1]) * _DURATION_UNITS[text[-1]]


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
    batch_window: str = "0s"  # how long a CI job waits before folding pending changes (DESIGN §3.14)

    @property
    def batch_window_seconds(self) -> float:
        return float(parse_duration(self.batch_window) or 0)


@dataclass(frozen=True)
class Policies:
    """The safety rules the update and promote commands enforce."""

    allow_downgrade: bool = False
    refuse_mutable_tags: bool = True
    mutable_tags: tuple[str, ...] = DEFAULT_MUTABLE_TAGS
    promote_to_next_only: bool = True
    only_from_previous: bool = True
    require_digest: bool = False  # protected environments run every image by digest (a re-pushed tag deploys nothing)
    min_age: tuple[tuple[str, str], ...] = ()  # (target environment, duration text), as written

    def min_age_for(self, target: str) -> str | None:
        return next((text for env, text in self.min_age if env == target), None)


@dataclass(frozen=True)
class NotifyTarget:
    """Where to announce a change once it has landed: a Slack incoming webhook or a generic JSON webhook.

    ``url_env`` is the *name* of the environment variable that holds the URL (the URL is a secret and is never
    written in a file); ``events`` are the events it is sent for, ``environments`` the environments (empty: all).
    A ``required`` target that fails makes the command exit 75, the change staying landed; ``timeout`` is the
    duration text (``10s``) each attempt may take.
    """

    kind: str
    url_env: str
    events: tuple[str, ...] = NOTIFY_EVENTS
    environments: tuple[str, ...] = ()
    required: bool = False
    timeout: str = "10s"

    @property
    def timeout_seconds(self) -> int:
        return parse_duration(self.timeout) or 10

    def wants(self, event: str, environment: str | None, merge_request: bool = False) -> bool:
        """Whether this target is sent the ``event`` in ``environment`` (None: an overlay outside the
        configuration, or a release); a change waiting in a merge request also matches ``merge-request``."""
        if event not in self.events and not (merge_request and "merge-request" in self.events):
            return False
        return not self.environments or environment in self.environments


#: The files of a service that name its dependencies, looked for at its repository's root when ``files`` is not set.
SERVICE_FILE_PATTERNS: tuple[str, ...] = ("requirements*.txt", "constraints*.txt", "pyproject.toml")


@dataclass(frozen=True)
class Service:
    """A service repository that depends on the platform's libraries, for ``propagate``.

    ``repo_url`` is the URL to clone (a token never goes in it: ``GITOPS_TOKEN`` or ``CI_JOB_TOKEN``), ``branch``
    the branch its merge requests go into; ``files`` the files that pin its dependencies (empty: every
    ``requirements*.txt``, ``constraints*.txt`` and ``pyproject.toml`` at its root); ``libraries`` the libraries
    propagated to it (empty: every library).
    """

    name: str
    repo_url: str
    branch: str = "main"
    files: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()

    def wants(self, library: str) -> bool:
        """Whether ``library`` (a normalised name) is propagated to this service."""
        return not self.libraries or library in self.libraries


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
    notify: tuple[NotifyTarget, ...] = ()
    services: tuple[Service, ...] = ()
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
            fix = suggest(name, names, "known environments")
        else:
            fix = (
                "no environments are configured: create directories under environments/ "
                f"or list them in {CONFIG_FILE}"
            )
        raise GitopsError(f"unknown environment {quote(name)}", file=self.source, fix=fix)

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
