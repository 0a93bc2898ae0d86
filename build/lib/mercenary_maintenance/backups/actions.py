"""Backup actions shared by the scheduled DAGs and the emergency DAG (interfaces.md).

``backup_full`` takes the daily logical backup of one target; ``restore_test`` restores
the latest good full backup into a scratch database and records the verdict. Both take
the target's maintenance lock (``postgres.lock.target_lock``) so they never overlap with
VACUUM/REINDEX or each other on one database.
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
    from mercenary_maintenance.postgres.lock import target_lock

    with pg.connect() as lock_conn, target_lock(lock_conn, lock_wait_s(step)):
        yield


@contextmanager
def scratch_session(step: Step, pg: Any, target: str) -> Iterator[tuple[int, list[str]]]:
    """Under the target's lock: the server's major version, after dropping leftover scratch databases
    of killed earlier attempts (we hold the lock, so nobody uses them)."""
    from mercenary_maintenance.backups import restore

    with locked(step, pg), pg.connect() as conn:
        server_major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        stale = restore.leftovers(conn, target)
        for name in stale:
            restore.drop_db(conn, name)
        yield server_major, stale


def backup_full(step: Step, target: str, dry_run: bool = False) -> None:
    """``backup.full``: pg_dump of ``target`` → zstd → S3 multipart, manifest last."""
    from mercenary_maintenance.backups.dump import DumpRequest, dump_to_s3
    from mercenary_maintenance.backups.pgconn import params, s3_client
    from mercenary_maintenance.backups.stream import MB

    cfg = step.cfg.backups
    tcfg = step.cfg.postgres_target(target)
    directory = keys.backup_dir(cfg.prefix, keys.FULL, target, keys.stamp(step.run.logical_date, step.run.run_id))
    with step.action(FULL, target, why="daily full backup (plan: Backup Procedures)",
                     key=f"s3://{cfg.bucket}/{directory}") as act:
        if dry_run:
            message = f"would dump {target} to s3://{cfg.bucket}/{directory}{keys.DUMP}"
            act.dry_run(message)
            return
        pg = params(tcfg.conn_id)
        client = s3_client(cfg.conn_id)
        req = DumpRequest(target=target, kind=keys.FULL, method="pg_dump", bucket=cfg.bucket, directory=directory,
                          level=cfg.full.zstd_level, part_size=cfg.part_size_mb * MB, bin_dir=cfg.bin_dir,
                          statement_timeout_s=step.statement_timeout_s(),
                          lock_timeout_s=step.cfg.postgres.lock_timeout_seconds,
                          extra_args=encryption.upload_args(cfg))
        with locked(step, pg):
            manifest = dump_to_s3(pg, client, req)
        d = manifest.details
        act.done(f"full backup of {target}: {d['raw_size'] / MB:.1f} MB dumped, {manifest.size / MB:.1f} MB stored "
                 f"in {d['seconds']:.1f} s ({d['mb_per_s']} MB/s)",
                 key=manifest.key, size=manifest.size, sha256=manifest.sha256, tables=len(manifest.row_counts),
                 server_version=manifest.server_version, seconds=d["seconds"])


def restore_test(step: Step, target: str, dry_run: bool = False) -> None:
    """``backup.restore_test``: restore the latest good full backup into a scratch database and verify it."""
    from mercenary_maintenance.backups import restore
    from mercenary_maintenance.backups.pgconn import params, s3_client
    from mercenary_maintenance.postgres.session import millis

    cfg = step.cfg.backups
    tcfg = step.cfg.postgres_target(target)
    scratch = restore.scratch_name(target, step.run.run_id, step.run.try_number)
    with step.action(RESTORE, target, why="restore verification (plan: test restore procedure)",
                     scratch_database=scratch) as act:
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
            message = f"would restore {manifest.key} into scratch database {scratch} on {target}"
            act.dry_run(message)
            return
        pg = params(tcfg.conn_id)
        with scratch_session(step, pg, target) as (server_major, stale):
            try:
                result = restore.restore_and_verify(
                    pg, client, cfg.bucket, manifest, scratch_db=scratch, server_major=server_major,
                    bin_dir=cfg.bin_dir, statement_timeout_ms=millis(step.statement_timeout_s()))
            except Exception as exc:
                reason = f"{type(exc).__name__}: {mask(str(exc)).strip()[:300]}"
                step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore of {manifest.key} failed: {reason}",
                                 details={"key": manifest.key}))
                raise
        details = {"key": manifest.key, "backup_finished_at": manifest.finished_at, "scratch_database": scratch,
                   "restore_s": round(result.restore_s, 3), "verify_s": round(result.verify_s, 3),
                   "tables": len(result.row_counts), "rows": sum(result.row_counts.values()),
                   "count_diff": result.count_diff, "invalid_indexes": result.invalid_indexes,
                   "samples": result.samples, "dropped_leftovers": stale}
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
