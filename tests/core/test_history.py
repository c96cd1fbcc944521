"""gitops_tools.core.history on plain values: commit records in, events and --since arguments out."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.core.changes import Change, ImageUpdate, commit_message
from gitops_tools.core.history import Event, events, since_argument, since_when, who_set
from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import UsageError

PATHS = {"dev": "environments/dev", "staging": "environments/staging", "prod": "environments/prod"}
KUST = "environments/{}/kustomization.yaml"
ANN = "Ann <ann@example.com>"
T0 = "2026-01-01T10:00:00+00:00"
URL = "https://gitlab.com/aegis/api/-/pipelines/7"
SOURCE = "0123456789abcdef0123456789abcdef01234567"
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 10, 12, 30, 15, tzinfo=UTC)


def commit(sha: str, body: str, *files: str, parents: tuple[str, ...] = ("p",), date: str = T0) -> CommitRecord:
    """A commit as the git edge reads it (by keyword: the record's field order is not this test's business)."""
    return CommitRecord(sha=sha, message=body, files=files, parents=parents, date=date, author="Ann",
                        email="ann@example.com")


def manual(sha: str, env: str) -> Event:
    """What a commit without trailers that touched ``env`` reports (no image, no values)."""
    return Event(T0, env, None, None, None, "manual", ANN, None, None, sha)


def gitops(sha: str, env: str, image: str, old: str | None, new: str | None, action: str = "set-image",
           pipeline: str | None = None, source: str | None = None, pipeline_id: str | None = None,
           pipeline_iid: str | None = None, project: str | None = None) -> Event:
    return Event(T0, env, image, old, new, action, ANN, pipeline, source, sha, pipeline_id, pipeline_iid, project)


SET_API = (
    "chore(dev): set aegis/api 1.4.1 -> 1.4.2\n\n"
    "- environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 1.4.1 -> 1.4.2\n\n"
    "Gitops-Action: set-image\n"
    "Gitops-Change: dev aegis/api 1.4.1 -> 1.4.2\n"
)


# --- events: gitops-tools commits ----------------------------------------------------------------------------


def test_a_gitops_commit_gives_one_event_with_its_ci_trailers() -> None:
    body = SET_API + (f"Gitops-Source-Project: aegis/api\nGitops-Source-Commit: {SOURCE}\nGitops-Pipeline: {URL}\n"
                      "Gitops-Pipeline-Id: 1200\nGitops-Pipeline-Iid: 200\nGitops-Triggered-By: dev@example.com\n")
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [
        gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2", "set-image", URL, SOURCE, "1200", "200", "aegis/api"),
    ]


def test_none_means_added_or_removed() -> None:
    body = ("Gitops-Action: set-image\n"
            "Gitops-Change: dev aegis/web (none) -> 0.1.0\n"
            "Gitops-Change: dev aegis/old 2.0.0 -> (none)\n")
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [
        gitops("c1", "dev", "aegis/web", None, "0.1.0"),
        gitops("c1", "dev", "aegis/old", "2.0.0", None),
    ]


def test_a_squash_of_several_messages_keeps_each_blocks_action_and_pipeline() -> None:
    body = (
        "Release 1.5.0 to staging\n\n"
        "chore(dev): set aegis/api 1.4.2 -> 1.5.0\n\n"
        "- environments/dev/kustomization.yaml: images[name=aegis/api].newTag: 1.4.2 -> 1.5.0\n\n"
        "Gitops-Action: set-image\n"
        "Gitops-Change: dev aegis/api 1.4.2 -> 1.5.0\n"
        f"Gitops-Pipeline: {URL}\n"
        "Gitops-Pipeline-Id: 1200\n\n"
        "chore(staging): promote 2 images (aegis/api, aegis/rec)\n\n"
        "Gitops-Action: promote\n"
        "Gitops-Change: staging aegis/api 1.4.1 -> 1.5.0\n"
        "Gitops-Change: staging aegis/rec 2.0.3 -> 2.1.0\n"
    )
    c = commit("sq", body, KUST.format("dev"), KUST.format("staging"))
    assert events([c], PATHS) == [
        gitops("sq", "dev", "aegis/api", "1.4.2", "1.5.0", "set-image", URL, pipeline_id="1200"),
        gitops("sq", "staging", "aegis/api", "1.4.1", "1.5.0", "promote"),
        gitops("sq", "staging", "aegis/rec", "2.0.3", "2.1.0", "promote"),
    ]
    assert events([c], PATHS, env="staging", image="aegis/api") == [
        gitops("sq", "staging", "aegis/api", "1.4.1", "1.5.0", "promote")]


def test_a_block_without_an_action_line_starts_at_its_first_trailer_and_is_a_set_image() -> None:
    body = f"bump\n\nGitops-Pipeline: {URL}\nGitops-Change: dev aegis/api 1 -> 2\n"
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [
        gitops("c1", "dev", "aegis/api", "1", "2", "set-image", URL)]


def test_malformed_change_trailers_are_not_events_and_the_commit_counts_as_manual() -> None:
    body = ("Gitops-Action: set-image\n"
            "Gitops-Change: dev aegis/api 1.4.2\n"        # no arrow
            "Gitops-Change: dev aegis/api 1.4.1 ->\n"     # no new value
            "Gitops-Change: dev 1.4.1 -> 1.4.2\n")        # no image
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [manual("c1", "dev")]


def test_events_keep_the_order_of_the_log_and_the_commit_time() -> None:
    old = commit("c1", SET_API, KUST.format("dev"), date="2026-01-01T09:00:00+00:00")
    new = commit("c2", SET_API.replace("1.4.1 -> 1.4.2", "1.4.2 -> 1.4.3"), KUST.format("dev"),
                 date="2026-01-02T09:00:00+01:00")
    assert events([new, old], PATHS) == [
        gitops("c2", "dev", "aegis/api", "1.4.2", "1.4.3")._replace(time="2026-01-02T09:00:00+01:00"),
        gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2")._replace(time="2026-01-01T09:00:00+00:00"),
    ]


# --- events: what a commit did not change is not believed ----------------------------------------------------


def test_a_trailer_about_an_environment_the_commit_did_not_touch_is_ignored() -> None:
    body = SET_API + "Gitops-Change: prod aegis/api 1.4.1 -> 6.6.6\n"
    c = commit("c1", body, KUST.format("dev"))
    assert events([c], PATHS) == [gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2")]
    assert events([c], PATHS, env="prod") == []


def test_a_trailer_for_a_directory_that_is_not_an_environment_needs_a_change_in_that_directory() -> None:
    body = "Gitops-Action: set-image\nGitops-Change: overlays/x api 1.0.0 -> 2.0.0\n"
    assert events([commit("c1", body, "overlays/x/kustomization.yaml")], PATHS) == [
        gitops("c1", "overlays/x", "api", "1.0.0", "2.0.0")]
    assert events([commit("c2", body, "overlays/xy/kustomization.yaml")], PATHS) == []


def test_a_file_in_a_sibling_directory_with_the_same_prefix_is_not_in_the_environment() -> None:
    assert events([commit("c1", SET_API, "environments/dev-old/kustomization.yaml")], PATHS) == []
    assert events([commit("c2", "hand edit", "environments/dev-old/kustomization.yaml", "README.md")], PATHS) == []


def test_an_environment_path_with_a_trailing_slash_still_matches() -> None:
    assert events([commit("c1", SET_API, KUST.format("dev"))], {"dev": "environments/dev/"}) == [
        gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2")]


def test_an_environment_at_the_root_of_the_repository_is_touched_by_any_change() -> None:
    body = "Gitops-Action: set-image\nGitops-Change: root api 1.0.0 -> 2.0.0\n"
    assert events([commit("c1", body, "kustomization.yaml")], {"root": "."}) == [
        gitops("c1", "root", "api", "1.0.0", "2.0.0")]
    assert events([commit("c2", "docs\n", "README.md")], {"root": "."}) == [manual("c2", "root")]
    assert events([commit("c3", "docs\n", "docs/x.md")], {"root": ""}) == [manual("c3", "root")]


@pytest.mark.parametrize("body", [
    "Gitops-Action: set-image\nGitops-Change: prod aegis/api 1.4.1 -> 6.6.6\n",  # claims prod, changed dev only
    SET_API.replace(" dev ", " staging "),                                       # claims staging, changed dev too
], ids=["claims-prod", "claims-staging"])
def test_an_edit_by_hand_is_reported_even_when_the_message_has_trailers_about_other_environments(body: str) -> None:
    c = commit("c1", body, KUST.format("dev"), KUST.format("staging"))
    assert manual("c1", "dev") in events([c], PATHS)


def test_each_environment_a_commit_changed_is_either_recorded_or_manual() -> None:
    body = SET_API.replace(" dev ", " staging ")
    c = commit("c1", body, KUST.format("dev"), KUST.format("staging"), KUST.format("prod"))
    staging = gitops("c1", "staging", "aegis/api", "1.4.1", "1.4.2")
    assert events([c], PATHS) == [staging, manual("c1", "dev"), manual("c1", "prod")]
    assert events([c], PATHS, env="dev") == [manual("c1", "dev")]
    assert events([c], PATHS, env="staging") == [staging]  # covered by its trailer: not also manual
    # a trailer covers its environment whatever the filters: another image's trailer still says "not by hand"
    assert events([c], PATHS, env="staging", image="aegis/rec") == []
    # a claim about prod is not believed when the commit did not change prod, and covers nothing
    forged = commit("c2", body + "Gitops-Change: prod aegis/api 1.4.0 -> 6.6.6\n", KUST.format("dev"),
                    KUST.format("staging"))
    assert events([forged], PATHS) == [staging._replace(commit="c2"), manual("c2", "dev")]


def test_a_trailer_for_an_overlay_inside_an_environment_speaks_for_that_overlay_only() -> None:
    body = "Gitops-Action: set-image\nGitops-Change: environments/dev/overlays/x api 1.0.0 -> 2.0.0\n"
    overlay = gitops("c1", "environments/dev/overlays/x", "api", "1.0.0", "2.0.0")
    assert events([commit("c1", body, "environments/dev/overlays/x/kustomization.yaml")], PATHS) == [overlay]
    # the commit also changed dev outside the overlay: by hand
    both = commit("c1", body, "environments/dev/overlays/x/kustomization.yaml", "environments/dev/patch.yaml")
    assert events([both], PATHS) == [overlay, manual("c1", "dev")]


def test_a_merge_commit_reports_no_edit_by_hand_even_beside_its_own_trailers() -> None:
    merge = commit("m", SET_API, KUST.format("dev"), KUST.format("staging"), parents=("a", "b"))
    assert events([merge], PATHS) == [gitops("m", "dev", "aegis/api", "1.4.1", "1.4.2")]


# --- events: trailers are read from trailer blocks only ------------------------------------------------------


@pytest.mark.parametrize("body", [
    # in the list of changes (what a key path with a line break would have added)
    ("chore(dev): set aegis/api 1 -> 2\n\n- environments/dev/kustomization.yaml: x\n"
     "Gitops-Change: dev aegis/web 1 -> 6.6.6\n\nGitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"),
    # in prose before the trailer block
    ("chore(dev): set aegis/api 1 -> 2\n\nThis reverts the bad\nGitops-Change: dev aegis/web 1 -> 6.6.6\nline.\n\n"
     "Gitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"),
    # in the trailer paragraph, behind a line that is not a trailer (so it is no trailer block)
    ("chore(dev): x\n\nGitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\nnot a trailer\n"
     "Gitops-Change: dev aegis/web 1 -> 6.6.6\n\nGitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"),
    # behind Unicode line breaks that git does not split at
    ("chore(dev): set\n\nGitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"
     "Gitops-Pipeline: x\u2028Gitops-Change: dev aegis/web 1 -> 6.6.6\n\n"
     "Gitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"),
    ("chore(dev): set\n\nGitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"
     "Gitops-Pipeline: x\x85Gitops-Change: dev aegis/web 1 -> 6.6.6\n\n"
     "Gitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\n"),
], ids=["body-list", "prose", "mixed-paragraph", "u2028", "x85"])
def test_gitops_lines_outside_a_trailer_block_are_not_trailers(body: str) -> None:
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [gitops("c1", "dev", "aegis/api", "1", "2")]


def test_a_subject_that_looks_like_a_trailer_is_not_read_when_a_body_follows() -> None:
    body = "Gitops-Change: dev aegis/web 1 -> 6.6.6\nsaid the subject\n\njust prose\n"
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [manual("c1", "dev")]


def test_a_trailer_block_may_hold_other_trailers_and_a_cherry_pick_note() -> None:
    body = (SET_API + "Signed-off-by: Ann <ann@example.com>\nCo-authored-by: Bob <bob@example.com>\n"
            "(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)\n")
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2")]


def test_trailer_blocks_with_crlf_line_ends_and_trailing_blanks_are_read() -> None:
    body = SET_API.replace("\n", "\r\n").replace("1.4.2\r\n", "1.4.2  \r\n") + "\r\n \r\n"
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2")]


def test_each_message_of_a_squash_ends_with_its_own_block() -> None:
    # GitLab's squash of three commits: the second one was by hand, its message has no trailer block
    body = ("Bump dev (!42)\n\n"
            "chore(dev): set aegis/api 1 -> 2\n\n- environments/dev/kustomization.yaml: images[name=aegis/api].newTag: "
            "1 -> 2\n\nGitops-Action: set-image\nGitops-Change: dev aegis/api 1 -> 2\nGitops-Pipeline-Id: 7\n\n"
            "fix typo by hand\n\nIt said Gitops-Change: dev aegis/web 1 -> 6.6.6 somewhere.\n\n"
            "chore(staging): promote aegis/api 1 -> 2\n\nGitops-Action: promote\nGitops-Change: staging aegis/api 1 -> 2\n\n"
            "See merge request aegis/gitops!42\n")
    c = commit("sq", body, KUST.format("dev"), KUST.format("staging"))
    assert events([c], PATHS) == [gitops("sq", "dev", "aegis/api", "1", "2", pipeline_id="7"),
                                  gitops("sq", "staging", "aegis/api", "1", "2", "promote")]


# --- events: manual commits, merge commits, filters ----------------------------------------------------------


def test_a_commit_without_trailers_is_manual_in_each_environment_it_touched_sorted_by_name() -> None:
    c = commit("c1", "hand edit\n", KUST.format("prod"), "README.md", KUST.format("dev"), "environments/dev/x.yaml")
    assert events([c], PATHS) == [manual("c1", "dev"), manual("c1", "prod")]
    assert events([c], PATHS, env="prod") == [manual("c1", "prod")]
    assert events([c], PATHS, image="aegis/api") == []  # a manual commit names no image: --image leaves it out
    assert events([commit("c2", "docs\n", "README.md")], PATHS) == []


def test_a_root_commit_without_parents_is_manual_too() -> None:
    assert events([commit("c0", "initial\n", KUST.format("dev"), parents=())], PATHS) == [manual("c0", "dev")]


def test_a_merge_commit_without_trailers_adds_no_event() -> None:
    merge = commit("m", "Merge branch 'feature'\n", KUST.format("dev"), parents=("a", "b"))
    feature = commit("f", SET_API, KUST.format("dev"))
    assert events([merge, feature], PATHS) == [gitops("f", "dev", "aegis/api", "1.4.1", "1.4.2")]


def test_a_merge_commit_with_trailers_of_its_own_is_believed_for_what_it_changed() -> None:
    merge = commit("m", SET_API, KUST.format("dev"), parents=("a", "b"))
    assert events([merge], PATHS) == [gitops("m", "dev", "aegis/api", "1.4.1", "1.4.2")]


def test_filters_by_environment_and_image() -> None:
    body = ("Gitops-Action: promote\n"
            "Gitops-Change: staging aegis/api 1.4.1 -> 1.4.2\n"
            "Gitops-Change: staging aegis/rec 2.0.3 -> 2.1.0\n")
    log = [commit("c2", body, KUST.format("staging")), commit("c1", SET_API, KUST.format("dev"))]
    api_staging = gitops("c2", "staging", "aegis/api", "1.4.1", "1.4.2", "promote")
    rec_staging = gitops("c2", "staging", "aegis/rec", "2.0.3", "2.1.0", "promote")
    api_dev = gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2")
    assert events(log, PATHS) == [api_staging, rec_staging, api_dev]
    assert events(log, PATHS, env="staging") == [api_staging, rec_staging]
    assert events(log, PATHS, image="aegis/api") == [api_staging, api_dev]
    assert events(log, PATHS, env="dev", image="aegis/rec") == []
    assert events(log, PATHS, image="aegis/nope") == []


def test_event_as_dict() -> None:
    assert gitops("c1", "dev", "aegis/api", None, "1.0", project="aegis/api").as_dict() == {
        "time": T0, "env": "dev", "image": "aegis/api", "old": None, "new": "1.0", "action": "set-image",
        "author": ANN, "pipeline": None, "source_commit": None, "commit": "c1", "pipeline_id": None,
        "pipeline_iid": None, "source_project": "aegis/api", "source_time": None}


# --- events read back what commit_message writes -------------------------------------------------------------

_WORD = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,15}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(scope=st.sampled_from(sorted(PATHS)), action=st.sampled_from(["set-image", "promote", "rollback"]),
       changes=st.dictionaries(_WORD, st.tuples(st.none() | _WORD, st.none() | _WORD), min_size=1, max_size=6),
       pipeline_id=st.none() | st.from_regex(r"[0-9]{1,20}", fullmatch=True))
def test_events_read_back_every_change_commit_message_writes(
    scope: str, action: str, changes: dict[str, tuple[str | None, str | None]], pipeline_id: str | None
) -> None:
    file = KUST.format(scope)
    updates = [ImageUpdate(image, old, new, "updated", (Change(file, f"images[name={image}].newTag", old, new),))
               for image, (old, new) in changes.items()]
    trailers = [("Gitops-Pipeline-Id", pipeline_id)] if pipeline_id else []
    body = commit_message(scope, action, updates, extra_trailers=trailers)
    assert events([commit("c1", body, file)], PATHS) == [
        gitops("c1", scope, image, old, new, action, pipeline_id=pipeline_id)
        for image, (old, new) in sorted(changes.items())
    ]


# --- since_argument ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    # dates and times become an explicit ISO 8601 time with its offset; a date alone is midnight UTC
    ("2026-11-01", "2026-11-01T00:00:00+00:00"),
    ("  2026-11-01 ", "2026-11-01T00:00:00+00:00"),
    ("2026-11-01T10:00:00+00:00", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01T10:00:00z", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01t10:00:00Z", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01T10:00:00-05:00", "2026-11-01T10:00:00-05:00"),
    # spans back from now become an exact time
    ("30m", "2026-11-10T12:00:15+00:00"),
    ("45 seconds", "2026-11-10T12:29:30+00:00"),
    ("10 SECS", "2026-11-10T12:30:05+00:00"),
    ("2h", "2026-11-10T10:30:15+00:00"),
    ("1 hour ago", "2026-11-10T11:30:15+00:00"),
    ("3 days ago", "2026-11-07T12:30:15+00:00"),
    ("3days", "2026-11-07T12:30:15+00:00"),
    ("2.weeks", "2026-10-27T12:30:15+00:00"),
    ("2.weeks.ago", "2026-10-27T12:30:15+00:00"),
    ("1w", "2026-11-03T12:30:15+00:00"),
    ("1 month", "2026-10-11T12:30:15+00:00"),      # 30 days
    ("2 months ago", "2026-09-11T12:30:15+00:00"),
    ("1 year", "2025-11-10T12:30:15+00:00"),       # 365 days
    ("0m", "2026-11-10T12:30:15+00:00"),
    ("yesterday", "2026-11-09T12:30:15+00:00"),    # 24 hours ago, not yesterday's midnight
    ("Yesterday", "2026-11-09T12:30:15+00:00"),
    ("today", "2026-11-10T00:00:00+00:00"),        # today's midnight
    ("now", "2026-11-10T12:30:15+00:00"),
])
def test_since_argument_accepts_dates_and_spans(text: str, expected: str) -> None:
    assert since_argument(text, NOW) == expected


def test_since_argument_counts_from_now_in_its_own_offset_to_the_second() -> None:
    now = datetime.datetime(2026, 11, 10, 1, 30, 15, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert (since_argument("30m", now), since_argument("today", now)) == (
        "2026-11-10T01:00:15+02:00", "2026-11-10T00:00:00+02:00")


@pytest.mark.parametrize("text", [
    "", "   ", "not a date", "2026-13-45", "2026-02-30", "yesterdayish", "-3 days", "3 fortnights", "ago",
    "1 hr", "3 days from now", "in 3 days", "3", "days", "2.5 days", "tomorrow", "1 mo",
    "\uff13 days", "\u0663 days",  # only ASCII digits
])
def test_since_argument_refuses_what_git_would_read_as_now(text: str) -> None:
    with pytest.raises(UsageError) as info:
        since_argument(text, NOW)
    err = info.value
    assert (err.problem, err.fix, err.exit_code) == (
        f"--since {text!r}: not a date or a time span",
        ("write a date or time (2026-11-01, 2026-11-01T10:00:00+00:00) or a span back from now "
        "(30m, 2h, 3 days, 2.weeks, yesterday)"), 2)


@pytest.mark.parametrize("text", ["10000 years", "99999999999 days", "100 years", "9" * 40 + "s"])
def test_since_argument_refuses_a_span_too_long_for_a_date(text: str) -> None:
    with pytest.raises(UsageError) as info:
        since_argument(text, NOW)
    err = info.value
    assert (err.problem, err.fix, err.exit_code) == (
        f"--since {text!r}: reaches back before 1970-01-01T00:00:00+00:00, the earliest time git reads",
        "leave out --since to see the whole history", 2)


def test_since_argument_reaches_back_to_1970_and_no_further() -> None:
    span = int((NOW - datetime.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    assert since_argument(f"{span}s", NOW) == "1970-01-01T00:00:00+00:00"
    with pytest.raises(UsageError):
        since_argument(f"{span + 1}s", NOW)


@pytest.mark.parametrize(("text", "expected"), [
    # forms git misreads, written out exactly
    ("20261101", "2026-11-01T00:00:00+00:00"),                    # git: "now"
    ("2026-W44-1", "2026-10-26T00:00:00+00:00"),                  # ISO week 44, Monday
    ("2026-W44", "2026-10-26T00:00:00+00:00"),                    # the week alone: its Monday
    ("2026W447", "2026-11-01T00:00:00+00:00"),
    ("2026-W53-7", "2027-01-03T00:00:00+00:00"),                  # 2026 has 53 ISO weeks
    ("2026-305", "2026-11-01T00:00:00+00:00"),                    # ordinal date
    ("2024-366", "2024-12-31T00:00:00+00:00"),
    ("2026-11-01T10", "2026-11-01T10:00:00+00:00"),               # git: loses the hour
    ("2026-11-01T10:30", "2026-11-01T10:30:00+00:00"),
    ("2026-11-01 10:30:15", "2026-11-01T10:30:15+00:00"),         # no offset: UTC
    ("20261101T103015Z", "2026-11-01T10:30:15+00:00"),
    ("2026-11-01T1030+0530", "2026-11-01T10:30:00+05:30"),
    ("2026-11-01T10:30:00+05", "2026-11-01T10:30:00+05:00"),
    ("2026-11-01T10:00:00.000Z", "2026-11-01T10:00:00+00:00"),
    ("2026-11-01T10:00:00.5Z", "2026-11-01T10:00:01+00:00"),       # commit times are whole seconds
    ("2026-11-01T10:00:00,0000001-05:00", "2026-11-01T10:00:01-05:00"),
    ("2026-11-01T24:00", "2026-11-02T00:00:00+00:00"),            # the end of the day
    ("2026-12-31T24:00:00Z", "2027-01-01T00:00:00+00:00"),
    # the edges of what git reads; an offset that would put the date outside them is written in UTC
    ("1970-01-01", "1970-01-01T00:00:00+00:00"),
    ("1969-12-31T23:00:00-05:00", "1970-01-01T04:00:00+00:00"),
    ("2099-12-31T23:59:59Z", "2099-12-31T23:59:59+00:00"),
    ("2100-01-01T01:00:00+02:00", "2099-12-31T23:00:00+00:00"),
])
def test_since_argument_writes_every_date_out_exactly(text: str, expected: str) -> None:
    assert since_argument(text, NOW) == expected
    # what it returns reads back as the same time, and is what it returns for itself
    assert since_argument(expected, NOW) == expected
    assert datetime.datetime.fromisoformat(expected).utcoffset() is not None


@pytest.mark.parametrize("text", [
    "2026-11-01x10:00", "2026-11-01T10:00:00 +00:00", "2026-11-01T", "2026-11", "2026", "26-11-01",
    "2026-11-01T10:00:00+24:00", "2026-11-01T10:00:00+05:30:15", "2026-11-01T10:60", "2026-11-01T24:30",
    "2026-11-01T23:59:60Z", "2026-W54", "2026-W00-1", "2026-W44-8", "2026-366", "2026-000", "2026-11-01T10.5",
    "2026-11-01T10:30.5", "+2026-11-01", "2026-11-01/2026-11-02", "P1D", "2026-11-01T10:00:00+00:00Z",
    "２０２６-11-01", "2026-11-0١",
])
def test_since_argument_refuses_iso_forms_it_cannot_write_out_exactly(text: str) -> None:
    with pytest.raises(UsageError) as info:
        since_argument(text, NOW)
    assert info.value.problem == f"--since {text!r}: not a date or a time span"


@pytest.mark.parametrize(("text", "problem", "fix"), [
    ("1969-12-31", "before 1970-01-01T00:00:00+00:00, the earliest time git reads",
     "leave out --since to see the whole history"),
    ("0001-01-01", "before 1970-01-01T00:00:00+00:00, the earliest time git reads",
     "leave out --since to see the whole history"),
    ("1970-01-01T01:00:00+02:00", "before 1970-01-01T00:00:00+00:00, the earliest time git reads",
     "leave out --since to see the whole history"),
    ("2100-01-01", "after 2099-12-31T23:59:59+00:00, the latest time git reads",
     "give an earlier time (no change can be recorded after it)"),
    ("9999-12-31T24:00", "after 2099-12-31T23:59:59+00:00, the latest time git reads",
     "give an earlier time (no change can be recorded after it)"),  # past datetime's last day
])
def test_since_argument_refuses_times_git_cannot_read(text: str, problem: str, fix: str | None) -> None:
    with pytest.raises(UsageError) as info:
        since_argument(text, NOW)
    assert info.value.problem == f"--since {text!r}: {problem}"
    if fix is not None:
        assert info.value.fix == fix


def test_since_argument_takes_a_naive_now_as_utc() -> None:
    assert since_argument("30m", NOW.replace(tzinfo=None)) == "2026-11-10T12:00:15+00:00"


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(2099, 12, 30),
                    timezones=st.sampled_from([UTC, datetime.timezone(datetime.timedelta(hours=-5)),
                                               datetime.timezone(datetime.timedelta(hours=5, minutes=45))])))
def test_since_argument_keeps_every_time_exactly(when: datetime.datetime) -> None:
    whole = when.replace(microsecond=0)
    expected = whole + datetime.timedelta(seconds=1) if when.microsecond else whole  # the next whole second
    extended = when.isoformat()  # 2026-11-01T10:30:15[.ffffff]+05:45
    basic = extended[:10].replace("-", "") + extended[10:].replace(":", "")  # 20261101T103015[.ffffff]+0545
    for text in (extended, when.isoformat(sep=" "), basic):
        out = since_argument(text, NOW)
        assert datetime.datetime.fromisoformat(out) == expected
        assert out.endswith(extended[-6:])  # the offset given is kept


# --- since_when ----------------------------------------------------------------------------------------------


def _change(env: str, image: str, old: str, new: str) -> str:
    return f"chore({env}): set\n\nGitops-Action: set-image\nGitops-Change: {env} {image} {old} -> {new}\n"


# newest first, as git log gives them
REC_22 = commit("c4", _change("dev", "aegis/rec", "2.1.0", "2.2.0"), KUST.format("dev"))
API_16 = commit("c3", _change("dev", "aegis/api", "1.5.0", "1.6.0"), KUST.format("dev"))
STAGING_BY_HAND = commit("c2", "hand edit\n", KUST.format("staging"))
API_15 = commit("c1", _change("dev", "aegis/api", "1.4.2", "1.5.0"), KUST.format("dev"))
ROOT = commit("c0", "initial\n", KUST.format("dev"), KUST.format("staging"), parents=())
LOG = [REC_22, API_16, STAGING_BY_HAND, API_15, ROOT]


def test_since_when_finds_the_commit_that_set_the_running_value() -> None:
    assert since_when(LOG, "dev", "environments/dev", "aegis/api", "1.6.0") is API_16
    assert since_when(LOG, "dev", "environments/dev", "aegis/rec", "2.2.0") is REC_22


def test_since_when_does_not_count_a_value_that_was_replaced_since() -> None:
    assert since_when(LOG, "dev", "environments/dev", "aegis/api", "1.5.0") is None


def test_since_when_stops_at_an_edit_by_hand_of_the_environment() -> None:
    by_hand = commit("c5", "hand edit\n", KUST.format("dev"))
    assert since_when([by_hand, *LOG], "dev", "environments/dev", "aegis/api", "1.6.0") is None
    # the image was never recorded: the walk reaches the initial commit, which was by hand
    assert since_when(LOG, "dev", "environments/dev", "aegis/web", "0.1.0") is None


def test_since_when_ignores_other_environments_and_trailers_the_commit_did_not_make() -> None:
    assert since_when(LOG, "staging", "environments/staging", "aegis/api", "1.6.0") is None
    forged = commit("c5", _change("dev", "aegis/api", "1.6.0", "1.7.0"), KUST.format("staging"))
    assert since_when([forged, *LOG], "dev", "environments/dev", "aegis/api", "1.7.0") is None
    assert since_when([forged, *LOG], "dev", "environments/dev", "aegis/api", "1.6.0") is API_16


def test_since_when_of_an_empty_history() -> None:
    assert since_when([], "dev", "environments/dev", "aegis/api", "1.6.0") is None


def test_since_when_does_not_trust_history_across_a_hidden_edit_by_hand() -> None:
    hidden = commit("c5", _change("prod", "aegis/api", "1.4.0", "6.6.6"), KUST.format("dev"))
    assert since_when([hidden, *LOG], "dev", "environments/dev", "aegis/api", "1.6.0") is None
    # the same, behind a believed trailer about staging (the commit changed staging and dev)
    hidden = commit("c5", _change("staging", "aegis/api", "1.4.0", "1.6.0"), KUST.format("dev"), KUST.format("staging"))
    assert since_when([hidden, *LOG], "dev", "environments/dev", "aegis/api", "1.6.0") is None
    assert since_when([hidden, *LOG], "staging", "environments/staging", "aegis/api", "1.6.0") is hidden


# --- who_set -------------------------------------------------------------------------------------------------

SHA_NEW = "a" * 40
SHA_HAND = "b" * 40


def test_who_set_returns_the_event_that_set_the_value() -> None:
    log = [commit("c2", _change("dev", "aegis/api", "1", "2") + "Gitops-Pipeline-Id: 1200\n", KUST.format("dev")),
           ROOT]
    for shallow in (False, True):
        assert who_set(log, "dev", "environments/dev", "aegis/api", "2", shallow) == gitops(
            "c2", "dev", "aegis/api", "1", "2", pipeline_id="1200")


def test_who_set_says_why_history_cannot_tell() -> None:
    api = commit(SHA_NEW, _change("dev", "aegis/api", "1", "2"), KUST.format("dev"))
    by_hand = commit(SHA_HAND, "hand edit\n", KUST.format("dev"))
    assert who_set([api, ROOT], "dev", "environments/dev", "aegis/api", "3", False) == (
        "history's last change of it (commit aaaaaaaaaaaa) does not match the file")
    assert who_set([by_hand, api], "dev", "environments/dev", "aegis/api", "2", True) == (
        "it was last changed without gitops-tools (commit bbbbbbbbbbbb)")
    assert who_set([commit("c1", "docs\n", "README.md")], "dev", "environments/dev", "aegis/api", "2", False) == (
        "no commit in history says which pipeline set it")
    # other images and other environments are walked past
    rec = commit("c3", _change("dev", "aegis/rec", "1", "2"), KUST.format("dev"))
    staging = commit("c4", "hand edit\n", KUST.format("staging"))
    assert who_set([staging, rec, api], "dev", "environments/dev", "aegis/api", "2", False) == gitops(
        SHA_NEW, "dev", "aegis/api", "1", "2")


def test_who_set_in_a_shallow_clone_does_not_take_its_edge_for_an_edit_by_hand() -> None:
    edge = commit("c0", "whatever came before\n", KUST.format("dev"), parents=())
    assert who_set([edge], "dev", "environments/dev", "aegis/api", "2", True) is None
    assert who_set([commit("c1", "docs\n", "README.md")], "dev", "environments/dev", "aegis/api", "2", True) is None
    # without --depth, a root commit is an edit by hand like any other
    assert who_set([edge], "dev", "environments/dev", "aegis/api", "2", False) == (
        "it was last changed without gitops-tools (commit c0)")


def test_who_set_does_not_trust_history_across_a_hidden_edit_by_hand() -> None:
    hidden = commit(SHA_HAND, _change("prod", "aegis/api", "1.4.0", "6.6.6"), KUST.format("dev"))
    api = commit(SHA_NEW, _change("dev", "aegis/api", "1", "2"), KUST.format("dev"))
    assert who_set([hidden, api], "dev", "environments/dev", "aegis/api", "2", False) == (
        "it was last changed without gitops-tools (commit bbbbbbbbbbbb)")


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "12a", "1" * 21])
def test_a_pipeline_number_trailer_that_is_not_ascii_digits_records_no_pipeline(value: str) -> None:
    body = SET_API + f"Gitops-Pipeline-Id: {value}\nGitops-Pipeline-Iid: {value}\nGitops-Source-Project: aegis/api\n"
    assert events([commit("c1", body, KUST.format("dev"))], PATHS) == [
        gitops("c1", "dev", "aegis/api", "1.4.1", "1.4.2", project="aegis/api")]
