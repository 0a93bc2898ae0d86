"""Bodies of the redis tasks (the task declarations are data) and of the actions an operator may run on
demand (``wiring/registry.py``); the checks are :mod:`.checks`' table, the actions' rules :mod:`.actions`."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from mercenary_maintenance.adapters.redis import send_once
from mercenary_maintenance.findings import ActionStatus, Finding
from mercenary_maintenance.redis import actions, aof, checks
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis.info import num
from mercenary_maintenance.redis.lock import target_lock
from mercenary_maintenance.report.resolution import AFTER_ACTION
from mercenary_maintenance.skips import skipped_finding

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def check_redis(step: Step, target: str) -> None:
    """redis.memory, redis.slowlog, redis.persistence, redis.hit_ratio, redis.evictions,
    redis.rejected_connections, redis.replication (replicas) and redis.info, each an ``unknown``
    finding on error."""
    probe = checks.Probe(step, target)
    for check in checks.DAILY_CHECKS:
        step.check(check.name, target, partial(check.run, probe))


def memory_purge(step: Step, target: str, dry_run: bool = False) -> None:
    """redis.memory_purge: MEMORY PURGE when the allocator is jemalloc, under the target lock; memory
    before/after in the details."""
    with step.action("redis.memory_purge", target, why="return freed allocator pages to the OS") as act:
        client = rclient.connect(step.cfg, target)
        before = rclient.info(client, "memory")
        reason = actions.purge_skip_reason(before)
        if reason:
            act.skipped(reason, before=actions.memory_of(before))
            return
        if dry_run:
            act.dry_run("would run MEMORY PURGE", before=actions.memory_of(before))
            return
        if not actions.guard_allows(step, client, act):
            return
        with target_lock(client, actions.lock_owner(step), actions.time_budget(step), step.cfg.redis.lock_wait_seconds):
            send_once(client, "MEMORY", "PURGE")  # never re-sent after a timeout
            after = rclient.info(client, "memory")
        freed = (num(before, "used_memory_rss", 0) or 0) - (num(after, "used_memory_rss", 0) or 0)
        act.done(f"MEMORY PURGE done; RSS {freed / 2**20:+.1f} MiB freed", before=actions.memory_of(before),
                 after=actions.memory_of(after), rss_freed_bytes=freed)


def bgrewriteaof(step: Step, target: str, dry_run: bool = False) -> None:
    """``BGREWRITEAOF`` when AOF is on and nothing else rewrites/saves; wait and confirm ``ok``."""
    with step.action("redis.bgrewriteaof", target, why="compact the append-only file") as act:
        client = rclient.connect(step.cfg, target)
        before = rclient.info(client, "persistence")
        reason = actions.rewrite_skip_reason(before)
        if reason:
            act.skipped(reason, aof_enabled=before.get("aof_enabled"))
            return
        if dry_run:
            act.dry_run("would run BGREWRITEAOF", aof_base_size=before.get("aof_base_size"))
            return
        memory = rclient.info(client, "memory")
        short = actions.headroom_problem(memory, step.cfg.redis.rewrite_cow_fraction,
                                         step.cfg.redis.rewrite_memory_limit_bytes)
        if short:
            act.skipped(f"not enough memory to fork: {short}", memory=actions.memory_of(memory))
            step.add(skipped_finding("redis.bgrewriteaof", target, "load", f"not enough memory to fork: {short}"))
            return
        if not actions.guard_allows(step, client, act):
            return
        actions.rewrite(step, target, client, act)


def _aof_growth(step: Step, target: str) -> Finding:
    found = checks.BY_NAME[aof.CHECK].run(checks.Probe(step, target))
    assert found is not None
    return found


def aof_growth_before(step: Step, target: str) -> None:
    """redis.aof_growth before the rewrite."""
    step.check(aof.CHECK, target, lambda: _aof_growth(step, target))


def aof_growth_after(step: Step, target: str) -> None:
    """After a BGREWRITEAOF done in this step, measure again (``details.after_action``)."""
    if not any(a.action == aof.ACTION and a.target == target and a.status is ActionStatus.DONE
               for a in step.actions):
        return

    def after() -> Finding:
        finding = _aof_growth(step, target)
        finding.details[AFTER_ACTION] = aof.ACTION
        return finding

    step.check(aof.CHECK, target, after)


def weekly_rewrite(step: Step, target: str) -> None:
    """redis.bgrewriteaof: BGREWRITEAOF when AOF is on and idle; waits for ``ok``. redis.aof_growth is
    measured before and after (``resolved_by``)."""
    aof_growth_before(step, target)
    bgrewriteaof(step, target)
    aof_growth_after(step, target)
