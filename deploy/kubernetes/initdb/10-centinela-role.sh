#!/bin/sh
# Runs once, when the official postgres image initialises an empty data directory.
# Creates centinela's least-privilege role: a login in pg_monitor (read-only statistics
# views and functions), no table privileges, at most 5 sessions. User and password come from the DSN in the centinela-secrets
# Secret (use letters and digits in the password: it is read without URL decoding).
# For an existing database run the same statements by hand (README, "PostgreSQL role").
set -eu
dsn=$(cat "${CENTINELA_DSN_FILE:-/etc/centinela/secrets/dsn}")
userinfo=${dsn#*://}
userinfo=${userinfo%%@*}
user=${userinfo%%:*}
password=${userinfo#*:}
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
  -v user="$user" -v password="$password" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password' CONNECTION LIMIT 5;
GRANT pg_monitor TO :"user";
ALTER ROLE :"user" SET statement_timeout = '5s';
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
