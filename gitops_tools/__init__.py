"""gitops-tools: manage a kustomize GitOps repository without losing an update or a byte.

The public API (semantic versioning applies to it and only to it)::

    from gitops_tools import Repository, Library

    repo = Repository("path/to/gitops")
    repo.set_images("dev", ["aegis/api=*:1.4.3"])        # a commit with Gitops-Change trailers
    repo.status()                                       # the version matrix
    repo.promote("dev", "staging")
    Library("path/to/library").next_version()

Names are loaded when first used: ``import gitops_tools`` loads neither click nor GitPython nor YAML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

__all__ = [
    "Change",
    "ConfigError",
    "ConflictError",
    "Difference",
    "Event",
    "GitopsError",
    "ImageUpdate",
    "InvalidReference",
    "Library",
    "Matrix",
    "MetricsResult",
    "PolicyError",
    "PromoteResult",
    "PublishResult",
    "PropagateResult",
    "ReleaseResult",
    "ReportResult",
    "Repository",
    "RollbackResult",
    "SetResult",
    "TemporaryError",
    "Terminated",
    "UsageError",
    "ValidateResult",
    "YamlError",
    "__version__",
]

# name -> module that defines it
_WHERE = {
    "Repository": "gitops_tools.api",
    "Library": "gitops_tools.api",
    "SetResult": "gitops_tools.commands.imageset",
    "PromoteResult": "gitops_tools.commands.promote",
    "PublishResult": "gitops_tools.commands.publish",
    "PropagateResult": "gitops_tools.commands.propagate",
    "RollbackResult": "gitops_tools.commands.rollback",
    "ReleaseResult": "gitops_tools.commands.release",
    "ValidateResult": "gitops_tools.commands.validate",
    "MetricsResult": "gitops_tools.commands.metrics",
    "ReportResult": "gitops_tools.commands.report",
    "Matrix": "gitops_tools.core.envstate",
    "Difference": "gitops_tools.core.envstate",
    "Event": "gitops_tools.core.history",
    "ImageUpdate": "gitops_tools.core.changes",
    "Change": "gitops_tools.core.changes",
    **{name: "gitops_tools.errors" for name in ("GitopsError", "UsageError", "TemporaryError", "PolicyError",
                                                "ConflictError", "ConfigError", "InvalidReference", "YamlError",
                                                "Terminated")},
}

if TYPE_CHECKING:
    from gitops_tools.api import Library, Repository
    from gitops_tools.commands.imageset import SetResult
    from gitops_tools.commands.metrics import MetricsResult
    from gitops_tools.commands.promote import PromoteResult
    from gitops_tools.commands.publish import PublishResult
    from gitops_tools.commands.propagate import PropagateResult
    from gitops_tools.commands.release import ReleaseResult
    from gitops_tools.commands.report import ReportResult
    from gitops_tools.commands.rollback import RollbackResult
    from gitops_tools.commands.validate import ValidateResult
    from gitops_tools.core.changes import Change, ImageUpdate
    from gitops_tools.core.envstate import Difference, Matrix
    from gitops_tools.core.history import Event
    from gitops_tools.errors import (
        ConfigError,
        ConflictError,
        GitopsError,
        InvalidReference,
        PolicyError,
        Terminated,
        TemporaryError,
        UsageError,
        YamlError,
    )


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'gitops_tools' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
