"""Daily Redis checks of one target, recorded into a :class:`~mercenary_maintenance.steps.Step`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Finding
from mercenary_maintenance.redis import client as rclient
from mercenary_maintenance.redis.memory import FragLimits, check_memory
from mercenary_maintenance.redis.persistence import check_persistence
from mercenary_maintenance.redis.slowlog import check_slowlog, parse_entries
from mercenary_maintenance.redis.stats import (
    check_evictions,
    check_hit_ratio,
    check_rejected,
    check_replication,
    info_finding,
)

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def previous_details(step: Step, target: str, checks: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The details of ``checks`` on ``target`` in this DAG's previous report (counters are judged as deltas)."""
    from mercenary_maintenance.report.store import store_for

    report = store_for(step.cfg).previous_report(step.run.dag_id, step.run.run_id)
    found = {}
    for finding in (report or {}).get("findings", []):
        if finding.get("target") == target and finding.get("check") in checks:
            found[str(finding["check"])] = dict(finding.get("details") or {})
    return found


def run_daily(step: Step, target: str) -> None:
    """redis.memory, redis.slowlog, redis.persistence, redis.hit_ratio (+ evictions, rejected connections,
    replication where a replica) and redis.info, each an ``unknown`` finding on error."""
    cfg, th = step.cfg, step.cfg.thresholds
    state: dict[str, Any] = {}

    def client() -> Any:
        # Connect (and ping) once; a server that is down fails every check with the same error.
        if "error" in state:
            raise state["error"]
        if "client" not in state:
            try:
                state["client"] = rclient.connect(cfg, target)
                state["client"].ping()
            except Exception as exc:
                state["error"] = exc
                raise
        return state["client"]

    def all_info() -> dict[str, Any]:
        return rclient.info(client())

    def memory() -> Finding:
        limits = FragLimits(cfg.redis.fragmentation_ratio, cfg.redis.fragmentation_min_bytes)
        return check_memory(target, rclient.info(client(), "memory"), th.redis_memory_percent.as_threshold(), limits)

    def slowlog() -> Finding:
        raw = client().execute_command("SLOWLOG", "GET", cfg.redis.slowlog_entries)
        return check_slowlog(target, parse_entries(list(raw)), th.redis_slowlog_ms.as_threshold())

    def persistence() -> Finding:
        return check_persistence(target, rclient.info(client(), "persistence"), time.time(),
                                 cfg.redis.last_save_max_age_hours)

    def stats() -> list[Finding]:
        info = all_info()
        before = previous_details(step, target, ("redis.evictions", "redis.rejected_connections"))
        found = [
            check_hit_ratio(target, info, th.redis_hit_ratio_percent.as_threshold(), cfg.redis.hit_ratio_min_lookups),
            check_evictions(target, info, th.redis_evicted_keys.as_threshold(), before.get("redis.evictions")),
            check_rejected(target, info, th.redis_rejected_connections.as_threshold(),
                           before.get("redis.rejected_connections")),
        ]
        replication = check_replication(target, info)
        return [*found, replication] if replication else found

    step.check("redis.memory", target, memory)
    step.check("redis.slowlog", target, slowlog)
    step.check("redis.persistence", target, persistence)
    step.check("redis.hit_ratio", target, stats)
    step.check("redis.info", target, lambda: info_finding(target, all_info()))
