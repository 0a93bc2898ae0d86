"""The maintenance-window timetable the scheduler runs (registered by the plugin).

A scheduled run is created at the window's start (``run_after = start``) and its data
interval is the window itself, so tasks know how much time is left. Manual runs get a
point interval at their trigger time: they are not bound to a window.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

from mercenary_maintenance.windows.rules import ALL_MONTHS, UTC, Window, WindowRule


class MaintenanceWindowTimetable(Timetable):
    """Runs once per maintenance window, starting when the window opens."""

    periodic = True
    can_be_scheduled = True

    def __init__(
        self,
        *,
        weekday: int,
        start: str,
        duration_minutes: int,
        first_in_month: bool = False,
        months: tuple[int, ...] | list[int] = ALL_MONTHS,
    ) -> None:
        hours, _, minutes = start.partition(":")
        self.rule = WindowRule(
            weekday=weekday,
            start=time(int(hours), int(minutes or 0)),
            duration=timedelta(minutes=duration_minutes),
            first_in_month=first_in_month,
            months=tuple(months),
        )

    @classmethod
    def from_rule(cls, rule: WindowRule) -> MaintenanceWindowTimetable:
        return cls(
            weekday=rule.weekday,
            start=f"{rule.start:%H:%M}",
            duration_minutes=int(rule.duration.total_seconds() // 60),
            first_in_month=rule.first_in_month,
            months=rule.months,
        )

    # -- what the UI shows ----------------------------------------------------
    @property
    def summary(self) -> str:  # type: ignore[override]  # the base declares a plain attribute
        return self.rule.summary()

    @property
    def description(self) -> str:  # type: ignore[override]  # the base declares a plain attribute
        return f"Maintenance window: {self.rule.summary()}"

    # -- serialization ----------------------------------------------------------
    def serialize(self) -> dict[str, Any]:
        return {
            "weekday": self.rule.weekday,
            "start": f"{self.rule.start:%H:%M}",
            "duration_minutes": int(self.rule.duration.total_seconds() // 60),
            "first_in_month": self.rule.first_in_month,
            "months": list(self.rule.months),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MaintenanceWindowTimetable:
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaintenanceWindowTimetable) and self.rule == other.rule

    def __hash__(self) -> int:
        return hash(self.rule)

    def validate(self) -> None:
        # WindowRule validates in __init__; nothing left to check.
        return None

    # -- scheduling --------------------------------------------------------------
    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval.exact(pendulum.instance(run_after))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        window = self._next_window(last_automated_data_interval, restriction)
        if window is None:
            return None
        if restriction.latest is not None and window.start > restriction.latest:
            return None
        start, end = pendulum.instance(window.start), pendulum.instance(window.end)
        return DagRunInfo(run_after=start, data_interval=DataInterval(start, end))

    def _next_window(self, last: DataInterval | None, restriction: TimeRestriction) -> Window | None:
        # Windows never overlap themselves: the next one starts at or after the last end.
        start_from = last.end if last is not None else restriction.earliest
        if start_from is None:
            return None
        candidate = self.rule.first_starting_at_or_after(start_from)
        if not restriction.catchup:
            # Without catch-up, windows already over are skipped; one in progress still runs.
            current = self.rule.first_ending_after(_now())
            if current.start > candidate.start:
                candidate = current
        return candidate


def _now() -> datetime:
    return datetime.now(UTC)
