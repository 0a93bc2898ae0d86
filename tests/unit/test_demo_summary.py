"""The demo's summary and DAG ordering (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mercenary_dev.demo.run import DemoError, dag_ids, demo_config
from mercenary_dev.demo.summary import DagResult, render

ROOT = Path(__file__).resolve().parents[2]


def result(dag_id: str, report: dict | None) -> DagResult:
    return DagResult(dag_id, 0 if report else 1, 1.5, report, None, Path(f"/logs/{dag_id}.log"))


def test_summary_counts_findings_and_actions_and_flags_failures() -> None:
    daily = {"status": "critical", "failed_tasks": [], "findings": [
        {"check": "postgres.dead_tuples", "target": "main", "severity": "critical", "message": "30% dead"},
        {"check": "redis.slowlog", "target": "cache", "severity": "warning", "message": "slow"},
        {"check": "services.status", "target": "all", "severity": "ok", "message": "up"},
        {"check": "http.security_headers", "target": "all", "severity": "ok", "details": {"not_configured": True},
         "message": "not configured: targets.http is empty"},
    ], "actions": [{"action": "postgres.vacuum_analyze", "status": "dry_run"}]}
    weekly = {"status": "failed", "failed_tasks": ["backups.restore_test[0]"], "findings": [], "actions": [
        {"action": "backup.restore_test", "status": "failed"}]}
    text = render([result("maintenance_daily", daily), result("maintenance_weekly", weekly),
                   result("backup_full", None)], Path("/r"), slack_messages=3, total_s=61)
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith(("maintenance_", "backup_"))}
    assert lines["maintenance_daily"].split()[1:4] == ["critical", "1/1/0/2", "0/1/0/0"]
    unconfigured = text.split("Checks with nothing configured", 1)[1]
    assert "http.security_headers" in unconfigured
    assert "targets.http is empty" in unconfigured
    assert lines["maintenance_weekly"].split()[1:4] == ["FAILED", "0/0/0/0", "0/0/0/1"]
    assert "NO REPORT backup_full" in text
    assert "FAILED maintenance_weekly: tasks backups.restore_test[0]" in text
    assert text.index("postgres.dead_tuples") < text.index("redis.slowlog")  # critical first
    assert "services.status" not in text  # ok findings are counted, not listed
    assert "Slack messages received by the local webhook: 3" in text
    assert "Total time: 61 s" in text


def test_dag_order_puts_backups_before_their_verification() -> None:
    order = dag_ids(ROOT / "dags")
    assert len(order) == 9
    assert order.index("backup_full") < order.index("maintenance_daily") < order.index("maintenance_weekly")
    assert order.index("maintenance_preview") < order.index("maintenance_weekly")  # planned vs done
    assert dag_ids(ROOT / "dags", ["alert_evaluation", "backup_full"]) == ["backup_full", "alert_evaluation"]
    with pytest.raises(DemoError, match="unknown DAG ids"):
        dag_ids(ROOT / "dags", ["nope"])


def test_demo_config_is_valid(tmp_path: Path) -> None:
    from mercenary_maintenance.config import parse_config

    cfg = parse_config(demo_config(tmp_path))
    assert cfg.reports.url == f"file://{tmp_path / 'reports'}"
    assert cfg.cleanup.dry_run is True


def test_summary_shows_the_preview_plan() -> None:
    preview = {"status": "ok", "failed_tasks": [], "findings": [], "actions": [], "plan": [
        {"window_dag_id": "maintenance_monthly", "window_start": "2026-12-06T01:00:00+00:00", "target": "main",
         "action": "postgres.vacuum_full", "objects": ["demo.ledger"], "estimate_s": 3.0, "estimate_basis": "size",
         "lock": "ACCESS EXCLUSIVE (every read and write waits)"}]}
    text = render([result("maintenance_preview", preview)], Path("/r"), slack_messages=0, total_s=1)
    assert "Plan of the coming windows (maintenance_preview): 1 item(s)" in text
    [line] = [ln for ln in text.splitlines() if "postgres.vacuum_full" in ln]
    assert "monthly 2026-12-06T01:00" in line
    assert "demo.ledger" in line
    assert "~3 s (size), ACCESS EXCLUSIVE" in line
