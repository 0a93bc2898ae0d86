"""Role awareness (core: the postgres and backups areas ask it): maintenance runs on a primary only.

A hot standby (``pg_is_in_recovery()``) refuses VACUUM, ANALYZE and REINDEX, and an advisory lock
taken there serializes nothing on the primary. So a target in recovery gets its checks (they read)
and every maintenance action is skipped with a ``maintenance.skipped`` warning (cause ``standby``)
naming the primary to maintain instead: the target's ``primary`` in the config, else the host and
port the WAL receiver streams from (``pg_stat_wal_receiver``, or ``primary_conninfo`` parsed for
host and port only — it may carry a password, which never leaves this module). Backups decide per
method what a standby may be the source of (``backups.standby``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mercenary_maintenance.pg import sql as sqlfiles

if TYPE_CHECKING:
    from mercenary_maintenance.pg.session import Session


class Standby(RuntimeError):
    """The target is a standby in recovery: no maintenance here."""

    def __init__(self, message: str, primary: str | None) -> None:
        super().__init__(message)
        self.primary = primary


def primary_from(row: dict[str, Any]) -> str | None:
    """``host:port`` of the primary a standby streams from; never anything else of the conninfo.

    >>> primary_from({"sender_host": "10.0.0.5", "sender_port": 5432, "primary_conninfo": None})
    '10.0.0.5:5432'
    >>> primary_from({"sender_host": None, "sender_port": None,
    ...               "primary_conninfo": "user=rep password=s3cret host=db1 port=5433 sslmode=prefer"})
    'db1:5433'
    >>> primary_from({"sender_host": None, "sender_port": None, "primary_conninfo": "not a conninfo '"}) is None
    True
    """
    if row.get("sender_host"):
        port = row.get("sender_port")
        return f"{row['sender_host']}:{port}" if port else str(row["sender_host"])
    conninfo = row.get("primary_conninfo")
    if not conninfo:
        return None
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except Exception:  # an unparsable conninfo names no primary (its text is never shown)
        return None
    host = params.get("host") or params.get("hostaddr")
    if not host:
        return None
    return f"{host}:{params['port']}" if params.get("port") else str(host)


def recovery(conn: Any, version: int) -> dict[str, Any]:
    """The role row of a connection's server (``in_recovery``, the WAL receiver, two settings)."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sqlfiles.load("recovery", version)).fetchone()
    return dict(row or {"in_recovery": False})


def conflict_risk(row: dict[str, Any]) -> str | None:
    """Why a long read on this standby may be cancelled by a recovery conflict (``None``: it waits).

    >>> conflict_risk({"hot_standby_feedback": "off", "max_standby_streaming_delay": "30s"})
    'hot_standby_feedback is off and max_standby_streaming_delay is 30s: replay may cancel a long read'
    >>> conflict_risk({"hot_standby_feedback": "on", "max_standby_streaming_delay": "30s"}) is None
    True
    """
    if row.get("hot_standby_feedback") == "on" or row.get("max_standby_streaming_delay") == "-1":
        return None
    return (f"hot_standby_feedback is {row.get('hot_standby_feedback')} and max_standby_streaming_delay is "
            f"{row.get('max_standby_streaming_delay')}: replay may cancel a long read")


def refuse_standby(s: Session, target: str, configured_primary: str | None) -> None:
    """Raise :class:`Standby` when the target is in recovery, naming the primary to maintain."""
    row = recovery(s.conn, s.version)
    if not row["in_recovery"]:
        return
    primary = configured_primary or primary_from(row)
    where = (f"maintain its primary {primary} instead" if primary
             else "maintain its primary instead (not discoverable with this role: set targets.postgres[].primary)")
    raise Standby(f"target {target} is a standby in recovery (pg_is_in_recovery): checks only, no maintenance; "
                  f"{where}", primary)
