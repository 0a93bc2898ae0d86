"""The SQL a session runs: ``include/sql/postgres`` (read by :mod:`mercenary_maintenance.packaged`).

One file per check serves every supported server: lines that need a newer catalog carry a
``-- pg>=<server_version_num>`` marker beside their fallback's ``-- pg<…`` (e.g.
``pg_stat_user_indexes.last_idx_scan`` from 16 on). Servers older than 13 are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mercenary_maintenance import packaged

if TYPE_CHECKING:
    from psycopg import sql

AREA = "postgres"
MIN_VERSION = 130000


class UnsupportedServer(RuntimeError):
    """The server is older than PostgreSQL 13."""


def text(name: str, server_version: int) -> str:
    if server_version and server_version < MIN_VERSION:
        raise UnsupportedServer(f"PostgreSQL {server_version} is older than 13, which this project supports")
    return packaged.sql_text(AREA, name, server_version or MIN_VERSION)


def load(name: str, server_version: int) -> sql.SQL:
    """The statement ``name`` for this server, as a composable (project-owned text, never user input)."""
    from psycopg import sql  # here, not at import: DAG files import the task bodies (psycopg costs ~0.4 s)

    return sql.SQL(text(name, server_version))
