"""The plans of promote and release, on plain values: no git, no files (the end-to-end tests cover the edges)."""

from __future__ import annotations

import datetime

import pytest

from gitops_tools.config import Config, Environment, Policies
from gitops_tools.core.envstate import EnvImages
from gitops_tools.core.kustomize import KustImage
from gitops_tools.core.promotion import PlanItem, check_unchanged, plan_promotion
from gitops_tools.core.records import CommitRecord
from gitops_tools.errors import ConflictError, GitopsError, PolicyError
from gitops_tools.release.config import ReleaseConfig
from gitops_tools.release.conventional import DEFAULT_TYPES
from gitops_tools.release.plan import Tags, plan_release, whole_changelog

REG = "registry.example.com/aegis"
CONFIG = Config(environments=(Environment("dev", "environments/dev"), Environment("staging", "environments/staging"),
                              Environment("prod", "environments/prod", protected=True)))


def images(env: str, **tags: str) -> EnvImages:
    return EnvImages(env, f"environments/{env}/kustomization.yaml",
                     {f"aegis/{n}": KustImage(f"aegis/{n}", f"{REG}/{n}", t) for n, t in tags.items()})


# --- promotion ----------------------------------------------------------------------------------------------


def test_a_plan_takes_what_differs_in_name_order() -> None:
    items = plan_promotion(CONFIG, images("dev", web="2.0.0", api="1.4.2"), images("staging", api="1.4.1", web="2.0.0"),
                           (), False)
    assert items == (PlanItem("aegis/api", KustImage("aegis/api", f"{REG}/api", "1.4.1"),
                              KustImage("aegis/api", f"{REG}/api", "1.4.2")),)
    assert items[0].as_dict() == {"image": "aegis/api", "target_now": f"{REG}/api:1.4.1", "source": f"{REG}/api:1.4.2"}
    assert items[0].spec.text == f"{REG}/api:1.4.2"


def test_an_image_the_target_lacks_is_planned_from_nothing() -> None:
    items = plan_promotion(CONFIG, images("dev", api="1.4.2", new="0.1.0"), images("staging", api="1.4.2"), (), False)
    assert [(i.image, i.target_now) for i in items] == [("aegis/new", None)]


def test_only_the_next_environment_unless_forced() -> None:
    with pytest.raises(PolicyError) as err:
        plan_promotion(CONFIG, images("dev", api="1.4.2"), images("prod", api="1.4.0"), (), False)
    assert err.value.problem == "dev promotes to staging, not prod (order: dev -> staging -> prod)"
    assert err.value.fix == "promote one step at a time, or pass --force"
    forced = plan_promotion(CONFIG, images("dev", api="1.4.2"), images("prod", api="1.4.0"), (), True,
                            previous=images("staging", api="1.4.2"))
    assert [i.image for i in forced] == ["aegis/api"]


def test_a_forced_skip_still_takes_only_what_the_previous_environment_runs() -> None:
    with pytest.raises(PolicyError) as err:
        plan_promotion(CONFIG, images("dev", api="1.4.2"), images("prod", api="1.4.0"), (), True,
                       previous=images("staging", api="1.4.1"))
    assert err.value.problem == (f"prod only takes what staging runs: aegis/api {REG}/api:1.4.2 is not running in "
                                 "staging")
    assert err.value.fix == "promote dev to staging first"
    off = Config(environments=CONFIG.environments, policies=Policies(only_from_previous=False))
    assert len(plan_promotion(off, images("dev", api="1.4.2"), images("prod", api="1.4.0"), (), True,
                              previous=images("staging", api="1.4.1"))) == 1


def test_a_protected_target_refuses_a_mutable_tag() -> None:
    with pytest.raises(PolicyError, match="prod is protected and refuses the mutable tag 'Latest'"):
        plan_promotion(CONFIG, images("staging", api="Latest"), images("prod", api="1.4.0"), (), False)


def test_only_the_images_asked_for_and_they_must_exist() -> None:
    src, dst = images("dev", api="1.4.2", web="2.1.0"), images("staging", api="1.4.1", web="2.0.0")
    assert [i.image for i in plan_promotion(CONFIG, src, dst, ("aegis/web",), False)] == ["aegis/web"]
    with pytest.raises(GitopsError) as err:
        plan_promotion(CONFIG, src, dst, ("aegis/nope",), False)
    assert (err.value.problem, err.value.fix) == ("aegis/nope: not set in dev", "images in dev: aegis/api, aegis/web")


def test_the_compare_and_set_of_a_later_attempt() -> None:
    items = plan_promotion(CONFIG, images("dev", api="1.4.2"), images("staging", api="1.4.1"), (), False)
    check_unchanged(items, images("staging", api="1.4.1"))  # nothing moved: fine
    with pytest.raises(ConflictError) as err:
        check_unchanged(items, images("staging", api="1.4.3"))
    assert err.value.problem == (f"aegis/api changed in staging since the plan: it was {REG}/api:1.4.1, now "
                                 f"{REG}/api:1.4.3")


# --- release ------------------------------------------------------------------------------------------------


RELEASE = ReleaseConfig("lib", "v", (), "CHANGELOG.md", None, False, DEFAULT_TYPES)
TODAY = datetime.date(2026, 11, 29)


def commit(n: int, message: str, *files: str) -> CommitRecord:
    return CommitRecord(f"{n:040x}", message, files)


def test_the_highest_level_decides_and_each_commit_says_why() -> None:
    records = [commit(3, "fix: b"), commit(2, "docs: x"), commit(1, "feat(api): a")]
    plan = plan_release(RELEASE, "1.2.3", Tags("v1.2.3", "v1.2.3"), records, "", None, TODAY)
    assert (plan.next, plan.level, plan.tag) == ("1.3.0", "minor", "v1.3.0")
    assert [(d.subject, d.level, d.reason) for d in plan.decisions] == [
        ("fix: b", "patch", "type fix bumps patch"), ("docs: x", "none", "type docs does not bump"),
        ("feat(api): a", "minor", "type feat bumps minor")]
    assert plan.section == ("## lib 1.3.0 (2026-11-29)\n\n### Features\n\n- **api:** a (0000000)\n\n"
                            "### Bug fixes\n\n- b (0000000)\n\n")


def test_nothing_releasable_is_no_version_and_no_section() -> None:
    plan = plan_release(RELEASE, "1.2.3", Tags("v1.2.3", "v1.2.3"), [commit(1, "docs: x")], "", None, TODAY)
    assert (plan.next, plan.tag, plan.section, plan.level) == (None, None, "", "none")


def test_a_library_in_a_monorepo_counts_only_its_own_commits() -> None:
    records = [commit(2, "feat: elsewhere", "other/x.py"), commit(1, "fix: here", "libs/a/x.py")]
    plan = plan_release(RELEASE, "1.2.3", Tags("v1.2.3", "v1.2.3"), records, "libs/a", None, TODAY)
    assert (plan.next, plan.level) == ("1.2.4", "patch")
    assert [(d.subject, d.reason) for d in plan.decisions] == [
        ("feat: elsewhere", "touches nothing under libs/a"), ("fix: here", "type fix bumps patch")]


def test_breaking_while_zero_is_minor_and_a_prerelease_counts_up() -> None:
    records = [commit(1, "feat!: drop v1")]
    assert plan_release(RELEASE, "0.4.0", Tags("v0.4.0", "v0.4.0"), records, "", None, TODAY).next == "0.5.0"
    first = plan_release(RELEASE, "1.2.3", Tags("v1.2.3", "v1.2.3"), records, "", "rc", TODAY)
    assert (first.next, first.tag) == ("2.0.0-rc.1", "v2.0.0-rc.1")
    again = plan_release(RELEASE, "2.0.0-rc.1", Tags("v2.0.0-rc.1", "v1.2.3", f"{1:040x}"),
                         [commit(2, "fix: after rc"), *records], "", "rc", TODAY)
    assert again.next == "2.0.0-rc.2"


def test_release_commits_are_not_counted() -> None:
    plan = plan_release(RELEASE, "1.2.3", Tags("v1.2.3", "v1.2.3"), [commit(1, "chore(release): lib 1.2.3")], "",
                        None, TODAY)
    assert plan.next is None and plan.decisions == ()


def test_the_whole_changelog_folds_prereleases_into_their_final_release() -> None:
    records = [commit(4, "fix: d"), commit(3, "feat: c"), commit(2, "fix: b"), commit(1, "feat: a")]
    tags = {f"{3:040x}": ("v1.1.0", "2026-11-03"), f"{2:040x}": ("v1.1.0-rc.1", "2026-11-02"),
            f"{1:040x}": ("v1.0.0", "2026-11-01")}
    text = whole_changelog(RELEASE, records, tags, TODAY)
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Unreleased (2026-11-29)", "## lib 1.1.0 (2026-11-03)", "## lib 1.1.0-rc.1 (2026-11-02)",
        "## lib 1.0.0 (2026-11-01)"]
    final = text.split("## lib 1.1.0 (2026-11-03)")[1].split("## lib 1.1.0-rc.1")[0]
    assert "- c (0000000)" in final and "- b (0000000)" in final
