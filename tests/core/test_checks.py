"""gitops_tools.core.checks on plain values: what `validate` reports, from minimal rendered objects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from gitops_tools.config import (
    Config,
    Environment,
    ImageOptions,
    Policies,
    ValuesLocation,
)
from gitops_tools.core.checks import (
    ERROR,
    WARNING,
    Finding,
    RenderedImage,
    RepoFacts,
    check_applications,
    check_secrets,
    check_tags,
    check_unused_images,
    check_values,
    object_name,
    rendered_images,
    split_image,
)
from gitops_tools.core.imageplan import Facts, Target, plan_set, resolve
from gitops_tools.core.kustomize import KustImage, parse_specs, read_kustomization
from gitops_tools.core.policy import is_mutable

DIGEST = "sha256:" + "b" * 64
KFILE = "environments/dev/kustomization.yaml"
DEV = Environment("dev", "environments/dev")
PROD = Environment("prod", "environments/prod", protected=True)


def workload(kind: str, name: str, *containers: dict[str, Any], key: str = "containers") -> dict[str, Any]:
    pod = {key: list(containers)}
    if kind == "Pod":
        spec: dict[str, Any] = pod
    elif kind == "CronJob":
        spec = {"jobTemplate": {"spec": {"template": {"spec": pod}}}}
    else:
        spec = {"template": {"spec": pod}}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def c(name: str, image: str) -> dict[str, str]:
    return {"name": name, "image": image}


# --- split_image, object_name --------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", ("nginx", None, None)),
    ("nginx:1.27", ("nginx", "1.27", None)),
    ("reg:5000/team/app", ("reg:5000/team/app", None, None)),
    ("reg:5000/team/app:1.0", ("reg:5000/team/app", "1.0", None)),
    (f"reg/app@{DIGEST}", ("reg/app", None, DIGEST)),
    (f"reg:5000/app:1.0@{DIGEST}", ("reg:5000/app", "1.0", DIGEST)),
    ("app:", ("app", "", None)),
    ("", ("", None, None)),
])
def test_split_image(image: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_image(image) == expected


@pytest.mark.parametrize(("obj", "expected"), [
    ({"kind": "Deployment", "metadata": {"name": "api"}}, "Deployment/api"),
    ({"kind": "Secret"}, "Secret/?"),
    ({"metadata": {"name": "x"}}, "?/x"),
    ({"kind": "Secret", "metadata": "oops"}, "Secret/?"),
])
def test_object_name(obj: dict[str, Any], expected: str) -> None:
    assert object_name(obj) == expected


# --- rendered_images -----------------------------------------------------------------------------------------


def test_rendered_images_of_every_workload_kind_and_container_list() -> None:
    deployment = workload("Deployment", "api", c("api", "reg/api:1.4.2"), c("sidecar", "envoy:1.30"))
    deployment["spec"]["template"]["spec"]["initContainers"] = [c("migrate", "reg/api:1.4.2")]
    deployment["spec"]["template"]["spec"]["ephemeralContainers"] = [c("debug", "busybox")]
    objects = [
        deployment,
        workload("Pod", "p", c("main", "redis:7")),
        workload("CronJob", "nightly", c("job", "reg/rec:2.1.0")),
        workload("StatefulSet", "db", c("pg", "postgres:16")),
        {"kind": "Service", "metadata": {"name": "api"}, "spec": {"ports": [{"port": 80}]}},
    ]
    assert rendered_images(objects) == [
        RenderedImage("Deployment/api", "migrate", "reg/api:1.4.2"),
        RenderedImage("Deployment/api", "api", "reg/api:1.4.2"),
        RenderedImage("Deployment/api", "sidecar", "envoy:1.30"),
        RenderedImage("Deployment/api", "debug", "busybox"),
        RenderedImage("Pod/p", "main", "redis:7"),
        RenderedImage("CronJob/nightly", "job", "reg/rec:2.1.0"),
        RenderedImage("StatefulSet/db", "pg", "postgres:16"),
    ]


@pytest.mark.parametrize("obj", [
    {"kind": "Deployment", "metadata": {"name": "x"}},
    {"kind": "Deployment", "spec": "nope"},
    {"kind": "Deployment", "spec": {"template": None}},
    {"kind": "Deployment", "spec": {"template": {"spec": "nope"}}},
    {"kind": "CronJob", "spec": {"jobTemplate": "nope"}},
    {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": "nope"}}}},
    {"kind": "Pod", "spec": {"containers": None}},
    {"kind": "Pod", "spec": {"containers": ["not a mapping"]}},
])
def test_rendered_images_skips_shapes_that_hold_no_containers(obj: dict[str, Any]) -> None:
    assert rendered_images([obj]) == []


def test_rendered_images_of_a_container_without_name_or_image() -> None:
    assert rendered_images([workload("Pod", "p", {})]) == [RenderedImage("Pod/p", "?", "")]


# --- check_unused_images -------------------------------------------------------------------------------------

RENDER = [RenderedImage("Deployment/api", "api", "reg/aegis/api:1.4.2"),
          RenderedImage("StatefulSet/db", "pg", f"postgres@{DIGEST}")]


def test_an_images_entry_that_matches_no_container() -> None:
    entries = [KustImage("aegis/api", "reg/aegis/api", "1.4.2"),   # matches through its newName
               KustImage("postgres", None, "16"),
               KustImage("aegis/apii", None, "1.4.2")]
    assert check_unused_images("dev", KFILE, entries, RENDER) == [
        Finding(ERROR, "dev", "unused-image", KFILE, "images[name=aegis/apii]",
                "matches no container in the render (rendered images: postgres, reg/aegis/api)"),
    ]


def test_an_entry_whose_name_renders_but_whose_new_name_does_not_is_unused() -> None:
    # kustomize renamed the image to newName: the name itself is no longer in the render.
    render = [RenderedImage("Deployment/api", "api", "aegis/api:1.4.2")]
    assert check_unused_images("dev", KFILE, [KustImage("aegis/api", "reg/aegis/api", "1.4.2")], render) == [
        Finding(ERROR, "dev", "unused-image", KFILE, "images[name=aegis/api]",
                "matches no container in the render (rendered images: aegis/api)")]


def test_unused_images_of_an_empty_render() -> None:
    assert check_unused_images("dev", KFILE, [KustImage("a")], []) == [
        Finding(ERROR, "dev", "unused-image", KFILE, "images[name=a]",
                "matches no container in the render (rendered images: none)")]
    assert check_unused_images("dev", KFILE, [], RENDER) == []


# --- check_tags ----------------------------------------------------------------------------------------------

CONFIG = Config(environments=(DEV, PROD))
TAGS = [
    RenderedImage("Deployment/api", "api", "reg/api:1.4.2"),              # pinned
    RenderedImage("Deployment/api", "cache", "reg/cache:latest"),         # mutable
    RenderedImage("Deployment/api", "proxy", "reg:5000/proxy"),           # no tag (the port is no tag)
    RenderedImage("Deployment/api", "pinned", f"reg/x:latest@{DIGEST}"),  # a digest pins whatever the tag
    RenderedImage("Deployment/api", "bare", f"reg/y@{DIGEST}"),
]


def test_mutable_and_missing_tags_warn_in_an_unprotected_environment() -> None:
    assert check_tags(CONFIG, DEV, TAGS) == [
        Finding(WARNING, "dev", "mutable-tag", None, "Deployment/api container cache",
                "image 'reg/cache:latest' uses the mutable tag 'latest'; pin a version or a digest"),
        Finding(WARNING, "dev", "mutable-tag", None, "Deployment/api container proxy",
                "image 'reg:5000/proxy' has no tag (it means latest); pin a version or a digest"),
    ]


def test_mutable_and_missing_tags_fail_in_a_protected_environment() -> None:
    assert check_tags(CONFIG, PROD, TAGS) == [
        Finding(ERROR, "prod", "mutable-tag", None, "Deployment/api container cache",
                "image 'reg/cache:latest' uses the mutable tag 'latest' in a protected environment; pin a version or "
                "a digest"),
        Finding(ERROR, "prod", "mutable-tag", None, "Deployment/api container proxy",
                "image 'reg:5000/proxy' has no tag (it means latest) in a protected environment; pin a version or a "
                "digest"),
    ]


def test_mutable_tags_come_from_the_configuration() -> None:
    config = Config(environments=(DEV,), policies=Policies(mutable_tags=("edge",)))
    images = [RenderedImage("Pod/p", "a", "reg/a:latest"), RenderedImage("Pod/p", "b", "reg/b:edge")]
    assert check_tags(config, DEV, images) == [
        Finding(WARNING, "dev", "mutable-tag", None, "Pod/p container b",
                "image 'reg/b:edge' uses the mutable tag 'edge'; pin a version or a digest")]


def test_mutable_tags_are_found_whatever_their_case() -> None:
    assert [f.where for f in check_tags(CONFIG, PROD, [RenderedImage("Pod/p", "a", "reg/a:Latest")])] == [
        "Pod/p container a"]


@pytest.mark.parametrize("image", ["reg/a:Latest", "reg/a:MAIN", "reg/a:Edge", "reg/a:edge", "reg/a:1.4.2",
                                   f"reg/a:Latest@{DIGEST}", "reg/a"])
@pytest.mark.parametrize("config", [CONFIG, Config(environments=(DEV,), policies=Policies(mutable_tags=("EDGE",)))])
def test_check_tags_and_image_set_apply_one_rule(image: str, config: Config) -> None:
    # validate reports exactly the tags (or the missing tag) that image set refuses in a protected environment
    _, tag, digest = split_image(image)
    assert bool(check_tags(config, PROD, [RenderedImage("Pod/p", "a", image)])) is is_mutable(config, tag, digest)


# --- check_secrets -------------------------------------------------------------------------------------------


def test_a_secret_with_data_in_git() -> None:
    objects = [
        {"kind": "Secret", "metadata": {"name": "leaked"}, "data": {"token": "aHVudGVyMg=="},
         "stringData": {"password": "hunter2", "token": "x"}},
        {"kind": "Secret", "metadata": {"name": "empty"}, "data": {}},
        {"kind": "Secret", "metadata": {"name": "typed"}, "type": "kubernetes.io/service-account-token"},
        {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"password": "not a secret"}},
        {"kind": "ExternalSecret", "metadata": {"name": "db"}, "spec": {"data": [{"secretKey": "password"}]}},
    ]
    findings = check_secrets("staging", objects)
    assert findings == [
        Finding(ERROR, "staging", "plaintext-secret", None, "Secret/leaked",
                "a Secret with data (password, token) is rendered from git; store it in Vault and read it with an "
                "ExternalSecret"),
    ]
    assert "hunter2" not in repr(findings)


# --- check_values --------------------------------------------------------------------------------------------

VFILE = "environments/dev/values.yaml"
REC = "reg/aegis/rec"
VALUES_CONFIG = Config(environments=(DEV,), images=(ImageOptions("aegis/rec", (
    ValuesLocation("values.yaml", "image.repository", "name"),
    ValuesLocation("values.yaml", "image.tag"),
)),))
ENTRY = KustImage("aegis/rec", REC, "2.1.0")


def values(text: str | None) -> dict[str, str | None]:
    return {VFILE: text}


def test_values_in_step_with_the_kustomization() -> None:
    text = f'image:\n  repository: {REC}\n  tag: "2.1.0"\n'
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], values(text)) == []


def test_a_values_key_out_of_step() -> None:
    text = f"image:\n  repository: {REC}\n  tag: 2.0.9\n"
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], values(text)) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.tag",
                "holds '2.0.9' but the kustomization sets aegis/rec to '2.1.0' (tag); run gitops-tools image set "
                "dev 'aegis/rec=*:2.1.0' to bring it in step"),
    ]


@pytest.mark.parametrize("given", [values(None), {}])
def test_a_values_file_that_does_not_exist(given: dict[str, str | None]) -> None:
    message = "the values file does not exist, but aegis/rec is configured to move it"
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], given) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.repository", message),
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.tag", message),
    ]


def test_a_values_file_that_does_not_parse() -> None:
    problem = "cannot parse YAML: while parsing a flow node, did not find expected node content"
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], values("image: [\n")) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.repository", problem),
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.tag", problem),
    ]


def test_a_values_key_that_is_missing() -> None:
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], values(f"image:\n  repository: {REC}\n")) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.tag",
                "is missing but the kustomization sets aegis/rec to '2.1.0' (tag); run gitops-tools image set "
                "dev 'aegis/rec=*:2.1.0' to add it"),
    ]


def test_a_values_key_whose_mapping_is_missing_too_is_added_by_hand() -> None:
    # image set adds a missing key only to a mapping that exists: the fix says what to write instead
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], values("other: 1\n")) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, key,
                f"is missing but the kustomization sets aegis/rec to {value!r} ({field}); write {value!r} at {key} by "
                "hand (image set cannot: not found; keys here: other), or correct the key in gitops-tools.yaml")
        for key, value, field in (("image.repository", REC, "name"), ("image.tag", "2.1.0", "tag"))
    ]


@pytest.mark.parametrize(("text", "kind"), [
    (f"image:\n  repository: {REC}\n  tag:\n    major: 2\n", "a mapping"),
    (f"image:\n  repository: {REC}\n  tag: [2, 1, 0]\n", "a list"),
])
def test_a_values_key_that_holds_a_mapping_or_a_list(text: str, kind: str) -> None:
    assert check_values(VALUES_CONFIG, DEV, [ENTRY], values(text)) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.tag",
                f"holds {kind} (not a value) but the kustomization sets aegis/rec to '2.1.0' (tag); write '2.1.0' at "
                f"image.tag by hand (image set cannot: expected a single value, found {kind}; point the key path at "
                "the scalar to change), or correct the key in gitops-tools.yaml"),
    ]


@pytest.mark.parametrize(("entry", "spec", "other"), [
    (KustImage("aegis/rec", REC), "aegis/rec=*:<tag>", "ref"),
    (KustImage("aegis/rec", REC, None, DIGEST), "aegis/rec=*:<tag>@*", "ref"),
])
def test_a_values_key_following_a_tag_the_kustomization_does_not_set(entry: KustImage, spec: str, other: str) -> None:
    text = f"image:\n  repository: {REC}\n  tag: 2.1.0\n"
    assert check_values(VALUES_CONFIG, DEV, [entry], values(text)) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.tag",
                f"holds '2.1.0', but the kustomization sets no tag for aegis/rec ({entry.value}), so this key cannot "
                f"follow it; pin a tag with gitops-tools image set dev '{spec}', or make the key follow another field "
                f"(field: {other}) in gitops-tools.yaml"),
    ]


@pytest.mark.parametrize(("entry", "spec"), [
    (KustImage("aegis/rec", REC, "2.1.0"), "aegis/rec=*:*@sha256:<digest>"),
    (KustImage("aegis/rec", REC), "aegis/rec=*@sha256:<digest>"),
])
def test_a_values_key_following_a_digest_the_kustomization_does_not_set(entry: KustImage, spec: str) -> None:
    config = Config(environments=(DEV,), images=(ImageOptions("aegis/rec", (
        ValuesLocation("values.yaml", "image.digest", "digest"),)),))
    assert check_values(config, DEV, [entry], values(f"image:\n  digest: {DIGEST}\n")) == [
        Finding(ERROR, "dev", "values-mismatch", VFILE, "image.digest",
                f"holds {DIGEST!r}, but the kustomization sets no digest for aegis/rec ({entry.value}), so this key "
                f"cannot follow it; pin a digest with gitops-tools image set dev '{spec}', or make the key follow "
                "another field (field: tag or ref) in gitops-tools.yaml"),
    ]


@pytest.mark.parametrize("entry", [ENTRY, ENTRY._replace(digest=DIGEST)])
@pytest.mark.parametrize("text", [
    f"image:\n  repository: {REC}\n  tag: 2.0.9\n",        # drifted
    f"image:\n  repository: {REC}\n",                      # missing
    f"image:\n  repository: {REC}\n  tag: ~\n",             # null
    "image: {}\n",                                          # both missing, in a flow mapping
    "image:\n  repository: reg/other\n  tag: '2.1.0'\n",    # another repository
])
def test_the_image_set_command_check_values_suggests_brings_the_key_in_step(entry: KustImage, text: str) -> None:
    """Run what the message says (as image set plans it) and check again: nothing left, kustomization unchanged."""
    kust_text = (f"images:\n  - name: aegis/rec\n    newName: {REC}\n    newTag: 2.1.0\n"
                 + (f"    digest: {entry.digest}\n" if entry.digest else ""))
    findings = check_values(VALUES_CONFIG, DEV, [entry], values(text))
    assert findings
    specs = {re.search(r"image set dev '([^']+)' to (add it|bring it in step)$", f.message).group(1)  # type: ignore[union-attr]
             for f in findings}
    assert len(specs) == 1
    kust = read_kustomization(kust_text, KFILE)
    res = resolve(kust, parse_specs(sorted(specs)), configured=True, add=False, scope="dev")
    plan = plan_set(res, Facts(), config=VALUES_CONFIG, target=Target("dev", "environments/dev", DEV),
                    action="set-image", allow_downgrade=False, values={"values.yaml": (VFILE, text)})
    assert set(plan.texts) == {VFILE}  # only the values file changes
    assert check_values(VALUES_CONFIG, DEV, [entry], values(plan.texts[VFILE][1])) == []


def test_an_image_the_kustomization_does_not_set_has_no_values_to_check() -> None:
    assert check_values(VALUES_CONFIG, DEV, [KustImage("aegis/api", None, "1.0")], values(None)) == []


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("ref", f"ref: {REC}:2.1.0@{DIGEST}\n", None),
    ("ref", f"ref: {REC}:2.1.0\n", f"{REC}:2.1.0@{DIGEST}"),
    ("digest", f"ref: {DIGEST}\n", None),
    ("digest", "ref: sha256:0\n", DIGEST),
    ("name", f"ref: {REC}\n", None),
])
def test_values_keys_of_every_field(field: str, text: str, expected: str | None) -> None:
    config = Config(environments=(DEV,), images=(ImageOptions("aegis/rec", (ValuesLocation("values.yaml", "ref",
                                                                                           field),)),))
    findings = check_values(config, DEV, [KustImage("aegis/rec", REC, "2.1.0", DIGEST)], values(text))
    if expected is None:
        assert findings == []
    else:
        actual = text.split(": ", 1)[1].strip()
        # the suggested SPEC restates the digest too: `aegis/rec=*:2.1.0` would clear it
        assert findings == [Finding(
            ERROR, "dev", "values-mismatch", VFILE, "ref",
            f"holds {actual!r} but the kustomization sets aegis/rec to {expected!r} ({field}); run gitops-tools "
            f"image set dev 'aegis/rec=*:2.1.0@{DIGEST}' to bring it in step")]


# --- check_applications --------------------------------------------------------------------------------------

REPO = "https://gitlab.com/aegis/gitops.git"
FACTS = RepoFacts(
    repo_urls=frozenset({REPO}),
    directories=frozenset({"environments/dev", "environments/prod"}),
    files=frozenset({"environments/dev/values.yaml"}),
    revisions=frozenset({"HEAD", "main"}),
    namespaces={"environments/dev": "aegis-dev", "environments/prod": None},
)
PROJECTS: dict[str, Mapping[str, Any]] = {
    "aegis": {"spec": {"destinations": [{"namespace": "aegis-*"}, {"namespace": "monitoring"}]}},
    "locked": {"spec": {}},
}
AFILE = "applications/aegis-dev.yaml"


def app(source: dict[str, Any] | None = None, *, sources: list[dict[str, Any]] | None = None,
        namespace: str | None = "aegis-dev", project: str | None = "aegis") -> dict[str, Any]:
    spec: dict[str, Any] = {"destination": {"server": "https://kubernetes.default.svc"}}
    if namespace is not None:
        spec["destination"]["namespace"] = namespace
    if project is not None:
        spec["project"] = project
    if source is not None:
        spec["source"] = source
    if sources is not None:
        spec["sources"] = sources
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "aegis-dev"},
            "spec": spec}


def src(path: str | None = "environments/dev", rev: str | None = "main", url: str = REPO, **kw: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"repoURL": url, **kw}
    if path is not None:
        s["path"] = path
    if rev is not None:
        s["targetRevision"] = rev
    return s


def findings_of(*apps: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = check_applications([(AFILE, a) for a in apps], FACTS, PROJECTS)
    assert {(f.severity, f.env, f.file) for f in out} <= {(ERROR, None, AFILE)}
    return [(f.check, f.where, f.message) for f in out]


@pytest.mark.parametrize("source", [
    src(),
    src(url="https://gitlab.com/aegis/gitops/"),     # the same repository without .git, with a slash
    src(url="https://gitlab.com/aegis/gitops"),
    src(path="/environments/dev/"),                  # slashes around the path
    src(rev=None),                                   # no targetRevision: HEAD
    src(rev="HEAD"),
    src(path=None),                                  # no path (a Helm chart from this repository, say)
    src(url="https://charts.example.com", path="charts/x", rev="9.9.9"),  # another repository: not checked
])
def test_an_application_pointing_at_what_exists(source: dict[str, Any]) -> None:
    assert findings_of(app(source)) == []


def test_an_application_whose_path_or_revision_does_not_exist() -> None:
    assert findings_of(app(src(path="environments/development", rev="mian"))) == [
        ("application-branch", "Application/aegis-dev spec.source.targetRevision",
         "revision 'mian' does not exist (known: HEAD, main)"),
        ("application-path", "Application/aegis-dev spec.source.path",
         "path 'environments/development' does not exist in this repository"),
    ]


def test_multi_source_applications_name_the_source() -> None:
    chart = src(url="https://charts.example.com", path=None, rev="1.0.0")
    assert findings_of(app(sources=[chart, src(path="environments/qa")])) == [
        ("application-path", "Application/aegis-dev spec.sources[1].path",
         "path 'environments/qa' does not exist in this repository")]


def test_an_application_deploying_into_another_namespace_than_its_overlay_sets() -> None:
    assert findings_of(app(src(), namespace="aegis-other")) == [
        ("application-namespace", "Application/aegis-dev spec.destination.namespace",
         "deploys into 'aegis-other' but environments/dev sets namespace 'aegis-dev'")]
    # an overlay that sets no namespace, or an Application without one: nothing to compare
    assert findings_of(app(src(path="environments/prod"), namespace="aegis-other")) == []
    assert findings_of(app(src(), namespace=None)) == []


def test_an_application_deploying_where_its_project_does_not_allow() -> None:
    assert findings_of(app(src(), namespace="kube-system")) == [
        ("application-namespace", "Application/aegis-dev spec.destination.namespace",
         "deploys into 'kube-system' but environments/dev sets namespace 'aegis-dev'"),
        ("application-namespace", "Application/aegis-dev spec.destination.namespace",
         "namespace 'kube-system' is not allowed by project 'aegis' (aegis-*, monitoring)"),
    ]
    assert findings_of(app(src(path="environments/prod"), namespace="monitoring")) == []
    assert findings_of(app(src(path="environments/prod"), namespace="aegis-prod", project="locked")) == [
        ("application-namespace", "Application/aegis-dev spec.destination.namespace",
         "namespace 'aegis-prod' is not allowed by project 'locked' (none)")]


def test_an_application_in_a_project_that_is_not_defined() -> None:
    assert findings_of(app(src(), project="aegsi")) == [
        ("application-project", "Application/aegis-dev spec.project",
         "AppProject 'aegsi' is not defined in applications/")]
    # Argo CD's own default project needs no definition
    assert findings_of(app(src(), project="default"), app(src(), project=None)) == []


def test_helm_value_files_read_from_this_repository_through_a_ref_source() -> None:
    chart = src(url="https://charts.example.com", path=None, rev="1.0.0", helm={"valueFiles": [
        "$values/environments/dev/values.yaml",     # exists
        "$values/environments/prod/values.yaml",    # does not
        "values-default.yaml",                      # the chart's own file: not ours to check
        "$other/environments/prod/values.yaml",     # a ref no source defines
    ]})
    values_source = src(path=None, ref="values")
    assert findings_of(app(sources=[chart, values_source])) == [
        ("application-path", "Application/aegis-dev spec.sources[0].helm.valueFiles",
         "$values/environments/prod/values.yaml: no file environments/prod/values.yaml in this repository")]


def test_a_path_that_does_not_exist_skips_the_namespace_comparison() -> None:
    assert [check for check, _, _ in findings_of(app(src(path="environments/qa"), namespace="aegis-other"))] == [
        "application-path"]


def test_helm_value_files_of_a_ref_to_another_repository_are_not_checked_here() -> None:
    chart = src(url="https://charts.example.com", path=None, rev="1.0.0",
                helm={"valueFiles": ["$cfg/prod/values.yaml"]})
    config_repo = src(url="https://gitlab.com/aegis/other-config.git", path=None, ref="cfg")
    assert findings_of(app(sources=[chart, config_repo])) == []


def test_helm_value_files_are_checked_by_the_repository_of_their_ref() -> None:
    chart = src(url="https://charts.example.com", path=None, rev="1.0.0", helm={"valueFiles": [
        "$cfg/environments/dev/values.yaml",   # another repository's file that happens to exist here too
        "$cfg/nowhere.yaml",                   # another repository: not ours to check
        "$values/environments/prod/values.yaml",  # this repository: does not exist
    ]})
    config_repo = src(url="https://gitlab.com/aegis/other-config.git", path=None, ref="cfg")
    values_source = src(url="https://gitlab.com/aegis/gitops/", path=None, ref="values")
    assert findings_of(app(sources=[chart, config_repo, values_source])) == [
        ("application-path", "Application/aegis-dev spec.sources[0].helm.valueFiles",
         "$values/environments/prod/values.yaml: no file environments/prod/values.yaml in this repository")]


def test_helm_value_files_of_a_chart_in_this_repository_through_a_ref_are_checked_too() -> None:
    chart = src(path="charts/app", helm={"valueFiles": ["$values/environments/qa/values.yaml", "values-qa.yaml"]})
    facts = FACTS._replace(directories=FACTS.directories | {"charts/app"})
    findings = check_applications([(AFILE, app(sources=[chart, src(path=None, ref="values")]))], facts, PROJECTS)
    assert [(f.where, f.message) for f in findings] == [
        ("Application/aegis-dev spec.sources[0].helm.valueFiles",
         "$values/environments/qa/values.yaml: no file environments/qa/values.yaml in this repository")]
