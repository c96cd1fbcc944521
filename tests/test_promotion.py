"""status, diff, history, promote and rollback, end to end on a copy of this repository.

Real processes and real git only: every command is ``python -m gitops_tools`` in a subprocess, the "GitLab" is
a bare repository reached through ``file://`` (push options advertised, recorded by a pre-receive hook), and
each assertion is about exact output, exit codes and what the remote holds afterwards.

State of the copied repository, by tag alone (tests.conftest.by_tag_only; asserted first, so that a change to it
fails loudly here, not obscurely):

    IMAGE                 dev    staging  prod
    aegis/api             1.4.2  1.4.1    1.4.0
    aegis/recommendation  2.1.0  2.1.0    2.0.3
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, by_tag_only, copy_checkout, git
from tests.conftest import run_cli as run

API = "registry.gitlab.com/aegis/app/api"
REC = "registry.gitlab.com/aegis/app/recommendation"
KUST = "environments/{}/kustomization.yaml"
VALUES = "environments/{}/values.yaml"
AUTHOR = "Test Author <author@example.com>"
LEGEND = "* differs from the previous environment: a promotion is pending"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
UNKNOWN_QA = 'error: gitops-tools.yaml: unknown environment "qa"\nhint: known environments: dev, staging, prod\n'


# --- helpers ------------------------------------------------------------------------------------------------




def ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.stderr == ""
    return r


def refused(r: subprocess.CompletedProcess[str], stderr: str) -> None:
    """Exit 1, exactly ``stderr`` (the error line and its hint), nothing on stdout."""
    assert (r.returncode, r.stderr, r.stdout) == (1, stderr, "")


def show(repo: Path, path: str, rev: str = "HEAD") -> str:
    return git(repo, "show", f"{rev}:{path}")


def sha(repo: Path, rev: str = "HEAD") -> str:
    return git(repo, "rev-parse", rev).strip()


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def head_and_status(checkout: Path) -> tuple[str, str]:
    return sha(checkout), git(checkout, "status", "--porcelain", "--untracked-files=all")


def checkout(tmp_path: Path, name: str = "checkout") -> Path:
    """A fresh git checkout of this repository's tracked files, after checking the state the tests rely on."""
    repo = by_tag_only(copy_checkout(ROOT, tmp_path / name))
    r = ok(run(repo, "status"))
    assert r.stdout.splitlines()[1:3] == [
        "aegis/api             1.4.2  1.4.1 *  1.4.0 *",
        "aegis/recommendation  2.1.0  2.1.0    2.0.3 *",
    ], "the environments of this repository changed: update tests/test_promotion.py"
    return repo


def bare_remote(tmp_path: Path) -> tuple[Path, str, Path]:
    """A bare clone of a fresh copy of this repository, advertising push options; returns (bare, url, record)."""
    seed = checkout(tmp_path, "seed")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    git(bare, "config", "receive.advertisePushOptions", "true")
    record = tmp_path / "pushes.txt"
    record.write_text("")
    hook = bare / "hooks/pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        f"  {{ echo \"ref=$ref\"; i=0; while [ $i -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n"
        f"    eval \"echo \\\"\\$GIT_PUSH_OPTION_$i\\\"\"; i=$((i+1)); done; echo ---; }} >> {record}\n"
        "done\n"
    )
    hook.chmod(0o755)
    return bare, f"file://{bare}", record


def clone(remote: Path, dst: Path) -> Path:
    git(dst.parent, "clone", "-q", str(remote), str(dst))
    return dst


def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "job"
    d.mkdir(exist_ok=True)
    return d


def commit_by_hand(repo: Path, path: str, old: str, new: str, message: str = "hand edit") -> str:
    file = repo / path
    text = file.read_text()
    assert text.count(old) == 1
    file.write_text(text.replace(old, new))
    git(repo, "commit", "-qam", message)
    return sha(repo)


def at(monkeypatch: pytest.MonkeyPatch, when: datetime.datetime | str) -> None:
    """Make the next commits (the tool's and git's) carry this author and committer date."""
    stamp = when if isinstance(when, str) else when.isoformat(timespec="seconds")
    monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
    monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)


def event(env: str | None, image: str | None, old: str | None, new: str | None, action: str, commit: str,
          pipeline: str | None = None, source: str | None = None, author: str = AUTHOR) -> dict[str, object]:
    """A history event as JSON has it, without its time."""
    return {"env": env, "image": image, "old": old, "new": new, "action": action, "author": author,
            "pipeline": pipeline, "source_commit": source, "commit": commit, "pipeline_id": None,
            "pipeline_iid": None, "source_project": None, "source_time": None}


def history_json(repo: Path, *args: str) -> list[dict[str, object]]:
    r = ok(run(repo, "-o", "json", "history", *args))
    events: list[dict[str, object]] = json.loads(r.stdout)["events"]
    return events


def without_times(events: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for e in events:
        assert TIME.fullmatch(str(e["time"])), e
        out.append({k: v for k, v in e.items() if k != "time"})
    return out


# --- 1. end to end on a bare remote of this repository ----------------------------------------------------


def test_promotion_end_to_end_on_a_bare_remote(tmp_path: Path) -> None:
    remote, url, record = bare_remote(tmp_path)
    job = workdir(tmp_path)
    original = {env: show(remote, KUST.format(env), "main") for env in ("dev", "staging", "prod")}
    prod_values = show(remote, VALUES.format("prod"), "main")
    root = sha(remote, "main")

    # A CI job bumps dev.
    r = ok(run(job, "image", "set", "--repo-url", url, "dev", "aegis/api=*:1.5.0"))
    bump = sha(remote, "main")
    assert r.stdout == (
        f"dev: aegis/api {API}:1.4.2 -> {API}:1.5.0 (updated)\n"
        f"committed {bump[:12]} (environments/dev/kustomization.yaml)\n"
        "pushed to main\n"
    )

    # dev -> staging: the plan (only what differs), one commit pushed straight to main.
    r = ok(run(job, "promote", "--repo-url", url, "dev", "staging"))
    promotion = sha(remote, "main")
    assert r.stdout == (
        f"IMAGE      staging now                              dev\n"
        f"aegis/api  {API}:1.4.1  {API}:1.5.0\n"
        f"committed {promotion[:12]} (environments/staging/kustomization.yaml)\n"
        "pushed to main\n"
    )
    assert git(remote, "rev-parse", "main~1").strip() == bump
    assert show(remote, KUST.format("staging"), "main") == original["staging"].replace(
        "newTag: 1.4.1", "newTag: 1.5.0")
    assert git(remote, "diff", "--name-only", "main~1", "main") == "environments/staging/kustomization.yaml\n"
    assert git(remote, "log", "-1", "--format=%B", "main") == (
        f"chore(staging): promote aegis/api {API}:1.4.1 -> {API}:1.5.0\n\n"
        "- environments/staging/kustomization.yaml: images[name=aegis/api].newTag: 1.4.1 -> 1.5.0\n\n"
        "Gitops-Action: promote\n"
        f"Gitops-Change: staging aegis/api {API}:1.4.1 -> {API}:1.5.0\n\n"
    )
    # direct pushes: no push options. The CI job's bump went through a pending ref (DESIGN §3.14): published,
    # then deleted by the fold that updated main.
    entries = record.read_text().split("---\n")
    assert [e for e in entries if "refs/gitops-tools/pending/main/" in e] == [entries[0]] * 2
    assert "---\n".join(e for e in entries if "refs/gitops-tools/" not in e) == "ref=refs/heads/main\n---\n" * 2
    assert list((tmp_path / "tmp").iterdir()) == [] and list(job.iterdir()) == []

    # A fresh clone sees the matrix: prod is behind on both images.
    c1 = clone(remote, tmp_path / "c1")
    r = ok(run(c1, "status"))
    assert r.stdout == (
        "IMAGE                 dev    staging  prod\n"
        "aegis/api             1.5.0  1.5.0    1.4.0 *\n"
        "aegis/recommendation  2.1.0  2.1.0    2.0.3 *\n"
        f"{LEGEND}\n"
    )
    r = ok(run(c1, "-o", "json", "status", "--image", "aegis/api"))
    assert json.loads(r.stdout) == {
        "environments": ["dev", "staging", "prod"],
        "images": [{"image": "aegis/api", "environments": {
            "dev": {"value": f"{API}:1.5.0", "pending": False},
            "staging": {"value": f"{API}:1.5.0", "pending": False},
            "prod": {"value": f"{API}:1.4.0", "pending": True},
        }}],
    }

    # history: both changes (newest first), then the copy commit, which changed every environment by hand.
    events = history_json(c1)
    assert without_times(events) == [
        event("staging", "aegis/api", f"{API}:1.4.1", f"{API}:1.5.0", "promote", promotion),
        event("dev", "aegis/api", f"{API}:1.4.2", f"{API}:1.5.0", "set-image", bump),
        event("dev", None, None, None, "manual", root),
        event("prod", None, None, None, "manual", root),
        event("staging", None, None, None, "manual", root),
    ]
    t = [e["time"] for e in events]
    r = ok(run(c1, "history"))
    assert r.stdout == (
        f"TIME                       ENV      IMAGE      CHANGE          ACTION     AUTHOR{' ' * 28}PIPELINE  COMMIT\n"
        f"{t[0]}  staging  aegis/api  1.4.1 -> 1.5.0  promote    {AUTHOR}  -         {promotion[:12]}\n"
        f"{t[1]}  dev      aegis/api  1.4.2 -> 1.5.0  set-image  {AUTHOR}  -         {bump[:12]}\n"
        f"{t[2]}  dev      -          (not recorded)  manual     {AUTHOR}  -         {root[:12]}\n"
        f"{t[3]}  prod     -          (not recorded)  manual     {AUTHOR}  -         {root[:12]}\n"
        f"{t[4]}  staging  -          (not recorded)  manual     {AUTHOR}  -         {root[:12]}\n"
    )

    # staging -> prod: prod is protected, so a merge request; the values key moves with aegis/recommendation.
    main_before = sha(remote, "main")
    r = ok(run(job, "promote", "--repo-url", url, "staging", "prod"))
    lines = r.stdout.splitlines()
    branch_line = lines.pop()
    m = re.fullmatch(r"pushed (gitops/prod/promote-[0-9a-f]{12}) and asked GitLab for a merge request "
                     r"\(prod is protected\)", branch_line)
    assert m, branch_line
    branch = m.group(1)
    mr = sha(remote, branch)
    assert lines == [
        f"IMAGE                 prod now{' ' * 44}staging",
        f"aegis/api             {API}:1.4.0             {API}:1.5.0",
        f"aegis/recommendation  {REC}:2.0.3  {REC}:2.1.0",
        f"committed {mr[:12]} (environments/prod/kustomization.yaml, environments/prod/values.yaml)",
    ]
    title = "chore(prod): promote 2 images (aegis/api, aegis/recommendation)"
    assert [e for e in record.read_text().split("---\n") if "refs/gitops-tools/" not in e][2:] == [
        f"ref=refs/heads/{branch}\n"
        "merge_request.create\n"
        "merge_request.target=main\n"
        f"merge_request.title={title}\n"
        f"merge_request.description=prod aegis/api {API}:1.4.0 -> {API}:1.5.0; "
        f"prod aegis/recommendation {REC}:2.0.3 -> {REC}:2.1.0\n"
        "merge_request.remove_source_branch\n",
        "",
    ]
    # main, prod's branch, is untouched; the merge request branch holds the change on top of it.
    assert sha(remote, "main") == main_before
    assert show(remote, KUST.format("prod"), "main") == original["prod"]
    assert show(remote, VALUES.format("prod"), "main") == prod_values
    assert git(remote, "rev-parse", f"{branch}~1").strip() == main_before
    assert show(remote, KUST.format("prod"), branch) == (
        original["prod"].replace("newTag: 1.4.0", "newTag: 1.5.0").replace("newTag: 2.0.3", "newTag: 2.1.0"))
    assert show(remote, VALUES.format("prod"), branch) == prod_values.replace('tag: "2.0.3"', 'tag: "2.1.0"')
    assert git(remote, "diff", "--name-only", "main", branch) == (
        "environments/prod/kustomization.yaml\nenvironments/prod/values.yaml\n")
    assert git(remote, "log", "-1", "--format=%B", branch) == (
        f"{title}\n\n"
        "- environments/prod/kustomization.yaml: images[name=aegis/api].newTag: 1.4.0 -> 1.5.0\n"
        "- environments/prod/kustomization.yaml: images[name=aegis/recommendation].newTag: 2.0.3 -> 2.1.0\n"
        "- environments/prod/values.yaml: controllers.trainer.containers.main.image.tag: 2.0.3 -> 2.1.0\n\n"
        "Gitops-Action: promote\n"
        f"Gitops-Change: prod aegis/api {API}:1.4.0 -> {API}:1.5.0\n"
        f"Gitops-Change: prod aegis/recommendation {REC}:2.0.3 -> {REC}:2.1.0\n\n"
    )

    # rollback staging, from a clone with --push: staging as before its last change, as a new commit.
    c2 = clone(remote, tmp_path / "c2")
    r = ok(run(c2, "rollback", "--push", "staging"))
    rollback = sha(c2)
    assert r.stdout == (
        f"staging: aegis/api {API}:1.5.0 -> {API}:1.4.1 (as at {bump[:12]})\n"
        f"committed {rollback[:12]} (environments/staging/kustomization.yaml)\n"
        "pushed to main\n"
    )
    assert sha(remote, "main") == rollback
    assert (c2 / KUST.format("staging")).read_bytes() == original["staging"].encode()
    assert show(remote, KUST.format("staging"), "main") == original["staging"]
    assert git(c2, "rev-list", "--parents", "-n", "1", "HEAD").split() == [rollback, promotion]  # not a revert
    assert git(c2, "log", "-1", "--format=%B") == (
        f"chore(staging): roll back aegis/api {API}:1.5.0 -> {API}:1.4.1\n\n"
        "- environments/staging/kustomization.yaml: images[name=aegis/api].newTag: 1.5.0 -> 1.4.1\n\n"
        "Gitops-Action: rollback\n"
        f"Gitops-Change: staging aegis/api {API}:1.5.0 -> {API}:1.4.1\n\n"
    )
    assert git(c2, "status", "--porcelain") == ""

    # rollback through --repo-url (a shallow clone, deepened to find the revision): dev back to the copy.
    r = ok(run(job, "-o", "json", "rollback", "--repo-url", url, "--to", root, "dev"))
    data = json.loads(r.stdout)
    assert (data["environment"], data["revision"], data["files"], data["pushed"]) == (
        "dev", root, ["environments/dev/kustomization.yaml"], "main")
    assert [(i["image"], i["old"], i["new"], i["status"]) for i in data["images"]] == [
        ("aegis/api", f"{API}:1.5.0", f"{API}:1.4.2", "updated"),
        ("aegis/recommendation", f"{REC}:2.1.0", f"{REC}:2.1.0", "unchanged"),
    ]
    assert data["commit"] == sha(remote, "main") and sha(remote, "main~1") == rollback
    assert show(remote, KUST.format("dev"), "main") == original["dev"]
    assert git(remote, "log", "-1", "--format=%(trailers:key=Gitops-Action)", "main") == "Gitops-Action: rollback\n\n"
    assert list((tmp_path / "tmp").iterdir()) == []


# --- 2. the target changes between plan and push -----------------------------------------------------------


def test_target_changed_between_plan_and_push_is_a_conflict_and_pushes_nothing(tmp_path: Path) -> None:
    remote, url, _ = bare_remote(tmp_path)
    # Someone else's change to staging's aegis/api, ready on a side branch.
    side = clone(remote, tmp_path / "side")
    side_sha = commit_by_hand(side, KUST.format("staging"), "newTag: 1.4.1", "newTag: 1.4.9", "staging: 1.4.9")
    git(side, "push", "-q", "origin", "HEAD:refs/heads/side")
    # The first push to the remote finds main moved to it (as if that change landed between plan and push).
    fired = tmp_path / "fired"
    hook = remote / "hooks/pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"echo invoked >> {fired}\n"
        f"[ \"$(wc -l < {fired})\" -eq 1 ] || exit 0\n"
        "read old new ref\n"
        "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
        f"git update-ref refs/heads/main {side_sha} \"$old\"\n"
        "exit 0\n"
    )
    before = refs(remote)
    job = workdir(tmp_path)
    r = run(job, "-v", "promote", "--repo-url", url, "dev", "staging")
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    err = r.stderr.splitlines()
    assert err[-2:] == [
        "error: environments/staging/kustomization.yaml: images[name=aegis/api]: aegis/api changed in staging "
        f"since the plan: it was {API}:1.4.1, now {API}:1.4.9",
        "hint: look at the new state (gitops-tools status) and run the promotion again",
    ]
    # The push was rejected as a ref race and retried on fresh state: one push, then fetch and reset.
    assert [line for line in err if line.startswith("$ git push")] == ["$ git push --quiet origin HEAD:refs/heads/main"]
    assert "$ git reset --quiet --hard refs/remotes/origin/main" in err
    assert fired.read_text() == "invoked\n"
    # Nothing of the promotion landed: main is exactly the other change.
    assert sha(remote, "main") == side_sha
    assert refs(remote) == before.replace(sha(side, "HEAD~1"), side_sha, 1)
    assert show(remote, KUST.format("staging"), "main") == show(side, KUST.format("staging"))
    assert list((tmp_path / "tmp").iterdir()) == []


# --- 3. policies --------------------------------------------------------------------------------------------


def test_skipping_an_environment_is_refused_unless_forced(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    before = head_and_status(repo)
    refused(run(repo, "promote", "dev", "prod"),
            "error: dev promotes to staging, not prod (order: dev -> staging -> prod)\n"
            "hint: promote one step at a time, or pass --force\n")
    refused(run(repo, "promote", "--dry-run", "staging", "dev"),
            "error: staging promotes to prod, not dev (order: dev -> staging -> prod)\n"
            "hint: promote one step at a time, or pass --force\n")
    refused(run(repo, "promote", "prod", "staging"),
            "error: prod promotes to nothing (it is the last environment), not staging "
            "(order: dev -> staging -> prod)\n"
            "hint: promote one step at a time, or pass --force\n")
    assert head_and_status(repo) == before
    # --force: dev's aegis/recommendation is what staging runs, so prod may take it straight from dev.
    r = ok(run(repo, "promote", "--force", "--image", "aegis/recommendation", "dev", "prod"))
    assert r.stdout == (
        f"IMAGE                 prod now{' ' * 44}dev\n"
        f"aegis/recommendation  {REC}:2.0.3  {REC}:2.1.0\n"
        f"committed {sha(repo)[:12]} (environments/prod/kustomization.yaml, environments/prod/values.yaml)\n"
    )
    assert git(repo, "log", "-1", "--format=%(trailers:key=Gitops-Change,valueonly)") == (
        f"prod aegis/recommendation {REC}:2.0.3 -> {REC}:2.1.0\n\n")


def test_prod_only_takes_what_staging_runs(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    before = head_and_status(repo)
    refused(run(repo, "promote", "--force", "dev", "prod"),
            "error: environments/prod/kustomization.yaml: images[name=aegis/api]: prod only takes what staging "
            f"runs: aegis/api {API}:1.4.2 is not running in staging\n"
            "hint: promote dev to staging first\n")
    assert head_and_status(repo) == before
    # Once staging runs it, the same command is allowed.
    ok(run(repo, "promote", "dev", "staging"))
    r = ok(run(repo, "promote", "--force", "--dry-run", "dev", "prod"))
    assert r.stdout.splitlines()[0:3] == [
        f"IMAGE                 prod now{' ' * 44}dev",
        f"aegis/api             {API}:1.4.0             {API}:1.4.2",
        f"aegis/recommendation  {REC}:2.0.3  {REC}:2.1.0",
    ]
    assert r.stdout.endswith("dry run: nothing written\n")


def test_a_mutable_tag_never_goes_into_protected_prod(tmp_path: Path) -> None:
    remote, url, record = bare_remote(tmp_path)
    job = workdir(tmp_path)
    # staging may run latest (it is not protected); --allow-downgrade in case `latest` counted as older.
    ok(run(job, "image", "set", "--allow-downgrade", "--repo-url", url, "staging", "aegis/api=*:latest"))
    assert "newTag: latest" in show(remote, KUST.format("staging"), "main")
    before, pushes = refs(remote), record.read_text()
    refused(run(job, "promote", "--repo-url", url, "staging", "prod"),
            "error: environments/prod/kustomization.yaml: images[name=aegis/api].newTag: prod is protected and "
            "refuses the mutable tag 'latest'\n"
            "hint: use an immutable version tag or a digest (policy refuse_mutable_tags in gitops-tools.yaml)\n")
    assert (refs(remote), record.read_text()) == (before, pushes)  # no push at all, no merge request branch
    assert list((tmp_path / "tmp").iterdir()) == []


def test_min_age_reads_when_the_version_reached_the_source_from_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = checkout(tmp_path)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    # Set by gitops-tools a few seconds ago: too young for --min-age 1h.
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.5.0"))
    before = head_and_status(repo)
    r = run(repo, "promote", "--min-age", "1h", "dev", "staging")
    assert (r.returncode, r.stdout) == (1, "")
    assert re.fullmatch(
        rf"error: aegis/api {API}:1\.5\.0 has run in dev for 0m\d{{1,2}}s, less than 1h0m\n"
        r"hint: wait, or promote without --min-age\n", r.stderr), r.stderr
    assert head_and_status(repo) == before

    # Set three hours ago (by its trailer's commit): old enough for --min-age 2h, and promoted.
    at(monkeypatch, now - datetime.timedelta(hours=3))
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.6.0"))
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    r = ok(run(repo, "promote", "--min-age", "2h", "dev", "staging"))
    assert r.stdout.splitlines()[1] == f"aegis/api  {API}:1.4.1  {API}:1.6.0"
    assert show(repo, KUST.format("staging")).count("newTag: 1.6.0") == 1

    # Changed by hand (no trailer records it): no record of when, so no age to check.
    commit_by_hand(repo, KUST.format("dev"), "newTag: 1.6.0", "newTag: 1.7.0")
    before = head_and_status(repo)
    refused(run(repo, "promote", "--min-age", "1h", "dev", "staging"),
            f"error: no record of when aegis/api became {API}:1.7.0 in dev (its last change there has no Gitops-Change trailer saying so)\n"
            "hint: promote without --min-age, or set the image with gitops-tools so that history records it\n")
    refused(run(repo, "promote", "--min-age", "90", "dev", "staging"),
            "error: invalid duration '90'\nhint: write a number and a unit: 30m, 2h, 1d\n")
    assert head_and_status(repo) == before
    # Without --min-age the hand-made version is promoted as any other.
    ok(run(repo, "promote", "dev", "staging"))


def configure(repo: Path, policies: str) -> None:
    """Replace the policies: section of the checkout's gitops-tools.yaml and commit it by hand."""
    path = repo / "gitops-tools.yaml"
    text = path.read_text()
    start = text.index("policies:\n")
    end = text.index("\n\n", start)
    path.write_text(text[:start] + policies + text[end:])
    git(repo, "commit", "-qam", "chore: policies")


def test_min_age_from_the_configuration_and_waiving_it(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    configure(repo, "policies:\n  min_age:\n    staging: 2h\n")
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.5.0"))  # a few seconds ago
    before = head_and_status(repo)

    r = run(repo, "promote", "dev", "staging")

    assert (r.returncode, r.stdout) == (1, "")
    assert re.fullmatch(
        rf"error: aegis/api {API}:1\.5\.0 has run in dev for 0m\d{{1,2}}s, less than 2h0m\n"
        r"hint: wait, or pass --min-age 0s to waive policies\.min_age\.staging of gitops-tools\.yaml\n",
        r.stderr), r.stderr
    assert head_and_status(repo) == before
    ok(run(repo, "promote", "--min-age", "0s", "dev", "staging"))  # waived on purpose
    assert show(repo, KUST.format("staging")).count("newTag: 1.5.0") == 1
    ok(run(repo, "promote", "staging", "prod"))  # no minimum configured for prod


def test_only_from_previous_can_be_turned_off(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    refused(run(repo, "promote", "--force", "dev", "prod"),
            "error: environments/prod/kustomization.yaml: images[name=aegis/api]: prod only takes what staging "
            f"runs: aegis/api {API}:1.4.2 is not running in staging\n"
            "hint: promote dev to staging first\n")
    configure(repo, "policies:\n  only_from_previous: false\n")
    r = ok(run(repo, "promote", "--force", "dev", "prod"))
    assert r.stdout.splitlines()[1] == f"aegis/api             {API}:1.4.0             {API}:1.4.2"
    assert show(repo, KUST.format("prod")).count("newTag: 1.4.2") == 1


def test_min_age_does_not_count_a_version_that_history_says_was_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = checkout(tmp_path)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    at(monkeypatch, now - datetime.timedelta(hours=3))
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.5.0"))
    at(monkeypatch, now - datetime.timedelta(hours=2))
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.6.0"))  # history: 1.5.0 stopped running 2 h ago
    at(monkeypatch, now - datetime.timedelta(minutes=1))
    commit_by_hand(repo, KUST.format("dev"), "newTag: 1.6.0", "newTag: 1.5.0")  # back a minute ago, by hand
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    before = head_and_status(repo)
    r = run(repo, "promote", "--min-age", "1h", "dev", "staging")
    assert (r.returncode, head_and_status(repo)) == (1, before), r.stdout


def test_promoting_an_image_the_source_does_not_have_is_refused(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    before = head_and_status(repo)
    refused(run(repo, "promote", "--image", "aegis/nope", "dev", "staging"),
            "error: environments/dev/kustomization.yaml: aegis/nope: not set in dev\n"
            "hint: images in dev: aegis/api, aegis/recommendation\n")
    assert head_and_status(repo) == before
    # Already the same: nothing to do, exit 0, nothing written.
    r = ok(run(repo, "promote", "--image", "aegis/recommendation", "dev", "staging"))
    assert r.stdout == "staging already runs what dev runs; nothing to do\n"
    assert head_and_status(repo) == before


def test_promote_json_no_commit_is_not_a_dry_run(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    r = ok(run(repo, "-o", "json", "promote", "--no-commit", "dev", "staging"))
    assert git(repo, "status", "--porcelain") == " M environments/staging/kustomization.yaml\n"
    assert json.loads(r.stdout)["dry_run"] is False


# --- 4. history ---------------------------------------------------------------------------------------------


def _minute(n: int) -> str:
    return f"2026-01-01T10:{n:02d}:00+00:00"


def test_history_merges_squashes_and_manual_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, _minute(0))
    repo = checkout(tmp_path)
    root = sha(repo)

    # A change on a branch, merged with a merge commit after main moved on (so that git log shows the merge).
    git(repo, "checkout", "-qb", "feature")
    at(monkeypatch, _minute(1))
    ci = {"CI_PIPELINE_URL": "https://gitlab.com/aegis/api/-/pipelines/7",
          "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567"}
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.5.0", env=ci))
    feature = sha(repo)
    git(repo, "checkout", "-q", "main")
    at(monkeypatch, _minute(2))
    ok(run(repo, "image", "set", "staging", "aegis/api=*:1.4.5"))
    on_main = sha(repo)
    at(monkeypatch, _minute(3))
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    merge = sha(repo)

    # Two gitops-tools commits on a branch, squashed into one whose body holds both messages (GitLab squash).
    git(repo, "checkout", "-qb", "squashed")
    at(monkeypatch, _minute(4))
    ok(run(repo, "image", "set", "dev", "aegis/recommendation=*:2.2.0"))
    at(monkeypatch, _minute(5))
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.6.0"))
    messages = git(repo, "log", "--reverse", "--format=%B%x00", "main..squashed").split("\x00\n")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "squashed")
    at(monkeypatch, _minute(6))
    git(repo, "commit", "-q", "-m", "Bump dev images\n\n" + "\n".join(m.strip() + "\n" for m in messages if m.strip()))
    squash = sha(repo)
    assert git(repo, "rev-list", "--parents", "-n", "1", squash).split() == [squash, merge]

    # A commit by hand, without trailers.
    at(monkeypatch, _minute(7))
    manual = commit_by_hand(repo, KUST.format("staging"), "newTag: 1.4.5", "newTag: 1.4.6")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    monkeypatch.delenv("GIT_COMMITTER_DATE")

    pipeline, source = ci["CI_PIPELINE_URL"], ci["CI_COMMIT_SHA"]
    everything = [
        {"time": _minute(7), **event("staging", None, None, None, "manual", manual)},
        {"time": _minute(6), **event("dev", "aegis/recommendation", f"{REC}:2.1.0", f"{REC}:2.2.0", "set-image",
                                     squash)},
        {"time": _minute(6), **event("dev", "aegis/api", f"{API}:1.5.0", f"{API}:1.6.0", "set-image", squash)},
        {"time": _minute(2), **event("staging", "aegis/api", f"{API}:1.4.1", f"{API}:1.4.5", "set-image", on_main)},
        {"time": _minute(1), **event("dev", "aegis/api", f"{API}:1.4.2", f"{API}:1.5.0", "set-image", feature,
                                     pipeline, source)},
        {"time": _minute(0), **event("dev", None, None, None, "manual", root)},
        {"time": _minute(0), **event("prod", None, None, None, "manual", root)},
        {"time": _minute(0), **event("staging", None, None, None, "manual", root)},
    ]
    events = history_json(repo)
    assert events == everything
    assert merge not in [e["commit"] for e in events]  # the merge commit adds no event of its own
    assert [e["commit"] for e in events].count(feature) == 1

    assert history_json(repo, "dev") == [e for e in everything if e["env"] == "dev"]
    assert history_json(repo, "--image", "aegis/api") == [e for e in everything if e["image"] == "aegis/api"]
    assert history_json(repo, "staging", "--image", "aegis/api") == [everything[3]]
    assert history_json(repo, "--image", "aegis/nope") == []
    assert history_json(repo, "--since", "2026-01-01T10:05:30+00:00") == everything[:3]
    assert history_json(repo, "--since", "2099-01-01") == []
    assert ok(run(repo, "history", "--since", "2099-01-01")).stdout == "no changes recorded\n"
    assert ok(run(repo, "history", "prod", "--image", "aegis/api")).stdout == "no changes recorded\n"

    r = ok(run(repo, "history", "--since", "2026-01-01T10:00:30+00:00"))
    pad = " " * (len(pipeline) - 1)  # the PIPELINE column is as wide as the one URL in it
    assert r.stdout == (
        f"TIME                       ENV      IMAGE                 CHANGE          ACTION     AUTHOR{' ' * 28}"
        f"{'PIPELINE'.ljust(len(pipeline))}  COMMIT\n"
        f"{_minute(7)}  staging  -                     (not recorded)  manual     {AUTHOR}  -{pad}  {manual[:12]}\n"
        f"{_minute(6)}  dev      aegis/recommendation  2.1.0 -> 2.2.0  set-image  {AUTHOR}  -{pad}  {squash[:12]}\n"
        f"{_minute(6)}  dev      aegis/api             1.5.0 -> 1.6.0  set-image  {AUTHOR}  -{pad}  {squash[:12]}\n"
        f"{_minute(2)}  staging  aegis/api             1.4.1 -> 1.4.5  set-image  {AUTHOR}  -{pad}  {on_main[:12]}\n"
        f"{_minute(1)}  dev      aegis/api             1.4.2 -> 1.5.0  set-image  {AUTHOR}  {pipeline}  {feature[:12]}\n"
    )


def test_history_of_a_squash_keeps_each_blocks_action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = checkout(tmp_path)
    git(repo, "checkout", "-qb", "squashed")
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.5.0",
           env={"CI_PIPELINE_URL": "https://gitlab.com/aegis/api/-/pipelines/7"}))
    ok(run(repo, "promote", "dev", "staging"))
    messages = git(repo, "log", "--reverse", "--format=%B%x00", "main..squashed").split("\x00\n")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "squashed")
    git(repo, "commit", "-q", "-m", "Release 1.5.0 to staging\n\n" + "\n".join(m.strip() + "\n" for m in messages
                                                                           if m.strip()))
    events = without_times(history_json(repo, "--image", "aegis/api"))
    assert events == [
        event("dev", "aegis/api", f"{API}:1.4.2", f"{API}:1.5.0", "set-image", sha(repo),
              "https://gitlab.com/aegis/api/-/pipelines/7"),
        event("staging", "aegis/api", f"{API}:1.4.1", f"{API}:1.5.0", "promote", sha(repo)),
    ]


# --- 5. diff ------------------------------------------------------------------------------------------------


def test_diff_between_environments(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    assert ok(run(repo, "diff", "dev", "staging")).stdout == (
        "IMAGE      dev                                      staging\n"
        f"aegis/api  {API}:1.4.2  {API}:1.4.1\n"
    )
    assert ok(run(repo, "diff", "staging", "prod")).stdout == (
        f"IMAGE                 {'staging'.ljust(len(REC) + 6)}  prod\n"
        f"aegis/api             {API}:1.4.1             {API}:1.4.0\n"
        f"aegis/recommendation  {REC}:2.1.0  {REC}:2.0.3\n"
    )
    assert json.loads(ok(run(repo, "-o", "json", "diff", "staging", "prod")).stdout) == {
        "a": "staging", "b": "prod", "differences": [
            {"image": "aegis/api", "a": f"{API}:1.4.1", "b": f"{API}:1.4.0"},
            {"image": "aegis/recommendation", "a": f"{REC}:2.1.0", "b": f"{REC}:2.0.3"},
        ]}
    r = ok(run(repo, "diff", "--image", "aegis/recommendation", "prod", "staging", "-o", "json"))
    assert json.loads(r.stdout) == {"a": "prod", "b": "staging", "differences": [
        {"image": "aegis/recommendation", "a": f"{REC}:2.0.3", "b": f"{REC}:2.1.0"}]}
    assert ok(run(repo, "diff", "dev", "dev")).stdout == "dev and dev run the same images\n"
    assert ok(run(repo, "diff", "--image", "aegis/recommendation", "dev", "staging")).stdout == (
        "dev and staging run the same images\n")
    assert json.loads(ok(run(repo, "-o", "json", "diff", "dev", "dev")).stdout) == {
        "a": "dev", "b": "dev", "differences": []}


# --- 6. the wrapper script ----------------------------------------------------------------------------------


def test_promote_env_script_passes_options_through(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GITOPS_TOOLS", None)  # the script runs `gitops-tools` from PATH: the venv's

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ROOT / "scripts/promote-env.sh"), *args], cwd=repo, capture_output=True,
                              text=True, env=env, timeout=60)

    before = head_and_status(repo)
    r = ok(script("dev", "staging", "--dry-run"))
    assert r.stdout == (
        "IMAGE      staging now                              dev\n"
        f"aegis/api  {API}:1.4.1  {API}:1.4.2\n"
        "--- a/environments/staging/kustomization.yaml\n"
        "+++ b/environments/staging/kustomization.yaml\n"
        "@@ -32,7 +32,7 @@\n"
        " images:\n"
        "   - name: aegis/api\n"
        f"     newName: {API}\n"
        "-    newTag: 1.4.1\n"
        "+    newTag: 1.4.2\n"
        "   - name: aegis/recommendation\n"
        f"     newName: {REC}\n"
        "     newTag: 2.1.0\n"
        "dry run: nothing written\n"
    )
    assert head_and_status(repo) == before
    r = ok(script("dev", "staging"))
    assert r.stdout.splitlines()[-1] == f"committed {sha(repo)[:12]} (environments/staging/kustomization.yaml)"
    assert git(repo, "log", "-1", "--format=%(trailers:key=Gitops-Action,valueonly)") == "promote\n\n"
    refused(script("dev", "prod"),
            "error: dev promotes to staging, not prod (order: dev -> staging -> prod)\n"
            "hint: promote one step at a time, or pass --force\n")


# --- 7. bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("diff", "dev", "qa"), ("diff", "qa", "dev"), ("history", "qa"), ("promote", "dev", "qa"),
    ("promote", "qa", "dev"), ("promote", "--force", "qa", "prod"), ("rollback", "qa"),
    ("rollback", "--to", "HEAD", "qa"), ("rollback", "--dry-run", "--image", "aegis/api", "qa"),
])
def test_unknown_environment(tmp_path: Path, args: tuple[str, ...]) -> None:
    repo = checkout(tmp_path)
    before = head_and_status(repo)
    refused(run(repo, *args), UNKNOWN_QA)
    assert head_and_status(repo) == before


def test_rollback_to_a_revision_that_does_not_exist(tmp_path: Path) -> None:
    remote, url, _ = bare_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    before, remote_refs = head_and_status(repo), refs(remote)
    for args in (("rollback", "--to", "nope", "staging"), ("rollback", "--push", "--to", "0" * 40, "staging")):
        r = run(repo, *args)
        assert (r.returncode, r.stdout) == (1, ""), r.stderr
        assert r.stderr.startswith("error: ") and args[-2] in r.stderr.splitlines()[0]
    r = run(workdir(tmp_path), "rollback", "--repo-url", url, "--to", "nope", "staging")
    assert (r.returncode, r.stdout) == (1, "")
    assert (head_and_status(repo), refs(remote)) == (before, remote_refs)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_rollback_to_a_missing_revision_says_so_clearly(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    r = run(repo, "rollback", "--to", "nope", "staging")
    assert r.returncode == 1
    first, hint = r.stderr.splitlines()[:2]
    assert "nope" in first and "rev-parse" not in first and "fatal:" not in first
    assert "git's message above" not in hint


def test_rollback_without_an_earlier_version(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    before = head_and_status(repo)
    r = run(repo, "rollback", "dev")
    assert (r.returncode, r.stdout) == (1, "")
    first, hint = r.stderr.splitlines()
    assert first.startswith("error: environments/dev/kustomization.yaml: ")
    assert first.endswith("was created by its first change; there is nothing before it")
    assert hint == "hint: give --to REV"
    # An environment added later: its kustomization has no version before the commit that created it either.
    config = (repo / "gitops-tools.yaml").read_text()
    (repo / "gitops-tools.yaml").write_text(config.replace(
        "  - name: staging\n", "  - name: qa\n    path: environments/qa\n  - name: staging\n", 1))
    (repo / "environments/qa").mkdir()
    (repo / KUST.format("qa")).write_text(f"images:\n  - name: aegis/api\n    newName: {API}\n    newTag: 1.4.1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add qa")
    before = head_and_status(repo)
    r = run(repo, "rollback", "qa")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith("error: environments/qa/kustomization.yaml: ")
    assert head_and_status(repo) == before


def test_rollback_error_names_the_file_once(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    r = run(repo, "rollback", "dev")
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].count("environments/dev/kustomization.yaml") == 1
