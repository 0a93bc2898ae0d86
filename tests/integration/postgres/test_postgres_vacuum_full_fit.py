"""VACUUM FULL only when it fits (issue 27 item 2): its estimate within the time left in the window,
and free space where it writes for table + indexes + margin; otherwise skipped with a warning saying
why (PostgreSQL 15, 18)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.findings import ActionStatus
from mercenary_maintenance.postgres import bodies
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC, Window


def _orders(server: Any, db: str, rows: int = 40000, tablespace: str | None = None) -> int:
    where = f" TABLESPACE {tablespace}" if tablespace else ""
    server.execute(f"CREATE TABLE orders (id int, payload text){where}", db)
    server.execute(f"INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, {rows}) g", db)
    server.execute(f"CREATE INDEX orders_id_idx ON orders (id){where}", db)
    return int(server.scalar("SELECT pg_relation_filenode('orders')", db))


def test_vacuum_full_longer_than_the_time_left_is_skipped_saying_so(server, db, make_step, pgh):
    filenode = _orders(server, db)
    base = make_step(target={"vacuum_full_tables": ["orders"]},
                     postgres={"vacuum_full_bytes_per_s": 1000})  # ~3 MB at 1 kB/s: about an hour
    now = datetime.now(UTC)
    step = Step(base.cfg, RunInfo(dag_id="maintenance_monthly", run_id="scheduled__t", run_type="scheduled",
                                  window=Window(now - timedelta(hours=1), now + timedelta(minutes=10))))
    bodies.vacuum_full(step, "main")

    [skipped] = pgh.actions(step, "postgres.vacuum_full")
    assert skipped.status is ActionStatus.SKIPPED, skipped
    warning = pgh.finding(step, "maintenance.skipped")
    assert warning.details["cause"] == "fit"
    assert "s left for the statement" in warning.message
    fit = warning.details["fit"]
    assert fit["estimate_s"] > fit["time_left_s"]
    assert fit["time_left_s"] <= 600
    assert "pg_repack" in warning.message  # the online way is named
    assert server.scalar("SELECT pg_relation_filenode('orders')", db) == filenode  # never started


@pytest.fixture
def small_tablespace(server: Any) -> Iterator[str]:
    """A tablespace on an 8 MiB tmpfs (root only: mount)."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run the suite as root (as .ci/run does)")
    where = Path(tempfile.mkdtemp(prefix="mm-ts-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(where)], check=True)
    name = "small_" + uuid.uuid4().hex[:8]
    try:
        subprocess.run(["chown", "postgres:postgres", str(where)], check=True)
        server.execute(f"CREATE TABLESPACE {name} LOCATION '{where}'")
        yield name
    finally:
        with contextlib.suppress(Exception):
            server.execute(f"DROP TABLESPACE IF EXISTS {name}")
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def test_vacuum_full_without_room_on_its_tablespace_is_skipped_with_both_numbers(
        server, db, make_step, pgh, small_tablespace):
    filenode = _orders(server, db, rows=50000, tablespace=small_tablespace)
    step = make_step(target={"vacuum_full_tables": ["public.orders"]})
    try:
        bodies.vacuum_full(step, "main")
        [skipped] = pgh.actions(step, "postgres.vacuum_full")
        assert skipped.status is ActionStatus.SKIPPED, skipped
        warning = pgh.finding(step, "maintenance.skipped")
        assert warning.details["cause"] == "fit"
        fit = warning.details["fit"]
        assert fit["free_source"].startswith("statvfs ")
        assert fit["free_bytes"] < fit["needed_bytes"]
        assert fit["needed_bytes"] >= (fit["table_bytes"] + fit["index_bytes"]) * 1.2
        assert "MiB free (statvfs" in warning.message
        assert "MiB needed" in warning.message
        assert server.scalar("SELECT pg_relation_filenode('orders')", db) == filenode

        # With room (a small table on the same tablespace) the rewrite runs.
        server.execute("DROP TABLE orders", db)
        filenode = _orders(server, db, rows=2000, tablespace=small_tablespace)
        step = make_step(target={"vacuum_full_tables": ["public.orders"]},
                         postgres={"load_guard": {"exclusive_sample_seconds": 1}})
        bodies.vacuum_full(step, "main")
        [done] = pgh.actions(step, "postgres.vacuum_full")
        assert done.status is ActionStatus.DONE, done
        assert done.details["fit"]["free_bytes"] >= done.details["fit"]["needed_bytes"]
        assert server.scalar("SELECT pg_relation_filenode('orders')", db) != filenode
    finally:
        server.execute("DROP TABLE IF EXISTS orders", db)
