"""Dispatch an emergency request to the SAME functions the scheduled DAGs call.

Nothing here talks to a server: each entry names a function of another area (the
interfaces in ``docs``/the cross-area contract) and the arguments it takes. The function
records its findings and actions into the step, under that area's safety rules
(lock_timeout, statement_timeout, per-target lock, identifiers).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mercenary_maintenance.emergency.request import EmergencyRequest
from mercenary_maintenance.steps import Step

# action (or check set) -> (module, function, takes objects, takes dry_run)
ROUTES: dict[str, tuple[str, str, bool, bool]] = {
    "vacuum_analyze": ("mercenary_maintenance.postgres.actions", "vacuum_analyze", True, True),
    "reindex": ("mercenary_maintenance.postgres.actions", "reindex", True, True),
    "vacuum_full": ("mercenary_maintenance.postgres.actions", "vacuum_full", True, True),
    "redis_memory_purge": ("mercenary_maintenance.redis.actions", "memory_purge", False, True),
    "redis_bgrewriteaof": ("mercenary_maintenance.redis.actions", "bgrewriteaof", False, True),
    "backup_full": ("mercenary_maintenance.backups.actions", "backup_full", False, True),
    "restore_test": ("mercenary_maintenance.backups.actions", "restore_test", False, True),
    "postgres_daily": ("mercenary_maintenance.postgres.checks", "run_daily", False, False),
    "postgres_weekly": ("mercenary_maintenance.postgres.checks", "run_weekly", False, False),
    "postgres_monthly": ("mercenary_maintenance.postgres.checks", "run_monthly", False, False),
    "redis_daily": ("mercenary_maintenance.redis.checks", "run_daily", False, False),
}


class ActionUnavailable(RuntimeError):
    """The implementation an action routes to is not installed in this build."""


def resolve(name: str) -> Callable[..., Any]:
    module_name, func_name, _, _ = ROUTES[name]
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise ActionUnavailable(f"{module_name}.{func_name} is not available: {exc}") from None
    if not callable(func):
        raise ActionUnavailable(f"{module_name}.{func_name} is not callable")
    return func  # type: ignore[no-any-return]


def route_name(request: EmergencyRequest) -> str:
    return request.check_set if request.action == "check_set" and request.check_set else request.action


def execute(step: Step, request: EmergencyRequest) -> None:
    """Run the requested action (or check set) on its target, recording into ``step``."""
    name = route_name(request)
    _, _, takes_objects, takes_dry_run = ROUTES[name]
    func = resolve(name)
    kwargs: dict[str, Any] = {}
    if takes_objects:
        kwargs["objects"] = list(request.objects) or None
    if takes_dry_run:
        kwargs["dry_run"] = request.dry_run
    if request.ignore_load_guard and request.critical:
        step.load_guard_override = f"emergency critical request {request.ticket} ({request.reason})"
    func(step, request.target, **kwargs)
