"""Argo CD's own Slack notifications in the Aegis content (applications/notifications/, the Applications'
subscription annotations), and what `gitops-tools validate` checks of them: each check fails on a broken copy of
this repository with the exact finding, and the real content passes."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_tools.core.argocd_checks import (
    check_notification_secrets,
    check_notification_subscriptions,
    check_notification_templates,
    check_notifications,
)
from gitops_tools.core.checks import ERROR, Finding
from tests.conftest import ROOT, copy_checkout, kubectl, run_cli

CM_FILE = "applications/notifications/argocd-notifications-cm.yaml"
ES_FILE = "applications/notifications/externalsecret.yaml"
CM = "ConfigMap/argocd-notifications-cm"
PREFIX = "notifications.argoproj.io/subscribe."
FAILURES = {f"{PREFIX}on-sync-failed.slack": "deployments", f"{PREFIX}on-health-degraded.slack": "deployments"}
EVERYTHING = {f"{PREFIX}on-sync-succeeded.slack": "deployments", **FAILURES}


@cache
def render(path: str = "applications") -> tuple[dict[str, Any], ...]:
    out = subprocess.run([kubectl(), "kustomize", str(ROOT / path)], check=True, capture_output=True, text=True)
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def one(kind: str) -> dict[str, Any]:
    [obj] = [o for o in render() if o["kind"] == kind]
    return obj


def located() -> list[tuple[str, dict[str, Any]]]:
    """The render of applications/, each object with its file, as validate hands it to the checks."""
    files = {"ConfigMap": CM_FILE, "ExternalSecret": ES_FILE, "SecretStore": "applications/notifications/secretstore.yaml",
             "ServiceAccount": "applications/notifications/secretstore.yaml", "AppProject": "applications/project.yaml"}
    return [(files.get(o["kind"], f"applications/{o['metadata']['name']}.yaml"), o) for o in render()]


# --- the content ----------------------------------------------------------------------------------------------


def test_applications_render_the_notifications_in_the_argocd_namespace() -> None:
    objects = render()
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("AppProject", "aegis"),
        ("Application", "aegis-dev"), ("Application", "aegis-prod"), ("Application", "aegis-staging"),
        ("ConfigMap", "argocd-notifications-cm"),
        ("ExternalSecret", "argocd-notifications-secret"),
        ("SecretStore", "vault-backend"),
        ("ServiceAccount", "external-secrets-sa"),
    ]
    assert {o["metadata"]["namespace"] for o in objects} == {"argocd"}
    assert [o for o in objects if o["kind"] == "Secret"] == []


def test_triggers_templates_and_the_slack_service() -> None:
    data = one("ConfigMap")["data"]
    triggers = {k.removeprefix("trigger."): yaml.safe_load(v) for k, v in data.items() if k.startswith("trigger.")}
    assert {name: [c["send"] for c in conditions] for name, conditions in triggers.items()} == {
        "on-sync-succeeded": [["app-sync-succeeded"]],
        "on-sync-failed": [["app-sync-failed"]],
        "on-health-degraded": [["app-health-degraded"]],
    }
    assert "'Succeeded'" in triggers["on-sync-succeeded"][0]["when"]
    assert "'Failed'" in triggers["on-sync-failed"][0]["when"]
    assert triggers["on-health-degraded"][0]["when"] == "app.status.health.status == 'Degraded'"
    assert yaml.safe_load(data["service.slack"]) == {"token": "$slack-token"}
    assert yaml.safe_load(data["context"]) == {"argocdUrl": "https://argocd.aegis.kr"}
    for name in ("app-sync-succeeded", "app-sync-failed", "app-health-degraded"):
        template = yaml.safe_load(data[f"template.{name}"])
        for text in (template["message"], template["slack"]["attachments"]):
            # application, environment (namespace), revision, link
            assert "{{.app.metadata.name}}" in text, name
            assert "{{.app.spec.destination.namespace}}" in text, name
            assert "{{index .revisions 0}}" in text and "{{.revision}}" in text, name
            assert "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}" in text, name


def test_the_slack_token_comes_from_vault() -> None:
    external = one("ExternalSecret")
    assert external["spec"]["target"] == {"name": "argocd-notifications-secret", "creationPolicy": "Merge",
                                          "deletionPolicy": "Retain"}
    assert external["spec"]["secretStoreRef"] == {"name": "vault-backend", "kind": "SecretStore"}
    assert external["spec"]["data"] == [
        {"secretKey": "slack-token", "remoteRef": {"key": "aegis/argocd-notifications", "property": "slack_token"}}
    ]
    vault = one("SecretStore")["spec"]["provider"]["vault"]
    assert vault["auth"]["kubernetes"] == {"mountPath": "kubernetes", "role": "argocd-notifications",
                                           "serviceAccountRef": {"name": "external-secrets-sa"}}


def test_each_environment_subscribes_to_what_it_needs() -> None:
    apps = {o["metadata"]["name"]: o["metadata"].get("annotations", {}) for o in render() if o["kind"] == "Application"}
    assert apps == {"aegis-dev": FAILURES, "aegis-staging": EVERYTHING, "aegis-prod": EVERYTHING}


def test_the_real_content_passes_the_checks() -> None:
    assert check_notifications(located()) == []


# --- validate on a broken copy ----------------------------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    kubectl()
    return copy_checkout(ROOT, tmp_path / "gitops")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def findings(checkout: Path) -> list[dict[str, Any]]:
    r = run_cli(checkout, "-o", "json", "validate")
    assert r.returncode == 1, r.stdout + r.stderr
    return list(json.loads(r.stdout)["findings"])


def finding(check: str, file: str, where: str, message: str) -> dict[str, Any]:
    return {"severity": "error", "env": None, "check": check, "file": file, "where": where, "message": message}


def test_subscription_to_an_undefined_trigger_or_service(checkout: Path) -> None:
    edit(checkout / "applications/aegis-dev.yaml", "subscribe.on-sync-failed.slack", "subscribe.on-sync-faild.slack")
    edit(checkout / "applications/aegis-prod.yaml", "subscribe.on-health-degraded.slack",
         "subscribe.on-health-degraded.slak")
    assert findings(checkout) == [
        finding("notifications-subscription", "applications/aegis-dev.yaml",
                f"Application/aegis-dev metadata.annotations[{PREFIX}on-sync-faild.slack]",
                f"trigger 'on-sync-faild' is not defined in argocd-notifications-cm ({CM_FILE} defines "
                "on-health-degraded, on-sync-failed, on-sync-succeeded); add trigger.on-sync-faild there or subscribe "
                "to a defined trigger"),
        finding("notifications-subscription", "applications/aegis-prod.yaml",
                f"Application/aegis-prod metadata.annotations[{PREFIX}on-health-degraded.slak]",
                f"service 'slak' is not defined in argocd-notifications-cm ({CM_FILE} defines slack); add "
                "service.slak there or subscribe with a defined service"),
    ]


def test_a_trigger_removed_from_the_configmap_fails_every_subscription_to_it(checkout: Path) -> None:
    cm = checkout / CM_FILE
    text = cm.read_text()
    start = text.index("  trigger.on-health-degraded: |")
    end = text.index("\n\n", start)
    cm.write_text(text[:start] + text[end + 2:])
    assert [(f["file"], f["where"]) for f in findings(checkout)] == [
        (f"applications/aegis-{env}.yaml", f"Application/aegis-{env} metadata.annotations[{PREFIX}on-health-degraded.slack]")
        for env in ("dev", "prod", "staging")
    ]


def test_service_variable_that_the_externalsecret_does_not_produce(checkout: Path) -> None:
    edit(checkout / CM_FILE, "token: $slack-token", "token: $slack-tokn")
    assert findings(checkout) == [
        finding("notifications-secret", CM_FILE, f"{CM} data[service.slack]",
                f"$slack-tokn is not a key of argocd-notifications-secret: the ExternalSecret ({ES_FILE}) produces "
                "slack-token; add a data entry with secretKey: slack-tokn there or correct the variable (Argo CD "
                "would use the text $slack-tokn as the value)"),
    ]


def test_no_externalsecret_for_the_notifications_secret(checkout: Path) -> None:
    edit(checkout / "applications/notifications/kustomization.yaml", "  - externalsecret.yaml\n", "")
    assert findings(checkout) == [
        finding("notifications-secret", CM_FILE, f"{CM} data[service.slack]",
                "$slack-token is read from the Secret argocd-notifications-secret, but no ExternalSecret produces it; "
                "add an ExternalSecret with target.name argocd-notifications-secret and a data entry with secretKey: "
                "slack-token (its value in Vault: a Secret with data in git is refused)"),
    ]


def test_the_token_as_a_plaintext_secret_is_refused(checkout: Path) -> None:
    (checkout / "applications/notifications/secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: argocd-notifications-secret\n"
        "stringData:\n  slack-token: xoxb-not-a-real-token\n"
    )
    edit(checkout / "applications/notifications/kustomization.yaml", "  - externalsecret.yaml\n",
         "  - secret.yaml\n")
    r = run_cli(checkout, "-o", "json", "validate")
    assert r.returncode == 1
    assert json.loads(r.stdout)["findings"] == [
        finding("plaintext-secret", "applications/notifications/secret.yaml", "Secret/argocd-notifications-secret",
                "a Secret with data (slack-token) is rendered from git; store it in Vault and read it with an "
                "ExternalSecret"),
        finding("notifications-secret", CM_FILE, f"{CM} data[service.slack]",
                "$slack-token is read from the Secret argocd-notifications-secret, but no ExternalSecret produces it; "
                "add an ExternalSecret with target.name argocd-notifications-secret and a data entry with secretKey: "
                "slack-token (its value in Vault: a Secret with data in git is refused)"),
    ]
    assert "xoxb" not in r.stdout + r.stderr


def test_trigger_that_sends_an_undefined_template(checkout: Path) -> None:
    edit(checkout / CM_FILE, "send: [app-sync-failed]", "send: [app-sync-faild]")
    assert findings(checkout) == [
        finding("notifications-template", CM_FILE, f"{CM} data[trigger.on-sync-failed][0].send",
                "template 'app-sync-faild' is not defined in argocd-notifications-cm (it defines app-health-degraded, "
                "app-sync-failed, app-sync-succeeded); add template.app-sync-faild or correct the name"),
    ]


def test_trigger_that_does_not_parse(checkout: Path) -> None:
    edit(checkout / CM_FILE, "send: [app-sync-failed]", "send: [app-sync-failed")
    [f] = findings(checkout)
    assert (f["check"], f["file"], f["where"]) == ("notifications-config", CM_FILE, f"{CM} data[trigger.on-sync-failed]")
    assert f["message"].startswith("does not parse as YAML: ")


# --- the checks on plain values ---------------------------------------------------------------------------------


def cm(data: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "cm.yaml", {"kind": "ConfigMap", "metadata": {"name": "argocd-notifications-cm", "namespace": "argocd"},
                       "data": data}


def app(**annotations: str) -> tuple[str, dict[str, Any]]:
    return "app.yaml", {"kind": "Application", "metadata": {"name": "a", "annotations": annotations}}


def es(spec: dict[str, Any], name: str = "argocd-notifications-secret") -> tuple[str, dict[str, Any]]:
    return "es.yaml", {"kind": "ExternalSecret", "metadata": {"name": name, "namespace": "argocd"}, "spec": spec}


def test_subscription_without_a_configmap() -> None:
    assert check_notification_subscriptions([app(**{f"{PREFIX}on-x.slack": "c"})]) == [
        Finding(ERROR, None, "notifications-subscription", "app.yaml", f"Application/a metadata.annotations[{PREFIX}on-x.slack]",
                "subscribes to Argo CD notifications, but no ConfigMap argocd-notifications-cm is rendered from "
                "applications/; add one that defines trigger.on-x and service.slack"),
    ]


def test_named_services_and_project_subscriptions() -> None:
    project = ("project.yaml", {"kind": "AppProject", "metadata": {"name": "p", "annotations": {
        f"{PREFIX}on-x.github": "", f"{PREFIX}on-x.webhook": ""}}})
    objects = [cm({"trigger.on-x": "- send: [t]\n", "service.webhook.github": "url: u"}), project]
    assert [(f.file, f.where, f.message.split(";")[0]) for f in check_notification_subscriptions(objects)] == [
        ("project.yaml", f"AppProject/p metadata.annotations[{PREFIX}on-x.webhook]",
         "service 'webhook' is not defined in argocd-notifications-cm (cm.yaml defines github)"),
    ]


def test_default_triggers() -> None:
    sub = {f"{PREFIX}slack": "c"}
    base = {"service.slack": "token: t", "trigger.on-x": "- send: [t]\n"}
    without = [cm(base), app(**sub)]
    assert [f.message for f in check_notification_subscriptions(without)] == [
        "subscribes slack to the default triggers, but argocd-notifications-cm (cm.yaml) sets no defaultTriggers; "
        f"name the trigger: {PREFIX}<trigger>.slack"
    ]
    with_defaults = [cm({**base, "defaultTriggers": "[on-x, on-y]"}), app(**sub)]
    assert check_notification_subscriptions(with_defaults) == [
        Finding(ERROR, None, "notifications-subscription", "cm.yaml", f"{CM} data[defaultTriggers]",
                "trigger 'on-y' is not defined in argocd-notifications-cm (it defines on-x); add trigger.on-y or "
                "remove it from defaultTriggers"),
    ]


def test_secret_keys_from_data_templates_and_datafrom() -> None:
    config = cm({"service.slack": "token: $a\nsigningSecret: Bearer $b\n", "service.email.gmail": "username: $a\n"})
    data = {"data": [{"secretKey": "a"}]}
    assert [(f.where, f.message.split(":")[0]) for f in check_notification_secrets([config, es(data)])] == [
        (f"{CM} data[service.slack]", "$b is not a key of argocd-notifications-secret"),
    ]
    # an ExternalSecret of another Secret does not count; two that merge into this one do
    assert len(check_notification_secrets([config, es(data), es({"data": [{"secretKey": "b"}]}, name="other")])) == 1
    merged = [config, es(data), es({"target": {"name": "argocd-notifications-secret"}, "data": [{"secretKey": "b"}]},
                                    name="more")]
    assert check_notification_secrets(merged) == []
    # a template replaces the fetched keys, unless its mergePolicy is Merge
    templated = es({"data": [{"secretKey": "a"}, {"secretKey": "b"}], "target": {"template": {"data": {"a": "{{ .a }}"}}}})
    assert [f.message.split(":")[0] for f in check_notification_secrets([config, templated])] == [
        "$b is not a key of argocd-notifications-secret"]
    templated[1]["spec"]["target"]["template"]["mergePolicy"] = "Merge"
    assert check_notification_secrets([config, templated]) == []
    # dataFrom: the keys are Vault's, not known here
    assert check_notification_secrets([config, es({"dataFrom": [{"extract": {"key": "k"}}]})]) == []


def test_service_keys_argo_cd_refuses() -> None:
    config = cm({"service.a.b.c": "x: 1", "service.slack": "token: [\n"})
    assert [(f.check, f.where, f.message) for f in check_notification_secrets([config])] == [
        ("notifications-config", f"{CM} data[service.a.b.c]",
         "is not service.<type> or service.<type>.<name>; Argo CD refuses the whole notifications configuration"),
        ("notifications-config", f"{CM} data[service.slack]",
         "does not parse as YAML: while parsing a flow node"),
    ]


def test_triggers_and_templates() -> None:
    config = cm({
        "trigger.a": "- when: x\n  send: [t, u]\n- when: y\n",
        "trigger.b": "when: x\n",
        "template.t": "message: hi\n",
        "template.v": "just text\n",
    })
    assert [(f.check, f.where, f.message) for f in check_notification_templates([config])] == [
        ("notifications-config", f"{CM} data[template.v]", "is not a mapping (message:, slack:, ...)"),
        ("notifications-template", f"{CM} data[trigger.a][0].send",
         "template 'u' is not defined in argocd-notifications-cm (it defines t, v); add template.u or correct the name"),
        ("notifications-template", f"{CM} data[trigger.a][1].send",
         "sends no template, so the trigger notifies nobody; name a template in send:"),
        ("notifications-config", f"{CM} data[trigger.b]", "is not a list of conditions (when:, send:, ...)"),
    ]
