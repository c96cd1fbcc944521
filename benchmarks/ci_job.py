#!/usr/bin/env python3
"""The CI job a service runs, end to end: `.gitops:update-image` and `.gitops:promote` under gitlab-ci-local.

    python benchmarks/ci_job.py [--baseline c740217] [--runs 5] [--out benchmarks/results/ci-job.md]

Both sides run the same job of the same service pipeline (``deploy:dev`` extends ``.gitops:update-image``,
``promote:staging`` extends ``.gitops:promote``) with ``gitlab-ci-local --force-shell-executor``, timed from the
start of ``gitlab-ci-local`` to its exit, the commit landed in a bare GitOps remote (``file://``):

- **before**: the job templates of ``--baseline`` (``git show REV:ci/templates.gitlab-ci.yml``): every job clones
  the GitOps repository and builds gitops-tools from that clone with pip;
- **after**: the templates of this working tree: every job installs the published wheel
  ``gitops-tools==GITOPS_TOOLS_VERSION`` (built here from the working tree with ``python -m build``, served by
  pypiserver on a loopback port with the job token as its password), with pip's cache.

Both sides share one warm pip cache (the first, untimed run of each side fills it), as GitLab's ``cache:`` or a
runner's cache would be after the first job. Runs alternate (before, after, after, before, ...) so that drift hits
both alike. The **floor** is the tool's own run: ``gitops-tools image set dev aegis/api=*:TAG --repo-url ...``
and ``gitops-tools promote dev staging --repo-url ...`` from the installed wheel, as the job runs them, without
gitlab-ci-local and without the install.

Standard library only, plus gitlab-ci-local and rsync on PATH and pypiserver and build importable (the test
extras). Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOB_TOKEN = "bench-job-t0ken"
SERVICE_CI = """\
include:
  - local: templates.gitlab-ci.yml
stages: [deploy, staging]
variables:
  GITOPS_IMAGE: aegis/api
deploy:dev:
  stage: deploy
  extends: .gitops:update-image
  variables:
    GITOPS_ENV: dev
promote:staging:
  stage: staging
  extends: .gitops:promote
  variables:
    GITOPS_FROM: dev
    GITOPS_TO: staging
"""


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def check(done: subprocess.CompletedProcess[str], what: str) -> str:
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


def git(cwd: Path, *args: str) -> str:
    return check(run(["git", *args], cwd=cwd), "git " + " ".join(args))


def copy_tree(dst: Path) -> Path:
    """This checkout's tracked files as they are now, committed on main of a new repository."""
    files = git(ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "source")
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_index(root: Path, wheel: Path) -> tuple[subprocess.Popen[bytes], str]:
    """pypiserver on loopback serving ``wheel``, the job token as the password of gitlab-ci-token."""
    from passlib.apache import HtpasswdFile

    packages = root / "packages"
    packages.mkdir(parents=True)
    shutil.copy2(wheel, packages / wheel.name)
    htpasswd = HtpasswdFile(str(root / "htpasswd"), new=True)
    htpasswd.set_password("gitlab-ci-token", JOB_TOKEN)
    htpasswd.save()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pypiserver", "run", "-i", "127.0.0.1", "-p", str(port),
                               "-P", str(root / "htpasswd"), "-a", "download,list,update", "--disable-fallback",
                               str(packages)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server, f"http://127.0.0.1:{port}/simple/"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("pypiserver did not start")


def service(path: Path, templates: str) -> Path:
    path.mkdir(parents=True)
    (path / "templates.gitlab-ci.yml").write_text(templates)
    (path / ".gitlab-ci.yml").write_text(SERVICE_CI)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "service")
    return path


def job(service_dir: Path, name: str, variables: dict[str, str], env: dict[str, str]) -> float:
    cmd = ["gitlab-ci-local", "--force-shell-executor", name]
    for k, v in variables.items():
        cmd += ["--variable", f"{k}={v}"]
    start = time.perf_counter()
    done = run(cmd, cwd=service_dir, env=env)
    took = time.perf_counter() - start
    check(done, f"{name} in {service_dir.name}")
    return took


def fmt(values: list[float]) -> tuple[str, str, str]:
    return (f"{statistics.median(values):.2f}", f"{min(values):.2f}", f"{max(values):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="c740217", help="the revision whose templates are 'before'")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each job on each side")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    for tool in ("gitlab-ci-local", "rsync"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH: bash ci/install-test-tools.sh installs it")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gitops-tools-ci-job-") as tmp:
        base = Path(tmp)
        source = copy_tree(base / "source")
        remote = base / "gitops.git"
        git(base, "clone", "-q", "--bare", str(source), str(remote))
        check(run([sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(source)]),
              "python -m build")
        [wheel] = (base / "dist").glob("gitops_tools-*.whl")
        server, index = start_index(base / "index", wheel)
        try:
            before_templates = git(ROOT, "show", f"{args.baseline}:ci/templates.gitlab-ci.yml")
            sides = {"before": service(base / "before", before_templates),
                     "after": service(base / "after", (ROOT / "ci/templates.gitlab-ci.yml").read_text())}
            cache = base / "pip-cache"
            env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
            env.update(PIP_CACHE_DIR=str(cache), FORCE_COLOR="0", TMPDIR=str(base))
            common = {"GITOPS_REPO_URL": f"file://{remote}", "PIP_CACHE_DIR": str(cache),
                      "GITOPS_TOOLS_INDEX_URL": index, "CI_JOB_TOKEN": JOB_TOKEN}
            times: dict[tuple[str, str], list[float]] = {}
            tag = 100

            def once(side: str, timed: bool) -> None:
                nonlocal tag
                tag += 1
                took = job(sides[side], "deploy:dev", {**common, "GITOPS_TAG": f"1.5.{tag}"}, env)
                if timed:
                    times.setdefault((side, "deploy:dev"), []).append(took)
                took = job(sides[side], "promote:staging", common, env)
                if timed:
                    times.setdefault((side, "promote:staging"), []).append(took)

            once("before", False)  # fills pip's cache for each side
            once("after", False)
            for i in range(args.runs):
                for side in (("before", "after") if i % 2 == 0 else ("after", "before")):
                    once(side, True)
            # the floor: the tool's own run, from the installed wheel, as the job runs it
            venv = base / "floor-venv"
            check(run([sys.executable, "-m", "venv", "--without-pip", str(venv)]), "venv")
            check(run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "--quiet",
                       str(wheel)], env=env), "pip install the wheel")
            tool = str(venv / "bin/gitops-tools")
            floor_env = {**env, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                         "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
            for i in range(args.runs):
                tag += 1
                start = time.perf_counter()
                check(run([tool, "image", "set", "dev", f"aegis/api=*:1.5.{tag}", "--repo-url", f"file://{remote}",
                           "--branch", "main"], cwd=base, env=floor_env), "floor image set")
                times.setdefault(("floor", "deploy:dev"), []).append(time.perf_counter() - start)
                start = time.perf_counter()
                check(run([tool, "promote", "dev", "staging", "--repo-url", f"file://{remote}", "--branch", "main"],
                          cwd=base, env=floor_env), "floor promote")
                times.setdefault(("floor", "promote:staging"), []).append(time.perf_counter() - start)
        finally:
            server.terminate()
            server.wait(timeout=10)
    lines = [
        "# The CI job a service runs, end to end (issue 15, item 1)",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- python: {platform.python_version()}; {check(run(['git', '--version']), 'git').strip()}; "
        f"gitlab-ci-local {check(run(['gitlab-ci-local', '--version']), 'gitlab-ci-local').strip()} "
        "(`--force-shell-executor`)",
        f"- CPUs: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.2f}",
        f"- before: the job templates of `{args.baseline}` (clone the GitOps repository, `pip install` gitops-tools "
        "from that clone); after: this working tree's templates (the published wheel from a loopback pypiserver, "
        "with the job token; pip's cache)",
        f"- runs: {args.runs} timed of each job on each side, alternated, after one untimed run of each side "
        "(pip's cache warm for both); floor: the tool's own run from the installed wheel, same remote",
        f"- benchmark wall time: {time.monotonic() - began:.0f} s",
        "",
        "| job | before median (s) | after median (s) | after / before | floor median (s) | after / floor | "
        "before min-max (s) | after min-max (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name in ("deploy:dev", "promote:staging"):
        b, a, f = times[("before", name)], times[("after", name)], times[("floor", name)]
        bm, am, fm = statistics.median(b), statistics.median(a), statistics.median(f)
        lines.append(f"| `{name}` | {bm:.2f} | {am:.2f} | {am / bm:.2f}x | {fm:.2f} | {am / fm:.1f}x | "
                     f"{min(b):.2f}-{max(b):.2f} | {min(a):.2f}-{max(a):.2f} |")
    lines += ["", "Times are whole `gitlab-ci-local` processes (its own start-up, about a second, included in "
              "both sides)."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
