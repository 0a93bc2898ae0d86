"""Per-target serialization of heavy maintenance: a session advisory lock on the target.

Airflow cannot vary ``pool`` per mapped task instance, so heavy tasks share ``HEAVY_POOL`` and
take this lock on the database they work on. Weekly VACUUM, monthly REINDEX / VACUUM FULL and
the backup area's dumps and restore tests all use it, so they never overlap on one database.
The lock dies with the session, so a killed worker cannot leave it behind.

Backups never wait behind maintenance for long: a backup waits as :data:`BACKUP_APP` (its
``application_name``), and heavy maintenance, at each relation boundary (the load guard before its
next statement), calls :func:`yield_to_backup` — when a backup waits for the lock this session
holds, the lock is released (PostgreSQL grants it to the waiting backup at once) and requested
again behind it. So a backup waits at most for the relation being maintained; while the holder is
such maintenance the backup's wait is extended up to ``max_wait_s`` (sized to the holder's one
statement, itself bounded by its window), so a long REINDEX never fails a backup.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.pg.session import millis

if TYPE_CHECKING:
    from mercenary_maintenance.pg.params import PgParams

# A fixed bigint: b"mercmnt\0" read as a big-endian integer. Other tools are unlikely to use it.
LOCK_KEY = int.from_bytes(b"mercmnt\0", "big")
APP_PREFIX = "mercenary-maintenance:"  # = adapters.postgres.APP_PREFIX + ":" (maintenance sessions)
BACKUP_APP = "mercenary-maintenance:backup"  # a backup's lock session: maintenance yields to it
WAIT_SLICE_S = 30.0  # a waiting backup looks at the holder this often
log = logging.getLogger(__name__)
# Connections holding the lock through target_lock (True) or having yielded it and not got it back (False).
_HELD: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


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

    row = conn.execute(_HOLDER, [*_key()]).fetchone()
    if row is None:
        return None
    return {"pid": int(row[0]), "application": row[1], "state": row[2], "query_start": row[3],
            "query": mask(row[4] or "")}


def _key() -> list[int]:
    return [(LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF]


def _acquire(conn: Any, timeout_s: float) -> None:
    """``pg_advisory_lock`` waiting at most ``timeout_s``; the session's lock_timeout is kept."""
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


def yields(holder: dict[str, Any] | None) -> bool:
    """Whether the holder is heavy maintenance that lets a waiting backup go first at its next relation.

    >>> yields({"application": "mercenary-maintenance:postgres.reindex"}), yields({"application": BACKUP_APP})
    (True, False)
    >>> yields({"application": "psql"}), yields(None)
    (False, False)
    """
    app = str((holder or {}).get("application") or "")
    return app.startswith(APP_PREFIX) and app != BACKUP_APP


def _acquire_as_backup(conn: Any, timeout_s: float, max_wait_s: float) -> None:
    """Wait ``timeout_s``, or up to ``max_wait_s`` while the holder is maintenance that yields."""
    conn.execute("SELECT set_config('application_name', %s, false)", [BACKUP_APP])
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        limit = max(timeout_s, max_wait_s) if yields(lock_holder(conn)) else timeout_s
        if waited >= limit:
            holder = lock_holder(conn)
            who = f" (pid {holder['pid']}, {holder['application'] or '-'})" if holder else ""
            raise TargetBusy(f"another maintenance task{who} holds this target's lock (waited {waited:.0f}s)",
                             waited_s=waited, holder=holder)
        try:
            _acquire(conn, max(0.001, min(WAIT_SLICE_S, limit - waited)))
            return
        except TargetBusy:
            continue


@contextmanager
def target_lock(conn: Any, timeout_s: float, *, as_backup: bool = False,
                max_wait_s: float | None = None) -> Iterator[None]:
    """Hold the target's maintenance lock; raise :class:`TargetBusy` after ``timeout_s``.

    ``conn`` is an autocommit psycopg connection (a session lock outlives transactions).
    The session's previous ``lock_timeout`` is restored after acquiring. ``as_backup``: wait as a
    backup (maintenance yields to it), for up to ``max_wait_s`` while the holder is such maintenance.
    """
    if as_backup:
        _acquire_as_backup(conn, timeout_s, max_wait_s or timeout_s)
    else:
        _acquire(conn, timeout_s)
    _HELD[conn] = True
    try:
        yield
    finally:
        held = _HELD.pop(conn, False)
        if held and not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


_WAITING_BACKUP = (
    "SELECT a.pid FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1 "
    "AND l.classid::int8 = %s AND l.objid::int8 = %s AND a.application_name = %s "
    "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) LIMIT 1"
)


@contextmanager
def holding_target_lock(pg: PgParams, wait_s: float, max_wait_s: float) -> Iterator[None]:
    """Hold the target's maintenance lock on a session of its own (``pg``'s), waiting as a backup:
    heavy maintenance yields to it at its next relation, and while it does the wait may last
    ``max_wait_s``."""
    with pg.connect() as lock_conn, target_lock(lock_conn, wait_s, as_backup=True, max_wait_s=max_wait_s):
        yield


def waiting_backup(conn: Any) -> int | None:
    """The pid of a backup waiting for the target's lock (``None``: none waits)."""
    row = conn.execute(_WAITING_BACKUP, [*_key(), BACKUP_APP]).fetchone()
    return int(row[0]) if row else None


def yield_to_backup(conn: Any, wait_s: float) -> float:
    """At a relation boundary of heavy maintenance holding the lock on ``conn``: let a waiting backup
    go first, then take the lock back (waiting at most ``wait_s``: the time left). Returns the
    seconds yielded (0: no backup waits, or ``conn`` holds no lock of ours). A session that could not
    take the lock back tries again here before its next relation, and raises :class:`TargetBusy`
    rather than work without it."""
    held = _HELD.get(conn)
    if held is None:
        return 0.0
    started = time.monotonic()
    if held:
        pid = waiting_backup(conn)
        if pid is None:
            return 0.0
        conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])  # granted to the waiting backup at once
        _HELD[conn] = False
        log.warning("yielding the target's maintenance lock to backup pid %d until it is done", pid)
    _acquire(conn, wait_s)
    _HELD[conn] = True
    return round(time.monotonic() - started, 3)
