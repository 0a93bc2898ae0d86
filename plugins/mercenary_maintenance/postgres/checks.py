"""Every PostgreSQL check, declared once, and how they run on a target (the task bodies: :mod:`.bodies`).

:data:`CHECKS` is the table: one :class:`PgCheck` per check — its name, its SQL file
(``include/sql/postgres/<sql>.sql``), its pure rule (:mod:`.rules`), its threshold key
(``thresholds.<threshold>``) and its cadence. The cadence sets (:data:`DAILY_CHECKS`, …), the name
constant :data:`NAMES`, the task that runs each check and the check table of ``docs/checks.md``
are all derived from it (``tests/unit/test_catalogue.py`` fails when the docs are stale).

:func:`run_checks` opens one session per target (autocommit, ``lock_timeout`` and a ``statement_timeout``),
run each check through ``step.check`` (an error becomes an ``unknown`` finding and fails the task
after recording), and never change the server. When the target cannot be reached, every check of
the cadence is recorded ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from mercenary_maintenance.findings import ActionStatus, Finding
from mercenary_maintenance.pg.session import Session, open_session
from mercenary_maintenance.postgres import rules

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig
    from mercenary_maintenance.steps import Step

Cadence = Literal["daily", "weekly", "monthly"]
CADENCES: tuple[Cadence, ...] = ("daily", "weekly", "monthly")
# The task (in postgres/tasks.py) that runs a cadence's checks on every target.
TASK_OF_CADENCE: dict[Cadence, str] = {"daily": "check_daily", "weekly": "check_weekly", "monthly": "check_monthly"}


@dataclass(frozen=True)
class PgCheck:
    """One PostgreSQL check: ``rule(name, target, rows, threshold, *extra(cfg))`` over the rows of
    ``sql`` (bound to ``params(cfg)``), or over what ``fetch`` returns when one query is not enough."""

    name: str
    sql: str
    rule: Callable[..., Finding]
    threshold: str
    cadence: Cadence
    params: Callable[[MaintenanceConfig], dict[str, Any]] | None = None
    extra: Callable[[MaintenanceConfig], tuple[Any, ...]] | None = None
    fetch: Callable[[Session, MaintenanceConfig], Any] | None = None

    def measure(self, session: Session, cfg: MaintenanceConfig, target: str) -> Finding:
        if self.fetch is not None:
            rows = self.fetch(session, cfg)
        else:
            rows = session.rows(self.sql, self.params(cfg) if self.params else None)
        threshold = getattr(cfg.thresholds, self.threshold).as_threshold()
        return self.rule(self.name, target, rows, threshold, *(self.extra(cfg) if self.extra else ()))


def _slow_queries(s: Session, cfg: MaintenanceConfig) -> list[dict[str, Any]] | None:
    """pg_stat_statements' rows, from the schema the extension lives in; None when it is absent."""
    from psycopg import sql  # heavy: not at DAG parse time

    ext = s.rows("slow_queries_extension")
    if not ext:
        return None
    return s.rows("slow_queries", {"min_calls": cfg.postgres.slow_query_min_calls},
                  schema=sql.Identifier(ext[0]["schema"]))


CHECKS: tuple[PgCheck, ...] = (
    PgCheck("postgres.blocked_locks", "blocked_locks", rules.blocked_locks, "blocked_locks", "daily"),
    PgCheck("postgres.long_running_transactions", "long_running_transactions", rules.long_running_transactions,
            "long_transactions", "daily", params=lambda c: {"seconds": float(c.postgres.long_transaction_seconds)},
            extra=lambda c: (float(c.postgres.long_transaction_seconds),)),
    PgCheck("postgres.connections", "connections", rules.connections, "connections_percent", "daily"),
    PgCheck("postgres.txid_wraparound", "txid_wraparound", rules.txid_wraparound, "txid_wraparound_age", "daily"),
    PgCheck("postgres.sequence_exhaustion", "sequence_exhaustion", rules.sequence_exhaustion,
            "sequence_used_percent", "daily"),
    PgCheck("postgres.replication", "replication", rules.replication, "replication_lag_bytes", "daily"),
    PgCheck("postgres.checksum_failures", "checksum_failures", rules.checksum_failures, "checksum_failures", "daily"),
    PgCheck("postgres.dead_tuples", "dead_tuples", rules.dead_tuples, "dead_tuple_percent", "weekly",
            extra=lambda c: (c.postgres.min_dead_tuples,)),
    PgCheck("postgres.long_running_queries", "long_running_queries", rules.long_running_queries, "long_queries",
            "weekly", params=lambda c: {"seconds": float(c.postgres.long_query_seconds)},
            extra=lambda c: (float(c.postgres.long_query_seconds),)),
    PgCheck("postgres.slow_queries", "slow_queries", rules.slow_queries, "slow_query_mean_ms", "monthly",
            fetch=_slow_queries),
    PgCheck("postgres.cache_hit_ratio", "cache_hit_ratio", rules.cache_hit_ratio, "cache_hit_ratio_percent",
            "monthly"),
    PgCheck("postgres.unused_indexes", "unused_indexes", rules.unused_indexes, "unused_indexes", "monthly",
            params=lambda c: {"min_bytes": c.postgres.unused_index_min_bytes}),
    PgCheck("postgres.invalid_indexes", "invalid_indexes", rules.invalid_indexes, "invalid_indexes", "monthly"),
    PgCheck("postgres.bloat", "bloat", rules.bloat, "bloat_percent", "monthly",
            params=lambda c: {"min_bytes": c.postgres.bloat_min_bytes}),
    PgCheck("postgres.role_audit", "role_audit", rules.role_audit, "role_audit_flagged", "monthly",
            extra=lambda c: (c.postgres.role_audit_allow,)),
)
BY_NAME: dict[str, PgCheck] = {c.name: c for c in CHECKS}
NAMES: frozenset[str] = frozenset(BY_NAME)
DAILY_CHECKS: tuple[PgCheck, ...] = tuple(c for c in CHECKS if c.cadence == "daily")
WEEKLY_CHECKS: tuple[PgCheck, ...] = tuple(c for c in CHECKS if c.cadence == "weekly")
MONTHLY_CHECKS: tuple[PgCheck, ...] = tuple(c for c in CHECKS if c.cadence == "monthly")


def _raise(exc: Exception) -> Callable[[], Finding]:
    def fail() -> Finding:
        raise exc

    return fail


def run_checks(step: Step, target: str, checks: Iterable[PgCheck], purpose: str) -> None:
    """Run ``checks`` on one target; an unreachable target makes each of them ``unknown``."""
    cfg = step.cfg
    selected: Sequence[PgCheck] = tuple(checks)
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
            for check in selected:
                step.check(check.name, target, _raise(exc))
            return
        for check in selected:
            step.check(check.name, target, partial(check.measure, session, cfg, target))


# Re-measured after the action of the same run that should have fixed it (the report's ``resolved_by``).
AFTER_ACTION = "after_action"


def remeasure(step: Step, target: str, checks: Iterable[PgCheck], action: str) -> None:
    """Measure ``checks`` again when ``action`` was done on ``target`` in this step.

    The new findings carry ``details.after_action``; the report builder turns them into the
    ``resolved_by`` of the findings the run's checks made before the action, and the run's
    status into the state after maintenance (``report.resolution``).
    """
    if not any(a.action == action and a.target == target and a.status is ActionStatus.DONE for a in step.actions):
        return
    first = len(step.findings)
    run_checks(step, target, checks, f"re-measure after {action}")
    for finding in step.findings[first:]:
        finding.details[AFTER_ACTION] = action


def remeasure_dead_tuples(step: Step, target: str) -> None:
    remeasure(step, target, [BY_NAME["postgres.dead_tuples"]], "postgres.vacuum_analyze")


def remeasure_bloat(step: Step, target: str) -> None:
    """Bloat, and the invalid indexes the REINDEX dropped (leftovers of earlier runs), measured again."""
    remeasure(step, target, [BY_NAME["postgres.bloat"], BY_NAME["postgres.invalid_indexes"]], "postgres.reindex")
