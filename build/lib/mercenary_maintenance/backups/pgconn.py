"""Connection details of a PostgreSQL target, for psycopg and for libpq programs.

The Airflow connection (``PostgresHook``) is the only source. Programs get the
password through ``PGPASSWORD`` in their environment, never on the command line, and
the environment is never logged (``runner`` masks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PgParams:
    host: str
    port: int
    user: str
    password: str | None
    dbname: str
    sslmode: str | None = None

    def env(self, dbname: str | None = None) -> dict[str, str]:
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
               "PGDATABASE": dbname or self.dbname, "PGAPPNAME": "mercenary_maintenance_backup"}
        if self.password:
            env["PGPASSWORD"] = self.password
        if self.sslmode:
            env["PGSSLMODE"] = self.sslmode
        return env

    def connect(self, dbname: str | None = None, autocommit: bool = True) -> Any:
        import psycopg

        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user,
                                  "dbname": dbname or self.dbname, "autocommit": autocommit,
                                  "application_name": "mercenary_maintenance_backup", "connect_timeout": 10}
        if self.password:
            kwargs["password"] = self.password
        if self.sslmode:
            kwargs["sslmode"] = self.sslmode
        return psycopg.connect(**kwargs)


def params(conn_id: str) -> PgParams:
    """Read the Airflow connection ``conn_id`` through the provider hook."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    return PgParams(
        host=conn.host or "localhost",
        port=int(conn.port or 5432),
        user=conn.login or "postgres",
        password=conn.password or None,
        dbname=conn.schema or extra.get("dbname") or "postgres",
        sslmode=extra.get("sslmode"),
    )


def s3_client(conn_id: str) -> Any:
    """A boto3 S3 client from the ``aws`` connection (endpoint/region from its extras)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=conn_id).get_conn()
