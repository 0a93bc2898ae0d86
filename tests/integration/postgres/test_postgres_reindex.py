"""REINDEX INDEX CONCURRENTLY done right (issue 27): short attempts only for its initial lock, its
waits for older transactions under the statement's deadline, at most ``reindex_max_attempts``
builds, and no ``_ccnew`` / ``_ccold`` left behind — ours or an earlier run's (PostgreSQL 15, 18)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mercenary_maintenance.findings import ActionStatus
from mercenary_maintenance.postgres import bodies

LEFTOVERS = "SELECT count(*) FROM pg_class WHERE relname ~ '_cc(new|old)[0-9]*$'"


class BuildCounter:
    """Counts index builds in ``db`` from another connection: each time a session enters the
    create-index phase "building index" (polled every 10 ms from pg_stat_progress_create_index)."""

    def __init__(self, server: Any, db: str) -> None:
        self.conn = server.connect(db)
        self.db = db
        self.builds: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        building: set[int] = set()
        while not self.stop.is_set():
            rows = self.conn.execute("SELECT pid, phase FROM pg_stat_progress_create_index WHERE datname = %s",
                                     [self.db]).fetchall()
            now = {int(pid) for pid, phase in rows if str(phase).startswith("building index")}
            for pid in now - building:
                self.builds[pid] = self.builds.get(pid, 0) + 1
            building = now
            time.sleep(0.01)

    def __enter__(self) -> BuildCounter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.conn.close()


def _ledger(server: Any, db: str) -> None:
    server.execute("CREATE TABLE ledger (id int)", db)
    server.execute("INSERT INTO ledger SELECT generate_series(1, 50000)", db)
    server.execute("CREATE INDEX ledger_id_idx ON ledger (id)", db)
    server.execute("CREATE TABLE other (id int)", db)


def _old_snapshot(server: Any, db: str) -> Any:
    """A REPEATABLE READ transaction holding a snapshot (on another table) until closed."""
    conn = server.connect(db, autocommit=False)
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    conn.execute("SELECT count(*) FROM other")
    return conn


def _release_after_waited(server: Any, db: str, snapshot: Any, seconds: float) -> threading.Thread:
    """Close ``snapshot`` once a REINDEX has waited ``seconds`` for it (phase "waiting for old
    snapshots"), or after 60 s; independent of how long the action takes to start on a busy machine."""

    def run() -> None:
        deadline = time.monotonic() + 60
        with server.connect(db) as conn:
            while time.monotonic() < deadline and not conn.execute(
                    "SELECT count(*) FROM pg_stat_progress_create_index "
                    "WHERE phase = 'waiting for old snapshots'").fetchone()[0]:
                time.sleep(0.02)
        time.sleep(seconds)
        snapshot.rollback()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _plant_leftover(server: Any, db: str) -> None:
    """An earlier run's REINDEX CONCURRENTLY cancelled in its wait for old snapshots: an invalid
    ``ledger_id_idx_ccnew`` stays behind (what the old 200 ms lock_timeout left)."""
    with server.connect(db) as conn:
        conn.execute("SET lock_timeout = '100ms'")
        with pytest.raises(Exception, match="lock timeout"):
            conn.execute("REINDEX INDEX CONCURRENTLY ledger_id_idx")
    assert server.scalar("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                         "WHERE c.relname = 'ledger_id_idx_ccnew' AND NOT i.indisvalid", db) == 1


def test_reindex_waits_out_an_old_transaction_building_once_and_drops_an_earlier_leftover(
        server, db, make_step, pgh):
    _ledger(server, db)
    snapshot = _old_snapshot(server, db)
    snapshot_pid = snapshot.info.backend_pid
    _plant_leftover(server, db)
    step = make_step(postgres={"lock_attempt_ms": 200, "reindex_max_attempts": 2})
    try:
        with BuildCounter(server, db) as counter:
            # The old transaction ends 2 s into the REINDEX's wait for it: ten times lock_attempt_ms.
            release = _release_after_waited(server, db, snapshot, 2.0)
            bodies.reindex(step, "main", objects=["ledger_id_idx"])
    finally:
        release.join(70)
        snapshot.close()

    leftovers, done = pgh.actions(step, "postgres.reindex")
    assert leftovers.status is ActionStatus.DONE, leftovers
    assert "dropped public.ledger_id_idx_ccnew (ready" in leftovers.message
    assert leftovers.details["leftovers"][0]["dropped"] == "DROP INDEX CONCURRENTLY"
    assert done.status is ActionStatus.DONE, done
    assert done.details["builds"] == 1
    # Built exactly once: the wait for the old snapshot ran to its end instead of being cancelled.
    assert sum(counter.builds.values()) == 1, counter.builds
    [wait] = [w for w in done.details["phase_waits"] if w["phase"] == "waiting for old snapshots"]
    assert wait["waited_s"] >= 1.5
    assert wait["blockers"][0]["pid"] == snapshot_pid
    assert "in phase waits" in done.message
    assert server.scalar(LEFTOVERS, db) == 0
    assert server.scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid", db) == 0
    assert not [f for f in step.findings if f.check == "maintenance.skipped"]


def test_reindex_past_its_deadline_builds_at_most_max_attempts_and_leaves_nothing(server, db, make_step, pgh):
    _ledger(server, db)
    snapshot = _old_snapshot(server, db)  # never released during the action
    snapshot_pid = snapshot.info.backend_pid
    step = make_step(postgres={"statement_timeout_seconds": 2, "reindex_max_attempts": 2,
                               "reindex_cleanup_wait_seconds": 1})
    try:
        with BuildCounter(server, db) as counter:
            bodies.reindex(step, "main", objects=["ledger_id_idx"])
    finally:
        snapshot.rollback()
        snapshot.close()

    [skipped] = pgh.actions(step, "postgres.reindex")
    assert skipped.status is ActionStatus.SKIPPED, skipped
    assert skipped.details["builds"] == 2
    assert sum(counter.builds.values()) == 2, counter.builds
    assert "gave up after 2 build(s)" in skipped.message
    assert all("DROP INDEX" in c["dropped"] for c in skipped.details["cleanup"]), skipped.details["cleanup"]
    warning = pgh.finding(step, "maintenance.skipped")
    assert warning.details["blocker"]["pid"] == snapshot_pid
    assert warning.details["blocker"]["kind"] == "snapshot"
    assert server.scalar(LEFTOVERS, db) == 0
    assert server.scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'ledger'", db) == 1


def test_reindex_initial_lock_is_tried_in_short_attempts_and_nothing_is_built(server, db, make_step, pgh):
    _ledger(server, db)
    holder = server.connect(db, autocommit=False)
    holder.execute("LOCK TABLE ledger IN SHARE UPDATE EXCLUSIVE MODE")  # what a manual VACUUM holds
    holder_pid = holder.info.backend_pid
    step = make_step(postgres={"lock_timeout_seconds": 1.5, "lock_attempt_ms": 200})
    try:
        with BuildCounter(server, db) as counter:
            bodies.reindex(step, "main", objects=["ledger_id_idx"])
    finally:
        holder.rollback()
        holder.close()

    [skipped] = pgh.actions(step, "postgres.reindex")
    assert skipped.status is ActionStatus.SKIPPED, skipped
    assert skipped.details["lock_attempts"] >= 3
    assert skipped.details["builds"] == 0
    assert counter.builds == {}
    assert skipped.duration_s < 1.5 + 2.0
    warning = pgh.finding(step, "maintenance.skipped")
    assert warning.details["blocker"]["pid"] == holder_pid
    assert warning.details["blocker"]["kind"] == "lock"
    assert server.scalar(LEFTOVERS, db) == 0
