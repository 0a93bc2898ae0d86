"""Reports on S3 are written once; a failing task still yields a report and a failed run."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import open_store, store_for
from tests.unit.test_report import sample_report


def test_s3_store_never_overwrites(s3: Any) -> None:
    client = s3.client()
    client.create_bucket(Bucket="reports-bucket")
    store = open_store("s3://reports-bucket/audit", client=client)
    report = sample_report()
    first = store.write_report(report, render_markdown(report))
    second = store.write_report({**report, "status": "failed"}, "retry")
    assert first == f"s3://reports-bucket/audit/maintenance_weekly/{report['run_id']}/report.json"
    assert second.endswith("/attempts/report.json.2")
    body = client.get_object(Bucket="reports-bucket", Key=first.split("reports-bucket/")[1])["Body"].read()
    assert b'"status": "warning"' in body
    assert store.read_report(report["dag_id"], report["run_id"])["status"] == "failed"
    assert store.run_ids("maintenance_weekly") == [report["run_id"]]


def test_configured_store_encrypts_reports_at_rest(s3: Any, connections: Any) -> None:
    connections(s3.connection_env("maintenance_s3"))
    s3.client().create_bucket(Bucket="enc-reports")
    cfg = parse_config({"reports": {"url": "s3://enc-reports/audit"},
                        "backups": {"server_side_encryption": "AES256"}})
    report = sample_report()
    location = store_for(cfg).write_report(report, render_markdown(report))
    head = s3.client().head_object(Bucket="enc-reports", Key=location.split("enc-reports/")[1])
    assert head["ServerSideEncryption"] == "AES256"


def test_failing_task_still_writes_the_report_and_fails_the_run(
    pg, redis_server, s3, write_config, connections, run_dag
):
    connections({**pg.connection_env("maintenance_postgres"), **redis_server.connection_env("maintenance_redis"),
                 **s3.connection_env("maintenance_s3")})
    write_config({"host": {"paths": ["/", "/definitely/not/here"]}})
    state, report = run_dag("maintenance_daily")
    assert state == "failed"
    assert report is not None
    assert report["status"] == "failed"
    assert "health.check_host[0]" in report["failed_tasks"]  # mapped over hosts: the implicit "local"
    unknown = [f for f in report["findings"] if f["severity"] == "unknown" and f["check"] == "host.disk_usage"]
    assert unknown
    assert "/definitely/not/here" in unknown[0]["message"]
    assert any(f["target"].endswith(":/") and f["check"] == "host.disk_usage" for f in report["findings"]), \
        "the other path was still checked"
