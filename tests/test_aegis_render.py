"""The bundled Aegis repository renders with the real `kubectl kustomize`, and the objects are what an operator
expects: the right namespace, pinned images, no secret material, probes and resources everywhere."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, kubectl

ENVS = ("dev", "staging", "prod")
TAGS = {"dev": ("1.4.2", "2.1.0"), "staging": ("1.4.1", "2.1.0"), "prod": ("1.4.0", "2.0.3")}


@cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run([kubectl(), "kustomize", str(ROOT / path)], check=True, capture_output=True, text=True)
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def pods(objects: tuple[dict[str, Any], ...]) -> list[tuple[str, dict[str, Any]]]:
    """The pod specs of the workloads (a CronJob's through its job template)."""
    out = []
    for o in objects:
        spec = o.get("spec", {})
        if o["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        pod = spec.get("template", {}).get("spec") if o["kind"] in ("Deployment", "StatefulSet", "CronJob") else None
        if pod:
            out.append((f"{o['kind']}/{o['metadata']['name']}", pod))
    return out


def kinds(objects: tuple[dict[str, Any], ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for o in objects:
        found.setdefault(o["kind"], set()).add(o["metadata"]["name"])
    return found


@pytest.mark.parametrize("env", ENVS)
def test_environment_has_the_whole_platform(env: str) -> None:
    found = kinds(render(f"environments/{env}"))
    assert found["Deployment"] == {"api", "recommendation", "redis"}
    assert found["StatefulSet"] == {"database"}
    assert found["Service"] >= {"api", "recommendation", "database", "database-headless", "redis"}
    assert found["HorizontalPodAutoscaler"] == {"api", "recommendation"}
    assert found["PodDisruptionBudget"] >= {"api", "recommendation"}
    assert found["ServiceAccount"] >= {"api", "recommendation", "external-secrets-sa"}
    assert found["ServiceMonitor"] == {"api", "recommendation"}
    assert len(found["PrometheusRule"]) == 1
    assert {n.rsplit("-", 1)[0] if n.startswith("database-config-") else n for n in found["ConfigMap"]} == {
        "app-config", "gitops-delivery-dashboard", "database-init", "database-config"}  # pg_hba.conf: hashed name
    assert found["Certificate"] == {"database-tls"}  # PostgreSQL's server certificate (cert-manager)
    assert found["SecretStore"] == {"vault-backend"}
    backup = {"database-backup"} if env == "prod" else set()  # prod's nightly pg_dump (environments/prod/backup)
    assert found["ExternalSecret"] == {"app-secrets", "database-admin"} | backup
    assert found["NetworkPolicy"] == {"default-deny", "dns", "api", "recommendation", "recommendation-trainer",
                                      "database", "redis"} | backup
    assert found.get("CronJob", set()) == backup


@pytest.mark.parametrize("env", ENVS)
def test_every_namespaced_object_is_in_the_environment_namespace(env: str) -> None:
    for o in render(f"environments/{env}"):
        assert o["metadata"].get("namespace") == f"aegis-{env}", o["metadata"]["name"]


@pytest.mark.parametrize("env", ENVS)
def test_no_secret_material_in_git(env: str) -> None:
    objects = render(f"environments/{env}")
    assert [o for o in objects if o["kind"] == "Secret"] == []
    store = next(o for o in objects if o["kind"] == "SecretStore")
    vault = store["spec"]["provider"]["vault"]
    assert vault["auth"]["kubernetes"]["role"] == f"aegis-{env}"
    external = next(o for o in objects if o["kind"] == "ExternalSecret")
    assert external["spec"]["secretStoreRef"]["name"] == "vault-backend"
    assert {d["remoteRef"]["key"] for d in external["spec"]["data"]} == {f"aegis/{env}"}


@pytest.mark.parametrize("env", ENVS)
def test_images_are_pinned(env: str) -> None:
    """Every container by tag and digest (a tag pushed again deploys nothing): the services as CI set them, the
    rest from the project's registry mirror (tests/test_mirror.py keeps that list in step)."""
    images = {c["image"] for _, pod in pods(render(f"environments/{env}"))
              for c in [*pod.get("initContainers", []), *pod["containers"]]}
    api, rec = TAGS[env]
    by_name = {image.partition("@")[0]: image for image in images}
    assert f"registry.gitlab.com/aegis/app/api:{api}" in by_name
    assert f"registry.gitlab.com/aegis/app/recommendation:{rec}" in by_name
    for image in images:
        assert re.fullmatch(r"registry\.gitlab\.com/aegis/(app|mirror)/[a-z0-9-]+:[\w.-]+@sha256:[0-9a-f]{64}",
                            image), image
        assert image.partition("@")[0].rpartition(":")[2] != "latest", image


@pytest.mark.parametrize("env", ENVS)
def test_every_container_has_probes_and_resources(env: str) -> None:
    for name, pod in pods(render(f"environments/{env}")):
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            if not name.startswith("CronJob/"):  # a job's containers run to completion: no probes
                assert c.get("readinessProbe") and c.get("livenessProbe"), (name, c["name"])
            assert c["resources"].get("requests") and c["resources"].get("limits"), (name, c["name"])


def test_prod_is_bigger_than_dev() -> None:
    def hpa(env: str) -> tuple[int, int]:
        h = next(o for o in render(f"environments/{env}") if o["kind"] == "HorizontalPodAutoscaler"
                 and o["metadata"]["name"] == "api")
        return h["spec"]["minReplicas"], h["spec"]["maxReplicas"]

    assert hpa("prod")[0] > hpa("staging")[0] > hpa("dev")[0] - 1
    assert hpa("prod")[1] > hpa("dev")[1]


def test_applications_and_project() -> None:
    objects = render("applications")
    # the project, an Application per environment, and Argo CD's notifications (tests/test_argocd_notifications.py)
    assert len(objects) == 8
    assert sorted(o["kind"] for o in objects) == ["AppProject", "Application", "Application", "Application",
                                                  "ConfigMap", "ExternalSecret", "SecretStore", "ServiceAccount"]
    assert {o["metadata"]["namespace"] for o in objects} == {"argocd"}
    apps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Application"}
    assert set(apps) == {"aegis-dev", "aegis-staging", "aegis-prod"}
    for env in ENVS:
        spec = apps[f"aegis-{env}"]["spec"]
        assert spec["project"] == "aegis"
        assert spec["destination"]["namespace"] == f"aegis-{env}"
        git_source = next(s for s in spec["sources"] if s.get("path"))
        assert (git_source["path"], git_source["targetRevision"]) == (f"environments/{env}", "main")
        sync = spec["syncPolicy"]
        assert sync["automated"]["prune"] is True and sync["automated"]["selfHeal"] is True
        assert "CreateNamespace=true" in sync["syncOptions"]
        labels = sync["managedNamespaceMetadata"]["labels"]
        assert {labels[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "audit", "warn")} == {"restricted"}
        assert sync["retry"]["limit"] == 5 and sync["retry"]["backoff"]["duration"] == "5s"
    project = next(o for o in objects if o["kind"] == "AppProject")
    assert project["metadata"]["name"] == "aegis"
    assert [d["namespace"] for d in project["spec"]["destinations"]] == [f"aegis-{env}" for env in ENVS]
    assert project["spec"]["orphanedResources"] == {"warn": True}
    [window] = project["spec"]["syncWindows"]
    assert (window["kind"], window["applications"], window["manualSync"]) == ("allow", ["aegis-prod"], True)


def test_the_project_grants_least_privilege() -> None:
    """Who may do what to which Application, from the roles' Casbin lines: nobody deletes or edits an Application
    through Argo CD (a commit to applications/ does), developers never sync prod, release managers do."""
    project = next(o for o in render("applications") if o["kind"] == "AppProject")
    grants: dict[str, set[tuple[str, str, str]]] = {}
    for role in project["spec"]["roles"]:
        for line in role["policies"]:
            kind, subject, resource, action, obj, effect = (w.strip() for w in line.split(","))
            assert (kind, subject, effect) == ("p", f"proj:aegis:{role['name']}", "allow"), line
            grants.setdefault(role["name"], set()).add((resource, action, obj))
    assert set(grants) == {"admin", "developer", "release-manager"}
    everything = set().union(*grants.values())
    assert not [g for g in everything if g[1] in ("*", "delete", "update", "create")], "no wildcard, delete or edit"

    def may_sync(role: str, app: str) -> bool:
        return any(r == "applications" and a == "sync" and o in ("aegis/*", f"aegis/{app}") for r, a, o in grants[role])

    assert [may_sync("developer", f"aegis-{env}") for env in ENVS] == [True, True, False]
    assert [may_sync("release-manager", f"aegis-{env}") for env in ENVS] == [False, False, True]


def test_values_files_follow_the_kustomization() -> None:
    """values.yaml (the trainer's Helm values, Argo CD's second source) runs the recommendation image."""
    for env in ENVS:
        values = yaml.safe_load((ROOT / f"environments/{env}/values.yaml").read_text())
        image = values["controllers"]["trainer"]["containers"]["main"]["image"]
        assert image["repository"] == "registry.gitlab.com/aegis/app/recommendation"
        assert image["tag"].partition("@")[0] == TAGS[env][1]
        kustomization = yaml.safe_load((ROOT / f"environments/{env}/kustomization.yaml").read_text())
        entry = next(i for i in kustomization["images"] if i["name"] == "aegis/recommendation")
        assert image["tag"] == f"{entry['newTag']}@{entry['digest']}"  # app-template prints repository:tag


def test_rendered_core_objects_match_the_kubernetes_schemas(tmp_path: Any) -> None:
    """The same offline schema check the pipeline's validate job runs (custom kinds are reported, not failed)."""
    import shutil

    exe = shutil.which("kubernetes-validate")
    assert exe, "kubernetes-validate is not installed: pip install -e '.[test]'"
    files = []
    for env in ENVS:
        out = subprocess.run([kubectl(), "kustomize", str(ROOT / "environments" / env)], check=True,
                             capture_output=True, text=True).stdout
        (tmp_path / f"{env}.yaml").write_text(out)
        files.append(str(tmp_path / f"{env}.yaml"))
    r = subprocess.run([exe, "--kubernetes-version", "1.31.0", "--strict", "--quiet", *files],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ERROR" not in r.stdout + r.stderr


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_meets_the_restricted_pod_security_profile_its_namespace_enforces(env: str) -> None:
    """What Pod Security "restricted" admits (the namespace label of applications/aegis-<env>.yaml): a pod that
    broke it would be refused by the cluster, so it is refused here first."""
    for name, pod in pods(render(f"environments/{env}")):
        pod_ctx = pod.get("securityContext", {})
        assert pod_ctx.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost"), name
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), name
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            ctx = c.get("securityContext", {})
            assert ctx.get("allowPrivilegeEscalation") is False, (name, c["name"])
            assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, (name, c["name"])
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], (name, c["name"])
            assert set(ctx.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, (name, c["name"])
            assert not ctx.get("privileged"), (name, c["name"])


@pytest.mark.parametrize("env", ENVS)
def test_redis_requires_the_password_from_vault_and_its_probes_use_it(env: str) -> None:
    objects = render(f"environments/{env}")
    redis = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "redis")
    pod = redis["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert re.fullmatch(r"registry\.gitlab\.com/aegis/mirror/redis:7\.4\.(\d+)-alpine@sha256:[0-9a-f]{64}",
                        container["image"])
    assert int(container["image"].split(":")[1].split(".")[2].split("-")[0]) >= 6  # past the 7.4.3 fix
    script = container["command"][-1]
    head, tail = script.split("exec redis-server", 1)
    assert "requirepass" in head and '"$(cat /etc/redis-auth/password)"' in head and "/data/auth.conf" in tail
    assert "password" not in tail  # never on redis-server's command line
    assert not any("valueFrom" in e and "secretKeyRef" in e["valueFrom"] for e in container["env"])
    [auth] = [v for v in pod["volumes"] if v["name"] == "auth"]
    assert auth["secret"] == {"secretName": "app-secrets", "defaultMode": 0o440,
                              "items": [{"key": "redis-password", "path": "password"}]}
    assert {"name": "auth", "mountPath": "/etc/redis-auth", "readOnly": True} in container["volumeMounts"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert 'REDISCLI_AUTH="$(cat /etc/redis-auth/password)" redis-cli' in container[probe]["exec"]["command"][-1]
    external = next(o for o in objects if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "app-secrets")
    assert {"secretKey": "redis-password", "remoteRef": {"key": f"aegis/{env}", "property": "redis_password"}} in \
        external["spec"]["data"]


@pytest.mark.parametrize("env", ENVS)
def test_no_secret_reaches_a_container_as_an_environment_variable(env: str) -> None:
    """Credentials are files of mounted Secrets (checkov CKV_K8S_35): a variable is seen by every process of the pod
    and lands in crash reports. Each workload names its files in variables that hold paths only."""
    files: dict[str, dict[str, str]] = {}
    for name, pod in pods(render(f"environments/{env}")):
        mounts: dict[str, str] = {}
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            assert not c.get("envFrom"), (name, c["name"])
            for e in c.get("env", []):
                assert "secretKeyRef" not in e.get("valueFrom", {}), (name, c["name"], e["name"])
                if e["name"].endswith(("_URL_FILE", "PGPASSFILE", "_CREDENTIALS_FILE")):
                    mounts[e["name"]] = e["value"]
        files[name] = mounts
    urls = {"DATABASE_URL_FILE": "/etc/aegis-secrets/database-url", "REDIS_URL_FILE": "/etc/aegis-secrets/redis-url"}
    assert files["Deployment/api"] == files["Deployment/recommendation"] == urls
    if env == "prod":
        assert files["CronJob/database-backup"] == {"PGPASSFILE": "/etc/aegis-backup/pgpass",
                                                    "AWS_SHARED_CREDENTIALS_FILE": "/etc/aegis-backup/aws-credentials"}
    trainer = yaml.safe_load((ROOT / f"environments/{env}/values.yaml").read_text())
    main = trainer["controllers"]["trainer"]["containers"]["main"]
    assert {e["name"]: e.get("value") for e in main["env"] if e["name"].endswith("_URL_FILE")} == urls
    assert not any("valueFrom" in e for e in main["env"])
    assert trainer["persistence"]["secrets"]["globalMounts"] == [{"path": "/etc/aegis-secrets", "readOnly": True}]


@pytest.mark.parametrize("env", ENVS)
def test_every_workload_runs_as_a_high_uid_but_the_database(env: str) -> None:
    """Above the hosts' range (checkov CKV_K8S_40); PostgreSQL keeps the UID its data directory belongs to
    (ci/checkov-baseline.yaml says why and what moves it)."""
    for name, pod in pods(render(f"environments/{env}")):
        ctx = pod["securityContext"]
        if name == "StatefulSet/database":
            assert ctx["runAsUser"] == 999
            continue
        assert ctx["runAsUser"] >= 10000 and ctx["runAsGroup"] >= 10000 and ctx["fsGroup"] >= 10000, name


def test_prod_backs_its_database_up_every_night_and_spreads_over_zones() -> None:
    objects = render("environments/prod")
    cron = next(o for o in objects if o["kind"] == "CronJob")
    assert (cron["metadata"]["name"], cron["spec"]["schedule"], cron["spec"]["timeZone"]) == (
        "database-backup", "0 3 * * *", "Asia/Seoul")
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 7200 and cron["spec"]["concurrencyPolicy"] == "Forbid"
    [dump] = job["template"]["spec"]["initContainers"]
    server = next(o for o in objects if o["kind"] == "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert dump["image"] == server["image"]  # pg_dump of the server's own version
    assert "pg_dump --host=database" in dump["command"][-1]
    for o in objects:
        if o["kind"] == "Deployment" and o["metadata"]["name"] in ("api", "recommendation"):
            zone = o["spec"]["template"]["spec"]["topologySpreadConstraints"]
            assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in zone] == [
                ("topology.kubernetes.io/zone", "DoNotSchedule"), ("kubernetes.io/hostname", "ScheduleAnyway")]


def test_code_owners_guard_prod_and_what_decides_deployments() -> None:
    """GitLab's CODEOWNERS: every prod path needs a release manager; the Applications, the tool's configuration and
    the pipelines need the platform team."""
    owners: dict[str, str] = {}
    section = ""
    for line in (ROOT / ".gitlab/CODEOWNERS").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.split("]", 1)[0].strip("[")
            default_owner = line.rsplit(" ", 1)[-1]
            continue
        path, *named = line.split()
        owners[path] = (named[0] if named else default_owner) + f" ({section})"
    assert owners["/environments/prod/"] == "@aegis/release-managers (Production)"
    for path in ("/applications/", "/gitops-tools.yaml", "/.gitlab-ci.yml", "/ci/", "/.gitlab/"):
        assert owners[path] == "@aegis/platform (Platform)", path
    assert not any(p.startswith(("/environments/dev", "/environments/staging")) for p in owners)


@pytest.mark.parametrize("env", ENVS)
def test_the_services_never_see_the_database_superuser_password(env: str) -> None:
    """app-secrets (what api, recommendation and the trainer read) has no superuser password; database-admin is
    read by the database StatefulSet alone; the role the services use is made by the init script with psql's own
    quoting of the password."""
    objects = render(f"environments/{env}")
    secrets = {o["metadata"]["name"]: {d["secretKey"] for d in o["spec"]["data"]}
               for o in objects if o["kind"] == "ExternalSecret"}
    assert secrets["app-secrets"] == {"database-url", "redis-url", "redis-password"}
    assert secrets["database-admin"] == {"postgres-password", "app-password"}
    readers: dict[str, set[str]] = {}  # Secret -> the workloads that read it, from the environment or a volume
    in_env: set[str] = set()
    for name, pod in pods(objects):
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    readers.setdefault(ref["name"], set()).add(name)
                    in_env.add(ref["name"])
            for e in c.get("envFrom", []):
                readers.setdefault(e["secretRef"]["name"], set()).add(name)
                in_env.add(e["secretRef"]["name"])
        for v in pod.get("volumes", []):
            if "secret" in v:
                readers.setdefault(v["secret"]["secretName"], set()).add(name)
    assert readers["database-admin"] == {"StatefulSet/database"}
    assert "database-admin" not in in_env  # files of a mounted Secret (POSTGRES_PASSWORD_FILE), not variables
    script = (ROOT / "base/database/init/10-application-role.sh").read_text()
    head, sql = script.split("<<'SQL'")
    assert "PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE" in sql
    assert 'app_password=$(cat "$APP_DB_PASSWORD_FILE")' in head and '-v app_password="$app_password"' in head
    assert "$app_password" not in sql and "$APP_DB_PASSWORD" not in sql


@pytest.mark.parametrize("env", ENVS)
def test_postgresql_takes_tls_only_and_its_clients_verify_it_without_seeing_its_key(env: str) -> None:
    """The database runs with ssl on and the repository's pg_hba.conf (TLS only over the network: tested on a real
    server in tests/test_aegis_database.py); every container that connects to it verifies the server against the
    CA of database-tls, and only the database pod mounts that Secret's key."""
    objects = render(f"environments/{env}")
    [cert] = [o for o in objects if o["kind"] == "Certificate"]
    assert (cert["spec"]["secretName"], cert["spec"]["issuerRef"]["kind"]) == ("database-tls", "ClusterIssuer")
    assert "database" in cert["spec"]["dnsNames"]
    clients = []
    for where, pod in pods(objects):
        whole = [v for v in pod.get("volumes", []) if v.get("secret", {}).get("secretName") == "database-tls"
                 and "items" not in v["secret"]]
        ca_only = [v for v in pod.get("volumes", []) if v.get("secret", {}).get("secretName") == "database-tls"
                   and v["secret"].get("items") == [{"key": "ca.crt", "path": "ca.crt"}]]
        containers = pod.get("initContainers", []) + pod["containers"]
        if where == "StatefulSet/database":
            assert len(whole) == 1 and not ca_only, where
            args = containers[0]["args"]
            assert args[0] == "postgres" and "ssl=on" in args and any(a.startswith("hba_file=") for a in args)
            continue
        assert not whole, f"{where} mounts the database's private key"
        for c in containers:
            names = {e["name"]: e for e in c.get("env", [])}
            if "DATABASE_URL_FILE" in names or "PGPASSFILE" in names:  # a client of the database
                clients.append(where)
                assert names["PGSSLMODE"]["value"] == "verify-full", (where, c["name"])
                assert len(ca_only) == 1, where
                mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
                assert names["PGSSLROOTCERT"]["value"] == f"{mounts[ca_only[0]['name']]}/ca.crt", (where, c["name"])
    backup = ["CronJob/database-backup"] if env == "prod" else []
    assert sorted(clients) == sorted(["Deployment/api", "Deployment/recommendation", *backup])
