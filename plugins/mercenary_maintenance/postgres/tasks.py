"""Task builders of the postgres area (called inside a maintenance DAG; they only wire tasks).

Each builder adds a ``postgres`` task group that lists the configured targets at run time and
maps the area's tasks over them, so adding a database needs no DAG re-parse. Heavy actions run
in ``HEAVY_POOL`` and take the per-target advisory lock (``postgres.lock``) on the database.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task, task_group

from mercenary_maintenance.dagkit import HEAVY_POOL, list_targets


@task(task_id="check_daily")
def check_daily(target: str) -> dict[str, Any]:
    """Blocked locks, long transactions, connections, wraparound, sequences, replication."""
    from mercenary_maintenance.postgres import checks
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        checks.run_daily(step, target)

    return execute_step(body)


@task(task_id="check_weekly")
def check_weekly(target: str) -> dict[str, Any]:
    """Dead tuples per table and long-running queries."""
    from mercenary_maintenance.postgres import checks
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        checks.run_weekly(step, target)

    return execute_step(body)


@task(task_id="vacuum_analyze", pool=HEAVY_POOL, trigger_rule=TriggerRule.ALL_DONE)
def vacuum_analyze(target: str) -> dict[str, Any]:
    """VACUUM (ANALYZE) of tables above the dead-tuple threshold, then ANALYZE of stale statistics;
    dead tuples are measured again after a VACUUM (the report's ``resolved_by``)."""
    from mercenary_maintenance.postgres import actions, checks
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        actions.vacuum_analyze(step, target)
        actions.analyze(step, target)
        checks.remeasure_dead_tuples(step, target)

    return execute_step(body)


@task(task_id="check_monthly")
def check_monthly(target: str) -> dict[str, Any]:
    """Slow queries, cache hit ratio, unused/invalid indexes, bloat, role audit."""
    from mercenary_maintenance.postgres import checks
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        checks.run_monthly(step, target)

    return execute_step(body)


@task(task_id="reindex_indexes", pool=HEAVY_POOL, trigger_rule=TriggerRule.ALL_DONE)
def reindex_indexes(target: str) -> dict[str, Any]:
    """REINDEX INDEX CONCURRENTLY of indexes whose estimated bloat crosses the threshold; bloat is
    measured again after a REINDEX (the report's ``resolved_by``)."""
    from mercenary_maintenance.postgres import actions, checks
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        actions.reindex(step, target)
        checks.remeasure_bloat(step, target)

    return execute_step(body)


@task(task_id="vacuum_full_tables", pool=HEAVY_POOL, trigger_rule=TriggerRule.ALL_DONE)
def vacuum_full_tables(target: str) -> dict[str, Any]:
    """VACUUM (FULL, ANALYZE) of the tables listed in the target's vacuum_full_tables (opt-in)."""
    from mercenary_maintenance.postgres import actions
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        actions.vacuum_full(step, target)

    return execute_step(body)


def _targets() -> Any:
    return list_targets.override(task_id="list_postgres_targets")("postgres")


def daily() -> Any:
    @task_group(group_id="postgres")
    def postgres() -> None:
        check_daily.expand(target=_targets())

    return postgres()


def weekly() -> Any:
    @task_group(group_id="postgres")
    def postgres() -> None:
        targets = _targets()
        # Checks first, so the report's dead-tuple figures are those before the VACUUM.
        check_weekly.expand(target=targets) >> vacuum_analyze.expand(target=targets)

    return postgres()


def monthly() -> Any:
    from mercenary_maintenance.approvals.operator import approval_gate

    @task_group(group_id="postgres")
    def postgres() -> None:
        targets = _targets()
        checks = check_monthly.expand(target=targets)
        # REINDEX and VACUUM FULL serialize on the target's lock; checks see the state before them.
        checks >> reindex_indexes.expand(target=targets)
        # VACUUM FULL (ACCESS EXCLUSIVE) runs only when its approval gate succeeded (all_success):
        # approved, or no approval required. Reject, timeout or a failed gate skip it.
        gate = approval_gate("vacuum_full", trigger_rule=TriggerRule.ALL_DONE)
        full = vacuum_full_tables.override(trigger_rule=TriggerRule.ALL_SUCCESS).expand(target=targets)
        checks >> gate >> full

    return postgres()
