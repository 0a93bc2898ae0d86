"""Run-time window enforcement: cutoff and time left (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mercenary_maintenance.windows.rules import Window

DEFAULT_CUTOFF = timedelta(minutes=15)
# Keep a little room between statement_timeout and the window's end.
SAFETY_MARGIN = timedelta(seconds=30)


def past_cutoff(window: Window | None, now: datetime, cutoff: timedelta = DEFAULT_CUTOFF) -> bool:
    """True when a task starting ``now`` would start after ``window end − cutoff``."""
    return window is not None and now > window.end - cutoff


def seconds_left(window: Window | None, now: datetime) -> float | None:
    """Seconds until the window closes; ``None`` outside a window-bound run."""
    if window is None:
        return None
    return max(0.0, (window.end - now).total_seconds())


def statement_timeout(window: Window | None, now: datetime, ceiling_s: float) -> float:
    """Seconds a maintenance statement may run: ≤ time left in the window (minus a margin)."""
    left = seconds_left(window, now)
    if left is None:
        return ceiling_s
    return max(1.0, min(ceiling_s, left - SAFETY_MARGIN.total_seconds()))
