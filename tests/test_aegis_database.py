"""base/database/init/10-application-role.sh against a real PostgreSQL server (started on loopback by the test,
as the postgres image's entrypoint would run it on a fresh volume): the services' role can work in its own schema
and nothing more, and its password, whatever characters it holds, is the one set."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, tool_or_skip

INSTALL = "apt-get install postgresql (bash ci/install-test-tools.sh installs it)"
SCRIPT = ROOT / "base/database/init/10-application-role.sh"
HBA = ROOT / "base/database/config/pg_hba.conf"
PASSWORD = "it's \"a\" pass; DROP ROLE aegis; --"  # quotes, a semicolon, a comment: psql quotes it, not the script


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        return tool_or_skip(name, install=INSTALL)[name]
    return str(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cluster(tls: bool = False) -> Iterator[dict[str, str]]:
    """A PostgreSQL cluster with the superuser aegis and the database aegis (what POSTGRES_USER/POSTGRES_DB make),
    password authentication on 127.0.0.1; as an unprivileged user when the tests run as root (initdb refuses root).
    With ``tls``, the server runs as base/database/statefulset.yaml starts it: ssl on with a certificate for
    `database` and 127.0.0.1 (made here with openssl), and the repository's config/pg_hba.conf."""
    initdb, pg_ctl, psql = _bin("initdb"), _bin("pg_ctl"), _bin("psql")
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
    base = Path(tempfile.mkdtemp(prefix="gitops-tools-pg-"))
    base.chmod(0o777)
    data, socket_dir = base / "data", base / "run"
    socket_dir.mkdir()
    socket_dir.chmod(0o777)
    (base / "pw").write_text("admin-secret\n")
    (base / "pw").chmod(0o644)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1"
    found = {"psql": psql, "socket": str(socket_dir), "port": str(port)}
    if tls:
        openssl = tool_or_skip("openssl", install="apt-get install openssl")["openssl"]
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "1", "-subj", "/CN=database", "-addext", "subjectAltName=DNS:database,IP:127.0.0.1",
                        "-keyout", str(base / "tls.key"), "-out", str(base / "tls.crt")], check=True,
                       capture_output=True, timeout=60)
        (base / "tls.key").chmod(0o600)
        if as_user:  # the key must belong to the server's user
            shutil.chown(base / "tls.key", user="nobody")
        shutil.copyfile(HBA, base / "pg_hba.conf")
        (base / "pg_hba.conf").chmod(0o644)
        options += (f" -c ssl=on -c ssl_cert_file={base / 'tls.crt'} -c ssl_key_file={base / 'tls.key'}"
                    f" -c ssl_min_protocol_version=TLSv1.2 -c hba_file={base / 'pg_hba.conf'}")
        found["ca"] = str(base / "tls.crt")
    try:
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "aegis", "--pwfile", str(base / "pw"),
                        "--auth-local=trust", "--auth-host=scram-sha-256"], check=True, capture_output=True, env=env,
                       timeout=120)
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
                        options, "start"], check=True, capture_output=True, env=env, timeout=120)
        subprocess.run([psql, "-h", str(socket_dir), "-p", str(port), "-U", "aegis", "-d", "postgres", "-c",
                        "CREATE DATABASE aegis"], check=True, capture_output=True, env=env, timeout=60)
        yield found
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True,
                       env=env, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[dict[str, str]]:
    with cluster() as found:
        yield found


def sql(server: dict[str, str], user: str, password: str, query: str) -> subprocess.CompletedProcess[str]:
    """``query`` as ``user`` over TCP on 127.0.0.1, authenticated by ``password`` (SCRAM)."""
    return subprocess.run([server["psql"], "-h", "127.0.0.1", "-p", server["port"], "-U", user, "-d", "aegis",
                           "-v", "ON_ERROR_STOP=1", "-At", "-q", "-c", query], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PGPASSWORD": password, "LC_ALL": "C"})


def test_the_application_role_can_use_its_schema_and_nothing_more(server: dict[str, str], tmp_path: Path) -> None:
    psql_dir = str(Path(server["psql"]).parent)
    secret = tmp_path / "app-password"  # as the StatefulSet mounts database-admin: the value, no newline
    secret.write_text(PASSWORD)
    done = subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, timeout=60, env={
        **os.environ, "PATH": f"{psql_dir}:{os.environ['PATH']}", "PGHOST": server["socket"], "PGPORT": server["port"],
        "POSTGRES_USER": "aegis", "POSTGRES_DB": "aegis", "APP_DB_PASSWORD_FILE": str(secret)})
    assert done.returncode == 0, done.stdout + done.stderr

    # the password was set exactly: a login with it works, one without its last character does not
    assert sql(server, "aegis_app", PASSWORD, "SELECT current_user").stdout == "aegis_app\n"
    assert sql(server, "aegis_app", PASSWORD[:-1], "SELECT 1").returncode != 0
    # its own schema, by default
    assert sql(server, "aegis_app", PASSWORD, "CREATE TABLE items (id int); SELECT schemaname FROM pg_tables "
                                              "WHERE tablename = 'items'").stdout == "aegis\n"
    # and nothing more
    for forbidden, why in (("CREATE TABLE public.x (id int)", "permission denied for schema public"),
                           ("CREATE ROLE intruder", "permission denied to create role"),
                           ("CREATE DATABASE other", "permission denied to create database"),
                           ("ALTER ROLE aegis_app SUPERUSER", "must be superuser")):
        r = sql(server, "aegis_app", PASSWORD, forbidden)
        assert r.returncode != 0 and why in r.stderr, (forbidden, r.stderr)
    attributes = sql(server, "aegis", "admin-secret",
                     "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'aegis_app'")
    assert attributes.stdout == "f|f|f\n"
    # the superuser is still there (the comment in the password did not reach SQL)
    assert sql(server, "aegis", "admin-secret", "SELECT rolsuper FROM pg_roles WHERE rolname = 'aegis'").stdout == "t\n"


def test_the_server_takes_network_connections_over_tls_only(tmp_path: Path) -> None:
    """The repository's pg_hba.conf, on a server started as the StatefulSet starts it: a client without TLS is
    refused whatever its password, one that verifies the certificate (sslmode=verify-full, as the services, the
    trainer and the backup connect) gets in over TLS, and the Unix socket inside the pod still works."""
    with cluster(tls=True) as server:
        def connect(sslmode: str, password: str = "admin-secret") -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [server["psql"], f"host=127.0.0.1 port={server['port']} user=aegis dbname=aegis sslmode={sslmode}",
                 "-At", "-c", "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
                capture_output=True, text=True, timeout=60,
                env={**os.environ, "PGPASSWORD": password, "PGSSLROOTCERT": server["ca"], "LC_ALL": "C"})

        plain = connect("disable")
        assert plain.returncode != 0
        assert "no pg_hba.conf entry" in plain.stderr and "no encryption" in plain.stderr, plain.stderr
        verified = connect("verify-full")
        assert verified.returncode == 0, verified.stderr
        ssl, version = verified.stdout.strip().split("|")
        assert ssl == "t" and version in ("TLSv1.2", "TLSv1.3")
        assert connect("verify-full", "wrong-password").returncode != 0  # TLS, and still the password
        local = subprocess.run([server["psql"], "-h", server["socket"], "-p", server["port"], "-U", "aegis", "-d",
                                "aegis", "-At", "-c", "SELECT 1"], capture_output=True, text=True, timeout=60)
        assert (local.returncode, local.stdout) == (0, "1\n"), local.stderr
