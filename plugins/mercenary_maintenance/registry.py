"""The actions and check sets an operator may run on demand (the emergency DAG), as typed
references to the same functions the scheduled tasks run — no names resolved at run time.

It sits above the areas (like the DAG files): the emergency area receives it from its task
declarations and never imports another area; the trigger form's enums come from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mercenary_maintenance.backups import actions as backups
from mercenary_maintenance.postgres import actions as postgres
from mercenary_maintenance.postgres import checks as postgres_checks
from mercenary_maintenance.redis import actions as redis
from mercenary_maintenance.redis import checks as redis_checks


@dataclass(frozen=True)
class Route:
    """``run(step, target, [objects=…], [dry_run=…])`` on a target of ``kind``."""

    run: Callable[..., Any]
    kind: Literal["postgres", "redis"]
    takes_objects: bool = False
    changes: bool = True  # False for read-only check sets: dry_run does not apply


ACTIONS: dict[str, Route] = {
    "vacuum_analyze": Route(postgres.vacuum_analyze, "postgres", takes_objects=True),
    "reindex": Route(postgres.reindex, "postgres", takes_objects=True),
    "vacuum_full": Route(postgres.vacuum_full, "postgres", takes_objects=True),
    "redis_memory_purge": Route(redis.memory_purge, "redis"),
    "redis_bgrewriteaof": Route(redis.bgrewriteaof, "redis"),
    "backup_full": Route(backups.backup_full, "postgres"),
    "restore_test": Route(backups.restore_test, "postgres"),
}
CHECK_SETS: dict[str, Route] = {
    "postgres_daily": Route(postgres_checks.run_daily, "postgres", changes=False),
    "postgres_weekly": Route(postgres_checks.run_weekly, "postgres", changes=False),
    "postgres_monthly": Route(postgres_checks.run_monthly, "postgres", changes=False),
    "redis_daily": Route(redis_checks.run_daily, "redis", changes=False),
}
