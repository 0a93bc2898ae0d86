"""Restores prove the data (issue 26 item 5), against real PostgreSQL 15 and moto S3: pg_amcheck on
the restored copy names a corrupted index, the source's roles and grants are replayed and compared,
a restore that does not fit is refused with both numbers, and the daily run reads checksum failures."""

from __future__ import annotations

from typing import Any

import pytest

from mercenary_maintenance.backups import bodies, proof, restore
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.postgres import checks
from tests.integration.backup_helpers import backup_env
from tests.integration.test_backups_full import make_step

DB = "bk_proof"


@pytest.fixture(scope="module")
def source(pg: Any) -> str:
    """Its own database (the PostgreSQL server is shared by the session): a table with an index, a
    role with a grant."""
    pg.create_database(DB)
    pg.execute("""
        CREATE TABLE orders (id bigint PRIMARY KEY, note text);
        INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
        DO $$ BEGIN CREATE ROLE report_reader LOGIN PASSWORD 'never-in-a-backup';
        EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        GRANT SELECT ON orders TO report_reader;
        """, DB)
    return DB


@pytest.fixture
def env(pg, s3, source, write_config, connections) -> Any:
    return backup_env(pg, s3, source, write_config, connections, "bproof")


def verdicts(step: Any) -> list[Any]:
    return [f for f in step.findings if f.check == "backup.restore_test"]


def test_restored_copy_is_amchecked_and_its_roles_and_grants_match(env, s3):
    bodies.backup_full(make_step(), "main")
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.OK, verdict
    assert "amcheck clean, roles and grants match" in verdict.message
    details = verdict.details
    assert details["amcheck"]["corrupt_relations"] == []
    assert details["amcheck"]["exit_code"] == 0
    assert details["globals"]["applied"] is True
    assert details["globals"]["missing"] == details["globals"]["unexpected"] == []
    assert details["globals"]["roles"] >= 2  # report_reader and the source's superuser


def _corrupt_index_after_restore(monkeypatch: pytest.MonkeyPatch, index: str) -> list[str]:
    """Let the restore run, then overwrite the middle of the index's first leaf page on disk (the
    scratch server's copy only), before amcheck reads it."""
    original = restore.verify_restored
    hit: list[str] = []

    def verify_then_corrupt(pg: Any, scratch_db: str, *args: Any) -> None:
        original(pg, scratch_db, *args)
        with pg.connect(scratch_db) as conn:
            data_dir = conn.execute("SHOW data_directory").fetchone()[0]
            relpath = conn.execute("SELECT pg_relation_filepath(%s)", [index]).fetchone()[0]
            conn.execute("CHECKPOINT")
        path = f"{data_dir}/{relpath}"
        with open(path, "r+b") as fh:  # block 1: the first leaf page (block 0 is the metapage)
            fh.seek(8192 + 3000)
            fh.write(bytes(range(256)) * 8)
        hit.append(path)

    monkeypatch.setattr(restore, "verify_restored", verify_then_corrupt)
    return hit


def test_corrupted_index_in_the_restored_copy_is_critical_naming_it(env, s3, monkeypatch):
    bodies.backup_full(make_step(), "main")
    hit = _corrupt_index_after_restore(monkeypatch, "orders_pkey")
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    assert hit, "the corruption was not planted"
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.CRITICAL
    assert "amcheck found corruption in" in verdict.message
    assert "public.orders_pkey" in verdict.message, verdict.message
    assert any(r.endswith("public.orders_pkey") for r in verdict.details["amcheck"]["corrupt_relations"])
    assert step.actions[-1].status is ActionStatus.FAILED


def test_restore_that_does_not_fit_is_refused_with_both_numbers(env, s3, monkeypatch):
    bodies.backup_full(make_step(), "main")
    monkeypatch.setattr(proof, "free_bytes", lambda path: 4096)
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.CRITICAL
    need = verdict.details["estimated_bytes"]
    assert need > 4096
    assert verdict.details["free_bytes"] == 4096
    assert f"needs about {need} bytes" in verdict.message
    assert "only 4096 bytes" in verdict.message
    assert step.actions[-1].status is ActionStatus.FAILED


def test_daily_run_reads_checksum_failures(env, pg):
    step = make_step("maintenance_daily")
    checks.run_checks(step, "main", [checks.BY_NAME["postgres.checksum_failures"]], "daily checks")
    [finding] = [f for f in step.findings if f.check == "postgres.checksum_failures"]
    assert finding.severity is Severity.OK
    assert finding.value == 0
    with pg.connect() as conn:
        enabled = conn.execute("SHOW data_checksums").fetchone()[0] == "on"
    assert finding.details["checksums_enabled"] is enabled
    assert ("no data-page checksum failures" if enabled else "data checksums are off") in finding.message


def test_restore_seconds_are_measured_per_phase_and_compared_with_the_rto(env, s3):
    bodies.backup_full(make_step(), "main")
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    [verdict] = verdicts(step)
    d = verdict.details
    assert verdict.severity is Severity.OK, verdict
    assert d["jobs"] == 4  # a seekable local copy fits: pg_restore -j 4
    assert set(d["phases"]) == {"globals", "download", "restore", "post_data", "verify"}
    assert all(isinstance(v, float) and v >= 0 for v in d["phases"].values()), d["phases"]
    assert d["restore_seconds"] == pytest.approx(sum(d["phases"].values()), abs=0.01)
    assert verdict.value == d["restore_seconds"]
    assert d["rto_seconds"] == 3600
    assert d["count_diff"] == {}

    env(rto_minutes=0.001, restore_jobs=1)  # 60 ms: any real restore is over it; streamed
    slow = make_step("maintenance_weekly")
    bodies.restore_test(slow, "main")
    [late] = verdicts(slow)
    assert late.severity is Severity.WARNING
    assert "over backups.rto_minutes 0.001" in late.message
    assert late.details["jobs"] == 1
    assert late.details["phases"]["download"] is None  # streamed: overlaps the restore
    assert slow.actions[-1].status is ActionStatus.DONE


def test_no_room_for_a_local_copy_streams_instead(env, s3, monkeypatch):
    from mercenary_maintenance.backups import destination

    bodies.backup_full(make_step(), "main")
    step = make_step("maintenance_weekly")
    manifest = {}

    original = destination.estimated_bytes

    def remember(m: Any) -> int:
        manifest["need"] = original(m)
        return manifest["need"]

    monkeypatch.setattr(destination, "estimated_bytes", remember)
    # room for the restore, not for the restore plus a local copy of the dump
    monkeypatch.setattr(proof, "free_bytes", lambda path: manifest.get("need", 0) + 10)
    bodies.restore_test(step, "main")
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.OK, verdict
    assert verdict.details["jobs"] == 1


def test_a_restore_onto_the_target_server_is_amchecked_too(env, s3, monkeypatch):
    env(restore_on="target_server", restore_max_bytes=1 << 30)
    bodies.backup_full(make_step(), "main")
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.OK, verdict
    assert "amcheck clean" in verdict.message
    assert verdict.details["restore_on"] == "target_server"
    assert (verdict.details["amcheck"]["corrupt_relations"], verdict.details["amcheck"]["exit_code"]) == ([], 0)

    hit = _corrupt_index_after_restore(monkeypatch, "orders_pkey")  # in the target server's scratch copy
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    assert hit, "the corruption was not planted"
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.CRITICAL, verdict
    assert "public.orders_pkey" in verdict.message, verdict.message
    assert step.actions[-1].status is ActionStatus.FAILED


def test_on_the_target_server_a_role_that_may_not_run_amcheck_gets_a_warning_naming_the_fix(
        env, s3, pg, connections):
    env(restore_on="target_server", restore_max_bytes=1 << 30)
    bodies.backup_full(make_step(), "main")
    pg.execute("""DO $$ BEGIN CREATE ROLE mm_restorer LOGIN CREATEDB PASSWORD 'restorer-pw';
                  EXCEPTION WHEN duplicate_object THEN NULL; END $$;""")
    pg.execute("GRANT CONNECT ON DATABASE bk_proof TO mm_restorer")
    connections({"AIRFLOW_CONN_MAINTENANCE_POSTGRES": f"postgresql://mm_restorer:restorer-pw@127.0.0.1:{pg.port}/{DB}"})
    step = make_step("maintenance_weekly")
    bodies.restore_test(step, "main")
    [verdict] = verdicts(step)
    assert verdict.severity is Severity.WARNING, verdict  # restored and counted, but not amchecked
    assert "pg_amcheck not run on the restored copy" in verdict.message
    assert "mm_restorer is not a superuser" in verdict.message
    assert "GRANT EXECUTE" in verdict.details["amcheck"]["fix"]
