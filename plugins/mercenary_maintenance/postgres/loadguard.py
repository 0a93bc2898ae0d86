"""Load guard ("during low-traffic periods"): a heavy action runs only when the target is quiet.

Before each heavy statement: non-idle client sessions other than ours (cluster-wide), the
longest running statement and the worst replica replay lag, against ``postgres.load_guard``.
Actions that hold ACCESS EXCLUSIVE for their whole run (VACUUM FULL, plain REINDEX) also need the
table itself quiet: its read/write counters (``pg_stat_user_tables`` seq_scan + idx_scan +
n_tup_ins/upd/del) over ``exclusive_sample_seconds`` plus the other sessions seen holding a lock on
it (``pg_locks``, polled every 0.25 s), at most ``exclusive_max_ops_per_sec`` (0: idle). The sample
is long enough for the counters to arrive: from PostgreSQL 15 a backend flushes its table counters
at most once a second while busy and only 10 s (``PGSTAT_IDLE_INTERVAL``) after it went idle, so
the default sample is 11 s; the lock polls see a short transaction at once. A partitioned table is
guarded leaf by leaf (the parent has no counters of its own): the actions expand it. When busy the guard re-checks every
``recheck_seconds`` for up to ``wait_seconds`` (never past the window), then the caller skips the
action with a ``postgres.load_guard`` warning carrying the figures. An emergency critical request
may override the guard (``Step.load_guard_override``); the override and the figures are recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Finding
from mercenary_maintenance.pg.lock import yield_to_backup
from mercenary_maintenance.pg.session import APP_PREFIX
from mercenary_maintenance.postgres.fit import online_hint
from mercenary_maintenance.postgres.rules import plain, redact
from mercenary_maintenance.runner import mask
from mercenary_maintenance.skips import (
    PG_LOAD_GUARD,
    GuardResult,
    overridden_finding,
    skipped_finding,
    wait_until_quiet,
)

if TYPE_CHECKING:
    from mercenary_maintenance.config import PostgresLoadGuard
    from mercenary_maintenance.pg.session import Session
    from mercenary_maintenance.steps import Step


# Polls of pg_locks (and the counters) during a table's sample.
SAMPLE_POLL_S = 0.25


@dataclass(frozen=True)
class TableActivity:
    relation: str
    ops_per_sec: float
    sessions: list[int]
    interval_s: float

    @property
    def rate(self) -> float:
        """Reads/writes per second, each other session holding a lock on it counted as one more."""
        return self.ops_per_sec + len(self.sessions) / self.interval_s


def load_problems(figures: dict[str, Any], limits: PostgresLoadGuard) -> list[str]:
    """Why the target is too busy now (empty: quiet enough). Pure.

    >>> from mercenary_maintenance.config import PostgresLoadGuard
    >>> load_problems({"active_sessions": 31, "replay_lag_s": None}, PostgresLoadGuard(max_active_sessions=5))
    ['31 active sessions > max_active_sessions 5']
    >>> load_problems({"active_sessions": 2, "replay_lag_s": 45.0}, PostgresLoadGuard())
    ['replica replay lag 45.0 s > max_replication_lag_seconds 30']
    """
    problems = []
    if figures["active_sessions"] > limits.max_active_sessions:
        problems.append(f"{figures['active_sessions']} active sessions > max_active_sessions "
                        f"{limits.max_active_sessions}")
    lag = figures.get("replay_lag_s")
    if lag is not None and lag > limits.max_replication_lag_seconds:
        problems.append(f"replica replay lag {lag:.1f} s > max_replication_lag_seconds "
                        f"{limits.max_replication_lag_seconds:g}")
    return problems


def table_problem(activity: TableActivity, limit: float) -> str | None:
    """Why an ACCESS EXCLUSIVE action must not run on this table now (``None``: it is quiet).

    >>> table_problem(TableActivity("public.t", 120.0, [11, 12], 1.0), 0)
    'public.t is in use: 122.0 ops/s (120.0 reads/writes/s, 2 session(s) holding a lock) > exclusive_max_ops_per_sec 0'
    >>> table_problem(TableActivity("public.t", 0.0, [], 1.0), 0) is None
    True
    """
    if activity.rate <= limit:
        return None
    return (f"{activity.relation} is in use: {activity.rate:.1f} ops/s ({activity.ops_per_sec:.1f} reads/writes/s, "
            f"{len(activity.sessions)} session(s) holding a lock) > exclusive_max_ops_per_sec {limit:g}")


def measure(s: Session) -> dict[str, Any]:
    [row] = s.rows("load_activity", {"ours": f"{APP_PREFIX}:%"})
    figures = {k: plain(v) for k, v in row.items()}
    figures["longest_query"] = redact(mask(figures.get("longest_query") or "")) or None
    return figures


def sample_table(s: Session, relation: str, relid: int, interval_s: float, limit: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 poll_s: float = SAMPLE_POLL_S) -> TableActivity:
    """The table's activity over ``interval_s``: its counters at the start and the end, and the
    sessions holding a lock on it, polled every ``poll_s`` (a short transaction shows there even when
    its counters are not flushed yet). Ends early once the evidence, spread over the whole interval,
    already exceeds ``limit``: a busy table is known in a poll, a quiet one takes the full interval.
    """
    first = s.rows("table_activity", {"relid": relid})
    pids = {int(p) for r in first for p in (r["pids"] or [])}
    started, last = clock(), first
    while (elapsed := clock() - started) < interval_s:
        sleep(min(poll_s, interval_s - elapsed))
        last = s.rows("table_activity", {"relid": relid}) or last
        pids |= {int(p) for r in last for p in (r["pids"] or [])}
        delta = max(0, int(last[0]["ops"]) - int(first[0]["ops"])) if first and last else 0
        if (delta + len(pids)) / interval_s > limit:
            break
    if not first or not last:  # not a plain table (no statistics): only the lock holders count
        return TableActivity(relation, 0.0, sorted(pids), interval_s)
    delta = max(0, int(last[0]["ops"]) - int(first[0]["ops"]))
    return TableActivity(relation, delta / interval_s, sorted(pids), interval_s)


def check(
    step: Step,
    s: Session,
    *,
    relation: str | None = None,
    relid: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GuardResult:
    """Wait (bounded) until the target — and for ACCESS EXCLUSIVE actions (``relid`` given) the
    table — is quiet. ``ok`` False: the caller skips and records :func:`finding`. First, at this
    relation boundary, a backup waiting for the target's lock goes first (:func:`pg.lock.yield_to_backup`)."""

    yield_to_backup(s.conn, step.statement_timeout_s())
    limits = step.cfg.postgres.load_guard

    def sample() -> tuple[dict[str, Any], list[str]]:
        figures = measure(s)
        problems = load_problems(figures, limits)
        if relid is not None and relation is not None:
            activity = sample_table(s, relation, relid, limits.exclusive_sample_seconds,
                                    limits.exclusive_max_ops_per_sec, sleep, clock)
            figures["table"] = {"relation": relation, "ops_per_sec": round(activity.ops_per_sec, 2),
                                "sessions": activity.sessions[:20], "sample_s": activity.interval_s}
            problem = table_problem(activity, limits.exclusive_max_ops_per_sec)
            if problem:
                problems.append(problem)
                figures["table"]["hint"] = online_hint(s, relation)
        return figures, problems

    return wait_until_quiet(step, sample, wait_s=limits.wait_seconds, recheck_s=limits.recheck_seconds,
                            clock=clock, sleep=sleep)


def finding(result: GuardResult, action: str, target: str) -> Finding:
    """The report's ``postgres.load_guard`` warning: skipped (or overridden), with the figures."""
    hint = (result.figures.get("table") or {}).get("hint")
    if result.overridden:
        return overridden_finding(PG_LOAD_GUARD, result, action, target, result.figures.get("active_sessions"))
    message = f"target busy after waiting {result.waited_s:.0f} s: {'; '.join(result.problems)}"
    if hint:
        message += f". {hint}"
    return skipped_finding(action, target, "load", message, waited_s=result.waited_s, check=PG_LOAD_GUARD,
                           figures=result.figures, problems=result.problems)
