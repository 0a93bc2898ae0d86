"""What backups exist in the bucket: one listing, grouped by backup directory.

A backup is *good* when its ``manifest.json`` exists (written last). Only listing
metadata (size, time, storage class) is used to order and age backups, so objects that
moved to Glacier never need to be read for that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mercenary_maintenance.backups import keys
from mercenary_maintenance.backups.manifest import Manifest


@dataclass
class StoredFile:
    key: str
    size: int
    last_modified: datetime
    storage_class: str = "STANDARD"


@dataclass
class Backup:
    kind: str
    target: str
    stamp: str
    prefix: str  # the directory key, ending in '/'
    files: dict[str, StoredFile] = field(default_factory=dict)

    @property
    def good(self) -> bool:
        return keys.MANIFEST in self.files

    @property
    def finished_at(self) -> datetime:
        """Manifest time for good backups, else the newest object's time."""
        if self.good:
            return self.files[keys.MANIFEST].last_modified
        return max(f.last_modified for f in self.files.values())

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files.values())

    @property
    def data_size(self) -> int:
        """Bytes of the backup data itself (without the small manifests)."""
        return sum(f.size for n, f in self.files.items() if n not in (keys.MANIFEST, keys.PG_MANIFEST))

    @property
    def archived(self) -> bool:
        return any(f.storage_class in ("GLACIER", "DEEP_ARCHIVE") for f in self.files.values())


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Objects under ``prefix``; a bucket that does not exist holds no backups (the freshness
    check then says so as critical), any other S3 error is raised."""
    from botocore.exceptions import ClientError

    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise


def group(prefix: str, objects: list[dict[str, Any]]) -> list[Backup]:
    """Group listed objects by backup directory, oldest first."""
    backups: dict[tuple[str, str, str], Backup] = {}
    for obj in objects:
        parts = keys.parse(prefix, obj["Key"])
        if parts is None:
            continue
        ident = (parts.kind, parts.target, parts.stamp)
        backup = backups.get(ident)
        if backup is None:
            directory = keys.backup_dir(prefix, parts.kind, parts.target, parts.stamp)
            backup = backups[ident] = Backup(parts.kind, parts.target, parts.stamp, directory)
        backup.files[parts.name] = StoredFile(obj["Key"], int(obj["Size"]), obj["LastModified"],
                                              obj.get("StorageClass") or "STANDARD")
    return sorted(backups.values(), key=lambda b: (b.finished_at, b.stamp))


def backups_of(client: Any, bucket: str, prefix: str, kind: str, target: str) -> list[Backup]:
    return group(prefix, list(list_objects(client, bucket, keys.target_prefix(prefix, kind, target))))


def latest_good(backups: list[Backup]) -> Backup | None:
    good = [b for b in backups if b.good]
    return good[-1] if good else None


def read_manifest(client: Any, bucket: str, backup: Backup) -> Manifest:
    body = client.get_object(Bucket=bucket, Key=backup.files[keys.MANIFEST].key)["Body"].read()
    return Manifest.from_json(body)


def put_manifest(client: Any, bucket: str, directory: str, manifest: Manifest,
                 extra_args: dict[str, str] | None = None) -> str:
    key = directory + keys.MANIFEST
    client.put_object(Bucket=bucket, Key=key, Body=manifest.to_json(), ContentType="application/json",
                      **(extra_args or {}))
    return key
