"""gitops-tools: manage a kustomize GitOps repository without losing an update or a byte."""

from __future__ import annotations

__version__ = "0.2.1"
