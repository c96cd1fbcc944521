"""HEAD read from the files of a real repository (gitops_tools/git/refs.py: head_commit), as git itself answers,
and ``Git.head`` asking git wherever the files do not say."""

from __future__ import annotations

from pathlib import Path

from gitops_tools.git.refs import head_commit
from gitops_tools.git.repo import Git
from tests.conftest import git, make_checkout


def rev_parse(root: Path, rev: str = "HEAD") -> str:
    return git(root, "rev-parse", rev).strip()


def test_a_branch_as_a_loose_ref_packed_and_detached(tmp_path: Path) -> None:
    root = make_checkout(tmp_path / "repo", {"a.txt": "a\n"})
    assert head_commit(root) == rev_parse(root)
    git(root, "pack-refs", "--all")  # the branch now lives in packed-refs only
    assert not (root / ".git/refs/heads/main").exists()
    assert head_commit(root) == rev_parse(root)
    (root / "a.txt").write_text("b\n")
    git(root, "commit", "-qam", "second")  # a new loose ref beside the packed one: the loose one wins
    assert head_commit(root) == rev_parse(root) != rev_parse(root, "HEAD~1")
    git(root, "checkout", "-q", "--detach", "HEAD~1")
    assert head_commit(root) == rev_parse(root)
    assert Git(root).head() == rev_parse(root)


def test_a_worktree_reads_its_own_head_and_the_shared_branches(tmp_path: Path) -> None:
    root = make_checkout(tmp_path / "repo", {"a.txt": "a\n"})
    git(root, "branch", "side")
    git(root, "worktree", "add", "-q", str(tmp_path / "wt"), "side")
    wt = tmp_path / "wt"
    (wt / "a.txt").write_text("side\n")
    git(wt, "commit", "-qam", "on side")
    assert head_commit(wt) == rev_parse(wt) != rev_parse(root)
    assert head_commit(root) == rev_parse(root)


def test_where_the_files_do_not_say_git_is_asked(tmp_path: Path) -> None:
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    git(unborn, "init", "-q", "-b", "main")
    assert head_commit(unborn) is None
    assert Git(unborn).head() is None  # git agrees: no commit yet
    assert head_commit(tmp_path / "not-a-repository") is None
    root = make_checkout(tmp_path / "repo", {"a.txt": "a\n"})
    sha = rev_parse(root)
    (root / "elsewhere").write_text(sha + "\n")
    (root / ".git/HEAD").write_text("ref: refs/heads/../../elsewhere\n")  # never a file outside the refs
    assert head_commit(root) is None
    (root / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git/refs/heads/main").write_text("not an object id\n")
    assert head_commit(root) is None
