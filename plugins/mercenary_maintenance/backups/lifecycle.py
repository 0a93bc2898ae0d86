"""The bucket's S3 lifecycle rules for backups: expiry, Glacier transition, stale uploads.

Rules ids start with ``mercenary-backup-``; :mod:`mercenary_maintenance.bucket_lifecycle`
writes them together with the log archives' rules (one document per bucket, one writer);
``check`` (``backup.retention``) compares what the bucket has with the config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mercenary_maintenance.backups import keys
from mercenary_maintenance.bucket_lifecycle import differences
from mercenary_maintenance.config import BackupsConfig, MaintenanceConfig
from mercenary_maintenance.findings import Finding, Severity

if TYPE_CHECKING:
    pass

RULE_PREFIX = "mercenary-backup-"
CHECK = "backup.retention"
# Multipart uploads that a killed worker could not abort are removed after this many days.
ABORT_INCOMPLETE_DAYS = 1


def desired_rules(cfg: BackupsConfig) -> list[dict[str, Any]]:
    """Transitions and clean-up of abandoned uploads only: **no Expiration** on backup prefixes.

    S3 expires by age alone and knows nothing of ``min_redundancy`` or of which increment needs
    which base: a bucket whose backups stopped for a month would be emptied. Deletion is
    ``backup.expire``'s alone (:mod:`.retention`).

    >>> rules = desired_rules(BackupsConfig())
    >>> [(r["ID"], "Expiration" in r, r.get("Transitions")) for r in rules]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('mercenary-backup-full', False, [{'Days': 7, 'StorageClass': 'GLACIER'}]),
     ('mercenary-backup-incremental', False, None)]
    """
    full: dict[str, Any] = {
        "ID": RULE_PREFIX + keys.FULL,
        "Filter": {"Prefix": keys.kind_prefix(cfg.prefix, keys.FULL)},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_DAYS},
    }
    if cfg.full.glacier_after_days:
        full["Transitions"] = [{"Days": cfg.full.glacier_after_days, "StorageClass": "GLACIER"}]
    incremental = {
        "ID": RULE_PREFIX + keys.INCREMENTAL,
        "Filter": {"Prefix": keys.kind_prefix(cfg.prefix, keys.INCREMENTAL)},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_DAYS},
    }
    return [full, incremental]


def _rule_prefix(rule: dict[str, Any]) -> str | None:
    """The key prefix a rule applies to ("" for the whole bucket), None when a tag condition limits it
    (expiry by a tag that only ``backup.expire`` sets is allowed)."""
    filt = rule.get("Filter")
    if filt is None:
        return str(rule.get("Prefix") or "")
    if "Tag" in filt:
        return None
    if "And" in filt:
        if filt["And"].get("Tags"):
            return None
        return str(filt["And"].get("Prefix") or "")
    return str(filt.get("Prefix") or "")


def expiring_rules(cfg: BackupsConfig, current: list[dict[str, Any]]) -> list[str]:
    """Enabled rules (ours or anyone's) that would expire backup objects by age.

    >>> cfg = BackupsConfig()
    >>> expiring_rules(cfg, [{"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}},
    ...     {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 9}},
    ...     {"ID": "tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
    ...      "Expiration": {"Days": 1}}])
    ['rule all expires objects under s3://<bucket>/ after 30 days']
    """
    found = []
    for rule in current:
        if rule.get("Status") != "Enabled" or not rule.get("Expiration"):
            continue
        where = _rule_prefix(rule)
        if where is None:
            continue
        for kind in keys.KINDS:
            backups_at = keys.kind_prefix(cfg.prefix, kind)
            if backups_at.startswith(where) or where.startswith(backups_at):
                days = rule["Expiration"].get("Days", rule["Expiration"].get("Date"))
                found.append(f"rule {rule.get('ID')} expires objects under s3://<bucket>/{where} after {days} days")
                break
    return found


def bucket_rules(cfg: MaintenanceConfig) -> list[dict[str, Any]]:
    """The backups' rules on the bucket (a :data:`~mercenary_maintenance.bucket_lifecycle.RuleSource`)."""
    return desired_rules(cfg.backups)


def check(bucket: str, cfg: BackupsConfig, current: list[dict[str, Any]]) -> Finding:
    expiring = expiring_rules(cfg, current)
    problems = expiring + differences(desired_rules(cfg), current)
    expected = {"glacier_after_days": cfg.full.glacier_after_days, "expiration": None,
                "full_days": cfg.full.retention_days, "incremental_days": cfg.incremental.retention_days}
    if expiring:
        return Finding(CHECK, bucket, Severity.CRITICAL,
                       "the bucket lifecycle deletes backups by age, whatever retention keeps: " + "; ".join(problems),
                       details={"expected": expected, "problems": problems, "expiring_rules": expiring})
    if problems:
        return Finding(CHECK, bucket, Severity.CRITICAL,
                       "bucket lifecycle does not match the retention config: " + "; ".join(problems),
                       details={"expected": expected, "problems": problems})
    return Finding(CHECK, bucket, Severity.OK,
                   f"lifecycle: no expiry on backup prefixes (backup.expire keeps full {cfg.full.retention_days} d, "
                   f"incremental {cfg.incremental.retention_days} d); full to Glacier after "
                   f"{cfg.full.glacier_after_days} d",
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
