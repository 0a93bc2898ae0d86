"""The airflow_db area's pure parts: config, the command line, the postcondition's verdict."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mercenary_maintenance.airflow_db import clean
from mercenary_maintenance.config import AIRFLOW_DB_TABLES, ConfigError, parse_config
from mercenary_maintenance.findings import Severity

CUTOFF = datetime(2026, 9, 7, tzinfo=UTC)


def test_defaults_are_off_with_the_design_retention() -> None:
    cfg = parse_config({}).airflow_db
    assert cfg.conn_id is None
    assert cfg.retention_days == 90
    assert cfg.tables == list(AIRFLOW_DB_TABLES)
    assert set(AIRFLOW_DB_TABLES) == set(clean.RECENCY)  # every supported table can be measured


def test_an_unsupported_table_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="dag_version"):
        parse_config({"airflow_db": {"conn_id": "m", "tables": ["log", "dag_version"]}})


def test_a_clean_that_said_ok_but_left_old_rows_is_critical() -> None:
    rows = {"log": {"oldest_s": 86400.0 * 10, "stale": 0, "total": 4},
            "job": {"oldest_s": 86400.0 * 300, "stale": 12, "total": 20}}
    found = clean.retention_finding(rows, CUTOFF, 90, clean_ok=True)
    assert found.severity is Severity.CRITICAL
    assert found.message.startswith("the clean reported success, yet 12 row(s)")
    assert "job 12 (oldest 300.0 d)" in found.message
    assert found.value == 300.0
    assert found.details["tables"]["log"] == {"oldest_days": 10.0, "stale_rows": 0, "rows": 4}


def test_empty_tables_are_ok() -> None:
    found = clean.retention_finding({"xcom": {"oldest_s": None, "stale": 0, "total": 0}}, CUTOFF, 90, True)
    assert found.severity is Severity.OK
    assert found.details["tables"]["xcom"]["oldest_days"] is None


def test_the_command_never_archives_and_fails_on_a_table_error() -> None:
    argv = clean.clean_argv(CUTOFF, ["log"], 100)
    assert argv[1:5] == ["-m", "airflow", "db", "clean"]
    assert {"--skip-archive", "--error-on-cleanup-failure", "--yes"} <= set(argv)


def test_the_password_stays_out_of_the_url() -> None:
    env = clean.clean_env({"PGHOST": "db", "PGUSER": "airflow", "PGPASSWORD": "s3cret"}, "/tmp/h", 300, 5)
    assert "s3cret" not in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["PGPASSWORD"] == "s3cret"
    assert env["PGOPTIONS"] == "-c statement_timeout=300000 -c lock_timeout=5000"
