"""gitops_tools.core.envstate on plain values: the status matrix and the differences between environments."""

from __future__ import annotations

import pytest

from gitops_tools.config import Config, Environment
from gitops_tools.core.envstate import (
    Cell,
    Difference,
    EnvImages,
    Matrix,
    Row,
    differences,
    environment_order,
    images_of,
    matrix,
    read_env_images,
)
from gitops_tools.core.kustomize import KustImage, read_kustomization
from gitops_tools.errors import YamlError

API = "registry.gitlab.com/aegis/app/api"
DIGEST = "sha256:" + "a" * 64


def api(tag: str | None, digest: str | None = None) -> KustImage:
    return KustImage("aegis/api", API, tag, digest)


def rec(tag: str) -> KustImage:
    return KustImage("aegis/rec", None, tag)


def state(env: str, *entries: KustImage) -> EnvImages:
    return EnvImages(env, f"environments/{env}/kustomization.yaml", {e.name: e for e in entries})


# The repository's own state: api moves dev -> staging -> prod, rec waits for prod.
DEV = state("dev", api("1.4.2"), rec("2.1.0"))
STAGING = state("staging", api("1.4.1"), rec("2.1.0"))
PROD = state("prod", api("1.4.0"), rec("2.0.3"))


# --- read_env_images -----------------------------------------------------------------------------------------


def test_read_env_images_reads_every_kind_of_entry() -> None:
    text = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "images:\n"
        f"  - name: aegis/api\n    newName: {API}\n    newTag: 1.4.2\n"
        "  - name: aegis/rec\n    newTag: \"2.1\"\n"
        f"  - name: redis\n    digest: {DIGEST}\n"
        "  - name: postgres\n    newName: mirror/postgres\n"
    )
    assert read_env_images("dev", text, "environments/dev/kustomization.yaml") == EnvImages(
        "dev", "environments/dev/kustomization.yaml", {
            "aegis/api": KustImage("aegis/api", API, "1.4.2"),
            "aegis/rec": KustImage("aegis/rec", None, "2.1"),
            "redis": KustImage("redis", None, None, DIGEST),
            "postgres": KustImage("postgres", "mirror/postgres"),
        })


def test_read_env_images_of_a_kustomization_without_images() -> None:
    assert read_env_images("dev", "resources:\n  - deployment.yaml\n", "k.yaml") == EnvImages("dev", "k.yaml", {})


def test_read_env_images_refuses_what_is_not_a_kustomization() -> None:
    with pytest.raises(YamlError) as info:
        read_env_images("dev", "- a\n- b\n", "environments/dev/kustomization.yaml")
    assert (info.value.problem, info.value.file) == (
        "not a kustomization: expected one YAML document holding a block mapping",
        "environments/dev/kustomization.yaml")


# --- matrix --------------------------------------------------------------------------------------------------


def test_matrix_marks_where_a_promotion_is_pending() -> None:
    assert matrix([DEV, STAGING, PROD]) == Matrix(("dev", "staging", "prod"), (
        Row("aegis/api", (Cell(f"{API}:1.4.2", False), Cell(f"{API}:1.4.1", True), Cell(f"{API}:1.4.0", True))),
        Row("aegis/rec", (Cell("2.1.0", False), Cell("2.1.0", False), Cell("2.0.3", True))),
    ))


def test_matrix_compares_each_environment_with_the_one_before_it_only() -> None:
    # dev and prod agree, staging differs: both staging and prod are pending (prod differs from staging).
    states = [state("dev", rec("2.1.0")), state("staging", rec("2.0.0")), state("prod", rec("2.1.0"))]
    assert matrix(states).rows == (
        Row("aegis/rec", (Cell("2.1.0", False), Cell("2.0.0", True), Cell("2.1.0", True))),)


def test_matrix_of_images_missing_in_some_environments() -> None:
    states = [state("dev", rec("2.1.0")), state("staging"), state("prod", api("1.4.0"))]
    assert matrix(states) == Matrix(("dev", "staging", "prod"), (
        # only in prod: nothing before it runs it, so nothing is pending
        Row("aegis/api", (Cell(None, False), Cell(None, False), Cell(f"{API}:1.4.0", False))),
        # only in dev: staging lacks what dev runs (pending); prod follows staging, which runs nothing
        Row("aegis/rec", (Cell("2.1.0", False), Cell(None, True), Cell(None, False))),
    ))


def test_matrix_shows_digests_and_entries_without_tag() -> None:
    states = [state("dev", api("1.4.2", DIGEST), KustImage("redis", None, None, DIGEST), KustImage("pg"))]
    assert matrix(states).rows == (
        Row("aegis/api", (Cell(f"{API}:1.4.2@{DIGEST}", False),)),
        Row("pg", (Cell("(name only)", False),)),
        Row("redis", (Cell(f"@{DIGEST}", False),)),
    )


def test_matrix_image_filter_keeps_the_given_images_sorted_even_unknown_ones() -> None:
    assert matrix([DEV, STAGING, PROD], ["aegis/rec"]).rows == (
        Row("aegis/rec", (Cell("2.1.0", False), Cell("2.1.0", False), Cell("2.0.3", True))),)
    assert matrix([DEV, PROD], ["aegis/zz", "aegis/rec", "aegis/rec"]) == Matrix(("dev", "prod"), (
        Row("aegis/rec", (Cell("2.1.0", False), Cell("2.0.3", True))),
        Row("aegis/zz", (Cell(None, False), Cell(None, False))),
    ))


def test_matrix_of_nothing() -> None:
    assert matrix([]) == Matrix((), ())
    assert matrix([state("dev")]) == Matrix(("dev",), ())


def test_matrix_as_dict() -> None:
    assert matrix([DEV, PROD], ["aegis/rec"]).as_dict() == {
        "environments": ["dev", "prod"],
        "images": [{"image": "aegis/rec", "environments": {
            "dev": {"value": "2.1.0", "pending": False}, "prod": {"value": "2.0.3", "pending": True}}}],
    }


# --- differences ---------------------------------------------------------------------------------------------


def test_differences_between_two_environments() -> None:
    assert differences(DEV, STAGING) == (Difference("aegis/api", api("1.4.2"), api("1.4.1")),)
    assert differences(STAGING, PROD) == (
        Difference("aegis/api", api("1.4.1"), api("1.4.0")),
        Difference("aegis/rec", rec("2.1.0"), rec("2.0.3")),
    )


def test_no_differences_between_an_environment_and_itself() -> None:
    assert differences(DEV, DEV) == ()


def test_differences_of_images_set_on_one_side_only() -> None:
    a = state("dev", rec("2.1.0"))
    b = state("staging", api("1.4.1"))
    assert differences(a, b) == (
        Difference("aegis/api", None, api("1.4.1")),
        Difference("aegis/rec", rec("2.1.0"), None),
    )


@pytest.mark.parametrize(("a", "b"), [
    (api("1.4.2"), api("1.4.2", DIGEST)),                        # a digest pinned on one side
    (api("1.4.2"), KustImage("aegis/api", "mirror/api", "1.4.2")),  # another registry, same tag
    (api("1.4.2"), KustImage("aegis/api", None, "1.4.2")),          # no newName on one side
])
def test_differences_compare_name_tag_and_digest(a: KustImage, b: KustImage) -> None:
    assert differences(state("dev", a), state("staging", b)) == (Difference("aegis/api", a, b),)


def test_differences_image_filter() -> None:
    assert differences(STAGING, PROD, ["aegis/rec"]) == (Difference("aegis/rec", rec("2.1.0"), rec("2.0.3")),)
    assert differences(DEV, STAGING, ["aegis/rec"]) == ()
    assert differences(DEV, STAGING, ["aegis/nope"]) == ()


def test_difference_as_dict() -> None:
    assert Difference("aegis/api", api("1.4.2"), None).as_dict() == {"image": "aegis/api", "a": f"{API}:1.4.2",
                                                                     "b": None}


# --- environment_order ---------------------------------------------------------------------------------------


def test_environment_order_is_the_order_of_the_configuration() -> None:
    config = Config(environments=(Environment("qa", "envs/qa"), Environment("dev", "envs/dev"),
                                  Environment("prod", "envs/prod", protected=True)))
    assert environment_order(config) == ("qa", "dev", "prod")


def test_images_of_a_parsed_kustomization_takes_its_file_name() -> None:
    text = "images:\n  - name: aegis/rec\n    newTag: 2.1.0\n"
    kust = read_kustomization(text, "environments/dev/kustomization.yaml")
    assert images_of("dev", kust) == state("dev", rec("2.1.0"))
