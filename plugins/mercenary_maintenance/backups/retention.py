"""Retention enforcement: delete expired backups, dry-run unless ``backups.delete_expired``.

This pass is the only thing that deletes backups: the bucket's lifecycle rules transition
and clean up abandoned uploads but never expire backup prefixes (S3 knows neither
``min_redundancy`` nor which increment needs which base). Its guarantees:

* the newest good full backups that still *verify* (objects present with the sizes their
  manifest names), at least ``backups.min_redundancy`` of them, one per logical date, are never
  deleted, nor the newest good full backup whatever its state;
* an incremental backup lives while it is inside the retention window, and so do its parent
  and every link down to its base; the newest *good* chain (complete from base to its newest
  good increment — not the newest attempt, which may have failed) is kept whatever its age;
* superseded attempts (an older good attempt of a date that has a newer one, left when an
  attempt died right after its manifest) are deleted whatever their age.

Every deletion removes manifests before the objects they name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.backups import attempts, catalog, keys
from mercenary_maintenance.backups.catalog import Backup

ACTION = "backup.expire"


@dataclass
class ExpiryPlan:
    delete: list[Backup] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [f.key for b in self.delete for f in b.files.values()]

    @property
    def bytes(self) -> int:
        return sum(b.size for b in self.delete)


def expired(backup: Backup, days: int, now: datetime) -> bool:
    return now - backup.finished_at > timedelta(days=days)


Verifies = Callable[[Backup], bool]


def plan_full(backups: list[Backup], days: int, now: datetime, keep: int = 1,
              verifies: Verifies | None = None) -> ExpiryPlan:
    """Expired full backups, except the ``keep`` newest good ones that verify, whatever their age
    (``backups.min_redundancy``: retention never takes the bucket below it), and the newest good one;
    superseded attempts. ``verifies`` is asked newest first, only until ``keep`` have verified."""
    plan = ExpiryPlan()
    stale = {id(b) for b in catalog.superseded(backups)}
    good = catalog.current(backups)
    newest = good[-1] if good else None
    kept: list[Backup] = []
    for backup in reversed(good):
        if len(kept) >= max(keep, 1):
            break
        if verifies is None or verifies(backup):
            kept.append(backup)
        else:
            plan.protected.append(f"{backup.prefix} does not verify: not counted for backups.min_redundancy")
    for backup in backups:
        if id(backup) in stale:
            plan.delete.append(backup)
            continue
        if not expired(backup, days, now):
            continue
        if backup is newest:
            plan.protected.append(f"{backup.prefix} (newest good full backup)")
            continue
        if any(backup is b for b in kept):
            plan.protected.append(f"{backup.prefix} (one of the {keep} newest verified full backups kept for "
                                  "backups.min_redundancy)")
            continue
        plan.delete.append(backup)
    return plan


def _links(stamp: str, parents: dict[str, str | None]) -> list[str] | None:
    """``stamp`` and its ancestors down to the base, or None when a link is missing (broken chain).

    >>> _links("c", {"a": None, "b": "a", "c": "b"})
    ['c', 'b', 'a']
    >>> _links("c", {"b": "a", "c": "b"}) is None
    True
    """
    out: list[str] = []
    current: str | None = stamp
    while current is not None:
        if current not in parents or current in out:
            return None
        out.append(current)
        current = parents[current]
    return out


def plan_incremental(backups: list[Backup], parents: dict[str, str | None], days: int, now: datetime) -> ExpiryPlan:
    """What to delete among one target's incremental backups; ``parents`` maps each good backup's stamp
    to its parent's stamp (None for a base or a logical snapshot).

    Kept: every good backup inside the window with all its links down to its base, and the newest
    good chain (the newest good backup whose links are all present) whatever its age. Deleted: good
    backups nothing kept needs that expired, superseded attempts, and expired failed attempts."""
    plan = ExpiryPlan()
    stale = {id(b) for b in catalog.superseded(backups)}
    good = [b for b in catalog.current(backups) if b.stamp in parents]
    needed: dict[str, str] = {}
    for backup in good:
        if not expired(backup, days, now):
            for link in _links(backup.stamp, parents) or [backup.stamp]:
                needed.setdefault(link, f"needed by {backup.stamp}, inside the {days}-day window")
    for backup in reversed(good):
        links = _links(backup.stamp, parents)
        if links is not None:
            for link in links:
                needed.setdefault(link, f"newest good chain (ending {backup.stamp})")
            break
    for backup in backups:
        if id(backup) in stale:
            plan.delete.append(backup)
        elif backup.good and backup.stamp in needed:
            if expired(backup, days, now):
                plan.protected.append(f"{backup.prefix} ({needed[backup.stamp]})")
        elif expired(backup, days, now):
            plan.delete.append(backup)
    return plan


def parents_of(client: Any, bucket: str, backups: list[Backup]) -> dict[str, str | None]:
    """Each current good backup's stamp → its parent's stamp (one manifest read each)."""
    return {b.stamp: catalog.read_manifest(client, bucket, b).parent for b in catalog.current(backups)}


def verifies(client: Any, bucket: str, backup: Backup) -> bool:
    """The backup's objects are present with the sizes its manifest names (HEAD requests; a backup in
    Glacier, whose manifest cannot be read, by its listing: manifest and data object present)."""

    if backup.archived:
        return backup.good
    return not attempts.mismatches(client, bucket, catalog.read_manifest(client, bucket, backup), archived=True)


def delete(client: Any, bucket: str, object_keys: list[str]) -> None:
    """Delete ``object_keys``, every manifest before any other object (a half-deleted backup never
    looks good)."""
    manifests = [k for k in object_keys if k.endswith("/" + keys.MANIFEST)]
    ordered = manifests + [k for k in object_keys if not k.endswith("/" + keys.MANIFEST)]
    for start in range(0, len(ordered), 1000):
        batch = [{"Key": k} for k in ordered[start:start + 1000]]
        resp = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if resp.get("Errors"):
            raise RuntimeError(f"could not delete {len(resp['Errors'])} object(s): {resp['Errors'][:3]}")
