"""Weekly Redis maintenance: what ``redis.memory_purge`` and ``redis.bgrewriteaof`` (:mod:`.bodies`) decide from and do.

Each action decides from ``INFO`` whether it may run (a pure function returning the
skip reason), takes the per-target lock, acts, and records what changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.adapters.redis import send_once
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis import loadguard
from mercenary_maintenance.redis.info import num
from mercenary_maintenance.redis.lock import target_lock
from mercenary_maintenance.skips import apply_guard
from mercenary_maintenance.windows import guard

if TYPE_CHECKING:
    from mercenary_maintenance.steps import ActionRecorder, Step

_MEMORY_KEYS = ("used_memory", "used_memory_rss", "allocator_frag_ratio", "allocator_frag_bytes",
                "mem_fragmentation_ratio", "mem_fragmentation_bytes")
# Room left between our wait and the window's end.
# The lock outlives the action's budget by the same margin the window guard keeps.
WINDOW_MARGIN_S = guard.SAFETY_MARGIN.total_seconds()


class RewriteFailed(RuntimeError):
    """BGREWRITEAOF finished with a status other than ok, or did not finish in time."""


def purge_skip_reason(info: dict[str, Any]) -> str | None:
    """MEMORY PURGE asks jemalloc to return dirty pages; other allocators ignore it.

    >>> purge_skip_reason({"mem_allocator": "libc"})
    'allocator is libc, not jemalloc: MEMORY PURGE would do nothing'
    >>> purge_skip_reason({"mem_allocator": "jemalloc-5.3.0"}) is None
    True
    """
    allocator = str(info.get("mem_allocator") or "unknown")
    if not allocator.startswith("jemalloc"):
        return f"allocator is {allocator}, not jemalloc: MEMORY PURGE would do nothing"
    return None


def rewrite_skip_reason(info: dict[str, Any]) -> str | None:
    """Why BGREWRITEAOF must not be issued now (``None``: it may).

    >>> rewrite_skip_reason({"aof_enabled": 0})
    'AOF is disabled (aof_enabled=0): nothing to rewrite'
    >>> rewrite_skip_reason({"aof_enabled": 1, "aof_rewrite_in_progress": 1})
    'an AOF rewrite is already in progress'
    """
    if num(info, "aof_enabled", 0) != 1:
        return "AOF is disabled (aof_enabled=0): nothing to rewrite"
    if num(info, "aof_rewrite_in_progress", 0) == 1 or num(info, "aof_rewrite_scheduled", 0) == 1:
        return "an AOF rewrite is already in progress"
    if num(info, "rdb_bgsave_in_progress", 0) == 1:
        return "an RDB save (BGSAVE) is in progress"
    return None


def rewrite_finished(info: dict[str, Any], rewrites_before: float) -> bool:
    """The rewrite we issued is over: nothing in progress or scheduled, and the counter moved
    (or the last rewrite failed — a failure does not count as a rewrite)."""
    idle = num(info, "aof_rewrite_in_progress", 0) == 0 and num(info, "aof_rewrite_scheduled", 0) == 0
    moved = (num(info, "aof_rewrites", 0) or 0) > rewrites_before
    return idle and (moved or info.get("aof_last_bgrewrite_status") != "ok")


def memory_of(info: dict[str, Any]) -> dict[str, Any]:
    return {key: info.get(key) for key in _MEMORY_KEYS}


def lock_owner(step: Step) -> str:
    return f"{step.run.dag_id}/{step.run.run_id}/{step.run.task_id}"


def time_budget(step: Step) -> float:
    """Seconds an action may take: the configured ceiling, and never past the window's end."""
    return step.run.statement_timeout(step.cfg.redis.rewrite_timeout_seconds)


def guard_allows(step: Step, client: Any, act: ActionRecorder) -> bool:
    """The load guard before a heavy action; a busy server is recorded skipped + a warning."""
    return apply_guard(step, act, loadguard.check(step, client), loadguard.finding)


def fork_finding(target: str, fork_usec: float | None, max_fork_ms: float, rewrite_s: float | None) -> Finding:
    """``redis.fork_latency``: the rewrite's fork stalls the server (a single thread) for its duration.

    >>> fork_finding("cache", 812_000, 500, 3.0).message
    'BGREWRITEAOF fork took 812.0 ms > redis.max_fork_ms 500 (the server answered nothing meanwhile)'
    >>> fork_finding("cache", 900, 500, 0.1).severity.label
    'ok'
    """
    ms = (fork_usec or 0) / 1000
    details = {"latest_fork_usec": fork_usec, "rewrite_s": rewrite_s, "max_fork_ms": max_fork_ms}
    if ms > max_fork_ms:
        return Finding("redis.fork_latency", target, Severity.WARNING,
                       f"BGREWRITEAOF fork took {ms:.1f} ms > redis.max_fork_ms {max_fork_ms:g} "
                       "(the server answered nothing meanwhile)", value=round(ms, 3), threshold=max_fork_ms,
                       details=details)
    return Finding("redis.fork_latency", target, Severity.OK, f"BGREWRITEAOF fork took {ms:.1f} ms",
                   value=round(ms, 3), threshold=max_fork_ms, details=details)


def wait_for_rewrite(
    read_info: Callable[[], dict[str, Any]],
    rewrites_before: float,
    budget_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll INFO until the rewrite is over; raise :class:`RewriteFailed` when the budget runs out."""
    deadline = clock() + budget_s
    while True:
        info = read_info()
        if rewrite_finished(info, rewrites_before):
            return info
        if clock() >= deadline:
            raise RewriteFailed(f"AOF rewrite still running after {budget_s:.0f}s (window/timeout budget)")
        sleep(poll_s)


def headroom_problem(memory: dict[str, Any], cow_fraction: float, limit: int | None) -> str | None:
    """Why forking for BGREWRITEAOF could exhaust memory (the numbers), or None.

    >>> headroom_problem({"used_memory_rss": 600, "total_system_memory": 1000}, 0.5, None) is None
    True
    >>> headroom_problem({"used_memory_rss": 800, "total_system_memory": 1000}, 0.5, None)
    'RSS 800 B + expected copy-on-write 400 B = 1200 B > total_system_memory 1000 B'
    """
    rss = int(num(memory, "used_memory_rss", 0) or 0)
    source, available = "rewrite_memory_limit_bytes", limit
    if available is None:
        source, available = "total_system_memory", int(num(memory, "total_system_memory", 0) or 0)
    if not available:
        return None  # nothing to compare with (a server that does not report it): not guessed
    growth = int(rss * cow_fraction)
    if rss + growth <= available:
        return None
    return f"RSS {rss} B + expected copy-on-write {growth} B = {rss + growth} B > {source} {available} B"


def rewrite(step: Step, target: str, client: Any, act: ActionRecorder) -> None:
    """BGREWRITEAOF under the target lock (skipped if a save started while we waited), waited for until
    it finishes within the action's budget; the fork's stall is a ``redis.fork_latency`` finding."""
    budget = time_budget(step)
    with target_lock(client, lock_owner(step), budget + WINDOW_MARGIN_S, step.cfg.redis.lock_wait_seconds):
        # Re-read under the lock: a save may have started while we waited.
        before = rclient.info(client, "persistence")
        reason = rewrite_skip_reason(before)
        if reason:
            act.skipped(reason, aof_enabled=before.get("aof_enabled"))
            return
        rewrites = num(before, "aof_rewrites", 0) or 0
        started = time.monotonic()
        send_once(client, "BGREWRITEAOF")  # never re-sent after a timeout (a second fork)
        after = wait_for_rewrite(lambda: rclient.info(client, "persistence"), rewrites, budget,
                                 step.cfg.redis.rewrite_poll_seconds)
        rewrite_s = round(time.monotonic() - started, 3)
        fork_usec = num(rclient.info(client, "stats"), "latest_fork_usec")
    details = {"aof_base_size_before": before.get("aof_base_size"),
               "aof_base_size_after": after.get("aof_base_size"),
               "aof_last_rewrite_time_sec": after.get("aof_last_rewrite_time_sec"),
               "aof_last_bgrewrite_status": after.get("aof_last_bgrewrite_status"),
               "latest_fork_usec": fork_usec, "rewrite_s": rewrite_s}
    step.add(fork_finding(target, fork_usec, step.cfg.redis.max_fork_ms, rewrite_s))
    if after.get("aof_last_bgrewrite_status") != "ok":
        act.failed(f"AOF rewrite finished with status {after.get('aof_last_bgrewrite_status')}", **details)
        return
    act.done(f"AOF rewritten in {rewrite_s:.2f}s (fork {(fork_usec or 0) / 1000:.1f} ms), status ok", **details)
