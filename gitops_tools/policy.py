"""Policies from gitops-tools.yaml: downgrades and mutable tags.

Pure: values in, a refusal (message) or nothing out.
"""

from __future__ import annotations

import semver

from gitops_tools.config import Config, Environment
from gitops_tools.errors import PolicyError
from gitops_tools.kustomize import KustImage


def parse_semver(tag: str | None) -> semver.Version | None:
    """``1.4.2`` or ``v1.4.2`` (pre-release and build parts allowed) as a Version, else None."""
    if not tag:
        return None
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def downgrade(current_tag: str | None, new_tag: str | None) -> str | None:
    """Why ``new_tag`` is a downgrade from ``current_tag`` (both semver), or None when it is not one."""
    old, new = parse_semver(current_tag), parse_semver(new_tag)
    if old is None or new is None or new >= old:
        return None
    return f"{new_tag} is older than {current_tag}"


def is_mutable(config: Config, tag: str | None, digest: str | None) -> bool:
    """A tag that can point at different images over time (``latest``…), or no tag and no digest at all."""
    if digest:
        return False
    return not tag or tag in config.policies.mutable_tags


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
