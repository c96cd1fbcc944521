"""Branch and tag names and remote URLs of a checkout, read from its files without running git.

``validate`` needs only these two lists, and must stay light (it does not load GitPython): loose refs under
``.git/refs`` and ``.git/packed-refs`` give the names; the ``url`` lines of ``[remote "…"]`` sections of
``.git/config`` give the URLs (an ``[include]`` is not followed: a URL only found there is not known).
"""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r'^\s*\[\s*([^\]\s"]+)(?:\s+"([^"]*)")?\s*\]')
_URL = re.compile(r"^\s*(?:url|pushurl)\s*=\s*(.+?)\s*$", re.IGNORECASE)


def git_dir(root: Path) -> Path:
    """The ``.git`` directory of the checkout at ``root`` (a worktree's or submodule's ``gitdir:`` followed)."""
    dot = root / ".git"
    if dot.is_file():
        text = dot.read_text().strip()
        if text.startswith("gitdir:"):
            return (root / text.split(":", 1)[1].strip()).resolve()
    return dot


def _common_dir(git_dir: Path) -> Path:
    """A worktree keeps its refs in the main repository (``commondir``)."""
    common = git_dir / "commondir"
    return (git_dir / common.read_text().strip()).resolve() if common.is_file() else git_dir


def revisions(root: Path) -> set[str]:
    """Every branch and tag name, and the branch names of the remote-tracking branches (``origin/main`` counts
    as ``main``): what an Argo CD ``targetRevision`` may name."""
    base = _common_dir(git_dir(root))
    refs: set[str] = set()
    for kind in ("heads", "tags", "remotes"):
        folder = base / "refs" / kind
        if folder.is_dir():
            refs.update(f"refs/{kind}/" + p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    packed = base / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("refs/"):
                refs.add(parts[1])
    names = set()
    for ref in refs:
        parts = ref.split("/")
        if parts[1] in ("heads", "tags"):
            names.add("/".join(parts[2:]))
        elif parts[1] == "remotes" and len(parts) > 3:
            names.add("/".join(parts[3:]))
    return names


def remote_urls(root: Path) -> set[str]:
    """The fetch and push URLs of every remote, as written in ``.git/config``."""
    config = _common_dir(git_dir(root)) / "config"
    urls: set[str] = set()
    if not config.is_file():
        return urls
    in_remote = False
    for line in config.read_text(errors="replace").splitlines():
        section = _SECTION.match(line)
        if section:
            in_remote = section.group(1).lower() == "remote"
            continue
        url = _URL.match(line) if in_remote else None
        if url:
            urls.add(url.group(1).strip('"'))
    return urls


_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def head_commit(root: Path) -> str | None:
    """The object HEAD names, read from ``.git`` without a process: a detached HEAD, or the branch it points to
    as a loose ref or in ``packed-refs``. None when the files do not say (an unborn branch, the reftable format,
    a symbolic chain, anything unusual): the caller asks git."""
    try:
        gdir = git_dir(root)
        head = (gdir / "HEAD").read_text().strip()
        if _SHA.fullmatch(head):
            return head
        if not head.startswith("ref: refs/"):
            return None
        ref = head[5:].strip()
        if any(part in ("", ".", "..") for part in ref.split("/")):
            return None  # git refuses such a name; never a file outside the refs
        for base in dict.fromkeys((gdir, _common_dir(gdir))):  # a worktree's own refs first, then the shared
            loose = base / ref
            if loose.is_file():
                value = loose.read_text().strip()
                return value if _SHA.fullmatch(value) else None
        packed = _common_dir(gdir) / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref and _SHA.fullmatch(sha):
                    return sha
    except (OSError, UnicodeDecodeError):
        return None
    return None
