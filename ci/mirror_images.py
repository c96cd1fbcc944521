#!/usr/bin/env python3
"""Copy the third-party images of ci/mirror.yaml into the project's registry mirror, by digest.

    python3 ci/mirror_images.py [--config ci/mirror.yaml]           copy what the mirror lacks
    python3 ci/mirror_images.py --print                             the mirror's references, one per line

Each image is copied with skopeo from ``SOURCE@DIGEST`` (never by its tag alone, so a tag pushed again upstream
is not what gets mirrored) to ``MIRROR/NAME:TAG``, every platform of it and with its digest kept; then the
mirror's manifest is read back and its digest compared with the one listed. An image the mirror already holds
with that digest is left alone. Registry credentials come from skopeo's own auth file (``skopeo login
--password-stdin`` in the job), never from an argument. Exit 0 when every image is in the mirror with its
digest, 1 when one is not (each problem on a line of its own), 2 on a list that is not valid.
Reads YAML with PyYAML's safe loader only; runs skopeo without a shell.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# [registry/]path:tag, lower-case path components as the distribution spec has them; no digest in the source.
SOURCE_RE = re.compile(r"^(?P<repo>(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*"
                       r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")
MIRROR_RE = re.compile(r"^[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
TIMEOUT = 900  # seconds for one copy


class ListError(Exception):
    """ci/mirror.yaml is not a valid list."""


@dataclass(frozen=True)
class Image:
    source: str  # docker.io/library/redis:7.4.6-alpine
    repo: str    # docker.io/library/redis
    tag: str     # 7.4.6-alpine
    digest: str  # sha256:...
    target: str  # registry.gitlab.com/aegis/mirror/redis:7.4.6-alpine

    @property
    def reference(self) -> str:
        """What a manifest runs: the mirror's copy, by tag and digest."""
        return f"{self.target}@{self.digest}"


def _host(reference: str) -> str:
    """The registry host of ``reference`` (its first path component, without the port)."""
    host = reference.split("/")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def load(path: Path) -> list[Image]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ListError(f"{path}: cannot read: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("mirror"), str) or not MIRROR_RE.match(data["mirror"]):
        raise ListError(f"{path}: mirror: must be a registry path such as registry.gitlab.com/group/mirror")
    entries = data.get("images")
    if not isinstance(entries, list) or not entries:
        raise ListError(f"{path}: images: must be a list of {{source, digest}}")
    images: list[Image] = []
    targets: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = f"{path}: images[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"source", "digest"}:
            raise ListError(f"{where}: must have exactly source: and digest:")
        source, digest = entry["source"], entry["digest"]
        match = SOURCE_RE.match(source) if isinstance(source, str) else None
        if match is None:
            raise ListError(f"{where}.source: {source!r} is not REGISTRY/PATH:TAG (e.g. docker.io/library/redis:7.4.6)")
        if not isinstance(digest, str) or not DIGEST_RE.match(digest):
            raise ListError(f"{where}.digest: {digest!r} is not sha256: and 64 lower-case hex digits")
        repo, tag = match["repo"], match["tag"]
        target = f"{data['mirror']}/{repo.rsplit('/', 1)[-1]}:{tag}"
        if target in targets:
            raise ListError(f"{where}: {source} and {targets[target]} would both be {target} in the mirror")
        targets[target] = source
        images.append(Image(source, repo, tag, digest, target))
    return images


def skopeo(args: list[str], insecure: bool) -> subprocess.CompletedProcess[bytes]:
    tls = ["--tls-verify=false"] if insecure else []
    if args[0] == "copy":
        tls = ["--src-tls-verify=false", "--dest-tls-verify=false"] if insecure else []
    return subprocess.run(["skopeo", args[0], *tls, *args[1:]], capture_output=True, timeout=TIMEOUT, check=False)


def mirrored_digest(image: Image, insecure: bool) -> str | None:
    """The digest of the mirror's manifest for the image's tag (None when the mirror has no such tag)."""
    done = skopeo(["inspect", "--raw", f"docker://{image.target}"], insecure)
    if done.returncode != 0:
        return None
    return "sha256:" + hashlib.sha256(done.stdout).hexdigest()


def copy(image: Image, insecure: bool) -> str | None:
    """Mirror one image; None when the mirror holds it with its digest, else the problem."""
    if mirrored_digest(image, insecure) == image.digest:
        print(f"{image.reference}: already mirrored")
        return None
    done = skopeo(["copy", "--all", "--preserve-digests", "--retry-times", "3", "--quiet",
                   f"docker://{image.repo}@{image.digest}", f"docker://{image.target}"], insecure)
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return (f"{image.source}@{image.digest}: skopeo copy failed: {error[-1] if error else done.returncode}; "
                f"check that the source lists this digest for the tag, and the mirror's credentials (skopeo login)")
    found = mirrored_digest(image, insecure)
    if found != image.digest:
        return f"{image.target}: the mirror holds {found or 'nothing'} after the copy, not {image.digest}"
    print(f"{image.reference}: copied from {image.source}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("ci/mirror.yaml"), help="the list (ci/mirror.yaml)")
    parser.add_argument("--print", action="store_true", help="print the mirror's references, copy nothing")
    parser.add_argument("--insecure-loopback", action="store_true",
                        help="plain HTTP to registries on 127.0.0.1 or localhost only (the tests' registries)")
    args = parser.parse_args(argv)
    try:
        images = load(args.config)
    except ListError as err:
        print(f"mirror: {err}", file=sys.stderr)
        return 2
    if args.print:
        for image in images:
            print(image.reference)
        return 0
    if args.insecure_loopback:
        remote = [ref for i in images for ref in (i.source, i.target) if _host(ref) not in LOOPBACK]
        if remote:
            print(f"mirror: --insecure-loopback is for registries on loopback only, not {remote[0]}", file=sys.stderr)
            return 2
    problems = [p for p in (copy(image, args.insecure_loopback) for image in images) if p]
    for problem in problems:
        print(f"mirror: {problem}", file=sys.stderr)
    print(f"{len(images) - len(problems)} of {len(images)} image(s) in the mirror by digest")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
