"""Backups to S3: full and incremental, retention, uploads, re-reads, restore tests, config files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mercenary_maintenance.config.base import StrictModel


class FullBackupConfig(StrictModel):
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


class IncrementalBackupConfig(StrictModel):
    retention_days: int = Field(7, ge=1)
    new_chain_after_hours: int = Field(24, ge=1)
    """PostgreSQL 17+: a new physical full starts a new chain when the chain is this old."""
    checkpoint: Literal["spread", "fast"] = "spread"
    """pg_basebackup's start checkpoint: ``spread`` (default) paces its writes like any checkpoint;
    ``fast`` forces an immediate one (an I/O burst on the primary every 4 hours)."""


class UploadsConfig(StrictModel):
    """User uploads (docs/areas/backups.md): versioning and noncurrent expiry enforced, new versions copied."""

    bucket: str
    """The bucket users upload to (versioning and the noncurrent-version expiry are enforced on it)."""
    retention_days: int = Field(90, ge=1)
    """Noncurrent versions are kept this many days (lifecycle NoncurrentVersionExpiration)."""
    copy_every_hours: float = Field(4, gt=0)
    """New versions are copied (server-side) to ``uploads/`` in the backup bucket at most this often."""
    prefix: str = ""
    """Only keys under this prefix of the uploads bucket are copied (empty: all)."""


class RereadConfig(StrictModel):
    mb_per_s: float = Field(50, gt=0)
    """The read rate a full re-read is expected to reach: a backup's re-read deadline is its size at
    this rate, twice over, plus a minute."""
    budget_seconds: float = Field(1200, gt=0)
    """Time the daily ``reread_backups`` task may spend (under the daily run's 30-minute task bound);
    backups are re-read least recently verified first while their deadlines fit."""


class ConfigFilesBackup(StrictModel):
    conn_id: str = "maintenance_s3"
    """S3 connection of the versioned copies (the bucket is backups.bucket)."""
    prefix: str = "config"
    git_url: str | None = None
    """A git repository each new version is committed to (a path or URL git can push to); null: S3 only."""
    git_timeout_seconds: float = Field(60, gt=0)
    """Deadline of each git command (clone, commit, push)."""


class BackupsConfig(StrictModel):
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
