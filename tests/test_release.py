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
from pathlib import Path

import pytest

from tests.conftest import git, make_checkout, tree_bytes
from tests.conftest import run_cli as run

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
        "commit": head, "pushed": True, "pushed_tags": ["v2.0.0"],
        "files": ["pyproject.toml", "src/lib/__init__.py", "CHANGELOG.md"],
        "warnings": [], "changelog": section,
        "commits": [
            {"sha": docs, "subject": "docs: typo", "level": "none", "reason": "type docs does not bump"},
            {"sha": prose, "subject": "Update README", "level": "none", "reason": "not a conventional commit"},
            {"sha": feat, "subject": "feat!: drop v1", "level": "major", "reason": "breaking change (feat!)"},
        ],
    }
    assert json.loads(r.stdout) == expected
    assert json.loads(dry.stdout) == {**expected, "commit": None, "pushed": False, "pushed_tags": []}
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
    from gitops_tools.release.changelog import HEADER

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

    r3 = run(work, "release", "--explain", "--dry-run")  # --explain alone releases nothing either
    assert r3.returncode == 0, r3.stderr
    out = r3.stdout.splitlines()
    # everything since the last final release decides (release commits are not counted)
    assert out[:3] == [f"{fix[:7]}  patch  fix: b  (type fix bumps patch)",
                       f"{feat[:7]}  minor  feat: a  (type feat bumps minor)",
                       "lib: 1.3.0-rc.2 -> 1.3.0 (minor)"]
    r4 = run(work, "release")
    assert r4.returncode == 0, r4.stderr
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
    ("named variable disagrees",
     {**LIBRARY, "pyproject.toml": PYPROJECT.replace('"src/lib/__init__.py"]', '"src/lib/__init__.py", '
                                                     '"ci/jobs.yml:LIB_VERSION"]'),
      "ci/jobs.yml": 'variables:\n  LIB_VERSION: "1.2.2"\n'}, "v1.2.3",
     "error: ci/jobs.yml: expected one LIB_VERSION = \"1.2.3\" line, found ['1.2.2']"),
    ("named variable not a name",
     {**LIBRARY, "pyproject.toml": PYPROJECT.replace('"src/lib/__init__.py"]', '"src/lib/__init__.py", '
                                                     '"ci/jobs.yml:"]')}, "v1.2.3",
     "error: pyproject.toml: tool.gitops-tools.release.version_files: version_files entry 'ci/jobs.yml:' is not "
     "FILE or FILE:NAME"),
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


JOBS = ('# the jobs of the library\nvariables:\n  LIB_VERSION: "1.2.3"   # kept by release\n'
        '  LIB_VERSION_NOTE: "1.2.3"\n  OTHER: \'1.2.3\'\n')


def test_a_version_file_entry_may_name_the_variable_that_holds_the_version(tmp_path: Path) -> None:
    """``FILE:NAME``: ``NAME = "X"`` or, as in a CI file, ``NAME: "X"``; only that line changes, quotes kept."""
    pyproject = PYPROJECT.replace('"src/lib/__init__.py"]', '"src/lib/__init__.py", "ci/jobs.yml:LIB_VERSION"]')
    remote, work, _ = library(tmp_path, {**LIBRARY, "pyproject.toml": pyproject, "ci/jobs.yml": JOBS},
                              messages=("fix: a",))
    r = run(work, "release")
    assert r.returncode == 0, r.stderr
    assert (work / "ci/jobs.yml").read_text() == JOBS.replace('LIB_VERSION: "1.2.3"', 'LIB_VERSION: "1.2.4"')
    assert (work / "src/lib/__init__.py").read_text() == INIT.replace('"1.2.3"', '"1.2.4"', 1)
    assert "ci/jobs.yml" in git(work, "show", "--name-only", "--format=", "HEAD").split()
    assert git(remote, "show", "main:ci/jobs.yml") == (work / "ci/jobs.yml").read_text()


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
    assert r.stderr.splitlines()[0] == ("error: `git commit --quiet --file=<message> --only -- pyproject.toml "
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


def tagged_elsewhere(tmp_path: Path, tag: str) -> tuple[Path, Path]:
    """A library without a release tag on main, and ``tag`` on a commit of another branch: (remote, clone)."""
    remote, work, _ = library(tmp_path, tag=None, messages=("feat: a",))
    git(work, "checkout", "-q", "-b", "other")
    commit(work, "fix: elsewhere")
    git(work, "tag", "-a", tag, "-m", "on another branch")
    git(work, "checkout", "-q", "main")
    return remote, work


def test_tags_exist_but_none_reachable(tmp_path: Path) -> None:
    remote, work = tagged_elsewhere(tmp_path, "v1.2.3")
    before = state(work, remote)
    r = run(work, "release")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: no tag matching v[0-9]* is reachable from HEAD, though some exist",
        "hint: fetch or merge the branch that carries the last release, then run again",
    ]
    assert state(work, remote) == before


def test_an_unreachable_only_tag_is_the_error_even_when_its_version_also_disagrees(tmp_path: Path) -> None:
    """With one release tag, whether HEAD reaches it is checked beside the git log: when it does not, that is the
    error, as when git describe found no tag, not the disagreement of a tag that is not the last release."""
    remote, work = tagged_elsewhere(tmp_path, "v9.0.0")  # not the version of pyproject.toml either
    before = state(work, remote)
    for args in (("release",), ("release", "--print-next-version"), ("-o", "json", "release", "--dry-run")):
        r = run(work, *args)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stderr.splitlines()[0] == "error: no tag matching v[0-9]* is reachable from HEAD, though some exist"
    assert state(work, remote) == before


def test_the_only_tag_on_head_leaves_nothing_to_release_and_one_behind_counts_what_follows(tmp_path: Path) -> None:
    _, work, _ = library(tmp_path)  # v1.2.3 on HEAD, the only release tag
    r = run(work, "-v", "release", "--print-next-version")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    assert r.stderr.splitlines()[1:] == ["$ git tag --list --sort=v:refname 'v[0-9]*'",
                                         "$ git merge-base --is-ancestor 'refs/tags/v1.2.3^{commit}' HEAD &",
                                         "$ git log -z --format=%B v1.2.3..HEAD"]  # no git describe
    commit(work, "feat: b")
    r = run(work, "release", "--print-next-version")
    assert (r.returncode, r.stdout) == (0, "1.3.0\n"), r.stderr


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
    from gitops_tools.git.refusals import Backoff
    from gitops_tools.commands.release import release

    remote, work, _ = library(tmp_path, messages=("fix: a",))
    race = _EndlessRace(tmp_path, remote)
    with pytest.raises(TemporaryError, match=r"push of v1.2.4 still rejected after 3 attempts") as err:
        release(work, backoff=Backoff(attempts=3, deadline=3600.0), today=race.today, sleep=race.sleep)
    assert err.value.exit_code == 75
    assert (race.attempts, len(race.sleeps)) == (3, 2)
    assert git(remote, "tag", "--list") == "v1.2.3\n"


def test_retries_stop_at_the_deadline(tmp_path: Path) -> None:
    from gitops_tools.errors import TemporaryError
    from gitops_tools.git.refusals import Backoff
    from gitops_tools.commands.release import release

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
    # origin is asked which release tags it has before anything is written (then the push would fail the same way)
    assert r.stderr.startswith("error: cannot list the tags of origin (`git ls-remote --tags origin`) before "
                               "releasing v1.2.4: ")
    assert r.stderr.endswith("\nhint: retry later (exit 75); nothing was written\n")
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


# --- release tags that never reached origin ------------------------------------------------------------------

def test_a_tag_made_with_no_push_goes_with_the_next_release(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0  # or a run killed between its tag and its push
    commit(work, "feat: b")

    r = run(work, "release")

    assert r.returncode == 0, r.stderr
    head = git(work, "rev-parse", "HEAD").strip()
    assert r.stdout == (f"lib: 1.2.4 -> 1.3.0 (minor)\ncommitted {head[:12]} and tagged v1.3.0\n"
                        "pushed the commit and v1.2.4, v1.3.0\n")
    assert r.stderr == ("warning: origin did not have the release tag v1.2.4 (made here, never pushed): "
                        "pushed with this release\n")  # got: "" and v1.2.4 never reached origin
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\nv1.3.0\n"
    # the very tag objects made here, on the commits they were made on
    for tag in ("v1.2.4", "v1.3.0"):
        assert git(remote, "rev-parse", tag) == git(work, "rev-parse", tag)
    assert git(remote, "rev-parse", "v1.2.4^{commit}").strip() == git(work, "rev-parse", "HEAD~2").strip()


def test_json_lists_every_tag_pushed(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0
    commit(work, "fix: b")
    assert run(work, "release", "--no-push").returncode == 0  # two releases made here, neither pushed
    commit(work, "feat: c")

    r = run(work, "-o", "json", "release")

    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["tag"], got["pushed"], got["pushed_tags"]) == ("v1.3.0", True, ["v1.2.4", "v1.2.5", "v1.3.0"])
    assert got["warnings"] == ["origin did not have the release tags v1.2.4, v1.2.5 (made here, never pushed): "
                               "pushed with this release"]
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\nv1.2.5\nv1.3.0\n"
    again = run(work, "-o", "json", "release")  # nothing new: nothing pushed, nothing missing
    assert json.loads(again.stdout)["pushed_tags"] == [] and json.loads(again.stdout)["warnings"] == []


def test_a_tag_never_pushed_with_nothing_new_says_how_to_push_it(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0
    before = state(work, remote)

    r = run(work, "release")

    command = "git push --atomic origin HEAD:refs/heads/main refs/tags/v1.2.4"
    assert (r.returncode, r.stdout) == (0, "lib: nothing to release since 1.2.4 (no feat, fix, perf or breaking "
                                           "change)\n")
    assert r.stderr == ("warning: origin does not have the release tag v1.2.4 (made here, never pushed; nothing to "
                        f"release, so nothing was pushed): push it with `{command}`\n")  # got: ""
    assert state(work, remote) == before
    # the command it gives does it
    subprocess.run(command.split(), cwd=work, check=True, capture_output=True)
    assert git(remote, "rev-parse", "v1.2.4^{commit}", "main").split() == [git(work, "rev-parse", "HEAD").strip()] * 2
    r = run(work, "release")
    assert (r.returncode, r.stderr) == (0, "")


def test_origin_is_asked_once_and_only_by_runs_that_push(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0
    commit(work, "feat: b")
    for args in (["--dry-run"], ["--print-next-version"], ["--no-push", "--dry-run"]):
        r = run(work, "-v", "release", *args)
        assert r.returncode == 0, r.stderr
        assert [line for line in r.stderr.splitlines() if not line.startswith("$ git ")] == [], r.stderr
        assert not [line for line in r.stderr.splitlines() if re.match(r"\$ git (ls-remote|fetch|push)", line)]
    r = run(work, "-v", "release")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("$ git ls-remote --tags origin\n") == 1
    assert "$ git push --quiet --atomic origin HEAD:refs/heads/main refs/tags/v1.3.0 refs/tags/v1.2.4\n" in r.stderr


def test_the_tags_are_asked_for_where_origin_pushes(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0
    commit(work, "feat: b")
    git(work, "remote", "set-url", "origin", "http://127.0.0.1:9/fetch-only.git")  # fetching from it would fail
    git(work, "remote", "set-url", "--push", "origin", str(remote))

    r = run(work, "-v", "release")

    assert r.returncode == 0, r.stderr
    assert f"$ git ls-remote --tags {remote}\n" in r.stderr  # where the push goes, not where origin fetches from
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\nv1.3.0\n"


def test_a_never_pushed_tag_on_a_commit_origin_has_goes_with_a_retried_push(tmp_path: Path) -> None:
    from gitops_tools.commands.release import release

    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0
    git(work, "push", "-q", "origin", "main")  # the branch went to origin, the tag did not
    commit(work, "feat: b")
    theirs = push_first(tmp_path, remote, "docs: theirs")  # the first push is rejected
    git(work, "checkout", "-q", "--detach", "HEAD")

    result = release(work, branch="main", sleep=lambda s: None)

    assert (result.next, result.pushed, result.pushed_tags) == ("1.3.0", True, ("v1.2.4", "v1.3.0"))
    # each warning once, though the run planned twice (and asked origin for its tags twice)
    assert result.warnings == (
        "HEAD is detached: the release goes to main",
        "origin did not have the release tag v1.2.4 (made here, never pushed): pushed with this release")
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.2.4\nv1.3.0\n"
    assert git(remote, "log", "--format=%s", "-4", "main").splitlines() == [
        "chore(release): lib 1.3.0", "feat: b", "docs: theirs", "chore(release): lib 1.2.4"]
    assert git(remote, "rev-parse", "main~2").strip() == theirs


def test_a_never_pushed_release_commit_is_not_left_behind_by_a_retry(tmp_path: Path) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    assert run(work, "release", "--no-push").returncode == 0  # commit and tag only here
    feat = commit(work, "feat: b")
    push_first(tmp_path, remote, "docs: theirs")  # origin moved on: a rebase would rewrite the v1.2.4 commit
    tag_commit = git(work, "rev-parse", "v1.2.4^{commit}").strip()
    remote_refs = git(remote, "for-each-ref")

    r = run(work, "release")

    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (
        "error: origin/main moved on, and the release tag v1.2.4 (made here, never pushed) is on a commit it does not "
        "have: putting this branch on top of it would leave that tag behind\n"
        "hint: make that release again on top of origin/main: drop its release commit and tag "
        "(`git rebase --onto v1.2.4~1 v1.2.4 && git tag -d v1.2.4`), then release again; "
        "the release commit and tag v1.3.0 were undone in this checkout\n")
    # this run's release undone, the branch not rebased, the old tag where it was, origin untouched
    assert git(work, "rev-parse", "HEAD").strip() == feat
    assert git(work, "rev-parse", "v1.2.4^{commit}").strip() == tag_commit
    assert git(work, "tag", "--list") == "v1.2.3\nv1.2.4\n"
    assert git(remote, "for-each-ref") == remote_refs
    # the fix it gives works
    subprocess.run(["sh", "-c", "git rebase --onto v1.2.4~1 v1.2.4 && git tag -d v1.2.4"], cwd=work, check=True,
                   capture_output=True)
    r = run(work, "release")
    assert r.returncode == 0, r.stderr
    assert git(remote, "tag", "--list") == "v1.2.3\nv1.3.0\n"
    assert git(remote, "log", "--format=%s", "-4", "main").splitlines() == [
        "chore(release): lib 1.3.0", "feat: b", "docs: theirs", "fix: a"]


# --- --explain and --prerelease only read, or refuse before anything runs -----------------------------------

def test_explain_writes_commits_tags_fetches_and_pushes_nothing(tmp_path: Path) -> None:
    from gitops_tools.commands.release import release

    remote, work, _ = library(tmp_path, messages=("feat: a", "docs: b"))
    no_tags = tmp_path / "no-tags"
    git(tmp_path, "clone", "-q", "--no-tags", str(remote), str(no_tags))
    git(no_tags, "checkout", "-q", "--detach", "HEAD")  # and no --branch: it pushes nothing, so it needs none
    for checkout in (work, no_tags):
        before = state(checkout, remote)

        result = release(checkout, explain=True)  # got: committed, tagged and pushed v1.3.0

        assert state(checkout, remote) == before
        assert (result.commit, result.pushed, result.pushed_tags) == (None, False, ())
        assert [(d.subject, d.level) for d in result.decisions][:2] == [("docs: b", "none"), ("feat: a", "minor")]
    assert release(work, explain=True).next == "1.3.0"
    assert git(no_tags, "tag", "--list") == ""  # no fetch either


BAD_TOKENS = ["rc 1", "", "rc..1", "01", "rc.01", ".rc", "rc.", "rc+1", "rc_1", "rc/1", "ré"]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_bad_prerelease_token_is_refused_before_git_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          token: str) -> None:
    from gitops_tools.errors import GitopsError
    from gitops_tools.git.repo import Git
    from gitops_tools.commands.release import release

    remote, work, _ = library(tmp_path, messages=("feat: a",))
    before = state(work, remote)

    def no_git(*args: object, **kwargs: object) -> str:
        raise AssertionError("git ran")

    with monkeypatch.context() as m:
        m.setattr(Git, "_execute", no_git)
        with pytest.raises(GitopsError) as err:
            release(work, prerelease=token)
    assert type(err.value) is GitopsError and err.value.exit_code == 1
    assert str(err.value) == (
        f"--prerelease {token!r} is not a pre-release identifier: dot-separated parts of ASCII letters, digits and "
        "hyphens, none empty, numbers without a leading zero\n"
        "hint: use a token such as rc, beta or alpha (the release is X.Y.Z-TOKEN.N); nothing was run")
    r = run(work, "release", "--prerelease", token)  # got for '': a final release; for 'rc 1': exit 3
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"error: {err.value}\n"
    assert state(work, remote) == before


@pytest.mark.parametrize("token, version", [("rc", "1.3.0-rc.1"), ("beta.2", "1.3.0-beta.2.1"),
                                            ("alpha-x", "1.3.0-alpha-x.1"), ("0", "1.3.0-0.1"), ("-", "1.3.0--.1")])
def test_valid_prerelease_tokens(tmp_path: Path, token: str, version: str) -> None:
    remote, work, _ = library(tmp_path, messages=("feat: a",))
    r = run(work, "release", "--prerelease", token, "--print-next-version")
    assert (r.returncode, r.stdout, r.stderr) == (0, version + "\n", "")


# --- release writes only inside the repository ---------------------------------------------------------------

def outside_dir(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "CHANGELOG.md").write_text("# Not this repository's\n")
    (outside / "mod.py").write_text('__version__ = "1.2.3"\n')
    return outside


def escape_cases(tmp_path: Path) -> list[tuple[str, dict[str, str], dict[str, str], str]]:
    """(id, pyproject additions, symlinks to make (name -> target), the error's first line)."""
    out = tmp_path / "outside"
    return [
        ("changelog through a symlinked directory", {"changelog": "docs/CHANGELOG.md"}, {"docs": str(out)},
         f"error: pyproject.toml: tool.gitops-tools.release.changelog: changelog 'docs/CHANGELOG.md' resolves to "
         f"{out}/CHANGELOG.md, outside the repository (a symbolic link leads out of it)"),
        ("changelog a symlink to a file outside", {}, {"CHANGELOG.md": str(out / "CHANGELOG.md")},
         f"error: pyproject.toml: tool.gitops-tools.release.changelog: changelog 'CHANGELOG.md' resolves to "
         f"{out}/CHANGELOG.md, outside the repository (a symbolic link leads out of it)"),
        ("changelog a dangling symlink out", {"changelog": "docs/NEW.md"}, {"docs": str(out / "missing")},
         f"error: pyproject.toml: tool.gitops-tools.release.changelog: changelog 'docs/NEW.md' resolves to "
         f"{out}/missing/NEW.md, outside the repository (a symbolic link leads out of it)"),
        ("changelog with ..", {"changelog": "../outside/CHANGELOG.md"}, {},
         "error: pyproject.toml: tool.gitops-tools.release.changelog: changelog '../outside/CHANGELOG.md' is outside "
         "the repository (.. leads out of it)"),
        ("changelog absolute", {"changelog": str(out / "CHANGELOG.md")}, {},
         f"error: pyproject.toml: tool.gitops-tools.release.changelog: changelog '{out}/CHANGELOG.md' is an "
         "absolute path: release writes only inside the repository"),
        ("changelog into .git", {"changelog": ".git/CHANGELOG.md"}, {},
         "error: pyproject.toml: tool.gitops-tools.release.changelog: changelog '.git/CHANGELOG.md' resolves to "
         "{work}/.git/CHANGELOG.md, which is not a file of the working tree"),
        ("version file through a symlink", {"version_files": "src/lib/__init__.py", "+version_files": "ext/mod.py"},
         {"ext": str(out)},
         f"error: pyproject.toml: tool.gitops-tools.release.version_files: version_files 'ext/mod.py' resolves to "
         f"{out}/mod.py, outside the repository (a symbolic link leads out of it)"),
        ("version file with ..", {"+version_files": "../outside/mod.py"}, {},
         "error: pyproject.toml: tool.gitops-tools.release.version_files: version_files '../outside/mod.py' is "
         "outside the repository (.. leads out of it)"),
        ("version file absolute", {"+version_files": str(out / "mod.py")}, {},
         f"error: pyproject.toml: tool.gitops-tools.release.version_files: version_files '{out}/mod.py' is an "
         "absolute path: release writes only inside the repository"),
    ]


ESCAPE_IDS = [c[0] for c in escape_cases(Path("/x"))]


@pytest.mark.parametrize("case", range(len(ESCAPE_IDS)), ids=ESCAPE_IDS)
def test_release_writes_nothing_outside_the_repository(tmp_path: Path, case: int) -> None:
    outside = outside_dir(tmp_path)
    name, settings, links, message = escape_cases(tmp_path)[case]
    extra = ""
    if "changelog" in settings:
        extra += f'changelog = "{settings["changelog"]}"\n'
    pyproject = PYPROJECT + extra
    if "+version_files" in settings:
        pyproject = pyproject.replace('version_files = ["src/lib/__init__.py"]',
                                      f'version_files = ["src/lib/__init__.py", "{settings["+version_files"]}"]')
    files = {**LIBRARY, "pyproject.toml": pyproject}
    if "CHANGELOG.md" in links:
        del files["CHANGELOG.md"]
    seed = make_checkout(tmp_path / "seed", {k: v for k, v in files.items()})
    for link, target in links.items():
        (seed / link).symlink_to(target)
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "links", "--allow-empty")
    git(seed, "tag", "-a", "v1.2.3", "-m", "1.2.3")
    commit(seed, "fix: a")
    remote, work = publish(tmp_path, seed)
    outside_before = tree_bytes(outside)
    before = state(work, remote)

    for args in ([], ["--dry-run"]):  # a dry run finds it too
        r = run(work, "release", *args)
        assert (r.returncode, r.stdout) == (1, ""), r.stderr
        assert r.stderr.splitlines()[0] == message.format(work=work)
        assert r.stderr.splitlines()[1].startswith("hint: give ")
        assert r.stderr.splitlines()[1].endswith(" that stays inside the repository: no absolute path, no .. out of "
                                                 "it, no symbolic link out of it; nothing was written")
    assert tree_bytes(outside) == outside_before  # got: the outside CHANGELOG.md had the new section
    assert state(work, remote) == before


def test_the_library_pyproject_a_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    outside = outside_dir(tmp_path)
    (outside / "pyproject.toml").write_text('[project]\nname = "lib"\nversion = "1.2.3"\n')
    seed = make_checkout(tmp_path / "seed", {"README.md": "x\n"})
    (seed / "lib").mkdir()
    (seed / "lib" / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "lib")
    commit(seed, "fix: a", {"lib/a.py": "A = 1\n"})
    remote, work = publish(tmp_path, seed)
    outside_before, before = tree_bytes(outside), state(work, remote)

    r = run(work, "release", "lib")

    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (
        f"error: lib/pyproject.toml: resolves to {outside}/pyproject.toml, outside the repository (a symbolic link "
        "leads out of it)\nhint: release writes the version into it: keep the library's pyproject.toml in the "
        "repository; nothing was written\n")
    assert tree_bytes(outside) == outside_before
    assert state(work, remote) == before


def test_a_symlink_inside_the_repository_is_followed_and_kept(tmp_path: Path) -> None:
    files = {**LIBRARY, "docs/CHANGELOG.md": CHANGELOG}
    del files["CHANGELOG.md"]
    seed = make_checkout(tmp_path / "seed", files)
    (seed / "CHANGELOG.md").symlink_to("docs/CHANGELOG.md")  # the changelog lives in docs/, linked at the root
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "link")
    git(seed, "tag", "-a", "v1.2.3", "-m", "1.2.3")
    commit(seed, "fix: a")
    remote, work = publish(tmp_path, seed)

    r = run(work, "-o", "json", "release")

    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] == ["pyproject.toml", "src/lib/__init__.py", "docs/CHANGELOG.md"]
    assert os.readlink(work / "CHANGELOG.md") == "docs/CHANGELOG.md"  # got: replaced by a regular file
    assert (work / "docs/CHANGELOG.md").read_text().startswith("# Changelog\n\nAll notable changes.\n\n## lib 1.2.4")
    assert git(remote, "diff", "--name-only", "main~1", "main").splitlines() == [
        "docs/CHANGELOG.md", "pyproject.toml", "src/lib/__init__.py"]
    assert git(work, "status", "--porcelain") == ""


def test_dotdot_that_stays_inside_the_repository_is_fine(tmp_path: Path) -> None:
    remote, work, s = monorepo(tmp_path, 'changelog = "../../CHANGES-a.md"\n')
    r = run(work, "-o", "json", "release", "libs/a")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] == ["libs/a/pyproject.toml", "CHANGES-a.md"]
    assert (work / "CHANGES-a.md").read_text().startswith("# Changelog\n")


@pytest.mark.parametrize("setting, message", [
    ('version_files = "src/lib/__init__.py"',
     "error: pyproject.toml: tool.gitops-tools.release.version_files: version_files is 'src/lib/__init__.py', not a "
     "list of paths"),
    ("changelog = 5", "error: pyproject.toml: tool.gitops-tools.release.changelog: changelog is 5, not a path"),
])
def test_file_settings_of_the_wrong_type_are_refused(tmp_path: Path, setting: str, message: str) -> None:
    pyproject = PYPROJECT.replace('version_files = ["src/lib/__init__.py"]', setting)
    remote, work, _ = library(tmp_path, {**LIBRARY, "pyproject.toml": pyproject}, messages=("fix: a",))
    before = state(work, remote)
    r = run(work, "release")
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    assert r.stderr.splitlines()[0] == message  # got for the string: one "version file" per character
    assert state(work, remote) == before


# --- the last tag missing here -------------------------------------------------------------------------------

@pytest.mark.parametrize("on_top", [False, True], ids=["HEAD is the release commit", "commits on top"])
def test_a_release_tag_missing_here_says_to_fetch_the_tags(tmp_path: Path, on_top: bool) -> None:
    remote, work, _ = library(tmp_path, messages=("fix: a",))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    assert run(other, "release").returncode == 0  # released elsewhere: v1.2.4 is on origin
    git(work, "fetch", "-q", "--no-tags", "origin")  # this clone is updated without the tags
    git(work, "merge", "-q", "--ff-only", "origin/main")
    if on_top:
        commit(work, "fix: more")
    assert git(work, "tag", "--list") == "v1.2.3\n"
    before = state(work, remote)

    r = run(work, "release")

    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (  # got: "HEAD is the release commit of an interrupted run ... git reset --keep HEAD~1"
        "error: pyproject.toml: project.version: version 1.2.4 disagrees with the last tag v1.2.3\n"
        "hint: there is no tag v1.2.4 here (a clone or fetch without tags?): run `git fetch --tags origin`, then run "
        "again (if origin has no v1.2.4 either, make the version agree with v1.2.3); nothing was written\n")
    assert state(work, remote) == before
    git(work, "fetch", "-q", "--tags", "origin")
    r = run(work, "release")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == ("lib: 1.2.4 -> 1.2.5 (patch)" if on_top else
                                        "lib: nothing to release since 1.2.4 (no feat, fix, perf or breaking change)")
