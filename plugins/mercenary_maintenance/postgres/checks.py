"""Fetch rows for the PostgreSQL checks and record their findings into a :class:`Step`.

``run_daily``, ``run_weekly`` and ``run_monthly`` are the interface the cadence DAGs and the
emergency DAG share. They open one read-only-in-practice session per target (autocommit, with
``lock_timeout`` and a ``statement_timeout``), run each check through ``step.check`` (so an error
becomes an ``unknown`` finding and fails the task after recording), and never change the server.
When the target cannot be reached, every check of the cadence is recorded ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import TYPE_CHECKING

from mercenary_maintenance.findings import Finding
from mercenary_maintenance.pg.session import Session, open_session
from mercenary_maintenance.postgres import rules

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig
    from mercenary_maintenance.steps import Step

CheckFn = Callable[[Session, "MaintenanceConfig", str], Finding]


def blocked_locks(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.blocked_locks(target, s.rows("blocked_locks"), cfg.thresholds.blocked_locks.as_threshold())


def long_running_transactions(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    limit = float(cfg.postgres.long_transaction_seconds)
    rows = s.rows("long_running_transactions", {"seconds": limit})
    return rules.long_running_transactions(target, rows, cfg.thresholds.long_transactions.as_threshold(), limit)


def connections(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.connections(target, s.rows("connections"), cfg.thresholds.connections_percent.as_threshold())


def txid_wraparound(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.txid_wraparound(target, s.rows("txid_wraparound"), cfg.thresholds.txid_wraparound_age.as_threshold())


def sequence_exhaustion(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    rows = s.rows("sequence_exhaustion")
    return rules.sequence_exhaustion(target, rows, cfg.thresholds.sequence_used_percent.as_threshold())


def replication(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.replication(target, s.rows("replication"), cfg.thresholds.replication_lag_bytes.as_threshold())


def dead_tuples(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.dead_tuples(
        target, s.rows("dead_tuples"), cfg.thresholds.dead_tuple_percent.as_threshold(), cfg.postgres.min_dead_tuples
    )


def long_running_queries(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    limit = float(cfg.postgres.long_query_seconds)
    rows = s.rows("long_running_queries", {"seconds": limit})
    return rules.long_running_queries(target, rows, cfg.thresholds.long_queries.as_threshold(), limit)


def slow_queries(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    from psycopg import sql

    ext = s.rows("slow_queries_extension")
    rows = None
    if ext:
        rows = s.rows(
            "slow_queries", {"min_calls": cfg.postgres.slow_query_min_calls}, schema=sql.Identifier(ext[0]["schema"])
        )
    return rules.slow_queries(target, rows, cfg.thresholds.slow_query_mean_ms.as_threshold())


def cache_hit_ratio(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.cache_hit_ratio(
        target, s.rows("cache_hit_ratio"), cfg.thresholds.cache_hit_ratio_percent.as_threshold()
    )


def unused_indexes(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    rows = s.rows("unused_indexes", {"min_bytes": cfg.postgres.unused_index_min_bytes})
    return rules.unused_indexes(target, rows, cfg.thresholds.unused_indexes.as_threshold())


def invalid_indexes(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.invalid_indexes(target, s.rows("invalid_indexes"), cfg.thresholds.invalid_indexes.as_threshold())


def bloat(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    rows = s.rows("bloat", {"min_bytes": cfg.postgres.bloat_min_bytes})
    return rules.bloat(target, rows, cfg.thresholds.bloat_percent.as_threshold())


def role_audit(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.role_audit(
        target, s.rows("role_audit"), cfg.thresholds.role_audit_flagged.as_threshold(), cfg.postgres.role_audit_allow
    )


def checksum_failures(s: Session, cfg: MaintenanceConfig, target: str) -> Finding:
    return rules.checksum_failures(target, s.rows("checksum_failures"), cfg.thresholds.checksum_failures.as_threshold())


DAILY: dict[str, CheckFn] = {
    "postgres.blocked_locks": blocked_locks,
    "postgres.long_running_transactions": long_running_transactions,
    "postgres.connections": connections,
    "postgres.txid_wraparound": txid_wraparound,
    "postgres.sequence_exhaustion": sequence_exhaustion,
    "postgres.replication": replication,
    "postgres.checksum_failures": checksum_failures,
}
WEEKLY: dict[str, CheckFn] = {
    "postgres.dead_tuples": dead_tuples,
    "postgres.long_running_queries": long_running_queries,
}
MONTHLY: dict[str, CheckFn] = {
    "postgres.slow_queries": slow_queries,
    "postgres.cache_hit_ratio": cache_hit_ratio,
    "postgres.unused_indexes": unused_indexes,
    "postgres.invalid_indexes": invalid_indexes,
    "postgres.bloat": bloat,
    "postgres.role_audit": role_audit,
}


def _raise(exc: Exception) -> Callable[[], Finding]:
    def fail() -> Finding:
        raise exc

    return fail


def run_checks(step: Step, target: str, checks: dict[str, CheckFn], purpose: str) -> None:
    """Run ``checks`` on one target; an unreachable target makes each of them ``unknown``."""
    cfg = step.cfg
    with ExitStack() as stack:
        try:
            session = stack.enter_context(
                open_session(
                    cfg.postgres_target(target),
                    purpose=purpose,
                    lock_timeout_s=cfg.postgres.lock_timeout_seconds,
                    statement_timeout_s=min(cfg.postgres.check_statement_timeout_seconds, step.statement_timeout_s()),
                    budget=step.statement_timeout_s,
                    timeouts=cfg.timeouts,
                )
            )
        except Exception as exc:
            for name in checks:
                step.check(name, target, _raise(exc))
            return
        for name, fn in checks.items():
            step.check(name, target, partial(fn, session, cfg, target))


def run_daily(step: Step, target: str) -> None:
    """Blocked locks, long transactions, connections, wraparound, sequences, replication, checksum failures."""
    run_checks(step, target, DAILY, "daily checks")


def run_weekly(step: Step, target: str) -> None:
    """Dead tuples per table and long-running queries."""
    run_checks(step, target, WEEKLY, "weekly checks")


def run_monthly(step: Step, target: str) -> None:
    """Slow queries, cache hit ratio, unused/invalid indexes, bloat, role audit."""
    run_checks(step, target, MONTHLY, "monthly checks")


# Re-measured after the action of the same run that should have fixed it (DESIGN §6 resolved_by).
AFTER_ACTION = "after_action"


def remeasure(step: Step, target: str, checks: dict[str, CheckFn], action: str) -> None:
    """Measure ``checks`` again when ``action`` was done on ``target`` in this step.

    The new findings carry ``details.after_action``; the report builder turns them into the
    ``resolved_by`` of the findings the run's checks made before the action, and the run's
    status into the state after maintenance (``report.resolution``).
    """
    from mercenary_maintenance.findings import ActionStatus

    if not any(a.action == action and a.target == target and a.status is ActionStatus.DONE for a in step.actions):
        return
    first = len(step.findings)
    run_checks(step, target, checks, f"re-measure after {action}")
    for finding in step.findings[first:]:
        finding.details[AFTER_ACTION] = action


def remeasure_dead_tuples(step: Step, target: str) -> None:
    remeasure(step, target, {"postgres.dead_tuples": dead_tuples}, "postgres.vacuum_analyze")


def remeasure_bloat(step: Step, target: str) -> None:
    """Bloat, and the invalid indexes the REINDEX dropped (leftovers of earlier runs), measured again."""
    remeasure(step, target, {"postgres.bloat": bloat, "postgres.invalid_indexes": invalid_indexes}, "postgres.reindex")
