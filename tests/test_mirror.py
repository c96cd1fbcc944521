"""The registry mirror: ci/mirror.yaml lists every third-party image the environments run, by the digest they run
it by, and ci/mirror_images.py copies each into the mirror by that digest, for real: skopeo between two
distribution registries (Debian docker-registry) that the tests start on loopback ports of their own."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, tool_or_skip
from tests.pyindexserver import serve_on_free_port
from tests.test_aegis_render import ENVS, pods, render

SCRIPT = ROOT / "ci/mirror_images.py"
INSTALL = "apt-get install skopeo docker-registry"


def mirror(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_environments_run_the_mirrors_copies_of_exactly_the_listed_images() -> None:
    listed = mirror("--config", str(ROOT / "ci/mirror.yaml"), "--print")
    assert listed.returncode == 0, listed.stderr
    refs = set(listed.stdout.split())
    used = set()
    for env in ENVS:
        for _, pod in pods(render(f"environments/{env}")):
            for c in [*pod.get("initContainers", []), *pod["containers"]]:
                if not c["image"].startswith("registry.gitlab.com/aegis/app/"):  # the services, built by CI
                    used.add(c["image"])
    assert used == refs  # nothing runs from outside the mirror, nothing is mirrored for nothing


@pytest.mark.parametrize(("entry", "message"), [
    ({"source": "docker.io/library/redis", "digest": "sha256:" + "a" * 64}, "is not REGISTRY/PATH:TAG"),
    ({"source": "docker.io/library/redis:7@sha256:" + "a" * 64, "digest": "sha256:" + "a" * 64},
     "is not REGISTRY/PATH:TAG"),
    ({"source": "docker.io/library/redis:7", "digest": "sha256:abc"}, "is not sha256: and 64 lower-case hex"),
    ({"source": "docker.io/library/redis:7; rm -rf /", "digest": "sha256:" + "a" * 64}, "is not REGISTRY/PATH:TAG"),
    ({"source": "docker.io/library/redis:7"}, "must have exactly source: and digest:"),
])
def test_a_list_that_is_not_valid_copies_nothing(entry: dict[str, str], message: str, tmp_path: Path) -> None:
    config = tmp_path / "mirror.yaml"
    config.write_text(yaml.safe_dump({"mirror": "registry.example.com/mirror", "images": [entry]}))
    done = mirror("--config", str(config))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"mirror: {config}: images[0]") and message in done.stderr


# --- copying, for real ---

def _start_registry(root: Path) -> Iterator[str]:
    exe = tool_or_skip("docker-registry", "skopeo", install=INSTALL)["docker-registry"]

    def argv(port: int) -> list[str]:
        config = root / f"config-{port}.yml"
        config.write_text(yaml.safe_dump({
            "version": 0.1, "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(root / f"data-{port}")}},
            "http": {"addr": f"127.0.0.1:{port}"}}))
        return [exe, "serve", str(config)]

    with serve_on_free_port(argv, root / "registry.log", "docker-registry") as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "upstream").mkdir()
    yield from _start_registry(tmp_path / "upstream")


@pytest.fixture
def mirror_registry(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "mirror").mkdir()
    yield from _start_registry(tmp_path / "mirror")


def _blob(layout: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest.split(":")[1]).write_bytes(data)
    return digest


def push_image(registry: str, reference: str, content: bytes, tmp_path: Path) -> str:
    """A one-layer OCI image holding one file with ``content``, pushed to ``registry/reference``; its digest."""
    layout = tmp_path / f"oci-{hashlib.sha256(content).hexdigest()[:12]}"
    (layout / "blobs/sha256").mkdir(parents=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    layer_digest = _blob(layout, layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode()
    config_digest = _blob(layout, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                    "size": len(layer)}]}).encode()
    manifest_digest = _blob(layout, manifest)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests",
                    f"oci:{layout}:latest", f"docker://{registry}/{reference}"], check=True, timeout=120,
                   capture_output=True)
    return manifest_digest


def manifest_digest(registry_ref: str) -> str | None:
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry_ref}"],
                          capture_output=True, timeout=60, check=False)
    return "sha256:" + hashlib.sha256(done.stdout).hexdigest() if done.returncode == 0 else None


def test_copies_each_image_by_its_digest_and_checks_what_the_mirror_holds(upstream: str, mirror_registry: str,
                                                                          tmp_path: Path) -> None:
    redis = push_image(upstream, "library/redis:7.4.6-alpine", b"redis 7.4.6\n", tmp_path)
    postgres = push_image(upstream, "library/postgres:16.4", b"postgres 16.4\n", tmp_path)
    config = tmp_path / "mirror.yaml"
    config.write_text(yaml.safe_dump({"mirror": f"{mirror_registry}/aegis/mirror", "images": [
        {"source": f"{upstream}/library/redis:7.4.6-alpine", "digest": redis},
        {"source": f"{upstream}/library/postgres:16.4", "digest": postgres}]}, sort_keys=False))
    done = mirror("--config", str(config), "--insecure-loopback")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        f"{mirror_registry}/aegis/mirror/redis:7.4.6-alpine@{redis}: copied from {upstream}/library/redis:7.4.6-alpine",
        f"{mirror_registry}/aegis/mirror/postgres:16.4@{postgres}: copied from {upstream}/library/postgres:16.4",
        "2 of 2 image(s) in the mirror by digest"]
    assert manifest_digest(f"{mirror_registry}/aegis/mirror/redis:7.4.6-alpine") == redis
    assert manifest_digest(f"{mirror_registry}/aegis/mirror/postgres:16.4") == postgres

    # run again: nothing to copy
    again = mirror("--config", str(config), "--insecure-loopback")
    assert again.returncode == 0 and again.stdout.splitlines()[0].endswith(": already mirrored")

    # the tag pushed again upstream with other contents: the mirror still copies the listed digest, not the tag
    push_image(upstream, "library/redis:7.4.6-alpine", b"something else\n", tmp_path)
    subprocess.run(["skopeo", "delete", "--tls-verify=false", f"docker://{mirror_registry}/aegis/mirror/redis@{redis}"],
                   capture_output=True, timeout=60, check=False)
    third = mirror("--config", str(config), "--insecure-loopback")
    assert third.returncode == 0, third.stderr
    assert manifest_digest(f"{mirror_registry}/aegis/mirror/redis:7.4.6-alpine") == redis


def test_a_digest_the_source_does_not_have_fails_and_mirrors_nothing(upstream: str, mirror_registry: str,
                                                                     tmp_path: Path) -> None:
    push_image(upstream, "library/redis:7.4.6-alpine", b"redis 7.4.6\n", tmp_path)
    wrong = "sha256:" + "0" * 64
    config = tmp_path / "mirror.yaml"
    config.write_text(yaml.safe_dump({"mirror": f"{mirror_registry}/aegis/mirror", "images": [
        {"source": f"{upstream}/library/redis:7.4.6-alpine", "digest": wrong}]}))
    done = mirror("--config", str(config), "--insecure-loopback")
    assert done.returncode == 1
    assert done.stderr.startswith(f"mirror: {upstream}/library/redis:7.4.6-alpine@{wrong}: skopeo copy failed: ")
    assert done.stdout == "0 of 1 image(s) in the mirror by digest\n"
    assert manifest_digest(f"{mirror_registry}/aegis/mirror/redis:7.4.6-alpine") is None


def test_plain_http_is_for_loopback_registries_only(tmp_path: Path) -> None:
    done = mirror("--config", str(ROOT / "ci/mirror.yaml"), "--insecure-loopback")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("mirror: --insecure-loopback is for registries on loopback only, not "
                           "docker.io/library/redis:7.4.6-alpine\n")
