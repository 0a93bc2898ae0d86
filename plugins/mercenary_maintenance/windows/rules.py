"""Pure calendar arithmetic of maintenance windows (no Airflow imports).

A :class:`WindowRule` is "weekday W at HH:MM UTC for D minutes", either every week or
only the first W of the listed months. All datetimes are aware UTC.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC as UTC
from datetime import date, datetime, time, timedelta

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ALL_MONTHS = tuple(range(1, 13))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class WindowRule:
    weekday: int  # Monday=0 … Sunday=6
    start: time
    duration: timedelta
    first_in_month: bool = False
    months: tuple[int, ...] = ALL_MONTHS

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6 (Monday..Sunday), not {self.weekday}")
        if not timedelta(minutes=1) <= self.duration <= timedelta(days=2):
            raise ValueError(f"window duration must be between 1 minute and 2 days, not {self.duration}")
        if not self.months or any(not 1 <= m <= 12 for m in self.months):
            raise ValueError(f"months must be 1..12, not {self.months}")
        if self.months != ALL_MONTHS and not self.first_in_month:
            raise ValueError("a month list needs first_in_month=True")
        if self.start.tzinfo is not None:
            raise ValueError("start is a naive UTC wall-clock time")

    # -- calendar ---------------------------------------------------------------
    def _window_on(self, day: date) -> Window:
        start = datetime.combine(day, self.start, tzinfo=UTC)
        return Window(start, start + self.duration)

    def _days_in_month(self, year: int, month: int) -> list[date]:
        """The window days of one month (every W, or only the first W)."""
        first = date(year, month, 1)
        offset = (self.weekday - first.weekday()) % 7
        first_match = first + timedelta(days=offset)
        if self.first_in_month:
            return [first_match]
        days = []
        while first_match.month == month:
            days.append(first_match)
            first_match += timedelta(weeks=1)
        return days

    def windows_from(self, moment: datetime) -> list[Window]:
        """Windows of the month of ``moment`` (from the month before, for long windows) onward, 14 months."""
        year, month = moment.year, moment.month - 1
        if month == 0:
            year, month = year - 1, 12
        out: list[Window] = []
        for _ in range(15):
            if month in self.months:
                out.extend(self._window_on(d) for d in self._days_in_month(year, month))
            month += 1
            if month == 13:
                year, month = year + 1, 1
        return out

    def first_starting_at_or_after(self, moment: datetime) -> Window:
        """The first window whose start is >= ``moment``."""
        moment = _utc(moment)
        for window in self.windows_from(moment):
            if window.start >= moment:
                return window
        raise AssertionError("a rule always has a window within 15 months")  # pragma: no cover

    def first_ending_after(self, moment: datetime) -> Window:
        """The window running at ``moment``, else the next one."""
        moment = _utc(moment)
        for window in self.windows_from(moment):
            if window.end > moment:
                return window
        raise AssertionError("a rule always has a window within 15 months")  # pragma: no cover

    # -- text ---------------------------------------------------------------------
    def summary(self) -> str:
        end = (datetime.combine(date(2000, 1, 3), self.start) + self.duration).time()
        span = f"{self.start:%H:%M}–{end:%H:%M} UTC"
        day = DAY_NAMES[self.weekday]
        if not self.first_in_month:
            return f"every {day} {span}"
        if self.months == ALL_MONTHS:
            return f"first {day} of each month {span}"
        months = "/".join(calendar.month_abbr[m] for m in self.months)
        return f"first {day} of {months} {span}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: maintenance windows need aware datetimes")
    return moment.astimezone(UTC)


# The plan's three windows.
WEEKLY_WINDOW = WindowRule(weekday=6, start=time(2, 0), duration=timedelta(hours=2))
MONTHLY_WINDOW = WindowRule(weekday=6, start=time(1, 0), duration=timedelta(hours=4), first_in_month=True)
QUARTERLY_WINDOW = WindowRule(
    weekday=5, start=time(0, 0), duration=timedelta(hours=6), first_in_month=True, months=(1, 4, 7, 10)
)
# The window DAGs (docs/windows.md), in this order: the preview looks ahead for them, planned vs done
# compares their runs with it.
WINDOW_DAGS: dict[str, WindowRule] = {
    "maintenance_weekly": WEEKLY_WINDOW,
    "maintenance_monthly": MONTHLY_WINDOW,
    "maintenance_quarterly": QUARTERLY_WINDOW,
}
