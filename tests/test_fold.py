"""Many writers, one branch (DESIGN §3.14): pending refs folded into one commit, with real processes and remotes.

Every job is a real ``gitops-tools image set --repo-url`` process; the remote is a bare repository (or the same
served over HTTP by ``git http-backend``); pushes are counted on the server, by a hook that logs each one.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitops_tools.core import fold
from tests.conftest import git, make_checkout
from tests.conftest import run_cli as run

CONFIG = """\
environments:
  - name: dev
  - name: prod
    protected: true
policies:
  only_from_previous: false
"""


def kustomization(n: int) -> str:
    return "images:\n" + "".join(f"  - name: aegis/s{i}\n    newTag: 1.0.0\n" for i in range(n))


def make_remote(tmp_path: Path, n: int, name: str = "remote.git") -> Path:
    seed = make_checkout(tmp_path / f"seed-{name}", {
        "gitops-tools.yaml": CONFIG,
        "environments/dev/kustomization.yaml": kustomization(n),
        "environments/prod/kustomization.yaml": kustomization(n),
    })
    bare = tmp_path / name
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def count_pushes(remote: Path, log: Path, refuse_pending: bool = False) -> None:
    """A pre-receive hook that logs one line per push (and, with ``refuse_pending``, refuses our refs)."""
    hook = remote / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    body = f'#!/bin/sh\necho push >> "{log}"\n'
    if refuse_pending:
        body += ('while read old new ref; do case "$ref" in refs/gitops-tools/*) '
                 'echo "refs/gitops-tools/ is not allowed here" >&2; exit 1;; esac; done\n')
    else:
        body += "cat >/dev/null\n"
    hook.write_text(body)
    hook.chmod(0o755)


def pushes(log: Path) -> int:
    return len(log.read_text().split()) if log.exists() else 0


def start(workdir: Path, url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    scratch = workdir.parent / "tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "gitops_tools", "-o", "json", "image", "set", "--repo-url", url,
                             *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(scratch), **(env or {})})


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, dict[str, object], str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append((p.returncode, json.loads(stdout) if stdout.strip() else {}, stderr))
    return out


def tags(remote: Path, n: int) -> list[str]:
    text = git(remote, "show", "main:environments/dev/kustomization.yaml")
    return re.findall(r"newTag: (\S+)", text)[:n]


def pending_refs(remote: Path) -> list[str]:
    return git(remote, "for-each-ref", "--format=%(refname)", "refs/gitops-tools/").split()


def wait_for_pending(remote: Path, job: subprocess.Popen[str], count: int = 1) -> None:
    """Until the remote holds ``count`` pending refs; ``job`` (the one expected to publish) must not end first."""
    deadline = time.monotonic() + 60
    while len(pending_refs(remote)) < count:
        assert time.monotonic() < deadline and job.poll() is None
        time.sleep(0.02)


def change_trailers(remote: Path) -> list[str]:
    return [line for line in git(remote, "log", "--format=%B", "main").splitlines()
            if line.startswith("Gitops-Change: dev ")]


@pytest.mark.parametrize("n", [24])
def test_many_processes_land_every_change_in_linear_pushes(tmp_path: Path, n: int) -> None:
    remote = make_remote(tmp_path, n)
    log = tmp_path / "pushes.log"
    count_pushes(remote, log)
    before = int(git(remote, "rev-list", "--count", "main"))
    work = tmp_path / "job"
    work.mkdir()
    procs = [start(work, f"file://{remote}", "dev", f"aegis/s{i}=*:1.0.1",
                   env={"CI_PIPELINE_ID": str(1000 + i)}) for i in range(n)]
    results = finish(procs)
    for code, data, stderr in results:
        assert code == 0, stderr
        assert data["pushed"] == "main" and data["fold"]["status"] == "landed"  # type: ignore[index]
    assert tags(remote, n) == ["1.0.1"] * n  # every change present
    assert len(change_trailers(remote)) == n  # each exactly once
    assert pending_refs(remote) == []
    commits = int(git(remote, "rev-list", "--count", "main")) - before
    assert commits <= n and pushes(log) <= 2 * n, (commits, pushes(log))
    # each job says truthfully where its change landed, and with how many others
    for code, data, _ in results:
        sha = str(data["commit"])
        message = git(remote, "log", "-1", "--format=%B", sha)
        statuses = fold.folded(message)
        assert data["landed_with"] == len(statuses) - 1
        assert data["fold"]["id"] in statuses  # type: ignore[index]
        assert git(remote, "merge-base", "--is-ancestor", sha, "main") == ""
    # each change keeps its own pipeline: history reads one event per change with its pipeline id
    r = run(tmp_path, "-C", str(tmp_path / "seed-remote.git"), "status")  # sanity: the CLI still starts
    assert r.returncode == 0
    hist = subprocess.run(["git", "clone", "-q", str(remote), str(tmp_path / "check")], capture_output=True)
    assert hist.returncode == 0
    h = run(tmp_path / "check", "-o", "json", "history", "dev")
    assert h.returncode == 0, h.stderr
    events = json.loads(h.stdout)
    events = events["events"] if isinstance(events, dict) else events
    by_image = {e["image"]: e["pipeline_id"] for e in events if e["image"]}
    assert by_image == {f"aegis/s{i}": str(1000 + i) for i in range(n)}


def test_over_http_through_the_test_git_server(tmp_path: Path) -> None:
    from tests.githttp import GitHTTPServer

    n = 12
    projects = tmp_path / "srv"
    projects.mkdir()
    make_remote(projects, n, "gitops.git")
    work = tmp_path / "job"
    work.mkdir()
    with GitHTTPServer(projects, {"oauth2": "t0ken-for-the-test"}) as server:
        procs = [start(work, server.url("gitops.git"), "dev", f"aegis/s{i}=*:1.0.1",
                       env={"GITOPS_TOKEN": "t0ken-for-the-test"}) for i in range(n)]
        results = finish(procs)
        receive = [r for r in server.requests if r.startswith("POST") and "git-receive-pack" in r]
    for code, _, stderr in results:
        assert code == 0, stderr
    remote = projects / "gitops.git"
    assert tags(remote, n) == ["1.0.1"] * n
    assert len(change_trailers(remote)) == n
    assert pending_refs(remote) == []
    assert len(receive) <= 2 * n


def test_the_same_image_from_two_jobs_the_newer_wins_the_older_is_skipped(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, 2)
    work = tmp_path / "job"
    work.mkdir()
    newer = start(work, f"file://{remote}", "--batch-window", "3s", "dev", "aegis/s0=*:1.5.0")
    wait_for_pending(remote, newer)  # the newer tag is published first ...
    older = start(work, f"file://{remote}", "--batch-window", "0s", "dev", "aegis/s0=*:1.4.9")  # ... the older after
    (c1, d1, e1), (c2, d2, e2) = finish([newer, older])
    assert (c1, c2) == (0, 0), e1 + e2
    assert tags(remote, 1) == ["1.5.0"]
    assert d1["fold"]["status"] == "landed" and d1["changed"]  # type: ignore[index]
    assert d2["fold"]["status"] == "skipped" and not d2["changed"] and d2["commit"] is None  # type: ignore[index]
    assert "1.4.9 is older than 1.5.0" in str(d2["fold"]["reason"])  # type: ignore[index]
    assert d2["landed_with"] == 1
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert "Gitops-Change: dev aegis/s0 1.0.0 -> 1.5.0" in message
    assert sorted(s.status for s in fold.folded(message).values()) == ["landed", "skipped"]
    assert pending_refs(remote) == []


def test_a_server_that_refuses_pending_refs_falls_back_to_retries_and_says_so(tmp_path: Path) -> None:
    n = 6
    remote = make_remote(tmp_path, n)
    log = tmp_path / "pushes.log"
    count_pushes(remote, log, refuse_pending=True)
    work = tmp_path / "job"
    work.mkdir()
    results = finish([start(work, f"file://{remote}", "dev", f"aegis/s{i}=*:1.0.1") for i in range(n)])
    for code, data, stderr in results:
        assert code == 0, stderr
        assert "fold" not in data and "refused the pending ref" in str(data["note"])
        assert "refs/gitops-tools/ is not allowed here" in str(data["note"])
    assert tags(remote, n) == ["1.0.1"] * n
    assert pending_refs(remote) == []
    text = run(work, "image", "set", "--repo-url", f"file://{remote}", "dev", "aegis/s0=*:1.0.2")
    assert text.returncode == 0, text.stderr
    assert "note: the remote refused the pending ref" in text.stdout


def publish_by_hand(tmp_path: Path, remote: Path, change_id: str, spec: str) -> str:
    """A pending ref as a job that died right after publishing it leaves behind."""
    clone = tmp_path / f"hand-{change_id}"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    change = fold.PendingChange(change_id, "dev", (spec,))
    sha = subprocess.run(["git", "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", fold.encode(change)], cwd=clone,
                         check=True, capture_output=True, text=True).stdout.strip()
    git(clone, "push", "-q", "origin", f"{sha}:{fold.pending_ref('main', change_id)}")
    return sha


def test_two_folders_at_once_apply_a_dead_jobs_change_once(tmp_path: Path) -> None:
    """A job died after publishing (long ago): the next two jobs both take over at once; the atomic, leased push
    lets one fold win, and nothing is applied twice or lost."""
    remote = make_remote(tmp_path, 3)
    dead = fold.new_id(1_000_000_000 * 10**9, 1)  # 2001: older than any takeover delay
    publish_by_hand(tmp_path, remote, dead, "aegis/s0=*:1.0.1")
    work = tmp_path / "job"
    work.mkdir()
    results = finish([start(work, f"file://{remote}", "dev", f"aegis/s{i}=*:1.0.1") for i in (1, 2)])
    for code, data, stderr in results:
        assert code == 0, stderr
    assert tags(remote, 3) == ["1.0.1"] * 3
    assert sorted(change_trailers(remote)) == [f"Gitops-Change: dev aegis/s{i} 1.0.0 -> 1.0.1" for i in range(3)]
    assert pending_refs(remote) == []


def test_folders_killed_at_random_points_lose_nothing_and_apply_nothing_twice(tmp_path: Path) -> None:
    n = 10
    remote = make_remote(tmp_path, n + 1)
    work = tmp_path / "job"
    work.mkdir()
    rng = random.Random(14)
    procs = [start(work, f"file://{remote}", "dev", f"aegis/s{i}=*:1.0.1") for i in range(n)]
    killed = set(rng.sample(range(n), 4))
    time.sleep(0.3)
    for i in sorted(killed):
        time.sleep(rng.uniform(0, 0.4))
        procs[i].send_signal(signal.SIGKILL)
    results = finish(procs)
    for i, (code, _, stderr) in enumerate(results):
        if i not in killed:
            assert code == 0, stderr
    # a later job folds whatever the dead ones left pending
    last = finish([start(work, f"file://{remote}", "dev", f"aegis/s{n}=*:1.0.1")])
    assert last[0][0] == 0, last[0][2]
    assert pending_refs(remote) == []
    got = tags(remote, n + 1)
    trailers = change_trailers(remote)
    for i in range(n + 1):
        mine = [t for t in trailers if t.startswith(f"Gitops-Change: dev aegis/s{i} ")]
        assert len(mine) <= 1  # never applied twice
        if i not in killed:
            assert got[i] == "1.0.1" and len(mine) == 1  # never lost
        else:  # killed: landed once, or never published (then nothing of it anywhere)
            assert (got[i], len(mine)) in {("1.0.1", 1), ("1.0.0", 0)}
    # a job that ended removed its clone; only a killed one may leave its scratch directory behind
    assert len(list((tmp_path / "tmp").iterdir())) <= len(killed)


def test_an_interrupted_waiting_job_withdraws_its_change(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, 1)
    work = tmp_path / "job"
    work.mkdir()
    p = start(work, f"file://{remote}", "--batch-window", "30s", "dev", "aegis/s0=*:1.0.1")
    wait_for_pending(remote, p)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == 143
    assert pending_refs(remote) == []
    assert tags(remote, 1) == ["1.0.0"]


def test_pending_change_round_trip_and_fold_message() -> None:
    change = fold.PendingChange(fold.new_id(1_700_000_000_000_000_000, 0xABCDEF), "dev", ("aegis/api=*:1.4.2",),
                                ("flux-system:api=reg/x:1.4.2",), True, False,
                                fold.ci_environment({"CI_PIPELINE_ID": "77", "HOME": "/root"}))
    assert change.env == (("CI_PIPELINE_ID", "77"),)
    assert fold.decode(fold.encode(change)) == change
    assert fold.decode("chore: something else\n") is None
    assert fold.decode(fold.encode(change).replace(change.id, "1-2", 1)) is None
    assert fold.id_time(change.id) == 1_700_000_000.0
    from gitops_tools.core.changes import Change, ImageUpdate

    up = ImageUpdate("aegis/api", "1.4.1", "1.4.2", "updated",
                     (Change("environments/dev/kustomization.yaml", "images[name=aegis/api].newTag", "1.4.1",
                             "1.4.2"),))
    a = fold.FoldEntry(fold.new_id(1, 1), "dev", "landed", updates=(up,), trailers=(("Gitops-Pipeline-Id", "7"),))
    b = fold.FoldEntry(fold.new_id(2, 2), "dev", "skipped", reason="1.4.0 is older\nthan 1.4.2")
    message = fold.fold_message([a, b])
    assert message.splitlines()[0] == "chore(dev): set aegis/api 1.4.1 -> 1.4.2 [2 changes folded]"
    assert fold.folded(message) == {a.id: fold.Folded("landed", ""), b.id: fold.Folded("skipped",
                                                                                      "1.4.0 is older than 1.4.2")}
    with pytest.raises(ValueError):
        fold.fold_message([b])


def test_a_fold_that_changes_nothing_makes_no_commit_and_every_job_says_so(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, 1)
    work = tmp_path / "job"
    work.mkdir()
    first = start(work, f"file://{remote}", "--batch-window", "4s", "dev", "aegis/s0=*:1.0.1")
    wait_for_pending(remote, first)
    second = start(work, f"file://{remote}", "dev", "aegis/s0=*:1.0.1")
    wait_for_pending(remote, second, 2)
    # meanwhile someone lands the same value with the retry loop
    direct = run(work, "image", "set", "--no-fold", "--repo-url", f"file://{remote}", "dev", "aegis/s0=*:1.0.1")
    assert direct.returncode == 0, direct.stderr
    head = git(remote, "rev-parse", "main")
    (c1, d1, e1), (c2, d2, e2) = finish([first, second])
    assert (c1, c2) == (0, 0), e1 + e2
    assert d1["fold"]["status"] == d2["fold"]["status"] == "unchanged"  # type: ignore[index]
    assert d1["commit"] is None and d2["commit"] is None and not d1["changed"] and not d2["changed"]
    assert git(remote, "rev-parse", "main") == head and pending_refs(remote) == []


def late_publisher(tmp_path: Path, remote: Path, change_id: str, spec: str) -> dict[str, str]:
    """An environment whose git publishes a pending change of ``spec`` on the server while the first fold reads
    the pending refs (``uploadpack.packObjectsHook``, run by the server after it listed the refs): a job that
    published while the fold was planned. Once."""
    clone = tmp_path / "late"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    sha = subprocess.run(["git", "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m",
                          fold.encode(fold.PendingChange(change_id, "dev", (spec,)))],
                         cwd=clone, check=True, capture_output=True, text=True).stdout.strip()
    git(clone, "push", "-q", "origin", f"{sha}:refs/late/{change_id}")  # the object, where no fold looks
    marker = tmp_path / "published"
    hook = tmp_path / "pack-objects-hook"
    hook.write_text(f"""#!/bin/sh
if [ ! -e "{marker}" ] && [ -n "$(git for-each-ref refs/gitops-tools/)" ]; then
    touch "{marker}"
    git update-ref {fold.pending_ref("main", change_id)} {sha}
fi
exec "$@"
""")
    hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    return {"GIT_CONFIG_GLOBAL": str(config)}


def test_a_change_published_while_the_fold_is_planned_joins_that_fold(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, 2)
    late = fold.new_id(time.time_ns(), 7)
    env = late_publisher(tmp_path, remote, late, "aegis/s1=*:1.0.1")
    log = tmp_path / "pushes.log"
    count_pushes(remote, log)
    work = tmp_path / "job"
    work.mkdir()
    [(code, data, stderr)] = finish([start(work, f"file://{remote}", "dev", "aegis/s0=*:1.0.1", env=env)])
    assert code == 0, stderr
    assert (tmp_path / "published").exists()
    assert tags(remote, 2) == ["1.0.1", "1.0.1"]
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert set(fold.folded(message)) == {data["fold"]["id"], late}  # type: ignore[index]
    assert data["landed_with"] == 1 and data["commit"] == git(remote, "rev-parse", "main").strip()
    assert pending_refs(remote) == []
    assert pushes(log) == 2  # the job's pending ref, then one fold of both


def test_a_late_change_of_an_image_the_fold_already_set_waits_for_the_next_fold(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, 2)
    late = fold.new_id(time.time_ns() - 60 * 10**9, 7)  # its job is gone: the next one takes over at once
    env = late_publisher(tmp_path, remote, late, "aegis/s0=*:1.0.2")
    work = tmp_path / "job"
    work.mkdir()
    [(code, data, stderr)] = finish([start(work, f"file://{remote}", "dev", "aegis/s0=*:1.0.1", env=env)])
    assert code == 0, stderr
    assert data["landed_with"] == 0 and tags(remote, 1) == ["1.0.1"]
    assert pending_refs(remote) == [fold.pending_ref("main", late)]  # left for the next fold, not lost
    # the next job folds it, after its own history says what the first fold did
    [(code, data, stderr)] = finish([start(work, f"file://{remote}", "dev", "aegis/s1=*:1.0.1")])
    assert code == 0, stderr
    assert tags(remote, 2) == ["1.0.2", "1.0.1"] and pending_refs(remote) == []
