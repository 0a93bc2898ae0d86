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

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis.info import num
from mercenary_maintenance.skips import REDIS_LOAD_GUARD, GuardResult, skipped_finding

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
    limits = step.cfg.redis.load_guard
    budget = min(limits.wait_seconds, step.run.statement_timeout(limits.wait_seconds))
    started = clock()
    while True:
        figures = figures_of(rclient.info(client))
        problems = load_problems(figures, limits)
        waited = clock() - started
        if not problems:
            return GuardResult(True, waited, figures)
        if step.load_guard_override:
            return GuardResult(True, waited, figures, problems, overridden=step.load_guard_override)
        if waited + limits.recheck_seconds > budget:
            return GuardResult(False, waited, figures, problems)
        sleep(limits.recheck_seconds)


def finding(result: GuardResult, action: str, target: str) -> Finding:
    if result.overridden:
        return Finding(REDIS_LOAD_GUARD, target, Severity.WARNING,
                       f"{action} ran over the load guard ({'; '.join(result.problems)}): overridden by "
                       f"{result.overridden}", value=result.figures.get("ops_per_sec"),
                       details={"action": action, "overridden": result.overridden, "figures": result.figures})
    finding = skipped_finding(action, target, "load",
                              f"server busy after waiting {result.waited_s:.0f} s: {'; '.join(result.problems)}",
                              waited_s=result.waited_s, check=REDIS_LOAD_GUARD, figures=result.figures,
                              problems=result.problems)
    finding.value = result.figures.get("ops_per_sec")
    return finding
