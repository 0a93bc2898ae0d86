"""The preview timetable as the scheduler sees it (after serialization): one run lead_hours
before every weekly, monthly and quarterly window, checked against the window timetables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from mercenary_maintenance.preview import timetable as tt_module
from mercenary_maintenance.preview.timetable import PreviewTimetable, starting_at
from mercenary_maintenance.windows.rules import WEEKLY_WINDOW, WINDOW_DAGS
from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable


def serialized(timetable: PreviewTimetable) -> PreviewTimetable:
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    decoded = decode_timetable(encode_timetable(timetable))
    assert isinstance(decoded, PreviewTimetable)
    return decoded


def window_starts(first: datetime, last: datetime) -> list[datetime]:
    """Every window start of the three window DAGs, from their own timetables."""
    starts: set[datetime] = set()
    for rule in WINDOW_DAGS.values():
        table = MaintenanceWindowTimetable.from_rule(rule)
        restriction = TimeRestriction(earliest=first, latest=last, catchup=True)
        last_interval = None
        while (info := table.next_dagrun_info(last_automated_data_interval=last_interval,
                                              restriction=restriction)) is not None:
            assert info.data_interval is not None
            starts.add(info.data_interval.start)
            last_interval = info.data_interval
    return sorted(starts)


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tt_module, "_now", lambda: datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("lead_hours", [24, 6.5])
def test_catchup_fires_lead_hours_before_every_window_of_two_years(lead_hours: float) -> None:
    timetable = serialized(PreviewTimetable(lead_hours=lead_hours))
    first, last = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC)
    expected = [s for s in window_starts(first, last + timedelta(days=2)) if s - timedelta(hours=lead_hours) >= first
                and s - timedelta(hours=lead_hours) <= last]
    restriction = TimeRestriction(earliest=first, latest=last, catchup=True)
    got, previous = [], None
    while (info := timetable.next_dagrun_info(last_automated_data_interval=previous,
                                              restriction=restriction)) is not None:
        assert info.data_interval is not None
        assert info.run_after == info.data_interval.start
        assert info.data_interval.end - info.data_interval.start == timedelta(hours=lead_hours)
        got.append(info.data_interval.end)
        previous = info.data_interval
    assert got == expected
    assert len(got) > 100  # 104 Sundays, 24 first Sundays (distinct starts), 8 quarter Saturdays


def test_each_run_previews_the_windows_starting_at_its_interval_end() -> None:
    timetable = PreviewTimetable()
    restriction = TimeRestriction(earliest=datetime(2026, 12, 2, tzinfo=UTC), latest=None, catchup=True)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None
    assert info.data_interval is not None
    # First Sunday of December 2026: the monthly window opens at 01:00, the weekly at 02:00.
    assert info.run_after == datetime(2026, 12, 5, 1, tzinfo=UTC)
    assert [d for d, _ in starting_at(WINDOW_DAGS, info.data_interval.end)] == ["maintenance_monthly"]
    nxt = timetable.next_dagrun_info(last_automated_data_interval=info.data_interval, restriction=restriction)
    assert nxt is not None
    assert nxt.data_interval is not None
    assert nxt.run_after == datetime(2026, 12, 5, 2, tzinfo=UTC)
    assert [d for d, _ in starting_at(WINDOW_DAGS, nxt.data_interval.end)] == ["maintenance_weekly"]


def test_without_catchup_a_late_preview_of_a_coming_window_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Saturday 2026-12-12 10:00: the weekly window opens Sunday 02:00, its preview time (Sat 02:00) passed.
    monkeypatch.setattr(tt_module, "_now", lambda: datetime(2026, 12, 12, 10, tzinfo=UTC))
    timetable = PreviewTimetable()
    restriction = TimeRestriction(earliest=datetime(2026, 1, 1, tzinfo=UTC), latest=None, catchup=False)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None
    assert info.data_interval is not None
    assert info.data_interval.end == datetime(2026, 12, 13, 2, tzinfo=UTC)
    # Previews of windows already started are never created.
    monkeypatch.setattr(tt_module, "_now", lambda: datetime(2026, 12, 13, 2, 30, tzinfo=UTC))
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None
    assert info.data_interval is not None
    assert info.data_interval.end > datetime(2026, 12, 13, 2, 30, tzinfo=UTC)


def test_end_date_stops_the_previews() -> None:
    timetable = PreviewTimetable()
    restriction = TimeRestriction(earliest=datetime(2026, 12, 2, tzinfo=UTC),
                                  latest=datetime(2026, 12, 5, 0, tzinfo=UTC), catchup=True)
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction) is None


def test_manual_runs_get_a_point_interval_and_bad_leads_are_refused() -> None:
    moment = datetime(2026, 12, 2, 3, tzinfo=UTC)
    assert PreviewTimetable().infer_manual_data_interval(run_after=moment) == DataInterval(moment, moment)
    with pytest.raises(ValueError, match="lead_hours"):
        PreviewTimetable(lead_hours=0)
    assert PreviewTimetable(rules={"w": WEEKLY_WINDOW}) != PreviewTimetable()
    assert PreviewTimetable().summary == "24 h before each maintenance window"
