"""``airflow db clean`` of a real Airflow metadata database on PostgreSQL (migrated with
``airflow db migrate``): old rows gone, the oldest row of each table measured afterwards; a
clean that fails (statement timeout behind a lock) is a critical finding, not green."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.airflow_db import bodies, clean
from mercenary_maintenance.config import parse_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

DB = "airflow_meta_clean"
CONN = "airflow_metadata"
TABLES = ["log", "job", "import_error"]


@pytest.fixture(scope="module")
def metadata(pg: servers.PostgresServer) -> Iterator[servers.PostgresServer]:
    """An Airflow metadata database on the session's PostgreSQL, migrated by Airflow itself."""
    pg.execute(f"DROP DATABASE IF EXISTS {DB}")
    pg.execute(f"CREATE DATABASE {DB}")
    home = Path(tempfile.mkdtemp(prefix="mm-airflow-db-"))
    env = servers.airflow_env(home) | {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.uri(DB).replace("postgresql://", "postgresql+psycopg://")}
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    yield pg
    pg.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def seed(pg: servers.PostgresServer) -> None:
    """Rows 200 days old (to go) and 10 days old (to stay) in each table."""
    with pg.connect(DB) as conn:
        conn.execute("TRUNCATE log, job, import_error")
        for age in (200, 200, 10):
            when = f"now() - interval '{age} days'"
            conn.execute(f"INSERT INTO log (dttm, event, dag_id) VALUES ({when}, 'cli_test', 'maintenance_daily')")
            conn.execute(f"INSERT INTO job (dag_id, state, job_type, start_date, latest_heartbeat, hostname) "
                         f"VALUES ('maintenance_daily', 'success', 'SchedulerJob', {when}, {when}, 'w1')")
            conn.execute(f"INSERT INTO import_error (timestamp, filename, bundle_name, stacktrace) "
                         f"VALUES ({when}, 'dags/x.py', 'dags-folder', 'boom')")


def counts(pg: servers.PostgresServer) -> dict[str, tuple[int, int]]:
    """table → (rows older than 90 days, all rows)."""
    out = {}
    with pg.connect(DB) as conn:
        for table in TABLES:
            column = clean.RECENCY[table]
            row = conn.execute(f"SELECT count(*) FILTER (WHERE {column} < now() - interval '90 days'), count(*) "
                               f"FROM {table}").fetchone()
            out[table] = (int(row[0]), int(row[1]))
    return out


def step_for(pg: servers.PostgresServer, monkeypatch: pytest.MonkeyPatch, **airflow_db: Any) -> Step:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", pg.uri(DB))
    cfg = parse_config({"airflow_db": {"conn_id": CONN, "retention_days": 90, "tables": TABLES, **airflow_db}})
    return Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="r", task_id="airflow_db.clean_airflow_metadata"))


def finding(step: Step, check: str) -> Any:
    return next(f for f in step.findings if f.check == check)


def test_clean_removes_old_rows_and_proves_it(metadata: servers.PostgresServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seed(metadata)
    assert counts(metadata) == {t: (2, 3) for t in TABLES}
    step = step_for(metadata, monkeypatch)
    bodies.clean_metadata(step)
    after = counts(metadata)
    # The 10-day-old rows stay; `log` also has the CLI's own audit row of this clean.
    assert {t: after[t][0] for t in TABLES} == {t: 0 for t in TABLES}, step.actions
    assert after["job"][1] == after["import_error"][1] == 1
    assert after["log"][1] >= 1
    action = next(a for a in step.actions if a.action == clean.CLEAN)
    assert action.status is ActionStatus.DONE, action.message
    assert finding(step, clean.CLEAN).severity is Severity.OK
    retention = finding(step, clean.RETENTION)
    assert retention.severity is Severity.OK, retention.message
    # The postcondition was measured on each table: the 10-day-old rows are the oldest left.
    assert set(retention.details["tables"]) == set(TABLES)
    for table in TABLES:
        measured = retention.details["tables"][table]
        assert measured["stale_rows"] == 0
        assert measured["rows"] == after[table][1]
        assert 9.9 <= measured["oldest_days"] <= 10.1
    assert not step.errors


def test_a_clean_that_times_out_is_critical_and_the_old_rows_are_reported(
        metadata: servers.PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(metadata)
    # A session holding SHARE on `log`: reads go on, the clean's DELETE waits — and its
    # statement_timeout (2 s, below the lock_timeout) cancels it.
    holder = metadata.connect(DB, autocommit=False)
    try:
        holder.execute("LOCK TABLE log IN SHARE MODE")
        step = step_for(metadata, monkeypatch, statement_timeout_seconds=2, lock_timeout_seconds=60)
        bodies.clean_metadata(step)
    finally:
        holder.rollback()
        holder.close()
    action = next(a for a in step.actions if a.action == clean.CLEAN)
    assert action.status is ActionStatus.FAILED
    failed = finding(step, clean.CLEAN)
    assert failed.severity is Severity.CRITICAL
    assert "airflow db clean failed" in failed.message
    assert "canceling statement due to statement timeout" in failed.message
    assert "['log']" in failed.message
    # Measured anyway: the rows the clean could not remove are named, critical.
    retention = finding(step, clean.RETENTION)
    assert retention.severity is Severity.CRITICAL, retention.message
    assert retention.details["tables"]["log"]["stale_rows"] == 2
    assert "log 2" in retention.message


def test_without_a_connection_the_clean_says_it_is_off() -> None:
    step = Step(parse_config({}), RunInfo(dag_id="maintenance_weekly", run_id="r"))
    bodies.clean_metadata(step)
    (only,) = step.findings
    assert only.check == clean.CLEAN
    assert only.details == {"not_configured": True}
    assert "airflow_db.conn_id" in only.message
    assert not step.actions


def test_the_doctor_checks_the_metadata_database(metadata: servers.PostgresServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from mercenary_maintenance.doctor import Context
    from mercenary_maintenance.doctor.probes import airflow_db_probe

    def probe(uri: str | None) -> list[Any]:
        if uri:
            monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", uri)
        cfg = parse_config({"airflow_db": {"conn_id": CONN if uri else None, "tables": TABLES}})
        return list(airflow_db_probe(Context(cfg, datetime.now(UTC))))

    (off,) = probe(None)
    assert (off.status, off.fix) == ("off", "airflow_db.conn_id")
    (good,) = probe(metadata.uri(DB))
    assert good.status == "ok", good.message
    (wrong,) = probe(metadata.uri("postgres"))
    assert wrong.status == "fix"
    assert "not an Airflow metadata database" in wrong.message
    # A role that may read the tables but not delete from them: the GRANT to run.
    metadata.execute("DROP ROLE IF EXISTS mm_reader")
    metadata.execute("CREATE ROLE mm_reader LOGIN PASSWORD 'reader-pw'")
    metadata.execute("GRANT SELECT ON log, job, import_error, alembic_version TO mm_reader", DB)
    try:
        (denied,) = probe(f"postgresql://mm_reader:reader-pw@127.0.0.1:{metadata.port}/{DB}")
        assert denied.status == "fix"
        assert denied.fix == 'GRANT DELETE ON log, job, import_error TO "mm_reader";'
    finally:
        metadata.execute("REVOKE ALL ON log, job, import_error, alembic_version FROM mm_reader", DB)
        metadata.execute("DROP ROLE mm_reader")
