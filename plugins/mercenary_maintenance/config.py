"""Typed configuration of the maintenance plan, read at task run time.

The file is the one named by ``$MAINTENANCE_CONFIG``, else the shipped ``include/maintenance.yaml``.
Defaults equal the plan's values, so an empty file is a valid plan. Unknown keys are
errors (a typo must not silently fall back to a default), and every error names the
dotted key that is wrong.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mercenary_maintenance import packaged
from mercenary_maintenance.findings import Threshold

CONFIG_ENV = "MAINTENANCE_CONFIG"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """The configuration file is missing or invalid; the message names the key."""


class _Model(BaseModel):
    # A field's attribute docstring is its description (docs/configuration.md is generated from them).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ThresholdModel(_Model):
    warning: float
    critical: float
    direction: Literal["above", "below"] = "above"

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdModel:
        self.as_threshold()  # raises ValueError with the reason
        return self

    def as_threshold(self) -> Threshold:
        return Threshold(self.warning, self.critical, self.direction)


def _t(warning: float, critical: float, direction: Literal["above", "below"] = "above") -> Any:
    return Field(default_factory=lambda: ThresholdModel(warning=warning, critical=critical, direction=direction))


class Thresholds(_Model):
    # The plan's alert table.
    cpu_percent: ThresholdModel = _t(70, 90)
    memory_percent: ThresholdModel = _t(80, 95)
    disk_percent: ThresholdModel = _t(80, 90)
    error_rate_percent: ThresholdModel = _t(1, 5)
    latency_p95_seconds: ThresholdModel = _t(1, 2)
    # Checks of the plan's task lists (check_postgres defaults where it has one).
    inode_percent: ThresholdModel = _t(80, 90)
    blocked_locks: ThresholdModel = _t(0, 5)
    long_transactions: ThresholdModel = _t(0, 5)
    connections_percent: ThresholdModel = _t(80, 95)
    txid_wraparound_age: ThresholdModel = _t(1_300_000_000, 1_400_000_000)
    sequence_used_percent: ThresholdModel = _t(75, 90)
    replication_lag_bytes: ThresholdModel = _t(100 * 2**20, 1024 * 2**20)
    dead_tuple_percent: ThresholdModel = _t(10, 20)
    cache_hit_ratio_percent: ThresholdModel = _t(99, 95, "below")
    slow_query_mean_ms: ThresholdModel = _t(500, 2000)
    bloat_percent: ThresholdModel = _t(30, 50)
    long_queries: ThresholdModel = _t(0, 5)
    unused_indexes: ThresholdModel = _t(0, 10)
    invalid_indexes: ThresholdModel = _t(0, 5)
    role_audit_flagged: ThresholdModel = _t(0, 5)
    uploads_uncopied_age_hours: ThresholdModel = _t(8, 24)
    """Age of the oldest upload version not yet copied to the backup bucket."""
    checksum_failures: ThresholdModel = _t(0, 0)
    """Data-page checksum failures (pg_stat_database): any is corruption read from disk."""
    redis_memory_percent: ThresholdModel = _t(80, 95)
    redis_hit_ratio_percent: ThresholdModel = _t(90, 80, "below")
    redis_slowlog_ms: ThresholdModel = _t(100, 1000)
    redis_evicted_keys: ThresholdModel = _t(0, 10_000)
    redis_rejected_connections: ThresholdModel = _t(0, 100)
    redis_aof_growth_percent: ThresholdModel = _t(100, 400)
    """AOF growth since its last rewrite (Redis rewrites by itself at 100 % by default)."""
    backup_full_age_hours: ThresholdModel = _t(26, 48)
    backup_incremental_age_hours: ThresholdModel = _t(5, 12)
    backup_growth_percent: ThresholdModel = _t(50, 200)
    """Day-over-day change of a target's full backup size (either direction), percent."""
    tls_days_left: ThresholdModel = _t(30, 7, "below")
    security_headers_score: ThresholdModel = _t(100, 50, "below")
    """Observatory-style score of the plan's seven security headers (100 = all present and right)."""


def default_reports_url() -> str:
    """``file://$AIRFLOW_HOME/maintenance-reports``: not a world-writable /tmp path (parts there
    could be forged). Several workers (Celery) need a shared ``s3://`` location instead."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"file://{os.path.abspath(home)}/maintenance-reports"


class ReportsConfig(_Model):
    url: str = Field(default_factory=default_reports_url)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not (value.startswith("file://") or value.startswith("s3://")):
            raise ValueError("must start with file:// or s3://")
        return value.rstrip("/")


class _Target(_Model):
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("target names are lower-case letters, digits and '_' (they name lock keys)")
        return value


class PostgresTarget(_Target):
    conn_id: str = "maintenance_postgres"
    vacuum_full_tables: list[str] = Field(default_factory=list)
    """Tables for the opt-in VACUUM FULL (ACCESS EXCLUSIVE lock); schema-qualified or bare."""
    log_file: str | None = None
    primary: str | None = None
    """Where this server's primary is (a target name or host:port), named when the server turns out to be
    a standby (maintenance skipped, checks only); null: discovered from the WAL receiver where visible."""
    vacuum_full_free_bytes: int | None = Field(None, ge=0)
    """Free space to assume on the server's disk for VACUUM FULL's fit check when this worker cannot
    measure it (a remote server: SQL cannot see the disk). null: a VACUUM FULL of such a server is
    skipped with a warning naming this key. A server on this machine is measured (statvfs)."""


class RedisTarget(_Target):
    conn_id: str = "maintenance_redis"


class HttpTarget(_Target):
    url: str
    expect_status: int = 200
    timeout_seconds: float = 10.0
    ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith("http://") or value.startswith("https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class HostService(_Model):
    """A service that must run on a host (``services.status``, target ``<host>:<service>``)."""

    name: str
    process: str | None = None
    """A ``pgrep -f`` pattern matched against the host's command lines."""
    unit: str | None = None
    """A systemd unit (``systemctl is-active``), e.g. ``nginx.service``."""

    @model_validator(mode="after")
    def _one_probe(self) -> HostService:
        if (self.process is None) == (self.unit is None):
            raise ValueError(f"service {self.name!r}: give exactly one of process (a pgrep -f pattern) or unit")
        return self


LOCAL_HOST = "local"


class HostTarget(_Target):
    """One of the backend's machines: the server lines of the plan run against it (docs/areas/hosts.md)."""

    transport: Literal["ssh", "local"] = "ssh"
    """``ssh`` through ``ssh_conn_id``; ``local`` is the worker itself (one machine, the demo)."""
    ssh_conn_id: str | None = None
    """Airflow SSH connection (apache-airflow-providers-ssh); its ``host_key`` extra pins the key."""
    paths: list[str] = Field(default_factory=lambda: ["/", "/var/log", "/tmp"])
    """Filesystems measured by host.disk_usage and host.inode_usage."""
    services: list[HostService] = Field(default_factory=list)
    """Processes or systemd units that must run there (services.status)."""
    config_files: list[str] = Field(default_factory=list)
    """Globs of configuration files backed up on change (config.backup)."""
    prometheus_instance: str | None = None
    """node_exporter's ``instance`` label for this host (alert_evaluation with Prometheus)."""
    allow_unknown_host_key: bool = False
    """Accept a connection with host-key checking off (man-in-the-middle possible; the doctor flags it)."""
    implicit: bool = False
    """Set only on the host made up when targets.hosts is empty (the worker, named ``local``)."""

    @model_validator(mode="after")
    def _ssh_needs_conn(self) -> HostTarget:
        if self.transport == "ssh" and not self.ssh_conn_id:
            raise ValueError(f"host {self.name!r}: transport ssh needs ssh_conn_id (an Airflow SSH connection)")
        return self


class Targets(_Model):
    postgres: list[PostgresTarget] = Field(default_factory=lambda: [PostgresTarget(name="main")])
    redis: list[RedisTarget] = Field(default_factory=lambda: [RedisTarget(name="cache")])
    http: list[HttpTarget] = Field(default_factory=list)
    hosts: list[HostTarget] = Field(default_factory=list)
    """The backend's machines; empty: one implicit host named ``local`` (the worker), reported as such."""

    @model_validator(mode="after")
    def _unique(self) -> Targets:
        for kind in ("postgres", "redis", "http", "hosts"):
            names = [t.name for t in getattr(self, kind)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} target names: {dupes}")
        return self


class FullBackupConfig(_Model):
    retention_days: int = Field(30, ge=1)
    glacier_after_days: int = Field(7, ge=0)
    zstd_level: int = Field(1, ge=1, le=19)
    """Level 1: on dump data measured here it is ~3.5× faster than level 3 and compresses as well or better
    (docs/areas/backups.md, Performance); raise it to trade CPU for size."""
    count_max_table_mb: int = Field(256, ge=0)
    """Exact row counts (in the dump's own snapshot, beside the dump) only for tables up to this size;
    bigger ones are recorded with the planner's estimate and not compared by the restore test, so a
    backup never reads every table twice. 0: count none."""

    @model_validator(mode="after")
    def _glacier_before_expiry(self) -> FullBackupConfig:
        if self.glacier_after_days and self.glacier_after_days >= self.retention_days:
            raise ValueError("glacier_after_days must be smaller than retention_days")
        return self


class IncrementalBackupConfig(_Model):
    retention_days: int = Field(7, ge=1)
    new_chain_after_hours: int = Field(24, ge=1)
    """PostgreSQL 17+: a new physical full starts a new chain when the chain is this old."""
    checkpoint: Literal["spread", "fast"] = "spread"
    """pg_basebackup's start checkpoint: ``spread`` (default) paces its writes like any checkpoint;
    ``fast`` forces an immediate one (an I/O burst on the primary every 4 hours)."""


class UploadsConfig(_Model):
    """User uploads (docs/areas/backups.md): versioning and noncurrent expiry enforced, new versions copied."""

    bucket: str
    """The bucket users upload to (versioning and the noncurrent-version expiry are enforced on it)."""
    retention_days: int = Field(90, ge=1)
    """Noncurrent versions are kept this many days (lifecycle NoncurrentVersionExpiration)."""
    copy_every_hours: float = Field(4, gt=0)
    """New versions are copied (server-side) to ``uploads/`` in the backup bucket at most this often."""
    prefix: str = ""
    """Only keys under this prefix of the uploads bucket are copied (empty: all)."""


class RereadConfig(_Model):
    mb_per_s: float = Field(50, gt=0)
    """The read rate a full re-read is expected to reach: a backup's re-read deadline is its size at
    this rate, twice over, plus a minute."""
    budget_seconds: float = Field(1200, gt=0)
    """Time the daily ``reread_backups`` task may spend (under the daily run's 30-minute task bound);
    backups are re-read least recently verified first while their deadlines fit."""


class ConfigFilesBackup(_Model):
    conn_id: str = "maintenance_s3"
    """S3 connection of the versioned copies (the bucket is backups.bucket)."""
    prefix: str = "config"
    git_url: str | None = None
    """A git repository each new version is committed to (a path or URL git can push to); null: S3 only."""
    git_timeout_seconds: float = Field(60, gt=0)
    """Deadline of each git command (clone, commit, push)."""


class BackupsConfig(_Model):
    conn_id: str = "maintenance_s3"
    bucket: str = "mercenary-backups"
    prefix: str = "postgres"
    full: FullBackupConfig = Field(default_factory=FullBackupConfig)
    incremental: IncrementalBackupConfig = Field(default_factory=IncrementalBackupConfig)
    reread: RereadConfig = Field(default_factory=RereadConfig)
    """Full re-reads (sha256 of every byte) rotate through the backups in their own daily task."""
    delete_expired: bool = False
    """Deletes are dry-run unless this is true (docs/reliability.md)."""
    min_redundancy: int = Field(2, ge=1)
    uploads: UploadsConfig | None = None
    """User uploads to protect (unset: off, and the daily checks say so)."""
    uploads_bucket: str | None = None
    """Older spelling of ``uploads.bucket`` (still accepted)."""
    uploads_noncurrent_days: int = 90
    """Older spelling of ``uploads.retention_days`` (still accepted)."""
    bin_dir: str | None = None
    """Directory with pg_dump/pg_restore/pg_basebackup/…; default: the newest matching install."""
    part_size_mb: int = Field(16, ge=5, le=512)
    """Multipart part size: memory use is about 4 parts; 10,000 parts bound the object size."""
    scratch_dir: str | None = None
    """Where restore tests unpack backups and run scratch servers (default: $TMPDIR): in a private
    ``mm-scratch-<uid>`` directory (0700, owned by the account running the servers) created there."""
    lock_wait_seconds: float = Field(900, gt=0)
    """How long a dump/restore waits for the target's maintenance lock (held by VACUUM, REINDEX …)."""
    lock_wait_max_seconds: float = Field(4 * 3600, gt=0)
    """While the lock's holder is heavy maintenance (which lets a waiting backup go first at its next
    relation), a backup waits up to this long: one relation's statement, bounded by its window."""
    sample_restore_tables: int = Field(3, ge=0)
    """Daily backup.sample_restore: schema + this many smallest non-empty tables (0 disables it)."""
    server_side_encryption: Literal["AES256", "aws:kms"] | None = "AES256"
    """Encryption at rest asked for every object stored (backups, log archives, S3 reports): AES256 (SSE-S3),
    aws:kms (SSE-KMS: kms_key_id, or the bucket's default key); null: the bucket's default decides."""
    kms_key_id: str | None = None
    restore_on: Literal["scratch_server", "target_server"] = "scratch_server"
    """Where restore tests (backup.restore_test, backup.sample_restore) restore (docs/areas/backups.md): a scratch
    server started on the worker, or opt-in the target server, then only up to restore_max_bytes."""
    restore_max_bytes: int | None = Field(None, ge=1)
    scratch_server_timeout_seconds: float = Field(120, gt=0)
    """Deadline of each of initdb, start and stop of the scratch restore server."""
    rto_minutes: float = Field(60, gt=0)
    """Recovery time objective: a restore test whose restore_seconds (all phases) exceed it is a warning."""
    restore_jobs: int = Field(4, ge=1, le=64)
    """pg_restore -j on the scratch server, from a local copy of the dump (when it fits beside the
    restore; otherwise the dump is streamed into one pg_restore). 1: always streamed."""
    config_files: ConfigFilesBackup = Field(default_factory=lambda: ConfigFilesBackup())
    """config.backup: where the hosts' changed configuration files are stored (encrypted, versioned)."""

    @model_validator(mode="before")
    @classmethod
    def _old_uploads_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("uploads") is None and data.get("uploads_bucket"):
            return {**data, "uploads": {"bucket": data["uploads_bucket"],
                                        "retention_days": data.get("uploads_noncurrent_days", 90)}}
        return data

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> BackupsConfig:
        if self.kms_key_id and self.server_side_encryption != "aws:kms":
            raise ValueError('kms_key_id needs server_side_encryption: "aws:kms"')
        return self

    @model_validator(mode="after")
    def _target_server_needs_max_bytes(self) -> BackupsConfig:
        if self.restore_on == "target_server" and self.restore_max_bytes is None:
            raise ValueError("restore_on: target_server needs restore_max_bytes (the largest backup that may be "
                             "restored onto the production server)")
        return self


class PostgresLoadGuard(_Model):
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


class PostgresConfig(_Model):
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


class RedisLoadGuard(_Model):
    """BGREWRITEAOF / MEMORY PURGE wait (up to wait_seconds) for the server to be this quiet, then skip."""

    max_ops_per_sec: float = Field(20000, ge=0)
    max_connected_clients: int | None = Field(None, ge=0)
    """Connected clients above this count as busy (null: reported, not limited)."""
    wait_seconds: float = Field(120, ge=0)
    recheck_seconds: float = Field(2, gt=0)


class RedisConfig(_Model):
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


# The alert metrics ``alert_evaluation`` measures: the names ``alerts.queries`` may set. The alerts
# area's table (``alerts.metrics.RULES``) has one rule per name (a unit test holds them equal).
ALERT_METRICS = frozenset({"host.cpu", "host.memory", "host.disk_usage", "app.error_rate", "app.latency_p95"})


AlertRoute = Literal["slack", "alertmanager"]


def _slack_only() -> list[AlertRoute]:
    return ["slack"]


class AlertsConfig(_Model):
    slack_conn_id: str = "maintenance_slack"
    prometheus_conn_id: str | None = None
    for_seconds: int = Field(300, ge=0)
    repeat_interval_seconds: int = Field(4 * 3600, ge=60)
    primary_oncall: str | None = None
    secondary_oncall: str | None = None
    base_url: str = "http://localhost:8080"
    queries: dict[str, str] = Field(default_factory=dict)
    """PromQL per check (one of ALERT_METRICS); unset ones use the node-exporter / HTTP-histogram defaults of
    alerts.metrics."""
    prometheus_timeout_seconds: float = Field(10, gt=0)
    p1_checks: list[str] = Field(default_factory=lambda: ["app.error_rate", "services.status"])
    """Critical alerts of these checks are P1 (15 min); other critical alerts P2 (1 h); warnings P3 (4 h)."""
    p4_checks: list[str] = Field(default_factory=lambda: ["http.security_headers"])
    """Warnings of these checks are P4 (24 h: cosmetic issues that still need a person), not P3."""
    probe_services: bool = True
    """Every alert_evaluation run probes every configured target (PostgreSQL connect + SELECT 1,
    Redis PING, HTTP GET; hosts once they are targets), bounded by ``timeouts``."""
    outage_after_failures: int = Field(2, ge=1, le=12)
    """Consecutive failed probes of one target before ``services.status`` is a critical P1 alert
    (the ``for`` duration does not apply to probes: the count does)."""
    probe_budget_seconds: float = Field(30, gt=0)
    """All probes of one run, in parallel, end within this; a probe still running then is unknown."""
    blind_after_minutes: float = Field(15, gt=0)
    """A metric or probe that stays unknown this long raises ``monitoring.blind`` (warning, P3)."""
    routes: list[AlertRoute] = Field(default_factory=_slack_only, min_length=1)
    """Where alert_evaluation's alerts go; both may be on."""
    alertmanager_conn_id: str = "maintenance_alertmanager"
    """Airflow http connection of Alertmanager (API v2) for the ``alertmanager`` route."""
    alertmanager_ttl_seconds: int = Field(900, ge=60)
    """``endsAt`` of a firing alert (and the watchdog) this far ahead: each run re-posts them, so they
    expire in Alertmanager only when runs stop."""
    slack_attempts: int = Field(3, ge=1, le=10)
    slack_retry_delay_seconds: float = Field(2, ge=0)
    slack_timeout_seconds: float = Field(10, gt=0)
    """Each webhook POST is bounded by this (connect + read); all sends of one evaluation by the budget — what is
    not delivered within it stays in the saved outbox for the next run."""
    slack_send_budget_seconds: float = Field(60, gt=0)
    state_variable: str = "mercenary_alert_state"
    notify_findings: Literal["critical", "warning", "none"] = "warning"
    """After each maintenance run, post the findings at or above this severity to Slack (one digest per run; a
    failed run is announced by the failure notifier instead)."""
    during_window: Literal["annotate", "downgrade", "mute"] = "annotate"
    """An alert on a target while a maintenance window runs on it (CPU during VACUUM) is annotated, downgraded
    (critical → warning) or muted (no firing notices) — never dropped."""
    window_targets: list[str] = Field(default_factory=list)
    """Substrings of alert targets the maintenance windows act on (e.g. the database host's instance); empty: every
    alert target."""
    stateful_findings: list[str] = Field(default_factory=lambda: ["maintenance_daily"])
    """DAGs whose findings go through an alert state (posted once, reminded at the repeat interval, resolved notice)
    instead of one message per run."""
    findings_repeat_interval_hours: float = Field(168, gt=0)

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - ALERT_METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(ALERT_METRICS)}")
        return value


AUDIT_MIN_RETENTION_DAYS = 365


class LogSet(_Target):
    paths: list[str]
    """Absolute globs (``**`` recursive); ``$VARS`` are expanded at run time."""
    hosts: list[str] | None = None
    """Hosts (targets.hosts names) whose files these are; null: every host."""
    archive_after_days: int = Field(7, ge=0)
    retention_days: int = Field(90, ge=1)
    max_local_bytes: int | None = Field(None, ge=0)
    audit: bool = False
    """The audit trail (Airflow's task logs): its archive must be kept at least a year."""

    @model_validator(mode="after")
    def _audit_kept_a_year(self) -> LogSet:
        if self.audit and self.retention_days < AUDIT_MIN_RETENTION_DAYS:
            raise ValueError(f"an audit log set keeps its archive at least {AUDIT_MIN_RETENTION_DAYS} days")
        return self


class ErrorScanSet(_Target):
    """logs.error_scan: files reviewed daily for ERROR/FATAL/PANIC/tracebacks/5xx since the last run."""

    paths: list[str]
    hosts: list[str] | None = None
    """Hosts (targets.hosts names) whose files are scanned; null: every host."""
    warning: float = Field(10, ge=0)
    critical: float = Field(100, ge=0)
    max_bytes: int = Field(64 * 2**20, ge=4096)
    """Newest bytes read per file and run; older ones are skipped (and said so)."""

    @model_validator(mode="after")
    def _ordered(self) -> ErrorScanSet:
        if self.critical < self.warning:
            raise ValueError("critical must be at least warning")
        return self


class LogsConfig(_Model):
    sets: list[LogSet] = Field(
        default_factory=lambda: [
            LogSet(name="app", paths=["/var/log/mercenary/*.log"]),
            LogSet(name="airflow_tasks", paths=["$AIRFLOW_HOME/logs/dag_id=*/**/*.log"],
                   retention_days=AUDIT_MIN_RETENTION_DAYS, audit=True),
        ]
    )
    delete_local_after_archive: bool = True
    error_scan: list[ErrorScanSet] = Field(default_factory=list)
    quiet_minutes: int = Field(15, ge=0)
    zstd_level: int = Field(3, ge=1, le=19)


class CleanupConfig(_Model):
    roots: list[str] = Field(default_factory=lambda: ["/tmp/mercenary"])
    hosts: list[str] | None = None
    """Hosts (targets.hosts names) swept; null: every host."""
    older_than_days: int = Field(7, ge=0)
    dry_run: bool = True

    @field_validator("roots")
    @classmethod
    def _safe_roots(cls, value: list[str]) -> list[str]:
        for i, root in enumerate(value):
            if not root.startswith("/") or root.rstrip("/") == "":
                raise ValueError(f"cleanup roots are absolute directories other than '/', not {root!r}")
            if ".." in root.split("/"):
                raise ValueError(f"cleanup.roots[{i}] {root!r} contains '..': name the directory itself")
            if os.path.islink(root.rstrip("/")):
                raise ValueError(f"cleanup.roots[{i}] {root!r} is a symlink (to {os.readlink(root.rstrip('/'))!r}): "
                                 "name the real directory; a link's target is never swept")
        return value


class HostConfig(_Model):
    paths: list[str] = Field(default_factory=lambda: ["/", "/var/log", "/tmp"])


SlaSeverity = Literal["critical", "high", "medium", "low", "unknown"]


def _default_sla() -> dict[SlaSeverity, float]:
    return {"critical": 24.0, "high": 168.0}


class DependencyManifest(_Target):
    path: str
    kind: Literal["python", "node"] = "python"


class SecurityConfig(_Model):
    closed_ports: list[str] = Field(default_factory=list)
    failed_logins: ThresholdModel = _t(10, 100)
    failed_logins_hours: float = Field(24, gt=0)
    log_tail_bytes: int = Field(64 * 2**20, ge=4096)
    port_timeout_seconds: float = Field(2, gt=0)
    aws_conn_id: str | None = None
    web_ports: list[int] = Field(default_factory=lambda: [80, 443])
    dependency_manifests: list[DependencyManifest] = Field(default_factory=list)
    """Vulnerabilities (weekly): manifests matched against OSV records from `advisories`."""
    advisories: str | None = None
    scan_os_packages: bool = False
    patch_sla_hours: dict[SlaSeverity, float] = Field(default_factory=_default_sla)
    """Severities without an entry are due at the start of the next monthly window."""
    credential_max_age_days: int = Field(90, ge=1)
    host_logins: bool = True
    """security.failed_logins also counts failed SSH logins in each host's journal / auth.log."""
    auth_logs: list[str] = Field(default_factory=lambda: ["/var/log/auth.log"])
    """Where sshd logs on a host without a readable journal (the first readable file is used)."""
    apt_lists_max_age_hours: float = Field(48, gt=0)
    """security.pending_updates: package lists older than this are stale (a warning, never ok)."""
    firewall_hosts: bool = True
    """security.firewall_changes also snapshots each host's nftables / iptables ruleset."""
    package_cache_warning_mb: float = Field(1024, ge=0)
    """host.package_cache: the apt cache above this size is a warning."""
    package_cache_clean: bool = False
    """Opt-in action host.package_cache_clean (``apt-get clean`` on the host)."""

    @field_validator("advisories")
    @classmethod
    def _advisory_url(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("file://") or value.startswith("s3://")):
            raise ValueError("must start with file:// or s3:// (a directory or prefix of OSV JSON records)")
        return value


class WindowsConfig(_Model):
    cutoff_minutes: dict[str, int] = Field(
        default_factory=lambda: {"maintenance_weekly": 15, "maintenance_monthly": 15, "maintenance_quarterly": 15}
    )


class EmergencyConfig(_Model):
    ticket_pattern: str = r"^[A-Z][A-Z0-9]+-[0-9]+$"
    notice_minutes: float = Field(60, ge=0)
    mode: Literal["notice", "approval", "both"] = "both"
    """Non-critical runs: post the notice and wait its period (notice), wait for an approval (approval), or both.
    Critical runs never wait (they are marked for post-hoc review)."""


class PreviewConfig(_Model):
    lead_hours: float = Field(24, gt=0, le=24 * 14)
    """How long before each window start maintenance_preview runs. The DAG's schedule is fixed when the file is
    parsed (24 h); a different value here is reported by the preview run."""
    history_runs: int = Field(10, ge=1, le=200)
    """Previous reports of a window DAG consulted for duration estimates (newest first)."""


ApprovalKind = Literal["vacuum_full", "reindex_blocking", "retention_delete", "emergency_non_critical"]
APPROVAL_KINDS: tuple[ApprovalKind, ...] = ("vacuum_full", "reindex_blocking", "retention_delete",
                                            "emergency_non_critical")


class ApprovalsConfig(_Model):
    required_for: list[ApprovalKind] = Field(default_factory=lambda: list(APPROVAL_KINDS))
    approvers: list[str] = Field(default_factory=list)
    """Airflow user names allowed to answer; empty: any user with access to the DAG."""
    timeout_minutes: float | None = Field(None, gt=0)
    """null: until the window's cutoff (window runs); a timeout resolves to Reject."""
    timeout_minutes_outside_window: float = Field(60, gt=0, le=12 * 60)
    """Runs without a window (emergency, the daily backup's expiry) when timeout_minutes is null: as long as the
    plan's minimum notice, and short enough never to hold back the next daily backup."""
    separation_of_duties: bool = True
    """The person who triggered a run may not approve it (four-eyes rule): they are taken out of
    the assigned approvers, and their answer, if given anyway, is refused (recorded as Reject)."""


IncidentLevelName = Literal["P1", "P2", "P3", "P4"]
_STOP_LEVELS: tuple[IncidentLevelName, ...] = ("P1", "P2")


class FreezePeriod(_Model):
    """A change freeze: ``start`` ≤ t < ``end`` (ISO-8601 with a zone, e.g. ``2026-12-20T00:00Z``)."""

    start: datetime
    end: datetime
    reason: str = ""
    """Shown in every skipped warning and approval request the freeze causes."""

    @model_validator(mode="after")
    def _ordered(self) -> FreezePeriod:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone (e.g. 2026-12-20T00:00Z)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class GuardsConfig(_Model):
    """Run guards across a run's mapped targets (AWS SSM's MaxErrors, stop on alarm, change freezes)."""

    max_errors: int | str | None = None
    """Failed targets after which a run acts on no further target: a count (``1``) or a percentage
    of the configured targets of the task's kind (``"25%"``, rounded up). null: no limit."""
    stop_on_alerts: list[IncidentLevelName] = Field(default_factory=lambda: list(_STOP_LEVELS))
    """A firing alert of these incident levels on a target (or its host) stops heavy actions there."""
    freeze: list[FreezePeriod] = Field(default_factory=list)
    """Change freezes: no heavy action in scheduled windows; emergency non-critical runs need an
    approval; critical runs act and are marked for post-hoc review."""

    @field_validator("max_errors")
    @classmethod
    def _max_errors(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str):
            if not re.fullmatch(r"(100|[1-9][0-9]?)(\.[0-9]+)?%", value.strip()):
                raise ValueError(f"a count or a percentage like '25%', not {value!r}")
            return value.strip()
        if value is not None and value < 1:
            raise ValueError("must be at least 1 (null: no limit)")
        return value


# The metadata tables `airflow db clean` prunes by default: run history, audit log, jobs, XComs,
# import errors. Not `dag`/`dag_version` (a DAG not parsed for a while is not garbage) nor the
# trigger/callback/deadline tables (live scheduling state).
AIRFLOW_DB_TABLES = ("log", "job", "dag_run", "task_instance", "task_instance_history", "task_reschedule",
                     "xcom", "import_error")


class AirflowDbConfig(_Model):
    """Airflow's own metadata database: `airflow db clean` in a subprocess, then the
    oldest row of each cleaned table measured (``airflow_db.retention``)."""

    conn_id: str | None = None
    """Airflow connection (postgres) of Airflow's metadata database; null: off (reported as not configured).
    Tasks never use Airflow's ORM: the clean runs as ``airflow db clean`` against this connection."""
    retention_days: int = Field(90, ge=1)
    """Rows older than this are removed; the audit trail (the ``log`` table, run history) is kept this long."""
    tables: list[str] = Field(default_factory=lambda: list(AIRFLOW_DB_TABLES))
    """Tables to clean (``airflow db clean --tables``); each is measured afterwards."""
    batch_size: int = Field(5000, ge=1)
    """Rows deleted per transaction (``--batch-size``): short transactions, short locks."""
    statement_timeout_seconds: float = Field(300, gt=0)
    """``statement_timeout`` of every statement of the clean (``PGOPTIONS``; also capped by the window)."""
    lock_timeout_seconds: float = Field(5, gt=0)
    """``lock_timeout`` of every statement of the clean: it gives up rather than queue behind the scheduler."""
    timeout_minutes: float = Field(30, gt=0)
    """Deadline of the whole ``airflow db clean`` process (killed after it; capped by the time left in the window)."""

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(AIRFLOW_DB_TABLES))
        if unknown:
            raise ValueError(f"unsupported table(s) {unknown}; supported: {list(AIRFLOW_DB_TABLES)}")
        if not value:
            raise ValueError("at least one table (or leave conn_id null to switch the clean off)")
        return value


class ConsoleConfig(_Model):
    """The operator's console on the api-server (console/)."""

    cache_dir: str | None = None
    """SQLite cache of run summaries; default: <tmp>/mercenary-maintenance/console."""
    refresh_seconds: float = Field(5, ge=0)
    """The overview lists new runs at most this often (seconds)."""
    trend_days: int = Field(90, ge=1, le=3660)
    plan_coverage_file: str | None = None
    """The plan-to-code map the compliance page reads; default: docs/plan-coverage.md of the project."""
    grace_fraction: float = Field(0.25, ge=0, le=10)
    """How late a DAG may be before its plan items are "overdue", as a fraction of its cadence."""


class PostgresTimeouts(_Model):
    connect_s: float = Field(5, gt=0)
    """libpq connect_timeout: the whole connection set-up (TCP, TLS, startup, auth)."""
    keepalives_idle_s: int = Field(10, ge=1)
    """TCP keepalives: a peer that vanished (host down, cable cut) is noticed after idle + interval × count seconds
    instead of the kernel's two hours."""
    keepalives_interval_s: int = Field(5, ge=1)
    keepalives_count: int = Field(3, ge=1)
    read_grace_s: float = Field(10, gt=0)
    """A server that is up but silent (a stopped backend, a hung proxy) still answers keepalives: the client closes
    the socket this long after statement_timeout passed."""


class RedisTimeouts(_Model):
    connect_s: float = Field(5, gt=0)
    read_s: float = Field(5, gt=0)
    """socket_timeout: every reply (with one retry); BGREWRITEAOF is polled, so no command waits long."""


class S3Timeouts(_Model):
    connect_s: float = Field(5, gt=0)
    read_s: float = Field(60, gt=0)
    max_attempts: int = Field(3, ge=1, le=10)
    """botocore "standard" retry mode: total attempts per call, including the first."""


class HttpTimeouts(_Model):
    connect_s: float = Field(5, gt=0)
    read_s: float = Field(10, gt=0)


class SubprocessTimeouts(_Model):
    default_s: float = Field(600, gt=0)
    """A short command (psql, pg_verifybackup --version, …) with no bound of its own."""
    backup_s: float = Field(6 * 3600, gt=0)
    """pg_dump / pg_restore / pg_basebackup / pg_combinebackup / pg_verifybackup."""
    kill_grace_s: float = Field(5, gt=0)
    """After the deadline the process group gets SIGTERM, then SIGKILL after this grace."""
    stall_s: float = Field(300, gt=0)
    """A streaming pipeline stage (uploader thread, compressor) that makes no progress this long hung."""


class SshTimeouts(_Model):
    connect_s: float = Field(10, gt=0)
    """TCP connect, SSH banner and authentication, each (a silent host costs at most 3× this)."""
    command_s: float = Field(120, gt=0)
    """Every command and file transfer on a host (the channel is closed when it passes)."""


class TimeoutsConfig(_Model):
    """Connect/read bounds of every network client and deadlines of every subprocess.

    Task ``execution_timeout``s are set when the DAG file is parsed (dagkit), so they are not
    here: the config is read at run time only."""

    postgres: PostgresTimeouts = Field(default_factory=PostgresTimeouts)
    redis: RedisTimeouts = Field(default_factory=RedisTimeouts)
    s3: S3Timeouts = Field(default_factory=S3Timeouts)
    slack: HttpTimeouts = Field(default_factory=HttpTimeouts)
    http: HttpTimeouts = Field(default_factory=HttpTimeouts)
    subprocess: SubprocessTimeouts = Field(default_factory=SubprocessTimeouts)
    ssh: SshTimeouts = Field(default_factory=SshTimeouts)


class MaintenanceConfig(_Model):
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    targets: Targets = Field(default_factory=Targets)
    backups: BackupsConfig = Field(default_factory=BackupsConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    cleanup: CleanupConfig = Field(default_factory=CleanupConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    emergency: EmergencyConfig = Field(default_factory=EmergencyConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    airflow_db: AirflowDbConfig = Field(default_factory=AirflowDbConfig)

    def postgres_target(self, name: str) -> PostgresTarget:
        return _pick(self.targets.postgres, name, "targets.postgres")

    def redis_target(self, name: str) -> RedisTarget:
        return _pick(self.targets.redis, name, "targets.redis")

    def hosts(self) -> list[HostTarget]:
        """targets.hosts, or the one implicit host ``local`` (the worker) when none is configured."""
        if self.targets.hosts:
            return list(self.targets.hosts)
        return [HostTarget(name=LOCAL_HOST, transport="local", paths=list(self.host.paths), implicit=True)]

    def host_target(self, name: str) -> HostTarget:
        return _pick(self.hosts(), name, "targets.hosts")

    def hosts_for(self, names: list[str] | None) -> list[HostTarget]:
        """The hosts a log set / cleanup applies to (``hosts: null`` = every host)."""
        return [h for h in self.hosts() if names is None or h.name in names]

    @model_validator(mode="after")
    def _known_hosts(self) -> MaintenanceConfig:
        known = {h.name for h in self.hosts()}
        named = [(f"logs.sets[{s.name}].hosts", s.hosts) for s in self.logs.sets]
        named += [(f"logs.error_scan[{s.name}].hosts", s.hosts) for s in self.logs.error_scan]
        named.append(("cleanup.hosts", self.cleanup.hosts))
        for key, hosts in named:
            unknown = sorted(set(hosts or []) - known)
            if unknown:
                raise ValueError(f"{key}: unknown host(s) {unknown}; targets.hosts has {sorted(known)}")
        return self


_T = TypeVar("_T", bound=_Target)


def _pick(items: list[_T], name: str, key: str) -> _T:
    for item in items:
        if item.name == name:
            return item
    raise ConfigError(f"{key}: no target named {name!r} (configured: {[i.name for i in items]})")


def config_path() -> Path | None:
    """The file named by ``$MAINTENANCE_CONFIG``; None means the shipped default."""
    named = os.environ.get(CONFIG_ENV)
    return Path(named) if named else None


def parse_config(data: Any, source: str = "<config>") -> MaintenanceConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return MaintenanceConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "<root>"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(f"{source}: invalid maintenance config: " + "; ".join(problems)) from None


def load_config(path: str | Path | None = None) -> MaintenanceConfig:
    """Read and validate the config file. Call at task run time, never at parse time."""
    file = Path(path) if path else config_path()
    if file is None:

        return _parse_text(packaged.default_config_text(), "maintenance.yaml (shipped default)")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read maintenance config ({exc.strerror})") from None
    return _parse_text(text, str(file))


def _parse_text(text: str, source: str) -> MaintenanceConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    return parse_config(data, source)
