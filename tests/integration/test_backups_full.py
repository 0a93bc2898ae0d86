"""Full backups against real PostgreSQL 15 and moto S3 over HTTP: dump, manifest, restore,
integrity/freshness, failure paths (pg_dump dies mid-stream, S3 endpoint dies mid-upload)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zstandard
from mercenary_dev import servers

from mercenary_maintenance.backups import bodies, keys, stream
from mercenary_maintenance.backups.binaries import client_dir
from mercenary_maintenance.config import load_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step
from tests.integration.backup_helpers import backup_env

SOURCE_DB = "bk_source"
LOGICAL = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def source(pg: servers.PostgresServer) -> str:
    """A small database with a plain table, a quoted name, another schema and an index."""
    pg.create_database(SOURCE_DB)
    pg.execute(
        """
        CREATE TABLE orders (id bigint PRIMARY KEY, note text);
        INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
        CREATE SCHEMA sales;
        CREATE TABLE sales."Line Items" (id int, qty int);
        INSERT INTO sales."Line Items" SELECT g, g % 7 FROM generate_series(1, 1234) g;
        CREATE TABLE empty_one (x int);
        DO $$ BEGIN CREATE ROLE report_reader LOGIN PASSWORD 'never-in-a-backup';
        EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        GRANT SELECT ON orders TO report_reader;
        SELECT lo_from_bytea(0, 'scan-1'), lo_from_bytea(0, 'scan-2');
        """,
        SOURCE_DB,
    )
    return SOURCE_DB


@pytest.fixture
def env(pg, s3, source, write_config, connections) -> Callable[..., dict[str, Any]]:
    """Connections + a config with a fresh bucket; returns a function to (re)write the config."""
    return backup_env(pg, s3, source, write_config, connections, "bk")


def make_step(dag_id: str = "backup_full", logical_date: datetime | None = LOGICAL, try_number: int = 1) -> Step:
    run = RunInfo(dag_id=dag_id, run_id=f"scheduled__{LOGICAL.isoformat()}", run_type="scheduled",
                  logical_date=logical_date, try_number=try_number)
    return Step(load_config(), run)


def bucket_of() -> str:
    return load_config().backups.bucket


def objects(s3: servers.S3Server, prefix: str = "") -> dict[str, int]:
    return {k: o["Size"] for k, o in _listing(s3, prefix).items()}


def _listing(s3: servers.S3Server, prefix: str = "") -> dict[str, Any]:
    resp = s3.client().list_objects_v2(Bucket=bucket_of(), Prefix=prefix)
    return {o["Key"]: o for o in resp.get("Contents", [])}


def manifest_of(s3: servers.S3Server, directory: str) -> dict[str, Any]:
    body = s3.client().get_object(Bucket=bucket_of(), Key=directory + keys.MANIFEST)["Body"].read()
    return json.loads(body)


DATE_DIR = keys.backup_dir("postgres", keys.FULL, "main", keys.stamp(LOGICAL, "x"))
"""The logical date's directory; each attempt writes a directory of its own below it."""


def good_dir(s3: servers.S3Server, date_dir: str = DATE_DIR) -> str:
    """The one attempt directory of ``date_dir`` that holds a manifest (fails unless exactly one)."""
    dirs = [k[: -len(keys.MANIFEST)] for k in objects(s3, date_dir) if k.endswith("/" + keys.MANIFEST)]
    assert len(dirs) == 1, dirs
    return dirs[0]


def backup_files(directory: str) -> set[str]:
    return {directory + keys.DUMP, directory + keys.GLOBALS, directory + keys.MANIFEST}


def test_backup_writes_object_and_manifest_with_matching_sha256(env, s3, pg):
    step = make_step()
    bodies.backup_full(step, "main")
    assert [a.status for a in step.actions] == [ActionStatus.DONE], step.actions
    directory = good_dir(s3)
    assert directory.startswith(DATE_DIR + "a01-"), directory
    assert set(objects(s3)) == backup_files(directory)
    manifest = manifest_of(s3, directory)
    data = s3.client().get_object(Bucket=bucket_of(), Key=directory + keys.DUMP)["Body"].read()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["size"] == len(data)
    assert data[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    head = s3.client().head_object(Bucket=bucket_of(), Key=directory + keys.DUMP, ChecksumMode="ENABLED")
    # S3 checked each part's SHA-256 on receipt and keeps their composite, recorded in the manifest at upload
    assert head.get("ChecksumSHA256"), head
    assert manifest["objects"][0]["checksum_sha256"] == head["ChecksumSHA256"]
    assert manifest["row_counts"] == {"public.orders": 5000, 'sales."Line Items"': 1234, "public.empty_one": 0}
    assert manifest["large_objects"] == 2
    assert manifest["server_version"].startswith("15")
    # the cluster's roles travel with the dump (a restore on a new server needs them), without passwords
    roles = manifest["objects"][1]
    assert roles["key"] == directory + keys.GLOBALS
    body = s3.client().get_object(Bucket=bucket_of(), Key=roles["key"])["Body"].read()
    assert (roles["size"], roles["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    sql = zstandard.ZstdDecompressor().decompressobj().decompress(body).decode()
    assert "CREATE ROLE report_reader;" in sql
    assert "PASSWORD" not in sql.upper().replace("NOPASSWORD", "")
    assert "pg_dump" in manifest["client_version"]
    # a retry of a completed date is a no-op: the same objects, untouched
    before = {k: o["LastModified"] for k, o in _listing(s3).items()}
    retry = make_step(try_number=2)
    bodies.backup_full(retry, "main")
    assert retry.actions[-1].status is ActionStatus.DONE
    assert retry.actions[-1].details["noop"] is True
    assert retry.actions[-1].message.startswith("no-op: "), retry.actions[-1].message
    assert {k: o["LastModified"] for k, o in _listing(s3).items()} == before

    # restore test passes and the counts match
    restore_step = make_step("maintenance_weekly")
    bodies.restore_test(restore_step, "main")
    verdict = [f for f in restore_step.findings if f.check == "backup.restore_test"]
    assert [f.severity for f in verdict] == [Severity.OK], verdict
    assert verdict[0].details["count_diff"] == {}
    assert verdict[0].details["rows"] == 6234
    assert restore_step.actions[-1].status is ActionStatus.DONE
    scratch = restore_step.actions[-1].details["scratch_database"]
    assert scratch.startswith("mm_restore_main_")
    with pg.connect() as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    assert scratch not in names  # dropped
    assert SOURCE_DB in names


def test_restore_test_fails_when_rows_differ_from_manifest(env, s3):
    bodies.backup_full(make_step(), "main")
    key = good_dir(s3) + keys.MANIFEST
    manifest = manifest_of(s3, good_dir(s3))
    manifest["row_counts"]["public.orders"] = 4999  # the oracle must catch a mismatch
    s3.client().put_object(Bucket=bucket_of(), Key=key, Body=json.dumps(manifest).encode())
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    verdict = [f for f in step.findings if f.check == "backup.restore_test"]
    assert verdict[0].severity is Severity.CRITICAL
    assert verdict[0].details["count_diff"] == {"public.orders": {"expected": 4999, "restored": 5000}}
    assert step.actions[-1].status is ActionStatus.FAILED


def test_restore_test_catches_a_dump_without_the_large_objects(env, s3, tmp_path):
    # pg_dump told to leave large objects out: the dump is "fine", the oracle knows better
    env(bin_dir=str(_wrapper_bin(tmp_path, 'exec REAL "$@" --no-blobs\n')))
    bodies.backup_full(make_step(), "main")
    assert manifest_of(s3, good_dir(s3))["large_objects"] == 2  # counted in the dump's snapshot
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    verdict = [f for f in step.findings if f.check == "backup.restore_test"]
    assert verdict[0].severity is Severity.CRITICAL, verdict
    assert verdict[0].details["count_diff"] == {"large objects": {"expected": 2, "restored": 0}}
    assert "large objects" in step.actions[-1].message


def _encryption(step: Step) -> list[tuple[Severity, str]]:
    return [(f.severity, f.message) for f in step.findings if f.check == "backup.encryption"]


def test_objects_are_stored_encrypted_as_configured_and_checked_daily(env, s3):
    env(server_side_encryption="aws:kms", kms_key_id="alias/backups")
    bodies.backup_full(make_step(), "main")
    client = s3.client()
    directory = good_dir(s3)
    for key in (keys.DUMP, keys.GLOBALS, keys.MANIFEST):
        head = client.head_object(Bucket=bucket_of(), Key=directory + key)
        assert (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) == ("aws:kms", "alias/backups"), key
    ok = make_step("maintenance_daily")
    bodies.verify_backups(ok, "main")
    assert [s for s, _ in _encryption(ok)] == [Severity.OK]

    env(server_side_encryption="AES256")  # the config changed, the stored backup did not
    drifted = make_step("maintenance_daily")
    bodies.verify_backups(drifted, "main")
    assert _encryption(drifted) == [(Severity.CRITICAL, f"{directory}{keys.DUMP}: stored with aws:kms, the config "
                                                        "asks for AES256")]

    env(server_side_encryption=None)  # nothing asked, and this S3 encrypts nothing by default: a warning
    bodies.backup_full(make_step(try_number=2), "main", force=True)  # a new backup of the date
    assert good_dir(s3) != directory
    plain = make_step("maintenance_daily")
    bodies.verify_backups(plain, "main")
    assert [s for s, _ in _encryption(plain)] == [Severity.WARNING]
    assert "without server-side encryption" in _encryption(plain)[0][1]


def test_the_daily_check_compares_s3s_own_sha256_part_checksums(env, s3):
    env(part_size_mb=5)
    bodies.backup_full(make_step(), "main")
    client = s3.client()
    directory = good_dir(s3)
    manifest = manifest_of(s3, directory)
    dump = manifest["objects"][0]
    # the composite S3 keeps: SHA-256 over the SHA-256 of each part sent (5 MB parts)
    data = client.get_object(Bucket=bucket_of(), Key=dump["key"])["Body"].read()
    part = 5 * 1024 * 1024
    digests = [hashlib.sha256(data[i:i + part]).digest() for i in range(0, len(data), part)] or [
        hashlib.sha256(b"").digest()]
    assert dump["checksum_sha256"].split("-")[0] == stream.composite_sha256(digests).split("-")[0]
    assert all(o["checksum_sha256"] for o in manifest["objects"])  # the globals object's too (one PUT)

    ok = make_step("maintenance_daily")
    bodies.verify_backups(ok, "main")
    found = [f for f in ok.findings if f.check == "backup.integrity" and f.details.get("key") == dump["key"]]
    assert [(f.severity, f.message) for f in found] == [
        (Severity.OK, f"{dump['key']}: size, S3 ETag and S3 SHA-256 checksum match the upload")]
    assert found[0].details["checksum_sha256"] == dump["checksum_sha256"]  # read by HEAD, not by reading the data

    # what S3 reports must equal what the upload recorded: a manifest that recorded another checksum fails
    manifest["objects"][0]["checksum_sha256"] = stream.composite_sha256([hashlib.sha256(b"other").digest()])
    client.put_object(Bucket=bucket_of(), Key=directory + keys.MANIFEST, Body=json.dumps(manifest).encode())
    bad = make_step("maintenance_daily")
    bodies.verify_backups(bad, "main")
    found = [f for f in bad.findings if f.check == "backup.integrity" and f.details.get("key") == dump["key"]]
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "S3 SHA-256 checksum" in found[0].message


def test_corrupt_byte_is_integrity_critical_and_deleted_latest_is_freshness_critical(env, s3):
    bodies.backup_full(make_step(), "main")
    client = s3.client()
    ok = make_step("maintenance_daily")
    bodies.verify_backups(ok, "main")
    integrity = [f for f in ok.findings if f.check == "backup.integrity"]
    assert integrity
    assert all(f.severity is Severity.OK for f in integrity), integrity
    fresh_full = [f for f in ok.findings if f.check == "backup.freshness" and f.details.get("kind") == "full"]
    assert fresh_full[0].severity is Severity.OK

    dump = good_dir(s3) + keys.DUMP
    data = bytearray(client.get_object(Bucket=bucket_of(), Key=dump)["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket_of(), Key=dump, Body=bytes(data))
    bad = make_step("maintenance_daily")
    bodies.verify_backups(bad, "main")
    integrity = [f for f in bad.findings if f.check == "backup.integrity" and f.details.get("kind") == "full"]
    assert integrity[0].severity is Severity.CRITICAL, integrity  # the daily HEAD: the ETag changed
    assert "ETag" in integrity[0].message
    reread = make_step("maintenance_daily")
    bodies.reread(reread, "main")  # the rotating full re-read recomputes sha256
    read = [f for f in reread.findings if f.check == "backup.integrity" and f.details.get("key") == dump]
    assert [f.severity for f in read] == [Severity.CRITICAL], read
    assert "sha256" in read[0].message

    for key in objects(s3):
        client.delete_object(Bucket=bucket_of(), Key=key)
    gone = make_step("maintenance_daily")
    bodies.verify_backups(gone, "main")
    fresh_full = [f for f in gone.findings if f.check == "backup.freshness" and f.details.get("kind") == "full"]
    assert fresh_full[0].severity is Severity.CRITICAL


def _wrapper_bin(tmp_path: Path, script: str) -> Path:
    """A bin dir whose pg_dump is a wrapper script around the real one."""
    real = client_dir(15)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("pg_restore", "pg_dumpall", "postgres", "initdb", "pg_ctl", "psql", "pg_amcheck"):
        (bindir / name).symlink_to(real / name)
    wrapper = bindir / "pg_dump"
    wrapper.write_text("#!/bin/sh\n" + script.replace("REAL", str(real / "pg_dump")))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir


def _no_uploads(client: Any) -> list[Any]:
    return list(client.list_multipart_uploads(Bucket=bucket_of()).get("Uploads", []))


def test_pg_dump_dying_mid_stream_leaves_nothing_and_retry_succeeds(env, s3, tmp_path):
    # version queries pass through; the dump itself stops after 64 kB with an error
    bindir = _wrapper_bin(tmp_path, 'case "$1" in --version) exec REAL "$@";; esac\n'
                                    'REAL "$@" | head -c 65536\necho "simulated crash" >&2\nexit 3\n')
    env(bin_dir=str(bindir))
    step = make_step()
    bodies.backup_full(step, "main")
    assert step.actions[-1].status is ActionStatus.FAILED
    assert "exited with 3" in step.actions[-1].message
    assert objects(s3) == {}  # no visible object, no manifest
    assert _no_uploads(s3.client()) == []  # multipart aborted

    env()  # the retry with a healthy pg_dump
    bodies.backup_full(make_step(try_number=2), "main")
    assert set(objects(s3)) == backup_files(good_dir(s3))


def test_table_held_exclusively_fails_the_backup_within_lock_timeout_and_leaves_nothing(env, s3, pg):
    env(postgres={"lock_timeout_seconds": 1})
    bodies.backup_full(make_step(), "main")  # a good backup first (and the hooks imported)
    later = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    directory = keys.backup_dir("postgres", keys.FULL, "main", keys.stamp(later, "x"))
    with pg.connect(SOURCE_DB, autocommit=False) as migration:
        migration.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        step = make_step(logical_date=later)
        bodies.backup_full(step, "main")
        elapsed = time.monotonic() - started
        migration.rollback()
    assert step.actions[-1].status is ActionStatus.FAILED
    # whichever gives up first: pg_dump --lock-wait-timeout on its LOCK TABLE ("statement timeout"
    # in its words) or the row counts' lock_timeout
    assert "timeout" in step.actions[-1].message, step.actions[-1].message
    assert elapsed < 6  # 1 s lock timeout, not the hour-long statement timeout: it did not queue behind the lock
    assert objects(s3, directory) == {}
    assert _no_uploads(s3.client()) == []

    bodies.backup_full(make_step(logical_date=later, try_number=2), "main")  # lock gone: the retry succeeds
    assert set(objects(s3, directory)) == backup_files(good_dir(s3, directory))


def _release_after_the_count_gave_up(pg: Any, migration: Any) -> None:
    waiting = ("SELECT count(*) FROM pg_stat_activity"
               " WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT count(*) FROM%orders%'")
    deadline, seen = time.monotonic() + 60, False
    try:
        with pg.connect(SOURCE_DB) as watcher:
            while time.monotonic() < deadline:
                now_waiting = watcher.execute(waiting).fetchone()[0] > 0
                if seen and not now_waiting:
                    break
                seen = seen or now_waiting
                time.sleep(0.05)
    finally:
        migration.rollback()


def test_a_count_that_cannot_take_its_lock_never_fails_the_dump(env, s3, pg, tmp_path):
    # A migration holds orders until the row count of orders gave up at its 1 s lock_timeout (seen
    # waiting, then gone; at most 60 s); pg_dump may wait for it (a wrapper gives it 600 s): that
    # table goes uncounted, the backup lands.
    env(postgres={"lock_timeout_seconds": 1},
        bin_dir=str(_wrapper_bin(tmp_path, 'exec REAL "$@" --lock-wait-timeout=600000\n')))
    with pg.connect(SOURCE_DB, autocommit=False) as migration:
        migration.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        threading.Thread(target=_release_after_the_count_gave_up, args=(pg, migration), daemon=True).start()
        step = make_step()
        bodies.backup_full(step, "main")
    assert step.actions[-1].status is ActionStatus.DONE, step.actions
    manifest = json.loads(s3.client().get_object(Bucket=bucket_of(), Key=good_dir(s3) + keys.MANIFEST)["Body"].read())
    assert manifest["row_counts"]['sales."Line Items"'] == 1234  # counted in the dump's snapshot
    assert "public.orders" not in manifest["row_counts"]
    assert "lock timeout" in manifest["details"]["uncounted"]["public.orders"]
    assert manifest["row_counts_exact"] is False


def test_big_tables_get_an_estimate_not_a_second_read(env, s3, pg):
    env(full={"count_max_table_mb": 0})  # count nothing: every table is "big"
    step = make_step()
    bodies.backup_full(step, "main")
    assert step.actions[-1].status is ActionStatus.DONE, step.actions
    manifest = json.loads(s3.client().get_object(Bucket=bucket_of(), Key=good_dir(s3) + keys.MANIFEST)["Body"].read())
    assert manifest["row_counts"] == {}
    assert manifest["row_counts_exact"] is False
    assert set(manifest["details"]["row_estimates"]) >= {"public.orders", 'sales."Line Items"'}
    restore = make_step("maintenance_weekly")
    bodies.restore_test(restore, "main")  # nothing to compare for estimated tables: it restores and passes
    assert [f.severity for f in restore.findings if f.check == "backup.restore_test"] == [Severity.OK]


def test_stream_outgrowing_the_part_limit_is_aborted_with_a_clear_error(env, s3):
    # incompressible data: 3 parts of 5 MB where only 2 are allowed
    def feed(write: Callable[[bytes], None]) -> None:
        for _ in range(16):
            write(os.urandom(1 << 20))

    with pytest.raises(stream.TooManyParts, match=r"more than 2 parts of 5 MB .*raise backups.part_size_mb"):
        stream.upload_stream(s3.client(), bucket_of(), "too/big.zst", feed, level=1, part_size=5 << 20, max_parts=2,
                             stall_s=60)
    assert objects(s3) == {}
    assert _no_uploads(s3.client()) == []


def test_s3_endpoint_dying_mid_upload_fails_and_retry_cleans_up(env, s3, tmp_path, pg, connections):
    own = servers.S3Server().start()
    try:
        # moto keeps its state per process: this endpoint serves the same buckets
        connections(own.connection_env("maintenance_s3"))
        os.environ["AWS_MAX_ATTEMPTS"] = "2"
        # pg_dump streams its data, then stalls; the endpoint dies while the upload is open
        env(bin_dir=str(_wrapper_bin(tmp_path, 'case "$1" in --version) exec REAL "$@";; esac\n'
                                                'REAL "$@"\nsleep 3\n')))
        step = make_step()
        runner = threading.Thread(target=bodies.backup_full, args=(step, "main"))
        runner.start()
        deadline = time.monotonic() + 20
        while not _no_uploads(own.client()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _no_uploads(own.client()), "the multipart upload never started"
        own.stop()
        runner.join(60)
        assert step.actions[-1].status is ActionStatus.FAILED
        own.start()  # same port, same in-process moto state
        assert objects(own) == {}
        env()
        bodies.backup_full(make_step(try_number=2), "main")
        assert set(objects(own)) == backup_files(good_dir(own))
        assert _no_uploads(own.client()) == []  # the killed attempt's upload was aborted by the retry
    finally:
        os.environ.pop("AWS_MAX_ATTEMPTS", None)
        own.stop()


def test_lifecycle_is_ensured_idempotently_and_checked_against_config(env, s3):
    from mercenary_maintenance import bucket_lifecycle
    from mercenary_maintenance.wiring import registry

    client = s3.client()
    client.put_bucket_lifecycle_configuration(Bucket=bucket_of(), LifecycleConfiguration={"Rules": [
        {"ID": "logs-archive", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 90}},
        {"ID": "mercenary-logs-removed-set", "Status": "Enabled", "Filter": {"Prefix": "logs/removed-set/"},
         "Expiration": {"Days": 9}}]})
    cfg = load_config()
    changes = bucket_lifecycle.ensure(client, cfg, registry.LIFECYCLE_RULES)
    assert "rule mercenary-backup-full missing" in changes
    assert "rule mercenary-logs-removed-set no longer configured" in changes
    assert bucket_lifecycle.ensure(client, cfg, registry.LIFECYCLE_RULES) == []  # idempotent
    rules = {r["ID"]: r for r in bucket_lifecycle.current_rules(client, bucket_of())}
    assert rules["mercenary-backup-full"]["Transitions"][0] == {"Days": 7, "StorageClass": "GLACIER"}
    assert "logs-archive" in rules  # foreign rules kept
    assert "mercenary-logs-removed-set" not in rules  # ours, no longer configured
    # one writer: the backup side also writes the log sets' rules, so neither can erase the other's
    assert cfg.logs.sets
    assert {f"mercenary-logs-{s.name}" for s in cfg.logs.sets} <= set(rules)
    step = make_step("maintenance_daily")
    bodies.check_retention(step)
    assert [f.severity for f in step.findings if f.check == "backup.retention"] == [Severity.OK]

    uploads = f"up-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=uploads)
    env(full={"retention_days": 45, "glacier_after_days": 14}, uploads_bucket=uploads)
    drifted = make_step("maintenance_daily")
    bodies.check_retention(drifted)
    bodies.check_uploads(drifted)
    by_check = {f.check: f for f in drifted.findings}
    assert by_check["backup.retention"].severity is Severity.CRITICAL
    assert by_check["backup.uploads_versioning"].severity is Severity.CRITICAL
    client.put_bucket_versioning(Bucket=uploads, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_lifecycle_configuration(Bucket=uploads, LifecycleConfiguration={"Rules": [
        {"ID": "keep-90", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}]})
    fixed = make_step("maintenance_daily")
    bodies.check_uploads(fixed)
    assert {f.check: f.severity for f in fixed.findings}["backup.uploads_versioning"] is Severity.OK


def test_retention_is_dry_run_by_default_and_never_deletes_the_newest_good_full(env, s3):
    from datetime import timedelta



    bodies.backup_full(make_step(), "main")
    oldest = good_dir(s3)
    bodies.backup_full(make_step(logical_date=LOGICAL + timedelta(days=1)), "main")
    before = set(objects(s3))
    assert len(before) == 6  # two backups of dump + globals + manifest
    far_future = datetime.now(UTC) + timedelta(days=365)  # both backups are long expired by then
    redundant = make_step()  # min_redundancy 2 (default): both are kept, whatever their age
    bodies.expire(redundant, "main", now=far_future)
    assert redundant.actions[-1].details["backups"] == []
    assert len(redundant.actions[-1].details["protected"]) == 2

    env(min_redundancy=1)
    dry = make_step()
    bodies.expire(dry, "main", now=far_future)
    assert dry.actions[-1].status is ActionStatus.DRY_RUN
    assert dry.actions[-1].details["backups"] == [oldest]
    assert set(objects(s3)) == before  # nothing deleted

    env(delete_expired=True, min_redundancy=1)
    real = make_step()
    bodies.expire(real, "main", now=far_future)
    assert real.actions[-1].status is ActionStatus.DONE
    newest = good_dir(s3, keys.backup_dir("postgres", keys.FULL, "main", keys.stamp(LOGICAL + timedelta(days=1), "x")))
    assert set(objects(s3)) == backup_files(newest)
    assert "newest good full" in real.actions[-1].details["protected"][0]


def test_backup_full_dag_end_to_end(env, s3, run_dag):
    state, report = run_dag("backup_full")
    assert report is not None
    by_action = {a["action"]: a for a in report["actions"]}
    assert by_action["backup.full"]["status"] == "done", report
    assert by_action["backup.lifecycle"]["status"] == "done"
    assert by_action["backup.expire"]["status"] == "done"  # nothing expired yet
    assert state == "success", report
    assert any(k.endswith(keys.MANIFEST) for k in objects(s3))
