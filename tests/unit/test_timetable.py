"""The window timetable as the scheduler sees it (after serialization), checked against
an independent day-by-day oracle over several years, leap years included."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from mercenary_maintenance.windows import timetable as tt_module
from mercenary_maintenance.windows.rules import MONTHLY_WINDOW, QUARTERLY_WINDOW, WEEKLY_WINDOW, WindowRule
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable

UTC = UTC


def oracle_windows(kind: str, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """Every window between two dates, found by walking the calendar one day at a time."""
    out = []
    day = first
    while day <= last:
        if kind == "weekly" and day.weekday() == 6:
            out.append((datetime.combine(day, time(2), UTC), datetime.combine(day, time(4), UTC)))
        if kind == "monthly" and day.weekday() == 6 and day.day <= 7:
            out.append((datetime.combine(day, time(1), UTC), datetime.combine(day, time(5), UTC)))
        if kind == "quarterly" and day.weekday() == 5 and day.day <= 7 and day.month in (1, 4, 7, 10):
            out.append((datetime.combine(day, time(0), UTC), datetime.combine(day, time(6), UTC)))
        day += timedelta(days=1)
    return out


RULES = {"weekly": WEEKLY_WINDOW, "monthly": MONTHLY_WINDOW, "quarterly": QUARTERLY_WINDOW}


def serialized(rule: WindowRule) -> MaintenanceWindowTimetable:
    """The timetable the scheduler gets: encoded and decoded through the plugin registry."""
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    decoded = decode_timetable(encode_timetable(MaintenanceWindowTimetable.from_rule(rule)))
    assert isinstance(decoded, MaintenanceWindowTimetable)
    return decoded


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tt_module, "_now", lambda: datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("kind", sorted(RULES))
def test_catchup_walks_every_window_of_six_years(kind: str) -> None:
    timetable = serialized(RULES[kind])
    expected = oracle_windows(kind, date(2024, 1, 1), date(2029, 12, 31))
    restriction = TimeRestriction(earliest=datetime(2024, 1, 1, tzinfo=UTC), latest=None, catchup=True)
    got = []
    last = None
    while len(got) < len(expected):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None
        assert info.run_after == info.data_interval.start, "a window run starts when the window opens"
        got.append((info.data_interval.start, info.data_interval.end))
        last = info.data_interval
    assert got == expected


@pytest.mark.parametrize("kind", sorted(RULES))
def test_first_run_from_arbitrary_start_dates(kind: str) -> None:
    timetable = serialized(RULES[kind])
    windows = oracle_windows(kind, date(2023, 12, 1), date(2031, 12, 31))
    rng = random.Random(kind)
    for _ in range(300):
        earliest = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 6 * 365 * 24 * 60))
        info = timetable.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=earliest, latest=None, catchup=True),
        )
        assert info is not None
        expected = next(w for w in windows if w[0] >= earliest)
        assert (info.data_interval.start, info.data_interval.end) == expected, earliest


def test_no_catchup_skips_past_windows_but_runs_the_one_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    timetable = serialized(WEEKLY_WINDOW)
    restriction = TimeRestriction(earliest=datetime(2026, 1, 1, tzinfo=UTC), latest=None, catchup=False)
    # Sunday 2026-11-29 03:00 is inside the 02:00–04:00 window.
    monkeypatch.setattr(tt_module, "_now", lambda: datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None
    assert info.data_interval.start == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    # Thursday 2026-11-26: next window is the coming Sunday, older ones are not caught up.
    monkeypatch.setattr(tt_module, "_now", lambda: datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
    last = DataInterval(datetime(2026, 3, 1, 2, tzinfo=UTC), datetime(2026, 3, 1, 4, tzinfo=UTC))
    info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
    assert info is not None
    assert info.data_interval == DataInterval(
        datetime(2026, 11, 29, 2, tzinfo=UTC), datetime(2026, 11, 29, 4, tzinfo=UTC)
    )


def test_catchup_resumes_after_the_last_window() -> None:
    timetable = serialized(MONTHLY_WINDOW)
    last = DataInterval(datetime(2026, 2, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, 5, tzinfo=UTC))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=last,
        restriction=TimeRestriction(earliest=datetime(2026, 1, 1, tzinfo=UTC), latest=None, catchup=True),
    )
    assert info is not None
    assert info.data_interval.start == datetime(2026, 3, 1, 1, tzinfo=UTC)  # 2026-03-01 is a Sunday


def test_end_date_stops_scheduling() -> None:
    timetable = serialized(QUARTERLY_WINDOW)
    restriction = TimeRestriction(
        earliest=datetime(2027, 1, 1, tzinfo=UTC), latest=datetime(2027, 1, 1, 23, tzinfo=UTC), catchup=True
    )
    # 2027-01-01 is a Friday; the first Saturday is 2027-01-02, after end_date.
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction) is None
    restriction = TimeRestriction(earliest=None, latest=None, catchup=True)
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction) is None


@pytest.mark.parametrize(
    ("first_day", "expected"),
    [
        (date(2022, 1, 1), date(2022, 1, 1)),  # the quarter starts on a Saturday: that day is the window
        (date(2023, 7, 1), date(2023, 7, 1)),  # Saturday again
        (date(2023, 10, 1), date(2023, 10, 7)),  # starts on a Sunday: the first Saturday is the 7th
        (date(2028, 4, 1), date(2028, 4, 1)),  # leap year, Saturday
    ],
)
def test_quarter_edge_days(first_day: date, expected: date) -> None:
    timetable = serialized(QUARTERLY_WINDOW)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(
            earliest=datetime.combine(first_day, time(0), UTC) - timedelta(days=1), latest=None, catchup=True
        ),
    )
    assert info is not None
    assert info.data_interval.start == datetime.combine(expected, time(0), UTC)


def test_leap_day_weekly_window() -> None:
    # 2032-02-29 is a Sunday.
    info = serialized(WEEKLY_WINDOW).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=datetime(2032, 2, 28, tzinfo=UTC), latest=None, catchup=True),
    )
    assert info is not None
    assert info.data_interval.start == datetime(2032, 2, 29, 2, tzinfo=UTC)


def test_manual_runs_get_a_point_interval() -> None:
    moment = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    interval = serialized(WEEKLY_WINDOW).infer_manual_data_interval(run_after=moment)
    assert interval.start == interval.end == moment


def test_summary_is_human_readable() -> None:
    assert serialized(WEEKLY_WINDOW).summary == "every Sunday 02:00–04:00 UTC"
    assert serialized(MONTHLY_WINDOW).summary == "first Sunday of each month 01:00–05:00 UTC"
    assert serialized(QUARTERLY_WINDOW).summary == "first Saturday of Jan/Apr/Jul/Oct 00:00–06:00 UTC"


def test_weekly_and_monthly_overlap_on_first_sundays() -> None:
    weekly = oracle_windows("weekly", date(2026, 1, 1), date(2026, 12, 31))
    monthly = oracle_windows("monthly", date(2026, 1, 1), date(2026, 12, 31))
    overlapping = [m for m in monthly if any(w[0] < m[1] and m[0] < w[1] for w in weekly)]
    assert overlapping == monthly  # every monthly window overlaps that Sunday's weekly one


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weekday": 7, "start": "02:00", "duration_minutes": 60},
        {"weekday": 6, "start": "02:00", "duration_minutes": 0},
        {"weekday": 6, "start": "02:00", "duration_minutes": 60, "months": [13], "first_in_month": True},
        {"weekday": 6, "start": "02:00", "duration_minutes": 60, "months": [1]},
    ],
)
def test_invalid_rules_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        MaintenanceWindowTimetable(**kwargs)  # type: ignore[arg-type]


def test_plugin_registers_the_timetable_exactly_once() -> None:
    from airflow import plugins_manager

    registered = plugins_manager.get_timetables_plugins()
    key = "mercenary_maintenance.windows.timetable.MaintenanceWindowTimetable"
    assert registered[key] is MaintenanceWindowTimetable
    plugins, errors = plugins_manager._get_plugins()
    assert not errors
    ours = [p for p in plugins if p.name == "mercenary_maintenance"]
    assert len(ours) == 1
