"""``redis.persistence``: RDB and AOF status from ``INFO persistence``."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.findings import Finding, Severity, worst
from mercenary_maintenance.redis.info import num

CHECK = "redis.persistence"


def check_persistence(target: str, info: dict[str, Any], now_unix: float, max_save_age_hours: float) -> Finding:
    """Critical when a save or an AOF write failed; warning on a failed rewrite or stale unsaved data."""
    severities = [Severity.OK]
    notes: list[str] = []
    rdb_status = info.get("rdb_last_bgsave_status")
    if rdb_status not in (None, "ok"):
        severities.append(Severity.CRITICAL)
        notes.append(f"last RDB save failed ({rdb_status})")
    aof_enabled = num(info, "aof_enabled", 0) == 1
    if aof_enabled:
        if info.get("aof_last_write_status") not in (None, "ok"):
            severities.append(Severity.CRITICAL)
            notes.append(f"AOF writes failing ({info.get('aof_last_write_status')})")
        if info.get("aof_last_bgrewrite_status") not in (None, "ok"):
            severities.append(Severity.WARNING)
            notes.append(f"last AOF rewrite failed ({info.get('aof_last_bgrewrite_status')})")
    last_save = num(info, "rdb_last_save_time")
    age_h = round((now_unix - last_save) / 3600.0, 2) if last_save else None
    changes = num(info, "rdb_changes_since_last_save", 0) or 0
    if not aof_enabled and changes > 0 and age_h is not None and age_h > max_save_age_hours:
        severities.append(Severity.WARNING)
        notes.append(f"{int(changes)} changes unsaved for {age_h} h and AOF is off")
    severity = worst(severities)
    mode = "AOF on" if aof_enabled else "AOF off"
    summary = f"{mode}, last RDB save {age_h} h ago ({rdb_status})"
    return Finding(
        CHECK, target, severity, "; ".join([*notes, summary]), value=age_h, threshold=max_save_age_hours,
        details={key: info.get(key) for key in (
            "rdb_last_bgsave_status", "rdb_last_save_time", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
            "aof_enabled", "aof_rewrite_in_progress", "aof_last_bgrewrite_status", "aof_last_write_status",
            "aof_rewrites")} | {"hours_since_last_save": age_h},
    )
