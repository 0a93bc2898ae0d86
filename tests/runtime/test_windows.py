"""Scheduled windows in real time: the scheduler (and every other process) runs under
libfaketime with the clock moved just before a window, and creates the window runs itself.

A deployment of its own (:func:`clock_runtime`): it moves the clock, and its metadata is SQLite
so the database's ``now()`` moves with it (a PostgreSQL server would keep the real time).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from mercenary_dev import servers
from mercenary_dev.runtime import AirflowRuntime, RestClient

from tests.runtime.conftest import config_overlay, report_reader, start_runtime, wait_for

WEEKLY, MONTHLY = "maintenance_weekly", "maintenance_monthly"
HEAVY = ("postgres.vacuum_analyze", "postgres.reindex", "postgres.vacuum_full", "redis.memory_purge",
         "redis.bgrewriteaof", "backup.restore_test")
# What acts on the target's own server and so is serialized per target (pool + target lock). A restore
# test restores onto a scratch server on the worker (restore_on: scratch_server, the default): it
# never contacts the target and takes no target lock, so the weekly and monthly ones may overlap.
ON_TARGET = tuple(a for a in HEAVY if a != "backup.restore_test")


def _first_sunday_after(day: date) -> date:
    day += timedelta(days=1)
    while not (day.weekday() == 6 and day.day <= 7):
        day += timedelta(days=1)
    return day


def _at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


def _quiesce(api: RestClient) -> None:
    """Pause every DAG and end what is still running, so the clock can jump safely."""
    for dag in api.get("/api/v2/dags?limit=100")["dags"]:
        if not dag["is_paused"]:
            api.pause(dag["dag_id"])
        for run in api.runs(dag["dag_id"]):
            if run["state"] in ("running", "queued"):
                api.set_run_state(dag["dag_id"], run["dag_run_id"], "failed")


def _seed_backups(api: RestClient) -> None:
    for dag_id in ("backup_full", "backup_incremental"):
        api.unpause(dag_id)
        run_id = api.trigger(dag_id)["dag_run_id"]
        assert api.wait_run(dag_id, run_id, timeout=300)["state"] == "success", dag_id
        api.pause(dag_id)
    _quiesce(api)  # unpausing may have created a scheduled run too


def _scheduled_runs(api: RestClient, dag_id: str, start: datetime) -> list[dict[str, Any]]:
    return [r for r in api.runs(dag_id) if r["run_type"] == "scheduled"
            and datetime.fromisoformat(r["data_interval_start"]) == start]


def _heavy_intervals(report: dict[str, Any], target: str) -> list[tuple[datetime, datetime, str]]:
    return [(datetime.fromisoformat(a["details"]["started_at"]), datetime.fromisoformat(a["details"]["finished_at"]),
             f"{report['dag_id']}:{a['action']}")
            for a in report["actions"] if a["action"] in ON_TARGET and a["target"] == target
            and a["status"] in ("done", "failed")]


@pytest.fixture(scope="module")
def clock_runtime(pg: Any, redis_server: Any, s3: Any, runtime_slack: servers.SlackReceiver
                  ) -> Iterator[AirflowRuntime]:
    runtime = start_runtime(pg, redis_server, s3, runtime_slack, faketime=True, metadata=None)
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture
def clock_config(clock_runtime: AirflowRuntime) -> Iterator[Callable[[dict[str, Any]], None]]:
    yield from config_overlay(clock_runtime)


def test_weekly_and_monthly_windows_start_on_time_and_heavy_actions_never_overlap(
        clock_runtime: AirflowRuntime, clock_config: Callable[[dict[str, Any]], None], pg: Any) -> None:
    airflow_runtime, runtime_config, reports = clock_runtime, clock_config, report_reader(clock_runtime)
    # Work for both runs on target main: an opt-in VACUUM FULL of rt_bloat (monthly) and dead tuples in
    # a table of their own (weekly VACUUM): the monthly run starts first and would leave rt_bloat clean.
    pg.execute("DROP TABLE IF EXISTS rt_bloat; CREATE TABLE rt_bloat AS SELECT g, repeat('x', 200) AS pad "
               "FROM generate_series(1, 300000) g; DELETE FROM rt_bloat WHERE g % 2 = 0;")
    pg.execute("DROP TABLE IF EXISTS rt_dead; CREATE TABLE rt_dead WITH (autovacuum_enabled = off) AS "
               "SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 300000) g; "
               "DELETE FROM rt_dead WHERE g % 2 = 0;")
    # VACUUM FULL runs unattended here (approvals are tests/runtime/test_approvals.py's subject).
    runtime_config({"targets": {"postgres": [{"name": "main", "conn_id": "maintenance_postgres",
                                              "vacuum_full_tables": ["rt_bloat"]}],
                                "redis": [{"name": "cache", "conn_id": "maintenance_redis"}]},
                    "approvals": {"required_for": []}})
    api = airflow_runtime.client()
    _quiesce(api)
    _seed_backups(api)  # the window runs' restore tests need a good full backup and a chain
    sunday = _first_sunday_after(airflow_runtime.now().date())
    # Just before the weekly window (02:00) on a first Sunday: the monthly window (01:00–05:00) is
    # in progress, so its run starts at once and runs alongside the weekly run from 02:00.
    airflow_runtime.set_clock(_at(sunday, 1, 59, 40))
    api = airflow_runtime.client()  # a token from the new clock
    for dag_id in (WEEKLY, MONTHLY):
        api.unpause(dag_id)
    week_start, week_end = _at(sunday, 2, 0), _at(sunday, 4, 0)
    month_start = _at(sunday, 1, 0)
    [weekly] = wait_for(lambda: _scheduled_runs(api, WEEKLY, week_start), 240, "the weekly run of 02:00")
    [monthly] = wait_for(lambda: _scheduled_runs(api, MONTHLY, month_start), 60, "the monthly run of 01:00")
    assert datetime.fromisoformat(weekly["data_interval_end"]) == week_end
    assert datetime.fromisoformat(weekly["logical_date"]) == week_start
    assert datetime.fromisoformat(weekly["queued_at"]) >= week_start, "created at the window's start, not before"
    done_w = api.wait_run(WEEKLY, weekly["dag_run_id"], timeout=600)
    done_m = api.wait_run(MONTHLY, monthly["dag_run_id"], timeout=600)
    report_w, report_m = reports(WEEKLY, weekly["dag_run_id"]), reports(MONTHLY, monthly["dag_run_id"])
    assert done_w["state"] == "success", report_w["failed_tasks"]
    assert done_m["state"] == "success", report_m["failed_tasks"]
    assert report_w["run_type"] == "scheduled"
    assert report_w["window"] == {"start": week_start.isoformat(), "end": week_end.isoformat()}
    assert not [a for a in report_w["actions"] if a["action"] == "window.cutoff"]
    main = sorted(_heavy_intervals(report_w, "main") + _heavy_intervals(report_m, "main"))
    assert any(s[2].startswith(WEEKLY) for s in main), "no weekly heavy action on main"
    assert any(s[2].startswith(MONTHLY) for s in main), "no monthly heavy action on main"
    for target in ("main", "cache"):
        spans = sorted(_heavy_intervals(report_w, target) + _heavy_intervals(report_m, target))
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            assert end <= start, f"{first} and {second} overlapped on {target}"

    # One week later at 03:50: the weekly window is 5 minutes past its 15-minute cutoff.
    api.pause(MONTHLY)
    next_sunday = sunday + timedelta(days=7)
    airflow_runtime.set_clock(_at(next_sunday, 3, 50))
    api = airflow_runtime.client()
    [late] = wait_for(lambda: _scheduled_runs(api, WEEKLY, _at(next_sunday, 2, 0)), 120, "the late weekly run")
    api.wait_run(WEEKLY, late["dag_run_id"], timeout=300)
    report = reports(WEEKLY, late["dag_run_id"])
    cutoffs = [a for a in report["actions"] if a["action"] == "window.cutoff"]
    assert cutoffs, report["actions"]
    assert all(a["status"] == "skipped" for a in cutoffs)
    assert not [a for a in report["actions"] if a["action"] in HEAVY and a["status"] == "done"], \
        "nothing heavy may start past the cutoff"
    assert "window.cutoff" in (airflow_runtime.home / "reports" / WEEKLY / late["dag_run_id"] / "report.md").read_text()
    api.pause(WEEKLY)
