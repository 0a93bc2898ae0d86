"""What one area needs from others, as typed references to the areas' own functions — no names
resolved at run time:

* the actions and check sets an operator may run on demand (the emergency DAG; the trigger
  form's enums come from them);
* every area's rules on the backup bucket (``LIFECYCLE_RULES``), for both writers of its one
  lifecycle document;
* the areas' read-only probes the preview plans from (``PROBES``);
* the service probe of each target kind that ``alert_evaluation`` runs every 5 minutes
  (``SERVICE_PROBES``, defined in :mod:`.service_probes` so that its task process stays light).

It sits above the areas (like the DAG files): an area receives it from its task declarations
(``<area>/tasks.py``) and never imports another area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mercenary_maintenance.backups import bodies as backups
from mercenary_maintenance.backups import lifecycle as backups_lifecycle
from mercenary_maintenance.bucket_lifecycle import RuleSource
from mercenary_maintenance.logs import retention as logs_retention
from mercenary_maintenance.plan import Probes
from mercenary_maintenance.postgres import bodies as postgres
from mercenary_maintenance.postgres import preview as postgres_preview
from mercenary_maintenance.redis import bodies as redis
from mercenary_maintenance.redis import preview as redis_preview
from mercenary_maintenance.wiring import service_probes


@dataclass(frozen=True)
class Route:
    """``run(step, target, [objects=…], [dry_run=…])`` on a target of ``kind``."""

    run: Callable[..., Any]
    kind: Literal["postgres", "redis"]
    takes_objects: bool = False
    changes: bool = True  # False for read-only check sets: dry_run does not apply
    # An exclusive-lock action (ACCESS EXCLUSIVE): opt-in objects only (the target's
    # vacuum_full_tables) and, even in a critical emergency run, an approval (approvals.required_for).
    exclusive: bool = False


ACTIONS: dict[str, Route] = {
    "vacuum_analyze": Route(postgres.vacuum_analyze, "postgres", takes_objects=True),
    "reindex": Route(postgres.reindex, "postgres", takes_objects=True),
    "vacuum_full": Route(postgres.vacuum_full, "postgres", takes_objects=True, exclusive=True),
    "redis_memory_purge": Route(redis.memory_purge, "redis"),
    "redis_bgrewriteaof": Route(redis.bgrewriteaof, "redis"),
    "backup_full": Route(backups.backup_full, "postgres"),
    "restore_test": Route(backups.restore_test, "postgres"),
}
CHECK_SETS: dict[str, Route] = {
    "postgres_daily": Route(postgres.check_daily, "postgres", changes=False),
    "postgres_weekly": Route(postgres.check_weekly, "postgres", changes=False),
    "postgres_monthly": Route(postgres.check_monthly, "postgres", changes=False),
    "redis_daily": Route(redis.check_redis, "redis", changes=False),
}
# The rules each area keeps on the backup bucket, in this order. backup.lifecycle and logs.lifecycle
# both write the whole document from all of them (stale mercenary-* rules dropped, foreign kept).
LIFECYCLE_RULES: tuple[RuleSource, ...] = (backups_lifecycle.bucket_rules, logs_retention.bucket_rules)
# What the preview learns of each target: each area's own look at what its actions would do.
PROBES = Probes(postgres=postgres_preview.probe, redis=redis_preview.probe, log_bytes=logs_retention.local_bytes)
# alert_evaluation's service probes live in their own light module (its task process imports only them).
SERVICE_PROBES = service_probes.SERVICE_PROBES
