"""Report building, rendering and the write-once store (local disk)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mercenary_maintenance.report.build import build_report, latest_parts, render_markdown, run_status
from mercenary_maintenance.report.store import FileBackend, ReportStore, open_store


def part(task: str, try_number: int, severity: str = "ok", error: str | None = None,
         action_status: str | None = None, map_index: int = -1) -> dict[str, Any]:
    findings = [{"check": "postgres.connections", "target": "main", "severity": severity, "value": 1,
                 "threshold": 80, "message": f"try {try_number}", "details": {}}]
    actions = ([{"action": "postgres.vacuum_analyze", "target": "main", "status": action_status, "duration_s": 1.0,
                 "message": "m | with pipe", "details": {}}] if action_status else [])
    return {"task_id": task, "map_index": map_index, "try_number": try_number, "findings": findings,
            "actions": actions, "error": error, "skipped": None, "started_at": "s", "finished_at": "f"}


def test_a_retry_replaces_earlier_tries_of_the_same_task() -> None:
    kept = latest_parts([part("a", 1, "critical", error="x"), part("a", 2), part("a", 1, map_index=1)])
    assert [(p["task_id"], p["map_index"], p["try_number"]) for p in kept] == [("a", -1, 2), ("a", 1, 1)]


def test_status_precedence() -> None:
    ok = [{"severity": "ok"}]
    assert run_status(ok, [], []) == "ok"
    assert run_status([{"severity": "unknown"}], [], []) == "warning"
    assert run_status([{"severity": "critical"}, {"severity": "warning"}], [], []) == "critical"
    assert run_status(ok, [{"status": "failed"}], []) == "failed"
    assert run_status(ok, [], ["postgres.check"]) == "failed"


def sample_report(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "dag_id": "maintenance_weekly", "run_id": "scheduled__2026-11-29T02:00:00+00:00", "run_type": "scheduled",
        "triggered_by": None, "window": {"start": "2026-11-29T02:00:00+00:00", "end": "2026-11-29T04:00:00+00:00"},
        "started_at": "2026-11-29T02:00:01+00:00", "finished_at": "2026-11-29T02:10:00+00:00",
        "parts": [part("postgres.vacuum", 1, "warning", action_status="done")],
        "task_states": {"postgres.vacuum": "success"},
    }
    args.update(overrides)
    return build_report(**args)


def test_report_follows_the_contract() -> None:
    report = sample_report()
    for key in ("dag_id", "run_id", "run_type", "triggered_by", "window", "started_at", "finished_at", "status",
                "findings", "actions"):
        assert key in report
    assert report["status"] == "warning"
    assert set(report["findings"][0]) >= {"check", "target", "severity", "value", "threshold", "message", "details"}
    assert set(report["actions"][0]) >= {"action", "target", "status", "duration_s", "message", "details"}


def test_failed_task_without_a_part_still_fails_the_report() -> None:
    report = sample_report(task_states={"postgres.vacuum": "success", "redis.check": "upstream_failed"})
    assert report["status"] == "failed"
    assert report["failed_tasks"] == ["redis.check"]


def test_markdown_is_readable_and_escapes_tables() -> None:
    text = render_markdown(sample_report(triggered_by={"user": "alice", "reason": "disk", "ticket": "OPS-1"}))
    assert text.startswith("# maintenance_weekly — WARNING")
    assert "triggered by: alice; reason: disk; ticket: OPS-1" in text
    assert "m \\| with pipe" in text
    assert "| warning | postgres.connections | main |" in text


def test_file_store_is_write_once(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}")
    report = sample_report()
    first = store.write_report(report, render_markdown(report))
    second = store.write_report({**report, "status": "failed"}, "again")
    assert first.endswith("report.json")
    assert "/attempts/report.json.2" in second
    assert json.loads(Path(first).read_text())["status"] == "warning", "the first report was not overwritten"
    assert store.read_report(report["dag_id"], report["run_id"])["status"] == "failed", "readers see the newest"
    assert store.run_ids("maintenance_weekly") == [report["run_id"]]
    assert store.dag_ids() == ["maintenance_weekly"]


def test_parts_round_trip(tmp_path: Path) -> None:
    store = ReportStore(FileBackend(tmp_path))
    store.put_part("d", "r", "t.try1", part("t", 1))
    store.put_part("d", "r", "t.try1", part("t", 1, "critical"))  # a duplicate never replaces
    [got] = store.parts("d", "r")
    assert got["findings"][0]["severity"] == "ok"


def test_checks_with_nothing_configured_are_listed_not_hidden() -> None:
    unconfigured = part("health.check_tls_certificates", 1)
    unconfigured["findings"] = [{"check": "tls.certificate_expiry", "target": "all", "severity": "ok", "value": None,
                                 "threshold": None, "message": "not configured: targets.http lists no https:// target",
                                 "details": {"not_configured": True}}]
    text = render_markdown(sample_report(parts=[part("postgres.vacuum", 1, action_status="done"), unconfigured]))
    section = text.split("## Not configured", 1)[1].split("## Actions", 1)[0]
    assert "`tls.certificate_expiry` (all): not configured: targets.http lists no https:// target" in section
    assert "postgres.connections" not in section
    assert "## Not configured" not in render_markdown(sample_report())
