#!/bin/sh
# Run once by the postgres image's entrypoint, when initdb makes the database on an empty volume (files in
# /docker-entrypoint-initdb.d). The services connect as aegis_app, which owns the schema aegis and nothing
# else: not a superuser, cannot create roles or databases, cannot write to the public schema. The superuser
# aegis (POSTGRES_USER) stays for the StatefulSet and its operators; its password is not in app-secrets.
# The password is read from the file APP_DB_PASSWORD_FILE names (database-admin app-password, from Vault,
# mounted by the StatefulSet: a file, not an environment variable) and reaches psql as a variable, quoted by
# psql itself (:'app_password'), never pasted into SQL text.
set -eu
app_password=$(cat "$APP_DB_PASSWORD_FILE")
psql -v ON_ERROR_STOP=1 -v app_password="$app_password" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE aegis_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
REVOKE ALL ON DATABASE aegis FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE aegis TO aegis_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA aegis AUTHORIZATION aegis_app;
ALTER ROLE aegis_app SET search_path = aegis;
SQL
