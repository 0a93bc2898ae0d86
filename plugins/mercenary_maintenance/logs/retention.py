"""``logs.retention``: one S3 lifecycle rule per log set, and each set's local size budget.

Rule ids are ``mercenary-logs-<set>``; :mod:`mercenary_maintenance.bucket_lifecycle` writes
them together with the backups' rules (one document per bucket, one writer).
"""

from __future__ import annotations

import os
from typing import Any

from mercenary_maintenance.bucket_lifecycle import differences
from mercenary_maintenance.config import LogSet, MaintenanceConfig
from mercenary_maintenance.findings import Finding, Severity, worst
from mercenary_maintenance.logs import files, s3

RULE_PREFIX = "mercenary-logs-"
CHECK = "logs.retention"


def desired_rule(log_set: LogSet) -> dict[str, Any]:
    """
    >>> desired_rule(LogSet(name="app", paths=["/x/*.log"]))["Expiration"]
    {'Days': 90}
    """
    return {
        "ID": RULE_PREFIX + log_set.name,
        "Filter": {"Prefix": s3.set_prefix(log_set.name)},
        "Status": "Enabled",
        "Expiration": {"Days": log_set.retention_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def bucket_rules(cfg: MaintenanceConfig) -> list[dict[str, Any]]:
    """Each log set's rule on the bucket (a :data:`~mercenary_maintenance.bucket_lifecycle.RuleSource`)."""
    return [desired_rule(s) for s in cfg.logs.sets]


def local_bytes(log_set: LogSet) -> int:
    total = 0
    for pattern in log_set.paths:
        for path in files.expand(pattern)[1]:
            total += os.lstat(path).st_size
    return total


def check(log_set: LogSet, rules: list[dict[str, Any]], local_size: int) -> Finding:
    """Critical when the archive's expiry differs from the config; warning over the local budget."""
    problems = differences([desired_rule(log_set)], rules)
    severities = [Severity.CRITICAL if problems else Severity.OK]
    notes = problems or [f"archive expires after {log_set.retention_days} days (rule {RULE_PREFIX}{log_set.name})"]
    budget = log_set.max_local_bytes
    if budget is not None and local_size > budget:
        severities.append(Severity.WARNING)
        notes.append(f"local files use {local_size} bytes, over the budget of {budget}")
    else:
        notes.append(f"local files use {local_size} bytes" + (f" of {budget}" if budget is not None else ""))
    return Finding(CHECK, log_set.name, worst(severities), "; ".join(notes), value=local_size, threshold=budget,
                   details={"retention_days": log_set.retention_days, "audit": log_set.audit,
                            "lifecycle_problems": problems, "local_bytes": local_size, "max_local_bytes": budget})
