"""Run-failure notice: formatting and which tasks/errors it names."""

from __future__ import annotations

from mercenary_maintenance.notify import failure_summary, format_run_failure, task_log_link


def test_failure_notice_has_first_error_line_tasks_and_log_link():
    link = task_log_link("http://af:8080/", "maintenance_daily", "manual__2026-01-01T00:00:00+00:00", "health.check_x")
    assert link == "http://af:8080/dags/maintenance_daily/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00/tasks/health.check_x"
    text = format_run_failure("maintenance_daily", "r1", "StepFailed: boom\nTraceback...", ["a", "b"], link)
    assert text.splitlines()[0] == ":red_circle: *maintenance_daily* run `r1` failed — StepFailed: boom"
    assert "failed tasks: a, b" in text
    assert f"<{link}|open the log>" in text
    assert "Traceback" not in text


def test_failure_notice_without_details():
    text = format_run_failure("d", "r", None, [], "http://l")
    assert "failed — task failure" in text
    assert "failed tasks: see the run" in text


def test_summary_uses_the_last_try_of_each_task():
    parts = [
        {"task_id": "a", "map_index": -1, "try_number": 1, "finished_at": "1", "error": "E1: first try"},
        {"task_id": "a", "map_index": -1, "try_number": 2, "finished_at": "3", "error": None},
        {"task_id": "b", "map_index": 0, "try_number": 1, "finished_at": "2", "error": "E2: mapped"},
        {"task_id": "c", "map_index": -1, "try_number": 2, "finished_at": "4", "error": "E3: later"},
    ]
    assert failure_summary(parts) == (["b[0]", "c"], "E2: mapped")
    assert failure_summary([]) == ([], None)
