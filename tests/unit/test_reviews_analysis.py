"""Reviews (pure parts) and the auditor's report command on a file store."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from mercenary_maintenance.findings import Severity
from mercenary_maintenance.report.__main__ import main
from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import open_store
from mercenary_maintenance.reviews.analysis import access_changes, access_finding, trend_rows
from mercenary_maintenance.reviews.compose import compose


def _pg(roles: dict[str, Any], grants: dict[str, list[str]], db: int = 1000) -> dict[str, Any]:
    return {"databases": {"app": db}, "tables": {"public.orders": db // 2},
            "slow_queries": {"available": False, "why": "pg_stat_statements is not installed", "top": []},
            "roles": roles, "grants": grants}


ROLE = {"superuser": False, "createrole": False, "createdb": False, "login": True, "replication": False,
        "bypassrls": False, "valid_until": None, "member_of": []}


def test_access_changes_list_roles_attributes_and_grants() -> None:
    before = _pg({"app": ROLE, "old": ROLE}, {"app": ["SELECT on public.orders"]})
    after = _pg({"app": {**ROLE, "superuser": True}, "new": ROLE},
                {"app": ["INSERT on public.orders"], "new": ["CONNECT on database app"]})
    changes = access_changes(before, after)
    assert changes is not None
    assert changes.added == ["new"]
    assert changes.removed == ["old"]
    assert changes.changed == ["app: superuser False → True"]
    assert changes.granted == ["app: INSERT on public.orders", "new: CONNECT on database app"]
    assert changes.revoked == ["app: SELECT on public.orders"]
    finding = access_finding("postgres:main", changes, after["roles"])
    assert finding.severity is Severity.WARNING
    assert finding.value == 6
    assert finding.details["superusers"] == ["app"]


def test_the_first_review_records_a_baseline() -> None:
    finding = access_finding("postgres:main", access_changes(None, _pg({"app": ROLE}, {})), {"app": ROLE})
    assert finding.severity is Severity.OK
    assert "baseline" in finding.message


def test_trends_come_from_past_report_findings() -> None:
    reports = [{"findings": [{"check": "redis.memory", "target": "cache", "severity": s, "value": v},
                             {"check": "postgres.blocked_locks", "target": "main", "severity": "ok", "value": 0}]}
               for v, s in ((40.0, "ok"), (85.5, "warning"), (60.0, "ok"))]
    [row] = trend_rows(reports, ("redis.memory",))
    assert row == {"check": "redis.memory", "target": "cache", "samples": 3, "first": 40.0, "last": 60.0,
                   "max": 85.5, "not_ok": 1}


def test_a_review_compares_with_the_previous_snapshot() -> None:
    before = {"taken_at": "2026-01-03T00:00:00+00:00", "postgres": {"main": _pg({"app": ROLE}, {}, db=1000)},
              "redis": {"cache": {"used_memory": 2048, "used_memory_peak": 4096, "maxmemory": 0, "keys": 3}},
              "backups": {"bytes": 100, "objects": 1, "location": "s3://b/postgres/"}}
    now = {"taken_at": "2026-04-04T00:00:00+00:00", "postgres": {"main": _pg({"app": ROLE, "eve": ROLE}, {}, db=1500)},
           "redis": {"cache": {"used_memory": 4096, "used_memory_peak": 4096, "maxmemory": 0, "keys": 5}},
           "backups": {"bytes": 300, "objects": 3, "location": "s3://b/postgres/"}, "unavailable": []}
    review = compose("quarterly", now, before, [], 92)
    assert review.title == "Quarterly capacity and access review"
    assert "| app | 1.5 KiB | +500 B (+50.0%) |" in review.markdown
    assert "role added: `eve`" in review.markdown
    assert "pg_stat_statements is not installed" in review.markdown
    assert "+2.0 KiB (+100.0%)" in review.markdown
    assert "backups 300 B (+200 B (+200.0%))" in review.summary
    assert "1 access changes" in review.summary
    assert [f.severity for f in review.findings] == [Severity.WARNING]


def _report(dag_id: str, run_id: str, status: str, user: str | None) -> dict[str, Any]:
    return {"dag_id": dag_id, "run_id": run_id, "run_type": "manual", "status": status,
            "triggered_by": {"user": user, "reason": "disk full", "ticket": "OPS-9"} if user else None,
            "window": None, "started_at": run_id.split("__")[1], "finished_at": run_id.split("__")[1],
            "findings": [], "actions": [], "sections": [{"title": "A section", "markdown": "body", "data": {}}],
            "tasks": [], "failed_tasks": [], "task_states": {}}


def test_report_command_lists_recent_runs_and_shows_one(tmp_path: Path, monkeypatch: Any) -> None:
    cfg = tmp_path / "m.yaml"
    cfg.write_text(f"reports: {{url: 'file://{tmp_path}/r'}}\n")
    monkeypatch.setenv("MAINTENANCE_CONFIG", str(cfg))
    store = open_store(f"file://{tmp_path}/r")
    for i, status in enumerate(["ok", "failed", "warning"]):
        report = _report("emergency_maintenance", f"manual__2026-05-0{i + 1}T10:00:00+00:00", status, "alice")
        store.write_report(report, render_markdown(report))
    daily = _report("maintenance_daily", "scheduled__2026-05-01T00:30:00+00:00", "ok", None)
    store.write_report(daily, render_markdown(daily))

    out = io.StringIO()
    assert main(["list", "--limit", "2"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["dag_id", "run_id", "status", "run_type", "started_at", "user", "ticket"]
    rows = [line.split()[:3] for line in lines[1:]]
    assert rows == [["emergency_maintenance", "manual__2026-05-03T10:00:00+00:00", "warning"],
                    ["emergency_maintenance", "manual__2026-05-02T10:00:00+00:00", "failed"],
                    ["maintenance_daily", "scheduled__2026-05-01T00:30:00+00:00", "ok"]]

    out = io.StringIO()
    assert main(["show", "emergency_maintenance", "manual__2026-05-02T10:00:00+00:00"], out=out) == 0
    text = out.getvalue()
    assert text.startswith("# emergency_maintenance — FAILED")
    assert "triggered by: alice; reason: disk full; ticket: OPS-9" in text
    assert "## A section" in text
    assert main(["show", "emergency_maintenance", "manual__1999-01-01T00:00:00+00:00"], out=io.StringIO()) == 1
