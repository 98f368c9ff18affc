#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory (/docker-entrypoint-initdb.d).
# One role per service, owning one database: each host applies its own migrations, and no service can read, write or
# drop another service's tables. The roles get no other option (no CREATEDB, CREATEROLE or superuser), and CONNECT on
# each database is revoked from PUBLIC, so a role cannot even open another service's database.
# (scripts/infra.sh creates a single role with CREATEDB instead: the local integration suites create scratch databases.)
set -euo pipefail

# psql variables (:"role", :'password') quote the values, so a password with a quote in it cannot break the SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v ingestion_role="$INGESTION_API_DB_USER" -v ingestion_password="$INGESTION_API_DB_PASSWORD" \
  -v workers_role="$WORKERS_DB_USER" -v workers_password="$WORKERS_DB_PASSWORD" \
  -v sagas_role="$SAGAS_DB_USER" -v sagas_password="$SAGAS_DB_PASSWORD" \
  -v deadletters_role="$DEAD_LETTERS_DB_USER" -v deadletters_password="$DEAD_LETTERS_DB_PASSWORD" <<'SQL'
CREATE ROLE :"ingestion_role" LOGIN PASSWORD :'ingestion_password';
CREATE DATABASE backbone_ingestion OWNER :"ingestion_role";
REVOKE ALL ON DATABASE backbone_ingestion FROM PUBLIC;

CREATE ROLE :"workers_role" LOGIN PASSWORD :'workers_password';
CREATE DATABASE backbone_workers OWNER :"workers_role";
REVOKE ALL ON DATABASE backbone_workers FROM PUBLIC;

CREATE ROLE :"sagas_role" LOGIN PASSWORD :'sagas_password';
CREATE DATABASE backbone_sagas OWNER :"sagas_role";
REVOKE ALL ON DATABASE backbone_sagas FROM PUBLIC;

CREATE ROLE :"deadletters_role" LOGIN PASSWORD :'deadletters_password';
CREATE DATABASE backbone_deadletters OWNER :"deadletters_role";
REVOKE ALL ON DATABASE backbone_deadletters FROM PUBLIC;
SQL
