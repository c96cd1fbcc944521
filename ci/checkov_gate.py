#!/usr/bin/env python3
"""Fail on every checkov finding that the baseline does not accept, with its reason.

    python3 ci/checkov_gate.py --baseline ci/checkov-baseline.yaml dev=rendered/checkov-dev.json ...

Each argument NAME=REPORT is checkov's JSON report (``checkov -o json``) of one thing checked: a rendered
environment (dev, staging, prod) or the CI files (ci). The baseline lists the findings accepted on purpose, each
check with the reason it is accepted and the findings it covers, as ``NAME RESOURCE`` (checkov's resource id).
Prints one line per finding that is not accepted (exit 1), one per accepted finding that checkov no longer
reports (a warning: remove it from the baseline), and a summary. A report that checkov could not write, or that
holds parsing errors, fails too. Reads YAML with PyYAML's safe loader only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

Finding = tuple[str, str, str]  # (name, check id, resource)


def read_report(name: str, path: Path) -> tuple[dict[Finding, str], list[str]]:
    """The failed checks of one checkov report, with their titles, and the problems of the report itself."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return {}, [f"{name}: cannot read checkov's report {path}: {err}"]
    found: dict[Finding, str] = {}
    problems: list[str] = []
    for part in data if isinstance(data, list) else [data]:
        if not isinstance(part, dict):
            return {}, [f"{name}: {path} is not a checkov JSON report"]
        if "results" not in part:  # checkov writes only a summary when it found nothing to check
            if part.get("resource_count") == 0:
                continue
            return {}, [f"{name}: {path} is not a checkov JSON report"]
        summary = part.get("summary", {})
        if summary.get("parsing_errors"):
            problems.append(f"{name}: checkov could not parse {summary['parsing_errors']} file(s)")
        for check in part["results"].get("failed_checks", []):
            found[(name, str(check["check_id"]), str(check["resource"]))] = str(check.get("check_name", ""))
    return found, problems


def read_baseline(path: Path) -> tuple[dict[Finding, str], list[str]]:
    """The accepted findings with their reasons, and what is wrong with the baseline file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        return {}, [f"cannot read the baseline {path}: {err}"]
    entries = (data or {}).get("accepted", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return {}, [f"{path}: expected a mapping with a list `accepted:`"]
    accepted: dict[Finding, str] = {}
    problems: list[str] = []
    for i, entry in enumerate(entries):
        where = f"{path}: accepted[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("check"), str):
            problems.append(f"{where}: expected `check:`, `reason:` and `findings:`")
            continue
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"{where} ({entry['check']}): no reason: say why the finding is accepted")
            continue
        findings = entry.get("findings")
        if not isinstance(findings, list) or not findings:
            problems.append(f"{where} ({entry['check']}): `findings:` lists none (NAME RESOURCE each)")
            continue
        for item in findings:
            name, _, resource = str(item).partition(" ")
            if not resource.strip():
                problems.append(f"{where} ({entry['check']}): {item!r} is not NAME RESOURCE")
                continue
            accepted[(name, entry["check"], resource.strip())] = reason.strip()
    return accepted, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the accepted findings (YAML)")
    parser.add_argument("reports", nargs="+", metavar="NAME=REPORT", help="checkov's JSON report of NAME")
    args = parser.parse_args(argv)
    accepted, problems = read_baseline(args.baseline)
    found: dict[Finding, str] = {}
    names: list[str] = []
    read: set[str] = set()  # the names whose report was read whole
    for item in args.reports:
        name, sep, report = item.partition("=")
        if not sep or not name or not report:
            parser.error(f"{item!r}: write NAME=REPORT, e.g. prod=rendered/checkov-prod.json")
        names.append(name)
        more, trouble = read_report(name, Path(report))
        found.update(more)
        problems += trouble
        if not trouble:
            read.add(name)
    new = sorted(f for f in found if f not in accepted)
    gone = sorted(f for f in accepted if f not in found and f[0] in read)
    for problem in problems:
        print(f"error: {problem}")
    for name, check, resource in new:
        print(f"error: {name}: {check} {resource}: {found[(name, check, resource)]} "
              f"(not accepted in {args.baseline}: fix it, or add it there with the reason)")
    for name, check, resource in gone:
        print(f"warning: {name}: {check} {resource} is accepted in {args.baseline} but checkov no longer finds it: "
              "remove it from the baseline")
    per_name = ", ".join(f"{n} {sum(1 for f in found if f[0] == n)}" for n in names)
    print(f"checkov: {len(found)} finding(s) ({per_name}), {len(found) - len(new)} accepted by the baseline, "
          f"{len(new)} not")
    return 1 if new or problems else 0


if __name__ == "__main__":
    sys.exit(main())
