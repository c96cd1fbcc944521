"""``publish``: upload a library's wheel and sdist to a package index once, and never other bytes under a version.

1. The files: a directory (``dist``, what ``python -m build`` wrote) or the files named; each must be a wheel or
   an sdist, all of one project and one version (their names say which, read by :mod:`gitops_tools.core.simpleindex`).
2. The index is asked what it has of that version (:func:`gitops_tools.pyindex.index_files`). A file already
   there with the same sha256 is skipped; one there with other bytes stops everything (a version is published
   once: release a new one). Everything there: nothing to publish, exit 0, so a pipeline run again for a
   release tag passes.
3. The rest is uploaded by twine (``python -m twine upload --non-interactive``), the credentials only in its
   environment (``TWINE_USERNAME``/``TWINE_PASSWORD``, from ``CI_JOB_TOKEN`` as ``gitlab-ci-token`` when those are
   not set), its output masked of them.
4. The index is asked again, and the result says what it now has.

A refused token is an error (exit 1) naming the variables it came from; an index or upload URL that does not
answer, or answers 5xx, is a TemporaryError (exit 75).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitops_tools.core.redact import mask
from gitops_tools.core.simpleindex import Credentials, IndexFile, check_url, credentials, dist_file
from gitops_tools.errors import GitopsError, TemporaryError

INSTALL_TWINE = "pip install 'gitops-tools[publish]'"
UPLOAD_TIMEOUT = 1800  # seconds for the whole twine run

Outcome = Literal["uploaded", "skipped"]


@dataclass(frozen=True)
class PublishedFile:
    """One file given to ``publish``: ``uploaded`` now, or ``skipped`` (the index already had these bytes)."""

    filename: str
    sha256: str
    outcome: Outcome

    def as_dict(self) -> dict[str, object]:
        return {"filename": self.filename, "sha256": self.sha256, "outcome": self.outcome}


@dataclass(frozen=True)
class PublishResult:
    """What ``publish`` did: the project and version, where to, each file's outcome, and the files of that
    version the index lists afterwards (``on_index``)."""

    project: str
    version: str
    repository_url: str
    index_url: str
    files: tuple[PublishedFile, ...]
    on_index: tuple[IndexFile, ...]
    warnings: tuple[str, ...] = ()

    @property
    def uploaded(self) -> tuple[str, ...]:
        return tuple(f.filename for f in self.files if f.outcome == "uploaded")

    @property
    def skipped(self) -> tuple[str, ...]:
        return tuple(f.filename for f in self.files if f.outcome == "skipped")

    @property
    def published(self) -> bool:
        """True when something was uploaded (False: it was all there already)."""
        return bool(self.uploaded)

    def as_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "version": self.version,
            "repository_url": self.repository_url,
            "index_url": self.index_url,
            "published": self.published,
            "files": [f.as_dict() for f in self.files],
            "on_index": [{"filename": f.filename, "version": f.version, "sha256": f.sha256} for f in self.on_index],
            "warnings": list(self.warnings),
        }


def default_index_url(repository_url: str) -> str:
    """``<repository-url>/simple/``: where GitLab's package registry (``…/packages/pypi``) and pypiserver (its
    root) list what was uploaded to them."""
    return repository_url.rstrip("/") + "/simple/"


def distributions(paths: Sequence[Path], base: Path) -> tuple[tuple[Path, ...], str, str]:
    """The files to publish (directories expanded, hidden files left out), their project and version."""
    files: list[Path] = []
    for given in paths or (Path("dist"),):
        path = given if given.is_absolute() else base / given
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not found:
                raise GitopsError(f"{given}: no wheel or sdist in it",
                                  fix="build them first: python -m build --outdir dist")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise GitopsError(f"{given}: no such file or directory",
                              fix="build them first (python -m build --outdir dist), or give the directory they "
                                  "are in")
    names: dict[tuple[str, str], list[str]] = {}
    for f in files:
        d = dist_file(f.name)
        names.setdefault((d.project, d.version), []).append(f.name)
    if len(names) > 1:
        listed = "; ".join(f"{p} {v}: {', '.join(n)}" for (p, v), n in sorted(names.items()))
        raise GitopsError(f"the files are not all one project and one version ({listed})",
                          fix="publish one release at a time: clean the directory (rm -rf dist) and build again")
    (project, version), = names
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen and seen[f.name].resolve() != f.resolve():
            raise GitopsError(f"{f.name} is given twice, from {seen[f.name].parent} and {f.parent}")
        seen[f.name] = f
    return tuple(seen.values()), project, version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _of_version(found: Sequence[IndexFile], version: str) -> dict[str, IndexFile]:
    from packaging.version import InvalidVersion, Version

    def same(v: str) -> bool:
        try:
            return Version(v) == Version(version)
        except InvalidVersion:
            return v == version

    return {f.filename: f for f in found if same(f.version)}


def _conflicts(local: Mapping[str, str], there: Mapping[str, IndexFile], links: Mapping[str, str],
               paths: Mapping[str, Path], index_url: str, project: str, version: str, env: Mapping[str, str],
               timeout: float) -> tuple[str, ...]:
    """Refuse a file the index has with other bytes, unless it is a rebuild of the same source (the same members
    with the same contents, only timestamps and order differ: the pipeline of a tag run again builds anew);
    those are returned, to be skipped."""
    from gitops_tools.core.simpleindex import same_contents
    from gitops_tools.pyindex import download

    rebuilt: list[str] = []
    for name, digest in local.items():
        other = there.get(name)
        if other is not None and other.sha256 is not None and other.sha256 != digest:
            link = links.get(name)
            if link is not None and same_contents(paths[name].read_bytes(),
                                                  download(index_url, link, env, timeout=max(timeout, 60.0)), name):
                rebuilt.append(name)
                continue
            raise GitopsError(
                f"{name} is already on {index_url} with other bytes (sha256 {other.sha256[:12]}… there, "
                f"{digest[:12]}… here): {project} {version} was published from another build, and a version is "
                "never published again with other contents",
                fix="release a new version (gitops-tools release), or publish the files that were published")
    return tuple(rebuilt)


def publish(paths: Sequence[Path], repository_url: str, index_url: str | None, env: Mapping[str, str], *,
            base: Path, timeout: float = 10.0, verbose: bool = False,
            echo: Callable[[str], None] | None = None) -> PublishResult:
    """Upload the distribution files in ``paths`` (relative to ``base``) to ``repository_url`` unless the index
    at ``index_url`` (default: :func:`default_index_url`) has them already."""
    from gitops_tools.pyindex import index_links

    say = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    repository_url = check_url(repository_url, "--repository-url")
    index_url = check_url(index_url or default_index_url(repository_url), "--index-url")
    files, project, version = distributions(paths, base)
    local = {f.name: _sha256(f) for f in files}
    by_name = {f.name: f for f in files}

    def look() -> tuple[dict[str, IndexFile], tuple[str, ...]]:
        """What the index has of this version; the files it has as rebuilds of ours."""
        links = index_links(index_url, project, env, timeout=timeout)
        found = _of_version([f for f, _ in links], version)
        return found, _conflicts(local, found, {f.filename: u for f, u in links}, by_name, index_url, project,
                                 version, env, timeout)

    there, rebuilt = look()
    warnings: list[str] = [f"{name} is on the index from another build of the same contents (only timestamps "
                           "differ): not uploaded again" for name in rebuilt]
    for name in local:
        if name in there and there[name].sha256 is None:
            warnings.append(f"{name}: the index does not give its sha256, so it was not compared; it is there "
                            "already and was not uploaded again")
    todo = [f for f in files if f.name not in there]
    if not todo:
        return PublishResult(project, version, repository_url, index_url,
                             tuple(PublishedFile(n, d, "skipped") for n, d in local.items()),
                             tuple(there.values()), tuple(warnings))

    creds = credentials(env)
    if creds is None:
        raise GitopsError(f"no credentials to upload {project} {version} to {repository_url}",
                          fix="set TWINE_USERNAME and TWINE_PASSWORD (masked CI/CD variables), or run in GitLab CI, "
                              "where CI_JOB_TOKEN is used as the user gitlab-ci-token")
    if importlib.util.find_spec("twine") is None:
        raise GitopsError("twine is not installed: it uploads the files", fix=INSTALL_TWINE)
    code, output = _twine(todo, repository_url, creds, env, verbose, say)

    after, _ = look()
    missing = [f.name for f in todo if f.name not in after]
    if code != 0:
        if missing:
            raise _twine_error(code, output, repository_url, creds, project, version, missing)
        warnings.append(f"twine failed (exit {code}), but the index has every file now: another pipeline "
                        "published them meanwhile")
    elif missing:
        warnings.append(f"twine uploaded {', '.join(missing)} but {index_url} does not list "
                        f"{'it' if len(missing) == 1 else 'them'} yet")
    uploaded = {f.name for f in todo} if code == 0 else set()
    return PublishResult(
        project, version, repository_url, index_url,
        tuple(PublishedFile(n, d, "uploaded" if n in uploaded else "skipped") for n, d in local.items()),
        tuple(after.values()), tuple(warnings))


def _twine(files: Sequence[Path], repository_url: str, creds: Credentials, env: Mapping[str, str], verbose: bool,
           say: Callable[[str], None]) -> tuple[int, str]:
    """Run twine (this interpreter's): its exit status and its output, masked of the credentials."""
    command = [sys.executable, "-m", "twine", "--no-color", "upload", "--non-interactive", "--disable-progress-bar",
               "--repository-url", repository_url, *map(str, files)]
    child = {k: v for k, v in env.items() if k not in ("TWINE_REPOSITORY", "TWINE_REPOSITORY_URL")}
    child.update(TWINE_USERNAME=creds.username, TWINE_PASSWORD=creds.password, TWINE_NON_INTERACTIVE="1",
                 NO_COLOR="1", TERM="dumb", COLUMNS="200", PYTHONIOENCODING="utf-8")
    child.setdefault("PATH", os.environ.get("PATH", ""))
    if verbose:
        say("$ python -m twine --no-color upload --non-interactive --disable-progress-bar --repository-url "
            f"{repository_url} {' '.join(f.name for f in files)}")
    try:
        done = subprocess.run(command, env=child, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace", timeout=UPLOAD_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise TemporaryError(f"twine did not finish uploading to {repository_url} in {UPLOAD_TIMEOUT} s",
                             fix="try again (exit 75: a CI job can retry); files already uploaded are skipped") \
            from None
    output = mask(done.stdout or "", creds.secrets)
    if verbose:
        for line in output.splitlines():
            say(f"  {line}")
    return done.returncode, output


def _twine_error(code: int, output: str, repository_url: str, creds: Credentials, project: str, version: str,
                 missing: Sequence[str]) -> GitopsError:
    """The error for a twine run that left files off the index, from what it printed."""
    not_there = f"{', '.join(missing)} not uploaded"
    statuses = re.findall(r"HTTPError: (\d{3})", output)
    status = int(statuses[-1]) if statuses else None
    if status in (401, 403):
        return GitopsError(f"the package index at {repository_url} refused the credentials from {creds.source} "
                           f"(HTTP {status}): {not_there}",
                           fix="check the token: it must be valid and may write to the package registry (GitLab: "
                               "the job token, or a deploy token with write_package_registry)")
    if status is not None and (status >= 500 or status == 429):
        return TemporaryError(f"the package index at {repository_url} answered HTTP {status}: {not_there}",
                              fix="try again later (exit 75: a CI job can retry); files already uploaded are "
                                  "skipped")
    if status is None and re.search(r"ConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|"
                                    r"Connection refused|Name or service not known", output):
        return TemporaryError(f"cannot reach the package index at {repository_url}: {not_there}",
                              fix="check the URL and that the index is up; try again later (exit 75)")
    said = [line.strip() for line in output.splitlines()
            if line.strip() and not line.startswith(("Uploading", "Traceback", "  File "))]
    gist = " | ".join(said[-3:])[:600] or f"exit {code}"
    what = f"HTTP {status}" if status is not None else f"exit {code}"
    return GitopsError(f"twine could not upload {project} {version} to {repository_url} ({what}): {gist}; "
                       f"{not_there}",
                       fix="run with -v to see everything twine printed")
