#!/usr/bin/env python3
"""Benchmarks of ``gitops-tools release`` / ``gitops-tools changelog`` against git-cliff, commitizen and
python-semantic-release, and against a floor (one ``git log`` + Python start-up).

    python benchmarks/release.py [--quick] [--runs N] [--timeout S] [--out benchmarks/results/release.md]

Repositories of 1k, 10k and 100k Conventional Commits are built with ``git fast-import`` in two shapes:

- (a) unreleased range: the last tag ``v1.0.0`` sits 100 commits before HEAD;
- (b) full history: 1,000 annotated tags spread along it (the last at HEAD).

Each holds a ``pyproject.toml`` (version = the last tag) that configures gitops-tools and the three peers,
and a ``CHANGELOG.md``.  Measured, every command a real subprocess, interleaved within a size:

1. next version on (a): ``gitops-tools release --print-next-version``, ``git-cliff --bumped-version`` (and
   ``--unreleased --bumped-version``), ``cz bump --get-next``, ``semantic-release version --print``;
   floor ``git log --format=%H%x1f%B v1.0.0..HEAD`` + ``python -c pass``;
2. changelog section of the unreleased range on (a): ``gitops-tools release --dry-run``, ``git-cliff --unreleased``,
   ``cz bump --dry-run --yes --changelog-to-stdout``, ``semantic-release version --changelog --no-commit --no-tag
   --no-push`` (writes CHANGELOG.md, restored after each run); same floor;
3. the whole changelog on (b): ``gitops-tools changelog``, ``git-cliff``, ``cz changelog --dry-run``,
   ``semantic-release changelog`` (writes CHANGELOG.md); floor ``git log --format=%H%x1f%B HEAD`` + ``python -c pass``.

The peers are installed with pip into a separate virtualenv outside the project (default
``$TMPDIR/gitops-tools-bench-peers``, reused when it already has them).  A peer run that exceeds ``--timeout``
is killed (its whole process group) and reported as "timeout"; a peer that cannot do a scenario offline is
reported as such instead of a number.  Nothing here asserts a speed.  benchmarks/README.md ("Release") says more.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Tools, emit, find_tools  # noqa: E402  (benchmarks/run.py: isolated git environment, gitops-tools)

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
UNRELEASED = 100  # shape (a): commits after the last tag
TAG_COUNT = 1_000  # shape (b): tags along the history
EXPECTED_NEXT = "2.0.0"  # shape (a): the unreleased range holds a breaking change (see message())
PEERS = {"git-cliff": "git-cliff", "commitizen": "cz", "python-semantic-release": "semantic-release"}
EPOCH = 1_600_000_000
SOURCE_FILES = 50  # every commit changes one of src/mod00.py ... src/mod49.py
BUDGET_S = 25.0  # per case and size: fewer timed runs (at least 1) when one run is slow

# --------------------------------------------------------------------------------------------- fixtures

SCOPES = ("api", "cli", "core", "parser", "auth", "storage", "ui")
KINDS = ("feat", "fix", "docs", "chore", "feat", "fix", "fix", "docs", "chore", "feat")  # 30/30/20/20 %
WORDS = {"feat": "add", "fix": "repair", "docs": "document", "chore": "tidy"}


def item(i: int) -> str:
    """The unique token in commit ``i``'s description: lets a check find (or miss) that commit in an output."""
    return f"item {i:06d}"


def message(i: int, n: int) -> tuple[str, str]:
    """Commit ``i`` of ``n`` (0 = oldest): its type and full message.

    The shape is decided by the distance from HEAD (``j``), so the last 100 commits read the same at every size:
    30 % feat, 30 % fix, 20 % docs, 20 % chore, a scope on two thirds, a body on a quarter, a ``Refs:`` footer on a
    fifth, a ``BREAKING CHANGE:`` footer every 250 commits (j = 42 is one: the unreleased range bumps major) and a
    ``feat!:`` every 500.
    """
    j = n - 1 - i
    kind = KINDS[j % len(KINDS)]
    breaking_footer = j % 250 == 42
    bang = j % 500 == 317
    if breaking_footer or bang:
        kind = "feat"
    scope = f"({SCOPES[j % len(SCOPES)]})" if j % 3 else ""
    header = f"{kind}{scope}{'!' if bang else ''}: {WORDS[kind]} {item(i)}"
    parts = [header]
    if j % 4 == 0:
        parts.append(f"The {kind} touches src/mod{i % SOURCE_FILES:02d}.py; this paragraph is the body of\n"
                     f"the commit and runs over two lines, as bodies do.")
    footers = []
    if breaking_footer:
        footers.append(f"BREAKING CHANGE: the {item(i)} option is gone")
    if j % 5 == 0:
        footers.append(f"Refs: #{j}")
    if footers:
        parts.append("\n".join(footers))
    return kind, "\n\n".join(parts) + "\n"


CLIFF_BODY = r'''
{% if version %}## {{ version | trim_start_matches(pat="v") }} ({{ timestamp | date(format="%Y-%m-%d") }}){% else %}## Unreleased{% endif %}
{% for group, commits in commits | group_by(attribute="group") %}
### {{ group }}
{% for commit in commits %}
- {% if commit.breaking %}**BREAKING** {% endif %}{% if commit.scope %}**{{ commit.scope }}:** {% endif %}{{ commit.message }} ({{ commit.id | truncate(length=7, end="") }})
{%- endfor %}
{% endfor %}
'''


def pyproject(version: str, psr_mode: str) -> str:
    """The fixture's pyproject.toml: gitops-tools and each peer configured as plainly as it allows.

    ``psr_mode``: python-semantic-release's changelog mode, "update" (insert the new release below the
    ``<!-- version list -->`` line: the unreleased-range repository) or "init" (render the whole file: the
    repository with 1,000 tags).
    """
    body = CLIFF_BODY.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'''[project]
name = "bench-lib"
version = "{version}"

[tool.gitops-tools.release]
name = "bench-lib"
tag_prefix = "v"

[tool.git-cliff.changelog]
header = "# Changelog\\n"
body = """{body}"""
trim = true

[tool.git-cliff.git]
conventional_commits = true
filter_unconventional = true
protect_breaking_commits = true
filter_commits = true
tag_pattern = "v[0-9].*"
commit_parsers = [
  {{ message = "^feat", group = "Features" }},
  {{ message = "^fix", group = "Bug fixes" }},
  {{ message = "^perf", group = "Performance" }},
  {{ message = ".*", skip = true }},
]

[tool.git-cliff.bump]
features_always_bump_minor = true
breaking_always_bump_major = true

[tool.commitizen]
name = "cz_conventional_commits"
version_provider = "pep621"
version_scheme = "semver"
tag_format = "v$version"
update_changelog_on_bump = false

[tool.semantic_release]
version_toml = ["pyproject.toml:project.version"]
tag_format = "v{{version}}"
commit_parser = "conventional"
commit_message = "chore(release): bench-lib {{version}}"
allow_zero_version = false
build_command = ""

[tool.semantic_release.remote]
# python-semantic-release reads `git remote get-url origin` unless given a URL; the fixture has no remote, and
# this URL is only used to write links (nothing is pushed: --no-push / --print).
url = "https://git.example.com/bench/bench-lib.git"
type = "gitlab"

[tool.semantic_release.branches.main]
match = "main"
prerelease = false

[tool.semantic_release.changelog]
mode = "{psr_mode}"
exclude_commit_patterns = ["^docs", "^chore"]

[tool.semantic_release.changelog.default_templates]
changelog_file = "CHANGELOG.md"
output_format = "md"
mask_initial_release = false
'''


def changelog(version: str) -> str:
    """The fixture's CHANGELOG.md: the last release's heading as commitizen writes it (``cz bump`` renders from the
    newest version it finds in the file), and python-semantic-release's insertion line."""
    return (f"# Changelog\n\nAll notable changes, newest first.\n\n<!-- version list -->\n\n"
            f"## v{version} (2020-09-13)\n\n- the notes of release {version}\n")


def fast_import_stream(n: int, tags: dict[int, str], version: str, psr_mode: str) -> bytes:
    """A fast-import stream: ``n`` commits on main (the first adds pyproject.toml and CHANGELOG.md) and tags."""
    out: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        out.append(b"data %d\n" % len(raw) + raw + b"\n")

    for i in range(n):
        _, msg = message(i, n)
        when = EPOCH + i * 60
        out.append(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        out.append(b"author Bench Author <author@example.com> %d +0000\n" % when)
        out.append(b"committer Bench Committer <committer@example.com> %d +0000\n" % when)
        data(msg)
        if i:
            out.append(b"from :%d\n" % i)
        else:
            for name, text in (("pyproject.toml", pyproject(version, psr_mode)), ("CHANGELOG.md", changelog(version)),
                               ("README.md", "# bench-lib\n")):
                out.append(f"M 100644 inline {name}\n".encode())
                data(text)
        out.append(f"M 100644 inline src/mod{i % SOURCE_FILES:02d}.py\n".encode())
        data(f"VALUE = {i}\n")
    for i, tag in sorted(tags.items()):
        when = EPOCH + i * 60 + 30
        out.append(f"tag {tag}\nfrom :{i + 1}\n".encode())
        out.append(b"tagger Bench Committer <committer@example.com> %d +0000\n" % when)
        data(f"bench-lib {tag[1:]}")
    out.append(b"done\n")
    return b"".join(out)


def build_repo(tools: Tools, repo: Path, n: int, shape: str) -> dict[str, str]:
    """Build shape "unreleased" (v1.0.0 100 commits before HEAD), "all" (v1.0.0 on the first commit: every
    other commit unreleased) or "tags" (1,000 tags, the last at HEAD)."""
    if shape == "unreleased":
        tags = {n - 1 - UNRELEASED: "v1.0.0"}
    elif shape == "all":
        tags = {0: "v1.0.0"}
    else:
        tags = {(k + 1) * n // TAG_COUNT - 1: f"v1.{k}.0" for k in range(TAG_COUNT)}
    last_tag = tags[max(tags)]
    repo.mkdir(parents=True)
    tools.run([tools.git, "init", "-q"], repo)
    stream = fast_import_stream(n, tags, last_tag[1:], "init" if shape == "tags" else "update")
    proc = subprocess.run([tools.git, "fast-import", "--quiet", "--done"], cwd=repo, env=tools.env, input=stream,
                          capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"git fast-import failed in {repo}: {proc.stderr.decode(errors='replace')}")
    tools.run([tools.git, "reset", "-q", "--hard", "main"], repo)
    count = int(tools.git_out(repo, "rev-list", "--count", "HEAD"))
    ntags = len(tools.git_out(repo, "tag", "--list").split())
    if count != n or ntags != len(tags):
        raise SystemExit(f"{repo}: expected {n} commits and {len(tags)} tags, found {count} and {ntags}")
    return {"last_tag": last_tag, "head": tools.git_out(repo, "rev-parse", "HEAD")}


def items_between(n: int, lo: int, hi: int) -> set[str]:
    """The item tokens of the feat and fix commits ``lo`` .. ``hi - 1`` of a history of ``n`` commits."""
    return {item(i) for i in range(lo, hi) if message(i, n)[0] in ("feat", "fix")}


# ----------------------------------------------------------------------------------------------- peers


def peer_venv(path: Path, tools: Tools) -> dict[str, str]:
    """Create (or reuse) a virtualenv at ``path`` holding the three peers; return name -> version."""
    python = path / "bin" / "python"
    if not all((path / "bin" / exe).exists() for exe in PEERS.values()):
        print(f"installing {', '.join(PEERS)} into {path} (pip)", file=sys.stderr)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               *PEERS], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"pip install of the peers failed:\n{proc.stdout}\n{proc.stderr}")
    proc = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
                          capture_output=True, text=True, check=True)
    versions = dict(line.split("==", 1) for line in proc.stdout.splitlines() if "==" in line)
    return {name: versions.get(name, "?") for name in PEERS}


# ----------------------------------------------------------------------------------------------- timing

Check = Callable[[str, Path], "str | None"]  # (stdout, cwd) -> None when right, else what was wrong


@dataclass
class Case:
    """One measured command: argv, where, what its output must show, and what to undo after it (not timed)."""

    label: str
    argv: list[str]
    cwd: Path
    key: str = ""  # the same command at every size (for the projection from the previous size)
    check: Check | None = None
    restore: Callable[[], None] | None = None  # after every run: undo what the command wrote
    must_pass: bool = False  # gitops-tools and the floors: a failure stops the benchmark
    times: list[float] = field(default_factory=list)
    status: str | None = None  # None while measured; else "timeout", "failed: ...", or why it was not run
    runs: int = 0  # timed runs wanted
    slow: bool = False  # one run over SLOW_S: that run (the warm-up) is the only one
    result: str = ""  # what it printed, summed up (the version, or the number of commits listed)

    @property
    def ok(self) -> bool:
        return self.status is None and bool(self.times)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1000


def run_once(tools: Tools, case: Case, timeout: float) -> float | None:
    """One timed run; None (and ``case.status`` set) when it timed out, failed or printed the wrong thing."""
    start = time.perf_counter()
    proc = subprocess.Popen(case.argv, cwd=case.cwd, env=tools.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and the git processes it started (its own group)
        proc.communicate()
        if case.restore is not None:
            case.restore()
        if case.must_pass:
            raise SystemExit(f"{case.label}: timed out after {timeout:.0f} s in {case.cwd}") from None
        case.status = f"timeout (> {timeout:.0f} s)"
        return None
    elapsed = time.perf_counter() - start
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    problem = None
    if proc.returncode != 0:
        last = (stderr.strip() or stdout.strip()).splitlines()[-1:] or [""]
        problem = f"failed (exit {proc.returncode}): {last[0][:160]}"
    elif case.check is not None:
        problem = case.check(stdout, case.cwd)
    if case.restore is not None:
        case.restore()
    if problem:
        if case.must_pass:
            raise SystemExit(f"{case.label}: {problem}\n  argv: {case.argv}\n  cwd: {case.cwd}\n"
                             f"  stdout: {stdout[-2000:]}\n  stderr: {stderr[-2000:]}")
        case.status = problem
        return None
    return elapsed


SLOW_S = 10.0  # a command that takes longer than this is run once (its warm-up is its timed run)
BUDGET_S = 20.0  # otherwise: as many timed runs as fit in this (at least 1, at most --runs)


def measure(tools: Tools, cases: Sequence[Case], runs: int, timeout: float) -> None:
    """1 warm-up each, then the timed runs interleaved (case 1, case 2, ..., case 1, ...)."""
    for case in cases:
        if case.status is not None:
            continue
        warm = run_once(tools, case, timeout)
        if warm is None:
            continue
        if warm >= SLOW_S:
            case.times, case.runs, case.slow = [warm], 1, True
        else:
            case.runs = max(1, min(runs, int(BUDGET_S // warm)))
    for _ in range(runs):
        for case in cases:
            if case.status is None and len(case.times) < case.runs:
                t = run_once(tools, case, timeout)
                if t is not None:
                    case.times.append(t)
    for case in cases:
        shown = (f"median {case.median_ms:.1f} ms, min {case.min_ms:.1f} ms ({len(case.times)} runs)"
                 if case.ok else case.status)
        print(f"  {case.label}: {shown}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ checks


def version_check(case: Case) -> Check:
    def check(stdout: str, cwd: Path) -> str | None:
        lines = stdout.strip().splitlines()
        got = lines[-1].strip() if lines else ""
        case.result = got
        got = got[1:] if got.startswith("v") else got
        return None if got == EXPECTED_NEXT else f"wrong output: printed {case.result!r}, expected {EXPECTED_NEXT}"
    return check


ITEM = re.compile(r"item \d{6}")


def items_check(case: Case, want: set[str], forbid: set[str], read_file: str | None = None) -> Check:
    """The output (or the file ``read_file``) names every commit in ``want`` and none in ``forbid``."""
    def check(stdout: str, cwd: Path) -> str | None:
        text = (cwd / read_file).read_text(encoding="utf-8") if read_file else stdout
        found = set(ITEM.findall(text))
        case.result = f"{len(found):,} commits listed"
        missing, extra = want - found, found & forbid
        if missing:
            return f"wrong output: misses {len(missing)} of the {len(want):,} feat/fix commits (e.g. {min(missing)})"
        if extra:
            return f"wrong output: lists {len(extra)} commits of earlier releases (e.g. {min(extra)})"
        return None
    return check


def hard_reset(tools: Tools, repo: Path) -> Callable[[], None]:
    def reset() -> None:
        tools.run([tools.git, "reset", "-q", "--hard", "main"], repo)
        tools.run([tools.git, "clean", "-qfdx"], repo)
    return reset


# --------------------------------------------------------------------------------------------- scenarios


@dataclass
class Group:
    """One scenario at one size: gitops-tools, its peers, and the parts of the floor (their medians add up)."""

    scenario: str
    size: int
    tool: Case
    peers: list[Case]
    floor: list[Case]
    floor_name: str
    floor_target: float | None  # the target ratio to the floor, where there is one
    # measured with the rest but neither a peer nor a floor part: Python with the CLI library alone
    references: list[Case] = field(default_factory=list)

    @property
    def floor_median_ms(self) -> float:
        return sum(c.median_ms for c in self.floor)

    @property
    def floor_min_ms(self) -> float:
        return sum(c.min_ms for c in self.floor)


Previous = dict[str, tuple[int, "float | None", "str | None"]]  # key -> (size, min seconds, status)


def project(case: Case, previous: Previous, n: int, timeout: float) -> None:
    """Skip a peer that timed out at the previous size, or whose time there, grown only linearly, passes ``timeout``."""
    if case.key not in previous:
        return
    size, best, status = previous[case.key]
    if status is not None and status.startswith("timeout"):
        case.status = f"not run: timed out at {size:,} commits"
    elif best is not None and best * n / size > timeout:
        case.status = (f"not run: {best:.1f} s at {size:,} commits; x{n // size} commits would pass the "
                       f"{timeout:.0f} s timeout even at linear growth")


def scenarios_at(tools: Tools, peers_bin: Path, tmp: Path, n: int, runs: int, timeout: float,
                 previous: Previous, chosen: Sequence[int] = (1, 2, 3, 4)) -> tuple[list[Group], list[str]]:
    """Build the repositories of ``n`` commits, measure the ``chosen`` scenarios, profile gitops-tools once."""
    cliff, cz, psr = (str(peers_bin / PEERS[p]) for p in PEERS)
    t0 = time.perf_counter()
    rel_repo, tag_repo, all_repo = tmp / f"unreleased-{n}", tmp / f"tags-{n}", tmp / f"all-{n}"
    build_repo(tools, rel_repo, n, "unreleased")
    if 3 in chosen:
        build_repo(tools, tag_repo, n, "tags")
    if 4 in chosen:
        build_repo(tools, all_repo, n, "all")
    print(f"{n:,} commits: the repositories built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    groups: list[Group] = []

    def case(label: str, argv: list[str], cwd: Path, key: str, make_check: Callable[[Case], Check],
             **kwargs: object) -> Case:
        c = Case(label, argv, cwd, key, **kwargs)  # type: ignore[arg-type]
        c.check = make_check(c)
        if not c.must_pass:
            project(c, previous, n, timeout)
        return c

    def run_group(scenario: str, tool: Case, peer_cases: list[Case], floor: list[Case], floor_name: str,
                  target: float | None, references: list[Case] | None = None) -> None:
        measure(tools, [tool, *peer_cases, *floor, *(references or [])], runs, timeout)
        for c in peer_cases:
            previous[c.key] = (n, min(c.times) if c.ok else None, c.status)
        groups.append(Group(scenario, n, tool, peer_cases, floor, floor_name, target, references or []))

    py_rel = Case("python -c pass", [tools.python, "-c", "pass"], rel_repo, must_pass=True)
    log_rel = Case("git log --format=%H%x1f%B v1.0.0..HEAD",
                   [tools.git, "log", "--format=%H%x1f%B", "v1.0.0..HEAD"], rel_repo, must_pass=True)
    floor_rel = "`git log --format=%H%x1f%B v1.0.0..HEAD` + `python -c pass`"

    if 4 in chosen:
        print(f"4. next version, {n:,} commits, all unreleased", file=sys.stderr)
        run_group(
            "4. next version, all unreleased",
            case("gitops-tools release --print-next-version", [tools.gitops_tools, "release", "--print-next-version"],
                 all_repo, "all/gt", version_check, must_pass=True),
            [case("git-cliff --bumped-version", [cliff, "--bumped-version"], all_repo, "all/cliff", version_check),
             case("git-cliff --unreleased --bumped-version", [cliff, "--unreleased", "--bumped-version"], all_repo,
                  "all/cliff-u", version_check),
             case("cz bump --get-next --yes", [cz, "bump", "--get-next", "--yes"], all_repo, "all/cz",
                  version_check),
             case("semantic-release version --print", [psr, "version", "--print"], all_repo, "all/psr",
                  version_check)],
            [Case("git log --format=%H%x1f%B v1.0.0..HEAD", [tools.git, "log", "--format=%H%x1f%B", "v1.0.0..HEAD"],
                  all_repo, must_pass=True),
             Case("python -c pass", [tools.python, "-c", "pass"], all_repo, must_pass=True)],
            floor_rel, 2.0,
            [Case(CLICK_ONLY, [tools.python, "-c", "import click"], all_repo, must_pass=True)])
        shutil.rmtree(all_repo)
    if 1 not in chosen and 2 not in chosen and 3 not in chosen:
        shutil.rmtree(rel_repo)
        return groups, []

    print(f"1. next version, {n:,} commits, last tag {UNRELEASED} commits back", file=sys.stderr)
    run_group(
        "1. next version", case("gitops-tools release --print-next-version",
                                [tools.gitops_tools, "release", "--print-next-version"], rel_repo, "next/gt",
                                version_check, must_pass=True),
        [case("git-cliff --bumped-version", [cliff, "--bumped-version"], rel_repo, "next/cliff", version_check),
         case("git-cliff --unreleased --bumped-version", [cliff, "--unreleased", "--bumped-version"], rel_repo,
              "next/cliff-u", version_check),
         case("cz bump --get-next --yes", [cz, "bump", "--get-next", "--yes"], rel_repo, "next/cz", version_check),
         case("semantic-release version --print", [psr, "version", "--print"], rel_repo, "next/psr",
              version_check)],
        [log_rel, py_rel], floor_rel, 3.0)

    print(f"2. changelog section of the unreleased range, {n:,} commits", file=sys.stderr)
    first = n - UNRELEASED
    want, forbid = items_between(n, first, n), items_between(n, 0, first)

    def section(c: Case) -> Check:
        return items_check(c, want, forbid)

    restore_rel = hard_reset(tools, rel_repo)
    run_group(
        "2. changelog section", case("gitops-tools release --dry-run", [tools.gitops_tools, "release", "--dry-run"],
                                     rel_repo, "section/gt", section, must_pass=True),
        [case("git-cliff --unreleased", [cliff, "--unreleased"], rel_repo, "section/cliff", section),
         case("cz bump --dry-run --yes --changelog-to-stdout",
              [cz, "bump", "--dry-run", "--yes", "--changelog-to-stdout"], rel_repo, "section/cz", section),
         case("semantic-release version --changelog --no-commit --no-tag --no-push (writes CHANGELOG.md)",
              [psr, "version", "--changelog", "--no-commit", "--no-tag", "--no-push", "--no-vcs-release",
               "--skip-build"], rel_repo, "section/psr",
              lambda c: items_check(c, want, forbid, "CHANGELOG.md"), restore=restore_rel)],
        [log_rel, py_rel], floor_rel, 3.0)

    print(f"3. whole changelog, {n:,} commits, {TAG_COUNT:,} tags", file=sys.stderr)
    every = items_between(n, 0, n)

    def full(c: Case) -> Check:
        return items_check(c, every, set())

    restore_tags = hard_reset(tools, tag_repo)
    run_group(
        "3. whole changelog", case("gitops-tools changelog", [tools.gitops_tools, "changelog"], tag_repo,
                                   "full/gt", full, must_pass=True),
        [case("git-cliff", [cliff], tag_repo, "full/cliff", full),
         case("cz changelog --dry-run", [cz, "changelog", "--dry-run"], tag_repo, "full/cz", full),
         case("semantic-release changelog (writes CHANGELOG.md)", [psr, "changelog"], tag_repo, "full/psr",
              lambda c: items_check(c, every, set(), "CHANGELOG.md"), restore=restore_tags)],
        [Case("git log --format=%H%x1f%B HEAD", [tools.git, "log", "--format=%H%x1f%B", "HEAD"], tag_repo,
              must_pass=True),
         Case("python -c pass", [tools.python, "-c", "pass"], tag_repo, must_pass=True)],
        "`git log --format=%H%x1f%B HEAD` + `python -c pass`", None)

    profile = [profile_row(tools, tmp, n, rel_repo, ["release", "--print-next-version"]),
               profile_row(tools, tmp, n, rel_repo, ["release", "--dry-run"]),
               profile_row(tools, tmp, n, tag_repo, ["changelog"])]
    shutil.rmtree(rel_repo)
    shutil.rmtree(tag_repo)
    return groups, profile


# --------------------------------------------------------------------------------------- where time goes


def profile_row(tools: Tools, tmp: Path, n: int, repo: Path, args: list[str]) -> str:
    """One cProfile run and one ``-X importtime`` run of ``gitops-tools ARGS``: where the time goes."""
    import pstats

    out = tmp / "profile.out"
    tools.run([tools.python, "-m", "cProfile", "-o", str(out), tools.gitops_tools, *args], repo)
    stats = pstats.Stats(str(out))
    table = stats.stats  # type: ignore[attr-defined]  # {(file, line, func): (cc, nc, tt, ct, callers)}

    def cum(match: Callable[[str, str], bool]) -> tuple[int, float]:
        calls, total = 0, 0.0
        for (file, _, func), (_, nc, _, ct, callers) in table.items():
            if match(file, func):
                calls += nc
                total += ct
        return calls, total

    # cProfile adds a recursive function's time once (outermost call), so this is all the time spent importing
    _, imports = cum(lambda f, fn: fn == "_find_and_load" and "importlib._bootstrap" in f)
    git_calls, git_s = cum(lambda f, fn: f.endswith("gitrepo.py") and fn == "_execute")
    total = max(ct for (_, _, _, ct, _) in table.values())
    parse_calls, parse_s = cum(lambda f, fn: f.endswith("conventional.py") and fn == "parse_all")
    render_calls, render_s = cum(lambda f, fn: f.endswith("changelog.py") and fn == "render_section")
    entries = importtime(tools, repo, [tools.gitops_tools, *args])
    bare = importtime(tools, repo, ["-c", "pass"])
    # without the profiler: the top-level imports' cumulative times, less those of a bare start-up
    real_imports = (sum(us for depth, _, us in entries if depth == 0)
                    - sum(us for depth, _, us in bare if depth == 0))
    loaded = {name for _, name, _ in entries}
    heavy = [m for m in ("git", "yaml", "ruamel.yaml", "tomlkit", "click", "semver") if m in loaded]
    other = total - imports - git_s
    return (f"| {n:,} | `gitops-tools {' '.join(args)}` | {total * 1000:.0f} | {imports * 1000:.0f} "
            f"| {real_imports / 1000:.0f} "
            f"| {git_calls} / {git_s * 1000:.0f} | {parse_s * 1000:.0f} ({parse_calls:,} calls) "
            f"| {render_s * 1000:.0f} ({render_calls:,}) | {other * 1000:.0f} | {len(entries) - len(bare)} "
            f"| {', '.join(heavy)} |")


def importtime(tools: Tools, cwd: Path, args: list[str]) -> list[tuple[int, str, int]]:
    """``python -X importtime ARGS``: (nesting depth, module, cumulative microseconds) per import."""
    proc = tools.run([tools.python, "-X", "importtime", *args], cwd)
    out = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", line)
        if m:
            out.append(((len(m.group(3)) - 1) // 2, m.group(4), int(m.group(2))))
    return out


# -------------------------------------------------------------------------------------------------- report


def cell(c: Case) -> str:
    return f"{c.median_ms:,.1f}" if c.ok else str(c.status)


def ratio(tool: Case, other_ms: float | None) -> str:
    return f"{tool.median_ms / other_ms:.2f}x" if other_ms else "-"


def summary(groups: list[Group]) -> list[str]:
    out = ["## Summary (medians; ratio = gitops-tools / the other, below 1 = gitops-tools is faster)", "",
           "| scenario | commits | gitops-tools (ms) | floor (ms) | gitops-tools / floor | target | "
           "peers: gitops-tools / peer | faster than every peer? |",
           "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for g in groups:
        fl = g.floor_median_ms
        floor_ratio = g.tool.median_ms / fl
        target = ("-" if g.floor_target is None else
                  f"within {g.floor_target:.0f}x: **{'yes' if floor_ratio <= g.floor_target else 'no'}**")
        per_peer, verdict = [], []
        for c in g.peers:
            if c.ok:
                per_peer.append(f"`{c.label}` {ratio(g.tool, c.median_ms)}")
                verdict.append(c.median_ms > g.tool.median_ms)
            else:
                per_peer.append(f"`{c.label}` ({c.status})")
        measured = len(verdict)
        if measured and all(verdict):
            faster = f"**yes** ({measured} of {len(g.peers)} measured)"
        elif measured:
            slower_than = [c.label for c in g.peers if c.ok and c.median_ms <= g.tool.median_ms]
            faster = f"**no**: slower than {', '.join(f'`{s}`' for s in slower_than)}"
        else:
            faster = "no peer finished"
        out.append(f"| {g.scenario} | {g.size:,} | {g.tool.median_ms:,.1f} | {fl:,.1f} | {floor_ratio:.2f}x "
                   f"| {target} | {'<br>'.join(per_peer)} | {faster} |")
    return out


def details(groups: list[Group], titles: dict[str, str]) -> list[str]:
    out: list[str] = []
    for scenario, title in titles.items():
        if not any(g.scenario == scenario for g in groups):
            continue
        out += ["", f"## {title}", "",
                "| commits | command | median (ms) | min (ms) | runs | output | gitops-tools / this (medians) |",
                "| ---: | --- | ---: | ---: | ---: | --- | ---: |"]
        for g in (g for g in groups if g.scenario == scenario):
            for c in [g.tool, *g.peers]:
                runs = f"{len(c.times)}{'*' if c.slow else ''}" if c.ok else "-"
                mn = f"{c.min_ms:,.1f}" if c.ok else "-"
                out.append(f"| {g.size:,} | `{c.label}` | {cell(c)} | {mn} | {runs} | {c.result} "
                           f"| {ratio(g.tool, c.median_ms) if c.ok else '-'} |")
            for c in g.floor:
                out.append(f"| {g.size:,} | floor part: `{c.label}` | {c.median_ms:,.1f} | {c.min_ms:,.1f} "
                           f"| {len(c.times)} | | |")
            out.append(f"| {g.size:,} | **floor** = {g.floor_name} | {g.floor_median_ms:,.1f} | {g.floor_min_ms:,.1f} "
                       f"| | | {ratio(g.tool, g.floor_median_ms)} |")
            for c in g.references:
                out.append(f"| {g.size:,} | reference, not gitops-tools: `{c.label}` | {c.median_ms:,.1f} "
                           f"| {c.min_ms:,.1f} | {len(c.times)} | | |")
                with_log = c.median_ms + sum(f.median_ms for f in g.floor if f.label.startswith("git "))
                out.append(f"| {g.size:,} | reference + the floor's `git log` | {with_log:,.1f} | | | | "
                           f"{ratio(g.tool, with_log)} |")
    return out


CLICK_ONLY = "python -c 'import click'"  # what Python with the CLI library alone costs

TITLES = {
    "1. next version":
        f"1. Next version: last tag `v1.0.0` {UNRELEASED} commits before HEAD (expected {EXPECTED_NEXT})",
    "2. changelog section": f"2. Changelog section of the {UNRELEASED} unreleased commits",
    "3. whole changelog": f"3. Whole changelog: {TAG_COUNT:,} annotated tags along the history",
    "4. next version, all unreleased": f"4. Next version: last tag `v1.0.0` on the first commit, every other commit "
                                       f"unreleased (expected {EXPECTED_NEXT})",
}

CHART_TITLES = {
    "1. next version": f"Next version, {UNRELEASED} commits unreleased",
    "2. changelog section": f"Changelog section of {UNRELEASED} unreleased commits",
    "3. whole changelog": f"Whole changelog, {TAG_COUNT:,} tags",
    "4. next version, all unreleased": "Next version, every commit unreleased",
}

PROFILE_HEAD = [
    "## Where gitops-tools spends its time (one `python -m cProfile` run and one `python -X importtime` run "
    "per row)", "",
    "In-process time only (interpreter start-up is on top, see `python -c pass`); cProfile inflates Python-heavy "
    "parts, so read the columns as shares.", "",
    "| commits | command | in-process, profiled (ms) | imports, profiled (ms) | imports beyond `python -c pass`, "
    "`-X importtime` (ms) | git calls: count / ms | parse_all (ms) | render_section (ms) | the rest (ms) "
    "| modules beyond `python -c pass` | heavy packages loaded |",
    "| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
]


def machine_facts(tools: Tools, peers: dict[str, str], peers_dir: Path, runs: int, quick: bool,
                  timeout: float) -> list[str]:
    def first_line(argv: list[str]) -> str:
        out = subprocess.run(argv, capture_output=True, text=True, env=tools.env)
        return ((out.stdout or out.stderr).splitlines() or ["?"])[0].strip()

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- python: {platform.python_version()} ({platform.python_implementation()}) `{tools.python}`",
        f"- git: {first_line([tools.git, '--version'])}",
        f"- gitops-tools: {first_line([tools.gitops_tools, '--version'])} `{tools.gitops_tools}`",
        f"- peers (pip, virtualenv `{peers_dir}`): "
        + ", ".join(f"{name} {version}" for name, version in peers.items()),
        f"- CPUs: {os.cpu_count()} (usable: {usable})",
        f"- platform: {platform.platform()}",
        f"- runs per command: 1 warm-up + up to {runs} timed runs{' (--quick)' if quick else ''}, interleaved; "
        f"fewer when one run is slow (as many as fit in {BUDGET_S:.0f} s, at least 1); a run over {SLOW_S:.0f} s is "
        "not repeated (runs `1*`: the warm-up is the timed run)",
        f"- timeout per peer run: {timeout:.0f} s (the process group is killed)",
        "- wall time of each subprocess by `time.perf_counter`; output checks and restores outside the timed region",
    ]


NOTES = [
    "## Notes", "",
    "- Fixtures: `git fast-import`, one commit per minute, every commit changes one of 50 files; 30 % feat, 30 % fix, "
    "20 % docs, 20 % chore, two thirds with a scope, a quarter with a body, a fifth with a `Refs:` footer, a "
    "`BREAKING CHANGE:` footer every 250 commits and a `feat!:` every 500. The last 100 commits read the same at "
    f"every size and hold one breaking change, so every tool must print {EXPECTED_NEXT}.",
    "- Every output is checked (outside the timed region): the version printed, or that the changelog lists every "
    "feat and fix commit of the range (and, for the section, none from before `v1.0.0`). A peer whose output is wrong "
    "is reported as such instead of a number. `commits listed` counts distinct commits named in the output "
    "(tools differ in which types they list).",
    "- python-semantic-release is given `remote.url` in pyproject (the fixture has no git remote; without it, it "
    "stops at `git remote get-url origin`). Nothing is contacted: `--print`, `--no-push`, `--no-vcs-release`. Its "
    "`changelog` and `version --changelog` write CHANGELOG.md (and pyproject.toml) instead of printing: the check "
    "reads the file, then `git reset --hard` restores it. Its changelog mode is `update` in the unreleased-range "
    "repository (inserts the new release) and `init` in the 1,000-tag repository (renders the whole file).",
    "- commitizen has no printing dry run of the section alone; `cz bump --dry-run --yes --changelog-to-stdout` "
    "computes the version and prints the new section, like `gitops-tools release --dry-run`.",
    "- `git-cliff --bumped-version` is what its docs show for the next version; it processes the whole history. "
    "`git-cliff --unreleased --bumped-version` limits it to the commits after the last tag, as gitops-tools does.",
    "- A peer that timed out at one size, or whose best time there would pass the timeout at the next size even if it "
    "grew only linearly with the number of commits, is not run at the next size (said so in the table).",
]


def render(facts: list[str], groups: list[Group], profile: list[str]) -> str:
    out = ["# Release benchmarks: gitops-tools vs git-cliff, commitizen, python-semantic-release", "", *facts, "",
           *summary(groups), *details(groups, TITLES), "", *PROFILE_HEAD, *profile, "", *NOTES, ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k and 10k commits only, 5 timed runs")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command at most (default 10, --quick 5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per peer run (default 120)")
    parser.add_argument("--peers-venv", type=Path, default=Path(tempfile.gettempdir()) / "gitops-tools-bench-peers",
                        help="virtualenv for the peers, created and filled with pip when missing "
                             "(default: $TMPDIR/gitops-tools-bench-peers)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report to this file")
    parser.add_argument("--only-all-unreleased", action="store_true",
                        help="measure scenario 4 alone (the next version when the whole history is unreleased)")
    parser.add_argument("--charts", type=Path, default=None,
                        help="also draw each scenario's cost against the number of commits, gitops-tools beside "
                             "its floor and the peers, as DIR/release-1.svg, -2.svg, -3.svg (docs/img in the "
                             "README)")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 10)
    if runs < 1:
        parser.error("--runs must be at least 1")
    sizes = QUICK_SIZES if args.quick else SIZES

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-tools-bench-release-") as tmpname:
        tmp = Path(tmpname).resolve()
        tools = find_tools(tmp)
        peers = peer_venv(args.peers_venv.resolve(), tools)
        facts = machine_facts(tools, peers, args.peers_venv, runs, args.quick, args.timeout)
        groups: list[Group] = []
        profile: list[str] = []
        previous: Previous = {}
        for n in sizes:
            g, p = scenarios_at(tools, args.peers_venv.resolve() / "bin", tmp, n, runs, args.timeout, previous,
                                (4,) if args.only_all_unreleased else (1, 2, 3, 4))
            groups += g
            profile += p
    facts.append(f"- benchmark wall time: {time.perf_counter() - started:.0f} s")
    order = list(TITLES)
    groups.sort(key=lambda g: (order.index(g.scenario), g.size))
    report = render(facts, groups, profile)
    emit(report, args.out)
    if args.charts is not None:
        from run import write_chart

        date = next((f.split(": ", 1)[1][:10] for f in facts if f.startswith("- date:")), "")
        for number, scenario in enumerate(TITLES, 1):
            if not any(g.scenario == scenario for g in groups):
                continue
            write_chart(args.charts / f"release-{number}.svg", chart(scenario, CHART_TITLES[scenario], groups, date))
    return 0


def chart(scenario: str, title: str, groups: list[Group], date: str) -> str:
    """One scenario: gitops-tools, its floor and every peer against the number of commits (a peer that was not
    run or failed at a size has no point there)."""
    from svgchart import Series, line_chart

    mine = [g for g in groups if g.scenario == scenario]
    series = [Series("gitops-tools", [(g.size, g.tool.median_ms) for g in mine], tool=True),
              Series("floor: git log + python -c pass", [(g.size, g.floor_median_ms) for g in mine], floor=True)]
    labels = list(dict.fromkeys(c.label for g in mine for c in g.peers))
    for label in labels:
        series.append(Series(label, [(g.size, c.median_ms) for g in mine for c in g.peers
                                     if c.label == label and c.ok]))
    return line_chart(title, "commits in the repository", "median (ms)", series,
                      note=f"benchmarks/release.py, {date}; a peer without a point there was not run (timeout)")


if __name__ == "__main__":
    sys.exit(main())
