"""The bucket's S3 lifecycle rules for backups: expiry, Glacier transition, stale uploads.

Rules ids start with ``mercenary-backup-``; :mod:`mercenary_maintenance.bucket_lifecycle`
writes them together with the log archives' rules (one document per bucket, one writer);
``check`` (``backup.retention``) compares what the bucket has with the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.backups import keys
from mercenary_maintenance.bucket_lifecycle import RuleSource, differences
from mercenary_maintenance.config import BackupsConfig, MaintenanceConfig
from mercenary_maintenance.findings import Finding, Severity

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step

RULE_PREFIX = "mercenary-backup-"
CHECK = "backup.retention"
# Multipart uploads that a killed worker could not abort are removed after this many days.
ABORT_INCOMPLETE_DAYS = 1


def desired_rules(cfg: BackupsConfig) -> list[dict[str, Any]]:
    """
    >>> rules = desired_rules(BackupsConfig())
    >>> [(r["ID"], r["Expiration"]["Days"], r.get("Transitions")) for r in rules]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('mercenary-backup-full', 30, [{'Days': 7, 'StorageClass': 'GLACIER'}]),
     ('mercenary-backup-incremental', 7, None)]
    """
    full: dict[str, Any] = {
        "ID": RULE_PREFIX + keys.FULL,
        "Filter": {"Prefix": keys.kind_prefix(cfg.prefix, keys.FULL)},
        "Status": "Enabled",
        "Expiration": {"Days": cfg.full.retention_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_DAYS},
    }
    if cfg.full.glacier_after_days:
        full["Transitions"] = [{"Days": cfg.full.glacier_after_days, "StorageClass": "GLACIER"}]
    incremental = {
        "ID": RULE_PREFIX + keys.INCREMENTAL,
        "Filter": {"Prefix": keys.kind_prefix(cfg.prefix, keys.INCREMENTAL)},
        "Status": "Enabled",
        "Expiration": {"Days": cfg.incremental.retention_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_DAYS},
    }
    return [full, incremental]


def bucket_rules(cfg: MaintenanceConfig) -> list[dict[str, Any]]:
    """The backups' rules on the bucket (a :data:`~mercenary_maintenance.bucket_lifecycle.RuleSource`)."""
    return desired_rules(cfg.backups)


def check(bucket: str, cfg: BackupsConfig, current: list[dict[str, Any]]) -> Finding:
    problems = differences(desired_rules(cfg), current)
    expected = {"full_days": cfg.full.retention_days, "glacier_after_days": cfg.full.glacier_after_days,
                "incremental_days": cfg.incremental.retention_days}
    if problems:
        return Finding(CHECK, bucket, Severity.CRITICAL,
                       "bucket lifecycle does not match the retention config: " + "; ".join(problems),
                       details={"expected": expected, "problems": problems})
    return Finding(CHECK, bucket, Severity.OK,
                   f"lifecycle: full expire after {cfg.full.retention_days} d (Glacier after "
                   f"{cfg.full.glacier_after_days} d), incremental after {cfg.incremental.retention_days} d",
                   details={"expected": expected})


def uploads_check(bucket: str, versioning: str | None, rules: list[dict[str, Any]], days: int) -> Finding:
    """User uploads: versioning enabled and noncurrent versions kept ``days`` days.

    >>> uploads_check("u", "Enabled", [{"Status": "Enabled",
    ...     "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}], 90).severity.label
    'ok'
    >>> uploads_check("u", None, [], 90).message
    'uploads bucket u: versioning is not enabled; no enabled rule expires noncurrent versions after 90 days'
    """
    problems = []
    if versioning != "Enabled":
        problems.append("versioning is not enabled")
    kept = [r for r in rules if r.get("Status") == "Enabled"
            and (r.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays") == days]
    if not kept:
        problems.append(f"no enabled rule expires noncurrent versions after {days} days")
    details = {"versioning": versioning, "noncurrent_days": days}
    if problems:
        return Finding("backup.uploads_versioning", bucket, Severity.CRITICAL,
                       f"uploads bucket {bucket}: " + "; ".join(problems), details=details)
    return Finding("backup.uploads_versioning", bucket, Severity.OK,
                   f"uploads bucket {bucket}: versioned, noncurrent versions kept {days} days", details=details)


def ensure_lifecycle(step: Step, lifecycle_rules: Sequence[RuleSource]) -> None:
    """backup.lifecycle: the bucket's expiry/Glacier rules equal the retention config (idempotent).

    The one lifecycle document holds every area's rules: ``lifecycle_rules`` are their sources
    (``registry.LIFECYCLE_RULES``, given by the task declaration)."""
    from mercenary_maintenance import bucket_lifecycle
    from mercenary_maintenance.backups.pgconn import s3_client

    cfg = step.cfg.backups
    with step.action("backup.lifecycle", cfg.bucket, why="retention as S3 lifecycle rules") as act:
        changes = bucket_lifecycle.ensure(s3_client(cfg.conn_id), step.cfg, lifecycle_rules)
        if changes:
            act.done(f"lifecycle rules updated: {'; '.join(changes)}", changes=changes)
        else:
            act.skipped("lifecycle rules already match the config")
