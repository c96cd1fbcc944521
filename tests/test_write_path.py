"""The write path (DESIGN §3.7): --repo-url clones, pushes, merge requests, CI identity and trailers, secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, make_checkout
from tests.conftest import run_cli as run

CONFIG = """\
environments:
  - name: dev
  - name: prod
    protected: true
policies:
  only_from_previous: false  # these tests set prod directly: they are about pushing, not about promotion
"""
KUST = """\
images:
  - name: aegis/api
    newName: registry.gitlab.com/aegis/app/api
    newTag: 1.4.1
  - name: aegis/web
    newTag: 2.0.0
"""
TOKEN = "glpat-Sup3rS3cretT0ken"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository holding a small GitOps tree on main: the "GitLab" of these tests."""
    src = make_checkout(tmp_path / "seed", {
        "gitops-tools.yaml": CONFIG,
        "environments/dev/kustomization.yaml": KUST,
        "environments/prod/kustomization.yaml": KUST,
    })
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    return bare


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "job"
    d.mkdir()
    return d




def install_hook(path: Path, body: str) -> Path:
    """Install ``body`` as the shell hook at ``path`` (the hooks directory need not exist)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def show(remote: Path, path: str, rev: str = "main") -> str:
    return git(remote, "show", f"{rev}:{path}")


def test_repo_url_clones_commits_pushes_and_cleans_up(remote: Path, workdir: Path) -> None:
    before = git(remote, "rev-parse", "main").strip()
    r = run(workdir, "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "pushed to main"
    assert show(remote, "environments/dev/kustomization.yaml") == KUST.replace("1.4.1", "1.4.2", 1)
    assert git(remote, "rev-parse", "main~1").strip() == before
    assert list((workdir.parent / "tmp").iterdir()) == []  # the clone is gone
    assert list(workdir.iterdir()) == []  # and nothing was written where the job ran


def test_repo_url_from_the_environment_and_the_wrapper_script(remote: Path, workdir: Path) -> None:
    bindir = Path(sys.executable).parent
    r = subprocess.run([str(ROOT / "scripts/update-image.sh"), "dev", "aegis/web", "2.1.0"], cwd=workdir,
                       capture_output=True, text=True,
                       env={**os.environ, "GITOPS_REPO_URL": f"file://{remote}",
                            "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    assert show(remote, "environments/dev/kustomization.yaml") == KUST.replace("newTag: 2.0.0", "newTag: 2.1.0")


def test_same_change_again_pushes_nothing(remote: Path, workdir: Path) -> None:
    assert run(workdir, "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.2").returncode == 0
    head = git(remote, "rev-parse", "main").strip()
    r = run(workdir, "-o", "json", "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert (data["changed"], data["commit"], data["pushed"]) == (False, None, None)
    assert git(remote, "rev-parse", "main").strip() == head


def test_late_older_tag_is_skipped_and_nothing_pushed(remote: Path, workdir: Path) -> None:
    assert run(workdir, "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.5.0").returncode == 0
    head = git(remote, "rev-parse", "main").strip()
    r = run(workdir, "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.9")
    assert r.returncode == 0
    assert r.stdout == (
        "environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 1.4.9 is older than 1.5.0; skipped "
        "(pass --allow-downgrade to roll back on purpose)\n"
    )
    assert git(remote, "rev-parse", "main").strip() == head


def test_ci_identity_trailers_and_skip_ci(remote: Path, workdir: Path) -> None:
    ci = {
        "GITLAB_USER_NAME": "Jane Builder", "GITLAB_USER_EMAIL": "jane@example.com",
        "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567", "CI_PROJECT_PATH": "aegis/api",
        "CI_PIPELINE_URL": "https://gitlab.com/aegis/api/-/pipelines/42",
    }
    r = run(workdir, "image", "set", "--skip-ci", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.2", env=ci)
    assert r.returncode == 0, r.stderr
    assert git(remote, "log", "-1", "--format=%an <%ae>", "main") == "Jane Builder <jane@example.com>\n"
    message = git(remote, "log", "-1", "--format=%B", "main")
    # landed through a pending ref (DESIGN §3.14): its fold trailer closes the change's trailer block
    message = re.sub(r"Gitops-Fold: [0-9]{20}-[0-9a-f]{8} landed\n", "", message)
    assert message == (
        "chore(dev): set aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2"
        " [skip ci]\n\n"
        "- environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 1.4.1 -> 1.4.2\n\n"
        "Gitops-Action: set-image\n"
        "Gitops-Change: dev aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> registry.gitlab.com/aegis/app/api:1.4.2\n"
        "Gitops-Source-Project: aegis/api\n"
        "Gitops-Source-Commit: 0123456789abcdef0123456789abcdef01234567\n"
        "Gitops-Pipeline: https://gitlab.com/aegis/api/-/pipelines/42\n"
        "Gitops-Triggered-By: jane@example.com\n\n"
    )


def test_commits_without_any_git_identity(remote: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare CI container has no user.name/email; the commit still lands, by gitops-tools."""
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    r = run(workdir, "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert git(remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main") == (
        "gitops-tools <gitops-tools@localhost>|gitops-tools <gitops-tools@localhost>\n")


def test_protected_environment_opens_a_merge_request_through_push_options(remote: Path, workdir: Path) -> None:
    git(remote, "config", "receive.advertisePushOptions", "true")
    record = remote.parent / "push-options.txt"
    install_hook(
        remote / "hooks/pre-receive",
        f"{{ read old new ref; echo \"ref=$ref\"; i=0; while [ $i -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n"
        f"  eval \"echo \\\"\\$GIT_PUSH_OPTION_$i\\\"\"; i=$((i+1)); done; echo ---; }} >> {record}\n"
    )
    main_before = git(remote, "rev-parse", "main").strip()
    r = run(workdir, "image", "set", "--repo-url", f"file://{remote}", "prod", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    branch = r.stdout.splitlines()[-1].split()[1]
    assert branch.startswith("gitops/prod/set-image-")
    assert git(remote, "rev-parse", "main").strip() == main_before  # prod's branch is untouched
    assert show(remote, "environments/prod/kustomization.yaml", branch) == KUST.replace("1.4.1", "1.4.2", 1)
    subject = ("chore(prod): set aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> "
               "registry.gitlab.com/aegis/app/api:1.4.2")
    assert record.read_text() == (
        f"ref=refs/heads/{branch}\n"
        "merge_request.create\n"
        "merge_request.target=main\n"
        f"merge_request.title={subject}\n"
        "merge_request.description=prod aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> "
        "registry.gitlab.com/aegis/app/api:1.4.2\n"
        "merge_request.remove_source_branch\n"
        "---\n"
    )
    # The same change again updates the same branch: no second merge request branch.
    r = run(workdir, "image", "set", "--repo-url", f"file://{remote}", "prod", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].split()[1] == branch
    assert [b.strip() for b in git(remote, "branch", "--list", "gitops/*").splitlines()] == [branch]
    # Another change is another merge request, here asking GitLab to merge when the pipeline passes.
    r = run(workdir, "image", "set", "--merge-when-pipeline-succeeds", "--repo-url", f"file://{remote}", "prod",
            "aegis/web=*:2.1.0")
    assert r.returncode == 0, r.stderr
    second = r.stdout.splitlines()[-1].split()[1]
    assert second != branch
    assert record.read_text().endswith("merge_request.remove_source_branch\nmerge_request.merge_when_pipeline_succeeds\n---\n")
    assert show(remote, "environments/prod/kustomization.yaml", second) == KUST.replace("newTag: 2.0.0", "newTag: 2.1.0")


def test_protected_environment_refuses_a_remote_without_push_options(remote: Path, workdir: Path) -> None:
    r = run(workdir, "image", "set", "--repo-url", f"file://{remote}", "prod", "aegis/api=*:1.4.2")
    assert r.returncode == 1
    assert "the receiving end does not support push options" in r.stderr
    assert [b for b in git(remote, "branch", "--list", "gitops/*").splitlines()] == []


def test_push_from_a_checkout(remote: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    r = run(checkout, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert git(remote, "rev-parse", "main") == git(checkout, "rev-parse", "HEAD")


def test_push_from_a_checkout_keeps_unrelated_staged_work_through_a_race(remote: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "README.md").write_text("theirs\n")
    git(other, "add", "README.md")
    git(other, "commit", "-qm", "docs: theirs")
    (checkout / "NOTES.md").write_text("mine, staged\n")
    git(checkout, "add", "NOTES.md")
    install_hook(checkout / ".git/hooks/pre-push",  # another writer lands just before our first push
                 f"[ -e '{tmp_path}/raced' ] && exit 0\ntouch '{tmp_path}/raced'\n"
                 f"git -C '{other}' push -q origin main\n")

    r = run(checkout, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")

    assert r.returncode == 0, r.stderr
    assert git(remote, "log", "--format=%s", "-2", "main").splitlines()[1] == "docs: theirs"
    assert "newTag: 1.4.2" in show(remote, "environments/dev/kustomization.yaml")
    assert git(checkout, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert git(checkout, "status", "--porcelain") == "A  NOTES.md\n"  # still staged, as the user left it


def test_refused_push_from_a_checkout_keeps_unrelated_staged_work(remote: Path, tmp_path: Path) -> None:
    install_hook(remote / "hooks/pre-receive", "echo 'closed' >&2\nexit 1\n")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    (checkout / "NOTES.md").write_text("mine, staged\n")
    git(checkout, "add", "NOTES.md")
    head = git(checkout, "rev-parse", "HEAD")

    r = run(checkout, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")

    assert r.returncode == 1
    assert r.stderr.endswith("; the commit was undone in this checkout\n")
    assert git(checkout, "rev-parse", "HEAD") == head
    assert git(checkout, "status", "--porcelain") == "A  NOTES.md\n"
    assert (checkout / "environments/dev/kustomization.yaml").read_text() == KUST


def test_a_failure_while_retrying_leaves_no_commit_in_the_checkout(remote: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    head = git(checkout, "rev-parse", "HEAD")
    gone = remote.with_name("remote.gone")
    hook = install_hook(checkout / ".git/hooks/pre-push",  # looks like "someone was first", then the remote is gone
                        f"mv '{remote}' '{gone}'\necho ' ! [rejected] main -> main (fetch first)' >&2\nexit 1\n")

    r = run(checkout, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")

    assert r.returncode == 75, r.stderr
    assert r.stderr.startswith("error: git fetch failed:")
    assert r.stderr.endswith("hint: retry later (exit 75); the commit was undone in this checkout\n")
    assert git(checkout, "rev-parse", "HEAD") == head
    assert git(checkout, "status", "--porcelain") == ""
    gone.rename(remote)
    hook.unlink()
    r = run(checkout, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")  # the next run just works
    assert r.returncode == 0, r.stderr
    assert "newTag: 1.4.2" in show(remote, "environments/dev/kustomization.yaml")


def test_relative_repo_url_is_read_from_where_the_command_runs(remote: Path, workdir: Path) -> None:
    r = run(workdir, "image", "set", "--repo-url", "../remote.git", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert "newTag: 1.4.2" in show(remote, "environments/dev/kustomization.yaml")


def test_push_from_a_checkout_with_unpushed_work_is_refused(remote: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    (checkout / "notes.txt").write_text("local\n")
    git(checkout, "add", "notes.txt")
    git(checkout, "commit", "-qm", "local work")
    r = run(checkout, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 1
    assert r.stderr.startswith("error: the checkout is not at origin/main")
    assert show(remote, "environments/dev/kustomization.yaml") == KUST
    assert (checkout / "environments/dev/kustomization.yaml").read_text() == KUST


# --- secrets ------------------------------------------------------------------------------------------------


def assert_no_token(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert "U3VwM3JTM2NyZXRUMGtlbg" not in text  # nor its base64 form


@pytest.mark.parametrize("url", ["http://oauth2:{t}@127.0.0.1:9/aegis/gitops.git", "http://127.0.0.1:9/aegis/gitops.git"])
def test_token_never_printed_against_a_refused_port(url: str, workdir: Path) -> None:
    r = run(workdir, "-v", "image", "set", "--repo-url", url.format(t=TOKEN), "dev", "aegis/api=*:1.4.2",
            env={"GITOPS_TOKEN": TOKEN})
    assert r.returncode == 75
    assert "Failed to connect to 127.0.0.1 port 9" in r.stderr
    assert "$ git clone --quiet --depth 1 --single-branch --no-tags --sparse -- http://127.0.0.1:9/aegis/gitops.git" in r.stderr
    assert_no_token(r.stdout, r.stderr)
    r = run(workdir, "-v", "-o", "json", "image", "set", "--repo-url", url.format(t=TOKEN), "dev", "aegis/api=*:1.4.2",
            env={"CI_JOB_TOKEN": TOKEN})
    assert r.returncode == 75
    assert_no_token(r.stdout, r.stderr)


def test_token_never_written_or_printed_on_a_failing_push(remote: Path, tmp_path: Path) -> None:
    install_hook(remote / "hooks/pre-receive", 'echo "rejected: header was $(env | grep -c extraHeader)" >&2\nexit 1\n')
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    r = run(checkout, "-v", "image", "set", "--push", "dev", "aegis/api=*:1.4.2", env={"GITOPS_TOKEN": TOKEN})
    assert r.returncode == 1
    assert "push to main rejected:" in r.stderr and "rejected: header was 0" in r.stderr
    assert_no_token(r.stdout, r.stderr)
    for path in (checkout / ".git").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    r = run(tmp_path, "-v", "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/api=*:1.4.3",
            env={"GITOPS_TOKEN": TOKEN})
    assert r.returncode == 1
    assert_no_token(r.stdout, r.stderr)


def test_token_in_the_url_is_masked_in_messages(remote: Path, workdir: Path) -> None:
    """A token a user put into the URL itself is masked too, even where git would print the URL."""
    url = f"file://{remote}-missing"
    r = run(workdir, "-v", "image", "set", "--repo-url", f"https://user:{TOKEN}@127.0.0.1:9/x.git", "dev",
            "aegis/api=*:1.4.2")
    assert r.returncode == 75
    assert_no_token(r.stdout, r.stderr)
    r = run(workdir, "image", "set", "--repo-url", url, "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 75
    assert "does not appear to be a git repository" in r.stderr or "not a git repository" in r.stderr


# --- signed commits (commit.sign in gitops-tools.yaml) -----------------------------------------------------


def signing_checkout(remote: Path, tmp_path: Path, key: bool) -> Path:
    """A clone whose gitops-tools.yaml asks for signed commits; with ``key``, git signs with an SSH key."""
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    (checkout / "gitops-tools.yaml").write_text(CONFIG + "commit:\n  sign: true\n")
    git(checkout, "commit", "-qam", "chore: sign commits")
    if key:
        keyfile = tmp_path / "signing-key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(keyfile)], check=True)
        allowed = tmp_path / "allowed-signers"
        allowed.write_text("committer@example.com " + (tmp_path / "signing-key.pub").read_text())
        git(checkout, "config", "gpg.format", "ssh")
        git(checkout, "config", "user.signingkey", str(keyfile))
        git(checkout, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    return checkout


def test_commit_sign_signs_the_commit(remote: Path, tmp_path: Path) -> None:
    checkout = signing_checkout(remote, tmp_path, key=True)
    r = run(checkout, "image", "set", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert git(checkout, "log", "-1", "--format=%G? %GS %s") == (
        "G committer@example.com chore(dev): set aegis/api registry.gitlab.com/aegis/app/api:1.4.1 -> "
        "registry.gitlab.com/aegis/app/api:1.4.2\n")


def test_commit_sign_without_a_key_fails_and_writes_nothing(remote: Path, tmp_path: Path) -> None:
    checkout = signing_checkout(remote, tmp_path, key=False)
    git(checkout, "config", "gpg.program", str(tmp_path / "no-such-gpg"))  # no key, no signer: git must refuse
    head = git(checkout, "rev-parse", "HEAD")
    r = run(checkout, "image", "set", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("error: gitops-tools.yaml: commit.sign: the commit could not be signed (fatal: cannot "
                               f"run {tmp_path / 'no-such-gpg'}: ")
    assert lines[0].endswith("; error: gpg failed to sign the data; fatal: failed to write commit object); "
                             "nothing was written")
    assert lines[1:] == ["hint: give git a signing key (git config user.signingkey KEY, and gpg.format ssh for an SSH "
                         "key), or set commit.sign: false"]
    assert git(checkout, "rev-parse", "HEAD") == head
    assert git(checkout, "status", "--porcelain") == ""  # the edited file was put back
