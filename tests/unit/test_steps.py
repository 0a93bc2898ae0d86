"""The task body wrapper: window cutoff, statement timeout, recording before failing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.findings import Action, Finding, Severity
from mercenary_maintenance.steps import Step, StepFailed, execute_step
from mercenary_maintenance.windows.rules import WEEKLY_WINDOW
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable

UTC = UTC



def make_context(run_type: str = "scheduled", start: datetime | None = None, try_number: int = 1,
                 map_index: int = -1, run_id: str = "") -> dict[str, Any]:
    start = start or datetime.now(UTC) - timedelta(minutes=30)
    dag = SimpleNamespace(timetable=MaintenanceWindowTimetable.from_rule(WEEKLY_WINDOW))
    dag_run = SimpleNamespace(
        dag_id="maintenance_weekly", run_id=run_id or f"{run_type}__x", run_type=run_type,
        data_interval_start=start, data_interval_end=start + timedelta(hours=2), logical_date=start,
        triggering_user_name=None if run_type == "scheduled" else "alice",
    )
    ti = SimpleNamespace(task_id="postgres.vacuum_analyze", map_index=map_index, try_number=try_number)
    return {"dag_run": dag_run, "ti": ti, "dag": dag, "params": {}}


@pytest.fixture
def cfg(tmp_path: Path) -> Any:
    return parse_config({"reports": {"url": f"file://{tmp_path}/reports"}})


def parts(tmp_path: Path) -> list[dict[str, Any]]:
    folder = tmp_path / "reports" / "maintenance_weekly"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/parts/*.json"))]


def test_body_runs_inside_the_window_with_a_bounded_statement_timeout(cfg: Any, tmp_path: Path) -> None:
    seen: dict[str, float] = {}

    def body(step: Step) -> Finding:
        seen["timeout"] = step.statement_timeout_s()
        return Finding("postgres.dead_tuples", "main", Severity.WARNING, "dead")

    summary = execute_step(body, context=make_context(), cfg=cfg)
    assert summary == {"findings": 1, "actions": 0, "worst": "warning", "result": None}
    # 90 minutes left in the window minus the safety margin, below the 3600 s ceiling.
    assert 3600 - 60 < seen["timeout"] <= 3600
    late = make_context(start=datetime.now(UTC) - timedelta(minutes=100), run_id="scheduled__late")
    execute_step(body, context=late, cfg=cfg)
    assert seen["timeout"] < 20 * 60 - 30 + 1
    assert len(parts(tmp_path)) == 2


def test_past_cutoff_is_skipped_recorded_and_not_started(cfg: Any, tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    started = []
    context = make_context(start=datetime.now(UTC) - timedelta(minutes=106))  # 14 min left < 15 min cutoff
    with pytest.raises(AirflowSkipException, match="past the window cutoff"):
        execute_step(lambda step: started.append(1), context=context, cfg=cfg)
    assert started == []
    [part] = parts(tmp_path)
    assert part["skipped"].startswith("not started")
    assert part["actions"][0]["action"] == "window.cutoff"
    assert part["actions"][0]["status"] == "skipped"
    # Never silent: a warning, so the run's status is at least warning and Slack lists it.
    [warning] = part["findings"]
    assert (warning["check"], warning["severity"]) == ("maintenance.skipped", "warning")
    assert warning["details"]["cause"] == "cutoff"
    assert "past the window cutoff" in warning["message"]
    from mercenary_maintenance.report.build import run_status

    assert run_status(part["findings"], part["actions"], []) == "warning"


def test_manual_runs_ignore_the_window(cfg: Any) -> None:
    context = make_context(run_type="manual", start=datetime.now(UTC) - timedelta(hours=5))
    assert execute_step(lambda step: None, context=context, cfg=cfg)["findings"] == 0


def test_check_errors_are_recorded_then_fail_the_task(cfg: Any, tmp_path: Path) -> None:
    def body(step: Step) -> None:
        def broken() -> Finding:
            raise ConnectionError("connection to postgresql://app:hunter2@db:5432/app refused")

        step.check("postgres.connections", "main", broken)
        step.check("postgres.connections", "other", lambda: Finding("postgres.connections", "other", "ok", "fine"))

    with pytest.raises(StepFailed, match=r"postgres\.connections on main"):
        execute_step(body, context=make_context(), cfg=cfg)
    [part] = parts(tmp_path)
    severities = {f["target"]: f["severity"] for f in part["findings"]}
    assert severities == {"main": "unknown", "other": "ok"}, "the other target still finished"
    assert "hunter2" not in json.dumps(part)


def test_failed_action_is_recorded_with_duration(cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def body(step: Step) -> None:
        with step.action("postgres.vacuum_analyze", "main", why="dead tuples 30% > 20%", table="public.t"):
            raise RuntimeError("canceling statement due to lock timeout")
        with step.action("postgres.analyze", "main", why="stats") as act:
            act.done("analyzed 3 tables")

    caplog.set_level("INFO", logger="mercenary_maintenance.audit")
    with pytest.raises(StepFailed, match="lock timeout"):
        execute_step(body, context=make_context(), cfg=cfg)
    [part] = parts(tmp_path)
    statuses = [(a["action"], a["status"]) for a in part["actions"]]
    assert statuses == [("postgres.vacuum_analyze", "failed"), ("postgres.analyze", "done")]
    audit = [r.getMessage() for r in caplog.records if r.name == "mercenary_maintenance.audit"]
    assert sum(m.startswith("maintenance.intent") for m in audit) == 2
    assert sum(m.startswith("maintenance.outcome") for m in audit) == 2
    assert '"why": "dead tuples 30% > 20%"' in audit[0]


def test_body_exception_is_recorded_and_reraised(cfg: Any, tmp_path: Path) -> None:
    def body(step: Step) -> None:
        step.add(Action("redis.memory_purge", "cache", "done", "purged"))
        raise KeyError("boom")

    with pytest.raises(KeyError):
        execute_step(body, context=make_context(), cfg=cfg)
    [part] = parts(tmp_path)
    assert part["error"].startswith("KeyError")
    assert part["actions"][0]["status"] == "done"


def test_invalid_config_fails_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mercenary_maintenance.config import ConfigError

    bad = tmp_path / "m.yaml"
    bad.write_text("postgres: {lock_timeout_seconds: fast}\n")
    monkeypatch.setenv("MAINTENANCE_CONFIG", str(bad))
    ran = []
    with pytest.raises(ConfigError, match=r"postgres\.lock_timeout_seconds"):
        execute_step(lambda step: ran.append(1), context=make_context())
    assert ran == []


def test_retries_write_new_parts(cfg: Any, tmp_path: Path) -> None:
    for attempt in (1, 2):
        execute_step(lambda step: None, context=make_context(try_number=attempt, map_index=3), cfg=cfg)
    names = sorted(p.name for p in (tmp_path / "reports").rglob("parts/*.json"))
    assert names == ["postgres.vacuum_analyze.3.try1.json", "postgres.vacuum_analyze.3.try2.json"]


def test_a_body_that_returns_a_value_hands_it_back_beside_the_summary(cfg: Any) -> None:
    summary = execute_step(lambda step: {"accepted": True}, context=make_context(), cfg=cfg)
    assert summary["result"] == {"accepted": True}
    assert (summary["findings"], summary["actions"]) == (0, 0)


def test_the_step_carries_client_factories_bound_to_the_validated_timeouts():
    from mercenary_maintenance.clients import Clients
    from mercenary_maintenance.config import TimeoutsConfig
    from mercenary_maintenance.runinfo import RunInfo

    cfg = parse_config({"timeouts": {"s3": {"connect_s": 1.5}}})
    run = RunInfo(dag_id="d", run_id="r", task_id="t")
    step = Step(cfg, run)
    assert step.clients.timeouts is cfg.timeouts
    assert step.clients.timeouts.s3.connect_s == 1.5
    fake = Clients(TimeoutsConfig())
    assert Step(cfg, run, clients=fake).clients is fake  # injected, not patched
