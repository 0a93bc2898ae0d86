"""Connection parameters of a PostgreSQL target, for libpq programs (pg_dump, pg_basebackup, …)
and for sessions of their own (a backup's snapshot, its lock, a scratch server).

The Airflow connection (``PostgresHook``) is the only source. Programs get the
password through ``PGPASSWORD`` in their environment, never on the command line, and
the environment is never logged (``runner`` masks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mercenary_maintenance.config import TimeoutsConfig


@dataclass(frozen=True)
class PgParams:
    host: str
    port: int
    user: str
    password: str | None
    dbname: str
    timeouts: TimeoutsConfig
    sslmode: str | None = None

    def env(self, dbname: str | None = None) -> dict[str, str]:
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
               "PGDATABASE": dbname or self.dbname, "PGAPPNAME": "mercenary_maintenance_backup"}
        # libpq programs (pg_dump, pg_basebackup, …) get the same connect bound as our sessions.
        env["PGCONNECT_TIMEOUT"] = str(self.connect_timeout_s)
        if self.password:
            env["PGPASSWORD"] = self.password
        if self.sslmode:
            env["PGSSLMODE"] = self.sslmode
        return env

    @property
    def connect_timeout_s(self) -> int:
        """``timeouts.postgres.connect_s`` in whole seconds (libpq's ``PGCONNECT_TIMEOUT``), at least 2."""
        return max(2, math.ceil(self.timeouts.postgres.connect_s))

    @property
    def backup_s(self) -> float:
        """``timeouts.subprocess.backup_s``: the bound of pg_dump/pg_restore/pg_basebackup/… ."""
        return float(self.timeouts.subprocess.backup_s)

    @property
    def kill_grace_s(self) -> float:
        """``timeouts.subprocess.kill_grace_s``: SIGTERM to SIGKILL of a program past its deadline."""
        return float(self.timeouts.subprocess.kill_grace_s)

    def connect(self, dbname: str | None = None, autocommit: bool = True) -> Any:
        """A session bounded by ``timeouts.postgres`` (connect timeout, keepalives): adapters.postgres."""
        from mercenary_maintenance.adapters.postgres import connect_params

        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user,
                                  "dbname": dbname or self.dbname, "autocommit": autocommit}
        if self.password:
            kwargs["password"] = self.password
        if self.sslmode:
            kwargs["sslmode"] = self.sslmode
        return connect_params(timeouts=self.timeouts, application_name="mercenary_maintenance_backup", **kwargs)


def params(conn_id: str, timeouts: TimeoutsConfig) -> PgParams:
    """Read the Airflow connection ``conn_id`` through the provider hook; sessions and programs
    are bounded by ``timeouts`` (the task's validated config)."""
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
        timeouts=timeouts,
    )

