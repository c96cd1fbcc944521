"""The public API: a GitOps repository to read and change, and a library to release.

The command line and the scripts are the thinnest users of these two classes; a Python program uses them the
same way. Every method returns the typed values the CLI prints as JSON (each has ``as_dict()``) and raises
:class:`~gitops_tools.errors.GitopsError` subclasses, each carrying the exit code the CLI exits with.

>>> repo = Repository("path/to/gitops")                           # doctest: +SKIP
>>> repo.set_images("dev", ["aegis/api=*:1.4.3"]).commit          # doctest: +SKIP
'3f2a1bc…'

Nothing here imports click; GitPython is imported by the first method that runs git.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitops_tools.commands.imageset import SetResult
    from gitops_tools.commands.metrics import MetricsResult
    from gitops_tools.commands.promote import PromoteResult
    from gitops_tools.commands.publish import PublishResult
    from gitops_tools.commands.propagate import PropagateResult
    from gitops_tools.commands.release import ReleaseResult
    from gitops_tools.commands.report import ReportResult
    from gitops_tools.commands.rollback import RollbackResult
    from gitops_tools.commands.validate import ValidateResult
    from gitops_tools.commands.writer import WriteOptions
    from gitops_tools.core.envstate import Difference, Matrix
    from gitops_tools.core.history import Event


@dataclass(frozen=True)
class Repository:
    """A GitOps repository: ``environments/`` (or what ``gitops-tools.yaml`` names), read and changed.

    ``path`` is the checkout to work in (default: the one around ``cwd``; a directory that is not a checkout is
    edited, not committed). With ``url`` every change is made in a fresh shallow clone of that repository,
    committed and pushed (retried on fresh remote state), and the clone removed. ``push`` also pushes the
    commits made in a checkout. ``env`` stands for the process environment (CI variables, tokens).

    A change that was pushed is announced to the ``notify`` targets of ``gitops-tools.yaml``
    (docs/notifications.md); the results of :meth:`set_images`, :meth:`promote` and :meth:`rollback` say what
    became of each in ``notifications``. A failed notification never undoes the change and raises nothing: a
    result whose ``notifications`` has one with ``failed_required`` is what the CLI exits 75 for.
    """

    path: Path | None = None
    _: KW_ONLY
    url: str | None = None
    branch: str | None = None
    push: bool = False
    skip_ci: bool = False
    merge_when_pipeline_succeeds: bool = False
    verbose: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    fold: bool = True
    batch_window: float | None = None
    env: Mapping[str, str] | None = None

    def __post_init__(self) -> None:  # str paths are welcome
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "cwd", Path(self.cwd))

    def _write(self, dry_run: bool, commit: bool) -> WriteOptions:
        from gitops_tools.commands.writer import WriteOptions

        return WriteOptions(repo_url=self.url, branch=self.branch, push=self.push, commit=commit, dry_run=dry_run,
                            verbose=self.verbose, skip_ci=self.skip_ci,
                            merge_when_pipeline_succeeds=self.merge_when_pipeline_succeeds, fold=self.fold,
                            batch_window=self.batch_window)

    # --- changing -----------------------------------------------------------------------------------------

    def set_images(self, target: str, specs: Sequence[str], *, setters: Sequence[str] = (), add: bool = False,
                   allow_downgrade: bool = False, dry_run: bool = False, commit: bool = True,
                   now: datetime.datetime | None = None) -> SetResult:
        """Set images in TARGET (an environment name, or an overlay directory) with ``kustomize edit set image``
        SPECs (``aegis/api=*:1.4.3`` sets only the tag); one commit for all of them."""
        from gitops_tools.commands.imageset import SetOptions, image_set

        return image_set(self.cwd, self.path, target, specs,
                         SetOptions(allow_downgrade=allow_downgrade, setters=tuple(setters), add=add,
                                    write=self._write(dry_run, commit), env=self.env, now=now))

    def plan_promotion(self, source: str, target: str, images: Sequence[str] = (), *, force: bool = False,
                       min_age: str | None = None) -> PromoteResult:
        """What :meth:`promote` would do (the plan and the edits), writing nothing."""
        return self.promote(source, target, images, force=force, min_age=min_age, dry_run=True)

    def promote(self, source: str, target: str, images: Sequence[str] = (), *, force: bool = False,
                min_age: str | None = None, dry_run: bool = False, commit: bool = True,
                now: datetime.datetime | None = None) -> PromoteResult:
        """Make TARGET run what SOURCE runs (every image, or ``images``), as one commit; a protected TARGET gets
        a merge request when pushing."""
        from gitops_tools.commands.promote import promote

        return promote(self.cwd, self.path, source, target, images, force, min_age, self._write(dry_run, commit),
                       now, self.env)

    def rollback(self, env: str, *, to: str | None = None, images: Sequence[str] = (), dry_run: bool = False,
                 commit: bool = True) -> RollbackResult:
        """ENV's images as they were at ``to`` (default: before its last change), as a new commit."""
        from gitops_tools.commands.rollback import rollback

        return rollback(self.cwd, self.path, env, to, images, self._write(dry_run, commit), self.env)

    def propagate(self, library: str, version: str, *, services: Sequence[str] = (),
                  changelog: str | Path | None = None, index_url: str | None = None, dry_run: bool = False,
                  jobs: int = 4) -> PropagateResult:
        """Move every service of ``services:`` in ``gitops-tools.yaml`` that depends on ``library`` (or only the
        named ``services``) to ``version``: in a shallow clone of each, only the pin changes, in its style (a range
        that already admits the version is left alone); a commit with the ``changelog`` file's section for that
        version; a push to ``gitops-tools/propagate/<library>-<version>`` that opens a GitLab merge request the
        first time. With ``index_url`` (a simple index) the version must be published there first. One failing
        service never stops the others: the result says what became of each, and its ``exit_code`` is 0 (all
        done), 4 (partly done), 1 or 75 (none done)."""
        from gitops_tools.commands.propagate import propagate

        return propagate(self.cwd, self.path, library, version, services=services,
                         changelog=Path(changelog) if changelog is not None else None, index_url=index_url,
                         dry_run=dry_run, jobs=jobs, env=self.env if self.env is not None else os.environ,
                         verbose=self.verbose)

    # --- seeing -------------------------------------------------------------------------------------------

    def status(self, images: Sequence[str] = ()) -> Matrix:
        """The version matrix: image × environment, in promotion order, pending promotions marked."""
        from gitops_tools.commands.seeing import status

        return status(self.cwd, self.path, images)

    def diff(self, a: str, b: str, images: Sequence[str] = ()) -> tuple[Difference, ...]:
        """The images whose newName, newTag or digest differ between two environments."""
        from gitops_tools.commands.seeing import diff

        return diff(self.cwd, self.path, a, b, images)

    def history(self, env: str | None = None, image: str | None = None, since: str | None = None,
                now: datetime.datetime | None = None) -> list[Event]:
        """Who changed which image, when, from what to what, from which pipeline: from commit trailers alone."""
        from gitops_tools.commands.seeing import history

        return history(self.cwd, self.path, env, image, since, self.verbose, now)

    def metrics(self, envs: Sequence[str] = (), *, since: str | None = None, until: str | None = None,
                now: datetime.datetime | None = None, repository: str | None = None, pushgateway: str | None = None,
                job: str = "gitops-tools", timeout: float = 10.0) -> MetricsResult:
        """The delivery measures of ``envs`` (default: all), per environment and image, from the history the tool
        wrote: deployment frequency, lead time for changes, change failure rate, time to restore (and the time
        from the first environment to the last), over the window ``since`` .. ``until`` (what ``history --since``
        takes; default: the oldest change read .. ``now``, the clock, default the time of the call);
        ``repository`` is the label of every series (default ``CI_PROJECT_PATH``, else the checkout's directory
        name). With
        ``pushgateway`` (a base URL) each environment's measures are pushed to that Prometheus Pushgateway as the
        group ``job``/``repository``/``environment``."""
        from gitops_tools.commands.metrics import metrics

        return metrics(self.cwd, self.path, envs, since, until, now, repository, pushgateway, job, timeout,
                       self.env, self.verbose)

    def report(self, out: str | Path | None = None, *, weeks: int = 12,
               now: datetime.datetime | None = None) -> ReportResult:
        """The version matrix (each value with the commit that set it), every environment's changes (and those of
        merge requests still open on ``gitops/*`` branches) and ``weeks`` of delivery measures per week, up to
        ``now``; with ``out``, also written there as a static page (``index.html``, the report extra: Jinja2) and
        as ``report.json``. ``as_dict()`` is what ``report -o json`` prints."""
        from gitops_tools.commands.report import report

        return report(self.cwd, self.path, Path(out) if out is not None else None, weeks, now, self.verbose)

    def validate(self, envs: Sequence[str] = ()) -> ValidateResult:
        """Render every environment (or ``envs``) with ``kubectl kustomize`` and report what kustomize accepts
        silently; its ``errors`` count is what fails a pipeline."""
        from gitops_tools.commands.validate import validate

        return validate(self.cwd, self.path, envs, verbose=self.verbose)


@dataclass(frozen=True)
class Library:
    """A Python library (its ``pyproject.toml``) released from its Conventional Commits.

    ``path`` is the library's directory (in a monorepo, below the repository root); with ``url`` the release is
    made in a fresh clone of that repository, where ``path`` is relative to its root. A pushed release is
    announced to the library's ``[[tool.gitops-tools.release.notify]]`` targets (the result's ``notifications``).
    """

    path: Path = Path(".")
    _: KW_ONLY
    url: str | None = None
    tag_prefix: str | None = None
    branch: str | None = None
    verbose: bool = False
    env: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def _release(self, *, prerelease: str | None = None, print_only: bool = False, explain: bool = False,
                 push: bool = True, dry_run: bool = False, today: datetime.date | None = None) -> ReleaseResult:
        from gitops_tools.commands.release import release

        day = (lambda: today) if today is not None else datetime.date.today
        return release(self.path, tag_prefix=self.tag_prefix, prerelease=prerelease, dry_run=dry_run,
                       print_only=print_only, explain=explain, push=push, branch=self.branch, verbose=self.verbose,
                       repo_url=self.url, env=self.env if self.env is not None else os.environ, today=day)

    def next_version(self, prerelease: str | None = None) -> str | None:
        """The next version (None: nothing to release); reads only."""
        return self._release(prerelease=prerelease, print_only=True).next

    def plan(self, prerelease: str | None = None, *, detail: bool = True) -> ReleaseResult:
        """The release that :meth:`release` would make: version, level, the commits that decided it and why,
        the CHANGELOG section; reads only. ``detail=False``: the version, the level and the warnings only (no
        decisions, no section), which a long unreleased history gives much sooner."""
        return self._release(prerelease=prerelease, explain=detail, print_only=not detail)

    def release(self, prerelease: str | None = None, *, push: bool = True, dry_run: bool = False,
                today: datetime.date | None = None) -> ReleaseResult:
        """Write the version and the CHANGELOG section, commit, tag, and push commit and tag together."""
        return self._release(prerelease=prerelease, push=push, dry_run=dry_run, today=today)

    def changelog(self) -> str:
        """The whole history as CHANGELOG text, one section per release tag."""
        from gitops_tools.commands.release import full_changelog

        return full_changelog(self.path, self.tag_prefix, self.verbose)

    def publish(self, files: Sequence[str | Path] = ("dist",), *, repository_url: str, index_url: str | None = None,
                timeout: float = 10.0) -> PublishResult:
        """Upload the wheel and sdist in ``files`` (directories or files, relative to ``path``; default ``dist``)
        to the package index at ``repository_url`` with twine, unless the index (``index_url``, default
        ``<repository_url>/simple/``) has them already: then nothing is uploaded (a pipeline run again passes).
        A file there with other bytes under the same version is an error. Credentials come from ``env``:
        ``TWINE_USERNAME`` and ``TWINE_PASSWORD``, else ``CI_JOB_TOKEN`` as ``gitlab-ci-token``."""
        from gitops_tools.commands.publish import publish

        return publish([Path(f) for f in files], repository_url, index_url,
                       self.env if self.env is not None else os.environ, base=self.path, timeout=timeout,
                       verbose=self.verbose)
