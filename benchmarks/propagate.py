#!/usr/bin/env python3
"""Benchmark of ``gitops-tools propagate`` to 1, 10 and 50 service repositories, against doing it by hand.

    python benchmarks/propagate.py [--quick] [--runs N] [--sizes 1,10,50] [--out benchmarks/results/propagate.md]

Each service is a bare repository on this machine (``file://``: the network is not what is measured) holding
``requirements.txt`` with ``shared-library==1.2.3`` and 200 other small files, so that a clone costs what a small
service's does. The GitOps checkout's ``gitops-tools.yaml`` lists them under ``services:``. Every run propagates a
new version (a new branch in every service). Measured, interleaved, each a real subprocess with the isolated git
of benchmarks/run.py:

- ``gitops-tools propagate shared-library VERSION`` (4 services at a time, the default ``--jobs``) and with
  ``--jobs 1``;
- floor A, "clone by hand": ``git clone --depth 1 --single-branch`` of every service, one after the other, then
  ``rm -rf`` (what reading the services costs at least);
- floor B, "the change by hand": per service, that clone, ``sed -i`` of the pin, ``git commit -qam``, ``git push``
  of a new branch with the merge-request push options, one after the other (what a shell loop does, without any
  of the checks);
- floor C: floor B, four services at a time (``xargs -P 4``), the same concurrency as the tool.

Standard library only; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from promotion import load_average  # noqa: E402
from run import Case, Row, Tools, emit, find_tools, machine_facts, measure  # noqa: E402

SIZES = (1, 10, 50)
OTHER_FILES = 200


def make_services(tools: Tools, base: Path, count: int) -> list[Path]:
    """``count`` bare service repositories (built once from one template repository)."""
    template = base / "template"
    template.mkdir(parents=True)
    tools.run([tools.git, "init", "-q", "-b", "main", str(template)], base)
    (template / "requirements.txt").write_text("requests==2.32.3\nshared-library==1.2.3  # platform\nflask>=3\n")
    src = template / "src"
    src.mkdir()
    for i in range(OTHER_FILES):
        (src / f"module_{i}.py").write_text(f'"""Module {i}."""\n\nVALUE = {i}\n' + "# padding\n" * 20)
    tools.run([tools.git, "add", "-A"], template)
    tools.run([tools.git, "commit", "-qm", "service"], template)
    remotes = []
    for i in range(count):
        remote = base / f"svc{i:03d}.git"
        tools.run([tools.git, "clone", "-q", "--bare", str(template), str(remote)], base)
        tools.run([tools.git, "config", "receive.advertisePushOptions", "true"], remote)
        remotes.append(remote)
    return remotes


def make_gitops(tools: Tools, base: Path, remotes: list[Path]) -> Path:
    gitops = base / "gitops"
    (gitops / "environments" / "dev").mkdir(parents=True)
    (gitops / "environments" / "dev" / "kustomization.yaml").write_text("resources: []\n")
    lines = ["version: 1", "environments: [{name: dev}]", "services:"]
    for i, remote in enumerate(remotes):
        lines += [f"  svc{i:03d}:", f"    repo_url: file://{remote}"]
    (gitops / "gitops-tools.yaml").write_text("\n".join(lines) + "\n")
    tools.run([tools.git, "init", "-q", "-b", "main"], gitops)
    tools.run([tools.git, "add", "-A"], gitops)
    tools.run([tools.git, "commit", "-qm", "gitops"], gitops)
    return gitops


def by_hand(tools: Tools, work: Path, remotes: list[Path], parallel: int, clone_only: bool) -> Case:
    """A shell script doing the work by hand, per service: clone (then sed, commit, push a branch with push
    options), in ``work``; ``parallel`` > 1 runs that many services at once with ``xargs -P``."""
    git = shlex.quote(tools.git)
    # sh -c ONE one REMOTE DIR: $1 the remote, $2 a directory of its own, $VERSION the version
    if clone_only:
        one = f'{git} clone -q --depth 1 --single-branch --branch main "file://$1" "$2" && rm -rf "$2"'
    else:
        one = (f'{git} clone -q --depth 1 --single-branch --branch main "file://$1" "$2" && cd "$2" && '
               f'sed -i "s/^shared-library==1.2.3/shared-library==$VERSION/" requirements.txt && '
               f'{git} commit -qam "build(deps): shared-library 1.2.3 -> $VERSION" && '
               f'{git} push -q -o merge_request.create -o merge_request.target=main origin '
               f'"HEAD:refs/heads/hand/shared-library-$VERSION" && cd .. && rm -rf "$2"')
    listing = "\n".join(f"{r} {work}/d{i}" for i, r in enumerate(remotes))
    label = ("clone by hand" if clone_only else "the change by hand") + (
        f", {parallel} at a time" if parallel > 1 else ", one after the other")

    def commands(tag: str) -> list[list[str]]:
        full = (f"export VERSION={shlex.quote(tag)}; printf '%s\\n' {shlex.quote(listing)} | "
                f"xargs -P {parallel} -L 1 sh -c {shlex.quote(one)} one")
        return [["sh", "-c", full]]

    return Case(label, work, commands)


def scenario(tools: Tools, tmp: Path, count: int, runs: int) -> list[Row]:
    print(f"propagate to {count} service(s)", file=sys.stderr)
    base = tmp / f"n{count}"
    base.mkdir()
    remotes = make_services(tools, base, count)
    gitops = make_gitops(tools, base, remotes)
    work = base / "hand"
    work.mkdir()

    def tool(jobs: int) -> Case:
        return Case(f"gitops-tools propagate (--jobs {jobs})", gitops,
                    lambda tag: [[tools.gitops_tools, "propagate", "shared-library", tag, "--jobs", str(jobs)]])

    tool4, tool1 = tool(4), tool(1)
    clone = by_hand(tools, work, remotes, 1, clone_only=True)
    hand1 = by_hand(tools, work, remotes, 1, clone_only=False)
    hand4 = by_hand(tools, work, remotes, 4, clone_only=False)
    measure(tools, [tool4, tool1, clone, hand1, hand4], runs)
    # every run landed a branch in every service
    for remote in remotes[:3]:
        branches = tools.git_out(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        assert branches.count("gitops-tools/propagate/") >= runs, branches
    size = f"{count} service{'s' if count > 1 else ''}"
    return [Row("propagate, 4 at a time", size, tool4, clone, "clone by hand, one after the other"),
            Row("propagate, 4 at a time", size, tool4, hand4, "the change by hand, 4 at a time"),
            Row("propagate, --jobs 1", size, tool1, hand1, "the change by hand, one after the other")]


def render(facts: list[str], rows: list[Row], sizes: list[int]) -> str:
    out = ["# propagate: a library version into 1 to 50 services", "", *facts, "",
           "| scenario | size | gitops-tools median (ms) | floor median (ms) | ratio | floor |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.scenario} | {r.size} | {r.tool.median_ms:.0f} | {r.floor.median_ms:.0f} | {r.ratio:.2f}x "
                   f"| {r.floor_name} |")
    out += ["", "Per service (median / number of services), as the number of services grows:", "",
            "| services | propagate --jobs 4 | propagate --jobs 1 | clone by hand | change by hand | change by hand, 4 at a time |",
            "|---|---|---|---|---|---|"]
    by_size: dict[str, list[Row]] = {}
    for r in rows:
        by_size.setdefault(r.size, []).append(r)
    for n, (size, group) in zip(sizes, by_size.items()):
        tool4, clone = group[0].tool, group[0].floor
        hand4, tool1, hand1 = group[1].floor, group[2].tool, group[2].floor
        cells = [f"{c.median_ms / n:.0f} ms" for c in (tool4, tool1, clone, hand1, hand4)]
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 timed runs per command, sizes 1 and 10")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    sizes = [1, 10] if args.quick else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="gitops-bench-propagate-") as name:
        tmp = Path(name)
        tools = find_tools(tmp)
        tools.env["TMPDIR"] = str(tmp)
        start = time.monotonic()
        rows: list[Row] = []
        for n in sizes:
            rows += scenario(tools, tmp, n, max(2, runs if n < 50 else min(runs, 3)))
        facts = machine_facts(tools, runs, args.quick) + [f"- load average before / after: {load_average()}",
                                                          f"- total time: {time.monotonic() - start:.0f} s"]
        text = render(facts, rows, sizes)
    emit(text, args.out)


if __name__ == "__main__":
    main()
