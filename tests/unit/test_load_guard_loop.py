"""The one wait-and-recheck loop of the PostgreSQL and Redis load guards (``skips.wait_until_quiet``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mercenary_maintenance.skips import wait_until_quiet


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def step(remaining_s: float = 1e9, override: str | None = None) -> Any:
    return SimpleNamespace(load_guard_override=override,
                           run=SimpleNamespace(statement_timeout=lambda want: min(want, remaining_s)))


def busy_for(n: int) -> Any:
    calls = {"n": 0}

    def sample() -> tuple[dict[str, Any], list[str]]:
        calls["n"] += 1
        return {"sample": calls["n"]}, (["too busy"] if calls["n"] <= n else [])
    return sample


def test_quiet_at_once_goes_ahead_without_waiting() -> None:
    clock = Clock()
    result = wait_until_quiet(step(), busy_for(0), wait_s=60, recheck_s=10, clock=clock, sleep=clock.sleep)
    assert (result.ok, result.waited_s, result.problems, clock.sleeps) == (True, 0.0, [], [])


def test_busy_then_quiet_goes_ahead_after_rechecks() -> None:
    clock = Clock()
    result = wait_until_quiet(step(), busy_for(2), wait_s=60, recheck_s=10, clock=clock, sleep=clock.sleep)
    assert result.ok
    assert result.waited_s == 20.0
    assert result.figures == {"sample": 3}


def test_busy_throughout_gives_up_before_the_wait_ends() -> None:
    clock = Clock()
    result = wait_until_quiet(step(), busy_for(99), wait_s=35, recheck_s=10, clock=clock, sleep=clock.sleep)
    assert not result.ok
    assert result.problems == ["too busy"]
    assert clock.sleeps == [10, 10, 10]  # a fourth recheck would pass 35 s
    assert result.waited_s == 30.0


def test_the_window_bounds_the_wait() -> None:
    clock = Clock()
    result = wait_until_quiet(step(remaining_s=15), busy_for(99), wait_s=600, recheck_s=10, clock=clock,
                              sleep=clock.sleep)
    assert not result.ok
    assert clock.sleeps == [10]


def test_an_override_goes_ahead_and_says_so() -> None:
    clock = Clock()
    result = wait_until_quiet(step(override="alice: INC-1"), busy_for(99), wait_s=60, recheck_s=10, clock=clock,
                              sleep=clock.sleep)
    assert result.ok
    assert result.overridden == "alice: INC-1"
    assert result.problems == ["too busy"]
    assert clock.sleeps == []
