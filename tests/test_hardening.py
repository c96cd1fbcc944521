"""What a new user and an attacker broke in one afternoon (issue 10), each as the class it belongs to.

Real processes, real git checkouts and bare remotes, real signals; every test here failed before its fix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, make_checkout, tree_bytes
from tests.conftest import run_cli as run

CONFIG = """\
environments:
  - name: dev
  - name: staging
  - name: prod
    protected: true
images:
  aegis/recommendation:
    values:
      - file: values.yaml
        key: trainer.image.tag
"""

KUST = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: aegis-{env}
images:
  - name: aegis/api
    newName: registry.example.com/aegis/api  # the path CI pushes to
    newTag: {api}
  - name: aegis/recommendation
    newTag: 2.0.0
"""

VALUES = """\
trainer:
  image:
    repository: registry.example.com/aegis/recommendation
    tag: 2.0.0  # follows the kustomization
"""




def popen(cwd: Path, *args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gitops_tools", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            **kw)  # type: ignore[call-overload]


def files(api: str = "1.4.1") -> dict[str, str | bytes]:
    out: dict[str, str | bytes] = {"gitops-tools.yaml": CONFIG}
    for env in ("dev", "staging", "prod"):
        out[f"environments/{env}/kustomization.yaml"] = KUST.format(env=env, api=api)
        out[f"environments/{env}/values.yaml"] = VALUES
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "gitops", files())


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def commits(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD"))


def refused(r: subprocess.CompletedProcess[str], code: int, stderr: str) -> None:
    assert (r.returncode, r.stderr) == (code, stderr), r.stdout


def bare_remote(tmp_path: Path, seed: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def hook(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def wait_for(path: Path, what: str) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def blocking_hook(path: Path, started: Path, release: Path) -> None:
    """A hook that says it started, then waits (at most 30 s) until the test releases it."""
    hook(path, f"touch '{started}'\ni=0\nwhile [ ! -e '{release}' ] && [ $i -lt 600 ]; do sleep 0.05; "
               "i=$((i+1)); done\n")


# --- 1. every write takes the lock, commit or not ------------------------------------------------------------


def many(n: int) -> str:
    lines = ["images:"]
    for i in range(n):
        lines += [f"  - name: team/app{i:02d}", "    newTag: 1.0.0"]
    return "\n".join(lines) + "\n"


def test_twenty_concurrent_runs_without_a_commit_lose_nothing_in_a_checkout(tmp_path: Path) -> None:
    n = 20
    repo = make_checkout(tmp_path / "gitops", {"gitops-tools.yaml": "environments:\n  - name: dev\n",
                                               "environments/dev/kustomization.yaml": many(n)})
    procs = [popen(repo, "image", "set", "--no-commit", "dev", f"team/app{i:02d}=*:1.0.{i + 1}") for i in range(n)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    images = yaml.safe_load((repo / "environments/dev/kustomization.yaml").read_text())["images"]
    assert [e["newTag"] for e in images] == [f"1.0.{i + 1}" for i in range(n)]
    assert commits(repo) == 1


def test_twenty_concurrent_runs_in_a_plain_directory_lose_nothing(tmp_path: Path) -> None:
    n = 20
    work = tmp_path / "work"
    (work / "overlay").mkdir(parents=True)
    (work / "overlay/kustomization.yaml").write_text("resources: []\n")
    procs = [popen(work, "image", "set", "overlay", f"team/app{i:02d}:1.0.{i}") for i in range(n)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    images = yaml.safe_load((work / "overlay/kustomization.yaml").read_text())["images"]
    assert sorted(e["name"] for e in images) == [f"team/app{i:02d}" for i in range(n)]
    assert sorted(os.listdir(work)) == ["overlay"]  # the lock lives outside the user's tree
    assert sorted(os.listdir(work / "overlay")) == ["kustomization.yaml"]


def test_a_symlinked_lock_file_is_refused_not_followed(repo: Path, tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (repo / ".git/gitops-tools.lock").symlink_to(victim)
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2")
    lock = repo / ".git/gitops-tools.lock"
    refused(r, 1, f"error: {lock} is a symbolic link; gitops-tools does not follow one to lock\n"
                  f"hint: remove it (rm {lock}): gitops-tools creates the lock file itself\n")
    assert victim.read_text() == "keep me\n" and tree_bytes(repo) == before and commits(repo) == 1


# --- 2. nothing from outside the repository, however it was found ----------------------------------------------


def test_a_symlink_out_of_the_checkout_is_refused_when_run_from_outside(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("# not for git\n" + KUST.format(env="leak", api="1.4.1"))
    (repo / "environments/leak").mkdir()
    (repo / "environments/leak/kustomization.yaml").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a link")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run(elsewhere, "image", "set", str(repo / "environments/leak"), "aegis/api=*:1.4.2")
    refused(r, 1, f"error: environments/leak/kustomization.yaml: resolves (through a symbolic link or '..') to "
                  f"{outside}, outside the repository\n"
                  "hint: replace the link with the file itself; nothing was read or written\n")
    assert commits(repo) == 2
    assert "not for git" not in git(repo, "log", "-p", "--all")
    assert outside.read_text().startswith("# not for git\n")


def test_an_environment_directory_linked_out_of_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere-env"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text(KUST.format(env="dev", api="1.4.1"))
    git(repo, "rm", "-rq", "environments/dev")
    (repo / "environments/dev").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dev elsewhere")
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: environments/dev: resolves (through a symbolic link or '..') to {outside}, "
                               "outside the repository\n")
    assert (outside / "kustomization.yaml").read_text() == KUST.format(env="dev", api="1.4.1")


# --- 3. interrupts leave every file as before or as after ------------------------------------------------------


def test_an_interrupt_between_two_renames_leaves_all_files_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               ) -> None:
    """Ctrl-C arriving right after the first of two files was renamed into place: both end new, then the
    interrupt is raised (before the fix the second file stayed old)."""
    from gitops_tools import files as files_module

    a, b = tmp_path / "kustomization.yaml", tmp_path / "values.yaml"
    a.write_text("old a\n")
    b.write_text("old b\n")
    real = os.replace
    renamed: list[str] = []

    def replace_then_interrupt(src: str, dst: str) -> None:
        real(src, dst)
        renamed.append(Path(dst).name)
        if len(renamed) == 1:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(files_module.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        files_module.write_all({a: "new a\n", b: "new b\n"})
    assert (a.read_text(), b.read_text()) == ("new a\n", "new b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kustomization.yaml", "values.yaml"]  # no temp files


def test_an_interrupt_while_the_new_texts_are_staged_changes_nothing(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from gitops_tools import files as files_module

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("old a\n")
    b.write_text("old b\n")
    real = os.fsync
    calls: list[int] = []

    def fsync_then_interrupt(fd: int) -> None:
        real(fd)
        calls.append(fd)
        if len(calls) == 2:  # both staged, none renamed yet
            raise KeyboardInterrupt

    monkeypatch.setattr(files_module.os, "fsync", fsync_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        files_module.write_all({a: "new a\n", b: "new b\n"})
    assert (a.read_text(), b.read_text()) == ("old a\n", "old b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]


def test_ctrl_c_during_a_two_file_commit_restores_both(repo: Path) -> None:
    started, release = repo.parent / "started", repo.parent / "release"
    blocking_hook(repo / ".git/hooks/pre-commit", started, release)
    before = tree_bytes(repo)
    p = popen(repo, "image", "set", "dev", "aegis/recommendation=*:2.1.0", start_new_session=True)
    wait_for(started, "the hook never ran")
    os.killpg(p.pid, signal.SIGINT)  # the terminal's Ctrl-C: the tool, git and the hook
    _, err = p.communicate(timeout=30)
    release.touch()
    assert p.returncode == 130, err
    assert err.splitlines()[-1] == "interrupted: files are as before, or as after a commit that landed"
    assert tree_bytes(repo) == before and commits(repo) == 1
    assert git(repo, "status", "--porcelain") == ""


def test_sigterm_is_handled_like_ctrl_c_and_exits_143(repo: Path) -> None:
    """A cancelled CI job's SIGTERM (to the tool alone) while git commits: the commit is let finish, the files
    agree with HEAD, exit 143."""
    started, release = repo.parent / "started", repo.parent / "release"
    blocking_hook(repo / ".git/hooks/pre-commit", started, release)
    p = popen(repo, "image", "set", "dev", "aegis/recommendation=*:2.1.0")
    wait_for(started, "the hook never ran")
    p.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    release.touch()
    _, err = p.communicate(timeout=30)
    assert p.returncode == 143, err
    assert err.splitlines()[-1] == "terminated (SIGTERM): files are as before, or as after a commit that landed"
    assert commits(repo) == 2  # the commit had begun: it landed, and the files are the ones it holds
    assert git(repo, "status", "--porcelain") == ""
    assert "tag: 2.1.0" in (repo / "environments/dev/values.yaml").read_text()


def test_sigterm_while_pushing_a_clone_removes_the_clone(tmp_path: Path) -> None:
    seed = make_checkout(tmp_path / "seed", files())
    bare = bare_remote(tmp_path, seed)
    started, release = tmp_path / "started", tmp_path / "release"
    blocking_hook(bare / "hooks/pre-receive", started, release)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    work = tmp_path / "job"
    work.mkdir()
    p = popen(work, "image", "set", "--repo-url", f"file://{bare}", "dev", "aegis/api=*:1.4.2",
              env={"TMPDIR": str(scratch)})
    wait_for(started, "the push never reached the remote")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    release.touch()
    assert p.returncode == 143, err
    assert [e.name for e in scratch.iterdir() if "gitops-tools" in e.name and "locks" not in e.name] == []


def test_the_clone_of_a_killed_run_is_removed_by_the_next_run(tmp_path: Path) -> None:
    seed = make_checkout(tmp_path / "seed", files())
    bare = bare_remote(tmp_path, seed)
    started, release = tmp_path / "started", tmp_path / "release"
    blocking_hook(bare / "hooks/pre-receive", started, release)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    work = tmp_path / "job"
    work.mkdir()
    env = {"TMPDIR": str(scratch)}
    p = popen(work, "image", "set", "--repo-url", f"file://{bare}", "dev", "aegis/api=*:1.4.2", env=env)
    wait_for(started, "the push never reached the remote")
    p.kill()  # SIGKILL: nothing of the tool runs any more
    p.communicate(timeout=30)
    release.touch()
    time.sleep(0.5)  # the orphaned git push finishes
    left = [e.name for e in scratch.iterdir() if e.name.startswith("gitops-tools-")]
    assert len(left) == 1, left  # what the killed run could not remove
    (bare / "hooks/pre-receive").unlink()
    r = run(work, "image", "set", "--repo-url", f"file://{bare}", "dev", "aegis/api=*:1.4.3", env=env)
    assert r.returncode == 0, r.stderr
    assert [e.name for e in scratch.iterdir() if e.name.startswith(("gitops-tools-", ".setup-gitops-tools-"))] == []


# --- 5. trailers cannot be forged ------------------------------------------------------------------------------


@pytest.mark.parametrize(("var", "value"), [
    ("CI_PIPELINE_URL", "https://gitlab.com/aegis/api/-/pipelines/7\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6"),
    ("GITLAB_USER_EMAIL", "dev@example.com\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6"),
    ("CI_PROJECT_PATH", "aegis/api\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6"),
    ("CI_COMMIT_SHA", "0123456\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6"),
    ("CI_PIPELINE_ID", "12\r\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6"),
])
def test_a_ci_variable_with_a_line_break_is_refused(repo: Path, var: str, value: str) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2", env={var: value})
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: {var} {value!r} contains a line break, so it would forge or break lines "
                               "of the commit message\n")
    assert tree_bytes(repo) == before and commits(repo) == 1


def test_a_ci_variable_that_is_not_what_gitlab_sets_is_refused(repo: Path) -> None:
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2", env={"CI_COMMIT_SHA": "not-a-sha"})
    refused(r, 1, "error: CI_COMMIT_SHA 'not-a-sha' is not what GitLab CI sets (a 40-hex-digit commit)\n"
                  "hint: fix or unset CI_COMMIT_SHA: it goes into the commit's Gitops-Source-Commit trailer; "
                  "nothing was written\n")


def test_a_directory_name_with_a_line_break_is_refused(repo: Path) -> None:
    name = "ov\nGitops-Change: prod api 1.0 -> 6.6.6"
    (repo / name).mkdir()
    (repo / name / "kustomization.yaml").write_text("images:\n  - name: api\n    newTag: 1.0.0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "odd overlay")
    r = run(repo, "image", "set", name, "api:2.0.0")
    assert r.returncode == 1
    assert "contains a line break, so it would forge or break lines of the commit message" in r.stderr
    assert commits(repo) == 2 and git(repo, "status", "--porcelain") == ""


def test_history_believes_a_trailer_only_for_what_its_commit_changed(repo: Path) -> None:
    path = repo / "environments/dev/kustomization.yaml"
    path.write_text(path.read_text().replace("newTag: 1.4.1", "newTag: 1.4.2"))
    git(repo, "commit", "-qam", "chore(dev): bump\n\nGitops-Action: set-image\n"
                                "Gitops-Change: dev aegis/api 1.4.1 -> 1.4.2\n"
                                "Gitops-Change: prod aegis/api 1.4.1 -> 6.6.6\n")
    events = json.loads(run(repo, "-o", "json", "history", "--image", "aegis/api").stdout)["events"]
    assert [(e["env"], e["new"]) for e in events] == [("dev", "1.4.2")]
    prod = json.loads(run(repo, "-o", "json", "history", "prod").stdout)["events"]
    assert [(e["action"], e["image"]) for e in prod] == [("manual", None)]  # the initial commit, by hand


# --- 6. an image name the environment does not have ------------------------------------------------------------


def test_an_unknown_image_name_is_refused_listing_the_known_ones(repo: Path) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "registry.example.com/aegis/web=*:1.4.3")
    refused(r, 1, "error: environments/dev/kustomization.yaml: images[name=registry.example.com/aegis/web]: not found "
                  "in dev (known: aegis/api (registry.example.com/aegis/api), aegis/recommendation)\n"
                  "hint: give one of the known names (or its newName), or pass --add to add a new entry\n")
    assert tree_bytes(repo) == before


def test_the_path_ci_pushed_to_matches_the_entry_by_its_new_name(repo: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "scripts/update-image.sh"
    r = subprocess.run([str(script), "dev", "registry.example.com/aegis/api", "1.4.3"], cwd=repo, text=True,
                       capture_output=True, env={**os.environ, "GITOPS_TOOLS": f"{sys.executable} -m gitops_tools"},
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert (repo / "environments/dev/kustomization.yaml").read_text() == KUST.format(env="dev", api="1.4.3")
    assert "Gitops-Change: dev aegis/api registry.example.com/aegis/api:1.4.1 -> registry.example.com/aegis/api:1.4.3" \
        in git(repo, "log", "-1", "--format=%B")
    # the short form by newName keeps newName (it names this image at that tag)
    r = run(repo, "image", "set", "dev", "registry.example.com/aegis/api:1.4.4")
    assert r.returncode == 0, r.stderr
    assert (repo / "environments/dev/kustomization.yaml").read_text() == KUST.format(env="dev", api="1.4.4")


def test_add_adds_a_new_entry_in_an_environment(repo: Path) -> None:
    r = run(repo, "image", "set", "--add", "dev", "aegis/web=registry.example.com/aegis/web:0.1.0")
    assert r.returncode == 0, r.stderr
    assert (repo / "environments/dev/kustomization.yaml").read_text().endswith(
        "  - name: aegis/web\n    newName: registry.example.com/aegis/web\n    newTag: 0.1.0\n")


# --- 8. the downgrade guard beyond semver ----------------------------------------------------------------------


def pipeline(n: int) -> dict[str, str]:
    return {"CI_PIPELINE_ID": str(n), "CI_PIPELINE_IID": str(n - 1000), "CI_PROJECT_PATH": "aegis/api"}


def test_a_late_pipeline_does_not_roll_a_sha_tag_back(repo: Path) -> None:
    r = run(repo, "image", "set", "dev", "aegis/api=*:3f2a1bc", env=pipeline(1200))
    assert r.returncode == 0, r.stderr
    assert "Gitops-Pipeline-Id: 1200" in git(repo, "log", "-1", "--format=%B")
    landed = head(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:9e8d7c6", env=pipeline(1100))  # started earlier, ends later
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 9e8d7c6 comes from "
                        "pipeline 1100, which is older than pipeline 1200 that set 3f2a1bc; skipped (pass "
                        "--allow-downgrade to roll back on purpose)\n")
    assert head(repo) == landed
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.3", env=pipeline(1300))  # a newer pipeline lands
    assert r.returncode == 0, r.stderr
    assert "newTag: \"1.3\"" in (repo / "environments/dev/kustomization.yaml").read_text()


def test_when_nothing_can_order_two_tags_the_change_lands_and_says_so(repo: Path) -> None:
    r = run(repo, "image", "set", "dev", "aegis/api=*:3f2a1bc")
    assert r.returncode == 0, r.stderr
    r = run(repo, "image", "set", "dev", "aegis/api=*:9e8d7c6")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == (
        "note: environments/dev/kustomization.yaml: images[name=aegis/api].newTag: could not order 9e8d7c6 after "
        "3f2a1bc: they are not both semver, and this run is not in a GitLab pipeline (no CI_PIPELINE_ID); set anyway")
    r = run(repo, "-o", "json", "image", "set", "dev", "aegis/api=*:1.3", env=pipeline(1300))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["images"][0]["message"] == (
        "environments/dev/kustomization.yaml: images[name=aegis/api].newTag: could not order 1.3 after 9e8d7c6: "
        "they are not both semver, and the commit that set it (" + git(repo, "rev-parse", "HEAD~1").strip()[:12]
        + ") records no pipeline; set anyway")


def test_the_guard_reads_deeper_history_of_a_shallow_clone(tmp_path: Path) -> None:
    seed = make_checkout(tmp_path / "seed", files())
    assert run(seed, "image", "set", "dev", "aegis/api=*:3f2a1bc", env=pipeline(1200)).returncode == 0
    for i in range(3):  # later commits that do not touch dev
        (seed / f"notes-{i}.md").write_text(f"{i}\n")
        git(seed, "add", "-A")
        git(seed, "commit", "-qm", f"notes {i}")
    bare = bare_remote(tmp_path, seed)
    work = tmp_path / "job"
    work.mkdir()
    before = git(bare, "rev-parse", "main")
    r = run(work, "image", "set", "--repo-url", f"file://{bare}", "dev", "aegis/api=*:9e8d7c6", env=pipeline(1100))
    assert r.returncode == 0, r.stderr
    assert "comes from pipeline 1100, which is older than pipeline 1200 that set 3f2a1bc; skipped" in r.stdout
    assert git(bare, "rev-parse", "main") == before


# --- 9. policies hold for every way in -------------------------------------------------------------------------


def test_image_set_to_prod_takes_only_what_staging_runs(repo: Path) -> None:
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "prod", "aegis/api=*:1.4.2")
    refused(r, 1, "error: environments/prod/kustomization.yaml: images[name=aegis/api]: prod only takes what "
                  "staging runs: aegis/api registry.example.com/aegis/api:1.4.2 is not running in staging\n"
                  "hint: set it in staging first, then promote it (policy only_from_previous in gitops-tools.yaml)\n")
    assert tree_bytes(repo) == before
    assert run(repo, "image", "set", "staging", "aegis/api=*:1.4.2").returncode == 0
    r = run(repo, "image", "set", "prod", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("tag", ["Latest", "LATEST", "Main"])
def test_mutable_tags_are_refused_whatever_their_case(repo: Path, tag: str) -> None:
    r = run(repo, "image", "set", "prod", f"aegis/api=*:{tag}")
    assert r.returncode == 1
    assert f"prod is protected and refuses the mutable tag '{tag}'" in r.stderr


def test_image_set_to_prod_honours_min_age_of_staging(repo: Path) -> None:
    (repo / "gitops-tools.yaml").write_text(CONFIG + "policies:\n  min_age:\n    prod: 2h\n")
    git(repo, "commit", "-qam", "prod waits 2h")
    assert run(repo, "image", "set", "staging", "aegis/api=*:1.4.2").returncode == 0
    r = run(repo, "image", "set", "prod", "aegis/api=*:1.4.2")
    assert r.returncode == 1
    assert r.stderr.startswith("error: aegis/api registry.example.com/aegis/api:1.4.2 has run in staging for 0m")
    assert "less than 2h0m" in r.stderr


# --- 10. duplicate entries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("image", "set", "dev", "aegis/api=*:1.4.2"),
    ("status",),
    ("promote", "dev", "staging"),
])
def test_duplicate_entries_are_refused_everywhere(repo: Path, args: tuple[str, ...]) -> None:
    path = repo / "environments/dev/kustomization.yaml"
    path.write_text(path.read_text() + "  - name: aegis/api\n    newTag: 9.9.9\n")
    git(repo, "commit", "-qam", "a second entry")
    before = tree_bytes(repo)
    r = run(repo, *args)
    refused(r, 1, "error: environments/dev/kustomization.yaml:10:5: images[2]: a second entry for aegis/api (the "
                  "first is on line 5)\nhint: keep one entry per image: kustomize applies both, and which one wins "
                  "depends on their fields\n")
    assert tree_bytes(repo) == before


# --- 11. exit codes ----------------------------------------------------------------------------------------------


def test_an_unreachable_origin_when_pushing_is_temporary(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "http://127.0.0.1:9/gitops.git")
    r = run(repo, "image", "set", "--push", "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 75, r.stderr
    assert r.stderr.startswith("error: git fetch failed: ")
    assert commits(repo) == 1 and git(repo, "status", "--porcelain") == ""


def test_a_tagged_value_is_an_error_naming_the_key(repo: Path) -> None:
    path = repo / "environments/dev/kustomization.yaml"
    path.write_text(path.read_text().replace("newTag: 2.0.0", "newTag: !!int 2"))
    git(repo, "commit", "-qam", "tagged")
    r = run(repo, "image", "set", "dev", "aegis/recommendation=*:2.1.0")
    refused(r, 1, "error: environments/dev/kustomization.yaml:9:13: images[name=aegis/recommendation].newTag: the "
                  "value is tagged !!int, so a new value written there would not load as a string\n"
                  "hint: remove the !!int tag (or write !!str); nothing was written\n")


def test_a_deeply_nested_configuration_is_an_error(repo: Path) -> None:
    (repo / "gitops-tools.yaml").write_text(CONFIG + "commit: " + "[" * 5000 + "]" * 5000 + "\n")
    r = run(repo, "status")
    refused(r, 1, "error: gitops-tools.yaml: invalid YAML: nested too deeply\n"
                  "hint: the configuration is a few levels deep: check the file\n")


def test_a_detached_head_is_not_committed_on(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    before = tree_bytes(repo)
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2")
    refused(r, 1, f"error: HEAD is detached in {repo}: a commit here would belong to no branch\n"
                  "hint: check out a branch first (git switch main), or pass --no-commit; nothing was written\n")
    assert tree_bytes(repo) == before
    assert run(repo, "image", "set", "--no-commit", "dev", "aegis/api=*:1.4.2").returncode == 0


def test_a_rebase_in_progress_is_not_committed_on(repo: Path) -> None:
    (repo / "notes.md").write_text("main\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes on main")
    git(repo, "checkout", "-qb", "topic", "HEAD~1")
    (repo / "notes.md").write_text("topic\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes on topic")
    assert subprocess.run(["git", "rebase", "main"], cwd=repo, capture_output=True).returncode != 0
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2")
    refused(r, 1, f"error: a rebase is in progress in {repo}\n"
                  "hint: finish or abort it first (git status says how), or pass --no-commit; nothing was written\n")


# --- smaller ---------------------------------------------------------------------------------------------------


def test_verbose_after_the_arguments_is_accepted(repo: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "scripts/update-image.sh"
    r = subprocess.run([str(script), "dev", "aegis/api", "1.4.2", "-v"], cwd=repo, text=True, capture_output=True,
                       env={**os.environ, "GITOPS_TOOLS": f"{sys.executable} -m gitops_tools"}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "$ git commit --quiet" in r.stderr


def test_the_first_example_of_image_set_help_keeps_new_name(repo: Path) -> None:
    text = run(repo, "image", "set", "--help").stdout
    first = next(line for line in text.splitlines() if "aegis/api" in line)
    assert "'aegis/api=*:1.4.2'" in first
    top = run(repo, "--help").stdout
    assert next(line for line in top.splitlines() if "image set" in line).strip().startswith(
        "gitops-tools image set dev 'aegis/api=*:1.4.2'")


@pytest.mark.parametrize("since", ["not a date", "2026-13-45", "yesterdayish", ""])
def test_history_since_refuses_what_is_not_a_time(repo: Path, since: str) -> None:
    r = run(repo, "history", "--since", since)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: --since {since!r}: not a date or a time span\n")


@pytest.mark.parametrize("since", ["2.weeks", "3 days ago", "30m", "yesterday", "2026-11-01", "2026-11-01T10:00:00Z"])
def test_history_since_takes_dates_and_spans(repo: Path, since: str) -> None:
    assert run(repo, "history", "--since", since).returncode == 0


def test_status_of_an_unknown_image_is_an_error(repo: Path) -> None:
    refused(run(repo, "status", "--image", "aegis/nope"), 1,
            "error: aegis/nope: set in no environment\nhint: images: aegis/api, aegis/recommendation\n")


def test_dash_c_names_itself(tmp_path: Path) -> None:
    refused(run(tmp_path, "-C", "/nonexistent", "status"), 1,
            "error: -C/--repo-dir /nonexistent: no such directory\nhint: give the path of the GitOps checkout\n")


def test_a_wrong_token_says_which_variable_was_used(tmp_path: Path) -> None:
    from tests.githttp import GitHTTPServer

    seed = make_checkout(tmp_path / "seed", files())
    projects = tmp_path / "srv"
    projects.mkdir()
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(projects / "gitops.git"))
    work = tmp_path / "job"
    work.mkdir()
    with GitHTTPServer(projects, {"oauth2": "the-right-one"}) as server:
        r = run(work, "image", "set", "--repo-url", server.url("gitops.git"), "dev", "aegis/api=*:1.4.2",
                env={"GITOPS_TOKEN": "wr0ng-t0ken-value"})
    assert r.returncode == 1, r.stderr
    assert "git sent the token from GITOPS_TOKEN (user oauth2): check that it is valid and may write to this " \
           "repository" in r.stderr
    assert "wr0ng-t0ken-value" not in r.stderr + r.stdout


def test_a_huge_kustomization_is_refused_at_once(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "overlay").mkdir(parents=True)
    entry = "  - name: team/app\n    newTag: 1.0.0\n"
    (work / "overlay/kustomization.yaml").write_text("images:\n" + entry.replace("app", "app0")
                                                     + "# padding\n" * 500_000)
    r = run(work, "image", "set", "overlay", "team/app0:1.0.1")
    refused(r, 1, "error: overlay/kustomization.yaml: is 4.8 MiB; gitops-tools reads YAML files of at most 4 MiB\n"
                  "hint: a kustomization or values file is a few kilobytes: check that this is the right file; "
                  "nothing was written\n")


# --- 7. flags that explain write nothing -------------------------------------------------------------------------


def library(tmp_path: Path) -> tuple[Path, Path]:
    lib = make_checkout(tmp_path / "lib", {
        "pyproject.toml": '[project]\nname = "shared-library"\nversion = "1.2.0"\n',
        "CHANGELOG.md": "# Changelog\n",
    })
    git(lib, "tag", "-a", "v1.2.0", "-m", "1.2.0")
    (lib / "feature.py").write_text("x = 1\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "feat: a feature")
    bare = tmp_path / "lib.git"
    git(tmp_path, "clone", "-q", "--bare", str(lib), str(bare))
    git(lib, "remote", "add", "origin", str(bare))
    git(lib, "fetch", "-q", "origin")
    return lib, bare


def test_release_explain_releases_nothing(tmp_path: Path) -> None:
    lib, bare = library(tmp_path)
    before = (git(lib, "rev-parse", "HEAD"), git(lib, "tag"), git(bare, "rev-parse", "main"), tree_bytes(lib))
    r = run(lib, "release", "--explain")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].endswith("  minor  feat: a feature  (type feat bumps minor)")
    assert lines[-2:] == ["shared-library: 1.2.0 -> 1.3.0 (minor)", "explain: nothing written"]
    assert (git(lib, "rev-parse", "HEAD"), git(lib, "tag"), git(bare, "rev-parse", "main"), tree_bytes(lib)) == before


def test_a_bad_prerelease_token_is_refused_before_anything_runs(tmp_path: Path) -> None:
    lib, bare = library(tmp_path)
    before = (git(lib, "rev-parse", "HEAD"), git(lib, "tag"), tree_bytes(lib))
    r = run(lib, "release", "--prerelease", "rc 1")
    assert r.returncode == 1
    assert r.stderr.startswith("error: --prerelease 'rc 1'")
    assert (git(lib, "rev-parse", "HEAD"), git(lib, "tag"), tree_bytes(lib)) == before
