"""Commands load only what they use: `--version` and `--help` import no YAML, TOML or version library and run no
git; an edit without a commit runs no git; a release that only reads does not load the TOML writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("yaml", "ruamel", "semver", "tomlkit", "filelock", "difflib", "subprocess", "git", "gitops_tools.git.repo")


def imported_modules(*args: str, cwd: Path | None = None) -> set[str]:
    code = (
        "import sys\n"
        "from gitops_tools.cli import main\n"
        "try:\n"  # with its arguments given, main() raises SystemExit instead of ending the process
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=60)
    names = set(r.stderr.splitlines())
    return names | {name.split(".")[0] for name in names}


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("image", "set", "--help")])
def test_help_and_version_stay_light(args: tuple[str, ...]) -> None:
    loaded = imported_modules(*args)
    assert "click" in loaded
    assert sorted(set(HEAVY) & loaded) == []


def test_version_output() -> None:
    from gitops_tools import __version__

    r = subprocess.run([sys.executable, "-m", "gitops_tools", "--version"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, f"gitops-tools {__version__}\n")


def test_edit_without_commit_does_not_load_git(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("images:\n  - name: a/b\n    newTag: v1\n")
    loaded = imported_modules("image", "set", ".", "a/b:v2", cwd=tmp_path)
    # GitPython (top-level package `git`) is not loaded: an edit outside a checkout runs no git
    assert "yaml" in loaded and "git" not in loaded and "ruamel" not in loaded
    assert (tmp_path / "kustomization.yaml").read_text() == "images:\n  - name: a/b\n    newTag: v2\n"


def test_release_that_only_reads_loads_no_toml_writer_and_no_yaml(git_repo: Any) -> None:
    work = Path(git_repo.workspace)  # pytest-git: a fresh repository in a throwaway directory
    (work / "pyproject.toml").write_text('[project]\nname = "lib"\nversion = "1.0.0"\n')
    subprocess.run(["git", "add", "."], cwd=work, check=True)
    subprocess.run(["git", "commit", "-qm", "feat: first"], cwd=work, check=True)
    r = subprocess.run([sys.executable, "-m", "gitops_tools", "release", "--print-next-version"], cwd=work,
                       capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "1.1.0\n"), r.stderr
    loaded = imported_modules("release", "--print-next-version", cwd=work)
    assert "gitops_tools.commands.release" in loaded and "semver" in loaded
    assert sorted({"tomlkit", "yaml", "ruamel", "filelock", "gitops_tools.core.kustomize"} & loaded) == []


def test_validate_does_not_load_gitpython() -> None:
    """validate reads branch and tag names from the checkout's files: GitPython stays out of it."""
    from tests.conftest import ROOT, kubectl

    kubectl()
    loaded = imported_modules("validate", cwd=ROOT)
    assert "gitops_tools.commands.validate" in loaded and "git" not in loaded


def test_a_bump_in_a_checkout_commits_without_loading_gitpython_or_filelock(tmp_path: Path) -> None:
    """`git status` and `git commit` run as plain processes and HEAD is read from the refs: GitPython's import
    (about a fifth of the run) is not paid; the tree's lock, held by nobody else, is one flock call (filelock is
    for waiting)."""
    from tests.conftest import git, make_checkout

    root = make_checkout(tmp_path / "repo", {
        "gitops-tools.yaml": "environments:\n  - name: dev\n",
        "environments/dev/kustomization.yaml": "images:\n  - name: a/b\n    newTag: v1\n",
    })
    loaded = imported_modules("image", "set", "dev", "a/b=*:v2", cwd=root)
    assert "gitops_tools.git.repo" in loaded and "gitops_tools.locks" in loaded
    # nor the reader of commit trailers: a bump writes them, reads none
    assert sorted({"git", "filelock", "gitops_tools.core.history"} & loaded) == []
    assert git(root, "log", "-1", "--format=%s").strip().startswith("chore(dev)")
    assert git(root, "status", "--porcelain").strip() == ""


def test_status_and_diff_read_the_tree_without_the_git_edge_or_the_trailers_reader(tmp_path: Path) -> None:
    """What runs where is in the files: even in a checkout, status and diff load neither the git edge, nor the
    reader of commit trailers (history's), nor what edits files; and they print what the files say."""
    from tests.conftest import make_checkout

    root = make_checkout(tmp_path / "repo", {
        "gitops-tools.yaml": "environments:\n  - name: dev\n  - name: prod\n",
        "environments/dev/kustomization.yaml": "images:\n  - name: a/b\n    newTag: v2\n",
        "environments/prod/kustomization.yaml": "images:\n  - name: a/b\n    newTag: v1\n",
    })
    for args in (("status",), ("diff", "dev", "prod")):
        loaded = imported_modules(*args, cwd=root)
        assert "gitops_tools.cli.seeing" in loaded and "yaml" in loaded, args
        assert sorted({"git", "gitops_tools.git.repo", "gitops_tools.core.history", "gitops_tools.core.yamledit",
                       "gitops_tools.core.changes"} & loaded) == [], args  # nor the splicer of an edit
    r = subprocess.run([sys.executable, "-m", "gitops_tools", "diff", "dev", "prod"], cwd=root, capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout.split()) == (0, ["IMAGE", "dev", "prod", "a/b", "v2", "v1"]), r.stderr


def test_a_command_imports_its_own_module_of_the_cli_and_no_other(tmp_path: Path) -> None:
    """The commands' modules are imported on demand: `image set` does not pay for the release commands' imports,
    nor `release` for the image commands'."""
    from gitops_tools.cli.base import COMMANDS

    (tmp_path / "kustomization.yaml").write_text("images:\n  - name: a/b\n    newTag: v1\n")
    loaded = imported_modules("image", "set", ".", "a/b:v2", cwd=tmp_path)
    assert sorted(m for m in loaded if m.startswith("gitops_tools.cli.")) == ["gitops_tools.cli.base",
                                                                             "gitops_tools.cli.images"]
    loaded = imported_modules("release", "--help")
    assert sorted(m for m in loaded if m.startswith("gitops_tools.cli.")) == ["gitops_tools.cli.base",
                                                                             "gitops_tools.cli.releasing"]
    # and every command named in COMMANDS is the one its module defines; --help lists them all
    loaded = imported_modules("--help")
    assert {f"gitops_tools.cli.{m}" for m in COMMANDS.values()} <= loaded
    from gitops_tools.cli import cli

    listed = cli.list_commands(None)  # type: ignore[arg-type]
    assert listed == sorted(COMMANDS) and all(cli.get_command(None, n) is not None for n in listed)  # type: ignore[arg-type]


def test_the_command_process_runs_without_the_cycle_collector_and_a_caller_keeps_its_own() -> None:
    """`gitops-tools` as a process of its own switches Python's cycle collector off (a command is short-lived and
    leaves a few hundred objects in cycles); a program calling main() with arguments in its own process keeps
    the collector as it was."""
    probe = (
        "import gc, sys\n"
        "import gitops_tools.cli as cli\n"
        "def leave(code):\n"  # the process's last step: report the collector's state instead of exiting at once
        "    print('collector on' if gc.isenabled() else 'collector off', flush=True)\n"
        "    sys.exit(code)\n"
        "cli._leave = leave\n"
        "if sys.argv.pop(1) == 'process':\n"
        "    cli.main()\n"
        "try:\n"
        "    cli.main(['--version'])\n"
        "except SystemExit:\n"
        "    print('collector on' if gc.isenabled() else 'collector off')\n"
    )
    own = subprocess.run([sys.executable, "-c", probe, "process", "--version"], capture_output=True, text=True,
                         timeout=60)
    caller = subprocess.run([sys.executable, "-c", probe, "caller"], capture_output=True, text=True, timeout=60)
    from gitops_tools import __version__

    assert (own.returncode, own.stdout) == (0, f"gitops-tools {__version__}\ncollector off\n"), own.stderr
    assert (caller.returncode, caller.stdout) == (0, f"gitops-tools {__version__}\ncollector on\n"), caller.stderr


def test_the_command_switches_the_collector_off_before_it_imports_the_command_line() -> None:
    """The console script (and `python -m gitops_tools`) runs gitops_tools.__main__.run: the collector is off
    before click and the commands are imported, not only once they are."""
    import tomlkit

    from tests.conftest import ROOT

    scripts = tomlkit.parse((ROOT / "pyproject.toml").read_text())["project"]["scripts"]  # type: ignore[index]
    assert dict(scripts) == {"gitops-tools": "gitops_tools.__main__:run"}  # type: ignore[call-overload]
    probe = (
        "import gc, sys\n"
        "real = gc.disable\n"
        "def disable():\n"
        "    print('click imported' if 'click' in sys.modules else 'click not imported yet', flush=True)\n"
        "    real()\n"
        "gc.disable = disable\n"
        "from gitops_tools.__main__ import run\n"
        "run()\n"
    )
    r = subprocess.run([sys.executable, "-c", probe, "--version"], capture_output=True, text=True, timeout=60)
    from gitops_tools import __version__

    assert (r.returncode, r.stdout.splitlines()) == (0, ["click not imported yet", "click imported",
                                                         f"gitops-tools {__version__}"]), r.stderr
