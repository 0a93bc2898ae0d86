"""Run-time deadlines: a window task ends at the window's end wherever it waits, even inside a
check that records errors; Airflow's own execution-timeout timer survives the nesting."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.deadlines import WindowClosed, alarm
from mercenary_maintenance.steps import Step, execute_step
from tests.unit.test_steps import make_context, parts


def test_alarm_interrupts_a_blocked_body() -> None:
    started = time.monotonic()
    with pytest.raises(WindowClosed, match="task x"), alarm(0.3, "task x"):
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_outer_timer_is_restored_with_the_time_it_had_left() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        with alarm(1.0, "inner"):
            time.sleep(0.2)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 4.0 < left <= 4.85
        assert not fired
        # An outer timer that fires sooner is not replaced.
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with alarm(10.0, "inner"):
            time.sleep(0.5)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_window_step_ends_at_the_window_end_even_inside_a_check(tmp_path: Path) -> None:
    cfg: Any = parse_config({"reports": {"url": f"file://{tmp_path}/reports"},
                             "windows": {"cutoff_minutes": {"maintenance_weekly": 0}}})
    # The weekly window (2 h) started 2 h − 1 s ago: one second is left.
    start = datetime.now(UTC) - timedelta(hours=2) + timedelta(seconds=1)
    after_check: list[str] = []

    def body(step: Step) -> None:
        step.check("postgres.dead_tuples", "main", lambda: time.sleep(10))  # type: ignore[arg-type,return-value]
        after_check.append("ran on past the window")

    started = time.monotonic()
    with pytest.raises(WindowClosed):
        execute_step(body, context=make_context(start=start), cfg=cfg)
    assert time.monotonic() - started < 3
    assert after_check == []
    [part] = parts(tmp_path)
    assert part["error"].startswith("WindowClosed")
