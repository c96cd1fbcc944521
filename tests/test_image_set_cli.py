"""`gitops-tools image set` end to end: real processes, real git checkouts, exact bytes, exit codes and messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, make_checkout, stalling_hook, tree_bytes
from tests.conftest import run_cli as run

CONFIG = """\
environments:
  - name: dev
  - name: staging
  - name: prod
    protected: true
"""

DEV = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: aegis-dev
images:
  - name: aegis/api
    newName: registry.gitlab.com/aegis/app/api  # mirrored
    newTag: 1.4.1
  - name: aegis/recommendation
    newTag: 2.0.0
"""

PROD = DEV.replace("aegis-dev", "aegis-prod")




@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "gitops", {
        "gitops-tools.yaml": CONFIG,
        "environments/dev/kustomization.yaml": DEV,
        "environments/staging/kustomization.yaml": DEV.replace("aegis-dev", "aegis-staging"),
        "environments/prod/kustomization.yaml": PROD,
    })


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def log_count(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD"))


# --- the happy paths -----------------------------------------------------------------------------------------


def test_sets_tag_and_commits_with_trailers(repo: Path) -> None:
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert (repo / "environments/dev/kustomization.yaml").read_text() == DEV.replace("newTag: 1.4.1", "newTag: 1.4.2")
    assert log_count(repo) == 2
    message = git(repo, "log", "-1", "--format=%B")
    assert message == (
        "chore(dev): set aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2\n"
        "\n"
        "- environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 1.4.1 -> 1.4.2\n"
        "\n"
        "Gitops-Action: set-image\n"
        "Gitops-Change: dev aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2\n"
        "\n"
    )
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "environments/dev/kustomization.yaml\n"
    assert r.stdout.splitlines()[0] == (
        "dev: aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2 (updated)"
    )
    assert r.stdout.splitlines()[1].startswith(f"committed {head(repo)[:12]} (environments/dev/kustomization.yaml)")
    assert git(repo, "status", "--porcelain") == ""


def test_several_specs_make_one_commit(repo: Path) -> None:
    r = run(repo, "image", "set", "--add", "staging", "aegis/api=*:1.4.2", "aegis/recommendation:2.1.0",
            "aegis/new:0.1.0")
    assert r.returncode == 0, r.stderr
    assert log_count(repo) == 2
    trailers = [line for line in git(repo, "log", "-1", "--format=%B").splitlines() if line.startswith("Gitops-")]
    assert trailers == [
        "Gitops-Action: set-image",
        "Gitops-Change: staging aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2",
        "Gitops-Change: staging aegis/new (none) -> 0.1.0",
        "Gitops-Change: staging aegis/recommendation 2.0.0 -> 2.1.0",
    ]
    assert git(repo, "log", "-1", "--format=%s") == "chore(staging): set 3 images (aegis/api, aegis/new, aegis/recommendation)\n"


def test_same_value_again_is_nothing_to_do(repo: Path) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.1")
    assert r.returncode == 0
    assert r.stdout == "dev: aegis/api is already registry.gitlab.com/aegis/app/api:1.4.1; nothing to do\n"
    assert tree_bytes(repo) == before and log_count(repo) == 1


def test_older_tag_is_skipped_unless_allowed(repo: Path) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.3.9")
    assert r.returncode == 0
    assert r.stdout == (
        "environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 1.3.9 is older than 1.4.1; "
        "skipped (pass --allow-downgrade to roll back on purpose)\n"
    )
    assert tree_bytes(repo) == before and log_count(repo) == 1
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.3.9", "--allow-downgrade")
    assert r.returncode == 0, r.stderr
    assert "newTag: 1.3.9\n" in (repo / "environments/dev/kustomization.yaml").read_text()
    assert log_count(repo) == 2


def test_dry_run_prints_the_diff_and_writes_nothing(repo: Path) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "--dry-run", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "--- a/environments/dev/kustomization.yaml\n"
        "+++ b/environments/dev/kustomization.yaml\n"
        "@@ -4,6 +4,6 @@\n"
        " images:\n"
        "   - name: aegis/api\n"
        "     newName: registry.gitlab.com/aegis/app/api  # mirrored\n"
        "-    newTag: 1.4.1\n"
        "+    newTag: 1.4.2\n"
        "   - name: aegis/recommendation\n"
        "     newTag: 2.0.0\n"
        "dev: aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2 (updated)\n"
        "dry run: nothing written\n"
    )
    assert tree_bytes(repo) == before and log_count(repo) == 1


def test_json_output(repo: Path) -> None:
    r = run(repo, "image", "set", "-o", "json", "dev", "aegis/api=*:1.4.2", "aegis/recommendation:2.0.0")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data == {
        "target": "dev",
        "environment": "dev",
        "directory": "environments/dev",
        "dry_run": False,
        "changed": True,
        "commit": head(repo),
        "pushed": None,
        "merge_request_branch": None,
        "attempts": 0,
        "files": ["environments/dev/kustomization.yaml"],
        "images": [
            {
                "image": "aegis/api",
                "old": "registry.gitlab.com/aegis/app/api:1.4.1",
                "new": "registry.gitlab.com/aegis/app/api:1.4.2",
                "status": "updated",
                "message": None,
                "changes": [{"file": "environments/dev/kustomization.yaml",
                             "path": "images[name=aegis/api].newTag", "old": "1.4.1", "new": "1.4.2"}],
            },
            {"image": "aegis/recommendation", "old": "2.0.0", "new": "2.0.0", "status": "unchanged",
             "message": None, "changes": []},
        ],
    }


def test_json_from_environment_variable_and_dry_run_diff(repo: Path) -> None:
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2", env={"GITOPS_OUTPUT": "json", "GITOPS_DRY_RUN": "1"})
    data = json.loads(r.stdout)
    assert data["dry_run"] is True and data["commit"] is None
    assert "+    newTag: 1.4.2\n" in data["diff"]
    assert log_count(repo) == 1


def test_no_commit_edits_only(repo: Path) -> None:
    r = run(repo, "image", "set", "--no-commit", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("wrote environments/dev/kustomization.yaml (not committed)\n")
    assert log_count(repo) == 1
    assert git(repo, "status", "--porcelain") == " M environments/dev/kustomization.yaml\n"


def test_directory_target_is_the_same_environment(repo: Path) -> None:
    r = run(repo / "environments", "image", "set", "dev", "aegis/api=*:1.4.2")  # a path relative to the cwd
    assert r.returncode == 0, r.stderr
    assert git(repo, "log", "-1", "--format=%s").startswith("chore(dev): set aegis/api")


def test_plain_directory_outside_a_checkout(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(DEV)
    r = run(tmp_path, "image", "set", "overlay", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("wrote overlay/kustomization.yaml (not committed)\n")
    assert (overlay / "kustomization.yaml").read_text() == DEV.replace("1.4.1", "1.4.2")


def test_repo_dir_option(repo: Path, tmp_path: Path) -> None:
    r = run(tmp_path, "-C", str(repo), "image", "set", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert log_count(repo) == 2


def test_commit_author_from_config(repo: Path) -> None:
    (repo / "gitops-tools.yaml").write_text(CONFIG + "commit:\n  author_name: Release Bot\n  author_email: bot@example.com\n")
    git(repo, "commit", "-qam", "config")
    assert run(repo, "image", "set", "dev", "aegis/api=*:1.4.2").returncode == 0
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "Release Bot <bot@example.com>\n"


def test_update_image_script_sets_only_the_tag(repo: Path) -> None:
    bindir = Path(sys.executable).parent
    r = subprocess.run(
        [str(ROOT / "scripts/update-image.sh"), "dev", "aegis/api", "1.4.2"], cwd=repo, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert r.returncode == 0, r.stderr
    # newName is kept (NAME=*:TAG), the same-line comment too
    assert (repo / "environments/dev/kustomization.yaml").read_text() == DEV.replace("newTag: 1.4.1", "newTag: 1.4.2")
    assert log_count(repo) == 2


def test_update_image_script_passes_options_through(repo: Path) -> None:
    bindir = Path(sys.executable).parent
    r = subprocess.run(
        [str(ROOT / "scripts/update-image.sh"), "dev", "aegis/api", "1.4.2", "--dry-run"], cwd=repo,
        capture_output=True, text=True, env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert r.returncode == 0 and "+    newTag: 1.4.2" in r.stdout
    assert log_count(repo) == 1


# --- bad input: clear error, exit 1 or 2, nothing written ------------------------------------------------------


def assert_refused(repo: Path, args: list[str], code: int, stderr: str, cwd: Path | None = None) -> None:
    before, head_before = tree_bytes(repo), head(repo)
    r = run(cwd or repo, *args)
    assert (r.returncode, r.stderr) == (code, stderr)
    assert r.stdout == ""
    assert tree_bytes(repo) == before
    assert head(repo) == head_before
    assert git(repo, "status", "--porcelain") == ""


def test_unparsable_yaml(repo: Path) -> None:
    (repo / "environments/dev/kustomization.yaml").write_text("images:\n  - name: aegis/api\n   newTag: [1.4.1\n")
    git(repo, "commit", "-qam", "broken")
    assert_refused(repo, ["image", "set", "dev", "aegis/api:1.4.2"], 1,
                   "error: environments/dev/kustomization.yaml:3:4: cannot parse YAML: while parsing a block "
                   "collection, did not find expected '-' indicator\n"
                   "hint: fix the syntax; nothing was written\n")


def test_tab_after_value_is_kept(repo: Path) -> None:
    """Go YAML (kustomize) and libyaml accept a TAB after a value; the edit keeps it."""
    path = repo / "environments/dev/kustomization.yaml"
    path.write_text("images:\n  - name: aegis/api\n    newTag: 1.4.1\t\n")
    git(repo, "commit", "-qam", "tab")
    r = run(repo, "image", "set", "dev", "aegis/api:1.4.2")
    assert r.returncode == 0, r.stderr
    assert path.read_text() == "images:\n  - name: aegis/api\n    newTag: 1.4.2\t\n"


def test_duplicate_key_is_refused(repo: Path) -> None:
    (repo / "environments/dev/kustomization.yaml").write_text("images:\n  - name: aegis/api\n    newTag: 1\n    newTag: 2\n")
    git(repo, "commit", "-qam", "dup")
    assert_refused(repo, ["image", "set", "dev", "aegis/api:1.4.2"], 1,
                   "error: environments/dev/kustomization.yaml:4:5: duplicate key 'newTag' (first defined on line 3)\n"
                   "hint: remove one of them; kustomize and Helm refuse duplicate keys\n")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("aegis/API:1.4.2", 'invalid image spec \'aegis/API:1.4.2\': invalid image name "aegis/API": the repository '
                            'path must be lowercase ("API" is not allowed here)'),
        ("aegis/api:", "invalid image spec 'aegis/api:': nothing after ':'"),
        ("aegis/api", "invalid image spec 'aegis/api': no tag or digest to set"),
        ("aegis/api:" + "x" * 129, "invalid image spec 'aegis/api:" + "x" * 129 + "': invalid tag \"" + "x" * 129
         + "\": the tag is 129 characters long (at most 128 are allowed)"),
        ("aegis/api@sha256:abc", "invalid image spec 'aegis/api@sha256:abc': invalid digest \"sha256:abc\": a sha256 "
                                 "digest has exactly 64 hex digits, this one has 3"),
        ("aegis/api=a=b:1", "invalid image spec 'aegis/api=a=b:1': more than one '='"),
        ("aegis/api:1.0 ", "invalid image spec 'aegis/api:1.0 ': it is empty or contains blanks"),
    ],
)
def test_invalid_spec(repo: Path, spec: str, message: str) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", spec)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == f"error: {message}"
    assert tree_bytes(repo) == before and log_count(repo) == 1


def test_invalid_spec_among_valid_ones_writes_nothing(repo: Path) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api:1.4.2", "aegis/recommendation:bad tag")
    assert r.returncode == 1 and tree_bytes(repo) == before


def test_same_image_twice(repo: Path) -> None:
    assert_refused(repo, ["image", "set", "dev", "aegis/api:1.4.2", "aegis/api:1.4.3"], 1,
                   "error: image aegis/api is given twice ('aegis/api:1.4.2' and 'aegis/api:1.4.3')\n"
                   "hint: give each image once\n")


def test_two_kustomization_files(repo: Path) -> None:
    (repo / "environments/dev/Kustomization").write_text(DEV)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    assert_refused(repo, ["image", "set", "dev", "aegis/api:1.4.2"], 1,
                   "error: environments/dev: more than one kustomization file: kustomization.yaml, Kustomization\n"
                   "hint: keep one of them; kustomize refuses to build this directory\n")


def test_unknown_environment(repo: Path) -> None:
    assert_refused(repo, ["image", "set", "qa", "aegis/api:1.4.2"], 1,
                   "error: unknown environment 'qa', and no directory of that name\n"
                   "hint: known environments: dev, staging, prod; or give the path of an overlay directory\n")


def test_target_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text(DEV)
    assert_refused(repo, ["image", "set", "../elsewhere", "aegis/api:1.4.2"], 1,
                   f"error: ../elsewhere: outside the repository {repo}\n"
                   "hint: give a directory inside the repository (or run from the checkout it belongs to)\n")
    assert (outside / "kustomization.yaml").read_text() == DEV


def test_symlink_escaping_the_repository(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text(DEV)
    (repo / "environments/evil").mkdir()
    (repo / "environments/evil/kustomization.yaml").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    assert_refused(repo, ["image", "set", "environments/evil", "aegis/api:1.4.2"], 1,
                   "error: environments/evil/kustomization.yaml: resolves (through a symbolic link or '..') to "
                   f"{outside}, outside the repository\n"
                   "hint: replace the link with the file itself; nothing was read or written\n")
    assert outside.read_text() == DEV


def test_mutable_tag_in_protected_environment(repo: Path) -> None:
    assert_refused(repo, ["image", "set", "prod", "aegis/api=*:latest"], 1,
                   "error: environments/prod/kustomization.yaml: images[name=aegis/api].newTag: prod is protected "
                   "and refuses the mutable tag 'latest'\n"
                   "hint: use an immutable version tag or a digest (policy refuse_mutable_tags in gitops-tools.yaml)\n")


def test_invalid_config(repo: Path) -> None:
    (repo / "gitops-tools.yaml").write_text(CONFIG.replace("protected: true", "protectd: true"))
    git(repo, "commit", "-qam", "typo")
    assert_refused(repo, ["image", "set", "dev", "aegis/api:1.4.2"], 1,
                   "error: gitops-tools.yaml:5:5: environments[2].protectd: unknown key \"protectd\"\n"
                   "hint: did you mean \"protected\"? keys allowed here: name, path, protected\n")


def test_uncommitted_changes_are_not_swept_into_the_commit(repo: Path) -> None:
    path = repo / "environments/dev/kustomization.yaml"
    path.write_text(DEV + "# local edit\n")
    r = run(repo, "image", "set", "dev", "aegis/api:1.4.2")
    assert r.returncode == 1
    assert r.stderr == ("error: uncommitted changes in environments/dev/kustomization.yaml\n"
                        "hint: commit or discard them first (git diff shows them), or pass --no-commit\n")
    assert path.read_text() == DEV + "# local edit\n" and log_count(repo) == 1


def test_other_staged_work_is_left_out_of_the_commit(repo: Path) -> None:
    (repo / "notes.txt").write_text("staged, unrelated\n")
    git(repo, "add", "notes.txt")
    assert run(repo, "image", "set", "dev", "aegis/api=*:1.4.2").returncode == 0
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "environments/dev/kustomization.yaml\n"
    assert git(repo, "status", "--porcelain") == "A  notes.txt\n"


@pytest.mark.parametrize(
    ("args", "stderr_line"),
    [
        (["image", "set"], "Error: Missing argument 'TARGET'."),
        (["image", "set", "dev"], "error: give at least one SPEC (e.g. 'aegis/api=*:1.4.2') or --setter"),
        (["image", "set", "--frobnicate", "dev", "aegis/api:1"], "Error: No such option '--frobnicate'."),
        (["image", "set", "-o", "yaml", "dev", "aegis/api:1"],
         "Error: Invalid value for '-o' / '--output': 'yaml' is not one of 'text', 'json'."),
    ],
)
def test_usage_errors_exit_2(repo: Path, args: list[str], stderr_line: str) -> None:
    before = tree_bytes(repo)
    r = run(repo, *args)
    assert r.returncode == 2
    assert stderr_line in r.stderr.splitlines()
    assert tree_bytes(repo) == before


def test_rejected_commit_restores_the_files(repo: Path) -> None:
    hook = repo / ".git/hooks/pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'policy says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 1
    assert "policy says no" in r.stderr
    assert tree_bytes(repo) == before and log_count(repo) == 1
    assert git(repo, "status", "--porcelain") == ""


def test_interrupted_run_exits_130_and_leaves_the_checkout_clean(repo: Path) -> None:
    hook = repo / ".git/hooks/pre-commit"
    marker = repo.parent / "hook-started"
    stalling_hook(hook, marker, 30)
    before = tree_bytes(repo)
    proc = subprocess.Popen([sys.executable, "-m", "gitops_tools", "image", "set", "dev", "aegis/api=*:1.4.2"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the hook never ran"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "interrupted: files are as before, or as after a commit that landed"
    assert tree_bytes(repo) == before and log_count(repo) == 1
    assert git(repo, "status", "--porcelain") == ""
    # and the next run lands the change
    hook.unlink()
    assert run(repo, "image", "set", "dev", "aegis/api=*:1.4.2").returncode == 0
    assert log_count(repo) == 2
