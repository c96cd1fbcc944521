"""The README's promises stay true: its newcomer command and the output it shows."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT, run_cli


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(ROOT, *args)

README = (ROOT / "README.md").read_text()




def test_newcomer_command_is_the_one_described() -> None:
    assert ("pip install -e . && gitops-tools image set --dry-run dev 'aegis/api=*:1.4.3@sha256:0123456789abcdef"
            "0123456789abcdef0123456789abcdef0123456789abcdef' && gitops-tools status" in README)


def test_dry_run_bump_prints_what_the_readme_says() -> None:
    digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    assert f"gitops-tools image set --dry-run dev 'aegis/api=*:1.4.3@{digest}'" in README
    r = run("image", "set", "--dry-run", "dev", f"aegis/api=*:1.4.3@{digest}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line for line in lines if line.startswith(("-    ", "+    "))] == [  # the tag and the digest change
        "-    newTag: 1.4.2", "-    digest: sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b",
        "+    newTag: 1.4.3", f"+    digest: {digest}"]
    assert lines[-2:] == [
        "dev: aegis/api registry.gitlab.com/aegis/app/api:1.4.2@sha256:4860d680a863e88296c72cb63c8a5b84d0c42216ce235c7471221f8900c8ab5b -> "
        f"registry.gitlab.com/aegis/app/api:1.4.3@{digest} (updated)",
        "dry run: nothing written",
    ]
    for line in lines[-2:]:
        assert f"`{line}`" in README.replace("\n", " ")


def test_status_prints_the_matrix_in_the_readme() -> None:
    block = re.search(r"prints what runs where:\n\n```\n(.*?)```", README, re.S)
    assert block is not None
    r = run("status")
    assert (r.returncode, r.stdout) == (0, block.group(1))


def test_ci_runs_the_readme_test_command() -> None:
    command = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest"
    assert command in README
    assert command in (ROOT / ".ci/run").read_text()
