"""Running one task body against the simulated hosts and reading back its report part."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mercenary_maintenance.steps import StepFailed, execute_step


def context(run_id: str, dag_id: str = "maintenance_daily", task_id: str = "t", map_index: int = -1) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id=dag_id, run_id=run_id, run_type="manual", logical_date=None,
                              triggering_user_name=None, data_interval_start=None, data_interval_end=None)
    return {"dag_run": dag_run, "ti": SimpleNamespace(task_id=task_id, map_index=map_index, try_number=1),
            "params": {}}


def run_body(body: Callable[..., Any], tmp_path: Path, run_id: str, *args: Any,
             dag_id: str = "maintenance_daily", map_index: int = -1) -> tuple[dict[tuple[str, str], Any], str | None]:
    """Run ``body(step, *args)``; (findings and actions by (name, target), the task's error or None)."""
    error = None
    try:
        execute_step(lambda step: body(step, *args), context=context(run_id, dag_id, map_index=map_index))
    except StepFailed as exc:
        error = str(exc)
    folder = tmp_path / "reports" / dag_id / run_id / "parts"
    found: dict[tuple[str, str], Any] = {}
    for path in sorted(folder.glob("*.json")):
        part = json.loads(path.read_text())
        found.update({(f["check"], f["target"]): f for f in part["findings"]})
        found.update({(a["action"], a["target"]): a for a in part["actions"]})
    return found, error
