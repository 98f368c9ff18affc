#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory (/docker-entrypoint-initdb.d).
# Creates what scripts/infra.sh creates for local development: the backbone role and one database per service,
# owned by it, so each host applies its own migrations and no service ever reads another service's tables.
set -euo pipefail

# psql variables (:"role", :'password') quote the values, so a password with a quote in it cannot break the SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="$BACKBONE_DB_USER" -v password="$BACKBONE_DB_PASSWORD" <<'SQL'
-- CREATEDB as in scripts/infra.sh: the integration suites create scratch databases of their own, and may run against
-- this server too.
CREATE ROLE :"role" LOGIN CREATEDB PASSWORD :'password';
CREATE DATABASE backbone_ingestion OWNER :"role";
CREATE DATABASE backbone_workers OWNER :"role";
CREATE DATABASE backbone_sagas OWNER :"role";
CREATE DATABASE backbone_deadletters OWNER :"role";
SQL
