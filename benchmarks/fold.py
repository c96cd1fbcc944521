#!/usr/bin/env python3
"""Many writers, one branch (DESIGN §3.14): folding pending refs against today's push-and-retry loop.

    python benchmarks/fold.py [--writers 20,50,100,200] [--http] [--out benchmarks/results/fold.md]

For each N, in the same run and on the same machine, N ``gitops-tools image set --repo-url`` processes start
together (writer i bumps image i of one kustomization) in three set-ups:

- **fold**: the default, against one bare remote: each job publishes a pending ref, the oldest folds;
- **retry**: ``--no-fold``, against one bare remote: push, and on rejection fetch, re-apply, push again;
- **floor**: the same N jobs (``--no-fold``: one push each, the least a job does), each against a remote of its
  own: nobody waits for anybody, only for the machine (over HTTP too: each its own repository on the same
  server). Each set-up is compared with the floor of the same transport.

Measured: pushes received by the server (a pre-receive hook logs each one: what the server had to take),
commits on the branch, wall time from the start to the last job's exit, failed jobs, and whether every change
is present exactly once. With ``--http`` fold and retry also run through the test git HTTP server
(tests/githttp.py: ``git http-backend`` behind a loopback HTTP server).  Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = "environments:\n  - name: dev\n  - name: prod\n    protected: true\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITOPS_", "CI_", "GIT_"))}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
               GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="bench@example.com", GIT_TEMPLATE_DIR="")
    return env


def make_remote(base: Path, name: str, n: int, log: Path) -> Path:
    seed = base / f"seed-{name}"
    seed.mkdir(parents=True)
    (seed / "environments/dev").mkdir(parents=True)
    (seed / "gitops-tools.yaml").write_text(CONFIG)
    (seed / "environments/dev/kustomization.yaml").write_text(
        "images:\n" + "".join(f"  - name: aegis/s{i}\n    newTag: 1.0.0\n" for i in range(n)))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "seed")
    bare = base / name
    git(base, "clone", "-q", "--bare", str(seed), str(bare))
    shutil.rmtree(seed)
    hooks = bare / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-receive").write_text(f'#!/bin/sh\necho push >> "{log}"\ncat >/dev/null\n')
    (hooks / "pre-receive").chmod(0o755)
    # when the branch moved: the time of each landing, as the server saw it
    (hooks / "post-receive").write_text(f'#!/bin/sh\nwhile read old new ref; do [ "$ref" = refs/heads/main ] && '
                                        f'date +%s.%N >> "{log}.landed"; done\n')
    (hooks / "post-receive").chmod(0o755)
    return bare


def last_landing(log: Path, started: float) -> float:
    """Seconds from the start to the last time the branch moved on the server (of any remote of the set-up)."""
    path = Path(f"{log}.landed")
    return max(float(t) for t in path.read_text().split()) - started if path.exists() else float("nan")


@dataclass
class Row:
    setup: str
    n: int
    pushes: int  # received by the server (its pre-receive hook ran)
    commits: int
    wall: float  # to the last job's exit
    failed: int
    present: bool
    folded_max: int = 0
    attempts: int = 0  # push attempts, as the jobs count them (a push refused before it was sent counts too)
    landed: float = float("nan")  # to the last time the branch moved on the server


def attempts_and_folds(outs: list[str]) -> tuple[int, int]:
    import json

    attempts, largest = 0, 0
    for out in outs:
        try:
            data = json.loads(out)
        except ValueError:
            continue
        attempts += int(data.get("attempts") or 0)
        if data.get("fold"):
            largest = max(largest, int(data.get("landed_with") or 0) + 1)
    return attempts, largest


def run_writers(urls: list[str], remotes: list[Path], n: int, log: Path, base: Path, env: dict[str, str],
                extra: list[str]) -> tuple[float, int, list[str], float]:
    work = base / "work"
    work.mkdir(exist_ok=True)
    scratch = base / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**env, "TMPDIR": str(scratch)}
    epoch, start = time.time(), time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "gitops_tools", "-o", "json", "image", "set", "--repo-url",
                               urls[i], *extra,
                               "dev", f"aegis/s{i}=*:1.0.1"], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    outs = []
    failed = 0
    for p in procs:
        out, err = p.communicate()
        outs.append(out)
        if p.returncode != 0:
            failed += 1
            print(f"  job failed ({p.returncode}): {err.strip()[-300:]}", file=sys.stderr)
    return time.perf_counter() - start, failed, outs, last_landing(log, epoch)


def shared(setup: str, n: int, base: Path, env: dict[str, str], http: bool) -> Row:
    base.mkdir(parents=True)
    log = base / "pushes.log"
    if http:
        from tests.githttp import GitHTTPServer

        projects = base / "srv"
        projects.mkdir()
        remote = make_remote(projects, "gitops.git", n, log)
        with GitHTTPServer(projects, {"oauth2": "bench-token"}) as server:
            url = server.url("gitops.git")
            wall, failed, outs, landed = run_writers([url] * n, [remote], n, log, base, {**env, "GITOPS_TOKEN": "bench-token"},
                                             ["--no-fold"] if setup.startswith("retry") else [])
    else:
        remote = make_remote(base, "remote.git", n, log)
        wall, failed, outs, landed = run_writers([f"file://{remote}"] * n, [remote], n, log, base, env,
                                         ["--no-fold"] if setup.startswith("retry") else [])
    text = git(remote, "show", "main:environments/dev/kustomization.yaml")
    trailers = [line for line in git(remote, "log", "--format=%B", "main").splitlines()
                if line.startswith("Gitops-Change: dev ")]
    present = (re.findall(r"newTag: (\S+)", text) == ["1.0.1"] * n and len(trailers) == n
               and not git(remote, "for-each-ref", "refs/gitops-tools/").strip())
    commits = int(git(remote, "rev-list", "--count", "main")) - 1
    attempts, largest = attempts_and_folds(outs)
    pushes = len(log.read_text().split()) if log.exists() else 0
    row = Row(setup, n, pushes, commits, wall, failed, present, largest, attempts, landed)
    shutil.rmtree(base, ignore_errors=True)
    return row


def floor(n: int, base: Path, env: dict[str, str], http: bool = False) -> Row:
    base.mkdir(parents=True)
    log = base / "pushes.log"
    if http:
        from tests.githttp import GitHTTPServer

        projects = base / "srv"
        projects.mkdir()
        remotes = [make_remote(projects, f"r{i}.git", n, log) for i in range(n)]
        with GitHTTPServer(projects, {"oauth2": "bench-token"}) as server:
            wall, failed, outs, landed = run_writers([server.url(f"r{i}.git") for i in range(n)], remotes, n, log, base,
                                             {**env, "GITOPS_TOKEN": "bench-token"}, ["--no-fold"])
    else:
        remotes = [make_remote(base, f"r{i}.git", n, log) for i in range(n)]
        wall, failed, outs, landed = run_writers([f"file://{r}" for r in remotes], remotes, n, log, base, env,
                                         ["--no-fold"])
    present = all(re.findall(r"newTag: (\S+)", git(r, "show", "main:environments/dev/kustomization.yaml"))[i]
                  == "1.0.1" for i, r in enumerate(remotes))
    commits = sum(int(git(r, "rev-list", "--count", "main")) - 1 for r in remotes)
    row = Row("floor (own remote each)" + (" (HTTP)" if http else ""), n, len(log.read_text().split()), commits, wall,
              failed, present, attempts=attempts_and_folds(outs)[0], landed=landed)
    shutil.rmtree(base, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", default="20,50,100,200")
    parser.add_argument("--http", action="store_true", help="also fold and retry over HTTP (tests/githttp.py)")
    parser.add_argument("--skip-retry-above", type=int, default=10**9,
                        help="do not run the retry loop above this N (it needs O(N^2) pushes)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    counts = [int(x) for x in args.writers.split(",")]
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gitops-tools-bench-fold-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        env = isolated_env(home)
        for n in counts:
            setups = ["floor", "fold"] + (["retry"] if n <= args.skip_retry_above else [])
            if args.http:
                setups += ["floor (HTTP)", "fold (HTTP)"] + (["retry (HTTP)"] if n <= args.skip_retry_above else [])
            for setup in setups:
                where = base / f"{n}-{setup.replace(' ', '_').replace('(', '').replace(')', '')}"
                print(f"N={n} {setup} ...", file=sys.stderr, flush=True)
                row = (floor(n, where, env, "HTTP" in setup) if setup.startswith("floor")
                       else shared(setup, n, where, env, "HTTP" in setup))
                print(f"  {row}", file=sys.stderr, flush=True)
                rows.append(row)
    report = render(rows, time.perf_counter() - started, args)
    if args.out:
        args.out.write_text(report)
    print(report)


def render(rows: list[Row], total: float, args: argparse.Namespace) -> str:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# gitops-tools: many writers, one branch (fold against retry against a floor)",
        "",
        f"- date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}",
        f"- python: {platform.python_version()}; {git_version}; CPUs: {os.cpu_count()}",
        f"- platform: {platform.platform()}",
        f"- command: `python benchmarks/fold.py --writers {args.writers}{' --http' if args.http else ''}"
        f"{f' --skip-retry-above {args.skip_retry_above}' if args.skip_retry_above < 10**9 else ''}`",
        f"- benchmark wall time: {total:.0f} s",
        "- each job: `gitops-tools image set --repo-url URL dev 'aegis/sI=*:1.0.1'` (writer i bumps image i of one "
        "kustomization), all N started together; pushes counted by a pre-receive hook on the server",
        "- floor: the same N jobs with `--no-fold` (one push each), each against a remote of its own, started "
        "together in the same run",
        "",
        "| N | set-up | pushes received | push attempts | attempts / N | commits | largest fold | last landing (s) "
        "| x floor | last job done (s) | x floor | failed | every change once |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    floors = {(r.n, "HTTP" in r.setup): r for r in rows if r.setup.startswith("floor")}
    for r in rows:
        floor_row = floors.get((r.n, "HTTP" in r.setup))
        landed = r.landed / floor_row.landed if floor_row else float("nan")
        done = r.wall / floor_row.wall if floor_row else float("nan")
        fold_col = str(r.folded_max) if r.setup.startswith("fold") else ""
        lines.append(f"| {r.n} | {r.setup} | {r.pushes} | {r.attempts} | {r.attempts / r.n:.2f} | {r.commits} | "
                     f"{fold_col} | {r.landed:.1f} | {landed:.2f}x | {r.wall:.1f} | {done:.2f}x | {r.failed} | "
                     f"{'yes' if r.present else 'NO'} |")
    lines += ["", "pushes received: pushes that reached the server's pre-receive hook (a push git refuses before "
              "sending, e.g. a non-fast-forward it can see, does not); push attempts: the sum of every job's "
              "`attempts` (its pushes, sent or not). attempts / N: the goal is about 2 or less for fold; the retry "
              "loop needs a round per writer (O(N²) in all, bounded by its 5-minute deadline). last landing: from the "
              "start to the last time the branch moved on the server (its post-receive hook's clock; for the floor, "
              "on any of its remotes); last job done: to the last job's exit (it has seen where its change landed). "
              "x floor: over the floor's at the same N and transport, in the same run; the goal is 1.5x or less.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
