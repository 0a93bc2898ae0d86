"""What an approval gate asks about, per kind: the items (from the preview when there is one)
or the reason nothing needs asking."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.plan import ACTIONS, human_bytes

# Emergency form actions -> the action names of the areas (for lock/rollback texts).
EMERGENCY_ACTIONS = {"vacuum_analyze": "postgres.vacuum_analyze", "reindex": "postgres.reindex",
                     "vacuum_full": "postgres.vacuum_full", "redis_memory_purge": "redis.memory_purge",
                     "redis_bgrewriteaof": "redis.bgrewriteaof", "restore_test": "backup.restore_test"}
Items = tuple[list[dict[str, Any]], str | None]


def _base(action: str, target: str, objects: list[str]) -> dict[str, Any]:
    info = ACTIONS.get(action)
    return {"action": action, "target": target, "objects": objects,
            "lock": info.lock if info else None, "rollback": info.rollback if info else None}


def _with_preview(item: dict[str, Any], plan: list[dict[str, Any]]) -> dict[str, Any]:
    for p in plan:
        if p["action"] == item["action"] and p["target"] == item["target"]:
            return {**item, "estimate_s": p["estimate_s"], "estimate_basis": p["estimate_basis"], "risk": p["risk"],
                    "size": human_bytes(int(p.get("size_bytes") or 0)), "preview": True}
    return {**item, "risk": "no preview of this window: size and duration not estimated"}


def vacuum_full(cfg: MaintenanceConfig, plan: list[dict[str, Any]]) -> Items:
    items = [_with_preview(_base("postgres.vacuum_full", t.name, list(t.vacuum_full_tables)), plan)
             for t in cfg.targets.postgres if t.vacuum_full_tables]
    return items, None if items else "nothing to approve: no target lists vacuum_full_tables"


def retention_delete(cfg: MaintenanceConfig) -> Items:
    if not cfg.backups.delete_expired:
        return [], "nothing to approve: backup.expire is a dry run (backups.delete_expired is false)"
    items = [{**_base("backup.expire", t.name, ["expired backups"]),
              "lock": "none", "rollback": "none: deleted backups are gone (the newest good ones are always kept)"}
             for t in cfg.targets.postgres]
    return items, None if items else "nothing to approve: no postgres target"


def emergency(cfg: MaintenanceConfig, request: dict[str, Any] | None) -> Items:
    """The emergency run's item when its validation said it needs an approval (``approval``: why)."""
    if not request:
        return [], "nothing to approve: no validated request"
    if request.get("dry_run", True):
        return [], "not required: a dry run changes nothing"
    why = request.get("approval")
    if not why:
        if request.get("severity") == "critical":
            return [], "not required: critical emergency runs never wait (marked for post-hoc review)"
        if cfg.emergency.mode == "notice":
            return [], "not required: emergency.mode is notice"
        return [], "not required: approvals.required_for does not list emergency_non_critical"
    name = str(request.get("check_set") or request.get("action"))
    action = EMERGENCY_ACTIONS.get(name, f"emergency.{name}")
    item = {**_base(action, str(request["target"]), list(request.get("objects") or [])),
            "risk": f"needs an approval: {why}; {request.get('severity')}; reason: {request.get('reason')}; "
                    f"ticket {request.get('ticket')}"}
    return [item], None
