"""End to end: the daily DAG against real PostgreSQL and Redis, report written."""

from __future__ import annotations

from typing import Any


def test_daily_dag_writes_report_against_real_services(
    pg, redis_server, s3, slack, write_config, connections, run_dag
):
    connections({**pg.connection_env("maintenance_postgres"), **redis_server.connection_env("maintenance_redis"),
                 **s3.connection_env("maintenance_s3"), **slack.connection_env("maintenance_slack")})
    write_config({"host": {"paths": ["/"]}})
    state, report = run_dag("maintenance_daily")
    assert report is not None
    statuses = {f["check"]: f for f in report["findings"] if f["check"] == "services.status"}
    assert statuses
    by_target: dict[str, Any] = {f["target"]: f for f in report["findings"] if f["check"] == "services.status"}
    assert by_target["postgres:main"]["severity"] == "ok"
    assert by_target["redis:cache"]["severity"] == "ok"
    assert report["run_type"] == "manual"
    assert pg.password not in str(report)
    # No backup bucket, no backups: that is a critical finding, not a crash of the check.
    freshness = [f for f in report["findings"] if f["check"] == "backup.freshness"]
    assert freshness
    assert all(f["severity"] == "critical" for f in freshness)
    assert report["status"] == "critical"
    assert state == "success", report["failed_tasks"]
    # One Slack notice for the run, naming the critical finding, no secret.
    [notice] = slack.messages
    assert "backup.freshness" in notice["text"]
    assert "finished *critical*" in notice["text"]
    assert pg.password not in notice["text"]
