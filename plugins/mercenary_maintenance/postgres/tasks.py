"""Tasks of the postgres area, declared as data, and the task groups the DAG files add.

Each group lists the configured targets at run time and maps the area's tasks over them, so
adding a database needs no DAG re-parse. Heavy actions run in ``HEAVY_POOL`` and take the
per-target advisory lock (``pg.lock``) on the database.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task_group

from mercenary_maintenance.dagkit import TaskSpec, targets
from mercenary_maintenance.postgres import actions, bodies, checks

CHECK_DAILY = TaskSpec("check_daily", checks.run_daily, over="postgres",
                       doc="Blocked locks, long transactions, connections, wraparound, sequences, replication.")
CHECK_WEEKLY = TaskSpec("check_weekly", checks.run_weekly, over="postgres",
                        doc="Dead tuples per table and long-running queries.")
VACUUM_ANALYZE = TaskSpec("vacuum_analyze", bodies.weekly_vacuum, over="postgres", heavy=True,
                          trigger_rule=TriggerRule.ALL_DONE,
                          doc="VACUUM (ANALYZE) of tables above the dead-tuple threshold, then ANALYZE of stale "
                              "statistics; dead tuples are measured again after a VACUUM (``resolved_by``).")
CHECK_MONTHLY = TaskSpec("check_monthly", checks.run_monthly, over="postgres",
                         doc="Slow queries, cache hit ratio, unused/invalid indexes, bloat, role audit.")
REINDEX = TaskSpec("reindex_indexes", bodies.monthly_reindex, over="postgres", heavy=True,
                   trigger_rule=TriggerRule.ALL_DONE,
                   doc="REINDEX INDEX CONCURRENTLY of indexes whose estimated bloat crosses the threshold; "
                       "bloat is measured again after a REINDEX (``resolved_by``).")
# Runs only when its approval gate succeeded (all_success): approved, or no approval required.
VACUUM_FULL = TaskSpec("vacuum_full_tables", actions.vacuum_full, over="postgres", heavy=True,
                       doc="VACUUM (FULL, ANALYZE) of the tables listed in the target's vacuum_full_tables (opt-in).")


def daily() -> Any:
    @task_group(group_id="postgres")
    def postgres() -> None:
        CHECK_DAILY.expand(targets("postgres"))

    return postgres()


def weekly() -> Any:
    @task_group(group_id="postgres")
    def postgres() -> None:
        found = targets("postgres")
        # Checks first, so the report's dead-tuple figures are those before the VACUUM.
        CHECK_WEEKLY.expand(found) >> VACUUM_ANALYZE.expand(found)

    return postgres()


def monthly() -> Any:
    from mercenary_maintenance.approvals.operator import approval_gate

    @task_group(group_id="postgres")
    def postgres() -> None:
        found = targets("postgres")
        checked = CHECK_MONTHLY.expand(found)
        # REINDEX and VACUUM FULL serialize on the target's lock; checks see the state before them.
        checked >> REINDEX.expand(found)
        # Reject, timeout or a failed gate skip VACUUM FULL (ACCESS EXCLUSIVE).
        checked >> approval_gate("vacuum_full", trigger_rule=TriggerRule.ALL_DONE) >> VACUUM_FULL.expand(found)

    return postgres()
