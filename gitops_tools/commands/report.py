"""``report``: the status matrix, the history and the delivery measures as one static page (and as data).

The edge: reads the tree and its git (history, and the merge request branches not merged yet), hands them to the
pure core (:mod:`gitops_tools.core.report`), and writes the page the templates make of it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from gitops_tools.commands.reading import env_images, git_of, repository, stream_history
from gitops_tools.commands.workspace import Workspace
from gitops_tools.core.envstate import matrix
from gitops_tools.core.history import Event, events
from gitops_tools.core.report import Report, build
from gitops_tools.errors import GitopsError
from gitops_tools.files import write_all

#: The branches gitops-tools pushes for a merge request (``gitops/<env>/…``), local or fetched.
REQUEST_REFS = ("refs/heads/gitops/", "refs/remotes/*/gitops/")


class ReportResult(NamedTuple):
    report: Report
    files: tuple[str, ...]  # what was written (index.html, report.json), as given to --out

    def as_dict(self) -> dict[str, object]:
        return {**self.report.as_dict(), "files": list(self.files)}


def report(cwd: Path, repo_dir: Path | None, out: Path | None, weeks: int = 12,
           now: datetime.datetime | None = None, verbose: bool = False) -> ReportResult:
    if weeks < 0 or weeks > 520:
        raise GitopsError(f"--weeks {weeks}: out of range", fix="give 0 to 520 weeks of measures")
    ws = repository(cwd, repo_dir, verbose)
    envs = ws.config.environments
    m = matrix([env_images(ws, e.name) for e in envs], ())
    paths = {e.name: e.path for e in envs}
    found = events(stream_history(ws, sorted(paths.values())), paths)
    when = now or datetime.datetime.now(datetime.timezone.utc)
    data = build(m, found, open_requests(ws, paths), ws.config.repo_url, when, weeks)
    files: tuple[str, ...] = ()
    if out is not None:
        from gitops_tools.page import render

        page = render(data)  # before anything is written: a template error leaves the directory as it was
        import json

        if out.exists() and not out.is_dir():
            raise GitopsError(f"{out}: exists and is not a directory", fix="give --out a directory (it is created)")
        out.mkdir(parents=True, exist_ok=True)
        written = {out / "index.html": page,
                   out / "report.json": json.dumps(data.as_dict(), indent=2, ensure_ascii=False) + "\n"}
        write_all(written)
        import os

        umask = os.umask(0)
        os.umask(umask)
        for path in written:  # for a web server to publish: readable as any new file of this user
            os.chmod(path, 0o666 & ~umask)
        files = tuple(str(path) for path in written)
    return ReportResult(data, files)


def open_requests(ws: Workspace, paths: Mapping[str, str]) -> list[Event]:
    """The changes on merge request branches (``gitops/…``, local or fetched) that HEAD does not have yet, newest
    first, each commit once."""
    if not ws.in_checkout:
        return []
    git = git_of(ws)
    listed = git.run("for-each-ref", "--no-merged=HEAD", "--sort=-committerdate", "--format=%(refname)",
                     *REQUEST_REFS)
    seen: set[str] = set()  # a branch and its fetched copy hold the same commits
    found: list[Event] = []
    for ref in listed.splitlines():
        new = [ev for ev in events(git.iter_log(f"HEAD..{ref}", paths=sorted(paths.values())), paths)
               if ev.commit not in seen and ev.action != "manual"]
        found += new
        seen.update(ev.commit for ev in new)
    return found
