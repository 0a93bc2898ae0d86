"""A backup's source may be a hot standby (issue 27): whether it is, and what each backup method may
take from one (``STANDBY_ALLOWED``); the full and incremental backups ask it before they start.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.backups.dump import server_info
from mercenary_maintenance.pg.role import conflict_risk, primary_from, recovery

# What a hot standby may be the source of, per method (issue 27). pg_dump: yes — its exported snapshot
# is consistent on a standby (a recovery conflict may cancel it: said in the action). pg_basebackup
# --incremental: no — a standby's WAL summaries may cover WAL it has not replayed (pgsql-hackers,
# 2026-11, "Summarize only replayed WAL on a standby"), so the chain is taken from the primary only.
STANDBY_ALLOWED = {"pg_dump": True, "pg_basebackup --incremental": False}


def source_role(pg: Any) -> dict[str, Any]:
    """Whether the backup's source is a standby, its primary and the conflict risk (empty: a primary)."""
    with pg.connect() as conn:
        row = recovery(conn, server_info(conn)[1])
    if not row.get("in_recovery"):
        return {}
    return {"standby": True, "primary": primary_from(row), "conflict_risk": conflict_risk(row)}


def standby_note(role: dict[str, Any], method: str) -> str:
    """The action's words on a standby source ('' for a primary).

    >>> standby_note({"standby": True, "primary": "db1:5432", "conflict_risk": None}, "pg_dump")
    '; taken from a standby (primary db1:5432): pg_dump is supported there'
    >>> standby_note({}, "pg_dump")
    ''
    """
    if not role:
        return ""
    risk = f"; {role['conflict_risk']} (set hot_standby_feedback = on)" if role.get("conflict_risk") else ""
    allowed = "supported there" if STANDBY_ALLOWED.get(method, False) else "NOT taken from a standby"
    return f"; taken from a standby (primary {role.get('primary') or 'unknown'}): {method} is {allowed}{risk}"
