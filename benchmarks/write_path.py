#!/usr/bin/env python3
"""Benchmarks of the write path: ``gitops-tools image set --repo-url`` (clone, edit, commit, push, retry).

    python benchmarks/write_path.py [--quick] [--out benchmarks/results/write-path.md]

1. Clone-to-push for one bump, against local bare remotes (file:// URLs) with 10k files and 10k / 100k
   commits, next to the floor done by hand with git in the same run (shallow clone + ``sed -i`` +
   ``git commit -qam`` + ``git push`` + ``rm -rf``) and, for contrast, the same by hand with a full clone.
2. N concurrent writers (5, 20, 50) bumping different images of one kustomization in one remote: wall time,
   commits landed, failures, lost updates and push attempts, for gitops-tools and for the usual shell loop
   (``until git push; do git pull --rebase; done``, bounded).

Every measured command is a real subprocess with an isolated git environment (the helpers of
benchmarks/run.py).  Standard library only.  Nothing here asserts a speed.  What each scenario measures is
described in benchmarks/README.md ("Write path").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402  (benchmarks/run.py: the shared helpers)
    Case,
    Commands,
    Tools,
    emit,
    find_tools,
    image_name,
    kustomization,
    machine_facts,
    measure,
    next_tag,
    sed_set_tag,
)

# Remote layout: 10,000 files under services/gNN/svcNNNN/ (100 groups x 20 services x 5 files; the two-level
# layout keeps every tree object small, as real repositories are, so fast-import stays fast) + the GitOps files.
GROUPS, SERVICES_PER_GROUP = 100, 20
SERVICE_FILES = ("deployment.yaml", "service.yaml", "configmap.yaml", "hpa.yaml", "kustomization.yaml")
FILE_COUNT = GROUPS * SERVICES_PER_GROUP * len(SERVICE_FILES)
ENVIRONMENTS = ("dev", "staging", "prod")  # prod protected, as in the project's example
KFILE = "environments/dev/kustomization.yaml"
CLONE_IMAGES = 20  # scenario 1: images in environments/*/kustomization.yaml
WRITER_IMAGES = 60  # scenario 2: at least as many as the largest number of writers
SHELL_TRIES = 10  # the shell loop's bound on `git push` tries
EPOCH = 1_600_000_000


# ------------------------------------------------------------------------------------------------ machine


def filesystem_of(path: Path) -> str:
    """The mount point and type of the file system holding PATH (from /proc/mounts), or "?"."""
    best, kind = "", "?"
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "?"
    for line in mounts:
        parts = line.split()
        inside = (str(path) + "/").startswith(parts[1].rstrip("/") + "/") if len(parts) >= 3 else False
        if inside and len(parts[1]) >= len(best):
            best, kind = parts[1], parts[2]
    return f"{kind} (mounted on {best})" if best else "?"


def file_creation_ms(directory: Path, count: int = FILE_COUNT) -> tuple[float, float]:
    """Milliseconds to create COUNT small files in 100 directories, and to remove them (`rm -rf`)."""
    root = directory / "file-creation-probe"
    start = time.perf_counter()
    for d in range(100):
        sub = root / f"d{d:02d}"
        sub.mkdir(parents=True)
        for i in range(count // 100):
            (sub / f"f{i}.yaml").write_bytes(b"kind: ConfigMap\n")
    created = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(["rm", "-rf", str(root)], check=True)
    return created * 1000, (time.perf_counter() - start) * 1000


def backoff_defaults(tools: Tools) -> str:
    """The installed tool's retry policy, asked of a separate interpreter (nothing of the tool is imported here)."""
    code = "from gitops_tools.git.refusals import Backoff; print(repr(Backoff()))"
    proc = subprocess.run([tools.python, "-c", code], env=tools.env, capture_output=True, text=True)
    return f"`{proc.stdout.strip()}`" if proc.returncode == 0 else "? (gitops_tools.git.refusals.Backoff not found)"


# ------------------------------------------------------------------------------------------------ fixtures


def service_file(group: int, service: int, name: str, revision: int) -> str:
    svc = f"svc{group:02d}{service:02d}"
    return (f"# services/g{group:02d}/{svc}/{name}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: {svc}-{name.split('.')[0]}\n  labels:\n    app: {svc}\n    group: g{group:02d}\n"
            f"data:\n  revision: \"{revision}\"\n  owner: team-{group % 7}\n")


def all_service_paths() -> list[tuple[str, int, int, str]]:
    return [(f"services/g{g:02d}/svc{g:02d}{s:02d}/{name}", g, s, name)
            for g in range(GROUPS) for s in range(SERVICES_PER_GROUP) for name in SERVICE_FILES]


def gitops_files(images: int) -> dict[str, str]:
    config = ["# generated by benchmarks/write_path.py", "version: 1", "branch: main", "environments:"]
    files = {}
    for env in ENVIRONMENTS:
        config += [f"  - name: {env}", f"    path: environments/{env}"]
        if env == "prod":
            config.append("    protected: true")
        files[f"environments/{env}/kustomization.yaml"] = kustomization(
            [(image_name(i), f"1.{i}.0") for i in range(images)])
    config += ["policies:", "  allow_downgrade: false", "  refuse_mutable_tags: true"]
    files["gitops-tools.yaml"] = "\n".join(config) + "\n"
    return files


def _blob(path: str, text: str) -> bytes:
    data = text.encode()
    return b"M 644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)


def _commit(n: int, message: str, blobs: Iterator[bytes]) -> Iterator[bytes]:
    who = b"Bench Fixture <fixture@example.com> %d +0000" % (EPOCH + 60 * n)
    msg = message.encode()
    yield b"commit refs/heads/main\nauthor %s\ncommitter %s\ndata %d\n%s\n" % (who, who, len(msg), msg)
    yield from blobs
    yield b"\n"


def fast_import_stream(commits: int, images: int) -> Iterator[bytes]:
    """Commit 1 adds every file; each later commit changes one service file (a prime stride spreads them)."""
    paths = all_service_paths()
    first = [_blob(p, service_file(g, s, name, 0)) for p, g, s, name in paths]
    first += [_blob(p, text) for p, text in gitops_files(images).items()]
    yield from _commit(0, "initial layout", iter(first))
    for n in range(1, commits):
        p, g, s, name = paths[(n * 7919) % len(paths)]
        yield from _commit(n, f"services: touch {p}", iter([_blob(p, service_file(g, s, name, n))]))


def make_remote(tools: Tools, path: Path, commits: int, images: int) -> float:
    """A bare repository built with ``git fast-import``, then fully repacked with a bitmap, as a server keeps it."""
    started = time.perf_counter()
    tools.run([tools.git, "init", "-q", "--bare", str(path)], path.parent)
    proc = subprocess.Popen([tools.git, "fast-import", "--quiet"], cwd=path, env=tools.env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    chunk: list[bytes] = []
    size = 0
    try:
        for piece in fast_import_stream(commits, images):
            chunk.append(piece)
            size += len(piece)
            if size > 1 << 20:
                proc.stdin.write(b"".join(chunk))
                chunk, size = [], 0
        proc.stdin.write(b"".join(chunk))
        proc.stdin.close()
    except BrokenPipeError:  # fast-import stopped early: its stderr says why
        pass
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise SystemExit(f"git fast-import failed: {err}")
    tools.run([tools.git, "repack", "-a", "-d", "-q", "-b"], path)
    tools.run([tools.git, "commit-graph", "write", "--reachable"], path)
    count = tools.git_out(path, "rev-list", "--count", "main")
    if count != str(commits):
        raise SystemExit(f"{path}: expected {commits} commits, found {count}")
    return time.perf_counter() - started


def remote_text(tools: Tools, remote: Path, rel: str = KFILE) -> str:
    return tools.git_out(remote, "show", f"main:{rel}")


def tags_in(text: str) -> dict[str, str]:
    """images[].name -> newTag, from the fixed layout of the fixture's kustomization."""
    return dict(re.findall(r"^  - name: (\S+)\n    newTag: (\S+)$", text, re.MULTILINE))


# ------------------------------------------------------------------------------------ 1. clone-to-push


@dataclass
class CloneRow:
    remote: str
    tool: Case
    floor: Case
    full: Case

    @property
    def ratio(self) -> float:
        return self.tool.median_ms / self.floor.median_ms


def landed_one(tools: Tools, remote: Path, name: str) -> tuple[Callable[[], None], Callable[[str], None]]:
    """reset: remember the remote's tip; verify: exactly one new commit on main, holding NAME's new tag."""
    state: dict[str, str] = {}

    def reset() -> None:
        state["base"] = tools.git_out(remote, "rev-parse", "main")

    def verify(tag: str) -> None:
        if tools.git_out(remote, "rev-list", "--count", f"{state['base']}..main") != "1":
            raise SystemExit(f"{remote}: expected exactly one new commit on main")
        if tags_in(remote_text(tools, remote)).get(name) != tag:
            raise SystemExit(f"{remote}: main does not hold {name}:{tag}")
    return reset, verify


def tool_clone_set(tools: Tools, url: str, name: str) -> Commands:
    return lambda tag: [[tools.gitops_tools, "image", "set", "--repo-url", url, "dev", f"{name}=*:{tag}"]]


def by_hand(tools: Tools, url: str, name: str, shallow: bool) -> Commands:
    """clone + ``sed -i`` + ``git commit -qam`` + ``git push`` + ``rm -rf``: five processes, timed together."""
    def commands(tag: str) -> list[list[str]]:
        depth = ["--depth", "1"] if shallow else []
        return [
            [tools.git, "clone", "-q", *depth, "--single-branch", url, "work"],
            [tools.sed, "-i", sed_set_tag(name, tag), f"work/{KFILE}"],
            [tools.git, "-C", "work", "commit", "-qam", f"dev: set {name} to {tag}"],
            [tools.git, "-C", "work", "push", "-q", "origin", "HEAD:main"],
            ["rm", "-rf", "work"],
        ]
    return commands


def scenario_clone(tools: Tools, tmp: Path, sizes: Sequence[int], runs: int) -> tuple[list[CloneRow], list[str]]:
    rows, notes = [], []
    name = image_name(CLONE_IMAGES - 1)
    for commits in sizes:
        label = f"{commits:,} commits, {FILE_COUNT:,} files"
        remote = tmp / f"remote-{commits}.git"
        built = make_remote(tools, remote, commits, CLONE_IMAGES)
        pack = sum(p.stat().st_size for p in (remote / "objects" / "pack").glob("*.pack"))
        notes.append(f"- remote {label}: built in {built:.1f} s (fast-import + repack -adb + commit-graph), "
                     f"pack {pack / 2**20:.1f} MiB")
        print(f"1. clone-to-push, {label} (fixture {built:.1f} s)", file=sys.stderr)
        url = remote.as_uri()
        scratch = tmp / f"scratch-{commits}"
        scratch.mkdir()
        reset, verify = landed_one(tools, remote, name)
        tool = Case(f"gitops-tools image set --repo-url ({label})", scratch, tool_clone_set(tools, url, name),
                    reset, verify)
        floor = Case(f"shallow clone + sed + commit + push ({label})", scratch, by_hand(tools, url, name, True),
                     reset, verify)
        full = Case(f"full clone + sed + commit + push ({label})", scratch, by_hand(tools, url, name, False),
                    reset, verify)
        measure(tools, [tool, floor, full], runs)
        rows.append(CloneRow(label, tool, floor, full))
        if any(scratch.iterdir()):
            raise SystemExit(f"{scratch}: a run left files behind")
    return rows, notes


# ----------------------------------------------------------------------------------- where the time goes


def trace_breakdown(tools: Tools, argvs: Sequence[Sequence[str]], cwd: Path,
                    trace: Path) -> tuple[float, list[tuple[str, float]]]:
    """Run ARGVS once with GIT_TRACE2_EVENT; the wall time and the time of each top-level git process."""
    env = {**tools.env, "GIT_TRACE2_EVENT": str(trace)}
    start = time.perf_counter()
    for argv in argvs:
        proc = subprocess.run(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"traced run failed: {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    wall = time.perf_counter() - start
    commands: dict[str, str] = {}
    elapsed: dict[str, float] = {}
    for line in trace.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        sid = event.get("sid", "")
        if "/" in sid:  # a child of another git process (upload-pack, index-pack, ...): inside its parent
            continue
        if event.get("event") == "cmd_name":
            commands[sid] = event["name"]
        elif event.get("event") == "exit":
            elapsed[sid] = float(event["t_abs"])
    trace.unlink()
    totals: dict[str, list[float]] = {}  # command -> times, in the order the commands first ran
    for sid, t in elapsed.items():
        totals.setdefault(commands.get(sid, "?"), []).append(t)
    return wall, [(cmd if len(ts) == 1 else f"{cmd} x{len(ts)}", sum(ts)) for cmd, ts in totals.items()]


def breakdown_section(tools: Tools, tmp: Path, commits: int) -> list[str]:
    """One traced run of the tool and of the floor against the remote of COMMITS commits."""
    remote = tmp / f"remote-{commits}.git"
    url, name = remote.as_uri(), image_name(CLONE_IMAGES - 1)
    scratch = tmp / f"scratch-{commits}"
    out = [f"## Where the time goes (one traced run each, {commits:,}-commit remote, `GIT_TRACE2_EVENT`)", "",
           "| command | wall (ms) | git processes (ms from start to exit; xN = N processes, summed) "
           "| outside git (ms) |", "| --- | ---: | --- | ---: |"]
    for label, commands in (("gitops-tools image set --repo-url", tool_clone_set(tools, url, name)),
                            ("by hand, shallow clone", by_hand(tools, url, name, True))):
        wall, parts = trace_breakdown(tools, commands(next_tag()), scratch, tmp / "trace.json")
        git_ms = sum(t for _, t in parts) * 1000
        listed = ", ".join(f"{cmd} {t * 1000:.0f}" for cmd, t in parts)
        out.append(f"| {label} | {wall * 1000:.0f} | {listed} | {wall * 1000 - git_ms:.0f} |")
    out += ["", "outside git = wall - the git processes: for gitops-tools, Python start-up, imports, reading the "
            "configuration and the kustomization, process creation and `rmtree` of the clone; for the floor, "
            "`sed` and `rm -rf`."]
    return out


# ------------------------------------------------------------------------------- 2. concurrent writers


SHELL_WRITER = r"""
set -u
url=$1 dir=$2 file=$3 script=$4 message=$5 tries=$6
trap 'cd / && rm -rf "$dir"' EXIT
git clone -q --depth 1 "$url" "$dir" || exit 3
cd "$dir" || exit 3
sed -i "$script" "$file" || exit 3
git commit -qam "$message" || exit 3
n=1
until git push -q; do
  if [ "$n" -ge "$tries" ]; then echo "attempts=$n"; exit 1; fi
  git pull -q --rebase || echo "pull-failed"
  n=$((n + 1))
done
echo "attempts=$n"
"""


@dataclass
class Trial:
    wall: float
    cpu: float  # user + system seconds of the writers and their git processes
    writers: int
    landed: int  # commits added to main
    failed: int  # writers that exited non-zero
    lost: int  # writers that exited 0 but whose tag is not on main at the end
    attempts: list[int]  # push attempts of the writers that reported them
    reasons: dict[str, int] = field(default_factory=dict)  # why writers failed -> how many


@dataclass
class WriterRow:
    writers: int
    approach: str
    trials: list[Trial]

    @property
    def walls(self) -> list[float]:
        return [t.wall for t in self.trials]


def writer_argv(tools: Tools, approach: str, url: str, name: str, tag: str, workdir: Path) -> list[str]:
    if approach == "gitops-tools":
        return [tools.gitops_tools, "-o", "json", "image", "set", "--repo-url", url, "dev", f"{name}=*:{tag}"]
    return ["bash", "-c", SHELL_WRITER, "shell-writer", url, str(workdir), KFILE, sed_set_tag(name, tag),
            f"dev: set {name} to {tag}", str(SHELL_TRIES)]


def parse_attempts(approach: str, stdout: str) -> int | None:
    if approach == "gitops-tools":
        try:
            return int(json.loads(stdout)["attempts"])
        except (ValueError, KeyError, TypeError):
            return None
    m = re.search(r"^attempts=(\d+)$", stdout, re.MULTILINE)
    return int(m.group(1)) if m else None


def failure_reason(approach: str, code: int, stdout: str, stderr: str) -> str:
    if approach == "gitops-tools":
        if code == 75 and "still rejected after" in stderr:
            return "exit 75: push still rejected after its retries"
        first = next((line for line in stderr.splitlines() if line.startswith("error:")), stderr.strip()[:80])
        return f"exit {code}: {first}"
    if "pull-failed" in stdout:
        return f"exit {code}: a `git pull --rebase` failed"
    if code == 1:
        return f"exit 1: {SHELL_TRIES} pushes rejected"
    return f"exit {code}: clone, sed or commit failed"


def one_trial(tools: Tools, remote: Path, scratch: Path, approach: str, writers: int) -> Trial:
    url = remote.as_uri()
    base = tools.git_out(remote, "rev-parse", "main")
    jobs = [(image_name(i), next_tag()) for i in range(writers)]
    logs = scratch / "logs"
    logs.mkdir()
    procs = []
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for i, (name, tag) in enumerate(jobs):
        out = open(logs / f"{i}.out", "wb")
        err = open(logs / f"{i}.err", "wb")
        procs.append((subprocess.Popen(writer_argv(tools, approach, url, name, tag, scratch / f"w{i}"),
                                       cwd=scratch, env=tools.env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=err), out, err))
    codes = []
    for proc, out, err in procs:
        codes.append(proc.wait())
        out.close()
        err.close()
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the writers and every process they waited for
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)

    final = tags_in(remote_text(tools, remote))
    landed = int(tools.git_out(remote, "rev-list", "--count", f"{base}..main"))
    attempts: list[int] = []
    failed, lost = 0, 0
    reasons: dict[str, int] = {}
    for i, ((name, tag), code) in enumerate(zip(jobs, codes)):
        stdout = (logs / f"{i}.out").read_text(encoding="utf-8", errors="replace")
        if code != 0:
            failed += 1
            why = failure_reason(approach, code, stdout,
                                 (logs / f"{i}.err").read_text(encoding="utf-8", errors="replace"))
            reasons[why] = reasons.get(why, 0) + 1
            continue
        if final.get(name) != tag:
            lost += 1
        n = parse_attempts(approach, stdout)
        if n is not None:
            attempts.append(n)
    shutil.rmtree(logs)
    leftovers = list(scratch.iterdir())
    if leftovers:
        raise SystemExit(f"{scratch}: writers left {leftovers[:3]} behind")
    trial = Trial(wall, cpu, writers, landed, failed, lost, attempts, reasons)
    print(f"  {approach}, {writers} writers: {wall:.2f} s (CPU {cpu:.1f} s), landed {landed}, failed {failed}, lost {lost}, "
          f"attempts max {max(attempts, default=0)}, failures {reasons or '-'}", file=sys.stderr)
    return trial


def scenario_writers(tools: Tools, tmp: Path, levels: dict[int, int],
                     commits: int) -> tuple[list[WriterRow], list[str]]:
    """LEVELS: number of writers -> trials per approach."""
    remote = tmp / "remote-writers.git"
    built = make_remote(tools, remote, commits, WRITER_IMAGES)
    notes = [f"- writers' remote: {commits:,} commits, {FILE_COUNT:,} files, {WRITER_IMAGES} images in `{KFILE}`, "
             f"built in {built:.1f} s; writer i bumps image i"]
    scratch = tmp / "scratch-writers"
    scratch.mkdir()
    rows = []
    for n, trials in levels.items():
        print(f"2. {n} concurrent writers ({trials} trial(s) per approach, interleaved)", file=sys.stderr)
        tool = WriterRow(n, "gitops-tools", [])
        shell = WriterRow(n, "shell loop", [])
        for _ in range(trials):
            tool.trials.append(one_trial(tools, remote, scratch, "gitops-tools", n))
            shell.trials.append(one_trial(tools, remote, scratch, "shell", n))
        rows += [tool, shell]
    return rows, notes


# -------------------------------------------------------------------------------------------------- report


def clone_table(rows: Sequence[CloneRow]) -> list[str]:
    out = ["## 1. Clone-to-push for one bump (`image set --repo-url file://... dev 'IMAGE=*:TAG'`)", "",
           "| remote | gitops-tools median (ms) | floor median (ms) | ratio | gitops-tools min (ms) | floor min (ms) "
           "| full clone by hand median (ms) | full clone by hand min (ms) |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r.remote} | {r.tool.median_ms:.0f} | {r.floor.median_ms:.0f} | {r.ratio:.2f}x "
                   f"| {r.tool.min_ms:.0f} | {r.floor.min_ms:.0f} | {r.full.median_ms:.0f} | {r.full.min_ms:.0f} |")
    out += ["", "floor = `git clone -q --depth 1 --single-branch` + `sed -i` + `git commit -qam` + `git push -q` + "
            "`rm -rf`, timed together; full clone by hand = the same without `--depth 1`. "
            "ratio = gitops-tools median / floor median."]
    return out


def writers_table(rows: Sequence[WriterRow]) -> list[str]:
    out = ["## 2. Concurrent writers, one bump each, one remote", "",
           "| writers | approach | trials | wall median (s) | wall min (s) | CPU median (s) | commits landed | failed "
           "| lost | attempts max | attempts mean | failures |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        landed = sum(t.landed for t in r.trials)
        expected = r.writers * len(r.trials)
        attempts = [a for t in r.trials for a in t.attempts]
        reasons: dict[str, int] = {}
        for t in r.trials:
            for why, count in t.reasons.items():
                reasons[why] = reasons.get(why, 0) + count
        mean = f"{statistics.mean(attempts):.2f}" if attempts else "-"
        cpu = statistics.median(t.cpu for t in r.trials)
        out.append(f"| {r.writers} | {r.approach} | {len(r.trials)} | {statistics.median(r.walls):.2f} "
                   f"| {min(r.walls):.2f} | {cpu:.1f} | {landed} / {expected} | {sum(t.failed for t in r.trials)} "
                   f"| {sum(t.lost for t in r.trials)} | {max(attempts, default=0)} | {mean} "
                   f"| {'; '.join(f'{k} x {why}' for why, k in sorted(reasons.items())) or '-'} |")
    out += ["", "wall = from starting the first writer to the exit of the last; CPU = user + system time of the "
            "writers and all the processes they ran (git, sed), from `getrusage(RUSAGE_CHILDREN)`. "
            "Counts are summed over the trials. commits landed = commits added to `main` (expected: one per "
            "writer); failed = writers that exited non-zero; lost = writers that exited 0 but whose tag is not in "
            "the final kustomization; attempts = `git push` tries of the writers that succeeded (`attempts` of "
            f"`-o json`; the shell loop echoes its count). failures: why the failed writers failed (count x reason). "
            f"The shell loop gives up after {SHELL_TRIES} pushes; gitops-tools exits 75 when its push is still "
            "rejected at its retry deadline (a temporary failure, meant to be retried by CI)."]
    return out


def render(facts: list[str], notes: list[str], clone_rows: Sequence[CloneRow], breakdown: list[str],
           writer_rows: Sequence[WriterRow]) -> str:
    out = ["# gitops-tools write-path benchmarks", "", *facts, *notes, "", *clone_table(clone_rows), "",
           *breakdown, "", *writers_table(writer_rows), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="10k-commit remote only, 5 and 20 writers, fewer runs: about a minute")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command in (1) (default 9, --quick 3)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per approach and writer count in (2) (default: 3 for 5 and 20 writers, 1 for "
                             "50; --quick 1)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 9)
    if runs < 1 or (args.trials is not None and args.trials < 1):
        parser.error("--runs and --trials must be at least 1")
    sizes = (10_000,) if args.quick else (10_000, 100_000)
    levels = {5: 1, 20: 1} if args.quick else {5: 3, 20: 3, 50: 1}
    if args.trials is not None:
        levels = dict.fromkeys(levels, args.trials)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-tools-bench-write-") as tmpname:
        tmp = Path(tmpname).resolve()
        tools = find_tools(tmp)
        # The tool's own clone (tempfile.mkdtemp) lands on the same file system as the floor's, and is cleaned up
        # with the rest if a run is interrupted.
        (tmp / "tmpdir").mkdir()
        tools = dataclasses.replace(tools, env={**tools.env, "TMPDIR": str(tmp / "tmpdir")})
        facts = machine_facts(tools, runs, args.quick)
        facts.append("- writers: " + ", ".join(f"{n} writers x {k} trial(s)" for n, k in levels.items())
                     + " per approach, the approaches interleaved")
        facts.append(f"- gitops-tools push retries: {backoff_defaults(tools)}; shell loop: at most {SHELL_TRIES} "
                     "pushes, no pause")
        created, removed = file_creation_ms(tmp)
        facts.append(f"- work directory: `{tmp}` on {filesystem_of(tmp)}; creating {FILE_COUNT:,} small files there "
                     f"(Python) took {created:.0f} ms, `rm -rf` of them {removed:.0f} ms")
        clone_rows, notes = scenario_clone(tools, tmp, sizes, runs)
        breakdown = breakdown_section(tools, tmp, sizes[-1])
        writer_rows, writer_notes = scenario_writers(tools, tmp, levels, 10_000)
    facts.append(f"- benchmark wall time: {time.perf_counter() - started:.0f} s")
    report = render(facts, notes + writer_notes, clone_rows, breakdown, writer_rows)
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
