"""The plan's switches (core): which plan task does nothing under a config, and the key that turns it on.

A check with nothing configured reports ``ok`` + ``not_configured`` when it runs; this table says
the same *before* anything runs, from the config alone, so the doctor can list such plan items as
``off``, the console's plan page can show them as *not configured* (never green) and the weekly
digest can name them. One :class:`Switch` per way a task can be inert, as data: a new config key
that turns a plan line on is one more entry here.

A switch names the task of ``docs/plan-coverage.md`` it belongs to (``dag_id.task_id``), or — for
a manual plan line without a task — the start of the line's "Plan item" text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig


@dataclass(frozen=True)
class Switch:
    """One way a plan task is inert: ``off(cfg)`` is true when nothing is configured for it."""

    task: str
    """The task of docs/plan-coverage.md (``dag_id.task_id``); empty for a manual plan line."""
    what: str
    """What does nothing while the switch is off."""
    key: str
    """The config key that turns it on."""
    needs: str
    """What to set, as a user reads it."""
    off: Callable[[MaintenanceConfig], bool]
    partial: bool = False
    """The task still does other work while this part is off."""
    item: str = ""
    """The start of the "Plan item" text of the lines this switch belongs to (all lines of the task
    when empty); for a manual plan line without a task, the only way to find it."""

    def message(self) -> str:
        return f"{self.what}: not configured{' (the task does the rest)' if self.partial else ''}"

    def fix(self) -> str:
        return f"{self.key} — {self.needs}"


def uploads_bucket(cfg: MaintenanceConfig) -> str | None:
    """The user-uploads bucket, whichever shape the config has (``backups.uploads.bucket`` or the
    older ``backups.uploads_bucket``)."""
    uploads: Any = getattr(cfg.backups, "uploads", None)
    if uploads is not None and getattr(uploads, "bucket", None):
        return str(uploads.bucket)
    legacy = getattr(cfg.backups, "uploads_bucket", None)
    return str(legacy) if legacy else None


def _no_uploads(cfg: MaintenanceConfig) -> bool:
    return uploads_bucket(cfg) is None


def _uploads_key_name() -> str:
    from mercenary_maintenance.config import BackupsConfig

    return "backups.uploads.bucket" if "uploads" in BackupsConfig.model_fields else "backups.uploads_bucket"


SWITCHES: tuple[Switch, ...] = (
    Switch("maintenance_daily.logs.scan_log_errors", "log error review", "logs.error_scan",
           'a file set, e.g. [{name: app, paths: ["/var/log/app/*.log"]}]',
           lambda c: not c.logs.error_scan),
    Switch("maintenance_daily.health.check_failed_logins", "failed-login review", "targets.postgres[].log_file",
           "the server log file of each PostgreSQL target",
           lambda c: all(t.log_file is None for t in c.targets.postgres)),
    Switch("maintenance_daily.health.check_closed_ports", "closed-port check (firewall rules)",
           "security.closed_ports", 'host:port pairs that must refuse connections, e.g. ["db.internal:5432"]',
           lambda c: not c.security.closed_ports),
    Switch("maintenance_daily.health.check_tls_certificates", "TLS certificate expiry", "targets.http",
           'an https:// URL, e.g. [{name: api, url: "https://api.example.com/health"}]',
           lambda c: not any(t.url.startswith("https://") for t in c.targets.http)),
    Switch("maintenance_daily.health.check_security_headers", "security headers", "targets.http",
           'the sites to check, e.g. [{name: api, url: "https://api.example.com/"}]',
           lambda c: not c.targets.http),
    Switch("maintenance_weekly.security.scan_vulnerabilities", "vulnerability and patch-SLA scan",
           "security.dependency_manifests",
           "pinned manifests [{name, path, kind: python|node}] plus security.advisories (OSV records), "
           "or security.scan_os_packages: true",
           lambda c: not c.security.dependency_manifests and not c.security.scan_os_packages),
    Switch("maintenance_monthly.security.check_credential_age", "IAM access-key age", "security.aws_conn_id",
           "an aws connection allowed iam:ListUsers/ListAccessKeys/GetAccessKeyLastUsed",
           lambda c: c.security.aws_conn_id is None, partial=True),
    Switch("maintenance_monthly.security.audit_security_groups", "security-group audit", "security.aws_conn_id",
           "an aws connection allowed ec2:DescribeSecurityGroups",
           lambda c: c.security.aws_conn_id is None),
    Switch("maintenance_monthly.security.review_firewall_changes", "firewall review",
           "security.aws_conn_id", "an aws connection (security groups) or security.closed_ports",
           lambda c: c.security.aws_conn_id is None and not c.security.closed_ports),
    Switch("backup_incremental.backups.copy_uploads", "user-uploads backup", _uploads_key_name(),
           "the bucket holding user uploads (versioned, 90-day noncurrent expiry)", _no_uploads, partial=True,
           item="User uploads"),
    Switch("maintenance_monthly.postgres.vacuum_full_tables", "opt-in VACUUM FULL",
           "targets.postgres[].vacuum_full_tables", "tables to rewrite (ACCESS EXCLUSIVE lock; approval gated)",
           lambda c: not any(t.vacuum_full_tables for t in c.targets.postgres)),
    Switch("alert_evaluation.evaluate_alerts", "error-rate and p95-latency alerts", "alerts.prometheus_conn_id",
           "an http connection to Prometheus (e.g. maintenance_prometheus) named here",
           lambda c: c.alerts.prometheus_conn_id is None, partial=True, item="CPU, memory, disk, error rate"),
    Switch("maintenance_daily.backups.sample_restore", "daily sample restore", "backups.sample_restore_tables",
           "a number of tables above 0", lambda c: c.backups.sample_restore_tables == 0),
    Switch("maintenance_weekly.logs.clean_tmp", "temporary-file deletion (dry run lists only)", "cleanup.dry_run",
           "false, once the dry-run reports list only what may go", lambda c: c.cleanup.dry_run, partial=True),
    Switch("maintenance_daily.backups.backup_config_files", "configuration-file backup", "targets.hosts[].config_files",
           "globs of each host's configuration files (backed up on change; git with backups.config_files.git_url)",
           lambda c: not any(h.config_files for h in c.hosts()), item="Configuration files"),
    Switch("maintenance_weekly.security.check_host_packages", "package-cache cleanup (its size is reported only)",
           "security.package_cache_clean", "true to run apt-get clean on each host",
           lambda c: not c.security.package_cache_clean, partial=True, item="Remove old package cache"),
    Switch("backup_full.backups.expire_backups", "deletion of expired backups (dry run lists only)",
           "backups.delete_expired", "true, once the dry-run reports list only what may go",
           lambda c: not c.backups.delete_expired, partial=True, item="Full backups"),
    Switch("", "on-call escalation", "alerts.primary_oncall", "the primary (and alerts.secondary_oncall) on-call name",
           lambda c: c.alerts.primary_oncall is None, item="On-call rotation"),
)


def off_switches(cfg: MaintenanceConfig, switches: Iterable[Switch] = SWITCHES) -> list[Switch]:
    """The switches that are off under ``cfg``, in table order."""
    return [s for s in switches if s.off(cfg)]


def applies(switch: Switch, item: str, tasks: Iterable[str]) -> bool:
    """Whether ``switch`` belongs to the plan line ``item`` that references ``tasks``.

    >>> s = SWITCHES[0]
    >>> applies(s, "Review system logs", ["maintenance_daily.logs.scan_log_errors"]), applies(s, "x", [])
    (True, False)
    """
    if switch.task and switch.task not in set(tasks):
        return False
    return item.startswith(switch.item) if switch.item else bool(switch.task)
