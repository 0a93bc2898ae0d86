"""One PostgreSQL session per task and target, opened through the PostgreSQL adapter.

The session is autocommit (VACUUM and REINDEX CONCURRENTLY need it, and one failing check must
not poison the next), names itself with ``application_name`` so DBAs can see it in
``pg_stat_activity``, and carries ``lock_timeout`` and ``statement_timeout``, set with
``set_config()`` and bound values (no string formatting of settings).

``statement_timeout`` is re-derived before each statement from ``budget`` (the time left in the
window), so a loop over many tables cannot overrun it; each statement is also bounded on the
client (``statement_timeout`` + ``timeouts.postgres.read_grace_s``) for a server that went silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.pg import sql as sqlfiles

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

    from mercenary_maintenance.config import PostgresTarget, TimeoutsConfig

APP_PREFIX = "mercenary-maintenance"  # = adapters.postgres.APP_PREFIX


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
    # Seconds the next statement may take (re-read before each one); None: the fixed ceiling.
    budget: Callable[[], float] | None = None
    read_grace_s: float = 10.0
    statement_timeout_s: float | None = field(default=None, init=False)
    _ceiling_s: float | None = field(default=None, init=False)

    def set_timeouts(self, *, lock_timeout_s: float | None = None, statement_timeout_s: float | None = None) -> None:
        with self._bounded(lock_timeout_s or 0.0, "set lock_timeout/statement_timeout"):
            if lock_timeout_s is not None:
                self.conn.execute("SELECT set_config('lock_timeout', %s, false)", [millis(lock_timeout_s)])
            if statement_timeout_s is not None:
                self._set_statement_timeout(statement_timeout_s)
                self._ceiling_s = statement_timeout_s

    def _set_statement_timeout(self, seconds: float) -> None:
        self.conn.execute("SELECT set_config('statement_timeout', %s, false)", [millis(seconds)])
        self.statement_timeout_s = seconds

    def _bounded(self, seconds: float, what: str) -> Any:
        """A client-side bound of ``seconds`` + read grace (none for a session without timeouts)."""
        from contextlib import nullcontext

        from mercenary_maintenance.adapters.postgres import read_deadline

        if self.statement_timeout_s is None and self.budget is None and seconds <= 0:
            return nullcontext()
        return read_deadline(self.conn, seconds + self.read_grace_s, what)

    def _before_statement(self) -> float:
        """Re-derive statement_timeout from the time left; the seconds the statement may take."""
        current = self.statement_timeout_s or 0.0
        if self.budget is None:
            return current  # 0.0 without statement_timeout: then _bounded adds no client bound
        wanted = self.budget()
        if self._ceiling_s is not None:
            wanted = min(wanted, self._ceiling_s)
        if self.statement_timeout_s is None or abs(wanted - current) >= 1.0:
            with self._bounded(0.0, "set statement_timeout"):
                self._set_statement_timeout(wanted)
        return wanted

    def deadline_s(self) -> float:
        """Seconds the next statement may run (statement_timeout re-derived from the time left)."""
        return self._before_statement()

    def rows(
        self, name: str, params: dict[str, Any] | None = None, **identifiers: sql.Composable
    ) -> list[dict[str, Any]]:
        """Run ``include/sql/postgres/<name>.sql`` (version variant) and return dict rows."""
        from psycopg.rows import dict_row

        query: sql.SQL | sql.Composed = sqlfiles.load(name, self.version)
        if identifiers:
            query = sqlfiles.load(name, self.version).format(**identifiers)
        seconds = self._before_statement()
        with self._bounded(seconds, f"query {name}"), self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def execute(self, statement: sql.SQL | sql.Composed, params: dict[str, Any] | None = None) -> None:
        seconds = self._before_statement()
        what = statement.as_string(self.conn)[:80]
        with self._bounded(seconds, f"statement {what!r}"):
            self.conn.execute(statement, params)


def server_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    return int(row[0]) if row else 0


def connect(target: PostgresTarget, purpose: str, timeouts: TimeoutsConfig) -> psycopg.Connection[Any]:
    """A raw autocommit connection of a configured target, bounded by ``timeouts.postgres``
    (credentials stay in the hook)."""
    from mercenary_maintenance.adapters import postgres as adapter

    return adapter.connect(target.conn_id, purpose=purpose, timeouts=timeouts)


@contextmanager
def open_session(
    target: PostgresTarget, *, purpose: str, lock_timeout_s: float, statement_timeout_s: float,
    timeouts: TimeoutsConfig, budget: Callable[[], float] | None = None,
) -> Iterator[Session]:
    """A session; ``statement_timeout_s`` is the ceiling, ``budget`` (when given) re-derives the
    timeout before each statement (the time left in the window)."""
    from mercenary_maintenance.adapters.postgres import read_deadline

    bounds = timeouts
    conn = connect(target, purpose, bounds)
    try:
        session = Session(conn, 0, budget=budget, read_grace_s=bounds.postgres.read_grace_s)
        # No statement_timeout yet: a server silent right after the handshake is cut here.
        with read_deadline(conn, bounds.postgres.connect_s + bounds.postgres.read_grace_s, "server version"):
            session.version = server_version(conn)
        sqlfiles.text("connections", session.version)  # refuse servers older than 13 up front
        session.set_timeouts(lock_timeout_s=lock_timeout_s, statement_timeout_s=statement_timeout_s)
        yield session
    finally:
        conn.close()
