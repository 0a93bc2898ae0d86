"""Per-target serialization of heavy maintenance: a session advisory lock on the target.

Airflow cannot vary ``pool`` per mapped task instance, so heavy tasks share ``HEAVY_POOL`` and
take this lock on the database they work on. Weekly VACUUM, monthly REINDEX / VACUUM FULL and
the backup area's dumps and restore tests all use it, so they never overlap on one database.
The lock dies with the session, so a killed worker cannot leave it behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mercenary_maintenance.pg.session import millis

# A fixed bigint: b"mercmnt\0" read as a big-endian integer. Other tools are unlikely to use it.
LOCK_KEY = int.from_bytes(b"mercmnt\0", "big")


class TargetBusy(RuntimeError):
    """Another maintenance task holds the target's lock for longer than we may wait."""

    def __init__(self, message: str, *, waited_s: float = 0.0, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.waited_s = waited_s
        self.holder = holder


_HOLDER = (
    "SELECT a.pid, a.application_name, a.state, a.query_start::text, left(a.query, 300) "
    "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid::int8 = %s AND l.objid::int8 = %s LIMIT 1"
)


def lock_holder(conn: Any) -> dict[str, Any] | None:
    """The session holding the target's lock (pid, application, state, query start, query)."""
    from mercenary_maintenance.runner import mask

    row = conn.execute(_HOLDER, [(LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF]).fetchone()
    if row is None:
        return None
    return {"pid": int(row[0]), "application": row[1], "state": row[2], "query_start": row[3],
            "query": mask(row[4] or "")}


@contextmanager
def target_lock(conn: Any, timeout_s: float) -> Iterator[None]:
    """Hold the target's maintenance lock; raise :class:`TargetBusy` after ``timeout_s``.

    ``conn`` is an autocommit psycopg connection (a session lock outlives transactions).
    The session's previous ``lock_timeout`` is restored after acquiring.
    """
    import psycopg

    row = conn.execute("SELECT current_setting('lock_timeout')").fetchone()
    previous = row[0] if row else "0"
    conn.execute("SELECT set_config('lock_timeout', %s, false)", [millis(timeout_s)])
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    except psycopg.errors.LockNotAvailable:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", [previous])
        holder = lock_holder(conn)
        who = f" (pid {holder['pid']}, {holder['application'] or '-'})" if holder else ""
        raise TargetBusy(f"another maintenance task{who} holds this target's lock (waited {timeout_s:g}s)",
                         waited_s=timeout_s, holder=holder) from None
    finally:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", [previous])
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
