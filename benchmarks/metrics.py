#!/usr/bin/env python3
"""Benchmark of ``gitops-tools metrics`` over long histories, against one ``git log`` of the same range.

    python benchmarks/metrics.py [--quick] [--runs N] [--sizes 1000,10000,100000] [--out benchmarks/results/metrics.md]

The history repositories are ``benchmarks/promotion.py``'s (``build_history_repo``: one ``git fast-import``, a
root commit with dev / staging / prod of 1,000 images each, then N one-tag bumps with ``Gitops-Change`` and
``Gitops-Action`` trailers, one minute apart), each message here also carrying the ``Gitops-Source-Time`` trailer
that CI writes (so that the lead time is computed for every deployment, not skipped). Measured, each a real
subprocess with the isolated git of benchmarks/run.py, interleaved with its floors:

- ``gitops-tools metrics`` (the table), ``-o json`` and ``-o openmetrics`` (which imports prometheus_client);
- floor A: ``git log --format=%H%x1f%B -- environments`` (messages only: what promotion.py's history rows use);
- floor B: the ``git log`` that metrics itself runs (hash, parents, date, author, message and the files of each
  commit, ``--name-only``), to /dev/null: the same range with the same information, read by git alone.

The target: within 2x of floor B at every size. Standard library only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import promotion  # noqa: E402  (benchmarks/promotion.py: the history fixture)
from promotion import ENVS, EPOCH, READ_IMAGES, build_history_repo, load_average  # noqa: E402
from run import Case, Row, Tools, emit, find_tools, fixed, machine_facts, measure  # noqa: E402

SIZES = (1000, 10000, 100000)
TARGET = 2.0  # metrics within 2x of floor B
FLOOR_A = "`git log --format=%H%x1f%B -- environments` (messages only)"
FLOOR_B = "the `git log` metrics runs (`--name-only`, hash, parents, date, author, message)"
# What gitops_tools/git/repo.py asks git log for (its _LOG_FORMAT), files included.
LOG_FORMAT = "%x1e%H%x1f%P%x1f%aI%x1f%an%x1f%ae%x1f%B%x1f"
SOURCE_TIME = "2025-12-31T23:00:00Z"  # every bump's source commit: an hour before the first commit


def _with_source_time() -> None:
    """promotion.py's commit messages, plus the Gitops-Source-Time trailer that CI_COMMIT_TIMESTAMP gives."""
    plain = promotion.change_message

    def message(env: str, name: str, old: str, new: str) -> str:
        return plain(env, name, old, new) + f"Gitops-Source-Time: {SOURCE_TIME}\n"

    promotion.change_message = message


def check(tools: Tools, repo: Path, commits: int) -> dict[str, int]:
    """Run metrics once (not timed) and check that it measured every bump; counts for the report."""
    data = json.loads(tools.run([tools.gitops_tools, "metrics", "-o", "json", "--repository", "bench"], repo).stdout)
    deployments = sum(e["total"]["deployments"] for e in data["environments"])
    measured = sum(e["total"]["lead_time"]["count"] for e in data["environments"])
    series = sum(len(e["images"]) for e in data["environments"])
    if deployments != commits or measured != commits:
        raise SystemExit(f"{repo}: metrics counted {deployments} deployments ({measured} with a lead time), "
                         f"expected {commits}")
    text = tools.run([tools.gitops_tools, "metrics", "-o", "openmetrics", "--repository", "bench"], repo).stdout
    log = tools.run([tools.git, "log", f"--format={LOG_FORMAT}", "--name-only", "--no-renames", "--",
                     *(f"environments/{e}" for e in sorted(ENVS))], repo).stdout
    return {"deployments": deployments, "series (env x image)": series, "OpenMetrics lines": len(text.splitlines()),
            "floor B bytes": len(log.encode())}


def scenario(tools: Tools, tmp: Path, sizes: tuple[int, ...], runs: int) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    _with_source_time()
    for commits in sizes:
        print(f"building a history of {commits:,} commits ({READ_IMAGES:,} images x {len(ENVS)} environments)",
              file=sys.stderr)
        repo = tmp / f"history-{commits}"
        started = time.perf_counter()
        build_history_repo(tools, repo, commits, READ_IMAGES)
        built = time.perf_counter() - started
        counts = check(tools, repo, commits)
        notes.append(f"- {commits:,} commits: built in {built:.1f} s by `git fast-import`; "
                     + ", ".join(f"{k}: {v:,}" for k, v in counts.items()))
        print(f"measuring metrics over {commits:,} commits", file=sys.stderr)
        label = ("--repository", "bench")
        table = Case(f"metrics ({commits})", repo, fixed(tools.gitops_tools, "metrics", *label))
        as_json = Case(f"metrics -o json ({commits})", repo, fixed(tools.gitops_tools, "metrics", "-o", "json", *label))
        om = Case(f"metrics -o openmetrics ({commits})", repo,
                  fixed(tools.gitops_tools, "metrics", "-o", "openmetrics", *label))
        floor_a = Case(f"git log messages ({commits})", repo,
                       fixed(tools.git, "log", "--format=%H%x1f%B", "--output=/dev/null", "--", "environments"))
        floor_b = Case(f"git log as metrics ({commits})", repo,
                       fixed(tools.git, "-c", "core.quotePath=false", "log", f"--format={LOG_FORMAT}", "--name-only",
                             "--no-renames", "--output=/dev/null", "HEAD", "--",
                             *(f"environments/{e}" for e in sorted(ENVS))))
        measure(tools, [table, as_json, om, floor_a, floor_b], runs if commits < 100000 else max(3, runs // 2))
        size = f"{commits:,} commits"
        for name, case in (("`metrics`", table), ("`metrics -o json`", as_json), ("`metrics -o openmetrics`", om)):
            rows.append(Row(name, size, case, floor_b, FLOOR_B))
            rows.append(Row(name, size, case, floor_a, FLOOR_A))
    return rows, notes


def render(facts: list[str], rows: list[Row], notes: list[str]) -> str:
    out = ["# gitops-tools benchmarks: metrics", "", *facts, "",
           "| command | history | gitops-tools median (ms) | floor median (ms) | ratio | target (2x floor B) "
           "| gitops-tools min (ms) | floor min (ms) | floor |",
           "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    for r in rows:
        target = ("met" if r.ratio <= TARGET else "**not met**") if r.floor_name == FLOOR_B else ""
        out.append(f"| {r.scenario} | {r.size} | {r.tool.median_ms:.1f} | {r.floor.median_ms:.1f} | {r.ratio:.2f}x "
                   f"| {target} | {r.tool.min_ms:.1f} | {r.floor.min_ms:.1f} | {r.floor_name} |")
    out += ["", "ratio = gitops-tools median / floor median, measured in the same run, interleaved.", "",
            "## Notes (fixtures, checked once before timing)", "", *notes, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 timed runs per command, sizes 1k and 10k")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command (default 11, --quick 3; "
                                                               "half as many, at least 3, at 100k commits)")
    parser.add_argument("--sizes", default=None, help="history sizes, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 11)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (SIZES[:2] if args.quick else SIZES)
    if runs < 1 or not sizes or min(sizes) < 1:
        parser.error("--runs and --sizes must be positive")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-tools-bench-metrics-") as tmpname:
        tmp = Path(tmpname).resolve()
        tools = find_tools(tmp)
        for var in [k for k in tools.env if k.startswith(("CI_", "GITLAB_"))]:
            del tools.env[var]  # no CI variable of the calling shell reaches the tool
        facts = machine_facts(tools, runs, args.quick)
        facts.append(f"- history: commits one minute apart from {EPOCH} (2026-01-01T00:00:00Z), each bumping one "
                     f"of {READ_IMAGES:,} images in one of {len(ENVS)} environments, with a Gitops-Source-Time")
        facts.append(f"- load average at start: {load_average()}")
        rows, notes = scenario(tools, tmp, sizes, runs)
    facts.append(f"- load average at end: {load_average()} (other work on the machine shows up here)")
    facts.append(f"- benchmark wall time: {time.perf_counter() - started:.0f} s")
    report = render(facts, rows, notes)
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
