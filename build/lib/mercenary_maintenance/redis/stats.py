"""``redis.hit_ratio``, ``redis.evictions``, ``redis.rejected_connections``, ``redis.replication``
and ``redis.info`` (the plan's ``redis-cli info``, kept raw without secrets)."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.findings import Finding, Severity, Threshold, measured
from mercenary_maintenance.redis.info import num, sanitize


def check_hit_ratio(target: str, info: dict[str, Any], threshold: Threshold, min_lookups: int) -> Finding:
    hits = int(num(info, "keyspace_hits", 0) or 0)
    misses = int(num(info, "keyspace_misses", 0) or 0)
    lookups = hits + misses
    details = {"keyspace_hits": hits, "keyspace_misses": misses, "min_lookups": min_lookups}
    if lookups < max(min_lookups, 1):
        ratio = round(100.0 * hits / lookups, 2) if lookups else None
        return Finding("redis.hit_ratio", target, Severity.OK,
                       f"{lookups} lookups since start: too few to judge the hit ratio (needs {min_lookups})",
                       value=ratio, details=details)
    ratio = round(100.0 * hits / lookups, 2)
    return measured("redis.hit_ratio", target, ratio, threshold,
                    f"keyspace hit ratio {ratio}% ({hits} hits, {misses} misses)", details)


def counter_delta(current: int, server_run: str | None, previous: dict[str, Any] | None, key: str) -> tuple[int, str]:
    """A counter Redis keeps since its start, judged as the increase since the previous run.

    ``previous`` is that run's finding details (the raw counter and the server's ``run_id``).
    A restarted server (another ``run_id``, or a smaller counter) counts from its start.

    >>> counter_delta(12, "a", {"evicted_keys": 10, "redis_run_id": "a"}, "evicted_keys")
    (2, 'since the previous run')
    >>> counter_delta(3, "b", {"evicted_keys": 10, "redis_run_id": "a"}, "evicted_keys")
    (3, 'since the server restarted')
    >>> counter_delta(7, "a", None, "evicted_keys")
    (7, 'since the server started (no previous run to compare)')
    """
    if previous is None or previous.get(key) is None:
        return current, "since the server started (no previous run to compare)"
    before = int(previous[key])
    if previous.get("redis_run_id") != server_run or current < before:
        return current, "since the server restarted"
    return current - before, "since the previous run"


def _counter(check: str, key: str, target: str, info: dict[str, Any], threshold: Threshold,
             previous: dict[str, Any] | None, what: str, extra: dict[str, Any]) -> Finding:
    total = int(num(info, key, 0) or 0)
    server_run = info.get("run_id")
    delta, basis = counter_delta(total, server_run, previous, key)
    details = {key: total, "redis_run_id": server_run, "delta": delta, "basis": basis, **extra}
    return measured(check, target, delta, threshold, f"{delta} {what} {basis} ({total} since start)", details)


def check_evictions(target: str, info: dict[str, Any], threshold: Threshold,
                    previous: dict[str, Any] | None = None) -> Finding:
    policy = info.get("maxmemory_policy")
    return _counter("redis.evictions", "evicted_keys", target, info, threshold, previous,
                    f"keys evicted (policy {policy})", {"maxmemory_policy": policy})


def check_rejected(target: str, info: dict[str, Any], threshold: Threshold,
                   previous: dict[str, Any] | None = None) -> Finding:
    return _counter("redis.rejected_connections", "rejected_connections", target, info, threshold, previous,
                    "connections rejected (maxclients reached)", {"connected_clients": info.get("connected_clients")})


def check_replication(target: str, info: dict[str, Any]) -> Finding | None:
    """Only for replicas: the link to the primary must be up."""
    if info.get("role") != "slave":
        return None
    status = info.get("master_link_status")
    details = {key: info.get(key) for key in ("master_host", "master_port", "master_link_status",
                                              "master_last_io_seconds_ago", "master_sync_in_progress")}
    severity = Severity.OK if status == "up" else Severity.CRITICAL
    return Finding("redis.replication", target, severity, f"replica link to primary is {status}",
                   value=status, threshold="up", details=details)


def info_finding(target: str, info: dict[str, Any]) -> Finding:
    """The raw INFO, for the record (severity ok)."""
    days = info.get("uptime_in_days")
    return Finding("redis.info", target, Severity.OK,
                   f"Redis {info.get('redis_version')} ({info.get('role')}), up {days} days",
                   details={"info": sanitize(info)})
