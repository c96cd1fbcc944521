"""The ``gitops-tools`` command line: parse arguments, call one plain function per command, print the result.

This is the only module that imports click.  Commands import what they use inside their function so that
``gitops-tools --version`` and ``--help`` load nothing else (start-up time is measured in benchmarks/).
Errors become exit codes in one place, :func:`main` (README, "Exit codes").
"""

from __future__ import annotations

import sys
from pathlib import Path
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from gitops_tools import __version__
from gitops_tools.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    GitopsError,
    Terminated,
    exit_code_for,
)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_STATE: dict[str, Any] = {"output": "text", "verbose": 0}

output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default=None,
    envvar="GITOPS_OUTPUT", help="Print a human summary (text, the default), or one JSON object for machines. "
                                 "[env: GITOPS_OUTPUT]",
)
def write_options(f: Any) -> Any:
    """The options of every command that writes (DESIGN §3.7, §3.10)."""
    decorators = [
        click.option("--repo-url", envvar="GITOPS_REPO_URL", metavar="URL",
                     help="Work on a fresh shallow clone of URL (removed afterwards) and push the commit, "
                          "retrying on fresh remote state; the token comes from GITOPS_TOKEN or CI_JOB_TOKEN. "
                          "[env: GITOPS_REPO_URL]"),
        click.option("--branch", envvar="GITOPS_BRANCH", metavar="BRANCH",
                     help="The branch to change (default: `branch` in gitops-tools.yaml, else main). "
                          "[env: GITOPS_BRANCH]"),
        click.option("--push/--no-push", default=False, envvar="GITOPS_PUSH",
                     help="In a checkout: push the commit too (with --repo-url it always is). [env: GITOPS_PUSH]"),
        click.option("--no-commit", is_flag=True, envvar="GITOPS_NO_COMMIT",
                     help="Edit the files but do not commit (in a checkout). [env: GITOPS_NO_COMMIT]"),
        click.option("--skip-ci", is_flag=True, envvar="GITOPS_SKIP_CI",
                     help="Append [skip ci] to the commit subject. [env: GITOPS_SKIP_CI]"),
        click.option("--merge-when-pipeline-succeeds", is_flag=True, envvar="GITOPS_MERGE_WHEN_PIPELINE_SUCCEEDS",
                     help="Protected environments: ask GitLab to merge the merge request once its pipeline "
                          "passes."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def make_write_options(obj: dict[str, Any], kwargs: dict[str, Any], dry_run: bool) -> Any:
    from gitops_tools.commands.writer import WriteOptions

    return WriteOptions(
        repo_url=kwargs.pop("repo_url"), branch=kwargs.pop("branch"), push=kwargs.pop("push"),
        commit=not kwargs.pop("no_commit"), dry_run=dry_run, verbose=obj["verbose"] > 0,
        skip_ci=kwargs.pop("skip_ci"), merge_when_pipeline_succeeds=kwargs.pop("merge_when_pipeline_succeeds"),
    )


def _more_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if value and ctx.obj is not None:
        ctx.obj["verbose"] += value
        _STATE["verbose"] = ctx.obj["verbose"]


# -v is also accepted after a command's arguments, where the wrappers put what they pass on
# (scripts/update-image.sh dev aegis/api 1.4.3 -v).
verbose_option = click.option("-v", "--verbose", count=True, expose_value=False, callback=_more_verbose,
                              help="Print every git command as it runs (secrets masked); same as the global -v.")


dry_run_option = click.option(
    "--dry-run", is_flag=True, envvar="GITOPS_DRY_RUN",
    help="Show the unified diff of what would change; write and commit nothing. [env: GITOPS_DRY_RUN]",
)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="gitops-tools", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, envvar="GITOPS_VERBOSE",
              help="Print every git command as it runs (secrets masked). [env: GITOPS_VERBOSE]")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", envvar="GITOPS_OUTPUT",
              help="Output of every command: text or json (also an option of each command). [env: GITOPS_OUTPUT]")
@click.option("-C", "--repo-dir", type=click.Path(file_okay=False, path_type=Path), envvar="GITOPS_REPO_DIR",
              help="The GitOps checkout to work in (default: the one around the working directory). "
                   "[env: GITOPS_REPO_DIR]")
@click.pass_context
def cli(ctx: click.Context, verbose: int, output: str, repo_dir: Path | None) -> None:
    """Manage a kustomize GitOps repository: set images without reformatting a byte, and tell exactly what
    changed.

    \b
    Environments and their order come from gitops-tools.yaml at the repository root (or, without it, from
    the directories under environments/).

    \b
    Examples:
      gitops-tools image set dev 'aegis/api=*:1.4.2'          only the tag moves
      gitops-tools image set --dry-run prod 'aegis/api=*:1.4.2'
      gitops-tools -o json image set staging 'aegis/api=*:1.4.2' 'aegis/recommendation=*:2.0.1'
      gitops-tools status
      gitops-tools promote dev staging
    """
    _STATE["verbose"] = verbose
    _STATE["output"] = output
    ctx.obj = {"verbose": verbose, "repo_dir": repo_dir, "output": output}


@cli.group(context_settings=CONTEXT_SETTINGS)
def image() -> None:
    """Set image names, tags and digests in an environment."""


@image.command("set", context_settings=CONTEXT_SETTINGS)
@click.argument("target")
@click.argument("specs", nargs=-1, metavar="SPEC...")
@dry_run_option
@output_option
@write_options
@click.option("--allow-downgrade", is_flag=True, envvar="GITOPS_ALLOW_DOWNGRADE",
              help="Allow a semver-older tag to replace a newer one. [env: GITOPS_ALLOW_DOWNGRADE]")
@click.option("--setter", "setters", multiple=True, metavar="NAMESPACE:POLICY=IMAGE",
              help='Also update values marked # {"$imagepolicy": "NAMESPACE:POLICY[:tag|:name|:digest]"} '
                   "(Flux image-automation markers) under TARGET. Repeatable.")
@click.option("--add", is_flag=True,
              help="In an environment of gitops-tools.yaml, add an entry for a name it does not have yet "
                   "(without --add such a name is refused: it would match no container).")
@verbose_option
@click.pass_obj
def image_set_cmd(obj: dict[str, Any], /, target: str, specs: tuple[str, ...], dry_run: bool, output: str,
                  allow_downgrade: bool, setters: tuple[str, ...], add: bool, **kwargs: Any) -> None:
    """Set images in TARGET's kustomization (and the Helm values keys configured to follow them).

    TARGET is an environment name from gitops-tools.yaml (dev, staging, prod) or the path of any overlay
    directory. In a git checkout the change is committed (one commit for all SPECs, with a Gitops-Change
    trailer per image); outside one the files are only edited.

    \b
    SPEC takes the forms of `kustomize edit set image`:
      NAME=*:TAG                 only the tag (what CI wants)   'aegis/api=*:1.4.2'
      NAME=*:TAG@DIGEST          the tag and the digest         'aegis/api=*:1.4.2@sha256:<64 hex>'
      NAME=NEWNAME[:TAG][@DIGEST]  also set newName     aegis/api=registry.gitlab.com/aegis/app/api:1.4.2
      NAME:TAG, NAME@DIGEST      kustomize's short forms: they CLEAR newName (and the field not given),
                                 as `kustomize edit set image` does
      `*` as NEWNAME, TAG or DIGEST keeps the current value. scripts/update-image.sh uses NAME=*:TAG.

    \b
    In an environment of gitops-tools.yaml, NAME is an entry's name or its newName (the path the CI job
    pushed, e.g. registry.gitlab.com/aegis/app/api); a name that matches no entry is refused, listing the
    known ones, unless --add. On an overlay directory outside the configuration a missing entry is added,
    as kustomize does.

    \b
    Same value again: nothing is written or committed (exit 0). A tag older than the current one is
    skipped with a message (exit 0) unless --allow-downgrade: a CI job that finishes late never rolls an
    environment back. Older is semver order; where semver cannot tell (SHA tags, 1.3), the GitLab pipeline
    that set the current tag is compared with the one running now (CI_PIPELINE_ID); where neither
    decides, the tag is set and the output says so. Protected environments refuse mutable tags such as
    latest, and take only what the environment before them runs (only_from_previous).
    """
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.imageset import SetOptions, image_set

    result = image_set(
        Path.cwd(), obj["repo_dir"], target, specs,
        SetOptions(allow_downgrade=allow_downgrade, setters=setters, add=add,
                   write=make_write_options(obj, kwargs, dry_run)),
    )
    diff = _dry_run_diff(result.edits, dry_run)
    if _json_done(result.as_dict(), diff, output):
        return
    if diff:
        click.echo(diff, nl=False)
    for u in result.updates:
        if u.status == "unchanged":
            click.echo(f"{result.target.scope}: {u.image} is already {u.new}; nothing to do")
        elif u.status == "skipped-downgrade":
            click.echo(u.message)
        elif u.image.startswith("setter "):
            click.echo(f"{result.target.scope}: {u.image}: {len(u.changes)} marked value(s) updated")
        else:
            click.echo(f"{result.target.scope}: {u.image} {u.old or '(none)'} -> {u.new} ({u.status})")
            if u.message:
                click.echo(f"note: {u.message}")
    if dry_run:
        click.echo("dry run: nothing written" if result.edits else "dry run: nothing would change")
    elif result.commit:
        click.echo(f"committed {result.commit[:12]} ({', '.join(e.display for e in result.edits)})")
        if result.landed.pushed:
            tries = f" after {result.landed.attempts} attempts" if result.landed.attempts > 1 else ""
            click.echo(f"pushed to {result.landed.pushed}{tries}")
        if result.landed.merge_request:
            click.echo(f"pushed {result.landed.merge_request} and asked GitLab for a merge request into "
                       f"{result.target.env.name if result.target.env else 'the target'}'s branch")
    elif result.edits:
        click.echo(f"wrote {', '.join(e.display for e in result.edits)} (not committed)")


@cli.command("validate", context_settings=CONTEXT_SETTINGS)
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@output_option
@verbose_option
@click.pass_obj
def validate_cmd(obj: dict[str, Any], envs: tuple[str, ...], output: str) -> None:
    """Render each environment with `kubectl kustomize` and report what kustomize silently accepts.

    \b
    Errors (exit 1):
      render-failed          the overlay does not render
      unused-image           an images: entry matches no container in the render (a typo kustomize ignores)
      mutable-tag            a mutable (latest, main…) or missing tag in a protected environment
      plaintext-secret       a Secret with data in git (use an ExternalSecret)
      values-mismatch        a Helm values key configured to follow an image holds another value
      application-path       an Argo CD Application points at a path or values file that does not exist
      application-branch     … at a revision that does not exist
      application-namespace  … into a namespace its path does not use, or its project does not allow
    Warnings (exit 0): mutable or missing tags outside protected environments.

    Without ENV every environment and every Application under applications/ is checked.
    """
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.validate import validate

    result = validate(Path.cwd(), obj["repo_dir"], envs, verbose=obj["verbose"] > 0)
    if output == "json":
        _print_json(result.as_dict())
    else:
        rendered = ", ".join(f"{e.name} ({e.objects} objects)" if e.rendered else f"{e.name} (failed)"
                             for e in result.environments)
        click.echo(f"rendered: {rendered}")
        if result.findings:
            rows = [(f.severity, f.env or "-", f.check, f"{f.file or ''} {f.where}".strip(), f.message)
                    for f in result.findings]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for r in rows:
                click.echo("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        click.echo(f"{result.errors} error(s), {result.warnings} warning(s)")
    if result.errors:
        raise SystemExit(1)


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    # one write: ten thousand history lines through click.echo one by one cost more than reading them
    click.echo("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows))


def _short(value: str | None) -> str:
    """The tag (and a short digest) of an image value, for tables; JSON has the whole value."""
    if value is None:
        return "-"
    name, at, digest = value.partition("@")
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ("" if "/" in name else name)
    return (tag or "") + (f"@{digest[:19]}…" if at else "")


@cli.command("status", context_settings=CONTEXT_SETTINGS)
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@output_option
@verbose_option
@click.pass_obj
def status_cmd(obj: dict[str, Any], /, images: tuple[str, ...], output: str | None) -> None:
    """The version matrix: image x environment, in promotion order.

    A `*` marks a value that differs from the previous environment's: a promotion is pending there.
    """
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.seeing import status

    m = status(Path.cwd(), obj["repo_dir"], images)
    if output == "json":
        _print_json(m.as_dict())
        return
    rows = [("IMAGE", *m.envs)]
    rows += [(r.image, *(_short(c.value) + (" *" if c.pending else "") for c in r.cells)) for r in m.rows]
    _table(rows)
    if any(c.pending for r in m.rows for c in r.cells):
        click.echo("* differs from the previous environment: a promotion is pending")


@cli.command("diff", context_settings=CONTEXT_SETTINGS)
@click.argument("env_a")
@click.argument("env_b")
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@output_option
@verbose_option
@click.pass_obj
def diff_cmd(obj: dict[str, Any], /, env_a: str, env_b: str, images: tuple[str, ...], output: str | None) -> None:
    """What differs between the images of two environments."""
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.seeing import diff

    found = diff(Path.cwd(), obj["repo_dir"], env_a, env_b, images)
    if output == "json":
        _print_json({"a": env_a, "b": env_b, "differences": [d.as_dict() for d in found]})
        return
    if not found:
        click.echo(f"{env_a} and {env_b} run the same images")
        return
    _table([("IMAGE", env_a, env_b)] + [(d.image, d.a.value if d.a else "-", d.b.value if d.b else "-")
                                        for d in found])


@cli.command("history", context_settings=CONTEXT_SETTINGS)
@click.argument("env", required=False)
@click.option("--image", metavar="NAME", help="Only this image.")
@click.option("--since", metavar="WHEN", help="Only changes after WHEN (anything git accepts: 2.weeks, 2026-11-01).")
@output_option
@verbose_option
@click.pass_obj
def history_cmd(obj: dict[str, Any], /, env: str | None, image: str | None, since: str | None,
                output: str | None) -> None:
    """Who changed which image, when, from what to what, and from which pipeline: read from commit trailers.

    Commits that changed an environment without gitops-tools trailers are listed as `manual`, without a guess
    at what they changed (see `git show COMMIT`).
    """
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.seeing import history

    found = history(Path.cwd(), obj["repo_dir"], env, image, since, verbose=obj["verbose"] > 0)
    if output == "json":
        _print_json({"events": [e.as_dict() for e in found]})
        return
    if not found:
        click.echo("no changes recorded")
        return
    rows = [("TIME", "ENV", "IMAGE", "CHANGE", "ACTION", "AUTHOR", "PIPELINE", "COMMIT")]
    for e in found:
        change = f"{_short(e.old)} -> {_short(e.new)}" if e.image else "(not recorded)"
        rows.append((e.time, e.env or "-", e.image or "-", change, e.action, e.author, e.pipeline or "-",
                     e.commit[:12]))
    _table(rows)


@cli.command("promote", context_settings=CONTEXT_SETTINGS)
@click.argument("source")
@click.argument("target")
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@click.option("--force", is_flag=True, help="Allow skipping an environment, and older versions.")
@click.option("--min-age", metavar="DURATION", envvar="GITOPS_MIN_AGE",
              help="Refuse versions that have run in SOURCE for less than DURATION (30m, 2h, 1d), per history.")
@dry_run_option
@output_option
@write_options
@verbose_option
@click.pass_obj
def promote_cmd(obj: dict[str, Any], /, source: str, target: str, images: tuple[str, ...], force: bool,
                min_age: str | None, dry_run: bool, output: str | None, **kwargs: Any) -> None:
    """Make TARGET run what SOURCE runs (every image, or --image ones), as one commit.

    \b
    The plan is shown as `image  target-now -> source-value`. Only the next environment in the chain is
    allowed unless --force; protected targets (prod) get a merge request when pushing and refuse mutable
    tags, and take only what the environment before them runs. If TARGET changes between the plan and the
    push, the promotion stops with a conflict naming the image and pushes nothing. Helm values keys
    configured for an image move with it.
    """
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.promote import promote

    result = promote(Path.cwd(), obj["repo_dir"], source, target, images, force, min_age,
                     make_write_options(obj, kwargs, dry_run))
    diff = _dry_run_diff(result.landed.applied.edits, dry_run)
    if _json_done(result.as_dict(), diff, output):
        return
    if not result.plan:
        click.echo(f"{target} already runs what {source} runs; nothing to do")
        return
    _table([("IMAGE", f"{target} now", f"{source}")] +
           [(p.image, p.target_now.value if p.target_now else "(none)", p.source.value) for p in result.plan])
    if diff:
        click.echo(diff, nl=False)
    for u in result.landed.applied.updates:
        if u.status == "skipped-downgrade":
            click.echo(u.message)
    _landed_lines(result.landed, dry_run, target)


@cli.command("rollback", context_settings=CONTEXT_SETTINGS)
@click.argument("env")
@click.option("--to", "to", metavar="REV", help="The revision to restore (default: before ENV's last change).")
@click.option("--image", "images", multiple=True, metavar="NAME", help="Only these images. Repeatable.")
@dry_run_option
@output_option
@write_options
@verbose_option
@click.pass_obj
def rollback_cmd(obj: dict[str, Any], /, env: str, to: str | None, images: tuple[str, ...], dry_run: bool,
                 output: str | None, **kwargs: Any) -> None:
    """Restore ENV's images as they were at REV, as a new commit (never a `git revert` of other work)."""
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.rollback import rollback

    result = rollback(Path.cwd(), obj["repo_dir"], env, to, images, make_write_options(obj, kwargs, dry_run))
    diff = _dry_run_diff(result.landed.applied.edits, dry_run)
    if _json_done(result.as_dict(), diff, output):
        return
    if diff:
        click.echo(diff, nl=False)
    changed = [u for u in result.landed.applied.updates if u.changes]
    if not changed:
        click.echo(f"{env} already runs what it ran at {result.revision[:12]}; nothing to do")
        return
    for u in changed:
        click.echo(f"{env}: {u.image} {u.old or '(none)'} -> {u.new} (as at {result.revision[:12]})")
    _landed_lines(result.landed, dry_run, env)


@cli.command("release", context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tag-prefix", envvar="GITOPS_TAG_PREFIX", metavar="P",
              help="Tags look like P1.2.3 (default: tag_prefix in [tool.gitops-tools.release], else v).")
@click.option("--prerelease", metavar="TOKEN", help="Make a pre-release: X.Y.Z-TOKEN.1, then .2, ...")
@click.option("--print-next-version", is_flag=True, help="Print the next version (nothing if none) and stop.")
@click.option("--explain", is_flag=True, help="List which commits decided the level, which were ignored and why.")
@click.option("--branch", metavar="BRANCH",
              help="The branch to push the release commit to (when HEAD is detached: default CI_COMMIT_BRANCH).")
@click.option("--repo-url", metavar="URL",
              help="Release in a fresh clone of URL (PATH relative to its root), push, remove the clone; the "
                   "token comes from GITOPS_TOKEN or CI_JOB_TOKEN. (Not read from GITOPS_REPO_URL, which names "
                   "the GitOps repository.)")
@click.option("--no-push", is_flag=True, help="Commit and tag, but do not push.")
@click.option("--dry-run", is_flag=True, envvar="GITOPS_DRY_RUN",
              help="Print the next version and the CHANGELOG section; write, commit and tag nothing. "
                   "[env: GITOPS_DRY_RUN]")
@output_option
@verbose_option
@click.pass_obj
def release_cmd(obj: dict[str, Any], /, path: Path, tag_prefix: str | None, prerelease: str | None,
                print_next_version: bool, explain: bool, branch: str | None, repo_url: str | None, no_push: bool,
                dry_run: bool, output: str | None) -> None:
    """Release the library at PATH from its Conventional Commits: next semver, CHANGELOG.md section,
    version in pyproject.toml (and configured files), commit `chore(release): NAME VERSION`, annotated tag,
    commit and tag pushed together.

    \b
    feat -> minor, fix and perf -> patch, a breaking change (`!` or a BREAKING CHANGE footer) -> major, and
    minor while the version is 0.y.z. Commits that touch nothing under PATH are not counted. Nothing
    releasable: exit 0, no commit, no tag. Configuration: [tool.gitops-tools.release] in PATH/pyproject.toml.
    """
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.release import release

    result = release(path, tag_prefix=tag_prefix, prerelease=prerelease, dry_run=dry_run,
                     print_only=print_next_version, push=not no_push, branch=branch, verbose=obj["verbose"] > 0,
                     repo_url=repo_url, explain=explain)
    if output == "json":
        _print_json(result.as_dict())
        return
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    if print_next_version:
        if result.next:
            click.echo(result.next)
        return
    if explain:
        for d in result.decisions:
            click.echo(f"{d.sha[:7]}  {d.level:<5}  {d.subject}  ({d.reason})")
        if result.next is not None:
            click.echo(f"{result.name}: {result.current} -> {result.next} ({result.level})")
            click.echo("explain: nothing written")
            return
    if result.next is None:
        click.echo(f"{result.name}: nothing to release since {result.current} (no feat, fix, perf or breaking change)")
        return
    click.echo(f"{result.name}: {result.current} -> {result.next} ({result.level})")
    if dry_run:
        click.echo(result.section, nl=False)
        click.echo("dry run: nothing written")
        return
    click.echo(f"committed {str(result.commit)[:12]} and tagged {result.tag}")
    if result.pushed:
        click.echo(f"pushed the commit and {', '.join(result.pushed_tags) or result.tag}")


@cli.command("changelog", context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tag-prefix", envvar="GITOPS_TAG_PREFIX", metavar="P", help="Tags look like P1.2.3.")
@output_option
@verbose_option
@click.pass_obj
def changelog_cmd(obj: dict[str, Any], /, path: Path, tag_prefix: str | None, output: str | None) -> None:
    """Render the whole history of PATH as a changelog, one section per release tag (to stdout)."""
    output = _STATE["output"] = output or obj["output"]
    from gitops_tools.commands.release import full_changelog

    text = full_changelog(path, tag_prefix, verbose=obj["verbose"] > 0)
    if output == "json":
        _print_json({"changelog": text})
        return
    click.echo(text, nl=False)


def _landed_lines(landed: Any, dry_run: bool, env: str) -> None:
    if dry_run:
        click.echo("dry run: nothing written")
        return
    if landed.commit:
        click.echo(f"committed {landed.commit[:12]} ({', '.join(e.display for e in landed.applied.edits)})")
    if landed.pushed:
        click.echo(f"pushed to {landed.pushed}")
    if landed.merge_request:
        click.echo(f"pushed {landed.merge_request} and asked GitLab for a merge request ({env} is protected)")


def _dry_run_diff(edits: Sequence[Any], dry_run: bool) -> str | None:
    """The unified diff of a dry run's edits (None when it is not a dry run)."""
    if not dry_run:
        return None
    from gitops_tools.core.changes import unified_diff

    return "".join(unified_diff(e.display, e.before, e.after) for e in edits)


def _json_done(data: dict[str, Any], diff: str | None, output: str) -> bool:
    """Print the result as JSON (with the dry run's diff) when asked; True when that was the output."""
    if output != "json":
        return False
    if diff is not None:
        data["diff"] = diff
    _print_json(data)
    return True


def _print_json(data: object) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _report(err: GitopsError) -> None:
    click.echo(f"error: {err.headline}", err=True)
    if err.fix:
        click.echo(f"hint: {err.fix}", err=True)
    if _STATE["output"] == "json":
        _print_json({"error": err.as_dict()})


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI and exit with the documented code: 0 ok, 1 expected error, 2 usage, 3 bug, 75 retry,
    130 interrupted, 143 terminated."""
    from gitops_tools.interrupts import raise_on_sigterm

    raise_on_sigterm()  # a cancelled CI job: the same clean-up as Ctrl-C
    try:
        cli.main(args=argv, prog_name="gitops-tools", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:  # click turns KeyboardInterrupt into Abort
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            click.echo("terminated (SIGTERM): files are as before, or as after a commit that landed", err=True)
            sys.exit(EXIT_TERMINATED)
        click.echo("interrupted: files are as before, or as after a commit that landed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except GitopsError as exc:
        _report(exc)
        sys.exit(exit_code_for(exc))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one catch-all: a bug, reported as such
        import traceback

        click.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: this is a bug in gitops-tools; run with -v for the traceback and report it", err=True)
        if _STATE["verbose"]:
            traceback.print_exc()
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(0)
