"""What a task knows about the run it belongs to, taken from the Airflow context.

:class:`RunInfo` is a plain value so the checks and tests never touch Airflow's context
directly; :func:`from_context` is the one adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.windows import guard
from mercenary_maintenance.windows.rules import UTC, Window


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    run_type: str = "manual"
    task_id: str = "task"
    map_index: int = -1
    try_number: int = 1
    logical_date: datetime | None = None
    window: Window | None = None
    cutoff: timedelta = guard.DEFAULT_CUTOFF
    triggered_by: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # The run's data interval (start, end) as Airflow gave it (None outside a scheduled interval).
    data_interval: tuple[datetime | None, datetime | None] = (None, None)
    # The DAG's timetable lead time in hours, when it has one (the preview's: fixed at parse time).
    lead_hours: float | None = None

    @property
    def part_name(self) -> str:
        suffix = f".{self.map_index}" if self.map_index >= 0 else ""
        return f"{self.task_id}{suffix}.try{self.try_number}"

    def past_cutoff(self, now: datetime | None = None) -> bool:
        return guard.past_cutoff(self.window, now or datetime.now(UTC), self.cutoff)

    def seconds_left(self, now: datetime | None = None) -> float | None:
        return guard.seconds_left(self.window, now or datetime.now(UTC))

    def statement_timeout(self, ceiling_s: float, now: datetime | None = None) -> float:
        return guard.statement_timeout(self.window, now or datetime.now(UTC), ceiling_s)


def _run_type(value: Any) -> str:
    return str(getattr(value, "value", value) or "manual")


def window_of(context: Any) -> Window | None:
    """The window of a scheduled run of a window DAG; ``None`` otherwise."""
    from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable

    dag_run = context["dag_run"]
    dag = context.get("dag")
    if _run_type(dag_run.run_type) != "scheduled" or dag is None:
        return None
    if not isinstance(getattr(dag, "timetable", None), MaintenanceWindowTimetable):
        return None
    start, end = dag_run.data_interval_start, dag_run.data_interval_end
    if start is None or end is None:
        return None
    return Window(start.astimezone(UTC), end.astimezone(UTC))


def from_context(context: Any, cutoff_minutes: int | None = None) -> RunInfo:
    dag_run = context["dag_run"]
    ti = context["ti"]
    run_type = _run_type(dag_run.run_type)
    params = dict(context.get("params") or {})
    triggered_by = None
    user = getattr(dag_run, "triggering_user_name", None)
    if run_type != "scheduled" or user:
        triggered_by = {
            "user": user,
            "reason": params.get("reason"),
            "ticket": params.get("ticket"),
        }
    return RunInfo(
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        run_type=run_type,
        task_id=ti.task_id,
        map_index=int(getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1),
        try_number=int(getattr(ti, "try_number", 1) or 1),
        logical_date=dag_run.logical_date,
        window=window_of(context),
        cutoff=timedelta(minutes=cutoff_minutes) if cutoff_minutes is not None else guard.DEFAULT_CUTOFF,
        triggered_by=triggered_by,
        params=params,
        data_interval=(getattr(dag_run, "data_interval_start", None), getattr(dag_run, "data_interval_end", None)),
        lead_hours=_lead_hours(context),
    )


def _lead_hours(context: Any) -> float | None:
    lead = getattr(getattr(context.get("dag"), "timetable", None), "lead_hours", None)
    return float(lead) if lead is not None else None
