"""gitops_tools.core.changes on plain values: commit messages, CI trailers, the commit identity, diffs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.core.changes import (
    FALLBACK_EMAIL,
    FALLBACK_NAME,
    Change,
    ImageUpdate,
    ci_trailers,
    commit_message,
    describe,
    identity,
    trailer_lines,
    unified_diff,
)
from gitops_tools.errors import GitopsError

DEV = "environments/dev/kustomization.yaml"
VALUES = "environments/dev/values.yaml"
FIX = "fix the value (history reads the commit's trailers back); nothing was written"
FALLBACK = {"GIT_COMMITTER_NAME": FALLBACK_NAME, "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL}
SHA = "0123456789abcdef0123456789abcdef01234567"


def tag_update(image: str, old: str | None, new: str | None, file: str = DEV) -> ImageUpdate:
    """An image whose newTag went from ``old`` to ``new`` (the usual one-change update)."""
    return ImageUpdate(image, old, new, "updated", (Change(file, f"images[name={image}].newTag", old, new),))


def unchanged(image: str, value: str) -> ImageUpdate:
    return ImageUpdate(image, value, value, "unchanged")


# --- describe, trailer_lines, as_dict -----------------------------------------------------------------------


def test_describe_shows_a_missing_value_as_none() -> None:
    assert (describe(None), describe("1.4.2"), describe("")) == ("(none)", "1.4.2", "")


def test_trailer_lines_one_per_changed_image_sorted_by_image() -> None:
    updates = [tag_update("b/web", None, "0.1.0"), unchanged("c/db", "7"), tag_update("a/api", "1.4.1", "1.4.2")]
    assert trailer_lines("dev", updates) == [
        "Gitops-Change: dev a/api 1.4.1 -> 1.4.2",
        "Gitops-Change: dev b/web (none) -> 0.1.0",
    ]


def test_change_and_update_as_dict() -> None:
    u = tag_update("aegis/api", "1.4.1", "1.4.2")
    assert u.as_dict() == {
        "image": "aegis/api", "old": "1.4.1", "new": "1.4.2", "status": "updated", "message": None,
        "changes": [{"file": DEV, "path": "images[name=aegis/api].newTag", "old": "1.4.1", "new": "1.4.2"}],
    }


# --- commit_message: the exact text -------------------------------------------------------------------------


def test_commit_message_for_one_image() -> None:
    assert commit_message("dev", "set-image", [tag_update("aegis/api", "1.4.1", "1.4.2")]) == (
        "chore(dev): set aegis/api 1.4.1 -> 1.4.2\n"
        "\n"
        f"- {DEV}: images[name=aegis/api].newTag: 1.4.1 -> 1.4.2\n"
        "\n"
        "Gitops-Action: set-image\n"
        "Gitops-Change: dev aegis/api 1.4.1 -> 1.4.2\n"
    )


def test_commit_message_for_one_image_with_a_values_key_ci_trailers_and_skip_ci() -> None:
    old, new = "reg/aegis/rec:2.0.3", "reg/aegis/rec:2.1.0"
    update = ImageUpdate("aegis/rec", old, new, "updated", (
        Change(DEV, "images[name=aegis/rec].newTag", "2.0.3", "2.1.0"),
        Change(VALUES, "image.tag", "2.0.3", "2.1.0"),
    ))
    trailers = [("Gitops-Source-Commit", SHA), ("Gitops-Pipeline", "https://gitlab.com/aegis/api/-/pipelines/7")]
    assert commit_message("prod", "promote", [update], extra_trailers=trailers, skip_ci=True) == (
        f"chore(prod): promote aegis/rec {old} -> {new} [skip ci]\n"
        "\n"
        f"- {DEV}: images[name=aegis/rec].newTag: 2.0.3 -> 2.1.0\n"
        f"- {VALUES}: image.tag: 2.0.3 -> 2.1.0\n"
        "\n"
        "Gitops-Action: promote\n"
        f"Gitops-Change: prod aegis/rec {old} -> {new}\n"
        f"Gitops-Source-Commit: {SHA}\n"
        "Gitops-Pipeline: https://gitlab.com/aegis/api/-/pipelines/7\n"
    )


def test_commit_message_for_several_images_sorts_them_and_leaves_out_unchanged_ones() -> None:
    updates = [tag_update("aegis/web", None, "0.1.0"), unchanged("aegis/db", "7"),
               tag_update("aegis/api", "1.4.2", "1.4.1")]
    assert commit_message("staging", "rollback", updates) == (
        "chore(staging): roll back 2 images (aegis/api, aegis/web)\n"
        "\n"
        f"- {DEV}: images[name=aegis/api].newTag: 1.4.2 -> 1.4.1\n"
        f"- {DEV}: images[name=aegis/web].newTag: (none) -> 0.1.0\n"
        "\n"
        "Gitops-Action: rollback\n"
        "Gitops-Change: staging aegis/api 1.4.2 -> 1.4.1\n"
        "Gitops-Change: staging aegis/web (none) -> 0.1.0\n"
    )


def test_commit_message_names_five_images_in_the_subject_and_counts_the_rest() -> None:
    updates = [tag_update(f"img/{c}", "1", "2") for c in "gfedcba"]
    message = commit_message("dev", "set-image", updates)
    assert message.splitlines()[0] == "chore(dev): set 7 images (img/a, img/b, img/c, img/d, img/e and 2 more)"
    assert message.splitlines()[-7:] == [f"Gitops-Change: dev img/{c} 1 -> 2" for c in "abcdefg"]


def test_commit_message_with_exactly_five_images_names_them_all() -> None:
    updates = [tag_update(f"img/{c}", "1", "2") for c in "abcde"]
    assert commit_message("dev", "set-image", updates).splitlines()[0] == (
        "chore(dev): set 5 images (img/a, img/b, img/c, img/d, img/e)")


def test_commit_message_of_an_unknown_action_uses_it_as_the_verb() -> None:
    assert commit_message("dev", "pin", [tag_update("aegis/api", "1", "2")]).splitlines()[0] == (
        "chore(dev): pin aegis/api 1 -> 2")


def test_commit_message_of_a_removed_image() -> None:
    assert commit_message("dev", "set-image", [tag_update("aegis/api", "1.4.1", None)]) == (
        "chore(dev): set aegis/api 1.4.1 -> (none)\n\n"
        f"- {DEV}: images[name=aegis/api].newTag: 1.4.1 -> (none)\n\n"
        "Gitops-Action: set-image\nGitops-Change: dev aegis/api 1.4.1 -> (none)\n"
    )


@pytest.mark.parametrize("updates", [[], [unchanged("aegis/api", "1.4.1")]])
def test_commit_message_without_a_change_is_a_bug_of_the_caller(updates: list[ImageUpdate]) -> None:
    with pytest.raises(ValueError, match="^no change to describe$"):
        commit_message("dev", "set-image", updates)


# --- commit_message: what it refuses -------------------------------------------------------------------------


def _refusal(scope: str = "dev", image: str = "aegis/api", old: str = "1.4.1", new: str = "1.4.2",
             file: str = DEV, change_new: str | None = None,
             trailers: tuple[tuple[str, str], ...] = ()) -> GitopsError:
    update = ImageUpdate(image, old, new, "updated", (
        Change(file, f"images[name={image}].newTag", old, new if change_new is None else change_new),))
    with pytest.raises(GitopsError) as info:
        commit_message(scope, "set-image", [update], extra_trailers=trailers)
    return info.value


@pytest.mark.parametrize(("kwargs", "problem", "file", "key"), [
    ({"scope": "dev\nGitops-Change: prod aegis/api 1 -> 6.6.6"},
     ("the target 'dev\\nGitops-Change: prod aegis/api 1 -> 6.6.6' contains a line break, so it would forge or break "
     "lines of the commit message"), None, None),
    ({"scope": "my overlay"},
     "the target 'my overlay' contains a blank, so it would forge or break lines of the commit message", None, None),
    ({"scope": "dev\u00a0x"},
     "the target 'dev\\xa0x' contains a blank, so it would forge or break lines of the commit message", None, None),
    ({"image": "aegis/api\r"},
     "the image name 'aegis/api\\r' contains a line break, so it would forge or break lines of the commit message",
     DEV, None),
    ({"new": "1.4.2 6.6.6"},
     "the value of aegis/api '1.4.2 6.6.6' contains a blank, so it would forge or break lines of the commit message",
     DEV, None),
    ({"old": "1.4.1\u2028x"},
     ("the value of aegis/api '1.4.1\\u2028x' contains a line break, so it would forge or break lines of the commit "
     "message"), DEV, None),
    ({"file": "environments/my dev/kustomization.yaml"},
     ("the file name 'environments/my dev/kustomization.yaml' contains a blank, so it would forge or break lines of "
     "the commit message"), None, None),
    ({"change_new": "1.4.2\x85x"},
     "the value '1.4.2\\x85x' contains a line break, so it would forge or break lines of the commit message",
     DEV, "images[name=aegis/api].newTag"),
    ({"change_new": "1.4.2\tx"},
     "the value '1.4.2\\tx' contains a control character, so it would forge or break lines of the commit message",
     DEV, "images[name=aegis/api].newTag"),
    ({"change_new": "1.4.2\x1bx"},
     "the value '1.4.2\\x1bx' contains a control character, so it would forge or break lines of the commit message",
     DEV, "images[name=aegis/api].newTag"),
    ({"trailers": (("Gitops-Pipeline", "https://x/1\nGitops-Change: prod a 1 -> 2"),)},
     ("Gitops-Pipeline 'https://x/1\\nGitops-Change: prod a 1 -> 2' contains a line break, so it would forge or break "
     "lines of the commit message"), None, None),
    ({"trailers": (("Gitops-Triggered-By", "a\x00b@example.com"),)},
     ("Gitops-Triggered-By 'a\\x00b@example.com' contains a control character, so it would forge or break lines of "
     "the commit message"), None, None),
])
def test_commit_message_refuses_values_that_would_break_its_lines(
    kwargs: dict[str, object], problem: str, file: str | None, key: str | None
) -> None:
    err = _refusal(**kwargs)  # type: ignore[arg-type]
    assert (err.problem, err.file, err.key, err.fix, err.exit_code) == (problem, file, key, FIX, 1)


def test_commit_message_allows_blanks_in_the_body_only_values() -> None:
    # A Helm value may hold blanks (it goes into the body line, not into a Gitops-Change trailer's words).
    update = ImageUpdate("aegis/api", "1.4.1", "1.4.2", "updated", (
        Change(VALUES, "api.image.note", "built by ci", "built by hand"),))
    assert commit_message("dev", "set-image", [update]).splitlines()[2] == (
        f"- {VALUES}: api.image.note: built by ci -> built by hand")


def test_commit_message_checks_only_the_images_that_changed() -> None:
    # The unchanged update's value would be refused, but it is not in the message.
    updates = [tag_update("aegis/api", "1", "2"), unchanged("aegis/odd", "a b")]
    assert commit_message("dev", "set-image", updates).splitlines()[0] == "chore(dev): set aegis/api 1 -> 2"


def test_commit_message_refuses_a_key_path_with_a_line_break() -> None:
    path = "images[name=aegis/api].newTag\nGitops-Change: dev aegis/web 1 -> 6.6.6"
    update = ImageUpdate("aegis/api", "1", "2", "updated", (Change(DEV, path, "1", "2"),))
    with pytest.raises(GitopsError) as info:
        commit_message("dev", "set-image", [update])
    assert (info.value.problem, info.value.file) == (
        f"the key path {path!r} contains a line break, so it would forge or break lines of the commit message", DEV)


def test_commit_message_allows_blanks_in_a_key_path() -> None:
    # A Helm values key may hold a blank (it goes into a body line, not into a trailer's words).
    update = ImageUpdate("aegis/api", "1", "2", "updated", (Change(VALUES, '["image tag"]', "1", "2"),))
    assert commit_message("dev", "set-image", [update]).splitlines()[2] == f'- {VALUES}: ["image tag"]: 1 -> 2'


@pytest.mark.parametrize(("action", "kind"), [
    ("set-image\nGitops-Change: prod aegis/api 1 -> 6.6.6", "a line break"),
    ("set image", "a blank"),
    ("set-image\x1b[2K", "a control character"),
])
def test_commit_message_refuses_an_action_that_would_break_its_lines(action: str, kind: str) -> None:
    with pytest.raises(GitopsError) as info:
        commit_message("dev", action, [tag_update("aegis/api", "1", "2")])
    assert info.value.problem == (
        f"the action {action!r} contains {kind}, so it would forge or break lines of the commit message")


@pytest.mark.parametrize("key", ["Gitops-Pipeline\nGitops-Change", "Gitops Pipeline", "Gitops-Pipeline:", "",
                                 "-Gitops", "Gitops-Pipeline\x00"])
def test_commit_message_refuses_an_extra_trailer_key_git_would_not_read(key: str) -> None:
    with pytest.raises(GitopsError) as info:
        commit_message("dev", "set-image", [tag_update("aegis/api", "1", "2")], extra_trailers=[(key, "x")])
    assert (info.value.problem, info.value.fix) == (
        f"the trailer key {key!r} is not a git trailer key (letters, digits and '-')",
        "fix the key; nothing was written")


@pytest.mark.parametrize("char", ["\x9b", "\x80", "\x9f"])
def test_commit_message_refuses_c1_control_characters(char: str) -> None:
    # \x9b is the one-byte CSI: some terminals read it as ESC [
    err = _refusal(change_new=f"1.4.2{char}2J")
    assert err.problem == (f"the value {'1.4.2' + char + '2J'!r} contains a control character, so it would forge "
                           "or break lines of the commit message")


# --- commit_message: properties ------------------------------------------------------------------------------

# Any text, biased towards what breaks lines.
_NASTY = st.text(st.sampled_from("ab1.-/:@ \t\n\r\x0b\x0c\x1c\x1e\x85\u2028\u2029\x00\x7f\u00a0"), min_size=1,
                 max_size=8)
_ANY = st.one_of(st.text(min_size=1, max_size=8), _NASTY)
_PATH = st.from_regex(r"[a-z.\[\]=/]{1,12}", fullmatch=True)


@st.composite
def _updates(draw: st.DrawFn) -> list[ImageUpdate]:
    out = []
    for i in range(draw(st.integers(1, 7))):
        n = draw(st.integers(0, 3))
        old, new = draw(st.none() | _ANY), draw(st.none() | _ANY)
        changes = tuple(Change(draw(_ANY), draw(_PATH | _ANY), draw(st.none() | _ANY), draw(st.none() | _ANY))
                        for _ in range(n))
        out.append(ImageUpdate(f"img{i}/{draw(_ANY)}", old, new, "updated", changes))
    return out


@settings(max_examples=400, deadline=None)
@given(scope=_ANY, action=st.sampled_from(["set-image", "promote", "rollback"]) | _ANY, updates=_updates(),
       trailers=st.lists(st.tuples(st.sampled_from(["Gitops-Pipeline", "Gitops-Source-Commit"]) | _ANY, _ANY),
                         max_size=3),
       skip_ci=st.booleans())
def test_commit_message_is_refused_or_has_exactly_the_lines_it_describes(
    scope: str, action: str, updates: list[ImageUpdate], trailers: list[tuple[str, str]], skip_ci: bool
) -> None:
    changed = [u for u in updates if u.changes]
    try:
        message = commit_message(scope, action, updates, extra_trailers=trailers, skip_ci=skip_ci)
    except ValueError as err:  # GitopsError is not a ValueError: this is "nothing changed"
        assert not changed and str(err) == "no change to describe"
        return
    except GitopsError as err:
        assert ("so it would forge or break lines of the commit message" in err.problem
                or "is not a git trailer key" in err.problem)
        return
    n_changes = sum(len(u.changes) for u in changed)
    # subject, blank, one line per change, blank, action, one trailer per image, the extra trailers
    expected = 1 + 1 + n_changes + 1 + 1 + len(changed) + len(trailers)
    assert message.endswith("\n")
    assert len(message.splitlines()) == expected  # splitlines also splits at \x85, \u2028, \x1c…
    assert message.splitlines()[0].endswith(" [skip ci]") is skip_ci
    trailer_part = message.splitlines()[-(1 + len(changed) + len(trailers)):]
    assert [line.split(":", 1)[0] for line in trailer_part] == (
        ["Gitops-Action"] + ["Gitops-Change"] * len(changed) + [k for k, _ in trailers])


# --- ci_trailers ---------------------------------------------------------------------------------------------

CI = {
    "CI_PROJECT_PATH": "aegis/api",
    "CI_COMMIT_SHA": SHA,
    "CI_PIPELINE_URL": "https://gitlab.com/aegis/api/-/pipelines/7",
    "CI_PIPELINE_ID": "1200",
    "CI_PIPELINE_IID": "200",
    "GITLAB_USER_EMAIL": "dev@example.com",
}


def test_ci_trailers_of_a_gitlab_pipeline_in_their_fixed_order() -> None:
    shuffled = dict(reversed(list(CI.items())))
    assert ci_trailers({**shuffled, "CI_JOB_TOKEN": "secret", "GITLAB_USER_NAME": "Dev"}) == [
        ("Gitops-Source-Project", "aegis/api"),
        ("Gitops-Source-Commit", SHA),
        ("Gitops-Pipeline", "https://gitlab.com/aegis/api/-/pipelines/7"),
        ("Gitops-Pipeline-Id", "1200"),
        ("Gitops-Pipeline-Iid", "200"),
        ("Gitops-Triggered-By", "dev@example.com"),
    ]


def test_ci_trailers_outside_ci_and_of_empty_variables() -> None:
    assert ci_trailers({}) == []
    assert ci_trailers(dict.fromkeys(CI, "")) == []
    assert ci_trailers({"CI_PIPELINE_ID": "7", "CI_COMMIT_SHA": ""}) == [("Gitops-Pipeline-Id", "7")]


@pytest.mark.parametrize(("var", "value"), [
    ("CI_PROJECT_PATH", "group/sub.group/my-app+x"),
    ("CI_COMMIT_SHA", "0123abc"),
    ("CI_COMMIT_SHA", "a" * 64),
    ("CI_PIPELINE_URL", "http://gitlab.local:8080/a/b/-/pipelines/7"),
    ("CI_PIPELINE_ID", "0"),
    ("CI_PIPELINE_IID", "9" * 20),
    ("GITLAB_USER_EMAIL", "first.last+ci@sub.example.com"),
])
def test_ci_trailers_accept_what_gitlab_sets(var: str, value: str) -> None:
    assert [v for _, v in ci_trailers({var: value})] == [value]


@pytest.mark.parametrize(("var", "value", "trailer", "example"), [
    ("CI_PROJECT_PATH", "aegis", "Gitops-Source-Project", "aegis/api"),
    ("CI_PROJECT_PATH", "aegis/", "Gitops-Source-Project", "aegis/api"),
    ("CI_COMMIT_SHA", "not-a-sha", "Gitops-Source-Commit", "a 40-hex-digit commit"),
    ("CI_COMMIT_SHA", "012345", "Gitops-Source-Commit", "a 40-hex-digit commit"),
    ("CI_COMMIT_SHA", "a" * 65, "Gitops-Source-Commit", "a 40-hex-digit commit"),
    ("CI_COMMIT_SHA", "0123ABC", "Gitops-Source-Commit", "a 40-hex-digit commit"),
    ("CI_PIPELINE_URL", "ftp://gitlab.com/p/7", "Gitops-Pipeline", "https://gitlab.com/aegis/api/-/pipelines/7"),
    ("CI_PIPELINE_URL", "https://x/<script>", "Gitops-Pipeline", "https://gitlab.com/aegis/api/-/pipelines/7"),
    ("CI_PIPELINE_ID", "12a", "Gitops-Pipeline-Id", "a number"),
    ("CI_PIPELINE_ID", "1" * 21, "Gitops-Pipeline-Id", "a number"),
    ("CI_PIPELINE_IID", "-1", "Gitops-Pipeline-Iid", "a number"),
    ("CI_PIPELINE_IID", "\u0663", "Gitops-Pipeline-Iid", "a number"),  # an Arabic-Indic 3 is a digit, not [0-9]
    ("GITLAB_USER_EMAIL", "nobody", "Gitops-Triggered-By", "an e-mail address"),
    ("GITLAB_USER_EMAIL", "a@b@c", "Gitops-Triggered-By", "an e-mail address"),
    ("GITLAB_USER_EMAIL", "<a@b>", "Gitops-Triggered-By", "an e-mail address"),
])
def test_ci_trailers_refuse_what_gitlab_does_not_set(var: str, value: str, trailer: str, example: str) -> None:
    with pytest.raises(GitopsError) as info:
        ci_trailers({**CI, var: value})
    err = info.value
    assert (err.problem, err.fix, err.file, err.key) == (
        f"{var} {value!r} is not what GitLab CI sets ({example})",
        f"fix or unset {var}: it goes into the commit's {trailer} trailer; nothing was written", None, None)


@pytest.mark.parametrize("var", list(CI))
@pytest.mark.parametrize(("suffix", "kind"), [
    ("\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6", "a line break"),
    ("\r\nGitops-Change: prod aegis/api 1.4.0 -> 6.6.6", "a line break"),
    ("\u2028Gitops-Change: prod aegis/api 1.4.0 -> 6.6.6", "a line break"),
    (" x", "a blank"),
    ("\tx", "a control character"),
])
def test_ci_trailers_say_why_a_forging_value_is_refused(var: str, suffix: str, kind: str) -> None:
    value = CI[var] + suffix
    with pytest.raises(GitopsError) as info:
        ci_trailers({**CI, var: value})
    assert info.value.problem == (
        f"{var} {value!r} contains {kind}, so it would forge or break lines of the commit message")


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(list(CI)), st.one_of(st.text(max_size=12), _NASTY,
                                                              st.sampled_from(list(CI.values())))))
def test_ci_trailers_never_return_a_value_with_a_line_break(env: dict[str, str]) -> None:
    try:
        trailers = ci_trailers(env)
    except GitopsError as err:
        assert any(err.problem.startswith(f"{var} {value!r} ") for var, value in env.items())
        return
    assert len(trailers) == sum(1 for v in env.values() if v)
    for _, value in trailers:
        assert value in env.values()
        assert len(value.splitlines()) == 1 and value == value.strip() and not re.search(r"\s", value)


@pytest.mark.parametrize(("var", "value"), [
    ("CI_PIPELINE_URL", "https://gitlab.com/aegis/api/-/pipelines/7\x1b[2K"),
    ("GITLAB_USER_EMAIL", "dev\x00@example.com"),
    ("CI_PIPELINE_URL", "https://gitlab.com/aegis/api/-/pipelines/7\x9b2J"),  # C1 CSI
    ("CI_PIPELINE_URL", "https://gitlab.com/aegis/api/-/pipelines/7\x7f"),
    *((var, value[:3] + "\x1b" + value[3:]) for var, value in CI.items()),
])
def test_ci_trailers_refuse_control_characters(var: str, value: str) -> None:
    with pytest.raises(GitopsError) as info:
        ci_trailers({var: value})
    assert (info.value.problem, info.value.fix) == (
        f"{var} {value!r} contains a control character, so it would forge or break lines of the commit message",
        FIX)


# --- identity ------------------------------------------------------------------------------------------------

GITLAB_USER = {"GITLAB_USER_NAME": "Jane Doe", "GITLAB_USER_EMAIL": "jane@example.com"}


@pytest.mark.parametrize(("configured", "env", "git_has_email", "expected"), [
    # the configured author wins, whatever the CI says (even what it would refuse)
    (("Bot", "bot@example.com"), {**GITLAB_USER, "GITLAB_USER_NAME": "<evil>"}, True, ("Bot <bot@example.com>", {})),
    (("Bot", "bot@example.com"), {}, False, ("Bot <bot@example.com>", FALLBACK)),
    # half a configured author is no author: the pipeline's user
    (("Bot", None), GITLAB_USER, True, ("Jane Doe <jane@example.com>", {})),
    ((None, "bot@example.com"), GITLAB_USER, True, ("Jane Doe <jane@example.com>", {})),
    ((None, None), GITLAB_USER, False, ("Jane Doe <jane@example.com>", FALLBACK)),
    # half a GitLab user is no user either: git's own identity
    ((None, None), {"GITLAB_USER_NAME": "Jane Doe"}, True, (None, {})),
    ((None, None), {"GITLAB_USER_EMAIL": "jane@example.com", "GITLAB_USER_NAME": ""}, True, (None, {})),
    # a machine where git has no e-mail: the fallback commits, and is the author when nobody else is
    ((None, None), {}, False, (f"{FALLBACK_NAME} <{FALLBACK_EMAIL}>", FALLBACK)),
    ((None, None), {"GIT_COMMITTER_EMAIL": "ci@example.com"}, False, (None, {})),
    ((None, None), {}, True, (None, {})),
])
def test_identity(configured: tuple[str | None, str | None], env: dict[str, str], git_has_email: bool,
                  expected: tuple[str | None, dict[str, str]]) -> None:
    assert identity(configured, env, git_has_email) == expected


@pytest.mark.parametrize(("var", "value", "problem", "fix"), [
    ("GITLAB_USER_NAME", "Eve <eve@evil>", "GITLAB_USER_NAME 'Eve <eve@evil>' contains '<' or '>'",
     "fix or unset GITLAB_USER_NAME: it becomes the commit's author; nothing was written"),
    ("GITLAB_USER_EMAIL", "jane@example.com>", "GITLAB_USER_EMAIL 'jane@example.com>' contains '<' or '>'",
     "fix or unset GITLAB_USER_EMAIL: it becomes the commit's author; nothing was written"),
    ("GITLAB_USER_NAME", "Jane\nGitops-Pipeline-Id: 1",
     ("GITLAB_USER_NAME 'Jane\\nGitops-Pipeline-Id: 1' contains a line break, so it would forge or break lines "
     "of the commit message"), FIX),
    ("GITLAB_USER_EMAIL", "jane@example.com\x00", ("GITLAB_USER_EMAIL 'jane@example.com\\x00' contains a control "
     "character, so it would forge or break lines of the commit message"), FIX),
])
def test_identity_refuses_a_gitlab_user_that_would_break_the_author(var: str, value: str, problem: str,
                                                                    fix: str) -> None:
    with pytest.raises(GitopsError) as info:
        identity((None, None), {**GITLAB_USER, var: value}, True)
    assert (info.value.problem, info.value.fix) == (problem, fix)


# --- unified_diff --------------------------------------------------------------------------------------------


def test_unified_diff_of_one_line() -> None:
    before = "images:\n  - name: a\n    newTag: 1.0\n"
    assert unified_diff("k.yaml", before, before.replace("1.0", "1.1")) == (
        "--- a/k.yaml\n+++ b/k.yaml\n@@ -1,3 +1,3 @@\n images:\n   - name: a\n-    newTag: 1.0\n+    newTag: 1.1\n")


def test_unified_diff_marks_a_missing_final_newline_and_is_empty_without_change() -> None:
    assert unified_diff("v.yaml", "tag: 1", "tag: 2") == (
        "--- a/v.yaml\n+++ b/v.yaml\n@@ -1 +1 @@\n-tag: 1\n\\ No newline at end of file\n"
        "+tag: 2\n\\ No newline at end of file\n")
    assert unified_diff("v.yaml", "tag: 1\n", "tag: 1\n") == ""


def test_which_changes_of_a_fold_may_set_the_same_image() -> None:
    from gitops_tools.core.fold import followed, touches

    a, b = {("dev", "aegis/api"), ("dev", "api")}, {("dev", "aegis/web"), ("dev", "web")}
    unreadable = {("dev", "*")}
    assert not touches(a, b) and touches(a, a)
    assert touches(unreadable, a) and touches(a, unreadable)  # specs that cannot be read: any image of dev
    assert not touches({("prod", "*")}, a)  # another target
    assert followed([a, b, a]) == [True, False, False]
    assert followed([a, unreadable, b]) == [True, True, False]
    assert followed([]) == []
