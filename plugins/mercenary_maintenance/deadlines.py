"""A run-time deadline for a task body: the time left in its window.

A task's ``execution_timeout`` is fixed when the DAG file is parsed, so for a window DAG it is
the window's whole duration (dagkit). A task that starts late in the window must still end by
the window's end: :func:`alarm` arms a tighter ``SIGALRM`` (nested under Airflow's own
execution-timeout timer, which is restored afterwards) and raises :class:`WindowClosed`.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class WindowClosed(BaseException):
    """The maintenance window ended while the task was still running.

    A ``BaseException`` (like Airflow's ``AirflowTaskTimeout``): a check or action that catches
    ``Exception`` to record an error must not swallow it and carry on past the window."""


@contextmanager
def alarm(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`WindowClosed` in the body after ``seconds`` (no-op for ``None``, or outside
    the main thread). An outer timer that fires sooner is left alone; a later one is restored
    with the time it had left."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield  # Airflow's execution_timeout fires first anyway
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise WindowClosed(f"{what}: the maintenance window ended ({seconds:.0f}s after the task started)")

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, outer_left - (time.monotonic() - started)))
