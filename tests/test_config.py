"""Tests for gitops_tools.config: the schema, its defaults and every error message, pinned word for word."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops_tools.config import (
    CONFIG_FILE,
    DEFAULT_MUTABLE_TAGS,
    CommitOptions,
    Config,
    Environment,
    ImageOptions,
    Policies,
    ValuesLocation,
    default_config,
    parse_config,
)
from gitops_tools.config import _KEY_PATH_FIX as KEY_PATH_FIX
from gitops_tools.errors import ConfigError, GitopsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

FULL = """\
# The complete schema, every key set to a non-default value.
version: 1
repo_url: https://gitlab.com/aegis/gitops.git
branch: release
environments:
  - name: dev
  - name: staging
    path: ./envs//staging/
  - name: prod
    path: envs/prod
    protected: true
commit:
  author_name: Release Bot
  author_email: bot@example.com
  skip_ci: true
  sign: true
images:
  aegis/api:
    values:
      - file: values.yaml
        key: api.image.tag
      - file: charts/api/values.yaml
        key: containers[0].image
        field: ref
  registry.example.com/team/worker:
    values:
      - {file: values.yaml, key: worker.image.digest, field: digest}
  aegis/ui:
policies:
  allow_downgrade: true
  refuse_mutable_tags: false
  mutable_tags: [latest, snapshot]
  promote_to_next_only: false
  only_from_previous: false
  min_age:
    prod: 36h
"""

FULL_EXPECTED = Config(
    repo_url="https://gitlab.com/aegis/gitops.git",
    environments=(
        Environment(name="dev", path="environments/dev", protected=False),
        Environment(name="staging", path="envs/staging", protected=False),
        Environment(name="prod", path="envs/prod", protected=True),
    ),
    branch="release",
    commit=CommitOptions(author_name="Release Bot", author_email="bot@example.com", skip_ci=True, sign=True),
    images=(
        ImageOptions(
            name="aegis/api",
            values=(
                ValuesLocation(file="values.yaml", key="api.image.tag", field="tag"),
                ValuesLocation(file="charts/api/values.yaml", key="containers[0].image", field="ref"),
            ),
        ),
        ImageOptions(
            name="registry.example.com/team/worker",
            values=(ValuesLocation(file="values.yaml", key="worker.image.digest", field="digest"),),
        ),
        ImageOptions(name="aegis/ui", values=()),
    ),
    policies=Policies(
        allow_downgrade=True,
        refuse_mutable_tags=False,
        mutable_tags=("latest", "snapshot"),
        promote_to_next_only=False,
        only_from_previous=False,
        min_age=(("prod", "36h"),),
    ),
    source="gitops-tools.yaml",
)

DEV_STAGING_PROD = (
    Environment("dev", "environments/dev"),
    Environment("staging", "environments/staging"),
    Environment("prod", "environments/prod"),
)


def test_full_file_parses_to_the_exact_config() -> None:
    assert parse_config(FULL) == FULL_EXPECTED


def test_values_are_plain_frozen_python_types() -> None:
    config = parse_config(FULL)
    assert type(config.branch) is str
    assert all(type(env.name) is str and type(env.protected) is bool for env in config.environments)
    assert type(config.policies.mutable_tags) is tuple
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.branch = "x"  # type: ignore[misc]
    hash(config)  # frozen all the way down, so usable as a cache key


def test_source_is_the_filename_given() -> None:
    assert parse_config("environments: [{name: dev}]\n", "conf/gitops.yaml").source == "conf/gitops.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "environments:\n  - name: dev\n",
            Config(environments=(Environment("dev", "environments/dev"),), source=CONFIG_FILE),
            id="minimal",
        ),
        pytest.param(
            "environments: [{name: dev}, {name: prod}]\ncommit:\npolicies:\nimages:\n",
            Config(
                environments=(Environment("dev", "environments/dev"), Environment("prod", "environments/prod")),
                source=CONFIG_FILE,
            ),
            id="empty-sections-are-defaults",
        ),
        pytest.param(
            "environments: [{name: dev}]\ncommit: {author_name: , author_email: }\n",
            Config(environments=(Environment("dev", "environments/dev"),), source=CONFIG_FILE),
            id="empty-author-is-none",
        ),
        pytest.param(
            "environments: [{name: dev}]\npolicies: {mutable_tags: []}\n",
            Config(
                environments=(Environment("dev", "environments/dev"),),
                policies=Policies(mutable_tags=()),
                source=CONFIG_FILE,
            ),
            id="no-mutable-tags",
        ),
        pytest.param(
            "environments: [{name: dev}]\nimages:\n  aegis/api:\n    values:\n",
            Config(
                environments=(Environment("dev", "environments/dev"),),
                images=(ImageOptions("aegis/api"),),
                source=CONFIG_FILE,
            ),
            id="image-without-values",
        ),
        pytest.param(
            "environments: [{name: dev, protected: !!bool true}]\nbranch: !!str 2024\n",
            Config(
                environments=(Environment("dev", "environments/dev", protected=True),),
                branch="2024",
                source=CONFIG_FILE,
            ),
            id="explicit-core-tags",
        ),
        pytest.param(
            "environments:\n  - name: prod\n    protected: &t true\n",
            Config(environments=(Environment("prod", "environments/prod", protected=True),), source=CONFIG_FILE),
            id="anchored-boolean",
        ),
        pytest.param(
            "\ufeffenvironments: [{name: dev}]\r\nbranch: main\r\n",
            Config(environments=(Environment("dev", "environments/dev"),), source=CONFIG_FILE),
            id="bom-and-crlf",
        ),
    ],
)
def test_defaults_for_omitted_keys(text: str, expected: Config) -> None:
    assert parse_config(text) == expected


def test_defaults_of_the_dataclasses() -> None:
    config = parse_config("environments: [{name: prod}]\n")
    assert config.branch == "main"
    assert config.environments == (Environment("prod", "environments/prod", protected=False),)
    assert config.commit == CommitOptions(None, None, skip_ci=False, sign=False)
    assert config.images == ()
    assert config.policies == Policies(
        allow_downgrade=False,
        refuse_mutable_tags=True,
        mutable_tags=("latest", "main", "master", "develop", "dev", "stable", "edge", "nightly"),
        promote_to_next_only=True,
    )
    assert DEFAULT_MUTABLE_TAGS == config.policies.mutable_tags
    assert ValuesLocation("v.yaml", "a.b").field == "tag"


ENVS = "environments: [{name: dev}]\n"
TWO_ENVS = "environments: [{name: dev}, {name: prod, protected: true}]\n"
IMG = ENVS + "images:\n  aegis/api:\n    values:\n      - file: values.yaml\n"

# (id, text, problem, fix, line, column, key)
ERRORS = [
    # --- the file as a whole
    ("empty", "", "the file is empty", "delete it to use the defaults or list the environments", 1, None, None),
    (
        "comments-only",
        "# nothing yet\n\n# really\n",
        "the file is empty",
        "delete it to use the defaults or list the environments",
        1,
        None,
        None,
    ),
    (
        "bare-document-marker",
        "---\n",
        "the file is empty",
        "delete it to use the defaults or list the environments",
        1,
        None,
        None,
    ),
    (
        "null-document",
        "~\n",
        "expected a mapping at the top of the file, got an empty value (null)",
        'write "key: value" lines, starting with "environments:"',
        1,
        1,
        None,
    ),
    (
        "top-level-list",
        "- name: dev\n",
        "expected a mapping at the top of the file, got a list",
        'write "key: value" lines, starting with "environments:"',
        1,
        1,
        None,
    ),
    (
        "invalid-yaml",
        "environments: [{name: dev}\n",
        "invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence started on line 1)",
        "fix the YAML syntax at this position (check indentation, quotes, brackets and colons)",
        2,
        1,
        None,
    ),
    (
        "mapping-in-scalar",
        "environments: [{name: dev}]\nbranch: a: b\n",
        "invalid YAML: mapping values are not allowed here",
        "fix the YAML syntax at this position (check indentation, quotes, brackets and colons)",
        2,
        10,
        None,
    ),
    (
        "tab-indentation",
        "environments:\n\t- name: dev\n",
        "invalid YAML: found character '\\t' that cannot start any token (while scanning for the next token)",
        "indent with spaces; YAML does not allow tabs for indentation",
        2,
        1,
        None,
    ),
    (
        "two-documents",
        ENVS + "---\n" + ENVS,
        "invalid YAML: the file holds more than one document",
        'keep a single document: remove the second "---" and what follows, or merge the two',
        2,
        1,
        None,
    ),
    (
        "undefined-alias",
        "environments: *envs\n",
        "invalid YAML: found undefined alias 'envs'",
        "define the anchor (&name) before using the alias (*name), or write the value out",
        1,
        15,
        None,
    ),
    (
        "yaml-1.1",
        "%YAML 1.1\n---\n" + ENVS,
        "YAML version 1.1 is not supported",
        'delete the "%YAML 1.1" line; this file is read as YAML 1.2',
        1,
        1,
        None,
    ),
    (
        "invalid-date",
        ENVS + "branch: 2024-13-45\n",
        'invalid date "2024-13-45": month must be in 1..12',
        'quote it if it is not meant as a date: "2024-13-45"',
        2,
        9,
        None,
    ),
    # --- duplicate keys
    (
        "duplicate-top-level-key",
        ENVS + "branch: main\nbranch: prod\n",
        'duplicate key "branch"',
        'keep one "branch" entry (the first is on line 2); a repeated key would silently override the first',
        3,
        1,
        "branch",
    ),
    (
        "duplicate-nested-key",
        "environments:\n  - name: dev\n  - name: prod\n    protected: true\n    protected: false\n",
        'duplicate key "protected"',
        'keep one "protected" entry (the first is on line 4); a repeated key would silently override the first',
        5,
        5,
        "environments[1].protected",
    ),
    (
        "duplicate-image",
        ENVS + "images:\n  aegis/api:\n  aegis/api:\n",
        'duplicate key "aegis/api"',
        'keep one "aegis/api" entry (the first is on line 3); a repeated key would silently override the first',
        4,
        3,
        "images.aegis/api",
    ),
    # --- unknown keys
    (
        "unknown-top-level-key",
        "environmnets: [{name: dev}]\n",
        'unknown key "environmnets"',
        'did you mean "environments"? keys allowed here: version, repo_url, branch, environments, commit, images, policies, notify, services',
        1,
        1,
        "environmnets",
    ),
    (
        "unknown-top-level-key-no-match",
        ENVS + "colour: blue\n",
        'unknown key "colour"',
        "keys allowed here: version, repo_url, branch, environments, commit, images, policies, notify, services",
        2,
        1,
        "colour",
    ),
    (
        "nested-key-at-top-level",
        ENVS + "mutable_tags: [latest]\n",
        'unknown key "mutable_tags"',
        '"mutable_tags" belongs under "policies:"; '
        "keys allowed here: version, repo_url, branch, environments, commit, images, policies, notify, services",
        2,
        1,
        "mutable_tags",
    ),
    (
        "unknown-environment-key",
        "environments:\n  - name: dev\n    protectd: true\n",
        'unknown key "protectd"',
        'did you mean "protected"? keys allowed here: name, path, protected',
        3,
        5,
        "environments[0].protectd",
    ),
    (
        "unknown-commit-key",
        ENVS + "commit:\n  skip-ci: true\n",
        'unknown key "skip-ci"',
        'did you mean "skip_ci"? keys allowed here: author_name, author_email, skip_ci, sign, batch_window',
        3,
        3,
        "commit.skip-ci",
    ),
    (
        "unknown-image-key",
        ENVS + "images:\n  aegis/api:\n    value: []\n",
        'unknown key "value"',
        'did you mean "values"? keys allowed here: values',
        4,
        5,
        "images.aegis/api.value",
    ),
    (
        "unknown-values-key",
        IMG + "        key: a.tag\n        feild: tag\n",
        'unknown key "feild"',
        'did you mean "field"? keys allowed here: file, key, field',
        7,
        9,
        "images.aegis/api.values[0].feild",
    ),
    (
        "unknown-policy-key",
        ENVS + "policies:\n  allow_downgrades: true\n",
        'unknown key "allow_downgrades"',
        'did you mean "allow_downgrade"? '
        "keys allowed here: allow_downgrade, refuse_mutable_tags, mutable_tags, promote_to_next_only, "
        "only_from_previous, require_digest, min_age",
        3,
        3,
        "policies.allow_downgrades",
    ),
    (
        "non-string-key",
        ENVS + "1: x\n",
        'unknown key "1"',
        "keys allowed here: version, repo_url, branch, environments, commit, images, policies, notify, services",
        2,
        1,
        "1",
    ),
    # --- wrong types
    (
        "yes-is-not-a-boolean",
        "environments:\n  - name: prod\n    protected: yes\n",
        'expected a boolean (true or false), got the string "yes"',
        "write true or false",
        3,
        16,
        "environments[0].protected",
    ),
    (
        "quoted-true-is-not-a-boolean",
        ENVS + "commit: {sign: 'true'}\n",
        'expected a boolean (true or false), got the string "true"',
        "write true or false",
        2,
        16,
        "commit.sign",
    ),
    (
        "one-is-not-a-boolean",
        ENVS + "policies:\n  allow_downgrade: 1\n",
        "expected a boolean (true or false), got the integer 1",
        "write true or false",
        3,
        20,
        "policies.allow_downgrade",
    ),
    (
        "empty-boolean",
        "environments:\n  - name: dev\n    protected:\n",
        "expected a boolean (true or false), got an empty value (null)",
        "write true or false",
        3,
        5,
        "environments[0].protected",
    ),
    (
        "number-as-string",
        "environments:\n  - name: 18\n",
        "expected a string, got the integer 18",
        'quote it: "18"',
        2,
        11,
        "environments[0].name",
    ),
    (
        "float-as-string",
        ENVS + "branch: 1.10\n",
        "expected a string, got the number 1.1",
        'quote it: "1.10"',
        2,
        9,
        "branch",
    ),
    (
        "hex-as-string",
        ENVS + "branch: 0x1F  # comment\n",
        "expected a string, got the integer 31",
        'quote it: "0x1F"',
        2,
        9,
        "branch",
    ),
    (
        "date-as-string",
        ENVS + "branch: 2024-06-01\n",
        "expected a string, got the date 2024-06-01",
        'quote it: "2024-06-01"',
        2,
        9,
        "branch",
    ),
    (
        "boolean-as-string",
        ENVS + "commit:\n  author_name: true\n",
        "expected a string, got the boolean true",
        'quote it: "true"',
        3,
        16,
        "commit.author_name",
    ),
    (
        "list-as-string",
        ENVS + "branch: [main]\n",
        "expected a string, got a list",
        'write a single string after "branch:"',
        2,
        9,
        "branch",
    ),
    (
        "empty-required-string",
        "environments:\n  - name:\n",
        "expected a string, got an empty value (null)",
        'write a value after "name:"',
        2,
        5,
        "environments[0].name",
    ),
    (
        "empty-branch",
        ENVS + "branch:\n",
        "expected a string, got an empty value (null)",
        'write a value after "branch:"',
        2,
        1,
        "branch",
    ),
    (
        "custom-tag",
        ENVS + "branch: !env BRANCH\n",
        "expected a string, got a value tagged !env",
        'write a single string after "branch:"',
        2,
        9,
        "branch",
    ),
    (
        "version-as-string",
        'version: "1"\n' + ENVS,
        'expected an integer, got the string "1"',
        "remove the quotes: 1",
        1,
        10,
        "version",
    ),
    (
        "version-as-float",
        "version: 1.0\n" + ENVS,
        "expected an integer, got the number 1.0",
        "write a whole number such as 1",
        1,
        10,
        "version",
    ),
    (
        "version-boolean",
        "version: true\n" + ENVS,
        "expected an integer, got the boolean true",
        "write a whole number such as 1",
        1,
        10,
        "version",
    ),
    (
        "environments-not-a-list",
        "environments: dev\n",
        'expected a list, got the string "dev"',
        'write one "- item" per line below the key, or [a, b] on one line',
        1,
        15,
        "environments",
    ),
    (
        "environment-entry-is-a-name",
        "environments:\n  - dev\n",
        'expected a mapping, got the string "dev"',
        'write "- name: dev"',
        2,
        5,
        "environments[0]",
    ),
    (
        "environment-entry-is-a-number",
        "environments:\n  - 3\n",
        "expected a mapping, got the integer 3",
        'write each entry as "- name: <environment>" with optional "path:" and "protected:"',
        2,
        5,
        "environments[0]",
    ),
    (
        "commit-not-a-mapping",
        ENVS + "commit: true\n",
        "expected a mapping, got the boolean true",
        'write "key: value" lines indented below "commit:"',
        2,
        9,
        "commit",
    ),
    (
        "image-options-not-a-mapping",
        ENVS + "images:\n  aegis/api: values.yaml\n",
        'expected a mapping, got the string "values.yaml"',
        'write "values:" indented below "aegis/api:"',
        3,
        14,
        "images.aegis/api",
    ),
    (
        "values-entry-not-a-mapping",
        ENVS + "images:\n  aegis/api:\n    values: [values.yaml]\n",
        'expected a mapping, got the string "values.yaml"',
        'write each entry as "- file: values.yaml" with "key:" (and optionally "field:") below',
        4,
        14,
        "images.aegis/api.values[0]",
    ),
    (
        "mutable-tags-not-a-list",
        ENVS + "policies:\n  mutable_tags: latest\n",
        'expected a list, got the string "latest"',
        'write one "- item" per line below the key, or [a, b] on one line',
        3,
        17,
        "policies.mutable_tags",
    ),
    (
        "mutable-tags-empty-value",
        ENVS + "policies:\n  mutable_tags:\n",
        "expected a list, got an empty value (null)",
        "write [] for no mutable tags, or delete the key to use the defaults",
        3,
        3,
        "policies.mutable_tags",
    ),
    (
        "mutable-tag-number",
        ENVS + "policies:\n  mutable_tags: [latest, 1.0]\n",
        "expected a string, got the number 1.0",
        'quote it: "1.0"',
        3,
        26,
        "policies.mutable_tags[1]",
    ),
    # --- missing and bad values
    (
        "missing-environments",
        "branch: main\n",
        'missing required key "environments"',
        'add the environments in promotion order, e.g. "environments: [{name: dev}, {name: prod, protected: true}]"',
        1,
        1,
        "environments",
    ),
    (
        "empty-environments",
        "environments: []\n",
        "the environment list is empty",
        'list at least one environment, in promotion order, e.g. "- name: dev"',
        1,
        15,
        "environments",
    ),
    (
        "null-environments",
        "environments:\n",
        "the environment list is empty",
        'list at least one environment, in promotion order, e.g. "- name: dev"',
        1,
        1,
        "environments",
    ),
    (
        "missing-name",
        "environments:\n  - name: dev\n  - path: environments/qa\n",
        'missing required key "name"',
        'add the environment name, e.g. "name: dev"',
        3,
        5,
        "environments[1]",
    ),
    (
        "invalid-name",
        "environments:\n  - name: Dev\n",
        'invalid environment name "Dev"',
        'use lowercase letters, digits and "-", starting and ending with a letter or digit, e.g. "dev" or "prod-eu"',
        2,
        11,
        "environments[0].name",
    ),
    (
        "name-ends-with-dash",
        "environments:\n  - name: prod-\n",
        'invalid environment name "prod-"',
        'use lowercase letters, digits and "-", starting and ending with a letter or digit, e.g. "dev" or "prod-eu"',
        2,
        11,
        "environments[0].name",
    ),
    (
        "duplicate-environment-name",
        "environments:\n  - name: dev\n  - name: prod\n  - name: dev\n",
        'duplicate environment name "dev"',
        'environment names must be unique; environments[0] (line 2) is already "dev"',
        4,
        11,
        "environments[2].name",
    ),
    (
        "duplicate-environment-path",
        "environments:\n  - name: dev\n    path: envs/dev\n  - name: qa\n    path: ./envs/dev/\n",
        'duplicate environment path "envs/dev"',
        'each environment needs its own directory; environments[0] ("dev", line 3) already uses it',
        5,
        11,
        "environments[1].path",
    ),
    (
        "explicit-path-collides-with-default",
        "environments:\n  - name: dev\n  - name: qa\n    path: environments/dev\n",
        'duplicate environment path "environments/dev"',
        'each environment needs its own directory; environments[0] ("dev", line 2) already uses it',
        4,
        11,
        "environments[1].path",
    ),
    (
        "environment-path-dotdot",
        "environments:\n  - name: dev\n    path: environments/../../dev\n",
        'path "environments/../../dev" contains ".."',
        'write it relative to the repository root, e.g. "environments/dev", without ".."',
        3,
        11,
        "environments[0].path",
    ),
    (
        "environment-path-absolute",
        "environments:\n  - name: dev\n    path: /srv/environments/dev\n",
        'path "/srv/environments/dev" is absolute',
        'write it relative to the repository root, e.g. "environments/dev"',
        3,
        11,
        "environments[0].path",
    ),
    (
        "environment-path-windows-absolute",
        "environments:\n  - name: dev\n    path: 'C:/envs/dev'\n",
        'path "C:/envs/dev" is absolute',
        'write it relative to the repository root, e.g. "environments/dev"',
        3,
        11,
        "environments[0].path",
    ),
    (
        "environment-path-backslash",
        "environments:\n  - name: dev\n    path: envs\\dev\n",
        'path "envs\\\\dev" contains a backslash',
        'separate directories with "/"',
        3,
        11,
        "environments[0].path",
    ),
    (
        "environment-path-root",
        "environments:\n  - name: dev\n    path: ./\n",
        'path "./" names the repository root',
        'write it relative to the repository root, e.g. "environments/dev"',
        3,
        11,
        "environments[0].path",
    ),
    (
        "environment-path-empty-string",
        "environments:\n  - name: dev\n    path: ''\n",
        "the path is empty",
        'write it relative to the repository root, e.g. "environments/dev"',
        3,
        11,
        "environments[0].path",
    ),
    (
        "environment-path-null",
        "environments:\n  - name: dev\n    path:\n",
        "expected a string, got an empty value (null)",
        'write a value after "path:"',
        3,
        5,
        "environments[0].path",
    ),
    (
        "unknown-version",
        "version: 2\n" + ENVS,
        "unknown config version 2",
        'this gitops-tools reads version 1 only: write "version: 1" or upgrade gitops-tools',
        1,
        10,
        "version",
    ),
    (
        "branch-with-space",
        ENVS + "branch: release candidate\n",
        'invalid branch name "release candidate": it contains a space or a control character',
        'write a git branch name such as "main" (see git check-ref-format)',
        2,
        9,
        "branch",
    ),
    (
        "branch-with-dotdot",
        ENVS + "branch: a..b\n",
        'invalid branch name "a..b": it contains ".."',
        'write a git branch name such as "main" (see git check-ref-format)',
        2,
        9,
        "branch",
    ),
    (
        "branch-lock",
        ENVS + "branch: main.lock\n",
        'invalid branch name "main.lock": a part ends with ".lock"',
        'write a git branch name such as "main" (see git check-ref-format)',
        2,
        9,
        "branch",
    ),
    (
        "branch-empty-string",
        ENVS + "branch: ''\n",
        'invalid branch name "": it is empty',
        'write a git branch name such as "main" (see git check-ref-format)',
        2,
        9,
        "branch",
    ),
    (
        "author-email-without-at",
        ENVS + "commit:\n  author_email: bot.example.com\n",
        'invalid e-mail address "bot.example.com": it has no "@"',
        "write an address like gitops-tools@example.com",
        3,
        17,
        "commit.author_email",
    ),
    (
        "author-email-with-brackets",
        ENVS + "commit:\n  author_email: <bot@example.com>\n",
        'invalid e-mail address "<bot@example.com>": it contains "<" or ">"',
        "write an address like gitops-tools@example.com",
        3,
        17,
        "commit.author_email",
    ),
    (
        "author-name-empty-string",
        ENVS + 'commit:\n  author_name: "  "\n',
        "the author name is empty",
        "write a name, or delete the key to take it from git or the CI environment",
        3,
        16,
        "commit.author_name",
    ),
    (
        "author-name-with-brackets",
        ENVS + "commit:\n  author_name: Bot <bot@example.com>\n",
        'invalid author name "Bot <bot@example.com>"',
        'write the name without "<", ">" or control characters',
        3,
        16,
        "commit.author_name",
    ),
    (
        "image-name-with-space",
        ENVS + "images:\n  'aegis api':\n",
        'invalid image name "aegis api"',
        "write the image name as in the kustomization's images[].name, without spaces, "
        'e.g. "registry.example.com/team/app"',
        3,
        3,
        "images.aegis api",
    ),
    (
        "image-name-empty",
        ENVS + "images:\n  '': {}\n",
        'invalid image name ""',
        "write the image name as in the kustomization's images[].name, without spaces, "
        'e.g. "registry.example.com/team/app"',
        3,
        3,
        "images.",
    ),
    (
        "image-name-number",
        ENVS + "images:\n  42:\n",
        "expected an image name (a string) as the key, got the integer 42",
        'quote it: "42"',
        3,
        3,
        "images.42",
    ),
    (
        "images-not-a-mapping",
        ENVS + "images: [aegis/api]\n",
        "expected a mapping, got a list",
        'write "key: value" lines indented below "images:"',
        2,
        9,
        "images",
    ),
    (
        "values-missing-file",
        ENVS + "images:\n  aegis/api:\n    values:\n      - key: a.tag\n",
        'missing required key "file"',
        'add the values file, e.g. "file: values.yaml"',
        5,
        9,
        "images.aegis/api.values[0]",
    ),
    (
        "values-missing-key",
        IMG,
        'missing required key "key"',
        'add the key path of the value, e.g. "key: api.image.tag"',
        5,
        9,
        "images.aegis/api.values[0]",
    ),
    (
        "values-file-dotdot",
        ENVS + "images:\n  aegis/api:\n    values:\n      - file: ../shared/values.yaml\n        key: a.tag\n",
        'path "../shared/values.yaml" contains ".."',
        "write it relative to each environment's directory, e.g. \"values.yaml\", without \"..\"",
        5,
        15,
        "images.aegis/api.values[0].file",
    ),
    (
        "values-file-absolute",
        ENVS + "images:\n  aegis/api:\n    values:\n      - file: /etc/values.yaml\n        key: a.tag\n",
        'path "/etc/values.yaml" is absolute',
        "write it relative to each environment's directory, e.g. \"values.yaml\"",
        5,
        15,
        "images.aegis/api.values[0].file",
    ),
    (
        "values-file-is-the-directory",
        ENVS + "images:\n  aegis/api:\n    values:\n      - file: .\n        key: a.tag\n",
        "path \".\" names the environment's directory itself, not a file",
        "write it relative to each environment's directory, e.g. \"values.yaml\"",
        5,
        15,
        "images.aegis/api.values[0].file",
    ),
    (
        "values-key-empty-segment",
        IMG + "        key: api..tag\n",
        "invalid key path 'api..tag' at character 5: empty segment",
        KEY_PATH_FIX,
        6,
        14,
        "images.aegis/api.values[0].key",
    ),
    (
        "values-key-trailing-dot",
        IMG + "        key: api.image.\n",
        "invalid key path 'api.image.' at character 11: path ends with '.'",
        KEY_PATH_FIX,
        6,
        14,
        "images.aegis/api.values[0].key",
    ),
    (
        "values-key-bad-index",
        IMG + "        key: containers[first].image\n",
        "invalid key path 'containers[first].image' at character 11: expected [N], [field=value] or [\"key\"]",
        KEY_PATH_FIX,
        6,
        14,
        "images.aegis/api.values[0].key",
    ),
    (
        "values-key-unclosed-index",
        IMG + "        key: containers[0.image\n",
        "invalid key path 'containers[0.image' at character 11: expected [N], [field=value] or [\"key\"]",
        KEY_PATH_FIX,
        6,
        14,
        "images.aegis/api.values[0].key",
    ),
    (
        "values-key-text-after-index",
        IMG + "        key: containers[0]x.image\n",
        "invalid key path 'containers[0]x.image' at character 14: expected '.' or '[' before a key",
        KEY_PATH_FIX,
        6,
        14,
        "images.aegis/api.values[0].key",
    ),
    (
        "values-key-empty",
        IMG + "        key: ''\n",
        "the key path is empty",
        KEY_PATH_FIX,
        6,
        14,
        "images.aegis/api.values[0].key",
    ),
    (
        "values-field-unknown-close",
        IMG + "        key: a.tag\n        field: tags\n",
        'unknown field "tags"',
        'did you mean "tag"? values allowed here: tag, name, ref, digest, tag@digest',
        7,
        16,
        "images.aegis/api.values[0].field",
    ),
    (
        "values-field-unknown",
        IMG + "        key: a.tag\n        field: version\n",
        'unknown field "version"',
        "values allowed here: tag, name, ref, digest, tag@digest",
        7,
        16,
        "images.aegis/api.values[0].field",
    ),
    (
        "values-location-twice",
        ENVS + "images:\n"
        "  aegis/api:\n    values: [{file: values.yaml, key: image.tag}]\n"
        "  aegis/ui:\n    values: [{file: ./values.yaml, key: image.tag, field: digest}]\n",
        '"values.yaml" key "image.tag" is listed twice',
        "images.aegis/api.values[0] (line 4) already writes it; a value can move with one image only",
        6,
        41,
        "images.aegis/ui.values[0].key",
    ),
    (
        "min-age-unknown-environment",
        TWO_ENVS + "policies:\n  min_age:\n    prdo: 1d\n",
        'unknown environment "prdo"',
        'did you mean "prod"? environments: dev, prod',
        4,
        5,
        "policies.min_age.prdo",
    ),
    (
        "min-age-without-unit",
        TWO_ENVS + "policies:\n  min_age:\n    prod: 24\n",
        "expected a duration such as 1d, got the integer 24",
        "write a number and a unit: 30m, 2h, 1d",
        4,
        11,
        "policies.min_age.prod",
    ),
    (
        "min-age-unknown-unit",
        TWO_ENVS + "policies:\n  min_age:\n    prod: 2w\n",
        'invalid duration "2w"',
        "write a number and a unit: 30m, 2h, 1d",
        4,
        11,
        "policies.min_age.prod",
    ),
    (
        "only-from-previous-not-bool",
        ENVS + "policies:\n  only_from_previous: yes\n",
        'expected a boolean (true or false), got the string "yes"',
        "write true or false",
        3,
        23,
        "policies.only_from_previous",
    ),
    (
        "invalid-mutable-tag",
        ENVS + "policies:\n  mutable_tags: [latest, -rc]\n",
        'invalid tag "-rc"',
        'a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"',
        3,
        26,
        "policies.mutable_tags[1]",
    ),
]


@pytest.mark.parametrize(
    ("text", "problem", "fix", "line", "column", "key"),
    [pytest.param(*case[1:], id=case[0]) for case in ERRORS],
)
def test_errors(text: str, problem: str, fix: str, line: int | None, column: int | None, key: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "repo/gitops-tools.yaml")
    error = info.value
    assert (error.problem, error.fix, error.line, error.column, error.key) == (problem, fix, line, column, key)
    assert error.file == "repo/gitops-tools.yaml"


def test_error_ids_are_unique() -> None:
    ids = [case[0] for case in ERRORS]
    assert len(ids) == len(set(ids))


def test_error_renders_location_key_problem_and_hint() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("environments:\n  - name: dev\n    protectd: true\n")
    assert str(info.value) == (
        'gitops-tools.yaml:3:5: environments[0].protectd: unknown key "protectd"\n'
        'hint: did you mean "protected"? keys allowed here: name, path, protected'
    )


def test_parser_state_does_not_leak_between_calls() -> None:
    """A refused "%YAML 1.1" file must not make the next file read as YAML 1.1 (``yes`` as a boolean)."""
    with pytest.raises(ConfigError):
        parse_config("%YAML 1.1\n---\nenvironments: [{name: dev}]\n")
    with pytest.raises(ConfigError, match='got the string "yes"'):
        parse_config("environments: [{name: dev, protected: yes}]\n")


def test_merge_keys_are_checked_like_written_keys() -> None:
    text = "environments: [{name: dev}]\ncommit:\n  <<: {skip_ci: true}\n  sign: true\n"
    assert parse_config(text).commit == CommitOptions(skip_ci=True, sign=True)
    with pytest.raises(ConfigError) as info:
        parse_config("environments: [{name: dev}]\ncommit:\n  <<: {skip_ci: yes}\n")
    assert (info.value.key, info.value.line, info.value.problem) == (
        "commit.skip_ci",
        3,
        'expected a boolean (true or false), got the string "yes"',
    )


# ---------------------------------------------------------------------------------------------------------------
# Config methods


def test_environment_lookup() -> None:
    config = Config(environments=DEV_STAGING_PROD, source="gitops-tools.yaml")
    assert config.environment("staging") == DEV_STAGING_PROD[1]
    assert config.find_environment("staging") == DEV_STAGING_PROD[1]
    assert config.find_environment("qa") is None


def test_unknown_environment_error() -> None:
    config = Config(environments=DEV_STAGING_PROD, source="gitops-tools.yaml")
    with pytest.raises(GitopsError) as info:
        config.environment("qa")
    error = info.value
    assert not isinstance(error, ConfigError)
    assert (error.problem, error.fix, error.file, error.line, error.column, error.key) == (
        'unknown environment "qa"',
        "known environments: dev, staging, prod",
        "gitops-tools.yaml",
        None,
        None,
        None,
    )
    assert str(error) == 'gitops-tools.yaml: unknown environment "qa"\nhint: known environments: dev, staging, prod'


def test_unknown_environment_suggests_a_close_name() -> None:
    with pytest.raises(GitopsError) as info:
        Config(environments=DEV_STAGING_PROD).environment("prd")
    assert info.value.fix == 'did you mean "prod"? known environments: dev, staging, prod'
    assert info.value.file is None


def test_unknown_environment_without_environments() -> None:
    with pytest.raises(GitopsError) as info:
        Config(environments=()).environment("dev")
    assert info.value.fix == (
        "no environments are configured: create directories under environments/ or list them in gitops-tools.yaml"
    )


def test_next_and_previous_environment() -> None:
    config = Config(environments=DEV_STAGING_PROD)
    assert config.next_environment("dev") == DEV_STAGING_PROD[1]
    assert config.next_environment("staging") == DEV_STAGING_PROD[2]
    assert config.next_environment("prod") is None
    assert config.previous_environment("prod") == DEV_STAGING_PROD[1]
    assert config.previous_environment("dev") is None
    with pytest.raises(GitopsError, match='unknown environment "qa"'):
        config.next_environment("qa")
    with pytest.raises(GitopsError, match='unknown environment "qa"'):
        config.previous_environment("qa")


def test_image_options() -> None:
    config = parse_config(FULL)
    assert config.image_options("aegis/api") == FULL_EXPECTED.images[0]
    assert config.image_options("aegis/other") == ImageOptions(name="aegis/other", values=())


# ---------------------------------------------------------------------------------------------------------------
# default_config


@pytest.mark.parametrize(
    ("dirs", "names"),
    [
        pytest.param([], [], id="nothing"),
        pytest.param(["prod", "dev", "staging"], ["dev", "staging", "prod"], id="classic"),
        pytest.param(
            ["production", "preprod", "staging", "stage", "uat", "qa", "test", "development", "dev", "prod"],
            ["dev", "development", "test", "qa", "uat", "stage", "staging", "preprod", "prod", "production"],
            id="every-known-name",
        ),
        pytest.param(
            ["prod", "sandbox", "dev", "perf", "uat", "stage"],
            ["dev", "uat", "perf", "sandbox", "stage", "prod"],
            id="unknown-names-between-uat-and-stage",
        ),
        pytest.param(["zeta", "alpha"], ["alpha", "zeta"], id="only-unknown-names"),
        pytest.param(
            ["dev", ".git", "Prod", "prod-", "_tmp", "qa", "dev", "eu west"],
            ["dev", "qa"],
            id="invalid-and-duplicate-names-ignored",
        ),
    ],
)
def test_default_config_order(dirs: list[str], names: list[str]) -> None:
    config = default_config(dirs)
    assert [env.name for env in config.environments] == names
    assert all(env.path == f"environments/{env.name}" for env in config.environments)
    assert config.source is None


def test_default_config_protects_prod_and_production_only() -> None:
    config = default_config(["dev", "staging", "prod", "production", "prod-eu"])
    assert {env.name for env in config.environments if env.protected} == {"prod", "production"}


def test_default_config_values() -> None:
    assert default_config(iter(["prod", "dev"])) == Config(
        environments=(
            Environment("dev", "environments/dev", protected=False),
            Environment("prod", "environments/prod", protected=True),
        ),
        source=None,
    )
    assert default_config([]) == Config(environments=())


@given(st.lists(st.sampled_from(["dev", "qa", "uat", "perf", "sandbox", "stage", "prod", "production", "X"])))
def test_default_config_does_not_depend_on_listing_order(dirs: list[str]) -> None:
    assert default_config(dirs) == default_config(sorted(dirs)) == default_config(reversed(dirs))


# ---------------------------------------------------------------------------------------------------------------
# key paths


# ---------------------------------------------------------------------------------------------------------------
# start-up cost


def test_import_does_not_import_ruamel() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, gitops_tools.config; print('ruamel' in sys.modules)"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_module_docstring_documents_every_key() -> None:
    import gitops_tools.config as module

    doc = textwrap.dedent(module.__doc__ or "")
    for key in (
        "version:",
        "branch:",
        "environments:",
        "name:",
        "path:",
        "protected:",
        "commit:",
        "author_name:",
        "author_email:",
        "skip_ci:",
        "sign:",
        "images:",
        "values:",
        "file:",
        "key:",
        "field:",
        "policies:",
        "allow_downgrade:",
        "refuse_mutable_tags:",
        "mutable_tags:",
        "promote_to_next_only:",
        "only_from_previous:",
        "min_age:",
    ):
        assert key in doc
