"""Failure notices reach a real Slack receiver exactly once, with the error, task and log link."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from mercenary_maintenance.steps import StepFailed, execute_step
from mercenary_maintenance.wiring.callbacks import RunFailureNotifier, window_overrun


def context(task_id: str, run_id: str = "manual__r1", try_number: int = 1) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id="maintenance_daily", run_id=run_id, run_type="manual", logical_date=None,
                              triggering_user_name=None, data_interval_start=None, data_interval_end=None)
    return {"dag_run": dag_run, "ti": SimpleNamespace(task_id=task_id, map_index=-1, try_number=try_number),
            "params": {}}


def failing_body(step: Any) -> None:
    step.check("host.disk_usage", "/nowhere", lambda: (_ for _ in ()).throw(OSError("disk gone\nmore detail")))


def test_run_failure_posts_one_message_with_error_task_and_log_link(slack, write_config, connections):
    connections(slack.connection_env("maintenance_slack"))
    write_config({"alerts": {"base_url": "http://airflow.example:8080"}})
    for try_number in (1, 2):  # a retried task: the notice is per run, from the last try
        with pytest.raises(StepFailed):
            execute_step(failing_body, context=context("health.check_disk_usage", try_number=try_number))
    # What DagRun.execute_dag_callbacks passes (dag.test and the scheduler's callback path).
    ctx = {**context("write_report"), "reason": "task_failure"}
    ctx["ti"].get_task_states = lambda **_: (_ for _ in ()).throw(RuntimeError("no supervisor"))
    RunFailureNotifier().notify(ctx)
    assert len(slack.messages) == 1
    text = slack.messages[0]["text"]
    assert "*maintenance_daily* run `manual__r1` failed — host.disk_usage on /nowhere" in text
    assert "check could not run: disk gone" in text
    assert "more detail" not in text
    assert "failed tasks: health.check_disk_usage" in text
    assert "<http://airflow.example:8080/dags/maintenance_daily/runs/manual__r1/tasks/health.check_disk_usage|" in text


def test_failure_notice_goes_out_even_with_a_broken_config(slack, connections, tmp_path, monkeypatch):
    connections(slack.connection_env("maintenance_slack"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("alerts: {nope: 1}\n")
    monkeypatch.setenv("MAINTENANCE_CONFIG", str(bad))
    ctx = {**context("write_report"), "reason": "task_failure"}
    ctx["ti"].get_task_states = lambda **_: {"manual__r1": {"health.check_services": "failed", "x": "success"}}
    RunFailureNotifier().notify(ctx)
    assert len(slack.messages) == 1
    assert "failed — task_failure" in slack.messages[0]["text"]
    assert "failed tasks: health.check_services" in slack.messages[0]["text"]


def test_window_overrun_deadline_alert_posts(slack, write_config, connections):
    connections(slack.connection_env("maintenance_slack"))
    write_config({})
    # the shape the scheduler passes: DAGRunResponse as a JSON dict (run id under dag_run_id)
    asyncio.run(window_overrun("maintenance_weekly", "Sundays 02:00-04:00 UTC",
                               context={"dag_run": {"dag_run_id": "scheduled__x", "state": "running"},
                                        "deadline": {"id": "d1"}}))
    assert len(slack.messages) == 1
    text = slack.messages[0]["text"]
    assert "*maintenance_weekly* is still running at the end of its maintenance window" in text
    assert "`scheduled__x`" in text
    assert "/dags/maintenance_weekly/runs/scheduled__x|open the run>" in text


def test_window_overrun_is_silent_for_a_run_that_already_failed(slack, write_config, connections):
    """apache/airflow#60927: the deadline still fires after the run failed; no "still running"."""
    connections(slack.connection_env("maintenance_slack"))
    write_config({})
    asyncio.run(window_overrun("maintenance_weekly", "Sundays 02:00-04:00 UTC",
                               context={"dag_run": {"dag_run_id": "scheduled__y", "state": "failed"}}))
    assert slack.messages == []
