"""Policy ``require_digest``: protected environments run every image by digest, through the CLI.

A tag can be pushed again with other contents; an environment pinned by digest deploys exactly what was tested.
With the policy on, ``image set`` and ``promote`` refuse to write an entry without a digest into a protected
environment (nothing is written, nothing committed), ``promote`` carries the digest along, and ``validate``
reports every rendered container of a protected environment without one (the base's images included).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, kubectl, make_checkout, run_cli, tree_bytes

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
API = "registry.example.com/aegis/api"


def config(require_digest: bool, only_from_previous: bool = True) -> str:
    return ("environments:\n  - name: dev\n  - name: staging\n  - name: prod\n    protected: true\n"
            f"policies:\n  require_digest: {str(require_digest).lower()}\n"
            f"  only_from_previous: {str(only_from_previous).lower()}\n")


BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/aegis/api:1.0.0
        - name: proxy
          image: registry.example.com/mirror/envoy:1.31.0
"""


def overlay(tag: str, digest: str | None = None) -> str:
    return ("resources:\n  - ../../base\nimages:\n  - name: registry.example.com/aegis/api\n"
            f"    newTag: {tag}\n" + (f"    digest: {digest}\n" if digest else ""))


def repo(tmp_path: Path, require_digest: bool = True, only_from_previous: bool = True,
         staging: str | None = None, prod: str | None = None) -> Path:
    return make_checkout(tmp_path / "gitops", {
        "gitops-tools.yaml": config(require_digest, only_from_previous),
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/deployment.yaml": BASE,
        "environments/dev/kustomization.yaml": overlay("1.0.1", DIGEST),
        "environments/staging/kustomization.yaml": staging or overlay("1.0.1", DIGEST),
        "environments/prod/kustomization.yaml": prod or overlay("1.0.0", OTHER),
    })


def test_image_set_refuses_a_tag_without_a_digest_in_a_protected_environment(tmp_path: Path) -> None:
    root = repo(tmp_path, only_from_previous=False)
    before, head = tree_bytes(root), git(root, "rev-parse", "HEAD")
    r = run_cli(root, "image", "set", "prod", f"{API}=*:1.0.1")
    assert r.returncode == 1, r.stdout
    assert r.stderr.splitlines() == [
        f"error: environments/prod/kustomization.yaml: images[name={API}].digest: prod is protected and runs "
        f"images by digest only: {API} has none",
        f"hint: set it with the digest the build printed, e.g. image set prod '{API}=*:TAG@sha256:...', or promote "
        "it from an environment that runs it by digest (policy require_digest in gitops-tools.yaml)",
    ]
    assert (tree_bytes(root), git(root, "rev-parse", "HEAD")) == (before, head)


def test_image_set_by_tag_and_digest_lands_and_other_environments_take_tags_alone(tmp_path: Path) -> None:
    root = repo(tmp_path, only_from_previous=False)
    r = run_cli(root, "image", "set", "prod", f"{API}=*:1.0.1@{DIGEST}")
    assert r.returncode == 0, r.stderr
    assert (root / "environments/prod/kustomization.yaml").read_text() == overlay("1.0.1", DIGEST)
    r = run_cli(root, "image", "set", "dev", f"{API}=*:1.0.2")  # not protected: the policy does not hold there
    assert r.returncode == 0, r.stderr
    assert (root / "environments/dev/kustomization.yaml").read_text() == overlay("1.0.2")
    assert git(root, "status", "--porcelain") == ""


def test_promote_carries_the_digest_into_prod(tmp_path: Path) -> None:
    root = repo(tmp_path)
    r = run_cli(root, "promote", "staging", "prod", "--no-push")
    assert r.returncode == 0, r.stderr
    assert (root / "environments/prod/kustomization.yaml").read_text() == overlay("1.0.1", DIGEST)
    assert git(root, "log", "-1", "--format=%s").startswith("chore(prod): promote")


def test_promote_refuses_what_the_environment_before_runs_by_tag_alone(tmp_path: Path) -> None:
    root = repo(tmp_path, staging=overlay("1.0.1"))
    before, head = tree_bytes(root), git(root, "rev-parse", "HEAD")
    r = run_cli(root, "promote", "staging", "prod", "--no-push")
    assert r.returncode == 1, r.stdout
    assert r.stderr.splitlines()[0] == (
        f"error: environments/prod/kustomization.yaml: images[name={API}].digest: prod is protected and runs "
        f"images by digest only: {API} has none")
    assert (tree_bytes(root), git(root, "rev-parse", "HEAD")) == (before, head)


def test_without_the_policy_prod_takes_a_tag_alone(tmp_path: Path) -> None:
    root = repo(tmp_path, require_digest=False, staging=overlay("1.0.1"))
    r = run_cli(root, "promote", "staging", "prod", "--no-push")
    assert r.returncode == 0, r.stderr
    assert (root / "environments/prod/kustomization.yaml").read_text() == overlay("1.0.1")


@pytest.mark.parametrize("require_digest", [True, False])
def test_validate_reports_every_rendered_container_of_prod_without_a_digest(tmp_path: Path,
                                                                          require_digest: bool) -> None:
    kubectl()
    root = repo(tmp_path, require_digest=require_digest)
    r = run_cli(root, "-o", "json", "validate")
    found = [(f["env"], f["check"], f["where"], f["message"]) for f in json.loads(r.stdout)["findings"]]
    missing = [f for f in found if f[1] == "missing-digest"]
    if not require_digest:
        assert (r.returncode, missing) == (0, []), r.stdout
        return
    # the api runs by digest (the overlay pins it); the base's proxy, which no overlay overrides, does not
    assert r.returncode == 1, r.stdout
    assert missing == [("prod", "missing-digest", "Deployment/api container proxy",
                        "image 'registry.example.com/mirror/envoy:1.31.0' has no digest in a protected environment "
                        "(policy require_digest); pin it as NAME:TAG@sha256:... in the environment's images")]
