"""The backup bucket's S3 lifecycle configuration: one writer for every rule we own.

Backups (``mercenary-backup-*``) and log archives (``mercenary-logs-*``) share the bucket,
and S3 keeps a bucket's lifecycle rules as one document that can only be replaced whole.
So whoever writes it (``backup.lifecycle`` in ``backup_full``, ``logs.lifecycle`` in the log
archive) writes *all* our rules, computed from the same config, keeps the rules we do not
own and drops ours that the config no longer has. Two writers at the same moment then write
the same document instead of erasing each other's rules. Writes happen only when something
differs (idempotent). Each area supplies its rules as a :data:`RuleSource`; the wiring gives
both writers every area's (``registry.LIFECYCLE_RULES``), so this module imports no area.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mercenary_maintenance.config import MaintenanceConfig

OWNED_PREFIX = "mercenary-"
# One area's rules on the backup bucket, from the config (ids starting with OWNED_PREFIX).
RuleSource = Callable[[MaintenanceConfig], list[dict[str, Any]]]


def current_rules(client: Any, bucket: str) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        return list(client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", []))
    except ClientError as exc:
        # No rules, or no bucket at all: either way nothing enforces the retention (critical).
        if exc.response.get("Error", {}).get("Code") in ("NoSuchLifecycleConfiguration", "NoSuchBucket"):
            return []
        raise


def normalize(rule: dict[str, Any]) -> dict[str, Any]:
    """The fields we compare (S3 adds defaults such as an empty ``NoncurrentVersion…``)."""
    fields = ("ID", "Filter", "Status", "Expiration", "Transitions", "AbortIncompleteMultipartUpload",
              "NoncurrentVersionExpiration")
    out = {k: rule[k] for k in fields if rule.get(k) not in (None, [], {})}
    if "Filter" in out and "Prefix" in out["Filter"]:
        out["Filter"] = {"Prefix": out["Filter"]["Prefix"]}
    if "Expiration" in out:
        out["Expiration"] = {k: v for k, v in out["Expiration"].items() if k == "Days"}
    return out


def differences(desired: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[str]:
    """Human-readable differences between desired and current rules (the desired ones only).

    >>> differences([{"ID": "mercenary-x", "Status": "Enabled"}], [])
    ['rule mercenary-x missing']
    >>> differences([{"ID": "a", "Expiration": {"Days": 3}}], [{"ID": "a", "Expiration": {"Days": 3}}])
    []
    """
    have = {r.get("ID"): normalize(r) for r in current}
    problems = []
    for rule in desired:
        got = have.get(rule["ID"])
        if got is None:
            problems.append(f"rule {rule['ID']} missing")
        elif got != normalize(rule):
            problems.append(f"rule {rule['ID']} differs: has {got}, want {normalize(rule)}")
    return problems


def owned(rule: dict[str, Any]) -> bool:
    return str(rule.get("ID", "")).startswith(OWNED_PREFIX)


def desired_rules(cfg: MaintenanceConfig, sources: Sequence[RuleSource]) -> list[dict[str, Any]]:
    """Every rule the config asks for on the backup bucket: each source's, in order."""
    return [rule for source in sources for rule in source(cfg)]


def plan(desired: list[dict[str, Any]], current: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(what changes, the full document to write): ours as desired, foreign rules kept.

    >>> changes, document = plan([{"ID": "mercenary-a"}], [{"ID": "theirs"}, {"ID": "mercenary-gone"}])
    >>> changes
    ['rule mercenary-a missing', 'rule mercenary-gone no longer configured']
    >>> document
    [{'ID': 'theirs'}, {'ID': 'mercenary-a'}]
    """
    wanted = {r["ID"] for r in desired}
    stale = [f"rule {r['ID']} no longer configured" for r in current if owned(r) and r.get("ID") not in wanted]
    changes = differences(desired, current) + stale
    return changes, [r for r in current if not owned(r)] + desired


def ensure(client: Any, cfg: MaintenanceConfig, sources: Sequence[RuleSource]) -> list[str]:
    """Make the backup bucket's rules equal the config (every area's, from ``sources``); returns
    what changed (empty: nothing)."""
    bucket = cfg.backups.bucket
    changes, document = plan(desired_rules(cfg, sources), current_rules(client, bucket))
    if changes:
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": document})
    return changes
