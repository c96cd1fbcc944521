"""`gitops-tools report`: the static page of what runs where, what moved and how delivery goes.

The core (links, escaping, weekly measures) on values; the command on a copy of this repository; the page in a
real headless Chromium (Debian `chromium` and `chromium-driver`, driven by Selenium): it loads with no console
error and no request leaving the machine, shows what `status` prints, the change a bump made, a `<script>` from
git as text; its screenshot is kept in test-artifacts/report.png."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_tools.core.envstate import Cell as MatrixCell
from gitops_tools.core.envstate import Matrix
from gitops_tools.core.envstate import Row as MatrixRow
from gitops_tools.core.history import Event
from gitops_tools.core.report import build
from tests.conftest import ROOT, copy_checkout, git, tool_or_skip

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)  # a Wednesday
API = "registry.gitlab.com/aegis/app/api"
SCRIPT = '<script>document.title="pwned"</script>'
ARTIFACTS = ROOT / "test-artifacts"
BROWSER_INSTALL = "apt-get install chromium chromium-driver (bash ci/install-test-tools.sh installs them)"


def event(time: str, env: str, new: str | None, old: str | None = None, action: str = "set-image",
          commit: str = "a" * 40, author: str = "Alice <alice@example.com>", pipeline: str | None = None,
          source_time: str | None = None, image: str | None = "aegis/api") -> Event:
    return Event(time, env, image, old, new, action, author, pipeline, None, commit, source_time=source_time)


MATRIX = Matrix(("dev", "prod"), (MatrixRow("aegis/api", (MatrixCell(f"{API}:1.4.3", False),
                                                            MatrixCell(f"{API}:1.4.2", True))),))


# --- the core -----------------------------------------------------------------------------------------------

def test_each_cell_links_to_the_newest_commit_that_set_it_and_shows_what_status_prints() -> None:
    events = [event("2026-11-24T10:00:00+00:00", "dev", f"{API}:1.4.3", f"{API}:1.4.2", commit="c" * 40),
              event("2026-11-23T10:00:00+00:00", "dev", f"{API}:1.4.2", commit="b" * 40),
              event("2026-11-20T10:00:00+00:00", "dev", None, action="manual", image=None, commit="d" * 40)]
    r = build(MATRIX, events, [], "https://gitlab.com/aegis/gitops.git", NOW, weeks=0)
    dev, prod = r.rows[0].cells
    assert (dev.shown, dev.commit, dev.commit_url) == ("1.4.3", "c" * 40, f"https://gitlab.com/aegis/gitops/-/commit/{'c' * 40}")
    assert (prod.shown, prod.pending, prod.commit, prod.commit_url) == ("1.4.2", True, None, None)  # set by hand
    assert [e.commit[0] for e in dict(r.timeline)["dev"]] == ["c", "b", "d"]
    assert dict(r.timeline)["prod"] == ()


def test_only_plain_web_links_survive() -> None:
    evil = [event("2026-11-24T10:00:00+00:00", "dev", f"{API}:1.4.3", pipeline="javascript:alert(1)"),
            event("2026-11-23T10:00:00+00:00", "dev", f"{API}:1.4.2", pipeline="https://gitlab.com/a/b/-/pipelines/7")]
    r = build(MATRIX, evil, [], "/srv/git/gitops.git", NOW, weeks=0)  # a local path has no web address
    assert r.repository is None and r.rows[0].cells[0].commit_url is None
    assert [e.pipeline_url for e in dict(r.timeline)["dev"]] == [None, "https://gitlab.com/a/b/-/pipelines/7"]


def test_open_merge_requests_come_first_in_their_environment() -> None:
    request = event("2026-11-24T11:00:00+00:00", "prod", f"{API}:1.4.3", f"{API}:1.4.2", action="promote",
                    commit="e" * 40)
    r = build(MATRIX, [event("2026-11-20T10:00:00+00:00", "prod", f"{API}:1.4.2")], [request], None, NOW, weeks=0)
    assert [e.action for e in dict(r.timeline)["prod"]] == ["merge-request", "set-image"]


def test_weekly_measures_as_metrics_defines_them() -> None:
    """Two deployments to prod in the week of 2026-11-16, the second rolled back an hour later; one in the week of
    the 23rd (so far), its source commit two hours before it."""
    events = [  # newest first
        event("2026-11-24T12:00:00+00:00", "prod", f"{API}:1.5.0", f"{API}:1.4.1", source_time="2026-11-24T10:00:00+00:00"),
        event("2026-11-18T11:00:00+00:00", "prod", f"{API}:1.4.1", f"{API}:1.4.2", action="rollback"),
        event("2026-11-18T10:00:00+00:00", "prod", f"{API}:1.4.2", f"{API}:1.4.1"),
        event("2026-11-17T10:00:00+00:00", "prod", f"{API}:1.4.1", f"{API}:1.4.0"),
    ]
    weeks = build(MATRIX, events, [], None, NOW, weeks=3).weeks
    assert [w.start.isoformat() for w in weeks] == ["2026-11-09", "2026-11-16", "2026-11-23"]
    assert [w.deployments for w in weeks] == [0, 2, 1]
    assert [w.failure_rate for w in weeks] == [None, 0.5, 0.0]
    assert [w.restore_median_seconds for w in weeks] == [None, 3600.0, None]
    assert weeks[2].lead_time_median_seconds == 7200.0


def test_the_page_escapes_what_git_holds_and_draws_its_charts_inline() -> None:
    pytest.importorskip("jinja2", reason="the report extra: pip install -e '.[report]'")
    from gitops_tools.page import render

    r = build(MATRIX, [event("2026-11-24T10:00:00+00:00", "dev", f"{API}:1.4.3", author=SCRIPT)], [], None, NOW,
              weeks=4)
    page = render(r)
    assert SCRIPT not in page and "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(?!#|https://)', page)  # nothing to fetch, no link but to the web
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(svgs) == 4
    for svg in svgs:  # well-formed, with a text alternative
        root = ET.fromstring(svg)
        assert root.get("role") == "img"
        assert root.find("{http://www.w3.org/2000/svg}title") is not None
        assert "per week" in (root.find("{http://www.w3.org/2000/svg}desc").text or "")  # type: ignore[union-attr]


# --- the command ------------------------------------------------------------------------------------------

def run(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitops_tools", *args], cwd=repo, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of this repository with one bump in dev, then a commit by hand to dev whose trailer claims a change
    of an image named like a script (git keeps no angle brackets in an author's name, but a trailer's words are
    anyone's)."""
    checkout = copy_checkout(ROOT, tmp_path / "gitops")
    r = run(checkout, "image", "set", "dev", "aegis/api=*:1.4.3@sha256:" + "0123456789abcdef" * 4,
            GIT_AUTHOR_NAME="Bump Bot", GIT_AUTHOR_EMAIL="bot@example.com")
    assert r.returncode == 0, r.stderr
    kustomization = checkout / "environments/dev/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "# touched by hand\n")
    git(checkout, "commit", "-qam", f"chore: hand edit\n\nGitops-Action: set-image\nGitops-Change: dev {SCRIPT} a:1 -> a:2")
    return checkout


def test_report_writes_the_page_and_its_data_and_json_prints_the_same(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("jinja2", reason="the report extra: pip install -e '.[report]'")
    out = tmp_path / "public"
    r = run(repo, "report", "--out", str(out), "--weeks", "4")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"wrote {out}/index.html, {out}/report.json (2 image(s) x 3 environment(s), "
                        f"{_changes(repo)} change(s), 4 week(s) of measures)\n")
    written = json.loads((out / "report.json").read_text())
    printed = json.loads(run(repo, "-o", "json", "report", "--weeks", "4").stdout)
    for data in (written, printed):
        data.pop("generated")
        data.pop("files", None)
    assert written == printed
    dev = written["matrix"][0]["cells"][0]
    head = git(repo, "rev-parse", "HEAD~1").strip()  # the bump
    assert (dev["shown"], dev["commit"]) == ("1.4.3@sha256:0123456789ab…", head)
    assert [e["image"] for e in written["timeline"]["dev"][:2]] == [SCRIPT, "aegis/api"]
    assert written["timeline"]["dev"][1]["author"] == "Bump Bot <bot@example.com>"
    assert oct((out / "index.html").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_report_refuses_an_out_that_is_a_file_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("jinja2", reason="the report extra: pip install -e '.[report]'")
    target = tmp_path / "taken"
    target.write_text("mine\n")
    r = run(repo, "report", "--out", str(target))
    assert (r.returncode, r.stdout) == (2, "") and f"Directory '{target}' is a file" in r.stderr
    from gitops_tools import GitopsError, Repository

    with pytest.raises(GitopsError) as refused:  # the API says the same in its own words
        Repository(repo).report(target)
    assert (refused.value.problem, refused.value.fix) == (f"{target}: exists and is not a directory",
                                                          "give --out a directory (it is created)")
    assert target.read_text() == "mine\n"
    r = run(repo, "report", "--weeks", "600")
    assert r.returncode == 2 and "600 is not in the range 0<=x<=520" in r.stderr


def test_without_jinja2_the_page_is_refused_and_nothing_written(repo: Path, tmp_path: Path) -> None:
    """The report extra missing: a clear error naming the fix, no directory made; the data needs no Jinja2."""
    shadow = tmp_path / "shadow" / "jinja2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('jinja2 is not installed here')\n")
    out = tmp_path / "public"
    r = run(repo, "report", "--out", str(out), PYTHONPATH=str(shadow.parent))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("error: the report page needs Jinja2, which is not installed\n"
                        "hint: pip install 'gitops-tools[report]'\n")
    assert not out.exists()
    r = run(repo, "-o", "json", "report", PYTHONPATH=str(shadow.parent))
    assert r.returncode == 0 and json.loads(r.stdout)["environments"] == ["dev", "staging", "prod"]


def _changes(repo: Path) -> int:
    data = json.loads(run(repo, "-o", "json", "report", "--weeks", "0").stdout)
    return sum(len(v) for v in data["timeline"].values())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- the page in a real browser --------------------------------------------------------------------------

@pytest.fixture
def browser() -> Iterator[object]:
    tools = tool_or_skip("chromium", "chromedriver", install=BROWSER_INSTALL)
    pytest.importorskip("selenium", reason="pip install -e '.[test]'")
    from selenium import webdriver

    binary = "/usr/lib/chromium/chromium" if Path("/usr/lib/chromium/chromium").exists() else tools["chromium"]
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=tools["chromedriver"]))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_page_in_chromium(repo: Path, tmp_path: Path, browser: object) -> None:
    pytest.importorskip("jinja2", reason="the report extra: pip install -e '.[report]'")
    from selenium.webdriver.common.by import By

    driver: object = browser
    out = tmp_path / "public"
    assert run(repo, "report", "--out", str(out)).returncode == 0
    driver.get((out / "index.html").as_uri())  # type: ignore[attr-defined]
    assert driver.title == "What runs where — gitops-tools report"  # type: ignore[attr-defined]
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]  # type: ignore[attr-defined]
    assert errors == []
    messages = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]  # type: ignore[attr-defined]
    requested = {m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"}
    assert requested == {(out / "index.html").as_uri()}  # nothing else, and nothing off this machine

    # the matrix shows what `status` prints
    status = run(repo, "status").stdout.splitlines()
    header = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#matrix thead th")]  # type: ignore[attr-defined]
    assert header == ["Image", *status[0].split()[1:]]
    for line, tr in zip(status[1:3], driver.find_elements(By.CSS_SELECTOR, "#matrix tbody tr")):  # type: ignore[attr-defined]
        shown = [tr.find_element(By.TAG_NAME, "th").text] + [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        assert shown == re.split(r"  +", line.strip())

    # dev's newest changes: the script of a trailer shown as text and never run, then the bump
    rows = driver.find_elements(By.CSS_SELECTOR, "#timeline table")[0].find_elements(By.CSS_SELECTOR, "tbody tr")  # type: ignore[attr-defined]
    crafted, bump = ([td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows[:2])
    assert crafted[1] == SCRIPT
    assert bump[1:5] == ["aegis/api", "1.4.2@sha256:4860d680a863… → 1.4.3@sha256:0123456789ab…", "set-image",
                         "Bump Bot <bot@example.com>"]
    assert driver.find_elements(By.TAG_NAME, "script") == []  # type: ignore[attr-defined]
    assert driver.execute_script("return document.title") != "pwned"  # type: ignore[attr-defined]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#measures svg[role=img]")) == 4  # type: ignore[attr-defined]

    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "report.png"))  # type: ignore[attr-defined]
