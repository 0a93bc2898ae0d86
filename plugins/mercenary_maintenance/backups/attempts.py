"""One good backup per logical date, never overwritten: the attempt protocol (pgBackRest-style).

1. Before a new attempt: when the date (stamp) already has a good attempt whose objects
   verify (present, size and sha256 as its manifest says), re-running is a no-op.
2. A new attempt writes under its own directory (:func:`keys.attempt_id`): data objects
   first, the manifest — naming them — last.
3. Once that manifest is stored and its objects are confirmed present, every other attempt
   of the date *from the same source* (:mod:`.source`) is deleted, each manifest before its objects.

So from the moment a date has a good backup it always has at least one: until step 3 the
older attempt is untouched, and step 3 starts only after the newer one is complete. A failure
before step 3 (no manifest yet) leaves the older backup as it was; its orphans are removed by
the next successful attempt of the date. An attempt that died during step 3 leaves two good
attempts: the older is *superseded* (:func:`catalog.superseded`) and removed by retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.backups import catalog, keys, verify
from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.manifest import Manifest
from mercenary_maintenance.backups.source import tag_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    backup: Backup
    manifest: Manifest


def stamp_backups(client: Any, bucket: str, prefix: str, kind: str, target: str, stamp: str) -> list[Backup]:
    """Every attempt of one date, oldest first (one listing of the date's directory)."""
    directory = keys.backup_dir(prefix, kind, target, stamp)
    return catalog.group(prefix, list(catalog.list_objects(client, bucket, directory)))


def mismatches(client: Any, bucket: str, manifest: Manifest, archived: bool = False) -> list[str]:
    """What does not match the manifest (empty: every object it names is there and matches).

    Objects in Glacier cannot be read: for them presence and size are checked (HEAD)."""

    problems = []
    for obj in manifest.objects:
        if archived:
            size = _head_size(client, bucket, obj.key)
            sha = obj.sha256 if size is not None else None
        else:
            size, sha = verify.read_object(client, bucket, obj.key)
        finding = verify.integrity(manifest.target, manifest.kind, obj, size, sha)
        if finding.severity.label != "ok":
            problems.append(finding.message)
    return problems


def completed(client: Any, bucket: str, backups: list[Backup]) -> Completed | None:
    """The newest good attempt among ``backups`` (one date's) whose objects verify, if any."""
    for backup in reversed([b for b in backups if b.good]):
        manifest = catalog.read_manifest(client, bucket, backup)
        problems = mismatches(client, bucket, manifest, archived=backup.archived)
        if not problems:
            return Completed(backup, manifest)
        log.warning("%s does not verify, a new attempt will replace it: %s", backup.prefix, "; ".join(problems))
    return None


def _head_size(client: Any, bucket: str, key: str) -> int | None:
    from botocore.exceptions import ClientError

    try:
        return int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def confirm_stored(client: Any, bucket: str, manifest: Manifest) -> None:
    """Every object the new manifest names is present with its size (else nothing older is deleted)."""
    for obj in manifest.objects:
        size = _head_size(client, bucket, obj.key)
        if size != obj.size:
            raise RuntimeError(f"{obj.key}: {'missing' if size is None else f'size {size}'} right after the "
                               f"backup (manifest says {obj.size}); older backups of this date are kept")


def retire_others(client: Any, bucket: str, prefix: str, manifest: Manifest, directory: str) -> list[str]:
    """Step 3: after ``manifest`` (stored in ``directory``) is confirmed, delete every other attempt
    of its date, manifest first. Returns the deleted attempt directories."""
    confirm_stored(client, bucket, manifest)
    parts = keys.parse(prefix, directory + keys.MANIFEST)
    assert parts is not None, directory

    # only this source's attempts: a date of another cluster/database (backups.source) is not ours
    others = [b for b in stamp_backups(client, bucket, prefix, parts.kind, parts.target, parts.stamp)
              if b.prefix != directory and tag_of(b) == (manifest.source or "")]
    for backup in sorted(others, key=lambda b: not b.good):  # good (superseded) ones first
        catalog.delete_backup(client, bucket, backup)
        log.info("deleted %s attempt %s of %s (superseded by %s)", "good" if backup.good else "failed",
                 backup.prefix, parts.stamp, directory)
    return [b.prefix for b in others]
