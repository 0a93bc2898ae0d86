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


def check_evictions(target: str, info: dict[str, Any], threshold: Threshold) -> Finding:
    evicted = num(info, "evicted_keys", 0)
    return measured("redis.evictions", target, evicted, threshold,
                    f"{int(evicted or 0)} keys evicted since start (policy {info.get('maxmemory_policy')})",
                    {"evicted_keys": evicted, "maxmemory_policy": info.get("maxmemory_policy")})


def check_rejected(target: str, info: dict[str, Any], threshold: Threshold) -> Finding:
    rejected = num(info, "rejected_connections", 0)
    return measured("redis.rejected_connections", target, rejected, threshold,
                    f"{int(rejected or 0)} connections rejected since start (maxclients reached)",
                    {"rejected_connections": rejected, "connected_clients": info.get("connected_clients")})


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
