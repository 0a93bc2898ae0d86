"""Load guard of the heavy Redis actions (BGREWRITEAOF forks; MEMORY PURGE walks the allocator).

Before acting: ``INFO`` ``instantaneous_ops_per_sec`` and ``connected_clients`` against
``redis.load_guard``. When busy, re-check every ``recheck_seconds`` for up to ``wait_seconds``
(never past the window), then the caller skips with a ``redis.load_guard`` warning carrying the
figures. An emergency critical request may override it (``Step.load_guard_override``; recorded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Finding
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis.info import num
from mercenary_maintenance.skips import (
    REDIS_LOAD_GUARD,
    GuardResult,
    overridden_finding,
    skipped_finding,
    wait_until_quiet,
)

if TYPE_CHECKING:
    from mercenary_maintenance.config import RedisLoadGuard
    from mercenary_maintenance.steps import Step


def figures_of(info: dict[str, Any]) -> dict[str, Any]:
    return {"ops_per_sec": num(info, "instantaneous_ops_per_sec", 0),
            "connected_clients": num(info, "connected_clients", 0),
            "blocked_clients": num(info, "blocked_clients", 0)}


def load_problems(figures: dict[str, Any], limits: RedisLoadGuard) -> list[str]:
    """Why the server is too busy for a heavy action now (empty: quiet enough). Pure.

    >>> from mercenary_maintenance.config import RedisLoadGuard
    >>> load_problems({"ops_per_sec": 25000.0, "connected_clients": 12.0}, RedisLoadGuard())
    ['25000 ops/s > max_ops_per_sec 20000']
    >>> load_problems({"ops_per_sec": 10.0, "connected_clients": 900.0}, RedisLoadGuard(max_connected_clients=500))
    ['900 connected clients > max_connected_clients 500']
    """
    problems = []
    if (figures["ops_per_sec"] or 0) > limits.max_ops_per_sec:
        problems.append(f"{figures['ops_per_sec']:.0f} ops/s > max_ops_per_sec {limits.max_ops_per_sec:g}")
    clients = figures["connected_clients"] or 0
    if limits.max_connected_clients is not None and clients > limits.max_connected_clients:
        problems.append(f"{clients:.0f} connected clients > max_connected_clients {limits.max_connected_clients}")
    return problems


def check(step: Step, client: Any, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> GuardResult:
    """Wait (bounded) until the server is quiet; ``ok`` False: the caller skips and records :func:`finding`."""
    limits = step.cfg.redis.load_guard

    def sample() -> tuple[dict[str, Any], list[str]]:
        figures = figures_of(rclient.info(client))
        return figures, load_problems(figures, limits)

    return wait_until_quiet(step, sample, wait_s=limits.wait_seconds, recheck_s=limits.recheck_seconds,
                            clock=clock, sleep=sleep)


def finding(result: GuardResult, action: str, target: str) -> Finding:
    if result.overridden:
        return overridden_finding(REDIS_LOAD_GUARD, result, action, target, result.figures.get("ops_per_sec"))
    finding = skipped_finding(action, target, "load",
                              f"server busy after waiting {result.waited_s:.0f} s: {'; '.join(result.problems)}",
                              waited_s=result.waited_s, check=REDIS_LOAD_GUARD, figures=result.figures,
                              problems=result.problems)
    finding.value = result.figures.get("ops_per_sec")
    return finding
