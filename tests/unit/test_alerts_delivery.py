"""Bounded delivery: no attempt and no back-off past the deadline."""

from __future__ import annotations

from mercenary_maintenance.delivery import deliver


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_deadline_stops_retries_and_caps_the_backoff() -> None:
    clock = Clock()
    calls: list[float] = []

    def slow_failure(text: str) -> None:
        calls.append(clock.now)
        clock.now += 4  # each attempt hangs until its own timeout
        raise TimeoutError("timed out")

    result = deliver("x", slow_failure, attempts=5, delay_s=10, sleep=clock.sleep, deadline=9, clock=clock)
    assert not result.ok
    # attempt 1 hangs 4 s, the 10-s back-off is cut to the 5 s left, then no attempt is started
    assert calls == [0.0]
    assert clock.now == 9
    assert "TimeoutError" in (result.error or "")


def test_no_deadline_keeps_the_old_behaviour() -> None:
    clock = Clock()
    sent: list[str] = []
    outcomes = [RuntimeError("500"), None]

    def flaky(text: str) -> None:
        err = outcomes.pop(0)
        if err:
            raise err
        sent.append(text)

    assert deliver("hi", flaky, attempts=3, delay_s=1, sleep=clock.sleep, clock=clock).attempts == 2
    assert sent == ["hi"]
    assert clock.now == 1


def test_budget_spent_before_the_first_attempt() -> None:
    result = deliver("x", lambda t: None, deadline=0, clock=lambda: 5.0)
    assert not result.ok
    assert result.attempts == 0
    assert "budget" in (result.error or "")
