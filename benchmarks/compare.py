#!/usr/bin/env python3
"""A baseline revision and the working tree, side by side in the same run: what a change to gitops-tools costs.

    python benchmarks/compare.py --baseline bb807f0 [--runs N] [--out benchmarks/results/gitpython.md]

Two copies of the tool are installed into two virtualenvs in a temporary directory, the same way:

- the **baseline**: ``git archive BASELINE`` of the package (``gitops_tools/``, ``pyproject.toml``, ``README.md``,
  ``scripts/``), nothing in this checkout is touched (no worktree, no checkout, no index);
- the **new** side: a copy of the same paths of the working tree as it is when the run starts (uncommitted and
  untracked files included, ``__pycache__`` left out), or ``git archive REV`` with ``--new REV``.

Each virtualenv is made without pip, gets a ``.pth`` line naming this interpreter's site-packages (so both sides
import the very same click, ruamel.yaml, GitPython, ...), and the package is installed into it with
``pip --python VENV install --no-deps`` (byte-compiled, not editable: edits made by others while the benchmark
runs cannot reach either side).

Every scenario is a real subprocess on the fixtures of the other benchmark scripts (imported from
benchmarks/run.py, promotion.py, release.py and write_path.py), with their isolated git environment. Per scenario:
1 warm-up run of each side, then up to ``--runs`` rounds, each round one run of each side, the order alternating
(baseline, new, new, baseline, ...) so drift hits both alike; a scenario gets fewer rounds when they would not fit
in ``--budget`` seconds, and a run that passes ``--timeout`` is killed (its process group) and ends the scenario.
Fixtures are restored and results checked before and after every run, outside the timed region. After timing,
one more run of each side (not timed) with ``GIT_TRACE2_EVENT`` lists the git processes it started, and one with
``PYTHONPROFILEIMPORTTIME=1`` gives its import time and whether GitPython was loaded.

Standard library only. Nothing here asserts a speed: the report states the targets and whether they were met.
benchmarks/README.md ("Baseline and working tree side by side") says more.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The fixtures, checks and helpers of the other benchmark scripts of this directory (E402: after the path line).
from promotion import (
    READ_IMAGES,
    build_history_repo,
    env_text,
    promote_verify,
    write_repo_files,
)
from release import build_repo as build_release_repo
from run import (
    Case,
    Commands,
    Tools,
    committed,
    emit,
    file_has_tag,
    find_tools,
    git_init,
    hard_reset,
    image_name,
    make_small_repo,
    next_tag,
    overlay_text,
    rewrite,
)
from write_path import CLONE_IMAGES, landed_one, make_remote, trace_breakdown

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE_PATHS = ("gitops_tools", "pyproject.toml", "README.md", "scripts")
SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")

HISTORY_SIZES = (1_000, 10_000)
RELEASE_COMMITS = 10_000
REMOTE_COMMITS = 10_000  # write_path.py's remote: 10,000 files, this many commits
GIT_SLOWER_MS = 120.0  # target: no command that runs git more than about this much slower than the baseline


# ------------------------------------------------------------------------------------------------ sides


@dataclass
class Side:
    key: str  # "baseline" or "new"
    title: str  # what it is, for the report
    tools: Tools  # its python, its gitops-tools, an env whose PATH and GITOPS_TOOLS point at it
    script: Path  # its scripts/update-image.sh
    version: str = ""


def git_text(*args: str, strip: bool = True) -> str:
    out = subprocess.run(["git", "-C", str(PROJECT), *args], capture_output=True, text=True, check=True).stdout
    return out.strip() if strip else out.rstrip("\n")


def commit_of(rev: str) -> str:
    try:
        return git_text("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"{rev!r} names no commit in {PROJECT}") from None


def archive(rev: str, dest: Path) -> None:
    """The package paths of REV into DEST (``git archive | tar -x``): the checkout is not touched."""
    dest.mkdir(parents=True)
    present = [p for p in PACKAGE_PATHS if git_text("ls-tree", "--name-only", rev, p)]
    tar = subprocess.Popen(["tar", "-x", "-C", str(dest)], stdin=subprocess.PIPE)
    subprocess.run(["git", "-C", str(PROJECT), "archive", "--format=tar", rev, *present], stdout=tar.stdin, check=True)
    assert tar.stdin is not None
    tar.stdin.close()
    if tar.wait() != 0:
        raise SystemExit(f"could not unpack git archive {rev}")


def copy_worktree(dest: Path) -> None:
    """The package paths of the working tree as they are now (untracked files included, caches left out)."""
    dest.mkdir(parents=True)
    for name in PACKAGE_PATHS:
        src = PROJECT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=SNAPSHOT_IGNORE)
        elif src.exists():
            shutil.copy2(src, dest / name)


def tree_digest(root: Path) -> str:
    """A short digest of the package's files (names and bytes): says which sources were measured."""
    h = hashlib.sha256()
    for path in sorted((root / "gitops_tools").rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def install(src: Path, venv: Path, base: Tools, key: str, title: str) -> Side:
    """A virtualenv without pip that sees this interpreter's site-packages, and SRC installed into it by pip."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # A path line in a .pth file is appended to sys.path after the venv's own site-packages, and the .pth files
    # found there are not run: the editable install of this checkout (a finder in a .pth) stays out.
    Path(purelib, "_gitops_tools_bench_shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n",
                                                                 encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--disable-pip-version-check", str(src)], check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pip install of {title} failed:\n{proc.stdout}\n{proc.stderr}")
    exe = venv / "bin" / "gitops-tools"
    where = subprocess.run([str(python), "-c", "import gitops_tools; print(gitops_tools.__file__)"], cwd=venv,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not where.startswith(str(venv)):
        raise SystemExit(f"{title}: gitops_tools is imported from {where}, not from {venv}")
    env = {**base.env, "PATH": str(venv / "bin") + os.pathsep + base.env["PATH"], "GITOPS_TOOLS": str(exe)}
    tools = dataclasses.replace(base, python=str(python), gitops_tools=str(exe), env=env)
    version = subprocess.run([str(exe), "--version"], check=False, capture_output=True, text=True,
                             env=env).stdout.strip()
    return Side(key, title, tools, src / "scripts" / "update-image.sh", version)


# ----------------------------------------------------------------------------------------------- timing


Check = Callable[[str], "str | None"]  # stdout of a run -> None when right, else what is wrong


@dataclass
class Pair:
    """One scenario: the same command of both sides, on the same fixture."""

    scenario: str
    size: str
    cases: dict[str, Case]  # side key -> its case (run.Case: commands, cwd, reset, verify, times)
    check: Check | None = None  # the output of the first run of each side
    status: str | None = None  # None while it runs; else why it stopped (a failure, a timeout)
    rounds: int = 0
    traced: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # side -> [(git command, s)]
    imports: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # side -> (ms, GitPython ms)
    seen: dict[str, str] = field(default_factory=dict)  # side -> what its output showed (for the notes)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # side -> user + system s of each timed run

    def median(self, key: str) -> float:
        return statistics.median(self.cases[key].times) * 1000

    def least(self, key: str) -> float:
        return min(self.cases[key].times) * 1000

    def cpu_median(self, key: str) -> float:
        return statistics.median(self.cpu[key]) * 1000

    @property
    def ok(self) -> bool:
        return self.status is None and all(c.times for c in self.cases.values())

    @property
    def diff(self) -> float:
        return self.median("new") - self.median("baseline")

    def paired(self) -> list[float]:
        """new - baseline of each round, in ms (the rounds ran the two sides back to back)."""
        return [(n - b) * 1000 for b, n in zip(self.cases["baseline"].times, self.cases["new"].times)]

    def git_processes(self, key: str) -> int:
        """How many top-level git processes the traced run started (``cmd xN`` counts N)."""
        return sum(int(m.group(1)) if (m := re.search(r" x(\d+)$", cmd)) else 1
                   for cmd, _ in self.traced.get(key, []))

    @property
    def runs_git(self) -> bool:
        return any(self.git_processes(k) for k in self.cases)


class RunFailed(Exception):
    pass


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(side: Side, case: Case, timeout: float,
            env: dict[str, str] | None = None) -> tuple[float, float, str, str]:
    """Restore, run the case's commands (timed, in a process group of their own), check.

    Returns (wall seconds, CPU seconds, stdout, stderr). The CPU time is user + system of the command and every
    process it waited for (git), from ``getrusage(RUSAGE_CHILDREN)`` before and after: on a busy machine it moves
    less than the wall time."""
    if case.reset is not None:
        case.reset()
    tag = next_tag()
    outs, errs = [], []
    cpu_before = cpu_of_children()
    start = time.perf_counter()
    for argv in case.commands(tag):
        proc = subprocess.Popen(argv, cwd=case.cwd, env=env or side.tools.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the tool and the git processes it started
            proc.communicate()
            raise RunFailed(f"timeout (> {timeout:.0f} s)") from None
        outs.append(out.decode(errors="replace"))
        errs.append(err.decode(errors="replace"))
        if proc.returncode != 0:
            last = (errs[-1].strip() or outs[-1].strip()).splitlines()[-1:] or [""]
            raise RunFailed(f"{side.key} fails (exit {proc.returncode}): {last[0][:200]}")
    elapsed = time.perf_counter() - start
    cpu = cpu_of_children() - cpu_before
    if case.verify is not None:
        try:
            case.verify(tag)
        except SystemExit as err:  # run.py's checks stop the benchmark; here they stop the scenario
            raise RunFailed(f"{side.key}: {err}") from None
    return elapsed, cpu, "".join(outs), "".join(errs)


def measure(pair: Pair, sides: Sequence[Side], runs: int, budget: float, timeout: float) -> None:
    print(f"{pair.scenario} ({pair.size})", file=sys.stderr)
    try:
        started = time.perf_counter()
        for side in sides:  # warm-up, and the output check
            _, _, out, _ = one_run(side, pair.cases[side.key], timeout)
            if pair.check is not None and (problem := pair.check(out)):
                raise RunFailed(f"{side.key}: wrong output: {problem}")
            pair.seen[side.key] = out
        per_round = time.perf_counter() - started
        pair.rounds = max(3, min(runs, int(budget // per_round)))
        for r in range(pair.rounds):
            for side in (sides if r % 2 == 0 else list(reversed(sides))):
                wall, cpu, _, _ = one_run(side, pair.cases[side.key], timeout)
                pair.cases[side.key].times.append(wall)
                pair.cpu.setdefault(side.key, []).append(cpu)
        for side in sides:
            pair.traced[side.key] = traced_run(side, pair.cases[side.key], timeout)
            pair.imports[side.key] = import_run(side, pair.cases[side.key], timeout)
    except RunFailed as err:
        pair.status = str(err)
        print(f"  stopped: {pair.status}", file=sys.stderr)
        return
    diff = pair.paired()
    print(f"  baseline {pair.median('baseline'):.1f} ms, new {pair.median('new'):.1f} ms, "
          f"difference {pair.diff:+.1f} ms (paired median {statistics.median(diff):+.1f}; CPU "
          f"{pair.cpu_median('new') - pair.cpu_median('baseline'):+.1f}), {pair.rounds} rounds; "
          f"git processes {pair.git_processes('baseline')} -> {pair.git_processes('new')}", file=sys.stderr)


def traced_run(side: Side, case: Case, timeout: float) -> list[tuple[str, float]]:
    """One more run (not timed) under GIT_TRACE2_EVENT: the top-level git processes and their times."""
    if case.reset is not None:
        case.reset()
    tag = next_tag()
    trace = Path(tempfile.mkdtemp(prefix="trace-", dir=case.cwd.parent)) / "trace.json"
    trace.touch()  # git appends to it; a command that runs no git leaves it empty
    try:
        _, parts = trace_breakdown(side.tools, case.commands(tag), case.cwd, trace)
    except SystemExit as err:
        raise RunFailed(f"{side.key}: traced run: {err}") from None
    finally:
        shutil.rmtree(trace.parent, ignore_errors=True)
    if case.verify is not None:
        try:
            case.verify(tag)
        except SystemExit as err:
            raise RunFailed(f"{side.key}: traced run: {err}") from None
    return parts


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def import_run(side: Side, case: Case, timeout: float) -> tuple[float, float | None]:
    """One more run (not timed) with PYTHONPROFILEIMPORTTIME=1: all imports (ms, top-level cumulative) and
    GitPython's (``git``) share of them, None when it was not imported."""
    _, _, _, err = one_run(side, case, timeout, env={**side.tools.env, "PYTHONPROFILEIMPORTTIME": "1"})
    total, gitpython = 0, None
    for line in err.splitlines():
        m = IMPORT_LINE.match(line)
        if not m:
            continue
        depth, name, cumulative = (len(m.group(3)) - 1) // 2, m.group(4), int(m.group(2))
        if depth == 0:
            total += cumulative
        if name == "git" and gitpython is None:
            gitpython = cumulative / 1000
    return total / 1000, gitpython


# ---------------------------------------------------------------------------------------------- scenarios


def both(sides: Sequence[Side], make: Callable[[Side], Case]) -> dict[str, Case]:
    return {side.key: make(side) for side in sides}


def cmd(side: Side, *args: str) -> Commands:
    return lambda tag: [[side.tools.gitops_tools, *args]]


def unchanged(tools: Tools, repo: Path) -> Callable[[str], None]:
    """After a read-only run: HEAD where it was, nothing modified."""
    head = tools.git_out(repo, "rev-parse", "HEAD")

    def verify(_tag: str) -> None:
        if tools.git_out(repo, "rev-parse", "HEAD") != head or tools.git_out(repo, "status", "--porcelain"):
            raise SystemExit(f"{repo}: a read-only run changed the repository")
    return verify


def lines_at_least(n: int) -> Check:
    return lambda out: None if len(out.splitlines()) >= n else f"{len(out.splitlines())} lines, expected >= {n}"


def scenario_startup(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    empty = tmp / "empty"
    empty.mkdir()
    return [Pair("start-up: `gitops-tools --version`", "-", both(sides, lambda s: Case(
        f"{s.key} --version", empty, cmd(s, "--version"))))]


def scenario_plain(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    """run.py 2a: one image, a plain directory (no git above it), ``--no-commit``."""
    plain = tmp / "plain-1"
    (plain / "overlay").mkdir(parents=True)
    kfile = plain / "overlay" / "kustomization.yaml"
    text = overlay_text(1)
    kfile.write_text(text, encoding="utf-8")
    name = image_name(0)
    return [Pair("one bump, plain dir, `--no-commit`", "1 image", both(sides, lambda s: Case(
        f"{s.key} image set --no-commit", plain,
        lambda tag: [[s.tools.gitops_tools, "image", "set", "overlay", f"{name}=*:{tag}", "--no-commit"]],
        rewrite(kfile, text), file_has_tag(kfile, name))))]


def scenario_checkout(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    """run.py's small repository (dev / staging / prod, gitops-tools.yaml): ``image set dev`` with its commit."""
    repo = tmp / "envs-3"
    repo.mkdir()
    base = make_small_repo(tools, repo)
    rel = "environments/dev/kustomization.yaml"
    check = committed(tools, repo, base, file_has_tag(repo / rel, "aegis/api"))
    return [Pair("one bump, checkout, commit: `image set dev`", "3 envs", both(sides, lambda s: Case(
        f"{s.key} image set dev", repo,
        lambda tag: [[s.tools.gitops_tools, "image", "set", "dev", f"aegis/api=*:{tag}"]],
        hard_reset(tools, repo, base), check)))]


def scenario_clone_push(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    """write_path.py's remote (10,000 files): ``scripts/update-image.sh dev IMAGE TAG --repo-url URL``."""
    remote = tmp / f"remote-{REMOTE_COMMITS}.git"
    built = make_remote(tools, remote, REMOTE_COMMITS, CLONE_IMAGES)
    print(f"  remote of {REMOTE_COMMITS:,} commits built in {built:.1f} s", file=sys.stderr)
    url, name = remote.as_uri(), image_name(CLONE_IMAGES - 1)
    scratch = tmp / "scratch-clone"
    scratch.mkdir()

    def case(s: Side) -> Case:
        reset, verify = landed_one(tools, remote, name)
        return Case(f"{s.key} update-image.sh --repo-url", scratch,
                    lambda tag: [[str(s.script), "dev", name, tag, "--repo-url", url]], reset, verify)
    return [Pair("`scripts/update-image.sh dev IMAGE TAG --repo-url URL`: clone, commit, push",
                 f"{REMOTE_COMMITS:,} commits, 10,000 files", both(sides, case))]


def scenario_promote(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    """promotion.py 1a: ``promote dev staging`` of 1,000 images in one commit."""
    n = 1000
    repo = tmp / f"promote-{n}"
    dev = env_text(n, 1)
    write_repo_files(repo, {"dev": dev, "staging": env_text(n, 0), "prod": env_text(n, 0)})
    base = git_init(tools, repo)
    verify = promote_verify(tools, repo, base, dev, commit=True)
    return [Pair("`promote dev staging`, commit", f"{n:,} images", both(sides, lambda s: Case(
        f"{s.key} promote", repo, cmd(s, "promote", "dev", "staging"), hard_reset(tools, repo, base), verify)))]


def scenario_read(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    """promotion.py's history repositories: status, history at 1k and 10k, and rollback --dry-run."""
    repos = {}
    for commits in HISTORY_SIZES:
        repo = tmp / f"history-{commits}"
        started = time.perf_counter()
        build_history_repo(tools, repo, commits, READ_IMAGES)
        print(f"  history of {commits:,} commits built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        repos[commits] = repo
    big = repos[max(HISTORY_SIZES)]
    pairs = [Pair("`status`", f"{READ_IMAGES:,} images x 3 envs", both(sides, lambda s: Case(
        f"{s.key} status", big, cmd(s, "status"), None, unchanged(tools, big))), lines_at_least(READ_IMAGES + 1))]
    for commits, repo in repos.items():
        pairs.append(Pair("`history`", f"{commits:,} commits", both(sides, lambda s, repo=repo: Case(
            f"{s.key} history", repo, cmd(s, "history"), None, unchanged(tools, repo))), lines_at_least(commits)))
    pairs.append(Pair("`rollback dev --dry-run` (dev's file before its last change)", f"{max(HISTORY_SIZES):,} commits",
                      both(sides, lambda s: Case(f"{s.key} rollback", big, cmd(s, "rollback", "dev", "--dry-run"),
                                                 None, unchanged(tools, big))),
                      lambda out: None if "registry.example.com/team/app" in out else "names no image"))
    return pairs


def scenario_release(tools: Tools, sides: Sequence[Side], tmp: Path) -> list[Pair]:
    """release.py's shape (a): v1.0.0 100 commits before HEAD, a breaking change after it (next: 2.0.0)."""
    repo = tmp / f"release-{RELEASE_COMMITS}"
    facts = build_release_repo(tools, repo, RELEASE_COMMITS, "unreleased")
    head = facts["head"]

    def reset() -> None:
        tools.run([tools.git, "tag", "-d", "v2.0.0"], repo, check=False)
        tools.run([tools.git, "reset", "-q", "--hard", head], repo)

    def released(_tag: str) -> None:
        if tools.git_out(repo, "rev-parse", "HEAD^") != head:
            raise SystemExit(f"{repo}: release did not make one commit on top of {head[:12]}")
        if tools.git_out(repo, "rev-parse", "v2.0.0^{commit}") != tools.git_out(repo, "rev-parse", "HEAD"):
            raise SystemExit(f"{repo}: the tag v2.0.0 is not at the release commit")
        if tools.git_out(repo, "status", "--porcelain"):
            raise SystemExit(f"{repo}: release left the tree dirty")

    def next_is_2(out: str) -> str | None:
        last = (out.strip().splitlines() or [""])[-1].strip().removeprefix("v")
        return None if last == "2.0.0" else f"printed {last!r}, expected 2.0.0"

    size = f"{RELEASE_COMMITS:,} commits, 100 unreleased"
    return [
        Pair("`release --print-next-version`", size, both(sides, lambda s: Case(
            f"{s.key} next version", repo, cmd(s, "release", "--print-next-version"), reset,
            unchanged(tools, repo))), next_is_2),
        Pair("`release --no-push`: changelog, commit, tag", size, both(sides, lambda s: Case(
            f"{s.key} release --no-push", repo, cmd(s, "release", "--no-push"), reset, released))),
    ]


SCENARIOS: dict[str, Callable[[Tools, Sequence[Side], Path], list[Pair]]] = {
    "startup": scenario_startup,
    "plain": scenario_plain,
    "checkout": scenario_checkout,
    "clone-push": scenario_clone_push,
    "promote": scenario_promote,
    "read": scenario_read,
    "release": scenario_release,
}


# -------------------------------------------------------------------------------------------------- report


def fmt(ms: float, sign: bool = False) -> str:
    return f"{ms:+,.1f}" if sign else f"{ms:,.1f}"


def target_of(pair: Pair) -> str:
    if not pair.ok:
        return "-"
    verdicts = []
    if pair.runs_git:
        verdicts.append(f"<= +{GIT_SLOWER_MS:.0f} ms: {'met' if pair.diff <= GIT_SLOWER_MS else '**missed**'}")
    if pair.scenario == "`history`" and pair.size.startswith(f"{max(HISTORY_SIZES):,}"):
        verdicts.append(f"no slower: {'met' if pair.diff <= 0 else '**missed**'}")
    return "; ".join(verdicts) or "(no git)"


def git_listing(parts: list[tuple[str, float]]) -> str:
    return ", ".join(f"{c} {t * 1000:.0f}" for c, t in parts) or "none"


def render(facts: list[str], pairs: list[Pair]) -> str:
    out = ["# gitops-tools: baseline and working tree side by side", "", *facts, "",
           "| scenario | size | baseline median (ms) | new median (ms) | difference (ms) | ratio "
           "| baseline min (ms) | new min (ms) | paired difference p25 .. p75 (ms) | CPU baseline -> new (ms) "
           "| rounds | target |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for p in pairs:
        if not p.ok:
            out.append(f"| {p.scenario} | {p.size} | {p.status} | | | | | | | | | - |")
            continue
        q = statistics.quantiles(p.paired(), n=4) if len(p.paired()) > 1 else [p.diff] * 3
        out.append(f"| {p.scenario} | {p.size} | {fmt(p.median('baseline'))} | {fmt(p.median('new'))} "
                   f"| {fmt(p.diff, True)} | {p.median('new') / p.median('baseline'):.2f}x "
                   f"| {fmt(p.least('baseline'))} | {fmt(p.least('new'))} | {q[0]:+.1f} .. {q[2]:+.1f} "
                   f"| {p.cpu_median('baseline'):,.0f} -> {p.cpu_median('new'):,.0f} "
                   f"({p.cpu_median('new') - p.cpu_median('baseline'):+,.0f}) | {p.rounds} | {target_of(p)} |")
    out += ["", "difference = new median - baseline median; ratio = new median / baseline median; the paired "
            "difference is new - baseline within each round (the two sides back to back), its middle half shows "
            "the noise. CPU: medians of user + system time of the command and the processes it waited for "
            "(git), which a busy machine moves less than the wall time. Targets (on the wall-time medians): every "
            "command that runs git at most "
            f"{GIT_SLOWER_MS:.0f} ms slower than the baseline; `history` over {max(HISTORY_SIZES):,} commits no "
            "slower.", "",
            "## Git processes and imports (one more run of each side, not timed)", "",
            "| scenario | size | git processes baseline -> new | baseline: git command ms (start to exit) "
            "| new: git command ms | imports baseline -> new (ms) | GitPython import (ms) |",
            "| --- | --- | ---: | --- | --- | ---: | ---: |"]
    for p in pairs:
        if not p.ok:
            continue
        (bi, _), (ni, ng) = p.imports["baseline"], p.imports["new"]
        out.append(f"| {p.scenario} | {p.size} | {p.git_processes('baseline')} -> {p.git_processes('new')} "
                   f"| {git_listing(p.traced['baseline'])} | {git_listing(p.traced['new'])} "
                   f"| {bi:.0f} -> {ni:.0f} | {'-' if ng is None else f'{ng:.0f}'} |")
    out += ["", "Git processes: the top-level ones the command started, from git's own `GIT_TRACE2_EVENT` trace "
            "(xN = N processes, their times added; a persistent `cat-file --batch` counts from its start to its "
            "exit). Imports: the top-level cumulative times of `PYTHONPROFILEIMPORTTIME=1` (the profiler inflates "
            "them; compare the two sides, not with the table above). GitPython import: the cumulative time of "
            "`import git` in the new side, `-` when it was not imported.", "", *targets(pairs), ""]
    return "\n".join(out)


def targets(pairs: list[Pair]) -> list[str]:
    """The two targets, worded from the medians (wall, and CPU beside it)."""
    done = [p for p in pairs if p.ok]
    out = ["## Targets", ""]
    git = [p for p in done if p.runs_git]
    if git:
        worst = max(git, key=lambda p: p.diff)
        over = [p for p in git if p.diff > GIT_SLOWER_MS]
        out.append(f"- Every command that runs git at most {GIT_SLOWER_MS:.0f} ms slower than the baseline: "
                   f"{'**missed**' if over else 'met'} ({len(git) - len(over)} of {len(git)} within; the most: "
                   f"{worst.scenario} ({worst.size}) {worst.diff:+.1f} ms wall, "
                   f"{worst.cpu_median('new') - worst.cpu_median('baseline'):+.1f} ms CPU).")
    for p in done:
        if p.scenario == "`history`" and p.size.startswith(f"{max(HISTORY_SIZES):,}"):
            out.append(f"- `history` over {p.size} no slower than the baseline: "
                       f"{'met' if p.diff <= 0 else '**missed**'} ({p.median('baseline'):.1f} -> "
                       f"{p.median('new'):.1f} ms, {p.diff:+.1f} ms wall; CPU "
                       f"{p.cpu_median('new') - p.cpu_median('baseline'):+.1f} ms).")
    failed = [p for p in pairs if not p.ok]
    out += [f"- Not measured: {p.scenario} ({p.size}): {p.status}." for p in failed]
    return out


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def filesystem_of(path: Path) -> str:
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 3 and (str(path) + "/").startswith(parts[1].rstrip("/") + "/") and len(parts[1]) >= len(best):
            best, kind = parts[1], parts[2]
    return f"{kind} on {best}" if best else "?"


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, metavar="REV", help="the revision to compare against")
    parser.add_argument("--new", default="worktree", metavar="REV",
                        help="the other side: 'worktree' (default: the working tree as it is now) or a revision")
    parser.add_argument("--runs", type=int, default=41, help="rounds per scenario, at most (default 41)")
    parser.add_argument("--budget", type=float, default=90.0,
                        help="seconds of timed rounds per scenario: fewer rounds (at least 3) when they do not fit")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for one run before it is killed")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="only these scenario groups")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (fixtures, venvs)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be at least 3")

    started = time.perf_counter()
    load_start = load_average()
    baseline_sha = commit_of(args.baseline)
    head = commit_of("HEAD")
    tmp = Path(tempfile.mkdtemp(prefix="gitops-tools-compare-")).resolve()
    try:
        base_tools = find_tools(tmp)
        # the sources first, at the same moment: HEAD and the working tree may move while the benchmark runs
        src_new = tmp / "src-new"
        if args.new == "worktree":
            dirty = git_text("status", "--porcelain", "--", *PACKAGE_PATHS, strip=False)
            copy_worktree(src_new)
            new_desc = (f"the working tree at HEAD `{head[:12]}` ({git_text('log', '-1', '--format=%s', head)}), "
                        + ("with uncommitted changes: " + ", ".join(
                            f"`{line[3:]}` ({line[:2].strip()})" for line in dirty.splitlines())
                           if dirty else "no uncommitted changes under " + ", ".join(PACKAGE_PATHS)))
        else:
            new_sha = commit_of(args.new)
            archive(new_sha, src_new)
            new_desc = f"`{new_sha[:12]}` ({git_text('log', '-1', '--format=%s', new_sha)})"
        archive(baseline_sha, tmp / "src-baseline")
        base_desc = f"`{baseline_sha[:12]}` ({git_text('log', '-1', '--format=%s', baseline_sha)})"
        print(f"installing the baseline {baseline_sha[:12]} and the new side into {tmp}", file=sys.stderr)
        sides = [install(tmp / "src-baseline", tmp / "venv-baseline", base_tools, "baseline", base_desc),
                 install(src_new, tmp / "venv-new", base_tools, "new", new_desc)]
        digests = {"baseline": tree_digest(tmp / "src-baseline"), "new": tree_digest(src_new)}

        pairs: list[Pair] = []
        for name, build in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            print(f"[{name}] fixtures", file=sys.stderr)
            for pair in build(base_tools, sides, tmp):
                measure(pair, sides, args.runs, args.budget, args.timeout)
                pairs.append(pair)

        git_version = subprocess.run([base_tools.git, "--version"], check=False, capture_output=True,
                                     text=True).stdout.strip()
        facts = [
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- baseline: {sides[0].title}, installed as `{sides[0].version}` (sources {digests['baseline']})",
            f"- new: {sides[1].title}, installed as `{sides[1].version}` (sources {digests['new']})",
            f"- python {platform.python_version()}, {git_version}, {os.cpu_count()} CPUs, {platform.platform()}",
            "- both sides: their own virtualenv, the same dependencies (this interpreter's site-packages through a "
            "`.pth` line), installed by `pip install --no-deps` (byte-compiled)",
            f"- fixtures and temporary files: {filesystem_of(tmp)} (`TMPDIR`)",
            f"- per scenario: 1 warm-up of each side, then up to {args.runs} rounds (fewer when they pass "
            f"{args.budget:.0f} s), each round one run of each side, the order alternating; wall time by "
            "`time.perf_counter`; fixture restore and checks outside the timed region",
            f"- load average (1 / 5 / 15 min): {load_start} at the start, {load_average()} at the end",
            f"- benchmark wall time: {time.perf_counter() - started:.0f} s",
            f"- command: `python benchmarks/compare.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        ]
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report = render(facts, pairs)
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
