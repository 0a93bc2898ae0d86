"""How runs are operated: reports, windows, emergency runs, preview, approvals, guards, the Airflow
metadata DB, the console."""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mercenary_maintenance.config.base import StrictModel


def default_reports_url() -> str:
    """``file://$AIRFLOW_HOME/maintenance-reports``: not a world-writable /tmp path (parts there
    could be forged). Several workers (Celery) need a shared ``s3://`` location instead."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"file://{os.path.abspath(home)}/maintenance-reports"


class ReportsConfig(StrictModel):
    url: str = Field(default_factory=default_reports_url)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not (value.startswith("file://") or value.startswith("s3://")):
            raise ValueError("must start with file:// or s3://")
        return value.rstrip("/")


class WindowsConfig(StrictModel):
    cutoff_minutes: dict[str, int] = Field(
        default_factory=lambda: {"maintenance_weekly": 15, "maintenance_monthly": 15, "maintenance_quarterly": 15}
    )


class EmergencyConfig(StrictModel):
    ticket_pattern: str = r"^[A-Z][A-Z0-9]+-[0-9]+$"
    notice_minutes: float = Field(60, ge=0)
    mode: Literal["notice", "approval", "both"] = "both"
    """Non-critical runs: post the notice and wait its period (notice), wait for an approval (approval), or both.
    Critical runs never wait (they are marked for post-hoc review)."""


class PreviewConfig(StrictModel):
    lead_hours: float = Field(24, gt=0, le=24 * 14)
    """How long before each window start maintenance_preview runs. The DAG's schedule is fixed when the file is
    parsed (24 h); a different value here is reported by the preview run."""
    history_runs: int = Field(10, ge=1, le=200)
    """Previous reports of a window DAG consulted for duration estimates (newest first)."""


ApprovalKind = Literal["vacuum_full", "reindex_blocking", "retention_delete", "emergency_non_critical"]
APPROVAL_KINDS: tuple[ApprovalKind, ...] = ("vacuum_full", "reindex_blocking", "retention_delete",
                                            "emergency_non_critical")


class ApprovalsConfig(StrictModel):
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


class FreezePeriod(StrictModel):
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


class GuardsConfig(StrictModel):
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


class AirflowDbConfig(StrictModel):
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


class ConsoleConfig(StrictModel):
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
