"""Short lock attempts: a lock-taking statement never queues long in front of the application.

PostgreSQL grants locks in queue order: while VACUUM FULL waits for its ACCESS EXCLUSIVE lock
behind a long reader, every later query on that table waits behind *it*. So a statement that
takes a lock stronger than a plain read runs with ``lock_timeout = postgres.lock_attempt_ms``
(200 ms): it gives up quickly, the queue drains, and after a jittered pause that grows to
``postgres.lock_retry_pause_max_ms`` it tries again, until the budget is spent (the time left in
the window, ``postgres.lock_budget_seconds``, or ``postgres.lock_timeout_seconds`` outside a
window) — GitLab's ``with_lock_retries``. After each failed attempt the sessions holding a
conflicting lock on the relation are looked up, so the outcome names the blocker.

``lock_timeout`` applies to every lock wait of a statement, also to REINDEX CONCURRENTLY's waits
*after* its index build (WaitForLockers, WaitForOlderSnapshots): under a 200 ms ``lock_timeout``
any transaction older than that cancels a finished build. So :func:`run_concurrent_build` runs
REINDEX CONCURRENTLY under ``lock_timeout`` = the statement's deadline and bounds only its
*initial* lock with short attempts: a watcher on a second connection sees the session wait for a
relation lock before any create-index progress exists (nothing built yet) and cancels it after
``lock_attempt_ms``; the phase waits (``wait_event`` virtualxid / transactionid, with a progress
phase) are left alone and recorded with the sessions they wait for.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.pg import sql as sqlfiles
from mercenary_maintenance.pg.session import millis
from mercenary_maintenance.postgres.rules import plain, redact
from mercenary_maintenance.runner import mask
from mercenary_maintenance.windows import guard

if TYPE_CHECKING:
    from psycopg import sql

    from mercenary_maintenance.pg.session import Session
    from mercenary_maintenance.steps import Step

log = logging.getLogger(__name__)

_ALL = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
        "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
# pg_locks modes that conflict with the mode a statement asks for (PostgreSQL docs, "Table-Level Locks").
CONFLICTS: dict[str, tuple[str, ...]] = {
    "AccessExclusiveLock": _ALL,  # VACUUM FULL; REINDEX (plain) on the index
    "ShareLock": _ALL[2:3] + _ALL[3:4] + _ALL[5:],  # REINDEX (plain) on the table: blocks writes
    "ShareUpdateExclusiveLock": _ALL[3:],  # VACUUM, ANALYZE, REINDEX CONCURRENTLY
}
FIRST_PAUSE_S = 0.05


@dataclass(frozen=True)
class Blocker:
    """A session found holding (or queued ahead for) a conflicting lock after an attempt failed."""

    pid: int
    application: str | None
    state: str | None
    query_start: str | None
    query: str | None
    mode: str | None = None
    relation: str | None = None
    transaction_s: float | None = None
    kind: str = "lock"  # "lock": conflicting relation lock; "snapshot": oldest open transaction

    @classmethod
    def from_row(cls, row: dict[str, Any], kind: str) -> Blocker:
        return cls(pid=int(row["pid"]), application=row.get("application_name") or None, state=row.get("state"),
                   query_start=plain(row.get("query_start")), query=redact(mask(row.get("query") or "")) or None,
                   mode=row.get("mode"), relation=row.get("relation"),
                   transaction_s=plain(row.get("xact_s")), kind=kind)

    def describe(self) -> str:
        """``pid 123 (application psql, idle in transaction, query start …, query "SELECT …")``."""
        what = "oldest open transaction: " if self.kind == "snapshot" else ""
        held = f", holds {self.mode}" if self.mode and self.kind == "lock" else ""
        return (f"{what}pid {self.pid} (application {self.application or '-'}, {self.state or '-'}, "
                f"query start {self.query_start or '-'}{held}, query {self.query or '-'!r})")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class LockAttempts:
    """The outcome of one statement run through short lock attempts."""

    acquired: bool
    attempts: int
    elapsed_s: float
    budget_s: float
    attempt_ms: int
    blockers: list[Blocker] = field(default_factory=list)

    @property
    def blocker(self) -> Blocker | None:
        return self.blockers[0] if self.blockers else None

    def describe(self) -> str:
        """``acquired after 3 attempt(s) in 0.71 s`` or ``gave up after … s, blocked by pid …``.

        >>> LockAttempts(True, 3, 0.714, 5, 200).describe()
        'acquired after 3 attempt(s) in 0.71 s'
        >>> LockAttempts(False, 9, 5.02, 5, 200, [Blocker(42, "psql", "idle in transaction", None, "SELECT 1")]
        ...              ).describe()  # doctest: +NORMALIZE_WHITESPACE
        "gave up after 9 attempt(s) of 200 ms in 5.02 s (budget 5 s), blocked by pid 42 (application psql,
        idle in transaction, query start -, query 'SELECT 1')"
        """
        if self.acquired:
            return f"acquired after {self.attempts} attempt(s) in {self.elapsed_s:.2f} s"
        by = f", blocked by {self.blocker.describe()}" if self.blocker else ", blocker not found (it had finished)"
        return (f"gave up after {self.attempts} attempt(s) of {self.attempt_ms} ms in {self.elapsed_s:.2f} s "
                f"(budget {self.budget_s:g} s){by}")

    def details(self) -> dict[str, Any]:
        return {"lock_attempts": self.attempts, "lock_wait_s": round(self.elapsed_s, 3),
                "lock_attempt_ms": self.attempt_ms, "lock_budget_s": round(self.budget_s, 3),
                "blockers": [b.to_dict() for b in self.blockers]}


def lock_budget_s(step: Step) -> float:
    """How long a statement keeps attempting its lock: ``postgres.lock_budget_seconds`` or the time
    left in the window (minus the guard's margin); outside a window ``postgres.lock_timeout_seconds``.
    Never more than the statement may run (``statement_timeout``)."""
    cfg = step.cfg.postgres
    left = step.run.seconds_left()
    if cfg.lock_budget_seconds is not None:
        budget = cfg.lock_budget_seconds
    elif left is not None:
        budget = left - guard.SAFETY_MARGIN.total_seconds()
    else:
        budget = cfg.lock_timeout_seconds
    return float(max(cfg.lock_attempt_ms / 1000, min(budget, step.statement_timeout_s())))


def pause_s(attempt: int, cap_s: float, rng: random.Random | None = None) -> float:
    """Pause after failed attempt ``attempt`` (1-based): doubling from 50 ms up to ``cap_s``, with
    "equal jitter" (half fixed, half random) so two waiters do not retry in step.

    >>> r = random.Random(1)
    >>> [0.025 <= pause_s(1, 2, r) <= 0.05, 0.1 <= pause_s(3, 2, r) <= 0.2, 1 <= pause_s(12, 2, r) <= 2]
    [True, True, True]
    >>> pause_s(5, 0)
    0.0
    """
    ceiling = min(cap_s, FIRST_PAUSE_S * 2.0 ** (attempt - 1))
    return float(ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


def relation_ids(s: Session, qualified: str) -> list[int]:
    """The relation's oid and, for an index, its table's (plain queries lock the table)."""
    row = s.conn.execute(
        "SELECT c.oid::int8, i.indrelid::int8 FROM pg_catalog.pg_class c "
        "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid WHERE c.oid = to_regclass(%s)",
        [qualified],
    ).fetchone()
    if row is None:
        return []
    return [int(v) for v in row if v is not None]


def find_blockers(s: Session, relids: Sequence[int], mode: str) -> list[Blocker]:
    """Who holds a lock conflicting with ``mode`` on ``relids``; else the oldest open transactions."""
    rows = s.rows("lock_blockers", {"relids": list(relids), "modes": list(CONFLICTS[mode])})
    if rows:
        return [Blocker.from_row(r, "lock") for r in rows]
    return [Blocker.from_row(r, "snapshot") for r in s.rows("snapshot_holders")]


def _current_lock_timeout(s: Session) -> str:
    row = s.conn.execute("SELECT current_setting('lock_timeout')").fetchone()
    return str(row[0]) if row else "0"


def run_with_lock_attempts(
    s: Session,
    statement: sql.SQL | sql.Composed,
    *,
    relids: Sequence[int],
    mode: str,
    attempt_ms: int,
    budget_s: float,
    pause_cap_s: float,
    after_failed_attempt: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> LockAttempts:
    """Run ``statement`` in attempts of ``attempt_ms`` lock wait until it runs or ``budget_s`` is spent.

    Returns the outcome (``acquired`` False: it never ran). Errors other than a lock timeout
    propagate. The session's ``lock_timeout`` is restored afterwards.
    """
    import psycopg

    previous = _current_lock_timeout(s)
    started = clock()
    deadline = started + budget_s
    attempts = 0
    blockers: list[Blocker] = []
    try:
        while True:
            attempts += 1
            attempt_started = clock()
            wait_s = max(0.01, min(attempt_ms / 1000, deadline - clock()))
            s.conn.execute("SELECT set_config('lock_timeout', %s, false)", [millis(wait_s)])
            try:
                s.execute(statement)
            except psycopg.errors.LockNotAvailable:
                blockers = find_blockers(s, relids, mode) or blockers
                if after_failed_attempt is not None:
                    after_failed_attempt()
                log.info("lock attempt %d failed; blockers %s", attempts, [b.pid for b in blockers])
                left = deadline - clock()
                if left <= 0.01:
                    return LockAttempts(False, attempts, clock() - started, budget_s, attempt_ms, blockers)
                sleep(min(pause_s(attempts, pause_cap_s, rng), max(0.0, left - 0.01)))
                continue
            # Acquired during the last attempt: the time before it is what the lock cost us.
            return LockAttempts(True, attempts, attempt_started - started, budget_s, attempt_ms, [])
    finally:
        if not s.conn.closed:
            s.conn.execute("SELECT set_config('lock_timeout', %s, false)", [previous])


# ----------------------------------------------------------------------------- REINDEX CONCURRENTLY

WATCH_POLL_S = 0.02


@dataclass
class PhaseWait:
    """One wait of a REINDEX CONCURRENTLY phase (after the initial lock), with whom it waited for."""

    phase: str
    wait_event: str
    waited_s: float = 0.0
    blockers: list[Blocker] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "wait_event": self.wait_event, "waited_s": round(self.waited_s, 3),
                "blockers": [b.to_dict() for b in self.blockers]}


class BuildWatch:
    """Watches one REINDEX CONCURRENTLY from a second connection (a thread while it runs).

    While the session waits for a relation lock and has no create-index progress yet, it is in its
    *initial* lock wait: after ``attempt_ms`` the watcher cancels it (nothing was built). Later lock
    waits are the phase waits: recorded (phase, wait event, time, blockers), never cancelled.
    """

    def __init__(self, conn: Any, pid: int, version: int, attempt_ms: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.conn, self.pid, self.attempt_s, self.clock = conn, pid, attempt_ms / 1000, clock
        self._watch = sqlfiles.load("reindex_watch", version)
        self._cancel = sqlfiles.load("reindex_cancel_initial", version)
        self._blockers = sqlfiles.load("reindex_phase_blockers", version)
        self.cancelled_initial = False
        self.phases_seen: list[str] = []
        self.waits: list[PhaseWait] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BuildWatch:
        self.cancelled_initial = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"reindex-watch-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        from psycopg.rows import dict_row

        waiting_since: float | None = None
        current: PhaseWait | None = None
        since = 0.0
        try:
            with self.conn.cursor(row_factory=dict_row) as cur:
                while not self._stop.is_set():
                    now = self.clock()
                    row = cur.execute(self._watch, {"pid": self.pid}).fetchone()
                    if row is None:
                        break
                    phase, lock_wait = row["phase"], row["wait_event_type"] == "Lock"
                    if phase and (not self.phases_seen or self.phases_seen[-1] != phase):
                        self.phases_seen.append(phase)
                    if phase is None and lock_wait and row["wait_event"] == "relation":
                        waiting_since = now if waiting_since is None else waiting_since
                        if now - waiting_since >= self.attempt_s and not self.cancelled_initial:
                            hit = cur.execute(self._cancel, {"pid": self.pid}).fetchone()
                            self.cancelled_initial = bool(hit and hit["cancelled"])
                    else:
                        waiting_since = None
                    if phase and lock_wait:
                        if current is None or current.phase != phase:
                            current, since = PhaseWait(phase, str(row["wait_event"])), now
                            self.waits.append(current)
                            rows = cur.execute(self._blockers, {"pid": self.pid}).fetchall()
                            current.blockers = [Blocker.from_row(r, "snapshot" if current.wait_event == "virtualxid"
                                                                 else "lock") for r in rows]
                        current.waited_s = now - since
                    else:
                        current = None
                    self._stop.wait(WATCH_POLL_S)
        except Exception as exc:  # the statement runs on; its initial lock is then bounded by its deadline only
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("REINDEX watcher of pid %s stopped: %s", self.pid, self.error)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phases": self.phases_seen, "phase_waits": [w.to_dict() for w in self.waits]}
        if self.error:
            out["watch_error"] = self.error
        return out


def run_concurrent_build(
    s: Session,
    statement: sql.SQL | sql.Composed,
    watch: BuildWatch,
    *,
    relids: Sequence[int],
    mode: str,
    attempt_ms: int,
    budget_s: float,
    pause_cap_s: float,
    after_failed_attempt: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> LockAttempts:
    """Run a REINDEX/CREATE INDEX CONCURRENTLY: its initial lock in attempts of ``attempt_ms`` (the
    watcher cancels a longer initial wait) until ``budget_s`` is spent; once it holds its locks, its
    phase waits run under ``lock_timeout`` = the statement's deadline (its ``statement_timeout``).

    ``acquired`` False: it never got its initial lock (nothing was built). Any other error —
    a phase wait that reached the deadline, a deadlock — propagates: the build was started.
    """
    import psycopg

    previous = _current_lock_timeout(s)
    started = clock()
    deadline = started + budget_s
    attempts = 0
    blockers: list[Blocker] = []
    try:
        while True:
            attempts += 1
            attempt_started = clock()
            # lock_timeout = statement_timeout = the time left: the phase waits may use all of it.
            s.conn.execute("SELECT set_config('lock_timeout', %s, false)", [millis(s.deadline_s() or budget_s)])
            try:
                with watch:
                    s.execute(statement)
            except psycopg.errors.QueryCanceled:
                if not watch.cancelled_initial:
                    raise
                blockers = find_blockers(s, relids, mode) or blockers
                if after_failed_attempt is not None:  # a cancel that raced the grant may leave a _ccnew
                    after_failed_attempt()
                log.info("initial lock attempt %d failed; blockers %s", attempts, [b.pid for b in blockers])
                left = deadline - clock()
                if left <= 0.01:
                    return LockAttempts(False, attempts, clock() - started, budget_s, attempt_ms, blockers)
                sleep(min(pause_s(attempts, pause_cap_s, rng), max(0.0, left - 0.01)))
                continue
            return LockAttempts(True, attempts, attempt_started - started, budget_s, attempt_ms, [])
    finally:
        if not s.conn.closed:
            s.conn.execute("SELECT set_config('lock_timeout', %s, false)", [previous])
