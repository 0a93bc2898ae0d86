"""Daily backup verification: freshness, integrity, capacity, redundancy, retention.

Pure functions turn listing data into findings; the task body (`bodies.verify_backups`) fetches the listing
once per target and checks the latest backups' objects with HEAD requests only (size and the
ETag S3 gave at upload, beside the sha256 computed then), so its cost does not grow with the
backups' size. Full re-reads (every byte's sha256 against the manifest) rotate through the
backups in their own task, :func:`reread`, least recently verified first, each under a deadline
derived from its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mercenary_maintenance.backups import catalog, encryption, keys
from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.manifest import Manifest, StoredObject
from mercenary_maintenance.config import BackupsConfig
from mercenary_maintenance.findings import Finding, Severity, Threshold, measured, unknown

FRESHNESS = "backup.freshness"
INTEGRITY = "backup.integrity"
CAPACITY = "backup.capacity"
REDUNDANCY = "backup.redundancy"
READ_CHUNK = 1024 * 1024


def freshness(target: str, kind: str, latest: Backup | None, now: datetime, threshold: Threshold,
              whose: dict[str, Any] | None = None) -> Finding:
    """Age of the latest good backup of one kind (of this source: ``whose`` says which); none at all is
    critical."""
    details: dict[str, Any] = {"kind": kind, **(whose or {})}
    if latest is None:
        foreign = int(details.get("other_sources_backups") or 0)
        also = f" of this source ({foreign} backup(s) of another cluster/database are not counted)" if foreign else ""
        return Finding(FRESHNESS, target, Severity.CRITICAL, f"no good {kind} backup found{also}", details=details)
    age_h = round((now - latest.finished_at).total_seconds() / 3600, 2)
    details.update(latest=latest.prefix, finished_at=latest.finished_at.isoformat())
    unconfirmed = " (its source not confirmed: the server could not be asked)" if details.get("source_unknown") else ""
    return measured(FRESHNESS, target, age_h, threshold, f"latest {kind} backup is {age_h} h old{unconfirmed}",
                    details)


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


def redundancy(target: str, backups: list[Backup], minimum: int, verifies: Callable[[Backup], bool] | None = None,
               whose: dict[str, Any] | None = None) -> Finding:
    """Good full backups (one per logical date) vs ``minimum``; with ``verifies`` only those whose objects
    verify count, asked newest first until ``minimum`` have (as ``backup.expire`` keeps them).

    >>> redundancy("main", [], 2).severity.label
    'critical'
    """
    good = catalog.current([b for b in backups if b.kind == keys.FULL])  # one per logical date
    counted: list[Backup] = []
    unverified: list[Backup] = []
    for backup in reversed(good):
        if verifies is not None and len(counted) >= minimum:
            break
        (counted if verifies is None or verifies(backup) else unverified).append(backup)
    details: dict[str, Any] = {"good_full_backups": len(good), "minimum": minimum, **(whose or {})}
    what = "good full backups"
    if verifies is not None:
        what = "verified full backups"
        details.update(verified=[b.prefix for b in counted], unverified=[b.prefix for b in unverified])
    tail = f"; {len(unverified)} do not verify (objects missing or sizes differ)" if unverified else ""
    if len(counted) >= minimum:
        return Finding(REDUNDANCY, target, Severity.OK, f"{len(counted)} {what} (minimum {minimum}){tail}",
                       value=len(counted), threshold=minimum, details=details)
    severity = Severity.CRITICAL if not counted else Severity.WARNING
    return Finding(REDUNDANCY, target, severity, f"only {len(counted)} {what}, minimum {minimum}{tail}",
                   value=len(counted), threshold=minimum, details=details)


class ReadTooSlow(RuntimeError):
    """A full re-read passed its size-derived deadline."""


def read_object(client: Any, bucket: str, key: str, deadline: float | None = None) -> tuple[int | None, str | None]:
    """Stream one object: (size, sha256), or (None, None) when it does not exist; past ``deadline``
    (a ``time.monotonic()`` instant) :class:`ReadTooSlow`."""
    import time

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
        if deadline is not None and time.monotonic() > deadline:
            body.close()
            raise ReadTooSlow(f"{key}: re-read passed its deadline after {size} bytes")
    return size, sha.hexdigest()


def head_integrity(target: str, kind: str, expected: StoredObject, head: dict[str, Any] | None) -> Finding:
    """The daily check without reading the data: S3's size, ETag and its own SHA-256 checksum (recorded at
    upload, beside the sha256 computed on the bytes sent) must be unchanged.

    >>> obj = StoredObject("k", 3, "ab", etag='"e-2"', checksum_sha256="Q0s=-2")
    >>> head_integrity("main", "full", obj, {"ContentLength": 3, "ETag": '"e-2"', "ChecksumSHA256": "Q0s=-2"}).message
    'k: size, S3 ETag and S3 SHA-256 checksum match the upload'
    >>> head_integrity("main", "full", obj, {"ContentLength": 3, "ETag": '"x-2"', "ChecksumSHA256": "Q0s=-2"}).message
    'k: S3 ETag "x-2" differs from the one recorded at upload ("e-2")'
    >>> head_integrity("main", "full", obj, {"ContentLength": 3, "ETag": '"e-2"', "ChecksumSHA256": "WFg=-2"}).message
    'k: S3 SHA-256 checksum WFg=-2 differs from the one recorded at upload (Q0s=-2)'
    >>> head_integrity("main", "full", obj, None).message
    'k: object missing'
    """
    details = {"kind": kind, "key": expected.key, "expected_size": expected.size, "how": "head"}
    if head is None:
        return Finding(INTEGRITY, target, Severity.CRITICAL, f"{expected.key}: object missing", details=details)
    size, etag, checksum = int(head["ContentLength"]), head.get("ETag"), head.get("ChecksumSHA256")
    details.update(size=size, etag=etag, expected_etag=expected.etag, checksum_sha256=checksum,
                   expected_checksum_sha256=expected.checksum_sha256)
    if size != expected.size:
        return Finding(INTEGRITY, target, Severity.CRITICAL,
                       f"{expected.key}: size {size} does not match the manifest ({expected.size})", details=details)
    if expected.etag is not None and etag != expected.etag:
        return Finding(INTEGRITY, target, Severity.CRITICAL,
                       f"{expected.key}: S3 ETag {etag} differs from the one recorded at upload ({expected.etag})",
                       details=details)
    if expected.checksum_sha256 is not None and checksum != expected.checksum_sha256:
        return Finding(INTEGRITY, target, Severity.CRITICAL,
                       f"{expected.key}: S3 SHA-256 checksum {checksum} differs from the one recorded at upload "
                       f"({expected.checksum_sha256})", details=details)
    recorded = (("S3 ETag", expected.etag), ("S3 SHA-256 checksum", expected.checksum_sha256))
    matched = [what for what, value in recorded if value is not None]
    what = (f"size, {' and '.join(matched)} match the upload" if matched
            else "size matches the manifest (no ETag or checksum recorded)")
    return Finding(INTEGRITY, target, Severity.OK, f"{expected.key}: {what}", details=details)


def _head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def stored_integrity_of(client: Any, bucket: str, target: str, manifest: Manifest) -> list[Finding]:
    return [head_integrity(target, manifest.kind, obj, _head(client, bucket, obj.key)) for obj in manifest.objects]


def integrity_of(client: Any, bucket: str, target: str, manifest: Manifest) -> list[Finding]:
    return [integrity(target, manifest.kind, obj, *read_object(client, bucket, obj.key)) for obj in manifest.objects]


def integrity_of_backup(client: Any, bucket: str, target: str, backup: Backup) -> list[Finding]:
    return stored_integrity_of(client, bucket, target, catalog.read_manifest(client, bucket, backup))


def verified(client: Any, bucket: str, backup: Backup) -> bool:
    """For backup.redundancy: the backup's objects are there as uploaded (HEAD: size and ETag); one
    in Glacier, whose manifest cannot be read, counts by its listing."""
    if backup.archived:
        return backup.good
    manifest = catalog.read_manifest(client, bucket, backup)
    return all(f.severity.label == "ok" for f in stored_integrity_of(client, bucket, backup.target, manifest))


def encryption_of(client: Any, cfg: BackupsConfig, target: str, backup: Backup) -> Finding:
    data = backup.files.get(keys.DUMP) or backup.files.get(keys.BASE_TAR)
    if data is None:  # backup.integrity reports the missing object
        return unknown(encryption.CHECK, target, f"{backup.prefix}: no data object to inspect")
    head = client.head_object(Bucket=cfg.bucket, Key=data.key)
    return encryption.encryption(target, backup.kind, data.key, head, cfg.server_side_encryption)


def reread_state_key(prefix: str, target: str) -> str:
    return f"{prefix.strip('/')}/reread/{target}.json"


def rotation(backups: list[Backup], last: dict[str, str]) -> list[Backup]:
    """Backups to re-read, least recently verified first (never re-read: oldest backup first).

    >>> a, b, c = (Backup("full", "m", s, f"p/{s}/") for s in ("1", "2", "3"))
    >>> [x.stamp for x in rotation([a, b, c], {"p/1/": "2026-01-02", "p/3/": "2026-01-01"})]
    ['2', '3', '1']
    """
    return sorted(backups, key=lambda b: (last.get(b.prefix, ""), b.stamp))


def read_deadline_s(size: int, mb_per_s: float) -> float:
    """
    >>> read_deadline_s(200 * 2**30, 50)  # 200 GB at 50 MB/s: 68 min, twice over, plus a minute
    8252.0
    """
    return round(2 * size / 2**20 / mb_per_s + 60, 1)
