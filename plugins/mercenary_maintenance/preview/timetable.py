"""The ``maintenance_preview`` timetable: ``lead_hours`` before each maintenance window starts.

Derived from the same :class:`~mercenary_maintenance.windows.rules.WindowRule` objects the
window DAGs use, so the preview can never drift from the windows. A scheduled run has
``data_interval = [preview time, window start)`` and ``run_after`` = preview time; the
windows it previews are those starting at the interval's end. When two windows start at
the same moment one run previews both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

from mercenary_maintenance.windows.rules import UTC, WINDOW_DAGS, Window, WindowRule
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable

DEFAULT_LEAD_HOURS = 24.0


def upcoming(rules: dict[str, WindowRule], moment: datetime) -> list[tuple[str, Window]]:
    """The next window of each DAG starting at or after ``moment`` (sorted by start).

    >>> [(d, w.start.isoformat()) for d, w in upcoming(WINDOW_DAGS, datetime(2026, 12, 2, tzinfo=UTC))]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('maintenance_monthly', '2026-12-06T01:00:00+00:00'), ('maintenance_weekly', '2026-12-06T02:00:00+00:00'),
     ('maintenance_quarterly', '2027-01-02T00:00:00+00:00')]
    """
    found = [(dag_id, rule.first_starting_at_or_after(moment)) for dag_id, rule in rules.items()]
    return sorted(found, key=lambda item: (item[1].start, item[0]))


def starting_at(rules: dict[str, WindowRule], start: datetime) -> list[tuple[str, Window]]:
    """The windows (of any DAG) that start exactly at ``start``."""
    return [(d, w) for d, w in upcoming(rules, start) if w.start == start]


class PreviewTimetable(Timetable):
    """One run ``lead_hours`` before the start of every weekly, monthly and quarterly window."""

    periodic = True
    can_be_scheduled = True

    def __init__(self, *, lead_hours: float = DEFAULT_LEAD_HOURS,
                 rules: dict[str, WindowRule] | None = None) -> None:
        if not 0 < lead_hours <= 24 * 14:
            raise ValueError(f"lead_hours must be in (0, 336], not {lead_hours}")
        self.lead_hours = float(lead_hours)
        self.rules = dict(rules if rules is not None else WINDOW_DAGS)
        if not self.rules:
            raise ValueError("a preview needs at least one window rule")

    @property
    def lead(self) -> timedelta:
        return timedelta(hours=self.lead_hours)

    # -- what the UI shows ----------------------------------------------------
    @property
    def summary(self) -> str:  # type: ignore[override]  # the base declares a plain attribute
        return f"{self.lead_hours:g} h before each maintenance window"

    @property
    def description(self) -> str:  # type: ignore[override]  # the base declares a plain attribute
        windows = "; ".join(f"{d}: {r.summary()}" for d, r in self.rules.items())
        return f"Preview {self.lead_hours:g} h before each window ({windows})"

    # -- serialization ----------------------------------------------------------
    def serialize(self) -> dict[str, Any]:
        return {
            "lead_hours": self.lead_hours,
            "rules": {d: MaintenanceWindowTimetable.from_rule(r).serialize() for d, r in self.rules.items()},
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> PreviewTimetable:
        rules = {d: MaintenanceWindowTimetable.deserialize(r).rule for d, r in data["rules"].items()}
        return cls(lead_hours=float(data["lead_hours"]), rules=rules)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PreviewTimetable) and (self.lead_hours, self.rules) == (other.lead_hours, other.rules)

    def __hash__(self) -> int:
        return hash((self.lead_hours, tuple(sorted(self.rules.items()))))

    def validate(self) -> None:
        return None  # __init__ and WindowRule validate

    # -- scheduling --------------------------------------------------------------
    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval.exact(pendulum.instance(run_after))

    def next_fire(self, after: datetime) -> tuple[datetime, datetime]:
        """(preview time, window start) of the first preview time >= ``after``."""
        window_start = min(w.start for _, w in upcoming(self.rules, after + self.lead))
        return window_start - self.lead, window_start

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            # The next preview is for a window starting after the last previewed one.
            earliest = last_automated_data_interval.start + timedelta(microseconds=1)
        elif restriction.earliest is not None:
            earliest = restriction.earliest
        else:
            return None
        fire, window_start = self.next_fire(earliest)
        if not restriction.catchup:
            # Without catch-up, previews of windows that have started are skipped; a preview
            # whose time has passed but whose window is still ahead runs now.
            now = _now()
            if window_start <= now:
                fire, window_start = self.next_fire(max(earliest, now - self.lead + timedelta(microseconds=1)))
        if restriction.latest is not None and fire > restriction.latest:
            return None
        start, end = pendulum.instance(fire), pendulum.instance(window_start)
        return DagRunInfo(run_after=start, data_interval=DataInterval(start, end))


def _now() -> datetime:
    return datetime.now(UTC)
