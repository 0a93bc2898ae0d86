"""``logs.retention``: one S3 lifecycle rule per log set, and each set's local size budget.

Rules owned here have ids ``mercenary-logs-<set>``; other rules of the bucket (backups)
are kept when ours are written (the comparison helpers are the backups area's).
"""

from __future__ import annotations

import os
from typing import Any

from mercenary_maintenance.backups.lifecycle import current_rules, differences
from mercenary_maintenance.config import LogSet
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


def ensure(client: Any, bucket: str, sets: list[LogSet]) -> list[str]:
    """Make the bucket's log rules equal the config (others kept); returns the changes made."""
    current = current_rules(client, bucket)
    desired = [desired_rule(s) for s in sets]
    changes = differences(desired, current)
    if changes:
        others = [r for r in current if not str(r.get("ID", "")).startswith(RULE_PREFIX)]
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": others + desired})
    return changes


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
