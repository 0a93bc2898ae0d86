"""What backups exist in the bucket: one listing, grouped by backup directory (one per attempt).

A backup is *good* when its ``manifest.json`` (written last) and its data object exist;
``backup.integrity`` then checks that the objects match the manifest. One logical date
(stamp) may briefly hold several attempts: the newest good one is *current*, older good
ones are *superseded* and deleted once it exists (:mod:`.attempts`). Only listing
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
    attempt: str = ""  # "" for backups written before per-attempt directories

    @property
    def good(self) -> bool:
        return keys.MANIFEST in self.files and (keys.DUMP in self.files or keys.BASE_TAR in self.files)

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
    backups: dict[tuple[str, str, str, str], Backup] = {}
    for obj in objects:
        parts = keys.parse(prefix, obj["Key"])
        if parts is None:
            continue
        ident = (parts.kind, parts.target, parts.stamp, parts.attempt)
        backup = backups.get(ident)
        if backup is None:
            directory = keys.backup_dir(prefix, parts.kind, parts.target, parts.stamp, parts.attempt)
            backup = backups[ident] = Backup(parts.kind, parts.target, parts.stamp, directory, attempt=parts.attempt)
        backup.files[parts.name] = StoredFile(obj["Key"], int(obj["Size"]), obj["LastModified"],
                                              obj.get("StorageClass") or "STANDARD")
    return sorted(backups.values(), key=lambda b: (b.finished_at, b.stamp))


def backups_of(client: Any, bucket: str, prefix: str, kind: str, target: str) -> list[Backup]:
    return group(prefix, list(list_objects(client, bucket, keys.target_prefix(prefix, kind, target))))


def latest_good(backups: list[Backup]) -> Backup | None:
    good = [b for b in backups if b.good]
    return good[-1] if good else None


def current(backups: list[Backup]) -> list[Backup]:
    """The newest good attempt of each stamp (one good backup per logical date), oldest first."""
    newest: dict[tuple[str, str], Backup] = {}
    for backup in backups:  # oldest first: later ones replace earlier ones
        if backup.good:
            newest[(backup.kind, backup.stamp)] = backup
    return sorted(newest.values(), key=lambda b: (b.finished_at, b.stamp))


def superseded(backups: list[Backup]) -> list[Backup]:
    """Good attempts of a stamp that has a newer good attempt: left by an attempt that wrote its
    manifest but died before deleting the older one; safe to delete (manifest first)."""
    keep = {id(b) for b in current(backups)}
    return [b for b in backups if b.good and id(b) not in keep]


def read_manifest(client: Any, bucket: str, backup: Backup) -> Manifest:
    body = client.get_object(Bucket=bucket, Key=backup.files[keys.MANIFEST].key)["Body"].read()
    return Manifest.from_json(body)


def delete_backup(client: Any, bucket: str, backup: Backup) -> list[str]:
    """Delete one attempt: its manifest first (it stops being a good backup before any object it
    names goes), then the rest. Returns the deleted keys."""
    names = sorted(backup.files, key=lambda n: n != keys.MANIFEST)
    for name in names:
        client.delete_object(Bucket=bucket, Key=backup.files[name].key)
    return [backup.files[n].key for n in names]


def put_manifest(client: Any, bucket: str, directory: str, manifest: Manifest,
                 extra_args: dict[str, str] | None = None) -> str:
    key = directory + keys.MANIFEST
    client.put_object(Bucket=bucket, Key=key, Body=manifest.to_json(), ContentType="application/json",
                      **(extra_args or {}))
    return key
