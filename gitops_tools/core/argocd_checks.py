"""What ``validate`` checks in Argo CD's own notifications, rendered from ``applications/``.

Pure: rendered objects (with the file each comes from) in, findings out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import yaml

from gitops_tools.core.checks import ERROR, Finding, object_name

# Argo CD's own notifications (DESIGN §3.12): the ConfigMap argocd-notifications-cm defines triggers, templates and
# services; Applications (and AppProjects) subscribe by annotation; services read `$key`s from the Secret
# argocd-notifications-secret, which an ExternalSecret fills from Vault. Argo CD accepts every mistake here
# silently (an unknown trigger or service is skipped, a missing key is sent as the text `$key`), so these checks
# take the objects rendered from applications/ with the file each comes from.

NOTIFICATIONS_CONFIGMAP = "argocd-notifications-cm"
NOTIFICATIONS_SECRET = "argocd-notifications-secret"
SUBSCRIBE_PREFIX = "notifications.argoproj.io/subscribe."
# notifications-engine's pattern for a secret reference in a service's string values (`[$][\w-_]+`)
_SECRET_REFERENCE = re.compile(r"\$[\w-]+")

Located = tuple[str, Mapping[str, Any]]  # (repository-relative file, rendered object)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _notifications_configmap(objects: Sequence[Located]) -> Located | None:
    for file, obj in objects:
        if obj.get("kind") == "ConfigMap" and _meta(obj).get("name") == NOTIFICATIONS_CONFIGMAP:
            return file, obj
    return None


def _cm_data(cm: Mapping[str, Any]) -> Mapping[str, Any]:
    data = cm.get("data")
    return data if isinstance(data, Mapping) else {}


def _named(data: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """``{name: key}`` of the ``prefix<name>`` keys (triggers and templates: the name may hold dots)."""
    return {key[len(prefix):]: key for key in data if isinstance(key, str) and key.startswith(prefix)}


def _service_name(key: str) -> str | None:
    """The name a subscription uses for ``service.<type>`` (the type) or ``service.<type>.<name>`` (the name);
    None for a key Argo CD refuses."""
    parts = key.split(".")
    if len(parts) == 2 and parts[1]:
        return parts[1]
    if len(parts) == 3 and parts[1] and parts[2]:
        return parts[2]
    return None


def _services(data: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in data:
        if isinstance(key, str) and key.startswith("service."):
            name = _service_name(key)
            if name is not None:
                out.setdefault(name, key)
    return out


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _trigger_list(text: Any) -> list[str] | str:
    """``defaultTriggers`` as a list of names, or the problem."""
    try:
        value = yaml.safe_load(str(text))
    except yaml.YAMLError as err:
        return f"does not parse as YAML: {str(err).splitlines()[0]}"
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "is not a list of trigger names"
    return value


def check_notification_subscriptions(objects: Sequence[Located]) -> list[Finding]:
    """Every ``notifications.argoproj.io/subscribe.<trigger>.<service>`` annotation of an Application or AppProject
    names a trigger and a service that argocd-notifications-cm defines (``subscribe.<service>`` takes the default
    triggers, which must exist); Argo CD parses the key as notifications-engine does: the first two dot-separated
    parts after ``subscribe.``."""
    findings: list[Finding] = []
    located = _notifications_configmap(objects)
    cm_file, cm = located if located else (None, None)
    data = _cm_data(cm) if cm is not None else {}
    triggers = _named(data, "trigger.")
    services = _services(data)
    defaults: dict[str, list[str]] = {}
    if cm is not None:
        for key in sorted(k for k in data if isinstance(k, str)
                          and (k == "defaultTriggers" or k.startswith("defaultTriggers."))):
            names = _trigger_list(data[key])
            where = f"{object_name(cm)} data[{key}]"
            if isinstance(names, str):
                findings.append(Finding(ERROR, None, "notifications-config", cm_file, where, names))
                continue
            defaults[key] = names
            for name in names:
                if name not in triggers:
                    findings.append(Finding(
                        ERROR, None, "notifications-subscription", cm_file, where,
                        f"trigger {name!r} is not defined in {NOTIFICATIONS_CONFIGMAP} (it defines "
                        f"{_listing(triggers)}); add trigger.{name} or remove it from {key}",
                    ))
    for file, obj in objects:
        if obj.get("kind") not in ("Application", "AppProject"):
            continue
        annotations = _meta(obj).get("annotations")
        if not isinstance(annotations, Mapping):
            continue
        for key in sorted(k for k in annotations if isinstance(k, str) and k.startswith(SUBSCRIBE_PREFIX)):
            where = f"{object_name(obj)} metadata.annotations[{key}]"
            parts = key[len(SUBSCRIBE_PREFIX):].split(".")
            trigger, service = (parts[0], parts[1]) if len(parts) >= 2 else (None, parts[0])

            def add(message: str, file: str = file, where: str = where) -> None:
                findings.append(Finding(ERROR, None, "notifications-subscription", file, where, message))

            if cm is None:
                wanted = f"trigger.{trigger} and service.{service}" if trigger else f"service.{service}"
                add(f"subscribes to Argo CD notifications, but no ConfigMap {NOTIFICATIONS_CONFIGMAP} is rendered "
                    f"from applications/; add one that defines {wanted}")
                continue
            if trigger is not None and trigger not in triggers:
                add(f"trigger {trigger!r} is not defined in {NOTIFICATIONS_CONFIGMAP} ({cm_file} defines "
                    f"{_listing(triggers)}); add trigger.{trigger} there or subscribe to a defined trigger")
            if service not in services:
                add(f"service {service!r} is not defined in {NOTIFICATIONS_CONFIGMAP} ({cm_file} defines "
                    f"{_listing(services)}); add service.{service} there or subscribe with a defined service")
            elif trigger is None and not defaults.get(f"defaultTriggers.{service}") and not defaults.get(
                    "defaultTriggers"):
                add(f"subscribes {service} to the default triggers, but {NOTIFICATIONS_CONFIGMAP} ({cm_file}) sets "
                    f"no defaultTriggers; name the trigger: {SUBSCRIBE_PREFIX}<trigger>.{service}")
    return findings


def _produced_keys(es: Mapping[str, Any]) -> set[str] | None:
    """The keys of the Secret an ExternalSecret writes, or None when only the provider knows them (``dataFrom``,
    ``templateFrom``)."""
    spec = es.get("spec") if isinstance(es.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    target = spec.get("target") if isinstance(spec.get("target"), Mapping) else {}
    assert isinstance(target, Mapping)
    template = target.get("template") if isinstance(target.get("template"), Mapping) else {}
    assert isinstance(template, Mapping)
    fetched: set[str] | None = {
        str(d["secretKey"]) for d in spec.get("data") or () if isinstance(d, Mapping) and d.get("secretKey")
    }
    if spec.get("dataFrom"):
        fetched = None
    if not template.get("data") and not template.get("templateFrom"):
        return fetched
    if template.get("templateFrom"):
        return None
    rendered = {str(k) for k in template.get("data") or {}}
    if template.get("mergePolicy") == "Merge":
        return None if fetched is None else rendered | fetched
    return rendered


def check_notification_secrets(objects: Sequence[Located]) -> list[Finding]:
    """Every ``$key`` in the string values of argocd-notifications-cm's services is a key of the Secret
    argocd-notifications-secret as an ExternalSecret writes it (from Vault; a Secret with data in git is the
    plaintext-secret error). Keys an ExternalSecret takes with ``dataFrom`` are not known here and not checked."""
    located = _notifications_configmap(objects)
    if located is None:
        return []
    cm_file, cm = located
    cm_ns = _meta(cm).get("namespace")
    producers: list[tuple[str, Mapping[str, Any]]] = []
    for file, obj in objects:
        if obj.get("kind") != "ExternalSecret":
            continue
        meta = _meta(obj)
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        target = spec.get("target") if isinstance(spec, Mapping) and isinstance(spec.get("target"), Mapping) else {}
        assert isinstance(target, Mapping)
        ns = meta.get("namespace")
        if (target.get("name") or meta.get("name")) == NOTIFICATIONS_SECRET and (ns is None or cm_ns is None
                                                                                 or ns == cm_ns):
            producers.append((file, obj))
    keys: set[str] | None = set()
    for _, es in producers:
        produced = _produced_keys(es)
        keys = None if keys is None or produced is None else keys | produced
    findings: list[Finding] = []
    data = _cm_data(cm)
    for key in sorted(k for k in data if isinstance(k, str) and k.startswith("service.")):
        where = f"{object_name(cm)} data[{key}]"

        def add(check: str, message: str, where: str = where) -> None:
            findings.append(Finding(ERROR, None, check, cm_file, where, message))

        if _service_name(key) is None:
            add("notifications-config", "is not service.<type> or service.<type>.<name>; Argo CD refuses the whole "
                "notifications configuration")
            continue
        try:
            value = yaml.safe_load(str(data[key]))
        except yaml.YAMLError as err:
            add("notifications-config", f"does not parse as YAML: {str(err).splitlines()[0]}")
            continue
        used: list[str] = []
        for text in _strings(value):
            used += [m[1:] for m in _SECRET_REFERENCE.findall(text) if m[1:] not in used]
        for name in used:
            if not producers:
                add("notifications-secret",
                    f"${name} is read from the Secret {NOTIFICATIONS_SECRET}, but no ExternalSecret produces it; add "
                    f"an ExternalSecret with target.name {NOTIFICATIONS_SECRET} and a data entry with secretKey: "
                    f"{name} (its value in Vault: a Secret with data in git is refused)")
            elif keys is not None and name not in keys:
                files = ", ".join(sorted({f for f, _ in producers}))
                add("notifications-secret",
                    f"${name} is not a key of {NOTIFICATIONS_SECRET}: the ExternalSecret ({files}) produces "
                    f"{_listing(keys)}; add a data entry with secretKey: {name} there or correct the variable "
                    f"(Argo CD would use the text ${name} as the value)")
    return findings


def _strings(value: Any) -> Iterator[str]:
    """The string scalars of a parsed YAML value (where notifications-engine replaces ``$key``s)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def check_notification_templates(objects: Sequence[Located]) -> list[Finding]:
    """Every condition of every ``trigger.<name>`` in argocd-notifications-cm sends templates (``send:``) that a
    ``template.<name>`` key defines; triggers and templates must parse (else Argo CD refuses the whole
    configuration)."""
    located = _notifications_configmap(objects)
    if located is None:
        return []
    cm_file, cm = located
    data = _cm_data(cm)
    findings: list[Finding] = []
    templates = _named(data, "template.")
    for name in sorted(templates):
        problem: str | None = None
        try:
            value = yaml.safe_load(str(data[templates[name]]))
        except yaml.YAMLError as err:
            problem = f"does not parse as YAML: {str(err).splitlines()[0]}"
        else:
            problem = None if isinstance(value, Mapping) else "is not a mapping (message:, slack:, ...)"
        if problem:
            findings.append(Finding(ERROR, None, "notifications-config", cm_file,
                                    f"{object_name(cm)} data[{templates[name]}]", problem))
    for name, key in sorted(_named(data, "trigger.").items()):
        where = f"{object_name(cm)} data[{key}]"
        try:
            conditions = yaml.safe_load(str(data[key]))
        except yaml.YAMLError as err:
            findings.append(Finding(ERROR, None, "notifications-config", cm_file, where,
                                    f"does not parse as YAML: {str(err).splitlines()[0]}"))
            continue
        if not isinstance(conditions, list) or not all(isinstance(c, Mapping) for c in conditions):
            findings.append(Finding(ERROR, None, "notifications-config", cm_file, where,
                                    "is not a list of conditions (when:, send:, ...)"))
            continue
        for i, condition in enumerate(conditions):
            send = condition.get("send")
            names = [send] if isinstance(send, str) else list(send) if isinstance(send, list) else []
            if not names:
                findings.append(Finding(ERROR, None, "notifications-template", cm_file, f"{where}[{i}].send",
                                        "sends no template, so the trigger notifies nobody; name a template in send:"))
            for template in names:
                if str(template) not in templates:
                    findings.append(Finding(
                        ERROR, None, "notifications-template", cm_file, f"{where}[{i}].send",
                        f"template {str(template)!r} is not defined in {NOTIFICATIONS_CONFIGMAP} (it defines "
                        f"{_listing(templates)}); add template.{template} or correct the name",
                    ))
    return findings


def check_notifications(objects: Sequence[Located]) -> list[Finding]:
    """All the notifications checks, on the objects rendered from applications/ (each with its file)."""
    return (check_notification_subscriptions(objects) + check_notification_templates(objects)
            + check_notification_secrets(objects))
