"""``publish``: a library's wheel and sdist to a package index, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitops_tools.cli.base import CONTEXT_SETTINGS, cli, output_of, output_option, print_json, verbose_option


@cli.command("publish", context_settings=CONTEXT_SETTINGS)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), metavar="[DIST_DIR | FILE...]")
@click.option("--repository-url", envvar=["GITOPS_PUBLISH_REPOSITORY_URL", "TWINE_REPOSITORY_URL"], metavar="URL",
              required=True,
              help="Where twine uploads; for GitLab's package registry "
                   "<api/v4>/projects/<id>/packages/pypi. "
                   "[env: GITOPS_PUBLISH_REPOSITORY_URL, TWINE_REPOSITORY_URL]")
@click.option("--index-url", envvar="GITOPS_PUBLISH_INDEX_URL", metavar="URL",
              help="The simple index where the version is looked up, before and after uploading (default: "
                   "<repository-url>/simple/). [env: GITOPS_PUBLISH_INDEX_URL]")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the index to answer.")
@output_option
@verbose_option
@click.pass_obj
def publish_cmd(obj: dict[str, Any], /, files: tuple[Path, ...], repository_url: str, index_url: str | None,
                timeout: float, output: str | None) -> None:
    """Upload a release's wheel and sdist (default: everything in dist/) to a package index with twine, once.

    \b
    All files must be one project and one version (their names say which). The index is asked first:
      - a file it has with the same sha256 is skipped; all of them: "nothing to publish", exit 0, so a
        pipeline run again for a release tag passes;
      - a file it has with other bytes is an error: a version is never published twice with other
        contents; release a new one (a rebuild of the same source, whose archives differ only in
        timestamps, counts as there);
      - the rest is uploaded (python -m twine upload --non-interactive), then the index is asked again.

    \b
    Credentials come from the environment only, never from a URL: TWINE_USERNAME and TWINE_PASSWORD, else
    GitLab CI's CI_JOB_TOKEN as the user gitlab-ci-token. They reach twine in its environment; what it
    prints is masked. Twine comes with: pip install 'gitops-tools[publish]'.
    Exit codes: 0 published or already there, 1 refused (bad files, other bytes, credentials), 75 the index
    did not answer or answered 5xx (a CI job can retry).

    \b
    Examples:
      python -m build --outdir dist && gitops-tools publish --repository-url https://gitlab.example.com/api/v4/projects/42/packages/pypi
      gitops-tools publish dist --repository-url http://127.0.0.1:8080/ -o json
      gitops-tools publish dist/shared_library-1.3.0.tar.gz --repository-url URL --index-url URL/simple/
    """
    output = output_of(obj, output)
    from gitops_tools.api import Library

    result = Library(Path("."), verbose=obj["verbose"] > 0).publish(files or ("dist",),
                                                                  repository_url=repository_url,
                                                                  index_url=index_url, timeout=timeout)
    if output == "json":
        print_json(result.as_dict())
        return
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    what = f"{result.project} {result.version}"
    if not result.published:
        click.echo(f"{what} is already on {result.index_url}: nothing to publish")
        return
    click.echo(f"uploaded {', '.join(result.uploaded)} to {result.repository_url}")
    if result.skipped:
        click.echo(f"skipped {', '.join(result.skipped)}: already on the index with the same sha256")
    listed = ", ".join(f.filename for f in result.on_index) or "nothing yet"
    click.echo(f"{what} is now on {result.index_url}: {listed}")
