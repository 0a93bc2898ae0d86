"""The console's pure parts and its index on a file:// store: summaries, the journal, the
incremental refresh (overlap for late writers), findings' owners, plan parsing and cadences."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mercenary_dev import synthetic

from mercenary_maintenance import packaged
from mercenary_maintenance.console.index import OVERLAP, RunIndex
from mercenary_maintenance.console.plan import REF, due_since, parse_plan
from mercenary_maintenance.report.build import render_markdown
from mercenary_maintenance.report.store import ReportStore, open_store
from mercenary_maintenance.report.summary import INDEX_PREFIX, summarize, task_outcomes
from mercenary_maintenance.windows.rules import UTC

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def write(store: ReportStore, dag_id: str, run_id: str, finished: datetime, **extra: object) -> dict[str, object]:
    report = synthetic.report(dag_id, finished - timedelta(minutes=5), random.Random(1))
    report.update(run_id=run_id, finished_at=finished.isoformat(), **extra)
    store.write_report(report, render_markdown(report))
    return report


@pytest.fixture
def store(tmp_path: Path) -> ReportStore:
    return open_store(f"file://{tmp_path / 'reports'}")


def index(store: ReportStore, tmp_path: Path) -> RunIndex:
    return RunIndex(store, "test", tmp_path / "cache", refresh_seconds=0)


def test_write_report_adds_a_summary_beside_it_and_a_journal_entry(store: ReportStore, tmp_path: Path) -> None:
    write(store, "backup_full", "scheduled__a", NOW)
    root = tmp_path / "reports"
    summary = json.loads((root / "backup_full" / "scheduled__a" / "summary.json").read_text())
    [entry] = list((root / "_index").iterdir())
    assert entry.name.startswith("20261202T010000000000__backup_full__")
    assert json.loads(entry.read_text()) == summary
    assert summary["points"][0]["series"] == "backup_size_bytes"
    assert store.dag_ids() == ["backup_full"]  # the journal is not a DAG


def test_summary_is_small_and_keeps_what_the_console_needs() -> None:
    report = synthetic.report("maintenance_daily", NOW, random.Random(2))
    report["findings"][0]["message"] = "x" * 5000
    report["findings"][0]["details"] = {"huge": list(range(10000))}
    summary = summarize(report)
    assert len(json.dumps(summary)) < 8000
    assert summary["findings"][0]["message"].endswith("…")
    assert {p["series"] for p in summary["points"]} == {"redis_used_memory_bytes", "redis_fragmentation_ratio",
                                                         "disk_percent"}


def test_task_outcomes_fold_mapped_instances_to_the_worst() -> None:
    states = {"postgres.check_weekly_0": "success", "postgres.check_weekly_1": "failed", "redis.purge": "success"}
    tasks = [{"task": "logs.clean_tmp", "skipped": "past the window's cutoff"}]
    assert task_outcomes({"task_states": states, "tasks": tasks}) == {
        "postgres.check_weekly": "failed", "redis.purge": "success", "logs.clean_tmp": "skipped"}


def test_refresh_reads_only_new_entries_and_keeps_the_newest_state(store: ReportStore, tmp_path: Path) -> None:
    write(store, "maintenance_daily", "scheduled__1", NOW - timedelta(days=1))
    idx = index(store, tmp_path)
    first = idx.refresh()
    assert first.ingested == 1
    assert idx.refresh().ingested == 0  # nothing new
    write(store, "maintenance_daily", "scheduled__2", NOW,
          findings=[{"check": "redis.memory", "target": "cache", "severity": "critical", "value": 99,
                     "threshold": 95, "message": "full", "details": {}}])
    assert idx.refresh().ingested == 1
    latest = {(f["check"], f["target"]): f for f in idx.latest_findings()}
    assert latest[("redis.memory", "cache")]["severity"] == "critical"
    assert latest[("postgres.blocked_locks", "main")]["run_id"] == "scheduled__1"  # not reported again: kept
    assert [r["run_id"] for r in idx.last_runs()] == ["scheduled__2"]


def test_a_late_writer_within_the_overlap_is_not_missed(store: ReportStore, tmp_path: Path) -> None:
    write(store, "backup_full", "scheduled__new", NOW)
    idx = index(store, tmp_path)
    idx.refresh()
    # written after the refresh, stamped earlier than the newest entry seen (a lagging clock)
    write(store, "backup_incremental", "scheduled__late", NOW - OVERLAP / 2)
    assert idx.refresh().ingested == 1
    assert {r["dag_id"] for r in idx.last_runs()} == {"backup_full", "backup_incremental"}


def test_an_older_run_does_not_replace_the_latest_state(store: ReportStore, tmp_path: Path) -> None:
    write(store, "maintenance_daily", "scheduled__new", NOW)
    write(store, "maintenance_daily", "scheduled__old", NOW - timedelta(minutes=5),
          findings=[{"check": "redis.memory", "target": "cache", "severity": "critical", "value": 99,
                     "threshold": 95, "message": "old news", "details": {}}])
    idx = index(store, tmp_path)
    idx.refresh()
    latest = {(f["check"], f["target"]): f for f in idx.latest_findings()}
    assert latest[("redis.memory", "cache")]["run_id"] == "scheduled__new"
    assert [r["run_id"] for r in idx.last_runs()] == ["scheduled__new"]


def test_an_empty_cache_also_reads_runs_written_before_the_journal(store: ReportStore, tmp_path: Path) -> None:
    report = synthetic.report("backup_full", NOW, random.Random(3))
    base = f"{report['dag_id']}/{report['run_id']}"
    store.write_once(f"{base}/report.json", json.dumps(report).encode())  # an old writer: no summary, no journal
    write(store, "maintenance_daily", "scheduled__with_journal", NOW)
    idx = index(store, tmp_path)
    stats = idx.refresh()
    assert (stats.ingested, stats.legacy) == (1, 1)
    assert idx.last_event("backup.full", "main", ok_only=True) is not None


def test_file_list_after_returns_only_later_keys(store: ReportStore) -> None:
    for minute in range(3):
        write(store, "backup_full", f"scheduled__{minute}", NOW + timedelta(minutes=minute))
    keys = store.backend.list_after(INDEX_PREFIX, "")
    assert len(keys) == 3
    assert store.backend.list_after(INDEX_PREFIX, keys[0]) == keys[1:]


def test_plan_parser_finds_every_task_the_plan_map_names() -> None:
    text = packaged.plan_coverage_text()
    items = parse_plan(text)
    parsed = sorted((t.dag_id, t.task_id) for i in items for t in i.tasks)
    table_lines = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    assert parsed == sorted(REF.findall(table_lines))
    assert len(items) > 40
    assert any(i.manual for i in items)


def test_cadences_of_interval_and_window_dags() -> None:
    label, since = due_since("maintenance_daily", NOW, 0.25)
    assert label == "every 1 day(s)"
    assert since == NOW - timedelta(hours=30)
    # Wednesday 2026-12-02: the weekly window of Sunday 11-29 ended > 1.75 days ago → it is due.
    label, since = due_since("maintenance_weekly", NOW, 0.25)
    assert since == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    # Monday 2026-11-30 01:00: Sunday's window ended < 1.75 days ago → the one before is due.
    _, since = due_since("maintenance_weekly", datetime(2026, 11, 30, 1, 0, tzinfo=UTC), 0.25)
    assert since == datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    _, since = due_since("maintenance_quarterly", NOW, 0.25)
    assert since == datetime(2026, 10, 3, 0, 0, tzinfo=UTC)
    assert due_since("emergency_maintenance", NOW, 0.25) == ("on demand", None)


def test_plugin_mounts_the_console_once_with_its_nav_entry_and_run_tab() -> None:
    from airflow import plugins_manager

    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["name"] for a in apps if a["url_prefix"] == "/maintenance"] == ["Maintenance console"]
    views, _ = plugins_manager._get_ui_plugins()
    by_name = {v["name"]: v for v in views}
    assert by_name["Maintenance"]["destination"] == "nav"
    assert by_name["Maintenance"]["href"] == "/maintenance/"
    assert by_name["Maintenance report"]["destination"] == "dag_run"
    assert by_name["Maintenance report"]["href"] == "/maintenance/runs/{DAG_ID}/{RUN_ID}"


def test_the_scan_for_runs_without_summaries_happens_once(store: ReportStore, tmp_path: Path) -> None:
    report = synthetic.report("backup_full", NOW, random.Random(3))
    store.write_once(f"backup_full/{report['run_id']}/report.json", json.dumps(report).encode())
    idx = index(store, tmp_path)
    assert idx.refresh().legacy == 1
    calls: list[str] = []
    original = store.backend.list
    store.backend.list = lambda prefix: calls.append(prefix) or original(prefix)  # type: ignore[method-assign]
    assert idx.refresh().legacy == 0
    assert calls == [], "a warm refresh must not walk the whole store"
