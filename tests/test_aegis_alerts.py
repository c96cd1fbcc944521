"""The alerts of base/monitoring/prometheusrule.yaml, unit-tested by Prometheus itself (`promtool test rules`):
series go in, the alerts that fire (or stay silent) come out. Above all: an alert must not go silent because the
series it watches disappeared."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, tool_or_skip

PROMTOOL_INSTALL = "apt-get install prometheus, which has promtool (bash ci/install-test-tools.sh installs it)"
RULE = ROOT / "base/monitoring/prometheusrule.yaml"


def promtool_test(tmp_path: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    promtool = tool_or_skip("promtool", install=PROMTOOL_INSTALL)["promtool"]
    spec = yaml.safe_load(RULE.read_text())["spec"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": spec["groups"]}))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}))
    return subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def namespaces(*names: str) -> list[dict[str, str]]:
    return [{"series": f'kube_namespace_status_phase{{namespace="{n}",phase="Active"}}', "values": "1x60"}
            for n in names]


def test_the_rules_are_valid(tmp_path: Path) -> None:
    promtool = tool_or_skip("promtool", install=PROMTOOL_INSTALL)["promtool"]
    spec = yaml.safe_load(RULE.read_text())["spec"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": spec["groups"]}))
    r = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 15 rules found" in r.stdout


DATABASE_DOWN = {
    "exp_labels": {"severity": "critical", "namespace": "aegis-prod"},
    "exp_annotations": {
        "summary": "PostgreSQL in aegis-prod is down",
        "description": "The database StatefulSet in aegis-prod has had no ready pod for 2 minutes: pg_isready fails. "
                       "The api and recommendation services cannot serve requests that need the database.",
        "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisPostgreSQLDown",
    },
}


def test_the_database_alert_fires_when_its_series_disappear_and_only_for_that_namespace(tmp_path: Path) -> None:
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *namespaces("aegis-dev", "aegis-prod"),
            # dev: one ready replica all along; prod: ready, then its series vanish after 10 minutes
            {"series": 'kube_statefulset_status_replicas_ready{namespace="aegis-dev",statefulset="database"}',
             "values": "1x60"},
            {"series": 'kube_statefulset_status_replicas_ready{namespace="aegis-prod",statefulset="database"}',
             "values": "1x10"},
        ],
        "alert_rule_test": [
            {"eval_time": "8m", "alertname": "AegisPostgreSQLDown", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "AegisPostgreSQLDown", "exp_alerts": [DATABASE_DOWN]},
        ],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_database_alert_fires_on_no_ready_replica(tmp_path: Path) -> None:
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *namespaces("aegis-prod"),
            {"series": 'kube_statefulset_status_replicas_ready{namespace="aegis-prod",statefulset="database"}',
             "values": "1x5 0x30"},
        ],
        "alert_rule_test": [{"eval_time": "20m", "alertname": "AegisPostgreSQLDown", "exp_alerts": [DATABASE_DOWN]}],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


def test_redis_without_series_is_down(tmp_path: Path) -> None:
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [*namespaces("aegis-staging")],
        "alert_rule_test": [{"eval_time": "10m", "alertname": "AegisRedisDown", "exp_alerts": [{
            "exp_labels": {"severity": "critical", "namespace": "aegis-staging"},
            "exp_annotations": {
                "summary": "Redis in aegis-staging is down",
                "description": "The redis Deployment in aegis-staging has had no available pod for 2 minutes: "
                               "redis-cli ping fails. Every request now misses the cache and goes to PostgreSQL.",
                "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisRedisDown"}}]}],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


TRAINER_FAILED = {
    "summary": "The model trainer run recommendation-trainer-29123456 in aegis-prod failed",
    "description": "Job recommendation-trainer-29123456 in aegis-prod ended in failure: the recommendation model was "
                   "not retrained tonight. `kubectl logs job/recommendation-trainer-29123456` shows why.",
    "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisTrainerJobFailed",
}
SECRET_NOT_SYNCED = {
    "summary": "ExternalSecret aegis-dev/app-secrets stopped syncing from Vault",
    "description": "app-secrets in aegis-dev has not been Ready for 15 minutes: a rotated credential in Vault is not "
                   "reaching the pods, and a new pod may start with a stale one. Check the SecretStore vault-backend "
                   "(Vault role aegis-<env>) and `kubectl describe externalsecret app-secrets`.",
    "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisExternalSecretNotSynced",
}


@pytest.mark.parametrize(("series", "alert", "labels", "annotations"), [
    ('kube_job_status_failed{namespace="aegis-prod",job_name="recommendation-trainer-29123456"}',
     "AegisTrainerJobFailed", {"severity": "warning", "namespace": "aegis-prod",
                               "job_name": "recommendation-trainer-29123456"}, TRAINER_FAILED),
    ('externalsecret_status_condition{namespace="aegis-dev",name="app-secrets",condition="Ready",status="False"}',
     "AegisExternalSecretNotSynced", {"severity": "warning", "namespace": "aegis-dev", "name": "app-secrets"},
     SECRET_NOT_SYNCED),
])
def test_a_failed_trainer_run_and_a_secret_that_stopped_syncing_alert(
        tmp_path: Path, series: str, alert: str, labels: dict[str, str], annotations: dict[str, str]) -> None:
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [*namespaces("aegis-dev", "aegis-prod"), {"series": series, "values": "0x3 1x30"}],
        "alert_rule_test": [{"eval_time": "2m", "alertname": alert, "exp_alerts": []},
                            {"eval_time": "30m", "alertname": alert,
                             "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}]}],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_trainer_that_has_not_succeeded_for_36_hours_alerts(tmp_path: Path) -> None:
    # the last success at t=0 (a timestamp of 0): 36 hours later and 15 minutes on, the alert fires
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [*[{"series": s["series"], "values": "1x2500"} for s in namespaces("aegis-prod")],
                         {"series": 'kube_cronjob_status_last_successful_time{namespace="aegis-prod",'
                                    'cronjob="recommendation-trainer-trainer"}', "values": "0x2500"}],
        "alert_rule_test": [
            {"eval_time": "30h", "alertname": "AegisTrainerNotSucceeding", "exp_alerts": []},
            {"eval_time": "40h", "alertname": "AegisTrainerNotSucceeding", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "namespace": "aegis-prod"},
                "exp_annotations": {
                    "summary": "The model trainer in aegis-prod has not succeeded for more than 36 hours",
                    "description": "No run of the nightly trainer in aegis-prod has succeeded since 1d 16h 0m 0s ago: "
                                   "runs fail, "
                                   "hang (concurrencyPolicy Forbid then skips the next ones), or are not scheduled.",
                    "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisTrainerNotSucceeding"}}]},
        ],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_trainer_run_that_hangs_alerts_after_4_hours_and_a_finished_one_does_not(tmp_path: Path) -> None:
    """The chart renders no deadline for the trainer's Jobs, so a hung run would silently skip every later night."""
    job = 'namespace="aegis-staging",job_name="recommendation-trainer-trainer-29123456"'
    done = 'namespace="aegis-prod",job_name="recommendation-trainer-trainer-29123400"'
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [*[{"series": s["series"], "values": "1x400"} for s in namespaces("aegis-staging", "aegis-prod")],
                         # started at t=0 (a timestamp of 0), still active
                         {"series": f"kube_job_status_start_time{{{job}}}", "values": "0x400"},
                         {"series": f"kube_job_status_active{{{job}}}", "values": "1x400"},
                         # started at t=0 too, but finished after an hour: no longer active
                         {"series": f"kube_job_status_start_time{{{done}}}", "values": "0x400"},
                         {"series": f"kube_job_status_active{{{done}}}", "values": "1x60 0x340"}],
        "alert_rule_test": [
            {"eval_time": "3h", "alertname": "AegisTrainerRunningTooLong", "exp_alerts": []},
            {"eval_time": "5h", "alertname": "AegisTrainerRunningTooLong", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "namespace": "aegis-staging",
                               "job_name": "recommendation-trainer-trainer-29123456"},
                "exp_annotations": {
                    "summary": "The model trainer run recommendation-trainer-trainer-29123456 in aegis-staging has run "
                               "for more than 4 hours",
                    "description": "Job recommendation-trainer-trainer-29123456 in aegis-staging started 5h 0m 0s ago "
                                   "and is still running (a run takes about an hour); while it runs, concurrencyPolicy "
                                   "Forbid skips the next nights. `kubectl -n aegis-staging logs "
                                   "job/recommendation-trainer-trainer-29123456` shows where it hangs; `kubectl -n "
                                   "aegis-staging delete job recommendation-trainer-trainer-29123456` stops it.",
                    "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisTrainerRunningTooLong"}}]},
        ],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_kube_state_metrics_at_all_says_the_alerts_are_blind(tmp_path: Path) -> None:
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [{"series": 'up{job="something-else"}', "values": "1x30"}],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "AegisMonitoringBlind", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "AegisMonitoringBlind", "exp_alerts": [{
                "exp_labels": {"severity": "critical"},
                "exp_annotations": {
                    "summary": "No kube-state-metrics series for any aegis namespace: the Aegis alerts cannot fire",
                    "description": "Prometheus has no kube_namespace_status_phase series for aegis-* for 10 minutes: "
                                   "kube-state-metrics is down or no longer scraped, so the workload and datastore "
                                   "alerts of this rule are blind.",
                    "runbook_url": "https://gitlab.com/aegis/gitops/-/wikis/runbooks/AegisMonitoringBlind"}}]},
        ],
    }])
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_failed_or_overdue_backup_alerts(tmp_path: Path) -> None:
    summary = "The PostgreSQL backup of aegis-prod failed or is overdue"
    r = promtool_test(tmp_path, [{
        "interval": "1m",
        "input_series": [*namespaces("aegis-prod"),
                         {"series": 'kube_job_status_failed{namespace="aegis-prod",job_name="database-backup-29123456"}',
                          "values": "0x3 1x30"}],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "AegisDatabaseBackupFailed", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "AegisDatabaseBackupFailed", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "namespace": "aegis-prod", "job_name": "database-backup-29123456"},
                "exp_annotations": {
                    "summary": summary,
                    "description": "The nightly pg_dump of aegis-prod failed, or none has succeeded for 36 hours: until "
                                   "one does, a lost volume loses everything since the last good dump. `kubectl logs "
                                   "job/<run> -c dump` (or -c upload) shows why; docs/runbooks/postgresql-restore.md "
                                   "restores one.",
                    "runbook_url": "https://gitlab.com/aegis/gitops/-/blob/main/docs/runbooks/postgresql-restore.md"}}]},
        ],
    }])
    assert r.returncode == 0, r.stdout + r.stderr
