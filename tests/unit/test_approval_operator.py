"""The gate's run-time decisions before it would wait: past the cutoff it asks nobody and
skips; when the config does not require it, it approves at once and says why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mercenary_maintenance.approvals.operator import MaintenanceApproval
from mercenary_maintenance.windows.rules import MONTHLY_WINDOW
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable


def context(start: datetime) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id="maintenance_monthly", run_id="scheduled__x", run_type="scheduled",
                              data_interval_start=start, data_interval_end=start + MONTHLY_WINDOW.duration,
                              logical_date=start, triggering_user_name=None)
    ti = SimpleNamespace(task_id="postgres.approve_vacuum_full", map_index=-1, try_number=1)
    dag = SimpleNamespace(timetable=MaintenanceWindowTimetable.from_rule(MONTHLY_WINDOW))
    return {"dag_run": dag_run, "ti": ti, "dag": dag, "params": {}}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def write(**extra: Any) -> Path:
        data = {"reports": {"url": f"file://{tmp_path}/reports"},
                "targets": {"postgres": [{"name": "main", "vacuum_full_tables": ["public.ledger"]}]}, **extra}
        path = tmp_path / "maintenance.yaml"
        path.write_text(yaml.safe_dump(data))
        monkeypatch.setenv("MAINTENANCE_CONFIG", str(path))
        return tmp_path / "reports" / "maintenance_monthly" / "scheduled__x" / "parts"

    return write


def part(parts: Path) -> dict[str, Any]:
    [path] = parts.glob("*.json")
    return dict(json.loads(path.read_text()))


def test_past_the_cutoff_nobody_is_asked_and_the_gate_skips(config: Any) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    parts = config()
    started_long_ago = datetime.now(UTC) - timedelta(hours=3, minutes=50)  # 10 min left of a 4 h window
    with pytest.raises(AirflowSkipException, match="cutoff"):
        MaintenanceApproval(task_id="approve_vacuum_full", kind="vacuum_full").execute(context(started_long_ago))
    [action] = part(parts)["actions"]
    assert action["status"] == "skipped"
    assert "past the window cutoff" in action["message"]


def test_not_required_approves_at_once_and_records_why(config: Any) -> None:
    parts = config(approvals={"required_for": ["emergency_non_critical"]})
    gate = MaintenanceApproval(task_id="approve_vacuum_full", kind="vacuum_full")
    result = gate.execute(context(datetime.now(UTC)))
    assert result["asked"] is False
    recorded = part(parts)
    [entry] = recorded["report_keys"]["approvals"]
    assert (entry["chosen"], entry["user"], entry["objects"]) == ("Approve", None, ["public.ledger"])
    assert "approvals.required_for does not list vacuum_full" in entry["note"]


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        MaintenanceApproval(task_id="approve_x", kind="drop_everything")
