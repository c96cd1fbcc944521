"""Policies from gitops-tools.yaml: downgrades and mutable tags.

Pure: values in, a refusal (message) or nothing out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from gitops_tools.config import Config, Environment
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.records import number
from gitops_tools.errors import PolicyError

if TYPE_CHECKING:
    import semver

# MAJOR.MINOR.PATCH and nothing else, as semver writes them (no leading zeros, ASCII digits): most image tags.
# Such versions order as their three numbers do, so they are compared without the semver library (loading it
# and parsing two thousand versions is a tenth of promoting a thousand images); every other tag goes to it.
_PLAIN = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


def _plain(tag: str | None) -> tuple[int, int, int] | None:
    """``1.4.2`` or ``v1.4.2`` as its three numbers; None for anything else (pre-releases and builds included)."""
    if not tag:
        return None
    m = _PLAIN.fullmatch(tag, 1 if tag[:1] in ("v", "V") else 0)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def parse_semver(tag: str | None) -> semver.Version | None:
    """``1.4.2`` or ``v1.4.2`` (pre-release and build parts allowed) as a Version, else None."""
    if not tag:
        return None
    import semver

    text = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def is_semver(tag: str | None) -> bool:
    """Whether :func:`parse_semver` reads ``tag``."""
    return _plain(tag) is not None or parse_semver(tag) is not None


def downgrade(current_tag: str | None, new_tag: str | None) -> str | None:
    """Why ``new_tag`` is a downgrade from ``current_tag`` (both semver), or None when it is not one."""
    plain_old, plain_new = _plain(current_tag), _plain(new_tag)
    if plain_old is not None and plain_new is not None:
        older = plain_new < plain_old
    else:
        old, new = parse_semver(current_tag), parse_semver(new_tag)
        older = old is not None and new is not None and new < old
    return f"{new_tag} is older than {current_tag}" if older else None


class Pipeline(NamedTuple):
    """A GitLab pipeline: the one running now, or the one that set a value (its ``Gitops-Pipeline-*`` trailers)."""

    id: int | None  # CI_PIPELINE_ID: unique and increasing across the GitLab instance
    iid: int | None  # CI_PIPELINE_IID: increasing within one project
    project: str | None  # CI_PROJECT_PATH

    def describe(self) -> str:
        if self.id is not None:
            return f"pipeline {self.id}"
        return f"pipeline #{self.iid} of {self.project or 'its project'}"


def running_pipeline(env: Mapping[str, str]) -> Pipeline | None:
    """The pipeline this run belongs to, from GitLab CI's variables; None outside a pipeline."""
    pipeline = Pipeline(number(env.get("CI_PIPELINE_ID")), number(env.get("CI_PIPELINE_IID")),
                        env.get("CI_PROJECT_PATH") or None)
    return pipeline if pipeline.id is not None or pipeline.iid is not None else None


def needs_pipelines(current_tag: str | None, new_tag: str | None) -> bool:
    """True when semver cannot order the two tags, so the pipelines that made them must."""
    if not current_tag or not new_tag or current_tag == new_tag:
        return False
    return not is_semver(current_tag) or not is_semver(new_tag)


class Ordering(NamedTuple):
    downgrade: str | None = None  # why the new tag is older than the current one: skip it
    undecided: str | None = None  # why nothing could order them: the change lands, and says this


def order(current_tag: str | None, new_tag: str | None, setter: Pipeline | None, running: Pipeline | None,
          setter_unknown: str = "history does not say which pipeline set it") -> Ordering:
    """Is ``new_tag`` older than ``current_tag``? Semver decides where both are semver; otherwise the pipeline
    that set the current tag against the pipeline running now (a pipeline that started earlier and finishes
    late must not roll the environment back); where neither decides, say so."""
    if not needs_pipelines(current_tag, new_tag):
        return Ordering(downgrade(current_tag, new_tag))
    if running is None:
        return Ordering(undecided=f"could not order {new_tag} after {current_tag}: they are not both semver, and "
                                  "this run is not in a GitLab pipeline (no CI_PIPELINE_ID)")
    if setter is None:
        return Ordering(undecided=f"could not order {new_tag} after {current_tag}: they are not both semver, and "
                                  f"{setter_unknown}")
    if setter.id is not None and running.id is not None:
        older = running.id < setter.id
    elif setter.iid is not None and running.iid is not None and setter.project and setter.project == running.project:
        older = running.iid < setter.iid
    else:
        return Ordering(undecided=f"could not order {new_tag} after {current_tag}: they are not both semver, and "
                                  f"{setter.describe()} (which set {current_tag}) and {running.describe()} (this "
                                  "one) cannot be compared")
    if older:
        return Ordering(downgrade=f"{new_tag} comes from {running.describe()}, which is older than "
                                  f"{setter.describe()} that set {current_tag}")
    return Ordering()


def is_mutable(config: Config, tag: str | None, digest: str | None) -> bool:
    """A tag that can point at different images over time (``latest``…), or no tag and no digest at all."""
    if digest:
        return False
    # Tags are case-sensitive, but `Latest` or `LATEST` moves just like `latest`.
    return not tag or tag.lower() in {t.lower() for t in config.policies.mutable_tags}


def check_digest(config: Config, env: Environment, name: str, entry: KustImage, file: str) -> None:
    """Protected environments run images by digest (policy ``require_digest``): a tag alone can be pushed again
    with other contents, and the environment would deploy them."""
    if not (env.protected and config.policies.require_digest) or entry.digest:
        return
    raise PolicyError(
        f"{env.name} is protected and runs images by digest only: {name} has none",
        file=file,
        key=f"images[name={name}].digest",
        fix=(f"set it with the digest the build printed, e.g. image set {env.name} '{name}=*:TAG@sha256:...', or "
             f"promote it from an environment that runs it by digest (policy require_digest in gitops-tools.yaml)"),
    )


def check_mutable(config: Config, env: Environment, name: str, entry: KustImage, file: str) -> None:
    """Protected environments refuse mutable tags (policy ``refuse_mutable_tags``)."""
    if not (env.protected and config.policies.refuse_mutable_tags):
        return
    if is_mutable(config, entry.new_tag, entry.digest):
        shown = entry.new_tag or "no tag"
        raise PolicyError(
            f"{env.name} is protected and refuses the mutable tag {shown!r}",
            file=file,
            key=f"images[name={name}].newTag",
            fix="use an immutable version tag or a digest (policy refuse_mutable_tags in gitops-tools.yaml)",
        )
