"""Writing under faults: concurrent writers, server-side rejections and races, a vanishing remote, SIGKILL.

Real processes and real git only: the remote is a bare repository reached through ``file://``, every run of
the tool is a subprocess started in an empty directory with its own ``TMPDIR`` (so that leftover clones can be
seen), and every assertion is about what must hold whatever the interleaving of the processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gitops_tools.git.refusals import RETRY, classify_push_error
from tests.conftest import git, make_checkout

CONFIG = """\
environments:
  - name: dev
"""

KUST = "environments/dev/kustomization.yaml"


def kustomization(count: int, tag: str = "1.0.0") -> str:
    """A kustomization whose bytes around the tags (comments, quoting, other keys) must survive every edit."""
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "namespace: aegis-dev  # the dev namespace",
        "resources:",
        "  - ../../base",
        "images:",
    ]
    for i in range(count):
        lines.append(f"  - name: aegis/svc{i:02d}")
        if i % 3 == 0:
            lines.append(f"    newName: registry.example.com/aegis/svc{i:02d}  # mirrored")
        lines.append(f"    newTag: {tag}" + ("  # bumped by CI" if i % 4 == 1 else ""))
    lines += ["labels:", "  - pairs:", '      team: "aegis"', ""]
    return "\n".join(lines)


API = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: aegis/api
    newName: registry.example.com/aegis/api  # mirrored
    newTag: {tag}
  - name: aegis/worker
    newTag: 3.2.1
"""


# --- helpers -------------------------------------------------------------------------------------------------


def make_remote(tmp_path: Path, kust: str, name: str = "remote.git") -> Path:
    """A bare repository holding one commit (``initial``) on main, pushed from a throwaway checkout."""
    seed = make_checkout(tmp_path / f"seed-{name}", {"gitops-tools.yaml": CONFIG, KUST: kust})
    bare = tmp_path / name
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, capture_output=True)
    git(seed, "push", "-q", str(bare), "main")
    return bare


def url(bare: Path) -> str:
    return f"file://{bare}"


def main_sha(bare: Path) -> str:
    return git(bare, "rev-parse", "refs/heads/main").strip()


def remote_text(bare: Path, path: str = KUST, rev: str = "main") -> str:
    return git(bare, "show", f"{rev}:{path}")


class Tool:
    """Runs ``python -m gitops_tools`` in an empty working directory with a private TMPDIR."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path / "work"
        self.tmpdir = tmp_path / "tmpdir"
        self.cwd.mkdir()
        self.tmpdir.mkdir()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # These tests are about the push-and-retry loop (what --no-fold, protected environments, promote and
        # rollback use, and what a server refusing pending refs falls back to); folding: tests/test_fold.py.
        return {**os.environ, "TMPDIR": str(self.tmpdir), "GITOPS_FOLD": "0", **(extra or {})}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gitops_tools", *args]

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), cwd=cwd or self.cwd, capture_output=True, text=True,
                              env=self.env(env), timeout=60)

    def popen(self, *args: str, cwd: Path | None = None, **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=cwd or self.cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(), **kwargs)  # type: ignore[call-overload]

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.tmpdir.iterdir() if p.name.startswith("gitops-tools-"))


@pytest.fixture
def tool(tmp_path: Path) -> Tool:
    return Tool(tmp_path)


def write_hook(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def trailers(bare: Path, rev: str) -> list[str]:
    return [line for line in git(bare, "log", "-1", "--format=%B", rev).splitlines()
            if line.startswith("Gitops-Change:")]


def processes_in(*dirs: Path) -> list[int]:
    """The processes (not this one) whose working directory is inside one of ``dirs`` (Linux /proc)."""
    roots = [str(d.resolve()) for d in dirs]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(cwd == r or cwd.startswith(r + "/") for r in roots):
            found.append(int(entry.name))
    return found


def wait_for_orphans(*dirs: Path, timeout: float = 30.0) -> None:
    """Wait until the git processes a SIGKILLed run left behind (clone, commit, push, receive-pack) are gone."""
    deadline = time.monotonic() + timeout
    while processes_in(*dirs):
        assert time.monotonic() < deadline, f"processes still running in {dirs}: {processes_in(*dirs)}"
        time.sleep(0.02)


# --- 1. twenty writers at once -------------------------------------------------------------------------------

def landed_images(bare: Path, base: str) -> dict[str, str]:
    """image -> the one commit after ``base`` that changed it; every commit touches only the kustomization and
    names exactly one image (the first-parent history is linear: nobody merged or force-pushed)."""
    assert git(bare, "rev-list", "--merges", f"{base}..main") == ""
    named: dict[str, str] = {}
    for sha in git(bare, "rev-list", f"{base}..main").split():
        stat = git(bare, "show", "--stat", "--format=", sha).splitlines()
        assert stat[0].split("|")[0].strip() == KUST and stat[-1].strip().startswith("1 file changed"), stat
        assert git(bare, "show", "--name-only", "--format=", sha) == f"{KUST}\n"
        lines = trailers(bare, sha)
        assert len(lines) == 1, lines
        scope, image, old, arrow, new = lines[0].removeprefix("Gitops-Change: ").split(" ")
        assert (scope, arrow) == ("dev", "->")
        assert (old, new) in (("1.0.0", "1.0.1"), (f"registry.example.com/{image}:1.0.0",
                                                   f"registry.example.com/{image}:1.0.1"))
        assert image not in named, f"{image} landed twice"
        named[image] = sha
    return named


def bumped(count: int, images: list[str]) -> str:
    """kustomization(count) with exactly ``images`` at 1.0.1: every other byte as it was."""
    lines = kustomization(count).split("\n")
    current = None
    for i, line in enumerate(lines):
        if line.startswith("  - name: "):
            current = line.removeprefix("  - name: ")
        elif line.startswith("    newTag: 1.0.0") and current in images:
            lines[i] = line.replace("1.0.0", "1.0.1")
    return "\n".join(lines)


@pytest.mark.parametrize("round_", [0, 1, 2], ids=lambda r: f"round{r}")
def test_twenty_concurrent_writers_all_land_once(tmp_path: Path, tool: Tool, round_: int) -> None:
    n = 20
    bare = make_remote(tmp_path, kustomization(n))
    base = main_sha(bare)
    images = [f"aegis/svc{i:02d}" for i in range(n)]
    assert bumped(n, images) == kustomization(n).replace("newTag: 1.0.0", "newTag: 1.0.1")

    def args(image: str) -> list[str]:
        return ["image", "set", "-o", "json", "--repo-url", url(bare), "dev", f"{image}=*:1.0.1"]

    start = time.monotonic()
    procs = {image: tool.popen(*args(image)) for image in images}
    results = {image: (*p.communicate(timeout=120), p.returncode) for image, p in procs.items()}
    elapsed = time.monotonic() - start
    ok = {image: json.loads(out) for image, (out, _, code) in results.items() if code == 0}
    gave_up = sorted(image for image, (_, _, code) in results.items() if code != 0)
    attempts = sorted(d["attempts"] for d in ok.values())
    print(f"\nround {round_}: {len(ok)}/{n} landed in {elapsed:.1f}s, attempts {attempts}; exit 75: {gave_up}")

    # Every run lands its change exactly once and says so; no commit is empty, lost or doubled.
    assert gave_up == [], {image: results[image][1] for image in gave_up}
    assert all(d["pushed"] == "main" and d["changed"] is True and d["attempts"] >= 1 for d in ok.values())
    named = landed_images(bare, base)
    assert named == {image: d["commit"] for image, d in ok.items()}
    assert int(git(bare, "rev-list", "--count", f"{base}..main")) == n
    assert sorted(named) == images
    assert remote_text(bare) == kustomization(n).replace("newTag: 1.0.0", "newTag: 1.0.1")
    assert tool.leftovers() == []


# --- 2. a late job with an older tag -------------------------------------------------------------------------


def test_late_older_tag_pushes_nothing(tmp_path: Path, tool: Tool) -> None:
    bare = make_remote(tmp_path, API.format(tag="1.5.0"))
    before = main_sha(bare)
    r = tool.run("image", "set", "--repo-url", url(bare), "dev", "aegis/api=*:1.4.9")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"{KUST}: images[name=aegis/api].newTag: 1.4.9 is older than 1.5.0; skipped"
        " (pass --allow-downgrade to roll back on purpose)\n"
    )
    assert main_sha(bare) == before
    assert git(bare, "for-each-ref", "--format=%(refname)") == "refs/heads/main\n"
    assert tool.leftovers() == []


# --- 3. a hook that says no for good -------------------------------------------------------------------------


def test_hook_rejection_is_final_after_one_attempt(tmp_path: Path, tool: Tool) -> None:
    bare = make_remote(tmp_path, API.format(tag="1.4.1"))
    calls = tmp_path / "hook-calls"
    write_hook(bare / "hooks/pre-receive",
               f"echo called >> '{calls}'\necho 'remote policy: deploy freeze until Monday' >&2\nexit 1\n")
    before = main_sha(bare)
    r = tool.run("image", "set", "--repo-url", url(bare), "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: push to main rejected: ")
    assert "deploy freeze until Monday" in first
    assert "pre-receive hook declined" in first
    assert r.stderr.splitlines()[-1] == "hint: the remote refused it for good (hook, protection or credentials)"
    assert calls.read_text() == "called\n"  # exactly one push attempt
    assert main_sha(bare) == before
    assert remote_text(bare) == API.format(tag="1.4.1")
    assert tool.leftovers() == []


# --- 4. the server's own concurrent writers ------------------------------------------------------------------

# For its first 3 invocations the hook moves main itself (one commit adding an unrelated file), so that
# receive-pack's update of main from the old value the push was based on fails as a race. The objects and
# the ref update must leave the quarantine environment of pre-receive, or git refuses the update.
RACING_HOOK = """\
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
n=$(( $(cat '{counter}' 2>/dev/null || echo 0) + 1 ))
echo $n > '{counter}'
[ $n -le {races} ] || exit 0
old=$(git rev-parse refs/heads/main) || exit 2
blob=$(echo "written by another writer, race $n" | git hash-object -w --stdin) || exit 2
tree=$( (git ls-tree "$old"; printf '100644 blob %s\\tother-%s.txt\\n' "$blob" "$n") | git mktree) || exit 2
new=$(echo "another writer $n" | GIT_AUTHOR_NAME=Other GIT_AUTHOR_EMAIL=other@example.com \\
      GIT_COMMITTER_NAME=Other GIT_COMMITTER_EMAIL=other@example.com git commit-tree "$tree" -p "$old") || exit 2
git update-ref refs/heads/main "$new" "$old" || exit 2
exit 0
"""


def test_ref_update_races_are_retried_on_fresh_state(tmp_path: Path, tool: Tool) -> None:
    bare = make_remote(tmp_path, API.format(tag="1.4.1"))
    base = main_sha(bare)
    counter = tmp_path / "hook-counter"
    write_hook(bare / "hooks/pre-receive", RACING_HOOK.format(counter=counter, races=3))

    # what git 2.39 itself says about such a race (the patterns of pushpolicy must know it)
    probe = make_remote(tmp_path, API.format(tag="1.4.1"), name="probe.git")
    probe_counter = tmp_path / "probe-counter"
    write_hook(probe / "hooks/pre-receive", RACING_HOOK.format(counter=probe_counter, races=1))
    clone = tmp_path / "probe-clone"
    git(tmp_path, "clone", "-q", url(probe), str(clone))
    (clone / "x.txt").write_text("x\n")
    git(clone, "add", "x.txt")
    git(clone, "commit", "-qm", "x")
    push = subprocess.run(["git", "push", "origin", "HEAD:refs/heads/main"], cwd=clone, capture_output=True, text=True)
    assert push.returncode == 1
    assert " ! [remote rejected] HEAD -> main (failed to update ref)" in push.stderr
    assert "remote: error: cannot lock ref 'refs/heads/main': is at " in push.stderr
    assert classify_push_error(push.stderr) == RETRY

    r = tool.run("image", "set", "-o", "json", "--repo-url", url(bare), "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["attempts"], data["pushed"], data["changed"]) == (4, "main", True)
    assert counter.read_text() == "4\n"
    assert data["commit"] == main_sha(bare)
    assert git(bare, "log", "--format=%s", "main").splitlines() == [
        "chore(dev): set aegis/api registry.example.com/aegis/api:1.4.1 -> registry.example.com/aegis/api:1.4.2",
        "another writer 3",
        "another writer 2",
        "another writer 1",
        "initial",
    ]
    assert git(bare, "rev-parse", "main~4").strip() == base
    for i in (1, 2, 3):
        assert git(bare, "show", "--name-only", "--format=", f"main~{4 - i}") == f"other-{i}.txt\n"
    assert git(bare, "show", "--name-only", "--format=", "main") == f"{KUST}\n"
    assert remote_text(bare) == API.format(tag="1.4.2")
    assert sorted(git(bare, "ls-tree", "--name-only", "main").split()) == [
        "environments", "gitops-tools.yaml", "other-1.txt", "other-2.txt", "other-3.txt"]
    assert tool.leftovers() == []


# For the first 3 commits made in the tool's clone, a post-commit hook (from the clone's template) has
# "another writer" push to the remote first: the tool's push is then a plain non-fast-forward.
NON_FAST_FORWARD_HOOK = """\
n=$(( $(cat '{counter}' 2>/dev/null || echo 0) + 1 ))
echo $n > '{counter}'
[ $n -le 3 ] || exit 0
unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_PREFIX
g="git --git-dir={bare}"
old=$($g rev-parse refs/heads/main)
blob=$(echo "pushed first by another writer, $n" | $g hash-object -w --stdin)
tree=$( ($g ls-tree "$old"; printf '100644 blob %s\\tfirst-%s.txt\\n' "$blob" "$n") | $g mktree)
new=$(echo "another writer was first $n" | $g commit-tree "$tree" -p "$old")
$g update-ref refs/heads/main "$new" "$old"
"""


def test_pushes_rejected_as_non_fast_forward_are_retried_on_fresh_state(tmp_path: Path, tool: Tool) -> None:
    bare = make_remote(tmp_path, API.format(tag="1.4.1"))
    counter = tmp_path / "commits"
    template = tmp_path / "template"
    write_hook(template / "hooks/post-commit", NON_FAST_FORWARD_HOOK.format(counter=counter, bare=bare))

    r = tool.run("-v", "-o", "json", "image", "set", "--repo-url", url(bare), "dev", "aegis/api=*:1.4.2",
                 env={"GIT_TEMPLATE_DIR": str(template)})

    assert r.returncode == 0, r.stderr
    assert r.stderr.count("$ git push --quiet origin HEAD:refs/heads/main") == 4
    assert r.stderr.count("$ git reset --quiet --hard refs/remotes/origin/main") == 3  # fresh state, re-applied
    data = json.loads(r.stdout)
    assert (data["attempts"], data["pushed"], data["commit"]) == (4, "main", main_sha(bare))
    assert counter.read_text() == "4\n"  # one commit per attempt
    assert git(bare, "log", "--format=%s", "main").splitlines() == [
        "chore(dev): set aegis/api registry.example.com/aegis/api:1.4.1 -> registry.example.com/aegis/api:1.4.2",
        "another writer was first 3", "another writer was first 2", "another writer was first 1", "initial"]
    assert remote_text(bare) == API.format(tag="1.4.2")
    assert tool.leftovers() == []


def test_twenty_writers_racing_one_run_still_lands(tmp_path: Path, tool: Tool) -> None:
    # Deterministic form of the 20-writer race, from the point of view of its unluckiest run: 19 others land
    # first, one per attempt (the hook of test 4, 19 times).
    bare = make_remote(tmp_path, API.format(tag="1.4.1"))
    counter = tmp_path / "hook-counter"
    write_hook(bare / "hooks/pre-receive", RACING_HOOK.format(counter=counter, races=19))
    r = tool.run("image", "set", "-o", "json", "--repo-url", url(bare), "dev", "aegis/api=*:1.4.2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["attempts"] == 20
    assert remote_text(bare) == API.format(tag="1.4.2")
    assert int(git(bare, "rev-list", "--count", "main")) == 1 + 19 + 1


# --- 5. the remote goes away ---------------------------------------------------------------------------------


def test_remote_gone_before_push_is_temporary(tmp_path: Path, tool: Tool) -> None:
    bare = make_remote(tmp_path, API.format(tag="1.4.1"))
    gone = bare.with_name(bare.name + ".gone")
    template = tmp_path / "template"
    write_hook(template / "hooks/post-checkout", f"mv '{bare}' '{gone}'\n")
    r = tool.run("image", "set", "--repo-url", url(bare), "dev", "aegis/api=*:1.4.2",
                 env={"GIT_TEMPLATE_DIR": str(template)})
    assert r.returncode == 75, r.stderr
    assert not bare.exists() and gone.is_dir()  # the hook did run: the clone worked, the push could not
    assert r.stdout == ""
    assert r.stderr.startswith("error: push to main failed: ")
    assert "does not appear to be a git repository" in r.stderr
    assert r.stderr.splitlines()[-1] == "hint: retry later (exit 75)"
    assert remote_text(gone) == API.format(tag="1.4.1")
    assert tool.leftovers() == []


def test_refused_connection_is_temporary(tool: Tool) -> None:
    r = tool.run("image", "set", "--repo-url", "http://127.0.0.1:9/x.git", "dev", "aegis/api=*:1.4.2",
                 env={"GIT_TERMINAL_PROMPT": "0"})
    assert r.returncode == 75, r.stderr
    assert r.stderr.startswith("error: git clone failed: ")
    assert "127.0.0.1 port 9" in r.stderr
    assert tool.leftovers() == []


# --- 6. SIGKILL anywhere between the edit and the push -------------------------------------------------------


def test_sigkill_at_random_points_then_rerun_lands_once(tmp_path: Path, tool: Tool) -> None:
    bare = make_remote(tmp_path, API.format(tag="1.0.0"))

    def args(tag: str) -> list[str]:
        return ["image", "set", "--repo-url", url(bare), "dev", f"aegis/api=*:{tag}"]

    start = time.monotonic()
    r = tool.run(*args("1.0.1"))
    normal = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    rng = random.Random(1234)
    delays = [rng.uniform(0, normal) for _ in range(6)]
    print(f"a normal run takes {normal:.3f}s; kill delays {[round(d, 3) for d in delays]}")

    previous = "1.0.1"
    for i, delay in enumerate(delays):
        tag = f"1.{i + 1}.0"
        victim = tool.popen(*args(tag))
        time.sleep(delay)
        os.kill(victim.pid, signal.SIGKILL)  # a no-op on a run that already finished (still a zombie)
        victim.communicate(timeout=30)
        wait_for_orphans(tool.tmpdir, bare)  # its git children (clone, commit, push) run on, orphaned
        landed_before_rerun = remote_text(bare) == API.format(tag=tag)

        again = tool.run(*args(tag))
        assert again.returncode == 0, f"delay {delay:.3f}s: {again.stderr}"
        print(f"kill after {delay:.3f}s: the killed run's push {'had' if landed_before_rerun else 'had not'} "
              f"landed; rerun: {again.stdout.splitlines()[0]}")
        expected = API.format(tag=tag)
        text = remote_text(bare)
        assert text == expected
        assert yaml.safe_load(text)["images"][0] == {
            "name": "aegis/api", "newName": "registry.example.com/aegis/api", "newTag": tag}
        change = (f"Gitops-Change: dev aegis/api registry.example.com/aegis/api:{previous} -> "
                  f"registry.example.com/aegis/api:{tag}")
        matching = [sha for sha in git(bare, "rev-list", "main").split() if change in trailers(bare, sha)]
        assert len(matching) == 1, f"delay {delay:.3f}s: {change!r} landed {len(matching)} times"
        fsck = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=bare, capture_output=True, text=True)
        assert (fsck.returncode, fsck.stderr) == (0, ""), fsck.stderr
        previous = tag
    assert int(git(bare, "rev-list", "--count", "main")) == 1 + 1 + len(delays)


# --- 7. one shared checkout, ten writers ---------------------------------------------------------------------


def test_concurrent_writers_in_one_checkout_are_serialized(tmp_path: Path, tool: Tool) -> None:
    n = 10
    repo = make_checkout(tmp_path / "gitops", {"gitops-tools.yaml": CONFIG, KUST: kustomization(n)})
    base = git(repo, "rev-parse", "HEAD").strip()
    procs = [tool.popen("image", "set", "dev", f"aegis/svc{i:02d}=*:1.0.1", cwd=repo) for i in range(n)]
    results = [(p.communicate(timeout=120), p.returncode) for p in procs]
    for (out, err), code in results:
        assert code == 0, err
        assert "index.lock" not in err
    assert int(git(repo, "rev-list", "--count", f"{base}..HEAD")) == n
    for sha in git(repo, "rev-list", f"{base}..HEAD").split():
        assert git(repo, "show", "--name-only", "--format=", sha) == f"{KUST}\n"
    expected = kustomization(n).replace("newTag: 1.0.0", "newTag: 1.0.1")
    assert (repo / KUST).read_text() == expected
    assert git(repo, "show", f"HEAD:{KUST}") == expected
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


# --- 8. SIGKILL while the pre-commit hook runs in a checkout -------------------------------------------------


@pytest.mark.parametrize("scope", [
    "process",
    "group",
])
def test_sigkill_during_commit_in_checkout(tmp_path: Path, tool: Tool, scope: str) -> None:
    repo = make_checkout(tmp_path / "gitops", {"gitops-tools.yaml": CONFIG, KUST: API.format(tag="1.4.1")})
    base = git(repo, "rev-parse", "HEAD").strip()
    started, release = tmp_path / "hook-started", tmp_path / "hook-release"
    hook = repo / ".git/hooks/pre-commit"
    write_hook(hook, f"touch '{started}'\ni=0\nwhile [ ! -e '{release}' ] && [ $i -lt 600 ]; do\n"
                     "  sleep 0.05; i=$((i+1))\ndone\n")
    victim = tool.popen("image", "set", "dev", "aegis/api=*:1.4.2", cwd=repo, start_new_session=True)
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline, "the hook never ran"
        time.sleep(0.01)
    if scope == "process":  # only the tool dies; its `git commit` (and the hook) run on
        os.kill(victim.pid, signal.SIGKILL)
    else:  # the whole job is killed, git and the hook with it
        os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    release.touch()
    wait_for_orphans(repo)

    text = (repo / KUST).read_text()
    head_text = git(repo, "show", f"HEAD:{KUST}")
    assert text in (head_text, API.format(tag="1.4.2"))  # the old bytes or the whole new file, never half
    assert yaml.safe_load(text)["images"][0]["newTag"] in ("1.4.1", "1.4.2")
    state = {
        "head moved": git(repo, "rev-parse", "HEAD").strip() != base,
        "file": "new" if text == API.format(tag="1.4.2") else "old",
        "index.lock": (repo / ".git/index.lock").exists(),
        "status": git(repo, "status", "--porcelain"),
    }
    print(f"after SIGKILL ({scope}): {state}")

    hook.unlink()
    again = tool.run("image", "set", "dev", "aegis/api=*:1.4.2", cwd=repo)
    print(f"rerun: exit {again.returncode}\nstdout: {again.stdout}stderr: {again.stderr}")
    assert again.returncode in (0, 1)
    if again.returncode == 1:
        assert "uncommitted changes" in again.stderr
    else:
        # exit 0 must mean the change is committed, not merely sitting in the working tree
        assert git(repo, "show", f"HEAD:{KUST}") == API.format(tag="1.4.2")
        assert git(repo, "status", "--porcelain") == ""


def test_uncommitted_edit_equal_to_the_request_is_not_reported_done(tmp_path: Path, tool: Tool) -> None:
    """What a run killed between its write and its commit leaves behind, without the kill (see test 8)."""
    repo = make_checkout(tmp_path / "gitops", {"gitops-tools.yaml": CONFIG, KUST: API.format(tag="1.4.1")})
    (repo / KUST).write_text(API.format(tag="1.4.2"))
    r = tool.run("image", "set", "dev", "aegis/api=*:1.4.2", cwd=repo)
    committed = git(repo, "show", f"HEAD:{KUST}") == API.format(tag="1.4.2")
    assert (r.returncode, committed) in ((0, True), (1, False))
    if r.returncode == 1:
        assert r.stderr.startswith(f"error: uncommitted changes in {KUST}\n")
