"""One PostgreSQL session per task and target, opened through ``PostgresHook``.

The session is autocommit (VACUUM and REINDEX CONCURRENTLY need it, and one failing check must
not poison the next), names itself with ``application_name`` so DBAs can see it in
``pg_stat_activity``, and carries ``lock_timeout`` and ``statement_timeout``, set with
``set_config()`` and bound values (no string formatting of settings).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.postgres import sql as sqlfiles

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

    from mercenary_maintenance.config import PostgresTarget

APP_PREFIX = "mercenary-maintenance"


def millis(seconds: float) -> str:
    """A PostgreSQL duration in whole milliseconds, at least 1 (0 would mean "no limit").

    >>> millis(5), millis(0.0001), millis(2.5)
    ('5000ms', '1ms', '2500ms')
    """
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass
class Session:
    conn: psycopg.Connection[Any]
    version: int

    def set_timeouts(self, *, lock_timeout_s: float | None = None, statement_timeout_s: float | None = None) -> None:
        if lock_timeout_s is not None:
            self.conn.execute("SELECT set_config('lock_timeout', %s, false)", [millis(lock_timeout_s)])
        if statement_timeout_s is not None:
            self.conn.execute("SELECT set_config('statement_timeout', %s, false)", [millis(statement_timeout_s)])

    def rows(
        self, name: str, params: dict[str, Any] | None = None, **identifiers: sql.Composable
    ) -> list[dict[str, Any]]:
        """Run ``include/sql/postgres/<name>.sql`` (version variant) and return dict rows."""
        from psycopg.rows import dict_row

        query: sql.SQL | sql.Composed = sqlfiles.load(name, self.version)
        if identifiers:
            query = sqlfiles.load(name, self.version).format(**identifiers)
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def execute(self, statement: sql.SQL | sql.Composed, params: dict[str, Any] | None = None) -> None:
        self.conn.execute(statement, params)


def server_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    return int(row[0]) if row else 0


def connect(target: PostgresTarget) -> psycopg.Connection[Any]:
    """A raw autocommit connection of a configured target (credentials stay in the hook)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn: Any = PostgresHook(postgres_conn_id=target.conn_id).get_conn()
    conn.autocommit = True
    return conn  # type: ignore[no-any-return]


@contextmanager
def open_session(
    target: PostgresTarget, *, purpose: str, lock_timeout_s: float, statement_timeout_s: float
) -> Iterator[Session]:
    conn = connect(target)
    try:
        conn.execute("SELECT set_config('application_name', %s, false)", [f"{APP_PREFIX}:{purpose}"[:63]])
        session = Session(conn, server_version(conn))
        sqlfiles.text("connections", session.version)  # refuse servers older than 13 up front
        session.set_timeouts(lock_timeout_s=lock_timeout_s, statement_timeout_s=statement_timeout_s)
        yield session
    finally:
        conn.close()
