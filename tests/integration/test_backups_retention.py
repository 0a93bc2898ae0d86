"""Retention the project enforces (PostgreSQL 18, moto S3): a month without backups loses nothing
retention promised, the bucket lifecycle never expires backups, and a role that may not write the
lifecycle still gets its full backup."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercenary_maintenance import bucket_lifecycle
from mercenary_maintenance.backups import bodies, catalog, incremental, keys, lifecycle, source
from mercenary_maintenance.config import load_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step
from mercenary_maintenance.wiring import registry
from tests.integration.backup_helpers import RefusingS3, backup_env

pytestmark = pytest.mark.pg18
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


def step_at(when: datetime, dag_id: str) -> Step:
    return Step(load_config(), RunInfo(dag_id=dag_id, run_id=f"scheduled__{when.isoformat()}", run_type="scheduled",
                                       logical_date=when))


def good_dirs(client: Any, bucket: str, kind: str) -> list[str]:
    return [b.prefix for b in catalog.backups_of(client, bucket, "postgres", kind, "main") if b.good]


def test_a_month_without_backups_keeps_the_newest_verified_fulls_and_the_newest_good_chain(
        pg18, s3, write_config, connections, monkeypatch):
    db = pg18.create_database(f"ret_{uuid.uuid4().hex[:6]}")
    pg18.execute("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 100)", db)
    env = backup_env(pg18, s3, db, write_config, connections, "ret")
    # Retention is this test's subject, not checkpoint pacing (test_backups_incremental covers spread):
    # an immediate checkpoint keeps each of the four base backups to seconds.
    fast = {"checkpoint": "fast"}
    env(incremental=fast)
    bucket = load_config().backups.bucket
    client = s3.client()
    for day in range(3):
        step = step_at(T0 + timedelta(days=day), "backup_full")
        bodies.backup_full(step, "main")
        assert step.actions[-1].status is ActionStatus.DONE, step.actions
    fulls = good_dirs(client, bucket, keys.FULL)
    # chain A (base + increment), then chain B (base + increment): B is the newest good chain
    parent_of = incremental.next_parent
    for hours, new_chain in ((0, True), (4, False), (8, True), (12, False)):
        # a chain older than new_chain_after_hours, without waiting a day (the choice is pure logic)
        monkeypatch.setattr(incremental, "next_parent", (lambda *a: None) if new_chain else parent_of)
        step = step_at(T0 + timedelta(hours=hours), "backup_incremental")
        bodies.backup_incremental(step, "main")
        assert step.actions[-1].status is ActionStatus.DONE, step.actions
    monkeypatch.setattr(incremental, "next_parent", parent_of)
    chain_b = good_dirs(client, bucket, keys.INCREMENTAL)[2:]
    # the newest attempt failed: its data object is there, its manifest never came
    tag = source.tag_of(catalog.backups_of(client, bucket, "postgres", keys.INCREMENTAL, "main")[0])
    failed = keys.backup_dir("postgres", keys.INCREMENTAL, "main", "20260301T160000Z", f"a01-dead00-{tag}")
    client.put_object(Bucket=bucket, Key=failed + keys.BASE_TAR, Body=b"partial")

    env(delete_expired=True, incremental=fast)  # min_redundancy 2, full 30 days, incremental 7 days (defaults)
    start = datetime.now(UTC)
    for day in range(1, 32):  # every step the project runs, once a day, with no new backup
        bodies.ensure_lifecycle(step_at(T0, "backup_full"), registry.LIFECYCLE_RULES)
        expire = step_at(T0, "backup_full")
        bodies.expire(expire, "main", now=start + timedelta(days=day))
        assert expire.actions[-1].status is ActionStatus.DONE, expire.actions

    assert good_dirs(client, bucket, keys.FULL) == fulls[1:]  # the two newest: min_redundancy
    assert good_dirs(client, bucket, keys.INCREMENTAL) == chain_b  # base and increment of the newest chain
    left = {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert not any(k.startswith(failed) for k in left)  # the failed attempt went
    restore = step_at(T0 + timedelta(days=40), "maintenance_monthly")
    bodies.restore_chain_test(restore, "main")  # what was kept still restores
    assert [f.severity for f in restore.findings if f.check == "backup.restore_test"] == [Severity.OK], restore.actions
    for rule in bucket_lifecycle.current_rules(client, bucket):
        if rule["ID"].startswith(lifecycle.RULE_PREFIX):
            assert "Expiration" not in rule, rule
    assert lifecycle.expiring_rules(load_config().backups, bucket_lifecycle.current_rules(client, bucket)) == []


def test_a_role_without_lifecycle_permissions_still_gets_its_full_backup(pg, s3, write_config, connections, run_dag):
    db = pg.create_database(f"ret_{uuid.uuid4().hex[:6]}")
    pg.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)", db)
    backup_env(pg, s3, db, write_config, connections, "iam")
    bucket = load_config().backups.bucket
    proxy = RefusingS3(s3.port, lambda method, path: "lifecycle" in path.split("?", 1)[-1])
    try:
        connections(proxy.connection_env("maintenance_s3"))
        state, report = run_dag("backup_full")
    finally:
        proxy.stop()
    assert proxy.refused, "the lifecycle request never reached the proxy"
    assert report is not None
    by_action = {a["action"]: a for a in report["actions"]}
    assert by_action["backup.full"]["status"] == "done", report
    assert by_action["backup.lifecycle"]["status"] == "failed"
    assert "AccessDenied" in by_action["backup.lifecycle"]["message"]
    retention_findings = [f for f in report["findings"] if f["check"] == "backup.retention"]
    assert [f["severity"] for f in retention_findings] == ["warning"], retention_findings
    assert any(k["Key"].endswith(keys.MANIFEST)
               for k in s3.client().list_objects_v2(Bucket=bucket)["Contents"])  # the backup landed
    assert state in ("success", "failed")  # the run's state is the lifecycle task's; the backup is not


def test_two_clusters_on_one_bucket_prefix_and_target_name_never_touch_each_others_backups(
        pg, pg18, s3, write_config, connections):
    name = f"ret_{uuid.uuid4().hex[:6]}"  # the same database name on both clusters
    for server in (pg, pg18):
        server.create_database(name)
        server.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)", name)
    backup_env(pg, s3, name, write_config, connections, "two")
    bucket = load_config().backups.bucket
    client = s3.client()

    def deployment(server: Any, **backups: Any) -> None:
        connections(server.connection_env("maintenance_postgres", name))
        write_config({"targets": {"postgres": [{"name": "main", "conn_id": "maintenance_postgres"}], "redis": []},
                      "backups": {"bucket": bucket, "part_size_mb": 5, **backups}})

    deployment(pg)
    for day in range(2):
        bodies.backup_full(step_at(T0 + timedelta(days=day), "backup_full"), "main")
    first = good_dirs(client, bucket, keys.FULL)
    assert len(first) == 2
    deployment(pg18)
    other = step_at(T0 + timedelta(days=1), "backup_full")  # a date the first deployment already has
    bodies.backup_full(other, "main")
    assert other.actions[-1].status is ActionStatus.DONE, other.actions
    assert not other.actions[-1].details.get("noop")  # not the other cluster's backup of the date
    assert other.actions[-1].details["replaced"] == []
    assert [f.severity for f in other.findings if f.check == "backup.source"] == [Severity.WARNING]
    everything = good_dirs(client, bucket, keys.FULL)
    assert set(first) < set(everything)

    deployment(pg18, delete_expired=True, min_redundancy=1)
    expire = step_at(T0, "backup_full")
    bodies.expire(expire, "main", now=datetime.now(UTC) + timedelta(days=365))
    assert expire.actions[-1].details["backups"] == []  # its own one backup is the newest: kept
    warned = [f for f in expire.findings if f.check == "backup.source"]
    assert [f.severity for f in warned] == [Severity.WARNING]
    assert sum(warned[0].details["others"].values()) == 2
    deployment(pg, delete_expired=True, min_redundancy=1)
    mine = step_at(T0, "backup_full")
    bodies.expire(mine, "main", now=datetime.now(UTC) + timedelta(days=365))
    assert mine.actions[-1].details["backups"] == [first[0]]  # only its own older backup
    assert set(good_dirs(client, bucket, keys.FULL)) == set(everything) - {first[0]}


def test_another_clusters_fresh_backup_never_makes_this_one_look_fresh_redundant_or_sampled(
        pg, pg18, s3, write_config, connections):
    from mercenary_dev.servers import free_port

    from mercenary_maintenance.backups import bodies

    name = f"fresh_{uuid.uuid4().hex[:6]}"  # the same database name on both clusters
    for server in (pg, pg18):
        server.create_database(name)
        server.execute("CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 10)", name)
    backup_env(pg, s3, name, write_config, connections, "fresh")
    bucket = load_config().backups.bucket

    def deployment(server: Any) -> None:
        connections(server.connection_env("maintenance_postgres", name))

    def daily(check: str) -> list[Any]:
        step = step_at(T0, "maintenance_daily")
        (bodies.sample_restore if check == "backup.sample_restore" else bodies.verify_backups)(step, "main")
        return [f for f in step.findings if f.check == check and f.details.get("kind", "full") == "full"]

    deployment(pg18)  # only the other cluster has a backup, and it is fresh
    bodies.backup_full(step_at(T0, "backup_full"), "main")
    theirs = good_dirs(s3.client(), bucket, keys.FULL)
    assert [f.severity for f in daily("backup.freshness")] == [Severity.OK]  # for pg18 itself

    deployment(pg)
    fresh = daily("backup.freshness")
    assert [f.severity for f in fresh] == [Severity.CRITICAL], fresh
    assert "of this source (1 backup(s) of another cluster" in fresh[0].message
    assert [f.severity for f in daily("backup.redundancy")] == [Severity.CRITICAL]
    sampled = daily("backup.sample_restore")
    assert [(f.severity, f.message) for f in sampled] == [
        (Severity.CRITICAL, "no full backup of this source to sample")]

    # this cluster backs up; then the other one again (the newest backup of the prefix is not ours)
    bodies.backup_full(step_at(T0 + timedelta(days=1), "backup_full"), "main")
    ours = [d for d in good_dirs(s3.client(), bucket, keys.FULL) if d not in theirs]
    deployment(pg18)
    bodies.backup_full(step_at(T0 + timedelta(days=2), "backup_full"), "main")
    deployment(pg)
    fresh = daily("backup.freshness")
    assert [(f.severity, f.details["latest"]) for f in fresh] == [(Severity.OK, ours[0])]
    listed = catalog.backups_of(s3.client(), bucket, "postgres", keys.FULL, "main")
    assert fresh[0].details["source"] == source.tag_of(next(b for b in listed if b.prefix == ours[0]))
    redundancy = daily("backup.redundancy")  # one verified backup of its own, min_redundancy 2
    assert [(f.severity, f.details["verified"]) for f in redundancy] == [(Severity.WARNING, ours)], redundancy
    sampled = daily("backup.sample_restore")
    assert [f.severity for f in sampled] == [Severity.OK], sampled
    assert sampled[0].details["key"].startswith(ours[0])

    # the server cannot be asked and the prefix holds two sources: nobody can tell which is ours
    connections({"AIRFLOW_CONN_MAINTENANCE_POSTGRES": f"postgresql://u:p@127.0.0.1:{free_port()}/{name}"})
    blind = daily("backup.freshness")
    assert [f.severity for f in blind] == [Severity.UNKNOWN], blind
    assert "cannot tell which of the 2 sources" in blind[0].message
