"""User uploads (``backups.uploads``, docs/areas/backups.md): kept on their bucket, copied to the backup bucket.

On the uploads bucket, versioning and a rule expiring noncurrent versions after
``retention_days`` (90) are enforced (:func:`ensure_bucket`: written only when they differ; other
rules on the bucket are kept). Every ``copy_every_hours`` (a task of ``backup_incremental``) each
object version not yet copied is copied **server-side** to
``s3://<backups.bucket>/uploads/<uploads bucket>/<key>/@<version id>``; the source version is
read once to compute its sha256, which must equal the SHA-256 checksum S3 computes for the copy
(a copy that differs is deleted and reported). A deleted or overwritten upload is restorable
from there (:func:`restore_version`). The daily ``backup.uploads_copy`` says how old the oldest
version still waiting to be copied is; unset, both checks say ``not configured``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mercenary_maintenance import bucket_lifecycle
from mercenary_maintenance.backups import lifecycle
from mercenary_maintenance.bucket_lifecycle import current_rules
from mercenary_maintenance.config import UploadsConfig
from mercenary_maintenance.findings import Finding, Threshold, measured, not_configured
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step

COPY = "backup.uploads_copy"
VERSIONING = "backup.uploads_versioning"
RULE_ID = "mercenary-uploads-noncurrent"
ROOT = "uploads/"
STATE = "_last_copy.json"
MB = 2**20
SINGLE_COPY_MAX = 5 * 1024 * MB  # CopyObject's limit; larger versions go through a multipart copy


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    size: int
    last_modified: datetime


def copy_key(bucket: str, key: str, version_id: str) -> str:
    """
    >>> copy_key("user-files", "a/b.png", "3HL4kqtJ")
    'uploads/user-files/a/b.png/@3HL4kqtJ'
    """
    return f"{ROOT}{bucket}/{key}/@{version_id}"


def versions(client: Any, bucket: str, prefix: str) -> Iterator[Version]:
    """Every object version under ``prefix`` (delete markers are not data: skipped)."""
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for v in page.get("Versions", []):
            yield Version(v["Key"], str(v.get("VersionId") or "null"), int(v.get("Size", 0)), v["LastModified"])


def copied_keys(client: Any, backup_bucket: str, bucket: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=backup_bucket, Prefix=f"{ROOT}{bucket}/")
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def uncopied(client: Any, ucfg: UploadsConfig, backup_bucket: str) -> list[Version]:
    done = copied_keys(client, backup_bucket, ucfg.bucket)
    return [v for v in versions(client, ucfg.bucket, ucfg.prefix)
            if copy_key(ucfg.bucket, v.key, v.version_id) not in done]


# ----------------------------------------------------------------------------- the bucket's settings


def desired_rule(ucfg: UploadsConfig) -> dict[str, Any]:
    return {"ID": RULE_ID, "Filter": {"Prefix": ""}, "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": ucfg.retention_days}}


def ensure_bucket(client: Any, ucfg: UploadsConfig) -> list[str]:
    """Versioning on and the noncurrent-expiry rule in place (other rules kept); returns what changed."""

    changes = []
    if client.get_bucket_versioning(Bucket=ucfg.bucket).get("Status") != "Enabled":
        client.put_bucket_versioning(Bucket=ucfg.bucket, VersioningConfiguration={"Status": "Enabled"})
        changes.append("versioning enabled")
    rules = current_rules(client, ucfg.bucket)
    ours = [r for r in rules if r.get("ID") == RULE_ID]
    want = desired_rule(ucfg)
    if [(r.get("Status"), r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")) for r in ours] != [
            ("Enabled", ucfg.retention_days)]:
        kept = [r for r in rules if r.get("ID") != RULE_ID]
        client.put_bucket_lifecycle_configuration(Bucket=ucfg.bucket,
                                                  LifecycleConfiguration={"Rules": [*kept, want]})
        changes.append(f"noncurrent versions expire after {ucfg.retention_days} days")
    return changes


# ----------------------------------------------------------------------------- copying


def sha256_of(client: Any, bucket: str, key: str, version_id: str | None = None) -> str:
    extra = {"VersionId": version_id} if version_id and version_id != "null" else {}
    body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
    sha = hashlib.sha256()
    for chunk in iter(lambda: body.read(MB), b""):
        sha.update(chunk)
    return sha.hexdigest()


def copy_version(client: Any, ucfg: UploadsConfig, backup_bucket: str, v: Version,
                 extra_args: dict[str, str]) -> str:
    """Copy one version server-side and prove it (sha256 of the source == S3's checksum of the copy);
    returns the sha256. A copy that differs is deleted and raises."""
    source = {"Bucket": ucfg.bucket, "Key": v.key, **({"VersionId": v.version_id} if v.version_id != "null" else {})}
    dest = copy_key(ucfg.bucket, v.key, v.version_id)
    digest = sha256_of(client, ucfg.bucket, v.key, v.version_id)
    meta = {"sha256": digest, "source-key": quote(v.key)[:1024], "source-version-id": v.version_id,
            "source-last-modified": v.last_modified.isoformat()}
    if v.size <= SINGLE_COPY_MAX:
        out = client.copy_object(Bucket=backup_bucket, Key=dest, CopySource=source, MetadataDirective="REPLACE",
                                 Metadata=meta, ChecksumAlgorithm="SHA256", **extra_args)
        stored = (out.get("CopyObjectResult") or {}).get("ChecksumSHA256")
        got = base64.b64decode(stored).hex() if stored else sha256_of(client, backup_bucket, dest)
    else:
        client.copy(source, backup_bucket, dest, ExtraArgs={"Metadata": meta, "MetadataDirective": "REPLACE",
                                                             **extra_args})
        got = sha256_of(client, backup_bucket, dest)
    if got != digest:
        client.delete_object(Bucket=backup_bucket, Key=dest)
        raise RuntimeError(f"copy of {ucfg.bucket}/{v.key} ({v.version_id}) has sha256 {got}, the source {digest}")
    return digest


def restore_version(client: Any, ucfg: UploadsConfig, backup_bucket: str, key: str, version_id: str) -> str:
    """Put a copied version back on the uploads bucket as the key's newest version; returns the new version id."""
    out = client.copy_object(Bucket=ucfg.bucket, Key=key, CopySource={"Bucket": backup_bucket,
                                                                       "Key": copy_key(ucfg.bucket, key, version_id)})
    return str(out.get("VersionId") or "null")


def last_copy(client: Any, backup_bucket: str, bucket: str) -> datetime | None:
    from botocore.exceptions import ClientError

    try:
        raw = client.get_object(Bucket=backup_bucket, Key=f"{ROOT}{bucket}/{STATE}")["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return datetime.fromisoformat(json.loads(raw)["finished_at"])


# ----------------------------------------------------------------------------- daily checks


def uncopied_finding(bucket: str, waiting: list[Version], now: datetime, threshold: Threshold) -> Finding:
    """
    >>> from datetime import timedelta
    >>> now = datetime(2026, 1, 2, tzinfo=UTC)
    >>> v = Version("a", "1", 3, now - timedelta(hours=10))
    >>> f = uncopied_finding("up", [v], now, Threshold(8, 24))
    >>> f.severity.label, f.message
    ('warning', '1 upload version(s) of up not yet copied to the backup bucket; the oldest is 10.0 h old')
    >>> uncopied_finding("up", [], now, Threshold(8, 24)).message
    'every upload version of up is copied to the backup bucket'
    """
    if not waiting:
        return measured(COPY, bucket, 0.0, threshold, f"every upload version of {bucket} is copied to the backup "
                        "bucket", {"uncopied": 0})
    oldest = min(v.last_modified for v in waiting)
    age_h = (now - oldest).total_seconds() / 3600
    newest_h = (now - max(v.last_modified for v in waiting)).total_seconds() / 3600
    return measured(COPY, bucket, round(age_h, 2), threshold,
                    f"{len(waiting)} upload version(s) of {bucket} not yet copied to the backup bucket; the oldest "
                    f"is {age_h:.1f} h old", {"uncopied": len(waiting), "oldest_age_hours": round(age_h, 2),
                                              "newest_age_hours": round(newest_h, 2),
                                              "examples": [f"{v.key} ({v.version_id})" for v in waiting[:10]]})


def daily_checks(step: Step, client: Any) -> None:

    cfg = step.cfg.backups
    ucfg = cfg.uploads
    if ucfg is None:
        step.add(not_configured(VERSIONING, "uploads", "backups.uploads is unset (off)"))
        step.add(not_configured(COPY, "uploads", "backups.uploads is unset (off)"))
        return

    def versioning() -> Finding:
        status = client.get_bucket_versioning(Bucket=ucfg.bucket).get("Status")
        return lifecycle.uploads_check(ucfg.bucket, status, bucket_lifecycle.current_rules(client, ucfg.bucket),
                                       ucfg.retention_days)

    step.check(VERSIONING, ucfg.bucket, versioning)
    threshold = step.cfg.thresholds.uploads_uncopied_age_hours.as_threshold()
    step.check(COPY, ucfg.bucket, lambda: uncopied_finding(ucfg.bucket, uncopied(client, ucfg, cfg.bucket),
                                                           datetime.now(UTC), threshold))
