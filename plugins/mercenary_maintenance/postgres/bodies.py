"""Bodies of the postgres tasks (the task declarations are data) and of the actions an operator may
run on demand (``wiring/registry.py``); the checks they run are :mod:`.checks`' table, the
statements' safety (lock attempts, load guard, fit, throttling) :mod:`.actions`.

Maintenance is followed by measuring again what it was meant to fix, so the report's finding
carries ``resolved_by`` and the run's status is that after maintenance.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from mercenary_maintenance.postgres import actions, checks
from mercenary_maintenance.postgres.actions import REINDEX, VACUUM_ANALYZE, VACUUM_FULL

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def check_daily(step: Step, target: str) -> None:
    """Blocked locks, long transactions, connections, wraparound, sequences, replication, checksum failures."""
    checks.run_checks(step, target, checks.DAILY_CHECKS, "daily checks")


def check_weekly(step: Step, target: str) -> None:
    """Dead tuples per table and long-running queries."""
    checks.run_checks(step, target, checks.WEEKLY_CHECKS, "weekly checks")


def check_monthly(step: Step, target: str) -> None:
    """Slow queries, cache hit ratio, unused/invalid indexes, bloat, role audit."""
    checks.run_checks(step, target, checks.MONTHLY_CHECKS, "monthly checks")


def vacuum_analyze(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """``VACUUM (ANALYZE)`` of the given tables, or of those above the dead-tuple threshold."""
    from psycopg import sql  # heavy: not at DAG parse time

    actions.per_relation(
        step,
        target,
        VACUUM_ANALYZE,
        objects=objects,
        select=actions.select_dead_tuple_tables,
        expand=actions.tables_only,
        build=lambda r: sql.SQL("VACUUM (ANALYZE) {}").format(r.ident()),
        dry_run=dry_run,
        nothing="no table above the dead-tuple threshold; nothing to vacuum",
    )


def weekly_vacuum(step: Step, target: str) -> None:
    """VACUUM (ANALYZE) of tables above the dead-tuple threshold, then ANALYZE of stale statistics; dead tuples
    are measured again after a VACUUM (``resolved_by``)."""
    vacuum_analyze(step, target)
    actions.analyze(step, target)
    checks.remeasure_dead_tuples(step, target)


def reindex(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """``REINDEX INDEX CONCURRENTLY`` of the given indexes (or tables' indexes), or of bloated ones;
    invalid leftovers of earlier runs (``*_ccnew``, ``*_ccold``) are dropped first."""
    from psycopg import sql  # heavy: not at DAG parse time

    with actions.setup_outcome(step, REINDEX, target), \
            actions.maintenance_session(step, target, purpose=REINDEX, take_lock=not dry_run) as s:
        if dry_run:
            actions.preview_leftovers(step, s, target)
        else:
            actions.report_leftovers(step, target, actions.drop_leftovers(step, s), "leftovers of earlier runs")
        chosen = (actions.select_bloated_indexes(s, step) if objects is None
                  else [r for name in objects for r in actions.indexes_of(s, actions.resolve(s, name))])
        if not chosen:
            with step.action(REINDEX, target, why="selection") as act:
                act.skipped("no index above the bloat threshold; nothing to rebuild")
            return
        with ExitStack() as stack:
            watch_conn = None if dry_run else stack.enter_context(actions.watch_connection(step, target))
            for rel in chosen:
                with step.action(REINDEX, target, why=rel.reason, relation=rel.label, dry_run=dry_run) as act:
                    act.details["relation"] = rel.label
                    statement = sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(rel.ident())
                    if dry_run:
                        act.dry_run(f"would run {statement.as_string(s.conn)}", reason=rel.reason)
                        continue
                    actions.reindex_one(step, s, watch_conn, act, rel, statement)


def monthly_reindex(step: Step, target: str) -> None:
    """REINDEX INDEX CONCURRENTLY of indexes whose estimated bloat crosses the threshold (invalid leftovers of
    earlier rebuilds dropped first); bloat and invalid indexes are measured again after it (``resolved_by``)."""
    reindex(step, target)
    checks.remeasure_bloat(step, target)


def vacuum_full(step: Step, target: str, objects: Sequence[str] | None = None, dry_run: bool = False) -> None:
    """VACUUM (FULL, ANALYZE) of ``objects`` or, by default, the tables listed in the target's
    vacuum_full_tables (opt-in); a partitioned table partition by partition. Each rewrite must fit
    (estimate ≤ time left, free space ≥ table + indexes + margin) or is skipped with a warning."""
    from psycopg import sql  # heavy: not at DAG parse time

    names = list(objects) if objects is not None else list(step.cfg.postgres_target(target).vacuum_full_tables)
    if not names:
        with step.action(VACUUM_FULL, target, why="opt-in") as act:
            act.skipped("opt-in: no table listed in this target's vacuum_full_tables")
        return
    actions.per_relation(
        step,
        target,
        VACUUM_FULL,
        objects=names,
        select=lambda s, st: [],
        expand=actions.leaf_tables,
        build=lambda r: sql.SQL("VACUUM (FULL, ANALYZE) {}").format(r.ident()),
        dry_run=dry_run,
        nothing="nothing to do",
        plan=actions.ACCESS_EXCLUSIVE,
        fits=actions.vacuum_full_fits,
    )
