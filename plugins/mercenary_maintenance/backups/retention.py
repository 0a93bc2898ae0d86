"""Retention enforcement: delete expired backups, dry-run unless ``backups.delete_expired``.

The bucket's lifecycle rules expire objects too; this pass exists so expiry is visible in
the report, works on S3-compatible stores without lifecycle support, and keeps two
guarantees lifecycle rules cannot give: the newest good full backups (at least
``backups.min_redundancy`` of them, one per logical date) are never deleted, and an
incremental chain is deleted only as a whole (never a base that a kept increment needs).
Superseded attempts (an older good attempt of a date that has a newer one, left when an
attempt died right after its manifest) are deleted whatever their age. Every deletion
removes manifests before the objects they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.backups import catalog, keys
from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC

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


def plan_full(backups: list[Backup], days: int, now: datetime, keep: int = 1) -> ExpiryPlan:
    """Expired full backups, except the ``keep`` newest good ones whatever their age
    (``backups.min_redundancy``: retention never takes the bucket below it); superseded attempts."""
    plan = ExpiryPlan()
    stale = {id(b) for b in catalog.superseded(backups)}
    kept = catalog.current(backups)[-max(keep, 1):]
    newest = kept[-1] if kept else None
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
            plan.protected.append(f"{backup.prefix} (one of the {keep} newest good full backups kept for "
                                  "backups.min_redundancy)")
            continue
        plan.delete.append(backup)
    return plan


def plan_incremental(backups: list[Backup], chains: dict[str, str], days: int, now: datetime) -> ExpiryPlan:
    """Whole chains whose every member expired; ``chains`` maps backup stamp -> chain id."""
    plan = ExpiryPlan()
    members: dict[str, list[Backup]] = {}
    for backup in backups:
        members.setdefault(chains.get(backup.stamp, backup.stamp), []).append(backup)
    newest_chain = chains.get(backups[-1].stamp, backups[-1].stamp) if backups else None
    for chain, items in members.items():
        if not all(expired(b, days, now) for b in items):
            continue
        if chain == newest_chain:
            plan.protected.append(f"chain {chain} (newest)")
            continue
        plan.delete.extend(items)
    return plan


def chains_of(client: Any, bucket: str, backups: list[Backup]) -> dict[str, str]:
    out = {}
    for backup in backups:
        if backup.good:
            manifest = catalog.read_manifest(client, bucket, backup)
            out[backup.stamp] = manifest.chain or backup.stamp
    return out


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


def expire(step: Step, target: str, now: datetime | None = None) -> None:
    """backup.expire: delete expired backups of one target, both kinds (dry-run unless
    backups.delete_expired)."""
    from mercenary_maintenance.backups.pgconn import s3_client

    cfg = step.cfg.backups
    moment = now or datetime.now(UTC)
    with step.action(ACTION, target, why="retention (plan: full 30 days, incremental 7 days)",
                     delete_expired=cfg.delete_expired) as act:
        client = s3_client(cfg.conn_id)
        fulls = catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.FULL, target)
        incs = catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.INCREMENTAL, target)
        full_plan = plan_full(fulls, cfg.full.retention_days, moment, keep=cfg.min_redundancy)
        inc_plan = plan_incremental(incs, chains_of(client, cfg.bucket, incs), cfg.incremental.retention_days, moment)
        doomed = full_plan.keys + inc_plan.keys
        doomed_dirs = [b.prefix for b in full_plan.delete + inc_plan.delete]
        details: dict[str, Any] = {"backups": doomed_dirs, "objects": len(doomed),
                   "bytes": full_plan.bytes + inc_plan.bytes, "protected": full_plan.protected + inc_plan.protected}
        if not doomed:
            act.done("nothing expired", **details)
        elif not cfg.delete_expired:
            message = (f"would delete {len(doomed_dirs)} expired backup(s), {details['bytes']} bytes "
                       "(set backups.delete_expired: true to delete)")
            act.dry_run(message, **details)
        else:
            delete(client, cfg.bucket, doomed)
            act.done(f"deleted {len(doomed_dirs)} expired backup(s), {details['bytes']} bytes", **details)
