#!/usr/bin/env python3
"""Benchmarks for gitops-tools: every measured command is a real subprocess, timed against a "floor".

    python benchmarks/run.py [--quick] [--runs N] [--out benchmarks/results/latest.md]

The floor of a row is the cheapest way to get the same effect without the tool (``python -c pass`` for start-up,
GNU ``sed -i`` for an edit, ``sed -i`` + ``git commit -qam`` for an edit that is committed), measured in the same
run on the same machine, interleaved with the tool's runs.  Fixtures are built in a temporary directory and every
run is restored (file rewritten / ``git reset --hard``) outside the timed region, so every timed run really edits.
What each scenario measures is described in benchmarks/README.md.

Standard library only (plus the installed gitops-tools, run as a command).  Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
UPDATE_IMAGE_SH = PROJECT / "scripts" / "update-image.sh"

IMAGE_SIZES = (1, 100, 1000)  # scenario 2: images in one kustomization
ENV_COUNT = 1000  # scenario 3: overlays in one repository
IMAGES_PER_ENV = 5
BUMP_ENV = "env0500"

_tags = itertools.count(1)


def next_tag() -> str:
    """A tag newer than every tag used before in this process (the tool skips semver downgrades)."""
    return f"2.0.{next(_tags)}"


# --------------------------------------------------------------------------------------------------- tools


@dataclass
class Tools:
    python: str
    gitops_tools: str
    git: str
    sed: str
    env: dict[str, str]

    def run(self, argv: Sequence[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(list(argv), cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise SystemExit(f"benchmark command failed (exit {proc.returncode}): {' '.join(argv)}\n"
                             f"  cwd: {cwd}\n  stdout: {proc.stdout.strip()}\n  stderr: {proc.stderr.strip()}")
        return proc

    def git_out(self, cwd: Path, *args: str) -> str:
        return self.run([self.git, *args], cwd).stdout.strip()


def find_tools(tmp: Path) -> Tools:
    bindir = os.path.dirname(sys.executable)
    exe = shutil.which("gitops-tools", path=bindir) or shutil.which("gitops-tools")
    if exe is None:
        raise SystemExit("gitops-tools not found next to this python or on PATH: run `. /work/venv/bin/activate` "
                         "and `pip install -e .` first")
    git = shutil.which("git")
    sed = shutil.which("sed")
    if git is None or sed is None:
        raise SystemExit("git and GNU sed are needed for the floors")
    version = subprocess.run([sed, "--version"], capture_output=True, text=True).stdout
    if "GNU" not in version:
        raise SystemExit(f"{sed} is not GNU sed (sed -i without a suffix argument is GNU syntax)")

    gitconfig = tmp / "gitconfig"
    # Isolated git: no system or user config.  Auto-gc off so that a background repack never lands in one
    # side's timing; no signing, no hooks from a template.
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n[commit]\n\tgpgSign = false\n"
                         "[core]\n\thooksPath = /dev/null\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITOPS_", "GIT_", "CI_JOB_TOKEN"))}
    env.update({
        "PATH": bindir + os.pathsep + env.get("PATH", ""),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_AUTHOR_NAME": "Bench Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Bench Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_CEILING_DIRECTORIES": str(tmp.parent),
        "GITOPS_TOOLS": exe,  # used by scripts/update-image.sh
        "LC_ALL": "C",
    })
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # byte-code caches are written and reused, as in real use
    return Tools(sys.executable, exe, git, sed, env)


# -------------------------------------------------------------------------------------------------- timing


Commands = Callable[[str], list[list[str]]]  # a run's tag -> the argvs timed one after the other


@dataclass
class Case:
    """One measured thing: the command(s) of a run, where, and how to restore / check around it (not timed)."""

    label: str
    cwd: Path
    commands: Commands
    reset: Callable[[], None] | None = None
    verify: Callable[[str], None] | None = None
    times: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1000


def _one_run(tools: Tools, case: Case) -> float:
    if case.reset is not None:
        case.reset()
    tag = next_tag()
    argvs = case.commands(tag)
    env, cwd = tools.env, case.cwd
    procs = []
    start = time.perf_counter()
    for argv in argvs:
        procs.append(subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True))
        if procs[-1].returncode != 0:
            break
    elapsed = time.perf_counter() - start
    for argv, proc in zip(argvs, procs):
        if proc.returncode != 0:
            raise SystemExit(f"{case.label}: command failed (exit {proc.returncode}): {' '.join(argv)}\n"
                             f"  cwd: {cwd}\n  stdout: {proc.stdout.decode(errors='replace').strip()}\n"
                             f"  stderr: {proc.stderr.decode(errors='replace').strip()}")
    if case.verify is not None:
        case.verify(tag)
    return elapsed


def measure(tools: Tools, cases: Sequence[Case], runs: int, warmup: int = 1) -> None:
    """Run each case ``warmup`` + ``runs`` times, interleaving the cases so that drift hits them all alike."""
    for _ in range(warmup):
        for case in cases:
            _one_run(tools, case)
    for _ in range(runs):
        for case in cases:
            case.times.append(_one_run(tools, case))
    for case in cases:
        print(f"  {case.label}: median {case.median_ms:.1f} ms, min {case.min_ms:.1f} ms", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ fixtures


def image_name(i: int) -> str:
    return f"registry.example.com/team/app{i}"


def kustomization(names_tags: Sequence[tuple[str, str]]) -> str:
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "",
        "resources:",
        "  - ../base",
        "",
        "images:",
    ]
    for name, tag in names_tags:
        lines += [f"  - name: {name}", f"    newTag: {tag}"]
    return "\n".join(lines) + "\n"


def overlay_text(n: int) -> str:
    return kustomization([(image_name(i), f"1.{i}.0") for i in range(n)])


def env_overlay_text(env_index: int) -> str:
    return kustomization([(f"registry.example.com/team/svc{j}", f"1.{j}.{env_index}") for j in range(IMAGES_PER_ENV)])


def sed_set_tag(name: str, tag: str) -> str:
    """A sed script that changes only the newTag line of the images entry NAME (the range name-line..newTag)."""
    quoted = re.sub(r"([.^$*\[\]\\/])", r"\\\1", name)
    return rf"/^  - name: {quoted}$/,/^    newTag: /s/^\(    newTag: \).*$/\1{tag}/"



def fixed(*argv: str) -> Commands:
    """A command that does not depend on the run's tag (start-up)."""
    return lambda tag: [list(argv)]


def tool_set(tools: Tools, target: str, name: str, *options: str) -> Commands:
    """``gitops-tools image set TARGET 'NAME=*:TAG' [OPTIONS]``: only the tag moves."""
    return lambda tag: [[tools.gitops_tools, "image", "set", target, f"{name}=*:{tag}", *options]]


def script_set(env: str, name: str) -> Commands:
    """``scripts/update-image.sh ENV NAME TAG``: the project's wrapper around the CLI."""
    return lambda tag: [[str(UPDATE_IMAGE_SH), env, name, tag]]


def sed_edit(tools: Tools, rel: str, name: str, commit: bool) -> Commands:
    """The floor: ``sed -i`` on the one line, then (optionally) ``git commit -qam`` by hand."""
    def commands(tag: str) -> list[list[str]]:
        argvs = [[tools.sed, "-i", sed_set_tag(name, tag), rel]]
        if commit:
            argvs.append([tools.git, "commit", "-qam", f"bump {name} to {tag}"])
        return argvs
    return commands


def git_init(tools: Tools, repo: Path) -> str:
    tools.run([tools.git, "init", "-q"], repo)
    tools.run([tools.git, "add", "-A"], repo)
    tools.run([tools.git, "commit", "-qm", "fixture"], repo)
    return tools.git_out(repo, "rev-parse", "HEAD")


def file_has_tag(path: Path, name: str) -> Callable[[str], None]:
    def verify(expected: str) -> None:
        text = path.read_text(encoding="utf-8")
        if f"  - name: {name}\n" not in text or f"    newTag: {expected}\n" not in text:
            raise SystemExit(f"{path}: the run did not set {name} to {expected}")
    return verify


def committed(tools: Tools, repo: Path, base: str, check_file: Callable[[str], None]) -> Callable[[str], None]:
    def verify(tag: str) -> None:
        check_file(tag)
        head = tools.git_out(repo, "rev-parse", "HEAD")
        status = tools.git_out(repo, "status", "--porcelain")
        if head == base or status:
            raise SystemExit(f"{repo}: the run did not commit cleanly (HEAD {head[:12]}, status {status!r})")
        if tools.git_out(repo, "rev-list", "--count", f"{base}..HEAD") != "1":
            raise SystemExit(f"{repo}: expected exactly one new commit")
    return verify


def hard_reset(tools: Tools, repo: Path, base: str) -> Callable[[], None]:
    def reset() -> None:
        tools.run([tools.git, "reset", "-q", "--hard", base], repo)
    return reset


def rewrite(path: Path, text: str) -> Callable[[], None]:
    def reset() -> None:
        path.write_text(text, encoding="utf-8")
    return reset


def make_env_repo(tools: Tools, repo: Path, count: int) -> str:
    cfg = ["# generated by benchmarks/run.py", "version: 1", "branch: main", "environments:"]
    for i in range(count):
        name = f"env{i:04d}"
        d = repo / "environments" / name
        d.mkdir(parents=True)
        (d / "kustomization.yaml").write_text(env_overlay_text(i), encoding="utf-8")
        cfg += [f"  - name: {name}", f"    path: environments/{name}"]
    cfg += ["policies:", "  allow_downgrade: false", "  refuse_mutable_tags: true"]
    (repo / "gitops-tools.yaml").write_text("\n".join(cfg) + "\n", encoding="utf-8")
    return git_init(tools, repo)


def make_small_repo(tools: Tools, repo: Path) -> str:
    """A repository like the project's example: dev, staging, prod (protected), two images with newName."""
    for env in ("dev", "staging", "prod"):
        d = repo / "environments" / env
        d.mkdir(parents=True)
        lines = [
            "apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "", f"namespace: aegis-{env}",
            "", "resources:", "  - ../../base/api", "  - ../../base/recommendation", "", "images:",
            "  - name: aegis/api", "    newName: registry.gitlab.com/aegis/app/api", "    newTag: 1.4.2",
            "  - name: aegis/recommendation", "    newName: registry.gitlab.com/aegis/app/recommendation",
            "    newTag: 2.1.0",
        ]
        (d / "kustomization.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (repo / "gitops-tools.yaml").write_text(
        "version: 1\nbranch: main\nenvironments:\n  - name: dev\n  - name: staging\n  - name: prod\n"
        "    protected: true\n", encoding="utf-8")
    return git_init(tools, repo)


# ----------------------------------------------------------------------------------------------- scenarios


@dataclass
class Row:
    scenario: str
    size: str
    tool: Case
    floor: Case
    floor_name: str

    @property
    def ratio(self) -> float:
        return self.tool.median_ms / self.floor.median_ms


def scenario_startup(tools: Tools, tmp: Path, runs: int) -> list[Row]:
    print("1. CLI start-up", file=sys.stderr)
    floor = Case("python -c pass", tmp, fixed(tools.python, "-c", "pass"))
    version = Case("gitops-tools --version", tmp, fixed(tools.gitops_tools, "--version"))
    helpc = Case("gitops-tools --help", tmp, fixed(tools.gitops_tools, "--help"))
    module = Case("python -m gitops_tools --version", tmp,
                  fixed(tools.python, "-m", "gitops_tools", "--version"))
    # What any command pays before its own code runs: Python with the CLI library and the YAML parser (the
    # project's chosen dependencies) and the standard modules they load. Not gitops-tools: a reference.
    libraries = Case(LIBRARIES, tmp, fixed(tools.python, "-c", "import click, yaml"))
    measure(tools, [floor, version, helpc, module, libraries], runs)
    return [
        Row("1. start-up: `gitops-tools --version`", "-", version, floor, "`python -c pass`"),
        Row("1. start-up: `gitops-tools --help`", "-", helpc, floor, "`python -c pass`"),
        Row("1. start-up: `python -m gitops_tools --version`", "-", module, floor, "`python -c pass`"),
        Row(f"1. start-up, reference (not gitops-tools): `{LIBRARIES}`", "-", libraries, floor,
            "`python -c pass`"),
    ]


LIBRARIES = "python -c 'import click, yaml'"


def goal_section(rows: list[Row]) -> list[str]:
    """Issue 15's goal for the bump, in the figures of this run: within 2x of Python start-up plus the git
    commands of a bump (scenario 2b's floor), against what loading click and PyYAML alone costs."""
    start = next((r for r in rows if r.scenario == "1. start-up: `gitops-tools --version`"), None)
    libraries = next((r for r in rows if LIBRARIES in r.scenario), None)
    bumps = [r for r in rows if r.scenario.startswith("2b.")]
    if start is None or libraries is None or not bumps:
        return []
    out = ["## The bump against its goal (medians of this run)", "",
           "goal = 2 x (`python -c pass` + the floor's `sed -i` + `git commit -qam`); the reference row "
           f"`{LIBRARIES}` is what Python with the CLI and YAML libraries costs before any code of gitops-tools "
           "runs, and the floor's commit is work git does whoever calls it.", "",
           "| size | goal (ms) | gitops-tools (ms) | libraries + floor (ms) | left for gitops-tools' own code (ms) |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for r in bumps:
        goal = 2 * (start.floor.median_ms + r.floor.median_ms)
        fixed_part = libraries.tool.median_ms + r.floor.median_ms
        out.append(f"| {r.size} | {goal:.1f} | {r.tool.median_ms:.1f} | {fixed_part:.1f} | {goal - fixed_part:.1f} |")
    return out


def scenario_one_overlay(tools: Tools, tmp: Path, runs: int) -> list[Row]:
    rows = []
    for n in IMAGE_SIZES:
        print(f"2. one bump, {n} image(s)", file=sys.stderr)
        name = image_name(n - 1)  # the LAST entry
        text = overlay_text(n)
        size = f"{n:,} image{'s' if n > 1 else ''}"

        # (a) a plain directory: no git anywhere above it
        plain = tmp / f"plain-{n}"
        (plain / "overlay").mkdir(parents=True)
        kfile = plain / "overlay" / "kustomization.yaml"
        kfile.write_text(text, encoding="utf-8")
        if tools.run([tools.git, "rev-parse", "--is-inside-work-tree"], plain, check=False).returncode == 0:
            raise SystemExit(f"{plain} is inside a git checkout; the plain-directory scenario needs one outside")
        check = file_has_tag(kfile, name)
        tool = Case(f"image set --no-commit ({n})", plain,
                    tool_set(tools, "overlay", name, "--no-commit"),
                    rewrite(kfile, text), check)
        floor = Case(f"sed -i ({n})", plain,
                     sed_edit(tools, "overlay/kustomization.yaml", name, commit=False),
                     rewrite(kfile, text), check)
        measure(tools, [tool, floor], runs)
        rows.append(Row("2a. one bump, plain dir, `--no-commit`", size, tool, floor, "`sed -i`"))

        # (b) a git checkout: edit and commit
        repo = tmp / f"checkout-{n}"
        (repo / "overlay").mkdir(parents=True)
        kfile = repo / "overlay" / "kustomization.yaml"
        kfile.write_text(text, encoding="utf-8")
        base = git_init(tools, repo)
        check = committed(tools, repo, base, file_has_tag(kfile, name))
        tool = Case(f"image set + commit ({n})", repo,
                    tool_set(tools, "overlay", name),
                    hard_reset(tools, repo, base), check)
        floor = Case(f"sed -i + git commit ({n})", repo,
                     sed_edit(tools, "overlay/kustomization.yaml", name, commit=True),
                     hard_reset(tools, repo, base), check)
        measure(tools, [tool, floor], runs)
        rows.append(Row("2b. one bump, checkout, commit", size, tool, floor, "`sed -i` + `git commit -qam`"))
    return rows


def scenario_many_overlays(tools: Tools, tmp: Path, runs: int) -> tuple[list[Row], Path, str]:
    print(f"3. one bump in one of {ENV_COUNT:,} overlays", file=sys.stderr)
    repo = tmp / "envs-1000"
    repo.mkdir()
    base = make_env_repo(tools, repo, ENV_COUNT)
    name = f"registry.example.com/team/svc{IMAGES_PER_ENV - 1}"
    rel = f"environments/{BUMP_ENV}/kustomization.yaml"
    check = committed(tools, repo, base, file_has_tag(repo / rel, name))
    reset = hard_reset(tools, repo, base)
    by_env = Case("image set by env name", repo,
                  tool_set(tools, BUMP_ENV, name), reset, check)
    by_dir = Case("image set by directory", repo,
                  tool_set(tools, f"environments/{BUMP_ENV}", name),
                  reset, check)
    floor = Case("sed -i + git commit", repo,
                 sed_edit(tools, rel, name, commit=True), reset, check)
    measure(tools, [by_env, by_dir, floor], runs)
    size = f"{ENV_COUNT:,} envs x {IMAGES_PER_ENV} images"
    rows = [
        Row(f"3. one bump in `{BUMP_ENV}` by env name, commit", size, by_env, floor, "`sed -i` + `git commit -qam`"),
        Row(f"3. one bump in `environments/{BUMP_ENV}` by path, commit", size, by_dir, floor,
            "`sed -i` + `git commit -qam`"),
    ]
    return rows, repo, base


def scenario_script(tools: Tools, tmp: Path, runs: int, big_repo: Path, big_base: str) -> list[Row]:
    print("4. scripts/update-image.sh end to end", file=sys.stderr)
    small = tmp / "envs-3"
    small.mkdir()
    small_base = make_small_repo(tools, small)
    setups = [
        (small, small_base, "dev", "aegis/api", "3 envs (dev/staging/prod)"),
        (big_repo, big_base, BUMP_ENV, f"registry.example.com/team/svc{IMAGES_PER_ENV - 1}",
         f"{ENV_COUNT:,} envs x {IMAGES_PER_ENV} images"),
    ]
    rows = []
    for repo, base, env, name, size in setups:
        rel = f"environments/{env}/kustomization.yaml"
        check = committed(tools, repo, base, file_has_tag(repo / rel, name))
        reset = hard_reset(tools, repo, base)
        script = Case(f"update-image.sh ({size})", repo,
                      script_set(env, name), reset, check)
        floor = Case(f"sed -i + git commit ({size})", repo,
                     sed_edit(tools, rel, name, commit=True),
                     reset, check)
        measure(tools, [script, floor], runs)
        rows.append(Row(f"4. `scripts/update-image.sh {env} IMAGE TAG`", size, script, floor,
                        "`sed -i` + `git commit -qam`"))
    return rows


# ------------------------------------------------------------------------------------------------- imports


WATCHED = ("yaml", "ruamel", "tomlkit")


def import_report(tools: Tools, cwd: Path, args: Sequence[str]) -> tuple[list[tuple[int, str]], dict[str, bool], int]:
    """Run ``python -X importtime -m gitops_tools ARGS`` once: top-5 cumulative imports, watched packages, count."""
    proc = tools.run([tools.python, "-X", "importtime", "-m", "gitops_tools", *args], cwd)
    entries: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            entries.append((int(m.group(2)), m.group(3)))
    tops = {name.split(".", 1)[0] for _, name in entries}
    seen = {pkg: pkg in tops for pkg in WATCHED}
    return sorted(entries, reverse=True)[:5], seen, len(entries)


# -------------------------------------------------------------------------------------------------- report


def machine_facts(tools: Tools, runs: int, quick: bool) -> list[str]:
    def first_line(argv: list[str]) -> str:
        out = subprocess.run(argv, capture_output=True, text=True, env=tools.env)
        return (out.stdout or out.stderr).splitlines()[0].strip()

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- python: {platform.python_version()} ({platform.python_implementation()}) `{tools.python}`",
        f"- git: {first_line([tools.git, '--version'])}",
        f"- sed: {first_line([tools.sed, '--version'])}",
        f"- gitops-tools: {first_line([tools.gitops_tools, '--version'])} `{tools.gitops_tools}`",
        f"- CPUs: {os.cpu_count()} (usable: {usable})",
        f"- platform: {platform.platform()}",
        f"- runs per command: {runs} timed + 1 warm-up{' (--quick)' if quick else ''}; wall time of the subprocess(es)"
        " by `time.perf_counter`, fixture restore and checks outside the timed region",
    ]


def render(facts: list[str], rows: list[Row], growth: list[str], imports: list[str]) -> str:
    out = ["# gitops-tools benchmarks", "", *facts, "",
           "| scenario | size | gitops-tools median (ms) | floor median (ms) | ratio | gitops-tools min (ms) "
           "| floor min (ms) | floor |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        out.append(f"| {r.scenario} | {r.size} | {r.tool.median_ms:.1f} | {r.floor.median_ms:.1f} | {r.ratio:.1f}x "
                   f"| {r.tool.min_ms:.1f} | {r.floor.min_ms:.1f} | {r.floor_name} |")
    out += ["", "ratio = gitops-tools median / floor median.", "", *growth, "", *goal_section(rows), "", *imports, ""]
    return "\n".join(out)


def growth_section(rows: list[Row]) -> list[str]:
    out = ["## Cost growth (scenario 2: 1,000-image overlay vs 1-image overlay, medians)", "",
           "| scenario | gitops-tools 1,000 / 1 | floor 1,000 / 1 | gitops-tools extra ms (1,000 - 1) "
           "| floor extra ms (1,000 - 1) |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for prefix in ("2a.", "2b."):
        by_size = {r.size: r for r in rows if r.scenario.startswith(prefix)}
        one, big = by_size.get("1 image"), by_size.get("1,000 images")
        if one and big:
            out.append(f"| {one.scenario} | {big.tool.median_ms / one.tool.median_ms:.2f}x "
                       f"| {big.floor.median_ms / one.floor.median_ms:.2f}x "
                       f"| {big.tool.median_ms - one.tool.median_ms:.1f} "
                       f"| {big.floor.median_ms - one.floor.median_ms:.1f} |")
    return out


def imports_section(tools: Tools, tmp: Path, big_repo: Path) -> list[str]:
    print("imports (python -X importtime, one run each)", file=sys.stderr)
    # image set runs in throw-away 1-image overlays (plain and checkout), so no measured fixture is disturbed.
    plain = tmp / "imports-plain"
    (plain / "overlay").mkdir(parents=True)
    (plain / "overlay" / "kustomization.yaml").write_text(overlay_text(1), encoding="utf-8")
    checkout = tmp / "imports-checkout"
    shutil.copytree(plain, checkout)
    git_init(tools, checkout)
    probes = [
        ("`--version`", tmp, ["--version"]),
        ("`--help`", tmp, ["--help"]),
        ("`image set overlay ... --no-commit` (plain dir, 1 image)", plain,
         ["image", "set", "overlay", f"{image_name(0)}=*:9.0.0", "--no-commit"]),
        ("`image set overlay ...` (checkout, commit, 1 image)", checkout,
         ["image", "set", "overlay", f"{image_name(0)}=*:9.0.0"]),
        (f"`image set {BUMP_ENV} ... --dry-run` ({ENV_COUNT:,} envs)", big_repo,
         ["image", "set", BUMP_ENV, f"registry.example.com/team/svc{IMAGES_PER_ENV - 1}=*:9.0.0", "--dry-run"]),
    ]
    out = ["## Imports (`python -X importtime -m gitops_tools ARGS`, one run)", "",
           "| command | modules imported | `yaml` | `ruamel` | `tomlkit` | top 5 cumulative (us) |",
           "| --- | ---: | :---: | :---: | :---: | --- |"]
    for label, cwd, args in probes:
        top, seen, count = import_report(tools, cwd, args)
        marks = " | ".join("**yes**" if seen[p] else "no" for p in WATCHED)
        tops = ", ".join(f"{name} {us:,}" for us, name in top)
        out.append(f"| {label} | {count} | {marks} | {tops} |")
    out += ["", "`yaml` = PyYAML, `ruamel` = ruamel.yaml, `tomlkit` = tomlkit (release writes only). `--version` and `--help` should load "
            "none of them (reported, not asserted)."]
    return out


# ---------------------------------------------------------------------------------------------------- main



def emit(report: str, out: Path | None) -> None:
    """Print the report (Markdown) and, with ``--out``, write it there too."""
    print(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs (5 instead of 15): a smoke run, ~1 minute")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command (default 15, --quick 5)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report to this file")
    parser.add_argument("--charts", type=Path, default=None,
                        help="also draw the bump's cost against the overlay's size, beside its floor, as "
                             "DIR/bump.svg (the README shows docs/img/bump.svg)")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 15)
    if runs < 1:
        parser.error("--runs must be at least 1")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-tools-bench-") as tmpname:
        tmp = Path(tmpname).resolve()
        tools = find_tools(tmp)
        facts = machine_facts(tools, runs, args.quick)
        rows = scenario_startup(tools, tmp, runs)
        rows += scenario_one_overlay(tools, tmp, runs)
        many, big_repo, big_base = scenario_many_overlays(tools, tmp, runs)
        rows += many
        rows += scenario_script(tools, tmp, runs, big_repo, big_base)
        imports = imports_section(tools, tmp, big_repo)
    facts.append(f"- benchmark wall time: {time.perf_counter() - started:.0f} s")
    report = render(facts, rows, growth_section(rows), imports)
    emit(report, args.out)
    if args.charts is not None:
        write_chart(args.charts / "bump.svg", bump_chart(rows, facts))
    return 0


def bump_chart(rows: list[Row], facts: list[str]) -> str:
    """Scenario 2b (a bump in a checkout, committed) and its floor, against the number of images; Python's own
    start-up (scenario 1's floor) for scale."""
    from svgchart import Series, line_chart

    bumps = [r for r in rows if r.scenario.startswith("2b.")]
    start = next(r.floor for r in rows if r.scenario.startswith("1."))

    def n(row: Row) -> float:
        return float(row.size.split()[0].replace(",", ""))

    date = next((f.split(": ", 1)[1][:10] for f in facts if f.startswith("- date:")), "")
    return line_chart(
        "One bump in a checkout, committed", "images in the overlay", "median (ms)",
        [Series("gitops-tools image set", [(n(r), r.tool.median_ms) for r in bumps], tool=True),
         Series("floor: sed -i + git commit -qam", [(n(r), r.floor.median_ms) for r in bumps], floor=True),
         Series("python -c pass", [(n(r), start.median_ms) for r in bumps])],
        note=f"benchmarks/run.py, {date}: medians of {len(bumps[0].tool.times) if bumps else 0} runs each")


def write_chart(path: Path, svg: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
