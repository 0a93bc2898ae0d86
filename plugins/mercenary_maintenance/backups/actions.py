"""Backup actions shared by the scheduled DAGs and the emergency DAG (docs/architecture.md).

``backup_full`` takes the daily logical backup of one target; ``restore_test`` restores
the latest good full backup into a scratch database (on a scratch server by default) and
records the verdict. Whatever touches the target server takes the target's maintenance
lock (``pg.lock.target_lock``) so it never overlaps with VACUUM/REINDEX or another
backup on one database.
"""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.backups import catalog, encryption, keys
from mercenary_maintenance.backups.lock import locked
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.runner import mask
from mercenary_maintenance.steps import Step

FULL_ACTION = "backup.full"
RESTORE = "backup.restore_test"


# What a hot standby may be the source of, per method (issue 27). pg_dump: yes — its exported snapshot
# is consistent on a standby (a recovery conflict may cancel it: said in the action). pg_basebackup
# --incremental: no — a standby's WAL summaries may cover WAL it has not replayed (pgsql-hackers,
# 2026-11, "Summarize only replayed WAL on a standby"), so the chain is taken from the primary only.
STANDBY_ALLOWED = {"pg_dump": True, "pg_basebackup --incremental": False}


def source_role(pg: Any) -> dict[str, Any]:
    """Whether the backup's source is a standby, its primary and the conflict risk (empty: a primary)."""
    from mercenary_maintenance.backups.dump import server_info
    from mercenary_maintenance.pg.role import conflict_risk, primary_from, recovery

    with pg.connect() as conn:
        row = recovery(conn, server_info(conn)[1])
    if not row.get("in_recovery"):
        return {}
    return {"standby": True, "primary": primary_from(row), "conflict_risk": conflict_risk(row)}


def standby_note(role: dict[str, Any], method: str) -> str:
    """The action's words on a standby source ('' for a primary).

    >>> standby_note({"standby": True, "primary": "db1:5432", "conflict_risk": None}, "pg_dump")
    '; taken from a standby (primary db1:5432): pg_dump is supported there'
    >>> standby_note({}, "pg_dump")
    ''
    """
    if not role:
        return ""
    risk = f"; {role['conflict_risk']} (set hot_standby_feedback = on)" if role.get("conflict_risk") else ""
    allowed = "supported there" if STANDBY_ALLOWED.get(method, False) else "NOT taken from a standby"
    return f"; taken from a standby (primary {role.get('primary') or 'unknown'}): {method} is {allowed}{risk}"


def backup_full(step: Step, target: str, dry_run: bool = False, force: bool | None = None) -> None:
    """backup.full: pg_dump → zstd → S3 multipart, manifest last.

    Per logical date (stamp) one good backup: each attempt writes its own directory, a date that
    already has a good, verifying backup is a no-op, and older attempts of the date are deleted
    only after the new manifest is stored (:mod:`.attempts`). ``force`` (default: the run's
    ``force_new_backup`` param) takes a new backup of the date even when one verifies.
    """
    from mercenary_maintenance.backups import attempts, source
    from mercenary_maintenance.backups.dump import DumpRequest, dump_to_s3
    from mercenary_maintenance.backups.stream import MB

    cfg = step.cfg.backups
    tcfg = step.cfg.postgres_target(target)
    stamp = keys.stamp(step.run.logical_date, step.run.run_id)
    date_dir = keys.backup_dir(cfg.prefix, keys.FULL, target, stamp)
    force = bool(step.run.params.get("force_new_backup")) if force is None else force
    with step.action(FULL_ACTION, target, why="daily full backup (plan: Backup Procedures)",
                     key=f"s3://{cfg.bucket}/{date_dir}") as act:
        if dry_run:
            message = f"would dump {target} to s3://{cfg.bucket}/{date_dir}<attempt>/{keys.DUMP}"
            act.dry_run(message)
            return
        client = step.clients.s3(cfg.conn_id)
        pg = step.clients.pg_params(tcfg.conn_id)
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
        role = source_role(pg)
        if role:
            act.details["source"] = role
        with locked(step, pg):
            manifest = dump_to_s3(pg, client, req)
            replaced = attempts.retire_others(client, cfg.bucket, cfg.prefix, manifest, directory)
        d = manifest.details
        act.done(f"full backup of {target}: {d['raw_size'] / MB:.1f} MB dumped, {manifest.size / MB:.1f} MB stored "
                 f"in {d['seconds']:.1f} s ({d['mb_per_s']} MB/s)"
                 + (f"; replaced {len(replaced)} earlier attempt(s) of this date" if replaced else "")
                 + standby_note(role, "pg_dump"),
                 key=manifest.key, size=manifest.size, sha256=manifest.sha256, tables=len(manifest.row_counts),
                 server_version=manifest.server_version, seconds=d["seconds"], replaced=replaced)


def restore_test(step: Step, target: str, dry_run: bool = False) -> None:
    """backup.restore_test: the latest good full backup → a scratch database, row counts vs manifest

    (on a scratch server unless ``backups.restore_on: target_server``, see :mod:`.destination`)."""
    from mercenary_maintenance.backups import destination, restore, source
    from mercenary_maintenance.pg.session import millis

    cfg = step.cfg.backups
    scratch = restore.scratch_name(target, step.run.run_id, step.run.try_number)
    with step.action(RESTORE, target, why="restore verification (plan: test restore procedure)",
                     scratch_database=scratch, restore_on=cfg.restore_on) as act:
        client = step.clients.s3(cfg.conn_id)
        listed = catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.FULL, target)
        me, why = source.identify(step.cfg.postgres_target(target).conn_id, step.cfg.timeouts)
        mine = source.readable(listed, me)
        if mine is None:
            step.add(Finding(RESTORE, target, Severity.UNKNOWN, source.ambiguous(listed, why),
                             details=source.describe(me, why)))
            act.failed(source.ambiguous(listed, why))
            return
        latest = catalog.latest_good(mine)
        if latest is None:
            what = "no good full backup of this source to restore" if listed else "no good full backup to restore"
            step.add(Finding(RESTORE, target, Severity.CRITICAL, what, details=source.describe(me, why)))
            act.failed(what)
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
                    bin_dir=cfg.bin_dir, statement_timeout_ms=millis(step.statement_timeout_s()),
                    scratch_dir=dest.scratch_dir, jobs=dest.jobs)
        except destination.RestoreRefused as exc:
            sizes = {"key": manifest.key, "restore_on": cfg.restore_on, **exc.sizes}
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore test refused: {exc}", details=sizes))
            act.failed(f"refused: {exc}", **sizes)
            return
        except Exception as exc:
            reason = f"{type(exc).__name__}: {mask(str(exc)).strip()[:300]}"
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore of {manifest.key} failed: {reason}",
                             details={"key": manifest.key, "restore_on": cfg.restore_on}))
            raise
        rto_s = cfg.rto_minutes * 60
        details = {"key": manifest.key, "backup_finished_at": manifest.finished_at, "scratch_database": scratch,
                   "restore_s": round(result.restore_s, 3), "verify_s": round(result.verify_s, 3),
                   "restore_seconds": result.restore_seconds, "phases": result.phases, "jobs": result.jobs,
                   "rto_seconds": rto_s, "tables": len(result.row_counts), "rows": sum(result.row_counts.values()),
                   "count_diff": result.count_diff, "invalid_indexes": result.invalid_indexes,
                   "samples": result.samples, "amcheck": result.amcheck, "globals": result.globals,
                   **source.describe(me, why), **where}
        took = f"restore_seconds {result.restore_seconds:.1f} s ({_phases(result.phases)})"
        if result.ok:
            amchecked = "amcheck clean" if "corrupt_relations" in result.amcheck else ""
            proven = "; ".join(p for p in ("row counts match the manifest", ", ".join(
                p for p in (amchecked, "roles and grants match" if dest.scratch_dir else "") if p)) if p)
            slow = result.restore_seconds > rto_s
            unproven = "".join(f"; {w}" for w in result.warnings)
            step.add(Finding(RESTORE, target, Severity.WARNING if slow or result.warnings else Severity.OK,
                             f"restored {manifest.key} ({len(result.row_counts)} tables, {details['rows']} rows); "
                             f"{proven}; {took}"
                             + (f", over backups.rto_minutes {cfg.rto_minutes:g}" if slow else "") + unproven,
                             value=result.restore_seconds, threshold=rto_s, details=details))
            act.done(f"restore test of {target} passed; {took}", **details)
        else:
            message = "; ".join(result.problems)
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"restore test failed: {message}",
                             value=result.restore_seconds, details=details))
            act.failed(message, **details)


def _phases(phases: dict[str, float | None]) -> str:
    """
    >>> _phases({"globals": 0.2, "download": None, "restore": 3.0, "post_data": None, "verify": 1.25})
    'globals 0.2 s, restore 3.0 s (streamed: download and post-data included), verify 1.2 s'
    """
    streamed = phases.get("download", 0) is None
    parts = []
    for name, seconds in phases.items():
        if seconds is None:
            continue
        label = name.replace("_", "-")
        parts.append(f"{label} {seconds:.1f} s" + (" (streamed: download and post-data included)"
                                                   if streamed and name == "restore" else ""))
    return ", ".join(parts)
