#!/bin/sh
# Runs once when the app-postgres volume is initialised (docker-entrypoint-initdb.d):
# the maintenance user may stream base backups (pg_basebackup) from the Airflow workers,
# and pg_stat_statements feeds the slow-query check.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
