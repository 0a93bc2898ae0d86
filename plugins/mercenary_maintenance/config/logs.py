"""Log archives and error scans, temp-file cleanup, the host paths measured."""

from __future__ import annotations

import os

from pydantic import Field, field_validator, model_validator

from mercenary_maintenance.config.base import NamedTarget, StrictModel

AUDIT_MIN_RETENTION_DAYS = 365


class LogSet(NamedTarget):
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


class ErrorScanSet(NamedTarget):
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


class LogsConfig(StrictModel):
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


class CleanupConfig(StrictModel):
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


class HostConfig(StrictModel):
    paths: list[str] = Field(default_factory=lambda: ["/", "/var/log", "/tmp"])
