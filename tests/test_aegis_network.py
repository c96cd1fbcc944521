"""Who can reach whom in an Aegis environment, read off the NetworkPolicies that `kubectl kustomize` renders.

A small evaluator of the NetworkPolicy rules the policies use (podSelector and namespaceSelector by matchLabels,
ports by number): a connection is allowed when the source's egress and the destination's ingress both allow it
(a pod that no policy of a direction selects is open in that direction). The pods are the rendered workloads, the
trainer (whose labels come from environments/<env>/values.yaml, rendered by Argo CD from the Helm chart), and
pods outside the namespace: the ingress controller, Prometheus, CoreDNS and a stranger."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_aegis_render import ENVS, render


class Pod(NamedTuple):
    name: str
    namespace: str
    labels: dict[str, str]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"the evaluator reads matchLabels only: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def peer_matches(peer: dict[str, Any], pod: Pod, namespace: str) -> bool:
    assert set(peer) <= {"podSelector", "namespaceSelector", "ipBlock"}, peer
    if "ipBlock" in peer:  # the policies name addresses outside the cluster only (private ranges excepted)
        assert "10.0.0.0/8" in peer["ipBlock"].get("except", []), peer
        return pod.namespace == ""
    if pod.namespace == "":  # outside the cluster: only an ipBlock matches it
        return False
    if "namespaceSelector" in peer:
        ns_ok = selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod.namespace})
    else:
        ns_ok = pod.namespace == namespace
    return ns_ok and selects(peer.get("podSelector", {}), pod.labels)


def allowed(policies: list[dict[str, Any]], pod: Pod, direction: str, peer: Pod, port: int, protocol: str) -> bool:
    """Whether the policies of ``pod``'s namespace let ``pod`` receive from (Ingress) or send to (Egress) ``peer``
    on ``port``."""
    mine = [p for p in policies if p["metadata"]["namespace"] == pod.namespace
            and selects(p["spec"]["podSelector"], pod.labels) and direction in p["spec"]["policyTypes"]]
    if not mine:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in mine:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if peers is not None and not any(peer_matches(p, peer, pod.namespace) for p in peers):
                continue
            ports = rule.get("ports")
            if ports is None or any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports):
                return True
    return False


def can_reach(policies: list[dict[str, Any]], source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    return (allowed(policies, source, "Egress", target, port, protocol)
            and allowed(policies, target, "Ingress", source, port, protocol))


def pods_of(env: str) -> list[Pod]:
    namespace = f"aegis-{env}"
    out = []
    for o in render(f"environments/{env}"):
        if o["kind"] in ("Deployment", "StatefulSet"):
            out.append(Pod(o["metadata"]["name"], namespace, o["spec"]["template"]["metadata"]["labels"]))
        if o["kind"] == "CronJob":
            labels = o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
            out.append(Pod(o["metadata"]["name"], namespace, labels))
    values = yaml.safe_load((ROOT / f"environments/{env}/values.yaml").read_text())
    trainer = {**values["defaultPodOptions"]["labels"], **values["controllers"]["trainer"]["pod"]["labels"]}
    out.append(Pod("trainer", namespace, trainer))
    return out


OUTSIDE = [
    Pod("ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    Pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
    Pod("stranger", "other-team", {"app.kubernetes.io/name": "api"}),  # the same labels, another namespace
]
INTERNET = Pod("object-storage", "", {})  # an address outside the cluster
DNS = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"})


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(("target", "port", "sources"), [
    ("database", 5432, {"api", "recommendation", "trainer"}),
    ("redis", 6379, {"api", "recommendation", "trainer"}),
    ("recommendation", 8080, {"api", "prometheus"}),
    ("api", 8000, {"ingress-nginx", "prometheus"}),
    ("trainer", 8080, set()),
])
def test_who_can_reach_each_workload_is_exactly_the_listed_ones(env: str, target: str, port: int,
                                                                sources: set[str]) -> None:
    policies = [o for o in render(f"environments/{env}") if o["kind"] == "NetworkPolicy"]
    pods = pods_of(env)
    backup = {"database-backup"} if env == "prod" else set()  # prod's nightly pg_dump
    assert {p.name for p in pods} == {"api", "recommendation", "database", "redis", "trainer"} | backup
    to = next(p for p in pods if p.name == target)
    reached = {p.name for p in [*pods, *OUTSIDE, INTERNET] if p is not to and can_reach(policies, p, to, port)}
    assert reached == sources | (backup if target == "database" else set())


@pytest.mark.parametrize("env", ENVS)
def test_nothing_else_is_open_and_every_pod_resolves_names(env: str) -> None:
    policies = [o for o in render(f"environments/{env}") if o["kind"] == "NetworkPolicy"]
    pods = pods_of(env)
    for pod in pods:
        assert can_reach(policies, pod, DNS, 53, "UDP") and can_reach(policies, pod, DNS, 53, "TCP"), pod.name
        # no other port of any workload, from anyone
        for other in [*pods, *OUTSIDE]:
            assert not can_reach(policies, other, pod, 22), (other.name, pod.name)
        # and no way out of the namespace but DNS (and, for the backup alone, object storage over HTTPS)
        assert not can_reach(policies, pod, OUTSIDE[2], 443), pod.name
        assert can_reach(policies, pod, INTERNET, 443) is (pod.name == "database-backup"), pod.name
        assert not can_reach(policies, pod, INTERNET, 80), pod.name


def test_the_project_lets_argo_cd_sync_network_policies() -> None:
    project = next(o for o in render("applications") if o["kind"] == "AppProject")
    assert {"group": "networking.k8s.io", "kind": "NetworkPolicy"} in project["spec"]["namespaceResourceWhitelist"]
