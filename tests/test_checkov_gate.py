"""ci/checkov_gate.py: the validate job fails on every checkov finding the baseline does not accept with its reason.

The reports here are written as checkov 3.3.30 writes them (``checkov -o json``: one framework, a mapping; several,
a list); the job itself, with the real checkov, runs in tests/test_gitlab_ci.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

GATE = ROOT / "ci/checkov_gate.py"


def report(*failed: tuple[str, str, str]) -> dict[str, object]:
    return {"check_type": "kubernetes",
            "results": {"failed_checks": [{"check_id": c, "resource": r, "check_name": t} for c, r, t in failed]},
            "summary": {"passed": 10, "failed": len(failed), "parsing_errors": 0, "resource_count": 3}}


BASELINE = """\
accepted:
  - check: CKV_K8S_43  # Image should use digest
    reason: pinned by tag until the environment is pinned by digest
    findings:
      - dev Deployment.aegis-dev.api
      - prod Deployment.aegis-prod.api
"""

DIGEST = ("CKV_K8S_43", "Deployment.aegis-dev.api", "Image should use digest")


def gate(tmp_path: Path, baseline: str, **reports: object) -> subprocess.CompletedProcess[str]:
    (tmp_path / "baseline.yaml").write_text(baseline)
    args = []
    for name, data in reports.items():
        path = tmp_path / f"checkov-{name}.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        args.append(f"{name}={path}")
    return subprocess.run([sys.executable, str(GATE), "--baseline", str(tmp_path / "baseline.yaml"), *args],
                          capture_output=True, text=True, timeout=60)


def test_findings_the_baseline_accepts_pass(tmp_path: Path) -> None:
    r = gate(tmp_path, BASELINE, dev=report(DIGEST),
             prod=report(("CKV_K8S_43", "Deployment.aegis-prod.api", "Image should use digest")))
    assert (r.returncode, r.stdout) == (
        0, "checkov: 2 finding(s) (dev 1, prod 1), 2 accepted by the baseline, 0 not\n"), r.stderr


def test_a_finding_not_in_the_baseline_fails_naming_it(tmp_path: Path) -> None:
    r = gate(tmp_path, BASELINE, dev=report(DIGEST, ("CKV_K8S_20", "Deployment.aegis-dev.api",
                                                     "Containers should not run with allowPrivilegeEscalation")))
    assert r.returncode == 1, r.stdout
    assert r.stdout.splitlines() == [
        "error: dev: CKV_K8S_20 Deployment.aegis-dev.api: Containers should not run with allowPrivilegeEscalation "
        f"(not accepted in {tmp_path / 'baseline.yaml'}: fix it, or add it there with the reason)",
        "checkov: 2 finding(s) (dev 2), 1 accepted by the baseline, 1 not",
    ]


def test_an_accepted_finding_that_is_gone_is_a_warning_for_the_names_checked(tmp_path: Path) -> None:
    r = gate(tmp_path, BASELINE, prod=report())  # prod was fixed; dev was not checked in this run
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines() == [
        f"warning: prod: CKV_K8S_43 Deployment.aegis-prod.api is accepted in {tmp_path / 'baseline.yaml'} but "
        "checkov no longer finds it: remove it from the baseline",
        "checkov: 0 finding(s) (prod 0), 0 accepted by the baseline, 0 not",
    ]


def test_a_baseline_entry_without_a_reason_fails(tmp_path: Path) -> None:
    r = gate(tmp_path, BASELINE.replace("    reason: pinned by tag until the environment is pinned by digest\n",
                                        "    reason: ''\n"), dev=report(DIGEST))
    assert r.returncode == 1
    assert (f"error: {tmp_path / 'baseline.yaml'}: accepted[0] (CKV_K8S_43): no reason: say why the finding is "
            "accepted") in r.stdout.splitlines()


def test_a_report_checkov_did_not_write_fails(tmp_path: Path) -> None:
    r = gate(tmp_path, BASELINE, dev="", prod={"summary": {"parsing_errors": 1}, "results": {"failed_checks": []}})
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"error: dev: cannot read checkov's report {tmp_path / 'checkov-dev.json'}: ")
    assert lines[1] == "error: prod: checkov could not parse 1 file(s)"


def test_a_report_of_nothing_to_check_has_no_findings_and_anything_else_is_refused(tmp_path: Path) -> None:
    """What checkov 3.3.30 writes for a file with no Kubernetes object: a summary alone, nothing found."""
    nothing = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0,
               "checkov_version": "3.3.30"}
    r = gate(tmp_path, BASELINE, dev=nothing)
    assert (r.returncode, r.stdout.splitlines()[-1]) == (0, "checkov: 0 finding(s) (dev 0), 0 accepted by the "
                                                            "baseline, 0 not"), r.stdout
    r = gate(tmp_path, BASELINE, dev={"summary": "no"})
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == f"error: dev: {tmp_path / 'checkov-dev.json'} is not a checkov JSON report"


def test_the_repository_baseline_gives_a_reason_for_every_entry_and_names_real_environments() -> None:
    import yaml

    data = yaml.safe_load((ROOT / "ci/checkov-baseline.yaml").read_text())
    envs = {p.name for p in (ROOT / "environments").iterdir() if p.is_dir()} | {"ci"}
    for entry in data["accepted"]:
        assert len(entry["reason"].split()) >= 10, entry["check"]
        assert {f.split(" ", 1)[0] for f in entry["findings"]} <= envs, entry["check"]
