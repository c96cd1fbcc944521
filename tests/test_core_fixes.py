"""What the fixes of the pure core (history, commit messages, CI trailers, checks, --since) change for a user.

Real processes and real git checkouts, as in tests/test_hardening.py; every test here failed before its fix.
The unit tests of each fix are in tests/core/.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, by_tag_only, git, kubectl, make_checkout, tree_bytes

CONFIG = """\
environments:
  - name: dev
  - name: staging
  - name: prod
    protected: true
"""

KUST = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: aegis-{env}
images:
  - name: aegis/api
    newName: registry.example.com/aegis/api
    newTag: 1.4.1
"""

API = "registry.example.com/aegis/api"
DEV = "environments/dev/kustomization.yaml"
UTC = datetime.timezone.utc


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitops_tools", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, check=False)


def ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


def at(when: datetime.datetime | str) -> dict[str, str]:
    """The environment that makes a commit (git's or the tool's) carry this author and committer date."""
    stamp = when if isinstance(when, str) else when.isoformat(timespec="seconds")
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def commit_by_hand(repo: Path, path: str, old: str, new: str, message: str, when: datetime.datetime | str | None = None,
                   ) -> str:
    file = repo / path
    text = file.read_text()
    assert text.count(old) == 1, (old, text)
    file.write_text(text.replace(old, new))
    subprocess.run(["git", "commit", "-qam", message], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, **(at(when) if when is not None else {})})
    return git(repo, "rev-parse", "HEAD").strip()


def history(repo: Path, *args: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    r = ok(run(repo, "-o", "json", "history", *args, env=env))
    events: list[dict[str, object]] = json.loads(r.stdout)["events"]
    return events


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {"gitops-tools.yaml": CONFIG}
    for env in ("dev", "staging", "prod"):
        files[f"environments/{env}/kustomization.yaml"] = KUST.format(env=env)
    return make_checkout(tmp_path / "gitops", dict(files))


# --- 1. an edit by hand does not hide behind a trailer about another environment -------------------------------


@pytest.mark.parametrize("trailer", [
    "Gitops-Change: prod aegis/api 1.4.1 -> 6.6.6",   # about prod, which the commit did not change: not believed
    "Gitops-Change: staging aegis/api 1.4.1 -> 1.4.2",  # about staging, which it changed too: believed for staging
])
def test_history_reports_an_edit_by_hand_behind_a_trailer_about_another_environment(repo: Path, trailer: str) -> None:
    staging = "staging" in trailer
    if staging:
        path = repo / "environments/staging/kustomization.yaml"
        path.write_text(path.read_text().replace("newTag: 1.4.1", "newTag: 1.4.2"))
    sha = commit_by_hand(repo, DEV, "newTag: 1.4.1", "newTag: 9.9.9",
                         f"chore: bump\n\nGitops-Action: set-image\n{trailer}\n")
    dev = history(repo, "dev")
    assert (dev[0]["commit"], dev[0]["action"], dev[0]["image"]) == (sha, "manual", None)
    if staging:  # the trailer still counts for the environment it speaks for, and that one is not manual
        newest = history(repo, "staging")[0]
        assert (newest["commit"], newest["action"], newest["new"]) == (sha, "set-image", "1.4.2")
        assert [e["action"] for e in history(repo, "staging") if e["commit"] == sha] == ["set-image"]


def test_min_age_does_not_count_from_before_a_hidden_edit_by_hand(repo: Path) -> None:
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.6.0", env=at(now - datetime.timedelta(hours=3))))
    # Twenty minutes ago dev was changed by hand (away and back), behind trailers about prod: 1.6.0 has run in dev
    # for twenty minutes, not three hours.
    disguise = "chore(prod): set aegis/api\n\nGitops-Action: set-image\nGitops-Change: prod aegis/api 1.4.0 -> 1.4.1\n"
    commit_by_hand(repo, DEV, "newTag: 1.6.0", "newTag: 1.0.0", disguise, now - datetime.timedelta(hours=2))
    commit_by_hand(repo, DEV, "newTag: 1.0.0", "newTag: 1.6.0", disguise, now - datetime.timedelta(minutes=20))
    before = tree_bytes(repo), git(repo, "rev-parse", "HEAD")
    r = run(repo, "promote", "--min-age", "1h", "dev", "staging")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", (
        f"error: no record of when aegis/api became {API}:1.6.0 in dev (its last change there has no "
        "Gitops-Change trailer saying so)\n"
        "hint: promote without --min-age, or set the image with gitops-tools so that history records it\n"))
    assert (tree_bytes(repo), git(repo, "rev-parse", "HEAD")) == before


# --- 2. trailers are read from trailer blocks only ---------------------------------------------------------------


def test_a_gitops_line_in_the_prose_of_a_hand_made_commit_is_not_a_trailer(repo: Path) -> None:
    sha = commit_by_hand(repo, DEV, "newTag: 1.4.1", "newTag: 1.4.2",
                         "Bump api by hand\n\nThis does what gitops-tools would record as\n"
                         "Gitops-Change: dev aegis/api 1.4.1 -> 1.4.2\nbut by hand.\n")
    newest = history(repo, "dev")[0]
    assert (newest["commit"], newest["action"], newest["image"]) == (sha, "manual", None)


def test_a_squash_of_a_tool_commit_and_a_hand_made_one_reads_the_tools_block(repo: Path) -> None:
    git(repo, "checkout", "-qb", "feature")
    ok(run(repo, "image", "set", "dev", "aegis/api=*:1.5.0"))
    commit_by_hand(repo, "environments/staging/kustomization.yaml", "newTag: 1.4.1", "newTag: 1.4.9",
                   "staging by hand\n\nNot a gitops-tools change, although it reads like\n"
                   "Gitops-Change: staging aegis/api 1.4.1 -> 1.4.9\nin its prose.\n")
    messages = git(repo, "log", "--reverse", "--format=%B%x00", "main..feature").split("\x00\n")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "feature")
    git(repo, "commit", "-q", "-m", "Bump (!7)\n\n" + "\n".join(m.strip() + "\n" for m in messages if m.strip()))
    squash = git(repo, "rev-parse", "HEAD").strip()
    events = [(e["env"], e["action"], e["new"]) for e in history(repo) if e["commit"] == squash]
    assert events == [("dev", "set-image", f"{API}:1.5.0"), ("staging", "manual", None)]


# --- 3. CI variables with control characters ---------------------------------------------------------------------


@pytest.mark.parametrize(("var", "value"), [
    ("CI_PIPELINE_URL", "https://gitlab.com/aegis/api/-/pipelines/7\x1b[2K"),
    ("GITLAB_USER_EMAIL", "dev\x1b]8;;https://evil.example/\x07@example.com"),
    ("CI_PIPELINE_URL", "https://gitlab.com/aegis/api/-/pipelines/7\x9b2J"),
])
def test_a_ci_variable_with_a_control_character_is_refused(repo: Path, var: str, value: str) -> None:
    before = tree_bytes(repo), git(repo, "rev-parse", "HEAD")
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2", env={var: value})
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith(f"error: {var} {value!r} contains a control character, so it would forge or break "
                               "lines of the commit message\n")
    assert (tree_bytes(repo), git(repo, "rev-parse", "HEAD")) == before


# --- 7. pipeline numbers are ASCII digits ---------------------------------------------------------------------------


def test_a_pipeline_id_of_other_digits_is_refused_not_a_crash(repo: Path) -> None:
    before = tree_bytes(repo), git(repo, "rev-parse", "HEAD")
    r = run(repo, "image", "set", "dev", "aegis/api=*:1.4.2", env={"CI_PIPELINE_ID": "\u00b2"})
    assert (r.returncode, r.stdout, r.stderr) == (1, "", (
        "error: CI_PIPELINE_ID '\u00b2' is not what GitLab CI sets (a number)\n"
        "hint: fix or unset CI_PIPELINE_ID: it goes into the commit's Gitops-Pipeline-Id trailer; nothing was "
        "written\n"))
    assert (tree_bytes(repo), git(repo, "rev-parse", "HEAD")) == before


def test_a_pipeline_trailer_of_other_digits_records_no_pipeline(repo: Path) -> None:
    sha = commit_by_hand(repo, DEV, "newTag: 1.4.1", "newTag: 3f2a1bc",
                         "chore(dev): set\n\nGitops-Action: set-image\n"
                         f"Gitops-Change: dev aegis/api {API}:1.4.1 -> {API}:3f2a1bc\nGitops-Pipeline-Id: \u00b2\n")
    r = ok(run(repo, "image", "set", "dev", "aegis/api=*:9e8d7c6", env={"CI_PIPELINE_ID": "1200"}))
    assert r.stdout.splitlines()[1] == (
        "note: environments/dev/kustomization.yaml: images[name=aegis/api].newTag: could not order 9e8d7c6 after "
        f"3f2a1bc: they are not both semver, and the commit that set it ({sha[:12]}) records no pipeline; set anyway")


# --- 6 and 8. --since: exactly what the user wrote, or a usage error --------------------------------------------


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev set to 1.4.2, 1.4.3, 1.4.4 and 1.4.5 at 23:30 the day before, 00:30, 10:00:00 and 10:30 (UTC)."""
    repo = tmp_path_factory.mktemp("dated") / "gitops"
    files = {"gitops-tools.yaml": CONFIG}
    for env in ("dev", "staging", "prod"):
        files[f"environments/{env}/kustomization.yaml"] = KUST.format(env=env)
    # module-scoped, so before tests/conftest.py isolates git for each test: isolated here the same way
    env = {"HOME": str(repo.parent), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(repo.parent / "none"),
           "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_COMMITTER_NAME": "C",
           "GIT_COMMITTER_EMAIL": "c@example.com", "GIT_TEMPLATE_DIR": ""}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        make_checkout(repo, dict(files))
        for tag, when in (("1.4.2", "2026-10-31T23:30:00+00:00"), ("1.4.3", "2026-11-01T00:30:00+00:00"),
                          ("1.4.4", "2026-11-01T10:00:00+00:00"), ("1.4.5", "2026-11-01T10:30:00+00:00")):
            ok(run(repo, "image", "set", "dev", f"aegis/api=*:{tag}", env=at(when)))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return repo


FROM_MIDNIGHT = ["1.4.5", "1.4.4", "1.4.3"]
FROM_TEN = ["1.4.5", "1.4.4"]


@pytest.mark.parametrize(("since", "tags"), [
    ("20261101", FROM_MIDNIGHT),                  # git reads it as "now"
    ("2026-11-01", FROM_MIDNIGHT),                # git: that date at the current time of day, in local time
    ("2026-W44-7", FROM_MIDNIGHT),                # Sunday of ISO week 44 is 2026-11-01
    ("2026-305", FROM_MIDNIGHT),
    ("2026-11-01T10", FROM_TEN),                  # git loses the hour
    ("2026-11-01T10:00", FROM_TEN),
    ("2026-11-01T10:00:00", FROM_TEN),            # no offset: UTC, not the machine's time zone
    ("2026-11-01T05:00:00-05:00", FROM_TEN),
    ("2026-11-01T15:30+05:30", FROM_TEN),
    ("20261101T100000Z", FROM_TEN),
    ("2026-11-01T10:00:00.5Z", ["1.4.5"]),        # after 10:00:00.5: the 10:00:00 commit is before it
    ("2026-11-01T10:00:01Z", ["1.4.5"]),
    ("2026-10-31T24:00", FROM_MIDNIGHT),
])
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_history_since_means_the_same_time_in_every_form_and_time_zone(dated: Path, since: str, tags: list[str],
                                                                      tz: str) -> None:
    events = history(dated, "dev", "--since", since, env={"TZ": tz})
    assert [str(e["new"]).rsplit(":", 1)[1] for e in events] == tags


@pytest.mark.parametrize(("since", "problem", "fix"), [
    ("10000 years", "reaches back before 1970-01-01T00:00:00+00:00, the earliest time git reads",
     "leave out --since to see the whole history"),
    ("99999999999 days", "reaches back before 1970-01-01T00:00:00+00:00, the earliest time git reads",
     "leave out --since to see the whole history"),
    ("1969-12-31", "before 1970-01-01T00:00:00+00:00, the earliest time git reads",
     "leave out --since to see the whole history"),
    ("2100-01-01", "after 2099-12-31T23:59:59+00:00, the latest time git reads",
     "give an earlier time (no change can be recorded after it)"),
    ("2026-11-01x10:00", "not a date or a time span",
     ("write a date or time (2026-11-01, 2026-11-01T10:00:00+00:00) or a span back from now (30m, 2h, 3 days, "
      "2.weeks, yesterday)")),
])
def test_history_since_out_of_what_git_reads_is_a_usage_error(dated: Path, since: str, problem: str,
                                                               fix: str) -> None:
    r = run(dated, "history", "--since", since)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"error: --since {since!r}: {problem}\nhint: {fix}\n")


# --- 4, 5 and 9. validate -------------------------------------------------------------------------------------------

CONTENT = ("base", "environments", "applications", "gitops-tools.yaml")
VALUES_TAG = "controllers.trainer.containers.main.image.tag"


@pytest.fixture
def aegis(tmp_path: Path) -> Path:
    """A git checkout of this repository's GitOps content (as tests/test_validate.py makes it)."""
    kubectl()
    dst = tmp_path / "aegis"
    dst.mkdir()
    for rel in git(ROOT, "ls-files", "-co", "--exclude-standard", *CONTENT).splitlines():
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            (dst / rel).write_bytes((ROOT / rel).read_bytes())
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "aegis")
    return by_tag_only(dst)  # these tests are about tags; digests have tests/test_digest_policy.py


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new))


def findings(repo: Path, *envs: str) -> tuple[int, list[tuple[str, str, str, str]]]:
    r = run(repo, "-o", "json", "validate", *envs)
    data = json.loads(r.stdout)
    return r.returncode, [(f["severity"], f["check"], f["where"], f["message"]) for f in data["findings"]]


@pytest.mark.parametrize("tag", ["Latest", "LATEST", "Main"])
def test_validate_fails_a_protected_environment_running_a_mutable_tag_in_any_case(aegis: Path, tag: str) -> None:
    # the rule image set applies: it refuses the tag...
    r = run(aegis, "image", "set", "prod", f"aegis/api=*:{tag}")
    assert r.returncode == 1 and f"prod is protected and refuses the mutable tag {tag!r}" in r.stderr
    # ...and validate fails prod when it got there by hand
    edit(aegis / "environments/prod/kustomization.yaml", "newTag: 1.4.0", f"newTag: {tag}")
    assert findings(aegis, "prod") == (1, [
        ("error", "mutable-tag", "Deployment/api container api",
         (f"image 'registry.gitlab.com/aegis/app/api:{tag}' uses the mutable tag {tag!r} in a protected "
          "environment; pin a version or a digest"))])


def test_validate_does_not_look_up_a_values_file_of_another_repository_here(aegis: Path) -> None:
    app = aegis / "applications/aegis-prod.yaml"
    values_file = "          - $values/environments/prod/values.yaml\n"
    edit(app, values_file, "          - $config/aegis/prod.yaml\n" + values_file)
    comment = "    # Only provides $values above; renders nothing itself.\n"
    edit(app, comment, "    - repoURL: https://gitlab.com/aegis/platform-config.git\n      targetRevision: main\n"
                       "      ref: config\n" + comment)
    assert findings(aegis) == (0, [])  # Applications are checked when validate checks every environment
    # a file of this repository through a ref is still checked
    edit(app, "$values/environments/prod/values.yaml", "$values/environments/prod/value.yaml")
    assert findings(aegis) == (1, [
        ("error", "application-path", "Application/aegis-prod spec.sources[1].helm.valueFiles",
         "$values/environments/prod/value.yaml: no file environments/prod/value.yaml in this repository")])


def test_a_missing_values_key_says_so_and_the_fix_it_gives_works(aegis: Path) -> None:
    values = aegis / "environments/staging/values.yaml"
    lines = values.read_text().splitlines(keepends=True)
    values.write_text("".join(line for line in lines if line.strip() != 'tag: "2.1.0"'))
    git(aegis, "commit", "-qam", "lost the tag")
    assert findings(aegis, "staging") == (1, [
        ("error", "values-mismatch", VALUES_TAG,
         ("is missing but the kustomization sets aegis/recommendation to '2.1.0' (tag); run gitops-tools image set "
          "staging 'aegis/recommendation=*:2.1.0' to add it"))])
    ok(run(aegis, "image", "set", "staging", "aegis/recommendation=*:2.1.0"))
    assert git(aegis, "show", "--name-only", "--format=", "HEAD") == "environments/staging/values.yaml\n"
    assert findings(aegis, "staging") == (0, [])


def test_a_values_key_following_a_tag_the_kustomization_does_not_set_says_how_to_fix_it(aegis: Path) -> None:
    edit(aegis / "environments/staging/kustomization.yaml",
         "    newName: registry.gitlab.com/aegis/app/recommendation\n    newTag: 2.1.0\n",
         "    newName: registry.gitlab.com/aegis/app/recommendation\n")
    git(aegis, "commit", "-qam", "no tag")
    code, found = findings(aegis, "staging")
    assert code == 1
    assert [f for f in found if f[1] == "values-mismatch"] == [
        ("error", "values-mismatch", VALUES_TAG,
         ("holds '2.1.0', but the kustomization sets no tag for aegis/recommendation "
          "(registry.gitlab.com/aegis/app/recommendation), so this key cannot follow it; pin a tag with gitops-tools "
          "image set staging 'aegis/recommendation=*:<tag>', or make the key follow another field (field: ref) in "
          "gitops-tools.yaml"))]
    # what the old message suggested fails; the new one, with a tag, works
    assert run(aegis, "image", "set", "staging", "aegis/recommendation=*:*").returncode == 1
    ok(run(aegis, "image", "set", "staging", "aegis/recommendation=*:2.1.0"))
    assert findings(aegis, "staging") == (0, [])
