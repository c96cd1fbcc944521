"""`gitops-tools release` and `gitops-tools changelog`, the whole command on real repositories.

Each test builds a bare "remote" and a clone of it.  Author and committer dates are fixed (GIT_AUTHOR_DATE,
GIT_COMMITTER_DATE), so commits, release commits and tags have known dates; the release section is dated today.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, make_checkout, tree_bytes

DATE = "2024-03-01T12:00:00+00:00"
URL = "https://gitlab.example.com/lib/-/commit/"

PYPROJECT = """\
# The library.  Comments, odd spacing and key order must survive a release.
[build-system]
requires = ["setuptools>=68"]   # pinned low on purpose

[tool.other]
version = "1.2.3"  # not the project's version: never touched

[project]
name    =   "lib"   # the name
version   =   "1.2.3"     # bumped by release
description = 'single quotes stay'
dependencies = [
  "a",  # why a
    "b",
]

[tool.gitops-tools.release]
version_files = ["src/lib/__init__.py"]
commit_url = "https://gitlab.example.com/lib/-/commit/{sha}"
"""
INIT = '"""The lib."""\n\n__version__ = "1.2.3"\nVERSION_INFO = (1, 2, 3)  # "1.2.3"\n'
CHANGELOG = ("# Changelog\n\nAll notable changes.\n\n"
             "## lib 1.2.3 (2023-01-01)\n\n### Bug fixes\n\n- old (abcdef0)\n\n"
             "## lib 1.2.2 (2022-12-01)\n\n### Features\n\n- older (1234567)\n")
LIBRARY = {"pyproject.toml": PYPROJECT, "src/lib/__init__.py": INIT, "CHANGELOG.md": CHANGELOG}


@pytest.fixture(autouse=True)
def _fixed_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_DATE", DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", DATE)


def today() -> str:
    return datetime.date.today().isoformat()


def run(cwd: Path, *args: str, date: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}), **(env or {})}
    return subprocess.run([sys.executable, "-m", "gitops_tools", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env)


def commit(repo: Path, message: str, files: dict[str, str] | None = None, date: str | None = None) -> str:
    """Commit ``files`` (default: one new file named after the message) and return the full hash."""
    if files is None:
        files = {"notes/" + re.sub(r"[^a-z0-9]+", "-", message.splitlines()[0].lower()).strip("-") + ".txt": message}
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(text.encode())
    git(repo, "add", "-A")
    env = {**os.environ, **({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {})}
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, check=True, env=env, capture_output=True)
    return git(repo, "rev-parse", "HEAD").strip()


def publish(tmp_path: Path, seed: Path) -> tuple[Path, Path]:
    """A bare remote holding ``seed`` (branch and tags) and a clone of it to release from."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    return remote, work


def library(tmp_path: Path, files: dict[str, str] | None = None, tag: str | None = "v1.2.3",
            messages: tuple[str, ...] = ()) -> tuple[Path, Path, list[str]]:
    """A library at ``tag`` with ``messages`` committed after it: (remote, clone, their hashes)."""
    content: dict[str, str | bytes] = {**(LIBRARY if files is None else files)}
    seed = make_checkout(tmp_path / "seed", content)
    if tag:
        git(seed, "tag", "-a", tag, "-m", f"release {tag}")
    shas = [commit(seed, m) for m in messages]
    remote, work = publish(tmp_path, seed)
    return remote, work, shas


def push_first(tmp_path: Path, remote: Path, message: str) -> str:
    """Another clone commits ``message`` and pushes it before our release: its hash."""
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    sha = commit(other, message)
    git(other, "push", "-q", "origin", "main")
    return sha


def state(work: Path, remote: Path) -> dict[str, object]:
    """Everything a release could change: files, index, HEAD, tags, and the remote's refs."""
    return {
        "tree": tree_bytes(work),
        "status": git(work, "status", "--porcelain"),
        "head": git(work, "rev-parse", "HEAD").strip(),
        "tags": git(work, "tag", "--list"),
        "remote": git(remote, "for-each-ref"),
    }


def tag_message(repo: Path, tag: str) -> str:
    assert git(repo, "cat-file", "-t", tag).strip() == "tag"  # annotated
    raw = subprocess.run(["git", "cat-file", "tag", tag], cwd=repo, check=True, capture_output=True).stdout.decode()
    return raw.split("\n\n", 1)[1]


def ref(sha: str) -> str:
    return f"([{sha[:7]}]({URL}{sha}))"


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


# --- the whole release ---------------------------------------------------------------------------------------

def test_release_bumps_writes_commits_tags_and_pushes(tmp_path: Path) -> None:
    remote, work, (feat, fix) = library(tmp_path, messages=("feat(api): add a", "fix: b\n\nRefs #12"))
    base = git(work, "rev-parse", "HEAD").strip()

    r = run(work, "release")

    assert r.returncode == 0, r.stderr
    head = git(work, "rev-parse", "HEAD").strip()
    assert r.stdout == (f"lib: 1.2.3 -> 1.3.0 (minor)\ncommitted {head[:12]} and tagged v1.3.0\n"
                        "pushed the commit and v1.3.0\n")
    assert r.stderr == ""
    section = (f"## lib 1.3.0 ({today()})\n\n"
               f"### Features\n\n- **api:** add a {ref(feat)}\n\n"
               f"### Bug fixes\n\n- b {ref(fix)}\n\n")
    pyproject = (work / "pyproject.toml").read_bytes().decode()
    assert changed_lines(PYPROJECT, pyproject) == ['-version   =   "1.2.3"     # bumped by release',
                                                   '+version   =   "1.3.0"     # bumped by release']
    assert pyproject == PYPROJECT.replace('version   =   "1.2.3"', 'version   =   "1.3.0"')
    init = (work / "src/lib/__init__.py").read_bytes().decode()
    assert changed_lines(INIT, init) == ['-__version__ = "1.2.3"', '+__version__ = "1.3.0"']
    head_, rest = CHANGELOG.split("## lib 1.2.3", 1)
    assert (work / "CHANGELOG.md").read_bytes().decode() == head_ + section + "## lib 1.2.3" + rest
    # one commit with exactly those three files, on top of what was there
    assert git(work, "log", "-1", "--format=%s%n%P").splitlines() == ["chore(release): lib 1.3.0", base]
    assert git(work, "diff", "--name-only", "HEAD~1", "HEAD").splitlines() == [
        "CHANGELOG.md", "pyproject.toml", "src/lib/__init__.py"]
    assert git(work, "status", "--porcelain") == ""
    # an annotated tag whose message is the section, on the release commit
    assert tag_message(work, "v1.3.0") == section
    assert git(work, "rev-parse", "v1.3.0^{commit}").strip() == head
    # both on the remote
    assert git(remote, "rev-parse", "main").strip() == head
    assert git(remote, "rev-parse", "v1.3.0^{commit}").strip() == head
    assert tag_message(remote, "v1.3.0") == section


def test_print_next_version_and_dry_run_write_nothing(tmp_path: Path) -> None:
    remote, work, (feat, fix) = library(tmp_path, messages=("feat(api): add a", "fix: b"))
    before = state(work, remote)

    r = run(work, "release", "--print-next-version")
    assert (r.returncode, r.stdout, r.stderr) == (0, "1.3.0\n", "")
    assert state(work, remote) == before

    r = run(work, "release", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"lib: 1.2.3 -> 1.3.0 (minor)\n## lib 1.3.0 ({today()})\n\n"
                        f"### Features\n\n- **api:** add a {ref(feat)}\n\n### Bug fixes\n\n- b {ref(fix)}\n\n"
                        "dry run: nothing written\n")
    assert state(work, remote) == before


def test_json_output(tmp_path: Path) -> None:
    remote, work, (feat, prose, docs) = library(tmp_path, messages=("feat!: drop v1", "Update README", "docs: typo"))

    dry = run(work, "release", "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    r = run(work, "-o", "json", "release")
    assert r.returncode == 0, r.stderr

    head = git(work, "rev-parse", "HEAD").strip()
    section = (f"## lib 2.0.0 ({today()})\n\n### Breaking changes\n\n- drop v1 {ref(feat)}\n\n"
               f"### Features\n\n- drop v1 {ref(feat)}\n\n")
    expected = {
        "name": "lib", "current": "1.2.3", "next": "2.0.0", "level": "major", "tag": "v2.0.0",
        "commit": head, "pushed": True, "files": ["pyproject.toml", "src/lib/__init__.py", "CHANGELOG.md"],
        "warnings": [], "changelog": section,
        "commits": [
            {"sha": docs, "subject": "docs: typo", "level": "none", "reason": "type docs does not bump"},
            {"sha": prose, "subject": "Update README", "level": "none", "reason": "not a conventional commit"},
            {"sha": feat, "subject": "feat!: drop v1", "level": "major", "reason": "breaking change (feat!)"},
        ],
    }
    assert json.loads(r.stdout) == expected
    assert json.loads(dry.stdout) == {**expected, "commit": None, "pushed": False}
    assert git(remote, "rev-parse", "v2.0.0^{commit}").strip() == head


MONOREPO = {
    "libs/a/pyproject.toml": '[project]\nname = "a"\nversion = "0.4.1"\n\n[tool.gitops-tools.release]\n'
                             'tag_prefix = "a-v"\n',
    "libs/a/src/a.py": "A = 1\n",
    "libs/b/pyproject.toml": '[project]\nname = "b"\nversion = "2.0.0"\n\n[tool.gitops-tools.release]\n'
                             'tag_prefix = "b-v"\n',
    "libs/b/src/b.py": "B = 1\n",
}


def monorepo(tmp_path: Path, extra: str = "") -> tuple[Path, Path, dict[str, str]]:
    files: dict[str, str | bytes] = {**MONOREPO, "libs/a/pyproject.toml": MONOREPO["libs/a/pyproject.toml"] + extra}
    seed = make_checkout(tmp_path / "seed", files)
    git(seed, "tag", "-a", "a-v0.4.1", "-m", "a 0.4.1")
    git(seed, "tag", "-a", "b-v2.0.0", "-m", "b 2.0.0")
    shas = {
        "b-break": commit(seed, "feat(b)!: b breaks", {"libs/b/src/b.py": "B = 2\n"}),
        "a-fix": commit(seed, "fix(a): a is fixed", {"libs/a/src/a.py": "A = 2\n"}),
        "root": commit(seed, "feat: root only", {"README.md": "hi\n"}),
        "a-docs": commit(seed, "docs(a): words", {"libs/a/README.md": "a\n"}),
        "both": commit(seed, "perf: both", {"libs/a/src/a.py": "A = 3\n", "libs/b/src/b.py": "B = 3\n"}),
    }
    remote, work = publish(tmp_path, seed)
    return remote, work, shas


def test_explain_lists_deciding_and_ignored_commits(tmp_path: Path) -> None:
    remote, work, s = monorepo(tmp_path)
    commit(work, "Update the a readme", {"libs/a/README.md": "a a\n"})
    prose = git(work, "rev-parse", "HEAD").strip()

    r = run(work, "release", "libs/a", "--explain", "--dry-run")

    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    counted = [line for line in lines if "(touches nothing under libs/a)" not in line]
    assert counted[:5] == [
        f"{prose[:7]}  none   Update the a readme  (not a conventional commit)",
        f"{s['both'][:7]}  patch  perf: both  (type perf bumps patch)",
        f"{s['a-docs'][:7]}  none   docs(a): words  (type docs does not bump)",
        f"{s['a-fix'][:7]}  patch  fix(a): a is fixed  (type fix bumps patch)",
        "a: 0.4.1 -> 0.4.2 (patch)",
    ]
    # commits that touch nothing under libs/a are listed as ignored, and not counted
    ignored = [line[:7] for line in lines if line.endswith("(touches nothing under libs/a)")]
    assert s["b-break"][:7] in ignored and s["root"][:7] in ignored


def test_explain_says_why_commits_outside_path_were_ignored(tmp_path: Path) -> None:
    remote, work, s = monorepo(tmp_path)
    r = run(work, "release", "libs/a", "--explain", "--dry-run")
    assert r.returncode == 0, r.stderr
    line = next((x for x in r.stdout.splitlines() if x.startswith(s["b-break"][:7])), "")
    assert "none" in line and "libs/a" in line  # e.g. "... (touches nothing under libs/a)"


def test_monorepo_path_filter_and_tag_prefix(tmp_path: Path) -> None:
    remote, work, s = monorepo(tmp_path)

    ra = run(work, "release", "libs/a")
    assert ra.returncode == 0, ra.stderr
    assert ra.stdout.splitlines()[0] == "a: 0.4.1 -> 0.4.2 (patch)"  # b's breaking change does not count
    head = git(work, "rev-parse", "HEAD").strip()
    assert git(work, "log", "-1", "--format=%s").strip() == "chore(release): a 0.4.2"
    assert git(work, "diff", "--name-only", "HEAD~1", "HEAD").splitlines() == [
        "libs/a/CHANGELOG.md", "libs/a/pyproject.toml"]
    section = (f"## a 0.4.2 ({today()})\n\n### Bug fixes\n\n- **a:** a is fixed ({s['a-fix'][:7]})\n\n"
               f"### Performance\n\n- both ({s['both'][:7]})\n\n")
    from gitops_tools.changelog import HEADER

    assert (work / "libs/a/CHANGELOG.md").read_bytes().decode() == HEADER + "\n" + section
    assert (work / "libs/a/pyproject.toml").read_bytes().decode() == (
        MONOREPO["libs/a/pyproject.toml"].replace("0.4.1", "0.4.2"))
    assert (work / "libs/b/pyproject.toml").read_bytes().decode() == MONOREPO["libs/b/pyproject.toml"]
    assert git(remote, "rev-parse", "a-v0.4.2^{commit}").strip() == head

    # b, after a's release: its own breaking change, not a's fix, and not a's release commit
    rb = run(work, "release", "libs/b", "--explain", "--dry-run")
    assert rb.returncode == 0, rb.stderr
    assert [x for x in rb.stdout.splitlines() if "(touches nothing under libs/b)" not in x][:3] == [
        f"{s['both'][:7]}  patch  perf: both  (type perf bumps patch)",
        f"{s['b-break'][:7]}  major  feat(b)!: b breaks  (breaking change (feat!))",
        "b: 2.0.0 -> 3.0.0 (major)",
    ]


def test_a_path_with_non_ascii_letters_counts_for_its_library(tmp_path: Path) -> None:
    remote, work, s = monorepo(tmp_path)
    sha = commit(work, "feat(a): accents", {"libs/a/src/café.py": "X = 1\n"})
    r = run(work, "release", "libs/a", "--explain", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"{sha[:7]}  minor  feat(a): accents  (type feat bumps minor)" in r.stdout.splitlines()
    assert "a: 0.4.1 -> 0.5.0 (minor)" in r.stdout.splitlines()


@pytest.mark.parametrize("extra, expected", [("", "0.5.0"), ("major_on_zero = true\n", "1.0.0"),
                                             ("major_on_zero = false\n", "0.5.0")],
                         ids=["0.x rule", "major_on_zero", "major_on_zero false"])
def test_breaking_change_while_zero(tmp_path: Path, extra: str, expected: str) -> None:
    remote, work, _ = monorepo(tmp_path, extra)
    commit(work, "refactor(a)!: rename everything", {"libs/a/src/a.py": "RENAMED = 1\n"})
    r = run(work, "release", "libs/a", "--print-next-version")
    assert (r.returncode, r.stdout) == (0, expected + "\n"), r.stderr


def test_name_and_tag_prefix_option_over_the_config(tmp_path: Path) -> None:
    files = {**LIBRARY, "pyproject.toml": PYPROJECT + 'name = "shared-library"\ntag_prefix = "ignored-"\n'}
    remote, work, _ = library(tmp_path, files, tag=None, messages=("fix: x",))
    git(work, "tag", "-a", "lib-1.2.3", "-m", "x", "HEAD~1")
    commit(work, "feat: y")
    r = run(work, "release", "--tag-prefix", "lib-", "--no-push")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "shared-library: 1.2.3 -> 1.3.0 (minor)"
    assert git(work, "log", "-1", "--format=%s").strip() == "chore(release): shared-library 1.3.0"
    assert git(work, "tag", "--points-at", "HEAD").strip() == "lib-1.3.0"
    assert (work / "CHANGELOG.md").read_bytes().decode().startswith(
        f"# Changelog\n\nAll notable changes.\n\n## shared-library 1.3.0 ({today()})\n\n")
    assert git(remote, "tag", "--list") == ""  # --no-push


def test_prerelease_cycle_then_final(tmp_path: Path) -> None:
    remote, work, (feat,) = library(tmp_path, messages=("feat: a",))

    r1 = run(work, "release", "--prerelease", "rc")
    assert r1.returncode == 0, r1.stderr
    assert r1.stdout.splitlines()[0] == "lib: 1.2.3 -> 1.3.0-rc.1 (minor)"
    assert 'version   =   "1.3.0-rc.1"' in (work / "pyproject.toml").read_bytes().decode()
    assert '__version__ = "1.3.0-rc.1"' in (work / "src/lib/__init__.py").read_bytes().decode()

    fix = commit(work, "fix: b")
    git(work, "push", "-q", "origin", "main")
    r2 = run(work, "release", "--prerelease", "rc")
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.splitlines()[0] == "lib: 1.3.0-rc.1 -> 1.3.0-rc.2 (minor)"

    r3 = run(work, "release", "--explain")
    assert r3.returncode == 0, r3.stderr
    out = r3.stdout.splitlines()
    # everything since the last final release decides (release commits are not counted)
    assert out[:3] == [f"{fix[:7]}  patch  fix: b  (type fix bumps patch)",
                       f"{feat[:7]}  minor  feat: a  (type feat bumps minor)",
                       "lib: 1.3.0-rc.2 -> 1.3.0 (minor)"]
    section = f"## lib 1.3.0 ({today()})\n\n### Features\n\n- a {ref(feat)}\n\n### Bug fixes\n\n- b {ref(fix)}\n\n"
    assert tag_message(remote, "v1.3.0") == section
    assert (work / "CHANGELOG.md").read_bytes().decode().startswith(
        "# Changelog\n\nAll notable changes.\n\n" + section + "## lib 1.3.0-rc.2 (")
    assert git(remote, "tag", "--list").splitlines() == ["v1.2.3", "v1.3.0", "v1.3.0-rc.1", "v1.3.0-rc.2"]
    assert git(remote, "log", "--format=%s", "main").splitlines()[:5] == [
        "chore(release): lib 1.3.0", "chore(release): lib 1.3.0-rc.2", "fix: b", "chore(release): lib 1.3.0-rc.1",
        "feat: a"]
    assert 'version   =   "1.3.0"' in (work / "pyproject.toml").read_bytes().decode()


def test_prerelease_again_without_new_commits_releases_nothing(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("feat: a",))
    assert run(work, "release", "--prerelease", "rc").returncode == 0
    before = state(work, remote)
    r = run(work, "release", "--prerelease", "rc")
    assert r.returncode == 0, r.stderr
    assert "nothing to release" in r.stdout  # got: "lib: 1.3.0-rc.1 -> 1.3.0-rc.2 (minor)"
    assert state(work, remote) == before


def test_nothing_releasable(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("docs: words", "chore: tidy", "Update README", "refactor: x"))
    before = state(work, remote)
    r = run(work, "release")
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "lib: nothing to release since 1.2.3 (no feat, fix, perf or breaking change)\n", "")
    assert state(work, remote) == before
    r = run(work, "release", "--print-next-version")
    assert (r.returncode, r.stdout) == (0, "")
    r = run(work, "release", "-o", "json")
    assert r.returncode == 0
    got = json.loads(r.stdout)
    assert (got["next"], got["level"], got["tag"], got["commit"], got["files"]) == (None, "none", None, None, [])


def test_configured_type_bumps(tmp_path: Path) -> None:
    files = {**LIBRARY, "pyproject.toml": PYPROJECT + 'types = { refactor = "patch" }\n'}
    remote, work, _ = library(tmp_path, files, messages=("refactor(core): untangle",))
    r = run(work, "release", "--print-next-version")
    assert (r.returncode, r.stdout) == (0, "1.2.4\n"), r.stderr


def test_configured_type_appears_in_the_changelog(tmp_path: Path) -> None:
    files = {**LIBRARY, "pyproject.toml": PYPROJECT + 'types = { refactor = "patch" }\n'}
    remote, work, _ = library(tmp_path, files, messages=("refactor(core): untangle",))
    r = run(work, "release", "-o", "json", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "untangle" in json.loads(r.stdout)["changelog"]  # got: "## lib 1.2.4 (DATE)\n\n"


def test_invalid_configured_level_refused(tmp_path: Path) -> None:
    files = {**LIBRARY, "pyproject.toml": PYPROJECT + 'types = { refactor = "huge" }\n'}
    remote, work, _ = library(tmp_path, files, messages=("fix: x",))
    before = state(work, remote)
    r = run(work, "release")
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == (
        "error: pyproject.toml: tool.gitops-tools.release.types.refactor: type refactor bumps 'huge'")
    assert state(work, remote) == before


# --- refusals: versions must agree before anything is written ------------------------------------------------

REFUSALS = [
    ("no project version",
     {**LIBRARY, "pyproject.toml": '[project]\nname = "lib"\ndynamic = ["version"]\n'}, "v1.2.3",
     "error: pyproject.toml: project.version: no [project] version"),
    ("version file disagrees",
     {**LIBRARY, "src/lib/__init__.py": INIT.replace('__version__ = "1.2.3"', '__version__ = "1.2.2"')}, "v1.2.3",
     "error: src/lib/__init__.py: expected one __version__ = \"1.2.3\" line, found ['1.2.2']"),
    ("version file without __version__",
     {**LIBRARY, "src/lib/__init__.py": "VERSION = '1.2.3'\n"}, "v1.2.3",
     "error: src/lib/__init__.py: expected one __version__ = \"1.2.3\" line, found none"),
    ("version file missing",
     {k: v for k, v in LIBRARY.items() if k != "src/lib/__init__.py"}, "v1.2.3",
     "error: src/lib/__init__.py: no such file"),
    ("pyproject disagrees with the last tag", LIBRARY, "v1.2.2",
     "error: pyproject.toml: project.version: version 1.2.3 disagrees with the last tag v1.2.2"),
    ("not TOML", {**LIBRARY, "pyproject.toml": "[project\n"}, "v1.2.3", "error: pyproject.toml: cannot parse TOML"),
    ("not semver", {**LIBRARY, "pyproject.toml": PYPROJECT.replace('"1.2.3"     #', '"1.2"     #')}, None,
     "error: pyproject.toml: '1.2' is not a semantic version (MAJOR.MINOR.PATCH[-PRE][+BUILD])"),
]


@pytest.mark.parametrize("files, tag, message", [x[1:] for x in REFUSALS], ids=[x[0] for x in REFUSALS])
def test_refused_before_anything_is_written(tmp_path: Path, files: dict[str, str], tag: str | None,
                                           message: str) -> None:
    remote, work, _ = library(tmp_path, files, tag=tag, messages=("feat: a", "fix: b"))
    before = state(work, remote)
    r = run(work, "release")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.splitlines()[0].startswith(message), r.stderr
    assert r.stderr.splitlines()[1].startswith("hint: ")
    assert r.stdout == ""
    assert state(work, remote) == before


def test_refusal_in_a_monorepo_names_the_library_file_and_json_error(tmp_path: Path) -> None:
    seed = make_checkout(tmp_path / "seed", {"libs/a/pyproject.toml": '[project]\nname = "a"\n', "x": "x\n"})
    commit(seed, "feat(a): a", {"libs/a/a.py": "1\n"})
    remote, work = publish(tmp_path, seed)
    before = state(work, remote)
    r = run(work, "release", "libs/a", "-o", "json")
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == "error: libs/a/pyproject.toml: project.version: no [project] version"
    err = json.loads(r.stdout)["error"]
    assert (err["file"], err["key"], err["exit_code"]) == ("libs/a/pyproject.toml", "project.version", 1)
    assert state(work, remote) == before


def test_a_failed_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    hook = work / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text('#!/bin/sh\necho "commits are frozen" >&2\nexit 1\n')
    hook.chmod(0o755)
    before = state(work, remote)
    r = run(work, "release")
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines()[0] == ("error: `git commit --quiet -m chore(release): lib 1.2.4 -- pyproject.toml "
                                        "src/lib/__init__.py CHANGELOG.md` failed (exit 1): commits are frozen")
    # all or none: pyproject.toml, __init__.py and CHANGELOG.md put back, the index as it was, no tag
    assert state(work, remote) == before


def test_changelog_in_a_new_directory(tmp_path: Path) -> None:
    files = {**LIBRARY, "pyproject.toml": PYPROJECT + 'changelog = "docs/CHANGES.md"\n'}
    remote, work, _ = library(tmp_path, files, messages=("fix: a",))
    r = run(work, "release")
    assert r.returncode in (0, 1), r.stderr  # got 3


def test_commit_url_with_an_unknown_placeholder(tmp_path: Path) -> None:
    files = {**LIBRARY, "pyproject.toml": PYPROJECT.replace("/commit/{sha}", "/commit/{commit}")}
    remote, work, _ = library(tmp_path, files, messages=("fix: a",))
    r = run(work, "release")
    assert r.returncode == 1, r.stderr  # got 3: "error: unexpected KeyError: 'commit'"
    assert "commit_url" in r.stderr


# --- preflight -----------------------------------------------------------------------------------------------

def test_shallow_clone_is_deepened_and_released(tmp_path: Path) -> None:
    remote, _, (feat, fix) = library(tmp_path, messages=("feat: a", "fix: b"))
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{remote}", str(shallow))
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "true"

    r = run(shallow, "release")

    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: the clone was shallow: fetched the whole history and the tags\n"
    assert r.stdout.splitlines()[0] == "lib: 1.2.3 -> 1.3.0 (minor)"  # the range since v1.2.3, not one commit
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "false"
    section = f"## lib 1.3.0 ({today()})\n\n### Features\n\n- a {ref(feat)}\n\n### Bug fixes\n\n- b {ref(fix)}\n\n"
    assert tag_message(remote, "v1.3.0") == section


def test_detached_head_needs_branch(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    git(work, "checkout", "-q", "--detach", "HEAD")
    before = state(work, remote)

    r = run(work, "release")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: HEAD is detached, so there is no branch to push the release commit to",
        "hint: check out the branch, or pass --branch (in GitLab CI: --branch $CI_COMMIT_BRANCH)",
    ]
    assert state(work, remote) == before

    r = run(work, "release", "--print-next-version")  # asking is fine
    assert (r.returncode, r.stdout) == (0, "1.2.4\n")

    r = run(work, "release", "--branch", "main")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: HEAD is detached: the release goes to main\n"
    head = git(work, "rev-parse", "HEAD").strip()
    assert git(remote, "rev-parse", "main").strip() == head
    assert git(remote, "rev-parse", "v1.2.4^{commit}").strip() == head


def test_a_run_interrupted_between_commit_and_tag_says_how_to_recover(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    assert run(work, "release", "--no-push").returncode == 0
    git(work, "tag", "-d", "v1.2.4")  # what a run killed before `git tag` leaves: the commit alone
    before = state(work, remote)

    r = run(work, "release")

    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (
        "error: pyproject.toml: project.version: version 1.2.4 disagrees with the last tag v1.2.3\n"
        "hint: HEAD is the release commit of an interrupted run, without its tag: drop it with "
        "`git reset --keep HEAD~1` and release again; nothing was written\n")
    assert state(work, remote) == before
    git(work, "reset", "--keep", "HEAD~1")
    r = run(work, "release")
    assert r.returncode == 0, r.stderr
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\n"


def test_detached_head_in_gitlab_ci_goes_to_ci_commit_branch(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    git(work, "checkout", "-q", "--detach", "HEAD")  # what a GitLab runner checks out

    r = run(work, "release", env={"CI_COMMIT_BRANCH": "main"})

    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: HEAD is detached: the release goes to main\n"
    head = git(work, "rev-parse", "HEAD").strip()
    assert git(remote, "rev-parse", "main", "v1.2.4^{commit}").split() == [head, head]


@pytest.mark.parametrize("gitlab_user", [False, True])
def test_no_git_identity_on_a_fresh_ci_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              gitlab_user: bool) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    git(work, "config", "--global", "user.useConfigOnly", "true")  # no guessing from the host name either
    assert subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=work,
                          capture_output=True).returncode != 0  # git alone cannot commit here
    env = {"GITLAB_USER_NAME": "Release Bot", "GITLAB_USER_EMAIL": "bot@example.com"} if gitlab_user else {}

    r = run(work, "release", env=env)

    assert r.returncode == 0, r.stderr
    author = "Release Bot <bot@example.com>" if gitlab_user else "gitops-tools <gitops-tools@localhost>"
    assert git(remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", "main") == (
        f"{author}|gitops-tools <gitops-tools@localhost>|chore(release): lib 1.2.4\n")
    assert git(remote, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/v1.2.4") == (
        "gitops-tools <gitops-tools@localhost>\n")


def test_repo_url_releases_in_a_fresh_clone_and_removes_it(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("feat: x",))
    job, scratch = tmp_path / "job", tmp_path / "scratch"
    job.mkdir()
    scratch.mkdir()

    r = run(job, "release", "--repo-url", f"file://{remote}", env={"TMPDIR": str(scratch)})

    assert r.returncode == 0, r.stderr
    new_head = git(remote, "rev-parse", "main").strip()
    assert r.stdout == (f"lib: 1.2.3 -> 1.3.0 (minor)\ncommitted {new_head[:12]} and tagged v1.3.0\n"
                        "pushed the commit and v1.3.0\n")
    assert git(remote, "rev-parse", "v1.3.0^{commit}").strip() == new_head
    assert git(remote, "show", "main:pyproject.toml") == PYPROJECT.replace(
        'version   =   "1.2.3"     # bumped', 'version   =   "1.3.0"     # bumped')
    assert list(scratch.iterdir()) == [] and list(job.iterdir()) == []  # nothing left behind


@pytest.mark.parametrize(("path", "stderr"), [
    ("../outside", "error: PATH ../outside is not inside the repository\n"
                   "hint: with --repo-url, PATH is the library's directory relative to the repository root\n"),
    ("nope", "error: nope: no such directory in {url}\n"
             "hint: with --repo-url, PATH is the library's directory relative to the repository root\n"),
])
def test_repo_url_path_must_be_inside_the_clone(tmp_path: Path, path: str, stderr: str) -> None:
    remote, work, _ = library(tmp_path, messages=("feat: x",))
    before = git(remote, "for-each-ref")
    r = run(tmp_path, "release", "--repo-url", f"file://{remote}", path)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", stderr.format(url=f"file://{remote}"))
    assert git(remote, "for-each-ref") == before


def test_a_clone_without_tags_fetches_them_first(tmp_path: Path) -> None:
    remote, _, shas = library(tmp_path, messages=("fix: the only change since 1.2.3",))
    work = tmp_path / "no-tags"
    git(tmp_path, "clone", "-q", "--no-tags", str(remote), str(work))
    assert git(work, "tag", "--list") == ""

    # a dry run fetches nothing and writes no ref, not even a tag: it says what a real run would do
    r = run(work, "release", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("warning: no tag matching v[0-9]* here: the range starts at the first commit; if origin "
                        "has release tags, a real run fetches them first (or: git fetch --tags)\n")
    assert git(work, "tag", "--list") == ""

    r = run(work, "release")

    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: no release tag here: fetched the tags of origin\n"
    assert r.stdout.splitlines()[0] == "lib: 1.2.3 -> 1.2.4 (patch)"
    section = git(remote, "tag", "-l", "--format=%(contents)", "v1.2.4")
    assert [line for line in section.splitlines() if line.startswith("- ")] == [
        f"- the only change since 1.2.3 {ref(shas[0])}"]  # not the whole history since the first commit
    assert git(work, "tag", "--list") == "v1.2.3\nv1.2.4\n"


def test_a_refused_push_keeps_what_the_user_had_staged(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    update_hook(remote, 'echo "closed" >&2\nexit 1\n')
    (work / "notes.txt").write_text("mine\n")
    git(work, "add", "notes.txt")
    (work / "src/lib/extra.py").write_text("EXTRA = 1\n")  # and something not staged
    before = state(work, remote)

    r = run(work, "release")

    assert r.returncode == 1, r.stderr
    assert state(work, remote) == before
    assert git(work, "status", "--porcelain") == "A  notes.txt\n?? src/lib/extra.py\n"


def test_no_origin_but_another_remote_is_refused_before_writing(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    git(work, "remote", "rename", "origin", "upstream")
    before = state(work, remote)
    r = run(work, "release")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("error: no remote named origin to push the release to (remotes here: upstream)\n"
                        "hint: pass --no-push, or rename the remote to push to: git remote rename NAME origin; "
                        "nothing was written\n")
    assert state(work, remote) == before


def test_no_remote_at_all_commits_and_tags_here_and_says_so(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: b",))
    git(work, "remote", "remove", "origin")
    r = run(work, "release")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "warning: no remote: the release commit and tag stay in this checkout\n"
    assert git(work, "tag", "--list") == "v1.2.3\nv1.2.4\n"


def test_race_with_an_unrelated_uncommitted_edit_still_releases(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    push_first(tmp_path, remote, "fix: theirs")
    (work / "README.md").write_text("work in progress\n")  # staged, unrelated: the rebase must carry it along
    git(work, "add", "README.md")

    r = run(work, "release")

    assert r.returncode == 0, r.stderr
    assert git(remote, "log", "--format=%s", "-2", "main").splitlines() == ["chore(release): lib 1.2.4", "fix: theirs"]
    assert (work / "README.md").read_text() == "work in progress\n"
    assert git(work, "status", "--porcelain") == "A  README.md\n"


def test_relative_repo_url_is_read_from_where_the_command_runs(tmp_path: Path) -> None:
    remote, _, _ = library(tmp_path, messages=("fix: b",))
    job = tmp_path / "job"
    job.mkdir()
    r = run(job, "release", "--repo-url", "../remote.git")
    assert r.returncode == 0, r.stderr
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\n"


def test_tags_exist_but_none_reachable(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, tag=None, messages=("feat: a",))
    git(work, "checkout", "-q", "-b", "other")
    commit(work, "fix: elsewhere")
    git(work, "tag", "-a", "v1.2.3", "-m", "on another branch")
    git(work, "checkout", "-q", "main")
    before = state(work, remote)
    r = run(work, "release")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: no tag matching v[0-9]* is reachable from HEAD, though some exist",
        "hint: fetch or merge the branch that carries the last release, then run again",
    ]
    assert state(work, remote) == before


def test_first_release_without_any_tag_counts_the_whole_history(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, tag=None, messages=("fix: a",))
    r = run(work, "release", "--print-next-version")
    assert (r.returncode, r.stdout) == (0, "1.2.4\n"), r.stderr


# --- pushing -------------------------------------------------------------------------------------------------

RACES = [
    # id, mine (in the clone), theirs (pushed first), the release, the section's entries (heading, whose, text)
    ("they push a fix", "feat: a", "fix: theirs", "1.3.0",
     [("Features", "mine", "a"), ("Bug fixes", "theirs", "theirs")]),
    ("their feat raises the level", "fix: a", "feat: theirs", "1.3.0",
     [("Features", "theirs", "theirs"), ("Bug fixes", "mine", "a")]),
]


@pytest.mark.parametrize("mine, theirs, version, groups", [x[1:] for x in RACES], ids=[x[0] for x in RACES])
def test_push_race_is_retried_on_fresh_state(tmp_path: Path, mine: str, theirs: str, version: str,
                                             groups: list[tuple[str, str, str]]) -> None:
    remote, work, (mine_sha,) = library(tmp_path, messages=(mine,))
    theirs_sha = push_first(tmp_path, remote, theirs)
    shas = {"mine": mine_sha, "theirs": theirs_sha}

    r = run(work, "release")  # work is one commit behind: the first push is rejected

    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"lib: 1.2.3 -> {version} (minor)"
    released = git(remote, "rev-parse", "main").strip()
    assert git(remote, "log", "-1", "--format=%s%n%P", released).splitlines() == [
        f"chore(release): lib {version}", theirs_sha]
    assert git(remote, "rev-parse", f"v{version}^{{commit}}").strip() == released
    assert git(work, "rev-parse", "HEAD").strip() == released
    # decided again on the fresh state: their commit is in the section
    section = f"## lib {version} ({today()})\n\n" + "".join(
        f"### {heading}\n\n- {text} {ref(shas[key])}\n\n" for heading, key, text in groups)
    assert tag_message(remote, f"v{version}") == section
    assert git(remote, "show", "main:CHANGELOG.md").startswith("# Changelog\n\nAll notable changes.\n\n" + section)


def test_two_release_jobs_at_once_release_once(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    first = run(other, "release")
    assert first.returncode == 0, first.stderr

    # planned 1.2.4 too (a minute later: not the very same commit), was rejected, and found it released
    second = run(work, "release", date="2024-03-01T12:01:00+00:00")

    assert (second.returncode, second.stdout) == (
        0, "lib: nothing to release since 1.2.4 (no feat, fix, perf or breaking change)\n"), second.stderr
    assert git(remote, "log", "--format=%s", "main").splitlines() == ["chore(release): lib 1.2.4", "fix: a", "initial"]
    assert git(remote, "tag", "--list").splitlines() == ["v1.2.3", "v1.2.4"]
    assert git(work, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert git(work, "status", "--porcelain") == ""


def test_push_race_keeps_local_unpushed_commits(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    push_first(tmp_path, remote, "fix: theirs")
    commit(work, "feat: mine, not pushed yet", {"src/lib/mine.py": "MINE = 1\n"})

    r = run(work, "release")

    # the first push is rejected (theirs landed first); the retry puts the unpushed local commit on top of
    # theirs and releases both: feat -> 1.3.0, never a 1.2.4 that silently drops "feat: mine"
    assert r.returncode == 0, r.stderr
    assert git(remote, "log", "--format=%s", "-4", "main").splitlines() == [
        "chore(release): lib 1.3.0", "feat: mine, not pushed yet", "fix: theirs", "fix: a"]
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.3.0\n"
    assert (work / "src/lib/mine.py").read_text() == "MINE = 1\n"


class _EndlessRace:
    """Another writer that lands a commit while each attempt plans (``today`` is called once per attempt)."""

    def __init__(self, tmp_path: Path, remote: Path) -> None:
        self.other = tmp_path / "other"
        git(tmp_path, "clone", "-q", str(remote), str(self.other))
        self.attempts = 0
        self.sleeps: list[float] = []

    def today(self) -> datetime.date:
        self.attempts += 1
        commit(self.other, f"docs: theirs {self.attempts}")
        git(self.other, "push", "-q", "origin", "main")
        return datetime.date(2024, 3, 1)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def test_retries_used_up_is_temporary(tmp_path: Path) -> None:
    from gitops_tools.errors import TemporaryError
    from gitops_tools.pushpolicy import Backoff
    from gitops_tools.release import release

    remote, work, _ = library(tmp_path, messages=("fix: a",))
    race = _EndlessRace(tmp_path, remote)
    with pytest.raises(TemporaryError, match="push of v1.2.4 failed") as err:
        release(work, backoff=Backoff(attempts=3, deadline=3600.0), today=race.today, sleep=race.sleep)
    assert err.value.exit_code == 75
    assert (race.attempts, len(race.sleeps)) == (3, 2)
    assert git(remote, "tag", "--list") == "v1.2.3\n"


def test_retries_stop_at_the_deadline(tmp_path: Path) -> None:
    from gitops_tools.errors import TemporaryError
    from gitops_tools.pushpolicy import Backoff
    from gitops_tools.release import release

    remote, work, _ = library(tmp_path, messages=("fix: a",))
    race = _EndlessRace(tmp_path, remote)
    with pytest.raises(TemporaryError):
        release(work, backoff=Backoff(attempts=4, deadline=0.0), today=race.today, sleep=race.sleep)
    assert race.attempts == 1  # the deadline had passed at the first rejection; got 4 attempts


def update_hook(remote: Path, body: str) -> Path:
    """Install ``body`` as the bare remote's ``update`` hook (it runs once per ref; exit 1 refuses it)."""
    hook = remote / "hooks" / "update"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)
    return hook


def test_push_is_atomic(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    update_hook(remote, 'case "$1" in refs/tags/*) echo "no tags from CI" >&2; exit 1;; esac\nexit 0\n')
    before = state(work, remote)

    r = run(work, "release")

    assert r.returncode == 1
    assert r.stderr.startswith("error: push of v1.2.4 rejected: no tags from CI;"), r.stderr
    assert ("hint: the remote refused it for good (hook, protection or credentials); the release commit and tag "
            "v1.2.4 were undone in this checkout") in r.stderr
    # the branch did not move without its tag, and nothing is left behind here for a rerun to trip over
    assert state(work, remote) == before


def test_rerun_after_a_refused_push_releases_again(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    hook = update_hook(remote, 'echo "closed for the weekend" >&2\nexit 1\n')
    assert run(work, "release").returncode == 1
    hook.unlink()

    r = run(work, "release")

    assert r.returncode == 0, r.stderr
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\n"
    assert git(remote, "log", "-1", "--format=%s", "main") == "chore(release): lib 1.2.4\n"


def test_unreachable_remote_is_temporary(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    head, tags, tree = git(work, "rev-parse", "HEAD"), git(work, "tag", "--list"), tree_bytes(work)
    shutil.rmtree(remote)
    r = run(work, "release")
    assert r.returncode == 75, r.stderr
    assert r.stderr.startswith("error: push of v1.2.4 failed:")
    assert "hint: retry later (exit 75); the release commit and tag v1.2.4 were undone in this checkout" in r.stderr
    assert (git(work, "rev-parse", "HEAD"), git(work, "tag", "--list"), tree_bytes(work)) == (head, tags, tree)


@pytest.mark.parametrize("dirty", ["pyproject.toml", "CHANGELOG.md", "src/lib/__init__.py"])
def test_uncommitted_changes_in_the_files_it_writes_are_refused(tmp_path: Path, dirty: str) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    path = work / dirty
    path.write_text((path.read_text() if path.exists() else "") + "# not finished\n")
    before = state(work, remote)

    r = run(work, "release")

    assert r.returncode == 1, r.stderr
    assert r.stderr == (f"error: {dirty}: uncommitted changes in {dirty}\n"
                        "hint: commit or stash them first: release commits these files; nothing was written\n")
    assert state(work, remote) == before


def test_no_push(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    before = git(remote, "for-each-ref")
    r = run(work, "release", "--no-push")
    assert r.returncode == 0, r.stderr
    head = git(work, "rev-parse", "HEAD").strip()
    assert r.stdout == f"lib: 1.2.3 -> 1.2.4 (patch)\ncommitted {head[:12]} and tagged v1.2.4\n"
    assert git(remote, "for-each-ref") == before


# --- gitops-tools changelog ----------------------------------------------------------------------------------

def two_releases(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    remote, work, (feat, fix) = library(tmp_path, messages=("feat(api): a", "fix: b"))
    assert run(work, "release").returncode == 0
    s = {"feat": feat, "fix": fix, "perf": commit(work, "perf: c\n\nBREAKING CHANGE: the cache is gone"),
         "docs": commit(work, "docs: d")}
    git(work, "push", "-q", "origin", "main")
    assert run(work, "release").returncode == 0
    s["later"] = commit(work, "fix(api): later", date="2024-04-02T12:00:00+00:00")
    return work, s


def test_changelog_renders_each_release_and_unreleased(tmp_path: Path) -> None:
    work, s = two_releases(tmp_path)

    r = run(work, "changelog")

    assert r.returncode == 0, r.stderr
    head, rest = r.stdout.split("\n", 3)[2], r.stdout.split("\n", 3)[3]
    assert r.stdout.startswith("# Changelog\n\n")
    assert head == f"## Unreleased ({today()})"
    assert rest == (
        "\n### Bug fixes\n\n"
        f"- **api:** later {ref(s['later'])}\n\n"
        "## lib 2.0.0 (2024-03-01)\n\n"
        f"### Breaking changes\n\n- the cache is gone {ref(s['perf'])}\n\n"
        f"### Performance\n\n- c {ref(s['perf'])}\n\n"
        "## lib 1.3.0 (2024-03-01)\n\n"
        f"### Features\n\n- **api:** a {ref(s['feat'])}\n\n"
        f"### Bug fixes\n\n- b {ref(s['fix'])}\n\n"
    )


def test_changelog_as_json_is_the_same_text(tmp_path: Path) -> None:
    work, _ = two_releases(tmp_path)
    text = run(work, "changelog").stdout
    r = run(work, "-o", "json", "changelog")
    assert (r.returncode, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {"changelog": text}


def test_changelog_unreleased_date(tmp_path: Path) -> None:
    work, _ = two_releases(tmp_path)
    r = run(work, "changelog")
    heading = r.stdout.splitlines()[2]
    assert heading in (f"## Unreleased ({today()})", "## Unreleased (2024-04-02)")  # got: 2024-03-01


def test_changelog_after_a_prerelease_has_the_final_section(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("feat: a",))
    assert run(work, "release", "--prerelease", "rc").returncode == 0
    assert run(work, "release").returncode == 0
    r = run(work, "changelog")
    assert r.returncode == 0, r.stderr
    assert "## lib 1.3.0 (2024-03-01)" in r.stdout  # got only "## lib 1.3.0-rc.1 (2024-03-01)"


def test_changelog_of_a_library_in_a_monorepo(tmp_path: Path) -> None:
    remote, work, s = monorepo(tmp_path)
    assert run(work, "release", "libs/a").returncode == 0
    r = run(work, "changelog", "libs/a")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (  # got "# Changelog\n\n"
        "# Changelog\n\n## a 0.4.2 (2024-03-01)\n\n"
        f"### Bug fixes\n\n- **a:** a is fixed ({s['a-fix'][:7]})\n\n### Performance\n\n- both ({s['both'][:7]})\n\n")
