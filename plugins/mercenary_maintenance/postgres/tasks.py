"""Tasks of the postgres area, declared as data, and the task groups the DAG files add.

Each group lists the configured targets at run time and maps the area's tasks over them, so
adding a database needs no DAG re-parse. Heavy actions run in ``HEAVY_POOL`` and take the
per-target advisory lock (``pg.lock``) on the database.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule

from mercenary_maintenance.postgres import actions, bodies
from mercenary_maintenance.wiring.dagkit import Gate, Group, TaskSpec

CHECK_DAILY = TaskSpec("check_daily", bodies.check_daily, over="postgres")
CHECK_WEEKLY = TaskSpec("check_weekly", bodies.check_weekly, over="postgres")
VACUUM_ANALYZE = TaskSpec("vacuum_analyze", bodies.weekly_vacuum, over="postgres", heavy=True,
                          trigger_rule=TriggerRule.ALL_DONE, guarded_action=actions.VACUUM_ANALYZE)
CHECK_MONTHLY = TaskSpec("check_monthly", bodies.check_monthly, over="postgres")
REINDEX = TaskSpec("reindex_indexes", bodies.monthly_reindex, over="postgres", heavy=True,
                   trigger_rule=TriggerRule.ALL_DONE, guarded_action=actions.REINDEX)
# Runs only when its approval gate succeeded (all_success): approved, or no approval required.
VACUUM_FULL = TaskSpec("vacuum_full_tables", bodies.vacuum_full, over="postgres", heavy=True,
                       guarded_action=actions.VACUUM_FULL)


DAILY_GROUP = Group("postgres", CHECK_DAILY)
# Checks first, so the report's dead-tuple figures are those before the VACUUM.
WEEKLY_GROUP = Group("postgres", (CHECK_WEEKLY, VACUUM_ANALYZE))
# REINDEX and VACUUM FULL serialize on the target's lock; checks see the state before them.
# Reject, timeout or a failed gate skip VACUUM FULL (ACCESS EXCLUSIVE).
MONTHLY_GROUP = Group("postgres", (CHECK_MONTHLY, REINDEX),
                (CHECK_MONTHLY, Gate("vacuum_full", trigger_rule=TriggerRule.ALL_DONE), VACUUM_FULL))
