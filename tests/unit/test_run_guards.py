"""Run guards (pure parts) and which maintenance runs count as a window for alerting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mercenary_maintenance import guards
from mercenary_maintenance.alerts.evaluation import acting_windows
from mercenary_maintenance.config import parse_config
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.windows.rules import Window
from mercenary_maintenance.wiring.dagkit import ACTING_TASKS

FIVE = {"targets": {"postgres": [{"name": f"db{i}"} for i in range(5)], "redis": []}}


class RunningTasks:
    """The Execution API's task-instance count over a fixed set of running (dag_id, task_id)."""

    def __init__(self, running: set[tuple[str, str]]) -> None:
        self.running = running

    def get_ti_count(self, dag_id: str, task_ids: list[str], states: list[str]) -> int:
        assert states == ["running"]
        return sum((dag_id, t) in self.running for t in task_ids)


def test_only_runs_whose_acting_task_runs_count_as_a_window() -> None:
    # an emergency run waiting out its notice (wait_notice_period running) is no window; its act is
    waiting = RunningTasks({("emergency_maintenance", "wait_notice_period"),
                            ("maintenance_weekly", "postgres.check_weekly")})
    assert acting_windows(waiting, ACTING_TASKS) == []
    acting = RunningTasks({("emergency_maintenance", "act_critical"),
                           ("maintenance_weekly", "postgres.vacuum_analyze")})
    assert acting_windows(acting, ACTING_TASKS) == ["maintenance_weekly", "emergency_maintenance"]


def _check(cfg: Any, run: RunInfo, target: str, *, firing: list[guards.FiringAlert] | None = None,
           parts: list[dict[str, Any]] | None = None, now: datetime | None = None) -> guards.Hold | None:
    return guards.check(cfg, run, "postgres", target, now=now or datetime(2026, 12, 1, tzinfo=UTC),
                        firing=lambda: firing or [], parts=lambda: parts or [])


def test_max_errors_counts_failed_targets_of_the_run() -> None:
    run = RunInfo("maintenance_weekly", "r")
    failed = [{"actions": [{"target": "db1", "status": "failed"}], "findings": [], "error": "x"}]
    assert _check(parse_config(FIVE), run, "db2", parts=failed) is None, "no limit by default"
    hold = _check(parse_config({**FIVE, "guards": {"max_errors": 1}}), run, "db2", parts=failed)
    assert hold is not None
    assert hold.guard == "max_errors"
    assert hold.details["failed_targets"] == ["db1"]
    percent = parse_config({**FIVE, "guards": {"max_errors": "25%"}})  # 25 % of 5, rounded up: 2
    assert _check(percent, run, "db3", parts=failed) is None


def test_a_firing_alert_of_a_stop_level_on_the_target_or_its_service_stops_it() -> None:
    run = RunInfo("maintenance_weekly", "r")
    cfg = parse_config(FIVE)  # default stop_on_alerts: [P1, P2]
    p1 = [guards.FiringAlert("services.status", "db1", "P1"), guards.FiringAlert("host.cpu", "web", "P2")]
    hold = _check(cfg, run, "db1", firing=p1)
    assert hold is not None
    assert hold.guard == "stop_on_alerts"
    assert "P1 services.status on db1" in hold.message
    assert _check(cfg, run, "db2", firing=p1) is None
    assert _check(cfg, run, "db1", firing=[guards.FiringAlert("x", "db1", "P3")]) is None
    off = parse_config({**FIVE, "guards": {"stop_on_alerts": []}})
    assert _check(off, run, "db1", firing=p1) is None


def test_a_freeze_covering_a_scheduled_window_holds_every_target() -> None:
    cfg = parse_config({**FIVE, "guards": {"freeze": [{"start": "2026-12-20T00:00Z", "end": "2027-01-04T00:00Z",
                                                       "reason": "year-end"}]}})
    start = datetime(2026, 12, 27, 2, tzinfo=UTC)
    inside = RunInfo("maintenance_weekly", "scheduled__x", run_type="scheduled",
                     window=Window(start, start + timedelta(hours=2)))
    hold = _check(cfg, inside, "db0", now=start)
    assert hold is not None
    assert hold.guard == "freeze"
    assert "year-end" in hold.message
    after = datetime(2027, 1, 10, 2, tzinfo=UTC)
    outside = RunInfo("maintenance_weekly", "scheduled__y", run_type="scheduled",
                      window=Window(after, after + timedelta(hours=2)))
    assert _check(cfg, outside, "db0", now=after) is None
