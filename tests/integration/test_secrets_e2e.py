"""Secrets stay out, against real PostgreSQL, Redis, S3 (moto) and a Slack receiver.

Every connection carries a distinctive secret (PostgreSQL password, Redis password, S3
secret key, Slack webhook token) and ``pg_stat_statements`` holds a password literal
(``CREATE/ALTER ROLE … PASSWORD '…'``). The real task bodies (backup, PostgreSQL monthly
checks incl. slow queries, Redis checks, the monthly review) run through ``execute_step``,
then the report is written and announced as the report task does. None of the secrets may
appear in any report file, in the task log, in a Slack post, or in the environment of the
``pg_dump`` child (captured from ``/proc/<pid>/environ`` by a wrapper that execs the real
binary with the environment it was given).

``dag.test()`` writes no task log files, so the task log here is every log record of the
task bodies (root logger, INFO, as Airflow's task handler receives them) written to
``$AIRFLOW_HOME/logs/…``, plus everything printed to stdout/stderr.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mercenary_dev import servers

TAG = uuid.uuid4().hex[:6]
SECRETS = {
    "postgres password": f"PgDistinct{TAG}Secret",
    "redis password": f"RedisDistinct{TAG}Secret",
    "s3 secret key": f"S3Distinct{TAG}SecretKey",
    "slack webhook token": f"SlackDistinct{TAG}Token",
    "sql password literal": f"SqlLiteralDistinct{TAG}Secret",
    "sql password literal (create)": f"SqlCreateDistinct{TAG}Secret",
}


def _context(dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    return {"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id, run_type="manual", logical_date=None,
                                       triggering_user_name="auditor", data_interval_start=None,
                                       data_interval_end=None, conf={}),
            "ti": SimpleNamespace(task_id=task_id, map_index=-1, try_number=1), "params": {}, "dag": None}


def _wrapper_bin(tmp_path: Path, env_file: Path) -> Path:
    """A bin dir whose pg_dump records its environment, then execs the real one."""
    from mercenary_maintenance.backups import binaries

    real = binaries.client_dir(15)
    wrapped = tmp_path / "pgbin"
    wrapped.mkdir()
    for tool in real.iterdir():
        (wrapped / tool.name).symlink_to(tool)
    (wrapped / "pg_dump").unlink()
    script = wrapped / "pg_dump"
    script.write_text(f'#!/bin/sh\ncat /proc/$$/environ > "{env_file}.$$"\nexec "{real / "pg_dump"}" "$@"\n')
    script.chmod(0o755)
    return wrapped


@pytest.fixture
def redis_with_password():
    server = servers.RedisServer(args=["--requirepass", SECRETS["redis password"]]).start()
    yield server
    server.cleanup()


def test_no_secret_reaches_reports_logs_slack_or_child_environments(
        tmp_path, pg, s3, slack, redis_with_password, write_config, connections, monkeypatch, capfd):
    from cryptography.fernet import Fernet

    from mercenary_maintenance.reviews import measure

    # The review lists the top statements by mean time; list them all, so the fast password
    # statements are certainly among them whatever else ran in the database before.
    monkeypatch.setattr(measure, "TOP_QUERIES", 1000)

    from mercenary_maintenance.alerts.announce import announce_run
    from mercenary_maintenance.backups import bodies as backup_bodies
    from mercenary_maintenance.config import load_config
    from mercenary_maintenance.postgres import bodies
    from mercenary_maintenance.report.build import build_report, render_markdown
    from mercenary_maintenance.report.store import store_for
    from mercenary_maintenance.reviews.bodies import run_review
    from mercenary_maintenance.steps import execute_step

    # Worker-level secrets a child must not inherit either.
    worker = {"AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
              "AIRFLOW__API_AUTH__JWT_SECRET": f"JwtDistinct{TAG}Secret"}
    for key, value in worker.items():
        monkeypatch.setenv(key, value)
    everything = {**SECRETS, **worker}

    # PostgreSQL: a login role with a distinctive password, a database with pg_stat_statements,
    # and password literals that pg_stat_statements keeps verbatim.
    db, role, other = f"secrets_{TAG}", f"mm_app_{TAG}", f"mm_victim_{TAG}"
    pg.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{SECRETS['postgres password']}'")
    pg.create_database(db)
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
               "CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 500) g", db)
    for _ in range(2):
        pg.execute(f"DROP ROLE IF EXISTS {other}", db)
        pg.execute(f"CREATE ROLE {other} PASSWORD '{SECRETS['sql password literal (create)']}'", db)
        pg.execute(f"ALTER ROLE {other} PASSWORD '{SECRETS['sql password literal']}'", db)
    assert pg.scalar(f"SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%{SECRETS['sql password literal']}%'",
                     db) >= 1, "the literal is in pg_stat_statements (the leak this test guards against)"

    webhook = f"{slack.url}/services/T0{TAG.upper()}/B0{TAG.upper()}/{SECRETS['slack webhook token']}"
    redis = redis_with_password
    pg_uri = f"postgresql://{role}:{SECRETS['postgres password']}@127.0.0.1:{pg.port}/{db}"
    connections({
        "AIRFLOW_CONN_MAINTENANCE_POSTGRES": pg_uri,
        "AIRFLOW_CONN_MAINTENANCE_REDIS": f"redis://:{SECRETS['redis password']}@127.0.0.1:{redis.port}/0",
        "AIRFLOW_CONN_MAINTENANCE_S3": json.dumps({"conn_type": "aws", "login": "testing",
                                                   "password": SECRETS["s3 secret key"],
                                                   "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}),
        "AIRFLOW_CONN_MAINTENANCE_SLACK": json.dumps({"conn_type": "slackwebhook", "password": webhook}),
    })
    bucket = f"secrets-{TAG}"
    s3.client().create_bucket(Bucket=bucket)
    env_file = tmp_path / "pg_dump.environ"
    write_config({
        "targets": {"postgres": [{"name": "main"}], "redis": [{"name": "cache"}]},
        "backups": {"bucket": bucket, "bin_dir": str(_wrapper_bin(tmp_path, env_file)), "sample_restore_tables": 0},
        "postgres": {"slow_query_min_calls": 1},
        "thresholds": {"slow_query_mean_ms": {"warning": 0, "critical": 100000}},
        "alerts": {"notify_findings": "warning"},
    })

    home = Path(os.environ["AIRFLOW_HOME"])
    log_file = home / "logs" / f"secrets_e2e_{TAG}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    dag_id, run_id = "maintenance_monthly", f"manual__{datetime.now(UTC).isoformat()}"
    outcomes: dict[str, str] = {}
    try:
        for task_id, body in [
            ("backup_full", lambda step: backup_bodies.backup_full(step, "main")),
            ("postgres.check_monthly", lambda step: bodies.check_monthly(step, "main")),
        ]:
            try:
                execute_step(body, context=_context(dag_id, run_id, task_id))
                outcomes[task_id] = "success"
            except Exception as exc:
                outcomes[task_id] = f"failed: {exc}"
        try:
            run_review("monthly", context=_context(dag_id, run_id, "reviews.monthly_review"))
            outcomes["review"] = "success"
        except Exception as exc:
            outcomes["review"] = f"failed: {exc}"
        cfg = load_config()
        store = store_for(cfg)
        report = build_report(dag_id=dag_id, run_id=run_id, run_type="manual", triggered_by={"user": "auditor"},
                              window=None, started_at=None, finished_at=datetime.now(UTC).isoformat(),
                              parts=store.parts(dag_id, run_id), task_states={})
        store.write_report(report, render_markdown(report))
        announce_run(cfg, report)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    out, err = capfd.readouterr()

    # The run did the work this test is about (otherwise "no secret" would prove nothing).
    assert outcomes["backup_full"] == "success", outcomes
    backup = next(a for a in report["actions"] if a["action"] == "backup.full")
    assert backup["status"] == "done", backup
    assert any(f["check"] == "postgres.slow_queries" for f in report["findings"])
    assert "<redacted: statement may contain a secret>" in json.dumps(report["sections"]), \
        "the password statements from pg_stat_statements reached the review, redacted"
    assert outcomes["review"] == "success", outcomes
    assert any(f["check"] == "redis.memory" or "redis" in f["check"] for f in report["findings"]) or \
        report["sections"], report["findings"]
    assert slack.messages, "Slack received the run's posts"
    dumps = sorted(tmp_path.glob("pg_dump.environ.*"))
    assert dumps, "the pg_dump wrapper ran"
    log_text = log_file.read_text()
    assert "maintenance.intent" in log_text, "the task log was captured"

    reports = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert any(p.name == "report.json" for p in reports)
    places = {f"report file {p.relative_to(tmp_path)}": p.read_text(errors="replace") for p in reports}
    places["task log"] = log_text
    places["stdout/stderr"] = out + err
    places["slack posts"] = json.dumps(slack.messages)
    leaks = [(what, where) for where, text in places.items() for what, value in everything.items() if value in text]
    assert not leaks, leaks

    envs = [dict(item.split("=", 1) for item in d.read_bytes().decode().split("\0") if "=" in item) for d in dumps]
    assert any("PGHOST" in env for env in envs), "the dump itself ran through the wrapper (not only --version)"
    for env in envs:
        assert not [k for k in env if k.startswith(("AIRFLOW", "AWS_", "MAINTENANCE_"))], sorted(env)
        assert set(env) <= {"PATH", "LANG", "LANGUAGE", "TZ", "HOME", "TMPDIR", "PGHOST", "PGPORT", "PGUSER",
                            "PGDATABASE", "PGAPPNAME", "PGCONNECT_TIMEOUT", "PGPASSWORD", "PGSSLMODE", "PWD",
                            "SHLVL", "_"} | {
            k for k in env if k.startswith("LC_")}, sorted(env)
        # The dump gets its own target's password (PGPASSWORD, per call) and no other secret.
        if "PGHOST" in env:
            assert env.get("PGPASSWORD") == SECRETS["postgres password"]
        others = {k: v for k, v in everything.items() if k != "postgres password"}
        assert not [k for k, v in others.items() if v in "\n".join(f"{a}={b}" for a, b in env.items())]
