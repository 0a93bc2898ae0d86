"""Warning/critical thresholds of every check (the plan's alert table first)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mercenary_maintenance.config.base import StrictModel
from mercenary_maintenance.findings import Threshold


class ThresholdModel(StrictModel):
    warning: float
    critical: float
    direction: Literal["above", "below"] = "above"

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdModel:
        self.as_threshold()  # raises ValueError with the reason
        return self

    def as_threshold(self) -> Threshold:
        return Threshold(self.warning, self.critical, self.direction)


def limits(warning: float, critical: float, direction: Literal["above", "below"] = "above") -> Any:
    return Field(default_factory=lambda: ThresholdModel(warning=warning, critical=critical, direction=direction))


class Thresholds(StrictModel):
    # The plan's alert table.
    cpu_percent: ThresholdModel = limits(70, 90)
    memory_percent: ThresholdModel = limits(80, 95)
    disk_percent: ThresholdModel = limits(80, 90)
    error_rate_percent: ThresholdModel = limits(1, 5)
    latency_p95_seconds: ThresholdModel = limits(1, 2)
    # Checks of the plan's task lists (check_postgres defaults where it has one).
    inode_percent: ThresholdModel = limits(80, 90)
    blocked_locks: ThresholdModel = limits(0, 5)
    long_transactions: ThresholdModel = limits(0, 5)
    connections_percent: ThresholdModel = limits(80, 95)
    txid_wraparound_age: ThresholdModel = limits(1_300_000_000, 1_400_000_000)
    sequence_used_percent: ThresholdModel = limits(75, 90)
    replication_lag_bytes: ThresholdModel = limits(100 * 2**20, 1024 * 2**20)
    dead_tuple_percent: ThresholdModel = limits(10, 20)
    cache_hit_ratio_percent: ThresholdModel = limits(99, 95, "below")
    slow_query_mean_ms: ThresholdModel = limits(500, 2000)
    bloat_percent: ThresholdModel = limits(30, 50)
    long_queries: ThresholdModel = limits(0, 5)
    unused_indexes: ThresholdModel = limits(0, 10)
    invalid_indexes: ThresholdModel = limits(0, 5)
    role_audit_flagged: ThresholdModel = limits(0, 5)
    uploads_uncopied_age_hours: ThresholdModel = limits(8, 24)
    """Age of the oldest upload version not yet copied to the backup bucket."""
    checksum_failures: ThresholdModel = limits(0, 0)
    """Data-page checksum failures (pg_stat_database): any is corruption read from disk."""
    redis_memory_percent: ThresholdModel = limits(80, 95)
    redis_hit_ratio_percent: ThresholdModel = limits(90, 80, "below")
    redis_slowlog_ms: ThresholdModel = limits(100, 1000)
    redis_evicted_keys: ThresholdModel = limits(0, 10_000)
    redis_rejected_connections: ThresholdModel = limits(0, 100)
    redis_aof_growth_percent: ThresholdModel = limits(100, 400)
    """AOF growth since its last rewrite (Redis rewrites by itself at 100 % by default)."""
    backup_full_age_hours: ThresholdModel = limits(26, 48)
    backup_incremental_age_hours: ThresholdModel = limits(5, 12)
    backup_growth_percent: ThresholdModel = limits(50, 200)
    """Day-over-day change of a target's full backup size (either direction), percent."""
    tls_days_left: ThresholdModel = limits(30, 7, "below")
    security_headers_score: ThresholdModel = limits(100, 50, "below")
    """Observatory-style score of the plan's seven security headers (100 = all present and right)."""
