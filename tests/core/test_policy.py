"""gitops_tools.core.policy on plain values: downgrades, ordering by pipelines, mutable tags."""

from __future__ import annotations

import pytest
import semver
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_tools.config import DEFAULT_MUTABLE_TAGS, Config, Environment, Policies
from gitops_tools.core import policy
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.policy import (
    Ordering,
    Pipeline,
    check_mutable,
    downgrade,
    is_mutable,
    needs_pipelines,
    order,
    parse_semver,
    running_pipeline,
)
from gitops_tools.errors import PolicyError

DIGEST = "sha256:" + "c" * 64
CONFIG = Config(environments=(Environment("dev", "environments/dev"),
                              Environment("prod", "environments/prod", protected=True)))
DEV, PROD = CONFIG.environments
NOT_SEMVER = "they are not both semver, and"


def ids(setter: int, running: int) -> tuple[Pipeline, Pipeline]:
    return Pipeline(setter, None, "aegis/api"), Pipeline(running, None, "aegis/api")


# --- parse_semver, downgrade, needs_pipelines ----------------------------------------------------------------


@pytest.mark.parametrize(("tag", "expected"), [
    ("1.4.2", semver.Version(1, 4, 2)),
    ("v1.4.2", semver.Version(1, 4, 2)),
    ("V1.4.2", semver.Version(1, 4, 2)),
    ("1.5.0-rc.1+build.5", semver.Version(1, 5, 0, "rc.1", "build.5")),
    ("1.3", None),
    ("01.4.2", None),
    ("vv1.4.2", None),
    ("latest", None),
    ("3f2a1bc", None),
    ("", None),
    (None, None),
])
def test_parse_semver(tag: str | None, expected: semver.Version | None) -> None:
    assert parse_semver(tag) == expected


@pytest.mark.parametrize(("current", "new", "expected"), [
    ("1.4.2", "1.4.1", "1.4.1 is older than 1.4.2"),
    ("v1.4.2", "1.4.1", "1.4.1 is older than v1.4.2"),
    ("1.5.0", "1.5.0-rc.1", "1.5.0-rc.1 is older than 1.5.0"),
    ("1.10.0", "1.9.9", "1.9.9 is older than 1.10.0"),
    ("1.4.1", "1.4.2", None),
    ("1.4.2", "v1.4.2", None),
    ("1.4.2", "1.4.2+build.1", None),  # build metadata does not order
    ("1.4.2", "1.3", None),            # not semver: not a downgrade by this rule
    ("latest", "1.0.0", None),
    (None, "1.0.0", None),
    ("1.0.0", None, None),
])
def test_downgrade(current: str | None, new: str | None, expected: str | None) -> None:
    assert downgrade(current, new) == expected


@pytest.mark.parametrize(("current", "new", "expected"), [
    ("3f2a1bc", "9e8d7c6", True),
    ("1.4.2", "9e8d7c6", True),
    ("3f2a1bc", "1.4.2", True),
    ("1.3", "1.4", True),
    ("1.4.1", "1.4.2", False),
    ("3f2a1bc", "3f2a1bc", False),  # nothing to order
    (None, "3f2a1bc", False),       # nothing set before
    ("3f2a1bc", None, False),
    ("", "3f2a1bc", False),
])
def test_needs_pipelines(current: str | None, new: str | None, expected: bool) -> None:
    assert needs_pipelines(current, new) is expected


# --- Pipeline, number, running_pipeline ----------------------------------------------------------------------


@pytest.mark.parametrize(("pipeline", "expected"), [
    (Pipeline(1200, 200, "aegis/api"), "pipeline 1200"),
    (Pipeline(None, 200, "aegis/api"), "pipeline #200 of aegis/api"),
    (Pipeline(None, 200, None), "pipeline #200 of its project"),
])
def test_pipeline_describe(pipeline: Pipeline, expected: str) -> None:
    assert pipeline.describe() == expected


@pytest.mark.parametrize(("env", "expected"), [
    ({"CI_PIPELINE_ID": "1200", "CI_PIPELINE_IID": "200", "CI_PROJECT_PATH": "aegis/api"},
     Pipeline(1200, 200, "aegis/api")),
    ({"CI_PIPELINE_ID": "1200"}, Pipeline(1200, None, None)),
    ({"CI_PIPELINE_IID": "7", "CI_PROJECT_PATH": ""}, Pipeline(None, 7, None)),
    ({"CI_PIPELINE_ID": "007"}, Pipeline(7, None, None)),
    ({"CI_PIPELINE_ID": "12a", "CI_PIPELINE_IID": "7"}, Pipeline(None, 7, None)),
    ({"CI_PIPELINE_ID": "-1"}, None),
    ({"CI_PIPELINE_ID": " 12"}, None),
    ({"CI_PIPELINE_ID": ""}, None),
    ({"CI_PROJECT_PATH": "aegis/api"}, None),  # a project without a pipeline number is no pipeline
    ({}, None),
])
def test_running_pipeline(env: dict[str, str], expected: Pipeline | None) -> None:
    assert running_pipeline(env) == expected


def test_running_pipeline_ignores_a_superscript_digit() -> None:
    assert running_pipeline({"CI_PIPELINE_ID": "\u00b2"}) is None


@pytest.mark.parametrize("value", [
    "\u00b2",        # superscript two: isdigit, int() refuses it
    "\u0663",        # Arabic-Indic three: isdigit, int() reads it as 3
    "\uff11\uff12",  # fullwidth 12
    "1\u00b2",
    "1" * 21,        # longer than GitLab's numbers (and int() refuses more than 4300 digits)
    "1" * 5000,
])
def test_only_ascii_digits_are_a_pipeline_number(value: str) -> None:
    assert policy.number(value) is None
    assert running_pipeline({"CI_PIPELINE_ID": value}) is None
    assert running_pipeline({"CI_PIPELINE_ID": value, "CI_PIPELINE_IID": "7"}) == Pipeline(None, 7, None)


def test_number_reads_a_pipeline_number_from_a_trailer() -> None:
    assert [policy.number(v) for v in ("1200", "0", "", None, "12a", "-3")] == [1200, 0, None, None, None, None]
    assert policy.number("9" * 20) == int("9" * 20)


# --- order ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "new", "expected"), [
    ("1.4.2", "1.4.1", Ordering(downgrade="1.4.1 is older than 1.4.2")),
    ("1.4.1", "1.4.2", Ordering()),
    ("1.4.2", "1.4.2", Ordering()),
    ("3f2a1bc", "3f2a1bc", Ordering()),  # the same tag needs no ordering
    (None, "3f2a1bc", Ordering()),       # nothing set before
])
def test_order_without_pipelines_where_semver_or_nothing_decides(current: str | None, new: str | None,
                                                                  expected: Ordering) -> None:
    assert order(current, new, None, None) == expected


def test_order_of_semver_tags_ignores_the_pipelines() -> None:
    setter, running = ids(1200, 1100)  # an older pipeline, but semver says it is newer
    assert order("1.4.1", "1.4.2", setter, running) == Ordering()
    setter, running = ids(1100, 1200)
    assert order("1.4.2", "1.4.1", setter, running) == Ordering(downgrade="1.4.1 is older than 1.4.2")


def test_order_outside_a_pipeline_is_undecided() -> None:
    setter, _ = ids(1200, 0)
    assert order("3f2a1bc", "9e8d7c6", setter, None) == Ordering(undecided=(
        f"could not order 9e8d7c6 after 3f2a1bc: {NOT_SEMVER} this run is not in a GitLab pipeline "
        "(no CI_PIPELINE_ID)"))


def test_order_with_an_unknown_setter_is_undecided_and_says_why() -> None:
    running = Pipeline(1200, None, "aegis/api")
    assert order("3f2a1bc", "9e8d7c6", None, running) == Ordering(undecided=(
        f"could not order 9e8d7c6 after 3f2a1bc: {NOT_SEMVER} history does not say which pipeline set it"))
    assert order("1.4.2", "9e8d7c6", None, running, "the commit that set it (0123456789ab) records no pipeline") == (
        Ordering(undecided=f"could not order 9e8d7c6 after 1.4.2: {NOT_SEMVER} the commit that set it (0123456789ab) "
                           "records no pipeline"))


@pytest.mark.parametrize(("setter_id", "running_id", "expected"), [
    (1200, 1100, Ordering(downgrade="9e8d7c6 comes from pipeline 1100, which is older than pipeline 1200 that set "
                                    "3f2a1bc")),
    (1100, 1200, Ordering()),
    (1200, 1200, Ordering()),  # the same pipeline set both: the later write wins
])
def test_order_by_pipeline_ids(setter_id: int, running_id: int, expected: Ordering) -> None:
    assert order("3f2a1bc", "9e8d7c6", *ids(setter_id, running_id)) == expected


def test_order_by_ids_across_projects() -> None:
    # Pipeline ids are unique and increasing across the instance: the project does not matter.
    assert order("3f2a1bc", "9e8d7c6", Pipeline(1200, 5, "aegis/web"), Pipeline(1100, 9, "aegis/api")) == Ordering(
        downgrade="9e8d7c6 comes from pipeline 1100, which is older than pipeline 1200 that set 3f2a1bc")


def test_order_by_iids_of_the_same_project() -> None:
    older = order("3f2a1bc", "9e8d7c6", Pipeline(None, 5, "aegis/api"), Pipeline(None, 3, "aegis/api"))
    assert older == Ordering(downgrade="9e8d7c6 comes from pipeline #3 of aegis/api, which is older than pipeline #5 "
                                       "of aegis/api that set 3f2a1bc")
    assert order("3f2a1bc", "9e8d7c6", Pipeline(None, 5, "aegis/api"), Pipeline(None, 7, "aegis/api")) == Ordering()
    # the setter recorded only its iid: the running pipeline's iid decides
    assert order("3f2a1bc", "9e8d7c6", Pipeline(None, 5, "aegis/api"), Pipeline(1100, 3, "aegis/api")) == Ordering(
        downgrade="9e8d7c6 comes from pipeline 1100, which is older than pipeline #5 of aegis/api that set 3f2a1bc")


@pytest.mark.parametrize(("setter", "running", "shown"), [
    (Pipeline(None, 5, "aegis/api"), Pipeline(None, 7, "aegis/web"),
     "pipeline #5 of aegis/api (which set 3f2a1bc) and pipeline #7 of aegis/web (this one)"),
    (Pipeline(None, 5, None), Pipeline(None, 7, None),
     "pipeline #5 of its project (which set 3f2a1bc) and pipeline #7 of its project (this one)"),
    (Pipeline(1200, None, "aegis/api"), Pipeline(None, 7, "aegis/api"),
     "pipeline 1200 (which set 3f2a1bc) and pipeline #7 of aegis/api (this one)"),
    (Pipeline(None, 5, "aegis/api"), Pipeline(1100, None, "aegis/api"),
     "pipeline #5 of aegis/api (which set 3f2a1bc) and pipeline 1100 (this one)"),
])
def test_order_of_pipelines_that_cannot_be_compared_is_undecided(setter: Pipeline, running: Pipeline,
                                                                  shown: str) -> None:
    assert order("3f2a1bc", "9e8d7c6", setter, running) == Ordering(undecided=(
        f"could not order 9e8d7c6 after 3f2a1bc: {NOT_SEMVER} {shown} cannot be compared"))


_SEMVER = st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 30),) * 3)
_TAG = st.one_of(_SEMVER, st.from_regex(r"[0-9a-f]{7}", fullmatch=True), st.sampled_from(["latest", "1.3", "main"]))
_PIPELINE = st.builds(Pipeline, st.none() | st.integers(1, 50), st.none() | st.integers(1, 50),
                      st.none() | st.sampled_from(["aegis/api", "aegis/web"]))


@settings(max_examples=500, deadline=None)
@given(current=_TAG, new=_TAG, setter=st.none() | _PIPELINE, running=st.none() | _PIPELINE)
def test_order_never_both_refuses_and_doubts_and_only_semver_or_an_older_pipeline_refuses(
    current: str, new: str, setter: Pipeline | None, running: Pipeline | None
) -> None:
    result = order(current, new, setter, running)
    assert result.downgrade is None or result.undecided is None
    if parse_semver(current) and parse_semver(new):
        assert result == Ordering(downgrade(current, new))
    elif current == new:
        assert result == Ordering()
    elif result.downgrade is not None:
        assert setter is not None and running is not None
        assert ((setter.id is not None and running.id is not None and running.id < setter.id)
                or (setter.iid is not None and running.iid is not None and setter.project == running.project
                    and (setter.id is None or running.id is None) and running.iid < setter.iid))


_PART = st.sampled_from(["0", "1", "2", "9", "10", "01", "007", "99999999999999999999", "٣", "x"])
_ANY_TAG = st.one_of(
    st.builds(lambda p, a, b, c, pre, build: f"{p}{a}.{b}.{c}{pre}{build}",
              st.sampled_from(["", "v", "V", "vv", " "]), _PART, _PART, _PART,
              st.sampled_from(["", "-rc.1", "-rc.2", "-alpha", "-0", "-01"]), st.sampled_from(["", "+build.5", "+b"])),
    st.sampled_from(["", "1.3", "1", "1.2.3.4", "1.2.3\n", "latest", "3f2a1bc", "v"]),
    st.text(alphabet="0123456789.v-+rc", max_size=10),
)


def _semver_only(current: str, new: str) -> str | None:
    """What downgrade said when the semver library read every tag."""
    def read(tag: str) -> semver.Version | None:
        try:
            return semver.Version.parse(tag[1:] if tag[:1] in ("v", "V") else tag) if tag else None
        except ValueError:
            return None
    old, young = read(current), read(new)
    return None if old is None or young is None or young >= old else f"{new} is older than {current}"


@settings(max_examples=1000, deadline=None)
@given(current=_ANY_TAG, new=_ANY_TAG)
def test_downgrade_and_needs_pipelines_answer_as_the_semver_library_does(current: str, new: str) -> None:
    """Plain MAJOR.MINOR.PATCH tags are compared without the semver library: the answers must be its own."""
    assert downgrade(current, new) == _semver_only(current, new)
    both = parse_semver(current) is not None and parse_semver(new) is not None  # parse_semver is the library's
    assert needs_pipelines(current, new) == (bool(current) and bool(new) and current != new and not both)


# --- is_mutable, check_mutable -------------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "digest", "expected"), [
    ("latest", None, True),
    ("Latest", None, True),
    ("LATEST", None, True),
    ("Main", None, True),
    ("nightly", None, True),
    ("1.4.2", None, False),
    ("latest-1.4", None, False),  # a tag that merely starts like a mutable one
    ("latest", DIGEST, False),    # a digest pins it
    (None, DIGEST, False),
    (None, None, True),           # no tag at all means latest
    ("", None, True),
])
def test_is_mutable_with_the_default_tags(tag: str | None, digest: str | None, expected: bool) -> None:
    assert is_mutable(CONFIG, tag, digest) is expected


def test_is_mutable_with_configured_tags_ignores_case_on_both_sides() -> None:
    config = Config(environments=CONFIG.environments, policies=Policies(mutable_tags=("Snapshot",)))
    assert [is_mutable(config, t, None) for t in ("snapshot", "SNAPSHOT", "Snapshot", "latest")] == [
        True, True, True, False]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(DEFAULT_MUTABLE_TAGS).flatmap(
    lambda t: st.tuples(*(st.sampled_from([ch.lower(), ch.upper()]) for ch in t)).map("".join)))
def test_every_casing_of_a_default_mutable_tag_is_mutable(tag: str) -> None:
    assert is_mutable(CONFIG, tag, None) is True
    assert is_mutable(CONFIG, tag + "1", None) is False


KFILE = "environments/prod/kustomization.yaml"


@pytest.mark.parametrize(("entry", "shown"), [
    (KustImage("aegis/api", None, "Latest"), "'Latest'"),
    (KustImage("aegis/api", "reg/api"), "'no tag'"),
])
def test_check_mutable_refuses_in_a_protected_environment(entry: KustImage, shown: str) -> None:
    with pytest.raises(PolicyError) as info:
        check_mutable(CONFIG, PROD, "aegis/api", entry, KFILE)
    err = info.value
    assert (err.problem, err.file, err.key, err.fix, err.exit_code) == (
        f"prod is protected and refuses the mutable tag {shown}", KFILE, "images[name=aegis/api].newTag",
        "use an immutable version tag or a digest (policy refuse_mutable_tags in gitops-tools.yaml)", 1)


@pytest.mark.parametrize(("config", "env", "entry"), [
    (CONFIG, DEV, KustImage("aegis/api", None, "latest")),                  # not protected
    (CONFIG, PROD, KustImage("aegis/api", None, "1.4.2")),                  # immutable
    (CONFIG, PROD, KustImage("aegis/api", None, "latest", DIGEST)),         # pinned by digest
    (Config(environments=CONFIG.environments, policies=Policies(refuse_mutable_tags=False)), PROD,
     KustImage("aegis/api", None, "latest")),                               # the policy is off
])
def test_check_mutable_lets_through(config: Config, env: Environment, entry: KustImage) -> None:
    check_mutable(config, env, "aegis/api", entry, KFILE)  # raises when it refuses
