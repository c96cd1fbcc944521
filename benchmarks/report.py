#!/usr/bin/env python3
"""Benchmark of ``gitops-tools report`` against ``status`` plus ``history`` run separately, on one repository.

    python benchmarks/report.py [--quick] [--runs N] [--sizes 1000,10000] [--out benchmarks/results/report.md]

The repositories are ``benchmarks/promotion.py``'s (``build_history_repo``: 1,000 images in each of dev, staging
and prod, then N one-tag bumps with trailers, one minute apart, by one ``git fast-import``). Measured, each a real
subprocess with the isolated git of benchmarks/run.py, interleaved:

- ``gitops-tools report --out DIR`` (the page and its JSON, with Jinja2) and ``gitops-tools -o json report``;
- the reference: ``gitops-tools status`` then ``gitops-tools history``, two processes, timed together (what a
  release engineer ran before to see the same matrix and changes);
- the floor: the ``git log`` that history runs, to /dev/null.

The target: the report within 2x of status plus history. Standard library only; nothing here asserts a speed.
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
from metrics import LOG_FORMAT  # noqa: E402  (the git log that history runs)
from promotion import ENVS, READ_IMAGES, build_history_repo, load_average  # noqa: E402
from run import Case, Row, emit, find_tools, fixed, machine_facts, measure  # noqa: E402

SIZES = (1000, 10000)
TARGET = 2.0
REFERENCE = "`status` + `history` (two processes)"
FLOOR = "the `git log` history runs"


def scenario(tools: object, tmp: Path, sizes: tuple[int, ...], runs: int) -> tuple[list[Row], list[str]]:
    from run import Tools

    assert isinstance(tools, Tools)
    rows: list[Row] = []
    notes: list[str] = []
    for commits in sizes:
        print(f"building a history of {commits:,} commits ({READ_IMAGES:,} images x {len(ENVS)} environments)",
              file=sys.stderr)
        repo = tmp / f"history-{commits}"
        build_history_repo(tools, repo, commits, READ_IMAGES)
        data = json.loads(tools.run([tools.gitops_tools, "-o", "json", "report"], repo).stdout)
        changes = sum(len(v) for v in data["timeline"].values())
        notes.append(f"- {commits:,} commits: {len(data['matrix']):,} images x {len(data['environments'])} "
                     f"environments in the matrix, {changes:,} timeline entries (the newest 200 per environment), "
                     f"{len(data['weeks'])} weeks of measures (the fixture's commits are of January 2026, so the "
                     f"weeks up to today count none, but each week is measured over every event all the same)")
        out = tmp / f"public-{commits}"
        page = Case(f"report --out ({commits})", repo, fixed(tools.gitops_tools, "report", "--out", str(out)))
        as_json = Case(f"-o json report ({commits})", repo, fixed(tools.gitops_tools, "-o", "json", "report"))
        reference = Case(f"status + history ({commits})", repo,
                         lambda _tag: [[tools.gitops_tools, "status"], [tools.gitops_tools, "history"]])
        floor = Case(f"git log as history ({commits})", repo,
                     fixed(tools.git, "-c", "core.quotePath=false", "log", f"--format={LOG_FORMAT}", "--name-only",
                           "--no-renames", "--output=/dev/null", "HEAD", "--",
                           *(f"environments/{e}" for e in sorted(ENVS))))
        measure(tools, [page, as_json, reference, floor], runs)
        size = f"{commits:,} commits"
        for name, case in (("`report --out DIR`", page), ("`-o json report`", as_json)):
            rows.append(Row(name, size, case, reference, REFERENCE))
            rows.append(Row(name, size, case, floor, FLOOR))
        rows.append(Row(REFERENCE, size, reference, floor, FLOOR))
    return rows, notes


def render(facts: list[str], rows: list[Row], notes: list[str]) -> str:
    out = ["# gitops-tools benchmarks: report", "", *facts, "",
           "| command | history | median (ms) | against median (ms) | ratio | target (2x status + history) "
           "| min (ms) | against min (ms) | against |",
           "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    for r in rows:
        target = ("met" if r.ratio <= TARGET else "**not met**") if r.floor_name == REFERENCE else ""
        out.append(f"| {r.scenario} | {r.size} | {r.tool.median_ms:.1f} | {r.floor.median_ms:.1f} | {r.ratio:.2f}x "
                   f"| {target} | {r.tool.min_ms:.1f} | {r.floor.min_ms:.1f} | {r.floor_name} |")
    out += ["", "ratio = median / the median it is set against, measured in the same run, interleaved.", "",
            "## Notes (fixtures, checked once before timing)", "", *notes, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 timed runs per command, 1k commits only")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command (default 11, --quick 3)")
    parser.add_argument("--sizes", default=None, help="history sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 11)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (SIZES[:1] if args.quick else SIZES)
    if runs < 1 or not sizes or min(sizes) < 1:
        parser.error("--runs and --sizes must be positive")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-tools-bench-report-") as tmpname:
        tmp = Path(tmpname).resolve()
        tools = find_tools(tmp)
        for var in [k for k in tools.env if k.startswith(("CI_", "GITLAB_"))]:
            del tools.env[var]
        facts = machine_facts(tools, runs, args.quick)
        facts.append(f"- load average at start: {load_average()}")
        rows, notes = scenario(tools, tmp, sizes, runs)
    facts.append(f"- load average at end: {load_average()} (other work on the machine shows up here)")
    facts.append(f"- benchmark wall time: {time.perf_counter() - started:.0f} s")
    emit(render(facts, rows, notes), args.out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
