"""PostgreSQL and Redis maintenance settings and their load guards."""

from __future__ import annotations

from pydantic import Field

from mercenary_maintenance.config.base import StrictModel


class PostgresLoadGuard(StrictModel):
    """"Low-traffic periods": a heavy action waits for the target to be this quiet, then skips."""

    max_active_sessions: int = Field(20, ge=0)
    """Non-idle client sessions (active, idle in transaction) other than our own, cluster-wide."""
    max_replication_lag_seconds: float = Field(30, ge=0)
    """Worst replay lag of a replica (pg_stat_replication.replay_lag)."""
    wait_seconds: float = Field(300, ge=0)
    """How long a heavy action waits for the target to become quiet (the window's time left bounds it too)."""
    recheck_seconds: float = Field(5, gt=0)
    exclusive_max_ops_per_sec: float = Field(0, ge=0)
    """ACCESS EXCLUSIVE actions (VACUUM FULL, plain REINDEX): reads+writes per second on the table itself, sampled
    over exclusive_sample_seconds (pg_stat_user_tables deltas + other sessions locking it)."""
    exclusive_sample_seconds: float = Field(11, gt=0, le=60)
    """How long a table's traffic is sampled (ended early once it is busy). PostgreSQL 15+ flushes a
    backend's table counters at most once a second while busy and 10 s after it went idle: 11 s sees them."""


class PostgresConfig(StrictModel):
    long_transaction_seconds: int = Field(300, ge=1)
    lock_timeout_seconds: float = Field(5, gt=0)
    statement_timeout_seconds: float = Field(3600, gt=0)
    """Upper bound of statement_timeout outside a window (manual runs, daily checks)."""
    check_statement_timeout_seconds: float = Field(60, gt=0)
    vacuum_all_tables: bool = False
    min_dead_tuples: int = Field(1000, ge=0)
    reindex_min_bloat_percent: float = Field(30, ge=0)
    unused_index_min_bytes: int = Field(8192, ge=0)
    long_query_seconds: int = Field(300, ge=1)
    target_lock_wait_seconds: float = Field(600, gt=0)
    """How long a heavy action waits for the per-target advisory lock held by another DAG."""
    bloat_min_bytes: int = Field(1024 * 1024, ge=0)
    reindex_min_bytes: int = Field(1024 * 1024, ge=0)
    slow_query_min_calls: int = Field(5, ge=1)
    role_audit_allow: list[str] = Field(default_factory=list)
    """Roles reviewed but not counted by postgres.role_audit (e.g. the bootstrap superuser)."""
    lock_attempt_ms: int = Field(200, ge=10)
    """One lock attempt (lock_timeout of the statement); attempts repeat, with a jittered pause growing to
    lock_retry_pause_max_ms, for lock_budget_seconds (null: the time left in the window; outside a window
    lock_timeout_seconds), so no application query queues behind maintenance for long."""
    lock_retry_pause_max_ms: int = Field(2000, ge=0)
    lock_budget_seconds: float | None = Field(None, gt=0)
    load_guard: PostgresLoadGuard = Field(default_factory=PostgresLoadGuard)
    vacuum_full_space_margin_percent: float = Field(20, ge=0)
    """VACUUM FULL's fit: free space needed = the new copy (table + indexes; again as much for its WAL
    when pg_wal shares the disk) + this percentage of the copy."""
    vacuum_full_bytes_per_s: float | None = Field(None, gt=0)
    """VACUUM FULL's size-based estimate (compared with the time left); null: the plan's rate (20 MiB/s)."""
    reindex_max_attempts: int = Field(2, ge=1, le=10)
    """REINDEX INDEX CONCURRENTLY: at most this many builds of one index per run (the load guard is
    checked before each). Only the initial lock is tried in short attempts; the waits after the build
    (for older transactions) run under the statement's deadline, so a build is repeated only after a
    failure such as a deadlock."""
    reindex_cleanup_wait_seconds: float = Field(30, gt=0)
    """Each wait of the DROP INDEX CONCURRENTLY of an invalid ``*_ccnew``/``*_ccold`` leftover (it waits
    for older transactions like REINDEX does); then a plain DROP INDEX in short lock attempts."""
    vacuum_cost_delay_ms: float = Field(2, ge=0, le=100)
    """Manual VACUUM throttled like autovacuum (PostgreSQL's manual default is 0 ms: unthrottled;
    autovacuum_vacuum_cost_delay is 2 ms, its cost limit vacuum_cost_limit = 200)."""
    vacuum_cost_limit: int = Field(200, ge=1, le=10000)
    maintenance_work_mem_mb: int = Field(256, ge=1)
    """Memory per maintenance session (PostgreSQL's default maintenance_work_mem is 64 MB)."""


class RedisLoadGuard(StrictModel):
    """BGREWRITEAOF / MEMORY PURGE wait (up to wait_seconds) for the server to be this quiet, then skip."""

    max_ops_per_sec: float = Field(20000, ge=0)
    max_connected_clients: int | None = Field(None, ge=0)
    """Connected clients above this count as busy (null: reported, not limited)."""
    wait_seconds: float = Field(120, ge=0)
    recheck_seconds: float = Field(2, gt=0)


class RedisConfig(StrictModel):
    rewrite_poll_seconds: float = Field(0.5, gt=0)
    rewrite_timeout_seconds: float = Field(1800, gt=0)
    """Upper bound of the wait for BGREWRITEAOF (the window's time left bounds it too)."""
    lock_wait_seconds: float = Field(60, ge=0)
    """How long a heavy action waits for the per-target lock before it fails."""
    fragmentation_ratio: float = Field(1.5, gt=1)
    """Fragmentation matters only when both the ratio and the wasted bytes are high."""
    fragmentation_min_bytes: int = Field(100 * 2**20, ge=0)
    slowlog_entries: int = Field(10, ge=1, le=128)
    last_save_max_age_hours: float = Field(26, gt=0)
    """Without AOF, unsaved changes older than this are at risk."""
    hit_ratio_min_lookups: int = Field(1000, ge=0)
    load_guard: RedisLoadGuard = Field(default_factory=RedisLoadGuard)
    max_fork_ms: float = Field(500, gt=0)
    """A BGREWRITEAOF whose fork (latest_fork_usec) took longer than this is a warning."""
    aof_min_bytes: int = Field(64 * 2**20, ge=1)
    """AOF growth is relative to the larger of the base file and this (auto-aof-rewrite-min-size)."""
    rewrite_cow_fraction: float = Field(0.5, gt=0, le=1)
    """Expected copy-on-write growth of the BGREWRITEAOF fork, as a fraction of the RSS (1: every page
    is written while the child runs)."""
    rewrite_memory_limit_bytes: int | None = Field(None, ge=1)
    """Memory the server and its forked child may use together; null: INFO's total_system_memory.
    BGREWRITEAOF is skipped (a warning naming the numbers) when RSS + expected growth exceeds it."""
