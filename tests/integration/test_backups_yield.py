"""Backups never wait behind maintenance (issue 26 item 8), against real PostgreSQL 15: heavy
maintenance lets a waiting backup take the target's lock at its next relation and takes it back
afterwards; a backup whose own wait is shorter than the whole maintenance run still lands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.backups import bodies
from mercenary_maintenance.findings import ActionStatus
from mercenary_maintenance.pg import lock
from mercenary_maintenance.postgres import bodies as pg_bodies
from tests.integration.backup_helpers import backup_env
from tests.integration.test_backups_full import make_step

DB = "bk_yield"
TABLES = [f"yield_t{i}" for i in range(8)]


@pytest.fixture(scope="module")
def source(pg: servers.PostgresServer) -> str:
    pg.create_database(DB)
    for name in TABLES:  # ~10 pages each: VACUUM (ANALYZE) throttled to ~1 s per table below
        pg.execute(f"CREATE TABLE {name} (id int, v int); "
                   f"INSERT INTO {name} SELECT g, g FROM generate_series(1, 2000) g; "
                   f"DELETE FROM {name} WHERE id % 3 = 0;", DB)
    return DB


@pytest.fixture
def env(pg, s3, source, write_config, connections) -> Callable[..., dict[str, Any]]:
    return backup_env(pg, s3, source, write_config, connections, "byield")


def holders(pg: servers.PostgresServer) -> list[str]:
    with pg.connect(DB) as conn:
        return [r[0] for r in conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid::int8 = %s",
            [lock.LOCK_KEY & 0xFFFFFFFF]).fetchall()]


def test_holder_yields_to_a_waiting_backup_and_takes_the_lock_back(pg, source):
    with pg.connect(DB) as maint, pg.connect(DB) as backup:
        maint.execute("SET application_name = 'mercenary-maintenance:postgres.reindex'")
        with lock.target_lock(maint, 5):
            assert lock.yield_to_backup(maint, 5) == 0.0  # nobody waits: nothing happens
            got: list[float] = []

            def back_up() -> None:
                with lock.target_lock(backup, 1, as_backup=True, max_wait_s=20):
                    got.append(time.monotonic())
                    time.sleep(1.5)

            waiter = threading.Thread(target=back_up)
            waiter.start()
            deadline = time.monotonic() + 10
            while lock.waiting_backup(maint) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.2)  # past the backup's own 1 s: it waits on because the holder yields
            assert lock.waiting_backup(maint) is not None
            yielded = lock.yield_to_backup(maint, 10)
            waiter.join(10)
            assert got, "the backup never got the lock"
            assert yielded >= 1.0  # we waited for the backup to finish
            assert holders(pg) == ["mercenary-maintenance:postgres.reindex"]  # ours again
        assert holders(pg) == []


def test_a_backup_behind_a_holder_that_does_not_yield_gives_up_at_its_own_wait(pg, source):
    with pg.connect(DB) as other, pg.connect(DB) as backup:
        other.execute("SET application_name = 'psql'")
        with lock.target_lock(other, 5):
            started = time.monotonic()
            with pytest.raises(lock.TargetBusy, match="psql"), \
                    lock.target_lock(backup, 1, as_backup=True, max_wait_s=60):
                pass
            assert time.monotonic() - started < 5


def test_backup_lands_while_vacuum_runs_over_many_tables(env, pg):
    # throttled like a large table: ~1 s per relation, ~8+ s for the run; the backup waits only 4 s
    env(postgres={"vacuum_cost_delay_ms": 100, "vacuum_cost_limit": 1}, lock_wait_seconds=4)
    maint = make_step("maintenance_weekly")
    runner = threading.Thread(target=pg_bodies.vacuum_analyze, args=(maint, "main", TABLES))
    runner.start()
    try:
        deadline = time.monotonic() + 120  # a loaded machine: the thread's first session can take a while
        while "mercenary-maintenance:postgres.vacuum_analyze" not in holders(pg) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holders(pg), "maintenance never took the lock"
        backup = make_step()
        bodies.backup_full(backup, "main")
    finally:
        runner.join(300)
    assert [a.status for a in backup.actions] == [ActionStatus.DONE], backup.actions
    done = [a for a in maint.actions if a.action == "postgres.vacuum_analyze"]
    assert [a.status for a in done] == [ActionStatus.DONE] * len(TABLES), [(a.status, a.message) for a in done]
    backup_end = datetime.fromisoformat(backup.actions[0].details["finished_at"])
    last_vacuum = max(datetime.fromisoformat(a.details["finished_at"]) for a in done)
    assert backup_end < last_vacuum  # it did not wait for the whole maintenance run
