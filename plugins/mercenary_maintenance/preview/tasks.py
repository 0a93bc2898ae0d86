"""Tasks of the ``maintenance_preview`` DAG (they only wire; the logic is in this package)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task


@task(task_id="preview_windows")
def preview_windows() -> dict[str, Any]:
    """Read-only: what the coming window(s) will do on each target, with estimates, risk and rollback."""
    from datetime import datetime

    from airflow.sdk import get_current_context

    from mercenary_maintenance.steps import Step, execute_step
    from mercenary_maintenance.windows.rules import UTC

    context = get_current_context()
    dag_run = context["dag_run"]
    interval = (dag_run.data_interval_start, dag_run.data_interval_end)

    def body(step: Step) -> None:
        from mercenary_maintenance.preview.run import run_preview

        run_preview(step, interval, datetime.now(UTC), lead_hours=_lead_hours(context))

    return execute_step(body, context=context)


def _lead_hours(context: Any) -> float | None:
    timetable = getattr(context.get("dag"), "timetable", None)
    lead = getattr(timetable, "lead_hours", None)
    return float(lead) if lead is not None else None


def build() -> None:
    preview_windows()
