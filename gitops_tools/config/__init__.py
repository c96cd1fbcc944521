"""``gitops-tools.yaml``: the environments, their promotion order and the policies.

The file is optional.  Without it the CLI calls :func:`default_config` with the directories it finds under
``environments/``; with it, :func:`parse_config` turns the text into frozen values.  docs/configuration.md is the
reference; in short, every key, its type and its default::

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
      author_name: gitops-tools   # optional str (default None = take from git / CI env); used only
      author_email: gitops-tools@example.com   # with author_email: optional str; must contain "@"
      skip_ci: false              # optional bool: append "[skip ci]" to commit subjects
      sign: false                 # optional bool: sign commits
      batch_window: 0s            # optional duration (0s to 10m): CI jobs wait before folding pending changes
    images:                       # optional mapping: image name -> options
      aegis/api:                  # key: an image name as used in kustomization images[].name
        values:                   # list of Helm values locations that move with this image
          - file: values.yaml     # required; path relative to EACH environment's path; no "..", not absolute
            key: api.image.tag    # required; key path (gitops_tools/core/keypath.py): dotted keys, `[N]` list
                                  #   indexes, `[field=value]` selectors, e.g. "containers[name=app].image"
            field: tag            # optional; one of tag, name, ref, digest; default tag
    policies:                     # optional mapping
      allow_downgrade: false      # bool: allow a semver-older tag to replace a newer one
      refuse_mutable_tags: true   # bool: protected environments refuse mutable tags
      mutable_tags: [latest, main, master, develop, dev, stable, edge, nightly]   # list of str
      promote_to_next_only: true  # bool: promotion only to the next environment unless --force
      only_from_previous: true    # bool: a protected environment takes only what the environment before it runs
      require_digest: false       # bool: protected environments run every image by digest (name:tag@sha256:...)
      min_age:                    # mapping: target environment -> how long a version must have run in the
        prod: 1d                  #   environment it comes from (a number and s, m, h or d; from history)
    notify:                       # optional list: where to announce a change once it has landed
      - kind: slack               # required; slack (incoming webhook, Block Kit) or webhook (generic JSON POST)
        url_env: SLACK_WEBHOOK_URL   # required; the NAME of the environment variable holding the URL (a URL
                                  #   in the file is refused: it is a secret); unique
        events: [promote, merge-request]   # optional; of set-image, promote, rollback, merge-request; default all
        environments: [prod]      # optional; environment names; default all
        required: false           # optional bool: true makes a failed notification exit 75 (the change stays)
        timeout: 10s              # optional duration from 1s to 5m, for each attempt
    services:                     # optional mapping: service name -> its repository, for `propagate`
      api:                        # key: a name matching ^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$
        repo_url: https://gitlab.com/aegis/api.git   # required; the URL to clone, without credentials
        branch: main              # optional; the branch merge requests go into; default "main"
        files: [requirements.txt] # optional; relative paths; default requirements*.txt, constraints*.txt and
                                  #   pyproject.toml at the repository's root
        libraries: [shared-library]   # optional; the libraries propagated to it (normalised); default all

Why the strictness: this file decides what may be pushed to production, so a typo must not silently become a
default.  Unknown keys are errors (with a "did you mean"), duplicate keys are errors, and the file is read as
YAML 1.2, so ``protected: yes`` is the *string* "yes" and is refused instead of being guessed at.  Types are
checked exactly: a boolean must be ``true``/``false``, an integer a plain integer, a string a string (``18``
where a string is expected is refused, the hint says to quote it).  An explicit empty value (``commit:`` with
nothing below it) means "use the defaults" for the optional sections, ``images``, ``values``, ``repo_url`` and
the two author strings; for a boolean, ``mutable_tags`` or a required key it is an error, because an empty
``protected:`` is more likely a mistake than a wish for ``false``.

Every problem is a :class:`~gitops_tools.errors.ConfigError` naming the file, the 1-based line and column, the
key path (``environments[1].protected``, ``images.aegis/api.values[0].field``), the problem and the fix.

The package, from the bottom up:

- :mod:`.messages`: quoting, "did you mean" and key paths, as every message writes them;
- :mod:`.model`: the frozen dataclasses, their defaults, :func:`default_config` (pure, no YAML);
- :mod:`.schema`: the table of keys, types, checks and nested sections, each key once (pure, no YAML);
- :mod:`.walker`: the one generic walker that checks a loaded tree against the table and builds the model;
- :mod:`.loader`: :func:`parse_config`, the only module that imports ruamel.yaml, inside the function, because
  most commands never read the configuration and importing ruamel costs start-up time.
"""

from __future__ import annotations

from gitops_tools.config.loader import parse_config
from gitops_tools.config.model import (
    CONFIG_FILE,
    DEFAULT_MUTABLE_TAGS,
    PROMOTION_ORDER,
    VALUES_FIELDS,
    CommitOptions,
    Config,
    Environment,
    ImageOptions,
    NotifyTarget,
    Policies,
    Service,
    ValuesLocation,
    default_config,
    parse_duration,
)
from gitops_tools.config.schema import KEY_PATH_FIX as _KEY_PATH_FIX  # noqa: F401 - the tests pin the text

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_MUTABLE_TAGS",
    "PROMOTION_ORDER",
    "VALUES_FIELDS",
    "CommitOptions",
    "Config",
    "Environment",
    "ImageOptions",
    "NotifyTarget",
    "Policies",
    "Service",
    "ValuesLocation",
    "default_config",
    "parse_config",
    "parse_duration",
]
