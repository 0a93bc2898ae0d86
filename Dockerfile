# The Airflow image for docker-compose.yaml: Airflow 3.3.2 plus this project's Python
# dependencies (the same pins as pyproject.toml, plus the celery provider of its dev extra
# for the CeleryExecutor; tests/dags/test_compose.py checks that).
# dags/, plugins/ and include/ are mounted, not copied: edit them without a rebuild.
FROM apache/airflow:3.3.2

USER root
# zstd: the backup pipeline's compressor CLI (the Python side uses zstandard).
# postgresql-17: server binaries (initdb, pg_ctl, pg_restore, pg_combinebackup) of the compose stack's
# application PostgreSQL 17, for restore tests into a scratch server on the worker
# (backups.restore_on: scratch_server, the default). Debian 12 ships 15 only: PGDG's repository.
ARG PG_MAJOR=17
RUN apt-get update \
 && apt-get install -y --no-install-recommends zstd ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-${PG_MAJOR} \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

USER airflow
RUN pip install --no-cache-dir \
    "apache-airflow==3.3.2" \
    "apache-airflow-providers-postgres==7.1.1" \
    "apache-airflow-providers-redis==4.7.1" \
    "apache-airflow-providers-amazon==9.39.0" \
    "apache-airflow-providers-slack==9.11.1" \
    "apache-airflow-providers-standard==1.21.0" \
    "apache-airflow-providers-common-sql>=2.4" \
    "apache-airflow-providers-http>=5.0" \
    "apache-airflow-providers-ssh==7.0.1" \
    "cryptography>=42" \
    "pydantic>=2.7" \
    "PyYAML>=6" \
    "zstandard>=0.23" \
    "psutil>=5.9" \
    "prometheus-client>=0.20" \
    "pygal>=3.0" \
    "markdown-it-py>=3" \
    "packaging>=23" \
    "apache-airflow-providers-celery==3.26.0"
