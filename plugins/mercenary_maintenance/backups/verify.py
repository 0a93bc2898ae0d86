"""Daily backup verification: freshness, integrity, capacity, redundancy, retention.

Pure functions turn listing data into findings; :func:`run_daily` fetches the listing
once per target and re-reads only the latest backups' objects (sha256 and size against
their manifests).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import partial
from typing import Any

from mercenary_maintenance.backups import catalog, encryption, keys
from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.manifest import Manifest, StoredObject
from mercenary_maintenance.config import BackupsConfig
from mercenary_maintenance.findings import Finding, Severity, Threshold, measured, unknown
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC

FRESHNESS = "backup.freshness"
INTEGRITY = "backup.integrity"
CAPACITY = "backup.capacity"
REDUNDANCY = "backup.redundancy"
READ_CHUNK = 1024 * 1024


def freshness(target: str, kind: str, latest: Backup | None, now: datetime, threshold: Threshold) -> Finding:
    """Age of the latest good backup of one kind; none at all is critical."""
    details: dict[str, Any] = {"kind": kind}
    if latest is None:
        return Finding(FRESHNESS, target, Severity.CRITICAL, f"no good {kind} backup found", details=details)
    age_h = round((now - latest.finished_at).total_seconds() / 3600, 2)
    details.update(latest=latest.prefix, finished_at=latest.finished_at.isoformat())
    return measured(FRESHNESS, target, age_h, threshold, f"latest {kind} backup is {age_h} h old", details)


def integrity(target: str, kind: str, expected: StoredObject, size: int | None, sha256: str | None) -> Finding:
    """
    >>> integrity("main", "full", StoredObject("k", 3, "ab"), 3, "ab").severity.label
    'ok'
    >>> integrity("main", "full", StoredObject("k", 3, "ab"), 3, "cd").message
    'k: sha256 cd does not match the manifest (ab)'
    >>> integrity("main", "full", StoredObject("k", 3, "ab"), None, None).message
    'k: object missing'
    """
    details = {"kind": kind, "key": expected.key, "size": size, "expected_size": expected.size}
    if size is None:
        return Finding(INTEGRITY, target, Severity.CRITICAL, f"{expected.key}: object missing", details=details)
    if size != expected.size:
        return Finding(INTEGRITY, target, Severity.CRITICAL,
                       f"{expected.key}: size {size} does not match the manifest ({expected.size})", details=details)
    if sha256 != expected.sha256:
        return Finding(INTEGRITY, target, Severity.CRITICAL,
                       f"{expected.key}: sha256 {sha256} does not match the manifest ({expected.sha256})",
                       details=details)
    return Finding(INTEGRITY, target, Severity.OK, f"{expected.key}: size and sha256 match the manifest",
                   details=details)


def capacity(target: str, backups: list[Backup], threshold: Threshold) -> Finding:
    """Bytes stored per kind and the change between the last two good full backups."""
    by_kind: dict[str, int] = {}
    for b in backups:
        by_kind[b.kind] = by_kind.get(b.kind, 0) + b.size
    fulls = catalog.current([b for b in backups if b.kind == keys.FULL])
    details: dict[str, Any] = {"bytes": by_kind, "total_bytes": sum(by_kind.values()), "backups": len(backups)}
    total_mb = round(sum(by_kind.values()) / 2**20, 1)
    if len(fulls) < 2 or fulls[-2].data_size == 0:
        return Finding(CAPACITY, target, Severity.OK, f"{total_mb} MB stored; growth needs two full backups",
                       details=details)
    latest, previous = fulls[-1].data_size, fulls[-2].data_size
    growth = round((latest - previous) * 100 / previous, 1)
    details.update(latest_full_bytes=latest, previous_full_bytes=previous, growth_percent=growth)
    return measured(CAPACITY, target, abs(growth), threshold,
                    f"{total_mb} MB stored; latest full backup {growth:+} % vs the previous one", details)


def redundancy(target: str, backups: list[Backup], minimum: int) -> Finding:
    """
    >>> redundancy("main", [], 2).severity.label
    'critical'
    """
    good = catalog.current([b for b in backups if b.kind == keys.FULL])  # one per logical date
    details = {"good_full_backups": len(good), "minimum": minimum}
    if len(good) >= minimum:
        return Finding(REDUNDANCY, target, Severity.OK, f"{len(good)} good full backups (minimum {minimum})",
                       value=len(good), threshold=minimum, details=details)
    severity = Severity.CRITICAL if not good else Severity.WARNING
    return Finding(REDUNDANCY, target, severity, f"only {len(good)} good full backup(s), minimum {minimum}",
                   value=len(good), threshold=minimum, details=details)


def read_object(client: Any, bucket: str, key: str) -> tuple[int | None, str | None]:
    """Stream one object: (size, sha256), or (None, None) when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None, None
        raise
    sha, size = hashlib.sha256(), 0
    while chunk := body.read(READ_CHUNK):
        sha.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest()


def integrity_of(client: Any, bucket: str, target: str, manifest: Manifest) -> list[Finding]:
    return [integrity(target, manifest.kind, obj, *read_object(client, bucket, obj.key)) for obj in manifest.objects]


def _integrity_of_backup(client: Any, bucket: str, target: str, backup: Backup) -> list[Finding]:
    return integrity_of(client, bucket, target, catalog.read_manifest(client, bucket, backup))


def _encryption_of(client: Any, cfg: BackupsConfig, target: str, backup: Backup) -> Finding:
    data = backup.files.get(keys.DUMP) or backup.files.get(keys.BASE_TAR)
    if data is None:  # backup.integrity reports the missing object
        return unknown(encryption.CHECK, target, f"{backup.prefix}: no data object to inspect")
    head = client.head_object(Bucket=cfg.bucket, Key=data.key)
    return encryption.encryption(target, backup.kind, data.key, head, cfg.server_side_encryption)


def run_daily(step: Step, target: str, now: datetime | None = None) -> None:
    """backup.freshness, backup.integrity, backup.capacity, backup.redundancy for one target."""
    from mercenary_maintenance.backups.pgconn import s3_client

    cfg = step.cfg.backups
    th = step.cfg.thresholds
    client = s3_client(cfg.conn_id)
    moment = now or datetime.now(UTC)
    listing: dict[str, list[Backup]] = {}

    def fetch() -> None:
        for kind in keys.KINDS:
            listing[kind] = catalog.backups_of(client, cfg.bucket, cfg.prefix, kind, target)

    step.check(FRESHNESS, target, fetch)
    if len(listing) != len(keys.KINDS):
        return
    limits = {keys.FULL: th.backup_full_age_hours.as_threshold(),
              keys.INCREMENTAL: th.backup_incremental_age_hours.as_threshold()}
    for kind in keys.KINDS:
        latest = catalog.latest_good(listing[kind])
        step.check(FRESHNESS, target, partial(freshness, target, kind, latest, moment, limits[kind]))
        if latest is not None:
            step.check(INTEGRITY, target, partial(_integrity_of_backup, client, cfg.bucket, target, latest))
            step.check(encryption.CHECK, target, partial(_encryption_of, client, cfg, target, latest))
    everything = listing[keys.FULL] + listing[keys.INCREMENTAL]
    step.check(CAPACITY, target, lambda: capacity(target, everything, th.backup_growth_percent.as_threshold()))
    step.check(REDUNDANCY, target, lambda: redundancy(target, listing[keys.FULL], cfg.min_redundancy))


def run_bucket_checks(step: Step) -> None:
    """backup.retention (lifecycle vs config); the uploads checks are :func:`.uploads.daily_checks`."""
    from mercenary_maintenance import bucket_lifecycle
    from mercenary_maintenance.backups import lifecycle
    from mercenary_maintenance.backups.pgconn import s3_client

    cfg = step.cfg.backups
    client = s3_client(cfg.conn_id)
    step.check(lifecycle.CHECK, cfg.bucket,
               lambda: lifecycle.check(cfg.bucket, cfg, bucket_lifecycle.current_rules(client, cfg.bucket)))
