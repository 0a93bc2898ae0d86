"""Daily sample restore against real PostgreSQL 15 and moto S3: schema + the smallest tables of the
latest full backup into a scratch database, counts vs the manifest; tampered manifest, corrupt object,
no backup, disabled."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.backups import bodies, keys
from mercenary_maintenance.findings import Severity
from tests.integration.backup_helpers import backup_env
from tests.integration.test_backups_full import bucket_of, good_dir, make_step, manifest_of

SOURCE_DB = "bk_sample_source"
SAMPLED = {"public.child": 2, 'sales."Line Items"': 7, "public.mid": 20}


@pytest.fixture(scope="module")
def source(pg: servers.PostgresServer) -> str:
    """A big table, a parent/child pair with a foreign key (only the child is sampled), odd names."""
    pg.create_database(SOURCE_DB)
    pg.execute(
        """
        CREATE TABLE big (id bigint PRIMARY KEY, note text);
        INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
        CREATE TABLE parent (id int PRIMARY KEY);
        INSERT INTO parent SELECT generate_series(1, 100);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id));
        INSERT INTO child VALUES (1, 1), (2, 2);
        CREATE SCHEMA sales;
        CREATE TABLE sales."Line Items" (id int, qty int);
        INSERT INTO sales."Line Items" SELECT g, g % 7 FROM generate_series(1, 7) g;
        CREATE TABLE mid (id int);
        INSERT INTO mid SELECT generate_series(1, 20);
        CREATE TABLE empty_one (x int);
        CREATE INDEX mid_id ON mid (id);
        """,
        SOURCE_DB,
    )
    return SOURCE_DB


@pytest.fixture
def env(pg, s3, source, write_config, connections) -> Callable[..., dict[str, Any]]:
    """Connections + a config with a fresh bucket; returns a function to (re)write the config."""
    return backup_env(pg, s3, source, write_config, connections, "bs")


def verdict_of(target: str = "main") -> Any:
    step = make_step("maintenance_daily")
    bodies.sample_restore(step, target)
    found = [f for f in step.findings if f.check == "backup.sample_restore"]
    assert len(found) == 1, step.findings
    assert step.errors == []
    return found[0]


def scratch_databases(pg: servers.PostgresServer) -> list[str]:
    with pg.connect() as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'mm\\_%'").fetchall()]


def test_sample_restore_matches_then_tampered_count_is_critical(env, s3, pg):
    bodies.backup_full(make_step(), "main")
    ok = verdict_of()
    assert ok.severity is Severity.OK, ok
    assert ok.details["tables"] == SAMPLED
    assert ok.details["restored"] == SAMPLED
    assert ok.details["missing_tables"] == []
    assert all(ok.details[k] >= 0 for k in ("list_s", "restore_s", "verify_s"))
    assert ok.details["scratch_database"].startswith("mm_restore_main_")
    assert scratch_databases(pg) == []  # the scratch database is dropped
    with pg.connect(SOURCE_DB) as conn:  # the source is untouched
        assert conn.execute("SELECT count(*) FROM big").fetchone()[0] == 5000

    manifest = manifest_of(s3, good_dir(s3))
    manifest["row_counts"]["public.mid"] = 21
    s3.client().put_object(Bucket=bucket_of(), Key=good_dir(s3) + keys.MANIFEST, Body=json.dumps(manifest).encode())
    bad = verdict_of()
    assert bad.severity is Severity.CRITICAL, bad
    assert "public.mid" in bad.message
    assert bad.details["count_diff"] == {"public.mid": {"expected": 21, "restored": 20}}
    assert scratch_databases(pg) == []


def test_corrupt_object_is_critical_naming_the_tables(env, s3, pg):
    bodies.backup_full(make_step(), "main")
    client = s3.client()
    dump = good_dir(s3) + keys.DUMP
    data = bytearray(client.get_object(Bucket=bucket_of(), Key=dump)["Body"].read())
    data[20:] = bytes(b ^ 0x5A for b in data[20:])  # the frame header survives, the content does not
    client.put_object(Bucket=bucket_of(), Key=dump, Body=bytes(data))
    bad = verdict_of()
    assert bad.severity is Severity.CRITICAL, bad
    assert "failed" in bad.message
    assert "public.child" in bad.message
    assert "public.mid" in bad.message
    assert scratch_databases(pg) == []


def test_no_backup_is_critical_and_zero_tables_disables(env):
    missing = verdict_of()
    assert missing.severity is Severity.CRITICAL
    assert missing.message == "no full backup to sample"
    env(sample_restore_tables=0)
    disabled = verdict_of()
    assert disabled.severity is Severity.OK
    assert "disabled" in disabled.message
