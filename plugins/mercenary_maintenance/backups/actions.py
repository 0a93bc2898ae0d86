"""Backup actions shared by the scheduled DAGs and the emergency DAG (interfaces.md).

``backup_full`` takes the daily logical backup of one target; ``restore_test`` restores
the latest good full backup into a scratch database (on a scratch server by default) and
records the verdict. Whatever touches the target server takes the target's maintenance
lock (``pg.lock.target_lock``) so it never overlaps with VACUUM/REINDEX or another
backup on one database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mercenary_maintenance.backups import catalog, encryption, keys
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.runner import mask
from mercenary_maintenance.steps import Step

FULL = "backup.full"
RESTORE = "backup.restore_test"


def lock_wait_s(step: Step) -> float:
    return min(step.cfg.backups.lock_wait_seconds, step.statement_timeout_s())


@contextmanager
def locked(step: Step, pg: Any) -> Iterator[None]:
    """Hold the target's maintenance lock on a session of its own."""
    from mercenary_maintenance.pg.lock import target_lock

    with pg.connect() as lock_conn, target_lock(lock_conn, lock_wait_s(step)):
        yield


def backup_full(step: Step, target: str, dry_run: bool = False, force: bool | None = None) -> None:
    """backup.full: pg_dump → zstd → S3 multipart, manifest last.

    Per logical date (stamp) one good backup: each attempt writes its own directory, a date that
    already has a good, verifying backup is a no-op, and older attempts of the date are deleted
    only after the new manifest is stored (:mod:`.attempts`). ``force`` (default: the run's
    ``force_new_backup`` param) takes a new backup of the date even when one verifies.
    """
    from mercenary_maintenance.backups import attempts, source
    from mercenary_maintenance.backups.dump import DumpRequest, dump_to_s3
    from mercenary_maintenance.backups.pgconn import params, s3_client
    from mercenary_maintenance.backups.stream import MB

    cfg = step.cfg.backups
    tcfg = step.cfg.postgres_target(target)
    stamp = keys.stamp(step.run.logical_date, step.run.run_id)
    date_dir = keys.backup_dir(cfg.prefix, keys.FULL, target, stamp)
    force = bool(step.run.params.get("force_new_backup")) if force is None else force
    with step.action(FULL, target, why="daily full backup (plan: Backup Procedures)",
                     key=f"s3://{cfg.bucket}/{date_dir}") as act:
        if dry_run:
            message = f"would dump {target} to s3://{cfg.bucket}/{date_dir}<attempt>/{keys.DUMP}"
            act.dry_run(message)
            return
        client = s3_client(cfg.conn_id)
        pg = params(tcfg.conn_id)
        with pg.connect() as conn:
            me = source.of(conn)
        listing = attempts.stamp_backups(client, cfg.bucket, cfg.prefix, keys.FULL, target, stamp)
        if len(source.own(listing, me)) != len(listing):
            step.add(source.others(target, f"s3://{cfg.bucket}/{date_dir}", listing, me))
        done = None if force else attempts.completed(client, cfg.bucket, source.own(listing, me))
        if done is not None:
            m = done.manifest
            act.done(f"no-op: {done.backup.prefix} is already a good full backup of {target} for this logical date "
                     f"(its objects match its manifest); nothing dumped", noop=True, key=m.key, size=m.size,
                     sha256=m.sha256, finished_at=m.finished_at)
            return
        directory = keys.backup_dir(cfg.prefix, keys.FULL, target, stamp, keys.attempt_id(step.run.try_number, me.tag))
        req = DumpRequest(target=target, kind=keys.FULL, method="pg_dump", bucket=cfg.bucket, directory=directory,
                          source=me, count_max_bytes=cfg.full.count_max_table_mb * MB,
                          level=cfg.full.zstd_level, part_size=cfg.part_size_mb * MB, bin_dir=cfg.bin_dir,
                          statement_timeout_s=step.statement_timeout_s(),
                          lock_timeout_s=step.cfg.postgres.lock_timeout_seconds,
                          extra_args=encryption.upload_args(cfg), uploads_prefix=date_dir)
        with locked(step, pg):
            manifest = dump_to_s3(pg, client, req)
            replaced = attempts.retire_others(client, cfg.bucket, cfg.prefix, manifest, directory)
        d = manifest.details
        act.done(f"full backup of {target}: {d['raw_size'] / MB:.1f} MB dumped, {manifest.size / MB:.1f} MB stored "
                 f"in {d['seconds']:.1f} s ({d['mb_per_s']} MB/s)"
                 + (f"; replaced {len(replaced)} earlier attempt(s) of this date" if replaced else ""),
                 key=manifest.key, size=manifest.size, sha256=manifest.sha256, tables=len(manifest.row_counts),
                 server_version=manifest.server_version, seconds=d["seconds"], replaced=replaced)


def restore_test(step: Step, target: str, dry_run: bool = False) -> None:
    """backup.restore_test: the latest good full backup → a scratch database, row counts vs manifest

    (on a scratch server unless ``backups.restore_on: target_server``, see :mod:`.destination`)."""
    from mercenary_maintenance.backups import destination, restore
    from mercenary_maintenance.backups.pgconn import s3_client
    from mercenary_maintenance.pg.session import millis

    cfg = step.cfg.backups
    scratch = restore.scratch_name(target, step.run.run_id, step.run.try_number)
    with step.action(RESTORE, target, why="restore verification (plan: test restore procedure)",
                     scratch_database=scratch, restore_on=cfg.restore_on) as act:
        client = s3_client(cfg.conn_id)
        latest = catalog.latest_good(catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.FULL, target))
        if latest is None:
            step.add(Finding(RESTORE, target, Severity.CRITICAL, "no good full backup to restore"))
            act.failed("no good full backup to restore")
            return
        if latest.archived:
            act.failed(f"latest full backup {latest.prefix} is in Glacier; restore it to STANDARD first")
            return
        manifest = catalog.read_manifest(client, cfg.bucket, latest)
        if dry_run:
            message = f"would restore {manifest.key} into scratch database {scratch} on the {cfg.restore_on}"
            act.dry_run(message)
            return
        try:
            with destination.opened(step, target, manifest) as dest:
                where = dict(dest.details)
                result = restore.restore_and_verify(
                    dest.pg, client, cfg.bucket, manifest, scratch_db=scratch,
                    mark=restore.marker(target, step.run.run_id), server_major=dest.server_major,
                    bin_dir=cfg.bin_dir, statement_timeout_ms=millis(step.statement_timeout_s()))
        except destination.RestoreRefused as exc:
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore test refused: {exc}",
                             details={"key": manifest.key, "restore_on": cfg.restore_on,
                                      "estimated_bytes": destination.estimated_bytes(manifest),
                                      "restore_max_bytes": cfg.restore_max_bytes}))
            act.failed(f"refused: {exc}", estimated_bytes=destination.estimated_bytes(manifest),
                       restore_max_bytes=cfg.restore_max_bytes)
            return
        except Exception as exc:
            reason = f"{type(exc).__name__}: {mask(str(exc)).strip()[:300]}"
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore of {manifest.key} failed: {reason}",
                             details={"key": manifest.key, "restore_on": cfg.restore_on}))
            raise
        details = {"key": manifest.key, "backup_finished_at": manifest.finished_at, "scratch_database": scratch,
                   "restore_s": round(result.restore_s, 3), "verify_s": round(result.verify_s, 3),
                   "tables": len(result.row_counts), "rows": sum(result.row_counts.values()),
                   "count_diff": result.count_diff, "invalid_indexes": result.invalid_indexes,
                   "samples": result.samples, **where}
        if result.ok:
            step.add(Finding(RESTORE, target, Severity.OK,
                             f"restored {manifest.key} ({len(result.row_counts)} tables, "
                             f"{details['rows']} rows) in {result.restore_s:.1f} s; row counts match the manifest",
                             value=round(result.restore_s, 3), details=details))
            act.done(f"restore test of {target} passed in {result.restore_s + result.verify_s:.1f} s", **details)
        else:
            message = "; ".join(result.problems)
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore test failed: {message}", details=details))
            act.failed(message, **details)
