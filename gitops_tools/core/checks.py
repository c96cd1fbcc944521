"""What `kubectl kustomize` silently accepts, and `gitops-tools validate` reports (DESIGN §3.9).

Each check takes plain values (rendered objects as dicts, kustomization entries, file texts, repository facts)
and returns :class:`Finding` values; nothing here reads a file or runs a process.

Pure.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from gitops_tools.config import Config, Environment
from gitops_tools.core.helmvalues import field_value, missing_part, read_value, set_value
from gitops_tools.core.keypath import parse_keypath
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.policy import is_mutable
from gitops_tools.core.yamldoc import Mapping as YamlMapping
from gitops_tools.core.yamldoc import Scalar, find, parse_documents
from gitops_tools.errors import GitopsError

ERROR = "error"
WARNING = "warning"


class Finding(NamedTuple):
    severity: str  # "error" fails validate, "warning" does not
    env: str | None
    check: str  # a stable identifier, e.g. "unused-image"
    file: str | None
    where: str  # the object, key or entry concerned
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return dict(self._asdict())


class RenderedImage(NamedTuple):
    obj: str  # Deployment/api
    container: str
    image: str


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """Lenient ``name[:tag][@digest]`` split for images found in a render (they were not written by us)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1 :]
    return image, tag, digest


def _pod_specs(obj: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return
    kind = obj.get("kind")
    if kind == "Pod":
        yield spec
    elif kind == "CronJob":
        job = spec.get("jobTemplate", {}).get("spec", {}) if isinstance(spec.get("jobTemplate"), Mapping) else {}
        pod = job.get("template", {}).get("spec") if isinstance(job.get("template"), Mapping) else None
        if isinstance(pod, Mapping):
            yield pod
    else:
        template = spec.get("template")
        if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
            yield template["spec"]


def object_name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}"  # type: ignore[union-attr]


def rendered_images(objects: Iterable[Mapping[str, Any]]) -> list[RenderedImage]:
    out: list[RenderedImage] = []
    for obj in objects:
        for pod in _pod_specs(obj):
            for key in ("initContainers", "containers", "ephemeralContainers"):
                for c in pod.get(key) or ():
                    if isinstance(c, Mapping):
                        out.append(RenderedImage(object_name(obj), str(c.get("name", "?")), str(c.get("image", ""))))
    return out


def check_unused_images(
    env: str, file: str, entries: Sequence[KustImage], images: Sequence[RenderedImage]
) -> list[Finding]:
    """An ``images:`` entry whose image appears in no container: a typo kustomize ignores."""
    rendered = {split_image(i.image)[0] for i in images}
    return [
        Finding(
            ERROR, env, "unused-image", file, f"images[name={e.name}]",
            f"matches no container in the render (rendered images: {', '.join(sorted(rendered)) or 'none'})",
        )
        for e in entries
        if e.effective_name not in rendered
    ]


def check_tags(config: Config, env: Environment, images: Sequence[RenderedImage]) -> list[Finding]:
    """A mutable or missing tag: an error in a protected environment, a warning elsewhere. Mutable is what
    :func:`~gitops_tools.core.policy.is_mutable` says (``image set`` refuses the same tags), whatever the case."""
    findings = []
    severity = ERROR if env.protected else WARNING
    for i in images:
        _, tag, digest = split_image(i.image)
        if digest:
            continue
        if not tag:
            problem = f"image {i.image!r} has no tag (it means latest)"
        elif is_mutable(config, tag, digest):  # the rule image set applies: `Latest` moves like `latest`
            problem = f"image {i.image!r} uses the mutable tag {tag!r}"
        else:
            continue
        why = " in a protected environment" if env.protected else ""
        findings.append(Finding(severity, env.name, "mutable-tag", None, f"{i.obj} container {i.container}",
                                problem + why + "; pin a version or a digest"))
    return findings


def check_digests(config: Config, env: Environment, images: Sequence[RenderedImage]) -> list[Finding]:
    """In a protected environment under policy ``require_digest``, a container whose image has no digest (the
    images an overlay does not override too: the base's, a mirror's) is an error: ``image set`` and ``promote``
    refuse to write one, and this finds those already there."""
    if not (env.protected and config.policies.require_digest):
        return []
    return [Finding(ERROR, env.name, "missing-digest", None, f"{i.obj} container {i.container}",
                    f"image {i.image!r} has no digest in a protected environment (policy require_digest); pin it "
                    "as NAME:TAG@sha256:... in the environment's images")
            for i in images if not split_image(i.image)[2]]


def check_secrets(env: str | None, objects: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """A Secret with data in git: secret material belongs in Vault, read through an ExternalSecret."""
    findings = []
    for obj in objects:
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})
            findings.append(Finding(
                ERROR, env, "plaintext-secret", None, object_name(obj),
                f"a Secret with data ({', '.join(keys)}) is rendered from git; store it in Vault and read it "
                "with an ExternalSecret",
            ))
    return findings


def check_values(
    config: Config, env: Environment, entries: Sequence[KustImage], values: Mapping[str, str | None]
) -> list[Finding]:
    """Helm values keys configured to follow an image must hold what the kustomization says.

    ``values`` maps each values file (repository-relative) to its text, or None when it does not exist. Each
    finding says what is wrong (the key holds another value, is missing, holds a mapping or a list, or follows a
    field the kustomization does not set) and a fix that works: the ``image set`` command that restates the entry
    as it is (values keys follow every image set, so it moves them back into step without changing the
    kustomization), when that command can write the key; otherwise what to change by hand.
    """
    findings = []
    by_name = {e.name: e for e in entries}
    for options in config.images:
        entry = by_name.get(options.name)
        for loc in options.values:
            file = f"{env.path}/{loc.file}"
            if entry is None:
                continue
            text = values.get(file)
            expected = field_value(loc.field, entry)
            if text is None:
                findings.append(Finding(ERROR, env.name, "values-mismatch", file, loc.key,
                                        f"the values file does not exist, but {options.name} is configured to move it"))
                continue
            try:
                actual = read_value(text, file, loc.key)
            except GitopsError as err:
                findings.append(Finding(ERROR, env.name, "values-mismatch", file, loc.key, err.problem))
                continue
            if actual != expected:
                findings.append(Finding(ERROR, env.name, "values-mismatch", file, loc.key,
                                        _values_message(env.name, entry, loc.field, loc.key, file, text, actual,
                                                        expected)))
    return findings


def restating_spec(entry: KustImage) -> str:
    """The ``image set`` SPEC that sets ``entry`` to what it already is: ``*`` keeps its newName, and its tag and
    digest are given as they are (a field left out would be cleared)."""
    return (f"{entry.name}=*" + (f":{entry.new_tag}" if entry.new_tag else "")
            + (f"@{entry.digest}" if entry.digest else ""))


def _values_message(env: str, entry: KustImage, field: str, key: str, file: str, text: str, actual: str | None,
                    expected: str | None) -> str:
    name = entry.name
    if expected is None:  # the entry has no tag (or digest) for the key to follow
        part = missing_part(field)
        if part == "tag":
            spec, other = f"{name}=*:<tag>" + ("@*" if entry.digest else ""), "ref"
        else:
            spec, other = f"{name}=*:*@sha256:<digest>" if entry.new_tag else f"{name}=*@sha256:<digest>", "tag or ref"
        return (f"holds {actual!r}, but the kustomization sets no {part} for {name} ({entry.value}), so this key "
                f"cannot follow it; pin a {part} with gitops-tools image set {env} '{spec}', or make the key follow "
                f"another field (field: {other}) in gitops-tools.yaml")
    if actual is not None:
        what = f"holds {actual!r}"
    else:
        docs = [d for d in parse_documents(text, file) if d is not None]
        node = find(docs[0], parse_keypath(key)) if docs else None
        if node is None:
            what = "is missing"
        elif isinstance(node, Scalar):
            what = f"holds {node.value!r}"
        else:
            what = f"holds {'a mapping' if isinstance(node, YamlMapping) else 'a list'} (not a value)"
    wrong = f"{what} but the kustomization sets {name} to {expected!r} ({field})"
    try:
        set_value(text, file, key, expected)  # can image set write it? (pure: nothing is written)
    except GitopsError as err:
        return (f"{wrong}; write {expected!r} at {key} by hand (image set cannot: {err.problem}; {err.fix}), or "
                "correct the key in gitops-tools.yaml")
    fix = "to add it" if what == "is missing" else "to bring it in step"
    return f"{wrong}; run gitops-tools image set {env} '{restating_spec(entry)}' {fix}"


class RepoFacts(NamedTuple):
    """What an Application may point at."""

    repo_urls: frozenset[str]  # URLs that mean this repository (compared without a trailing .git or /)
    directories: frozenset[str]  # repository-relative directories that exist
    files: frozenset[str]  # repository-relative files that exist
    revisions: frozenset[str]  # branches and tags that exist (plus HEAD)
    namespaces: Mapping[str, str | None]  # environment path -> the namespace its kustomization sets


def _same_repo(url: str, facts: RepoFacts) -> bool:
    def norm(u: str) -> str:
        u = u.rstrip("/")
        return u.removesuffix(".git")

    return norm(url) in {norm(u) for u in facts.repo_urls}


def check_applications(
    apps: Sequence[tuple[str, Mapping[str, Any]]], facts: RepoFacts, projects: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    """Argo CD Applications must point at a path, revision and namespace that exist and fit together."""
    findings: list[Finding] = []
    for file, app in apps:
        name = object_name(app)
        spec = app.get("spec") if isinstance(app.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        sources = list(spec.get("sources") or ([spec["source"]] if spec.get("source") else []))
        dest = spec.get("destination") if isinstance(spec.get("destination"), Mapping) else {}
        assert isinstance(dest, Mapping)
        namespace = dest.get("namespace")

        def add(where: str, message: str, check: str, file: str = file, name: str = name) -> None:
            findings.append(Finding(ERROR, None, check, file, f"{name} {where}", message))

        refs = {s.get("ref"): s for s in sources if isinstance(s, Mapping) and s.get("ref")}
        for i, src in enumerate(sources):
            if not isinstance(src, Mapping):
                continue
            where = f"spec.sources[{i}]" if spec.get("sources") else "spec.source"
            helm = src.get("helm") if isinstance(src.get("helm"), Mapping) else {}
            assert isinstance(helm, Mapping)
            for vf in helm.get("valueFiles") or ():
                # ``$ref/path``: a file of the source whose ``ref`` is ``ref``; ours to check only when that source
                # is this repository.
                ref, _, rel = str(vf).partition("/")
                if not (ref.startswith("$") and ref[1:] in refs):
                    continue
                ref_source = refs[ref[1:]]
                if _same_repo(str(ref_source.get("repoURL", "")), facts) and rel not in facts.files:
                    add(f"{where}.helm.valueFiles", f"{vf}: no file {rel} in this repository", "application-path")
            if not _same_repo(str(src.get("repoURL", "")), facts):
                continue
            rev = str(src.get("targetRevision") or "HEAD")
            if rev not in facts.revisions:
                known = ", ".join(sorted(facts.revisions))
                add(f"{where}.targetRevision", f"revision {rev!r} does not exist (known: {known})", "application-branch")
            path = src.get("path")
            if path is None:
                continue
            path = str(path).strip("/")
            if path not in facts.directories:
                add(f"{where}.path", f"path {path!r} does not exist in this repository", "application-path")
                continue
            rendered_ns = facts.namespaces.get(path)
            if namespace and rendered_ns and rendered_ns != namespace:
                add("spec.destination.namespace",
                    f"deploys into {namespace!r} but {path} sets namespace {rendered_ns!r}", "application-namespace")
        project = projects.get(str(spec.get("project", "default")))
        if project is not None and namespace:
            allowed = [d for d in (project.get("spec", {}).get("destinations") or []) if isinstance(d, Mapping)]
            if not any(fnmatch.fnmatchcase(str(namespace), str(d.get("namespace", ""))) for d in allowed):
                patterns = ", ".join(str(d.get("namespace")) for d in allowed) or "none"
                add("spec.destination.namespace",
                    f"namespace {namespace!r} is not allowed by project {spec.get('project')!r} ({patterns})",
                    "application-namespace")
        elif project is None and spec.get("project") not in (None, "default"):
            add("spec.project", f"AppProject {spec.get('project')!r} is not defined in applications/",
                "application-project")
    return findings
