"""`gitops-tools validate`: each problem it reports, on a broken copy of this repository, with the exact message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, kubectl

CONTENT = ("base", "environments", "applications", "gitops-tools.yaml")
CLEAN = "rendered: dev (34 objects), staging (34 objects), prod (37 objects)\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git checkout holding this repository's GitOps content (as committed and as edited now)."""
    kubectl()
    dst = tmp_path / "gitops"
    dst.mkdir()
    files = git(ROOT, "ls-files", "-co", "--exclude-standard", *CONTENT).splitlines()
    for rel in files:
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            (dst / rel).write_bytes((ROOT / rel).read_bytes())
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "aegis")
    return dst


def validate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitops_tools", "validate", *args], cwd=repo,
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_clean_repository_passes(repo: Path) -> None:
    r = validate(repo)
    assert (r.returncode, r.stdout, r.stderr) == (0, CLEAN + "0 error(s), 0 warning(s)\n", "")


def test_the_bundled_repository_itself_passes() -> None:
    r = validate(ROOT)
    assert (r.returncode, r.stdout) == (0, CLEAN + "0 error(s), 0 warning(s)\n")


def test_images_entry_that_matches_no_container(repo: Path) -> None:
    edit(repo / "environments/dev/kustomization.yaml", "  - name: aegis/api\n", "  - name: aegis/apii\n")
    r = validate(repo)
    assert r.returncode == 1
    assert r.stdout.splitlines()[1:] == [
        "error    dev  unused-image  environments/dev/kustomization.yaml images[name=aegis/apii]  matches no container "
        "in the render (rendered images: aegis/api, registry.gitlab.com/aegis/app/recommendation, "
        "registry.gitlab.com/aegis/mirror/postgres, registry.gitlab.com/aegis/mirror/redis)",
        "warning  dev  mutable-tag   Deployment/api container api                                 image 'aegis/api' "
        "has no tag (it means latest); pin a version or a digest",
        "1 error(s), 1 warning(s)",
    ]


def test_mutable_tag_fails_in_protected_prod_and_warns_in_dev(repo: Path) -> None:
    edit(repo / "environments/dev/kustomization.yaml", "newTag: 1.4.2\n    digest: sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b\n", "newTag: latest\n")
    r = validate(repo)
    assert r.returncode == 0
    assert r.stdout.splitlines()[1:] == [
        "warning  dev  mutable-tag  Deployment/api container api  image 'registry.gitlab.com/aegis/app/api:latest' "
        "uses the mutable tag 'latest'; pin a version or a digest",
        "0 error(s), 1 warning(s)",
    ]
    # a digest pins whatever the tag says, so prod's is dropped with it: then policy require_digest speaks too
    edit(repo / "environments/prod/kustomization.yaml", "newTag: 1.4.0\n    digest: sha256:c4684159d194e9e69db1296a70b1adf2ebf946cbb3ad3bbb87a00fdec5db551d\n",
         "newTag: main\n")
    r = validate(repo, "prod")
    assert r.returncode == 1
    assert r.stdout == (
        "rendered: prod (37 objects)\n"
        "error  prod  mutable-tag     Deployment/api container api  image 'registry.gitlab.com/aegis/app/api:main' "
        "uses the mutable tag 'main' in a protected environment; pin a version or a digest\n"
        "error  prod  missing-digest  Deployment/api container api  image 'registry.gitlab.com/aegis/app/api:main' "
        "has no digest in a protected environment (policy require_digest); pin it as NAME:TAG@sha256:... in the "
        "environment's images\n"
        "2 error(s), 0 warning(s)\n"
    )


def test_missing_tag_fails_in_protected_prod(repo: Path) -> None:
    edit(repo / "environments/prod/kustomization.yaml",
         "    newName: registry.gitlab.com/aegis/app/api\n    newTag: 1.4.0\n    digest: sha256:c4684159d194e9e69db1296a70b1adf2ebf946cbb3ad3bbb87a00fdec5db551d\n",
         "    newName: registry.gitlab.com/aegis/app/api\n")
    r = validate(repo, "prod")
    assert r.returncode == 1
    assert r.stdout == (
        "rendered: prod (37 objects)\n"
        "error  prod  mutable-tag     Deployment/api container api  image 'registry.gitlab.com/aegis/app/api' "
        "has no tag (it means latest) in a protected environment; pin a version or a digest\n"
        "error  prod  missing-digest  Deployment/api container api  image 'registry.gitlab.com/aegis/app/api' "
        "has no digest in a protected environment (policy require_digest); pin it as NAME:TAG@sha256:... in the "
        "environment's images\n"
        "2 error(s), 0 warning(s)\n"
    )


def test_plaintext_secret(repo: Path) -> None:
    (repo / "environments/staging/secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\nstringData:\n  password: hunter2\n"
    )
    edit(repo / "environments/staging/kustomization.yaml", "  - externalsecret.yaml\n",
         "  - externalsecret.yaml\n  - secret.yaml\n")
    r = validate(repo)
    assert r.returncode == 1
    assert r.stdout.splitlines()[1:] == [
        "error  staging  plaintext-secret  Secret/leaked  a Secret with data (password) is rendered from git; store it "
        "in Vault and read it with an ExternalSecret",
        "1 error(s), 0 warning(s)",
    ]
    assert "hunter2" not in r.stdout + r.stderr


def test_plaintext_secret_rendered_from_applications(repo: Path) -> None:
    """What the app-of-apps root applies from applications/ (into argocd) is checked like an environment's render."""
    (repo / "applications/leaked.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\n  namespace: argocd\ndata:\n  token: aHVudGVyMg==\n"
    )
    edit(repo / "applications/kustomization.yaml", "  - project.yaml\n", "  - project.yaml\n  - leaked.yaml\n")
    r = validate(repo)
    assert r.returncode == 1
    assert r.stdout.splitlines()[1:] == [
        "error  -  plaintext-secret  applications/leaked.yaml Secret/leaked  a Secret with data (token) is rendered "
        "from git; store it in Vault and read it with an ExternalSecret",
        "1 error(s), 0 warning(s)",
    ]


def test_applications_that_do_not_render(repo: Path) -> None:
    edit(repo / "applications/kustomization.yaml", "  - project.yaml\n", "  - project.yaml\n  - missing.yaml\n")
    r = validate(repo, "-o", "json")
    assert r.returncode == 1
    [finding] = json.loads(r.stdout)["findings"]
    assert (finding["check"], finding["env"], finding["where"]) == ("render-failed", None, "applications")
    assert "missing.yaml" in finding["message"]


def test_values_out_of_step_with_the_kustomization(repo: Path) -> None:
    edit(repo / "environments/staging/values.yaml", 'tag: "2.1.0@sha256:e95696ff8a0565764f71c8dd4e639791f3b9f9c542c489e247b7187620cfea64"', 'tag: "2.0.9"')
    r = validate(repo)
    assert r.returncode == 1
    assert r.stdout.splitlines()[1:] == [
        "error  staging  values-mismatch  environments/staging/values.yaml controllers.trainer.containers.main.image.tag"
        "  holds '2.0.9' but the kustomization sets aegis/recommendation to '2.1.0@sha256:e95696ff8a0565764f71c8dd4e639791f3b9f9c542c489e247b7187620cfea64' (tag@digest); "
        "run gitops-tools image set staging 'aegis/recommendation=*:2.1.0@sha256:e95696ff8a0565764f71c8dd4e639791f3b9f9c542c489e247b7187620cfea64' to bring it in step",
        "1 error(s), 0 warning(s)",
    ]


def test_the_fix_validate_suggests_works(repo: Path) -> None:
    edit(repo / "environments/staging/values.yaml", 'tag: "2.1.0@sha256:e95696ff8a0565764f71c8dd4e639791f3b9f9c542c489e247b7187620cfea64"', 'tag: "2.0.9"')
    git(repo, "commit", "-qam", "drift")
    r = subprocess.run([sys.executable, "-m", "gitops_tools", "image", "set", "staging",
                        "aegis/recommendation=*:2.1.0@sha256:e95696ff8a0565764f71c8dd4e639791f3b9f9c542c489e247b7187620cfea64"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the kustomization already holds 2.1.0; only the values key moves back into step, in its own commit
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "environments/staging/values.yaml\n"
    assert validate(repo).returncode == 0


def test_application_pointing_nowhere(repo: Path) -> None:
    edit(repo / "applications/aegis-dev.yaml", "path: environments/dev", "path: environments/development")
    edit(repo / "applications/aegis-staging.yaml", "targetRevision: main", "targetRevision: mian")
    edit(repo / "applications/aegis-prod.yaml", "namespace: aegis-prod", "namespace: aegis-production")
    r = validate(repo)
    assert r.returncode == 1
    lines = [" ".join(line.split()) for line in r.stdout.splitlines()[1:]]
    assert lines == [
        "error - application-path applications/aegis-dev.yaml Application/aegis-dev spec.sources[0].path "
        "path 'environments/development' does not exist in this repository",
        "error - application-namespace applications/aegis-prod.yaml Application/aegis-prod spec.destination.namespace "
        "deploys into 'aegis-production' but environments/prod sets namespace 'aegis-prod'",
        "error - application-namespace applications/aegis-prod.yaml Application/aegis-prod spec.destination.namespace "
        "namespace 'aegis-production' is not allowed by project 'aegis' (aegis-dev, aegis-staging, aegis-prod)",
        "error - application-branch applications/aegis-staging.yaml Application/aegis-staging "
        "spec.sources[0].targetRevision revision 'mian' does not exist (known: HEAD, main)",
        "4 error(s), 0 warning(s)",
    ]


def test_application_namespace_outside_the_project(repo: Path) -> None:
    edit(repo / "applications/aegis-dev.yaml", "namespace: aegis-dev", "namespace: kube-system")
    r = validate(repo, "-o", "json")
    assert r.returncode == 1
    findings = json.loads(r.stdout)["findings"]
    assert [(f["check"], f["message"]) for f in findings] == [
        ("application-namespace", "deploys into 'kube-system' but environments/dev sets namespace 'aegis-dev'"),
        ("application-namespace", "namespace 'kube-system' is not allowed by project 'aegis' "
                                  "(aegis-dev, aegis-staging, aegis-prod)"),
    ]


def test_values_file_missing_for_a_helm_source(repo: Path) -> None:
    (repo / "environments/prod/values.yaml").unlink()
    r = validate(repo)
    assert r.returncode == 1
    assert [" ".join(line.split()) for line in r.stdout.splitlines()[1:]] == [
        "error prod values-mismatch environments/prod/values.yaml controllers.trainer.containers.main.image.repository "
        "the values file does not exist, but aegis/recommendation is configured to move it",
        "error prod values-mismatch environments/prod/values.yaml controllers.trainer.containers.main.image.tag "
        "the values file does not exist, but aegis/recommendation is configured to move it",
        "error - application-path applications/aegis-prod.yaml Application/aegis-prod spec.sources[1].helm.valueFiles "
        "$values/environments/prod/values.yaml: no file environments/prod/values.yaml in this repository",
        "3 error(s), 0 warning(s)",
    ]


def test_overlay_that_does_not_render(repo: Path) -> None:
    edit(repo / "environments/dev/kustomization.yaml", "  - secretstore.yaml\n", "  - secretstore.yaml\n  - missing.yaml\n")
    r = validate(repo, "dev")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "rendered: dev (failed)"
    assert lines[1].startswith("error  dev  render-failed  environments/dev environments/dev  ")
    assert "missing.yaml" in lines[1]
    assert lines[2] == "1 error(s), 0 warning(s)"


def test_json_output_of_a_clean_run(repo: Path) -> None:
    r = validate(repo, "-o", "json")
    data = json.loads(r.stdout)
    assert data == {
        "ok": True, "errors": 0, "warnings": 0, "findings": [],
        "environments": [{"name": e, "path": f"environments/{e}", "rendered": True, "objects": n}
                         for e, n in (("dev", 34), ("staging", 34), ("prod", 37))],
    }


def test_unknown_environment(repo: Path) -> None:
    r = validate(repo, "qa")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ('error: gitops-tools.yaml: unknown environment "qa"\n'
                        "hint: known environments: dev, staging, prod\n")


def test_malformed_kustomization(repo: Path) -> None:
    (repo / "environments/dev/kustomization.yaml").write_text("images: [\n")
    r = validate(repo, "dev")
    assert r.returncode == 1
    assert r.stdout.splitlines()[1].startswith(
        "error  dev  render-failed  environments/dev/kustomization.yaml environments/dev  cannot parse YAML:")
