"""Bodies of the backups tasks (the task declarations in :mod:`.tasks` are data; the emergency actions
``backup_full`` and ``restore_test`` are routed here by ``wiring/registry.py``).

Each body is a function of a ``Step`` (and a target); the work it calls stays in the area's modules:
:mod:`.dump` and :mod:`.incremental` take the backups, :mod:`.restore`, :mod:`.sample` and
:mod:`.destination` restore them, :mod:`.verify` and :mod:`.lifecycle` check them, :mod:`.retention`
expires them, :mod:`.uploads` copies the user uploads and :mod:`.config_files` the hosts' configuration
files. Whatever touches the target server takes the target's maintenance lock (:mod:`.lock`) so it
never overlaps with VACUUM/REINDEX or another backup on one database.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from mercenary_maintenance import bucket_lifecycle
from mercenary_maintenance.adapters import s3
from mercenary_maintenance.backups import (
    attempts,
    catalog,
    config_files,
    destination,
    encryption,
    incremental,
    keys,
    lifecycle,
    proof,
    restore,
    retention,
    sample,
    scratch,
    source,
    standby,
    uploads,
    verify,
)
from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.dump import DumpRequest, dump_to_s3, server_info
from mercenary_maintenance.backups.lock import locked
from mercenary_maintenance.backups.stream import MB
from mercenary_maintenance.bucket_lifecycle import RuleSource
from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.findings import Finding, Severity, not_configured
from mercenary_maintenance.pg.session import millis
from mercenary_maintenance.redact import mask
from mercenary_maintenance.skips import skipped_finding
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC

FULL_ACTION = "backup.full"
RESTORE = "backup.restore_test"


def ensure_lifecycle(step: Step, lifecycle_rules: Sequence[RuleSource]) -> None:
    """backup.lifecycle: the bucket's Glacier/clean-up rules equal the config (idempotent; no expiry).

    Its own task, on no backup's path: a role without lifecycle permissions, or a store that
    refuses a transition, costs a ``backup.retention`` warning, never a backup. The one lifecycle
    document holds every area's rules: ``lifecycle_rules`` are their sources
    (``registry.LIFECYCLE_RULES``, given by the task declaration)."""
    cfg = step.cfg.backups
    with step.action("backup.lifecycle", cfg.bucket, why="Glacier transition and upload clean-up rules") as act:
        try:
            client = step.clients.s3(cfg.conn_id)
            changes = bucket_lifecycle.ensure(client, step.cfg, lifecycle_rules)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {mask(str(exc)).strip()[:300]}"
            step.add(Finding(lifecycle.CHECK, cfg.bucket, Severity.WARNING,
                             f"could not write the bucket lifecycle ({reason}); backups are unaffected (retention "
                             "is backup.expire's), but Glacier transitions and the clean-up of abandoned uploads "
                             "are not in place", details={"error": type(exc).__name__, "reason": reason}))
            act.failed(f"lifecycle not written: {reason}")
            return
        if changes:
            act.done(f"lifecycle rules updated: {'; '.join(changes)}", changes=changes)
        else:
            act.skipped("lifecycle rules already match the config")


def backup_full(step: Step, target: str, dry_run: bool = False, force: bool | None = None) -> None:
    """backup.full: pg_dump → zstd → S3 multipart, manifest last.

    Per logical date (stamp) one good backup: each attempt writes its own directory, a date that
    already has a good, verifying backup is a no-op, and older attempts of the date are deleted
    only after the new manifest is stored (:mod:`.attempts`). ``force`` (default: the run's
    ``force_new_backup`` param) takes a new backup of the date even when one verifies.
    """
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
        role = standby.source_role(pg)
        if role:
            act.details["source"] = role
        with locked(step, pg):
            manifest = dump_to_s3(pg, client, req)
            replaced = attempts.retire_others(client, cfg.bucket, cfg.prefix, manifest, directory)
        d = manifest.details
        act.done(f"full backup of {target}: {d['raw_size'] / MB:.1f} MB dumped, {manifest.size / MB:.1f} MB stored "
                 f"in {d['seconds']:.1f} s ({d['mb_per_s']} MB/s)"
                 + (f"; replaced {len(replaced)} earlier attempt(s) of this date" if replaced else "")
                 + standby.standby_note(role, "pg_dump"),
                 key=manifest.key, size=manifest.size, sha256=manifest.sha256, tables=len(manifest.row_counts),
                 server_version=manifest.server_version, seconds=d["seconds"], replaced=replaced)


def expire(step: Step, target: str, now: datetime | None = None) -> None:
    """backup.expire: delete expired backups of one target, both kinds (dry-run unless
    backups.delete_expired)."""
    cfg = step.cfg.backups
    moment = now or datetime.now(UTC)
    with step.action(retention.ACTION, target, why="retention (plan: full 30 days, incremental 7 days)",
                     delete_expired=cfg.delete_expired) as act:
        client = step.clients.s3(cfg.conn_id)
        with step.clients.pg_params(step.cfg.postgres_target(target).conn_id).connect() as conn:
            me = source.of(conn)
        listed = {kind: catalog.backups_of(client, cfg.bucket, cfg.prefix, kind, target) for kind in keys.KINDS}
        where = f"s3://{cfg.bucket}/{cfg.prefix.strip('/')}/*/{target}/"
        step.add(source.others(target, where, listed[keys.FULL] + listed[keys.INCREMENTAL], me))
        fulls, incs = source.own(listed[keys.FULL], me), source.own(listed[keys.INCREMENTAL], me)
        full_plan = retention.plan_full(fulls, cfg.full.retention_days, moment, keep=cfg.min_redundancy,
                                        verifies=partial(retention.verifies, client, cfg.bucket))
        inc_plan = retention.plan_incremental(incs, retention.parents_of(client, cfg.bucket, incs),
                                              cfg.incremental.retention_days, moment)
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
            retention.delete(client, cfg.bucket, doomed)
            act.done(f"deleted {len(doomed_dirs)} expired backup(s), {details['bytes']} bytes", **details)


def backup_incremental(step: Step, target: str, dry_run: bool = False) -> None:
    """backup.incremental: pg_basebackup --incremental (17+) or an honest logical snapshot, for one target."""
    cfg = step.cfg.backups
    tcfg = step.cfg.postgres_target(target)
    stamp = keys.stamp(step.run.logical_date, step.run.run_id)
    date_dir = keys.backup_dir(cfg.prefix, keys.INCREMENTAL, target, stamp)
    with step.action(incremental.ACTION, target, why="4-hourly incremental backup (plan: Backup Procedures)",
                     key=f"s3://{cfg.bucket}/{date_dir}") as act:
        pg = step.clients.pg_params(tcfg.conn_id)
        with pg.connect() as conn:
            _, version_num, _ = server_info(conn)
            me = source.of(conn)
        directory = keys.backup_dir(cfg.prefix, keys.INCREMENTAL, target, stamp,
                                    keys.attempt_id(step.run.try_number, me.tag))
        major = version_num // 10000
        native = major >= incremental.NATIVE_MAJOR
        if dry_run:
            what = "pg_basebackup --incremental" if native else "a full logical snapshot (NOT incremental)"
            message = f"would take {what} of {target} into s3://{cfg.bucket}/{date_dir}<attempt>/"
            act.dry_run(message)
            return
        client = step.clients.s3(cfg.conn_id)
        # a date with a good backup is never taken again: a later increment may build on it
        same_date = source.own(
            attempts.stamp_backups(client, cfg.bucket, cfg.prefix, keys.INCREMENTAL, target, stamp), me)
        done = attempts.completed(client, cfg.bucket, same_date)
        if done is not None:
            act.done(f"no-op: {done.backup.prefix} is already a good backup of {target} for this logical date",
                     noop=True, key=done.manifest.key, method=done.manifest.method)
            return
        role = standby.source_role(pg)
        if native and role:
            note = standby.standby_note(role, "pg_basebackup --incremental")
            message = (f"{target} is a standby in recovery{note}: "
                       "take the incremental chain from its primary (point this target at it)")
            act.skipped(message, source=role)
            step.add(skipped_finding(incremental.ACTION, target, "standby", message, primary=role.get("primary")))
            return
        if native:
            manifest = incremental.physical_backup(step, target, pg, client, directory, stamp, me)
            attempts.retire_others(client, cfg.bucket, cfg.prefix, manifest, directory)
            kind = ("incremental" if manifest.method == incremental.PHYSICAL_INCREMENTAL
                    else "physical full (new chain)")
            act.done(f"{kind} backup of {target}: {manifest.size / MB:.1f} MB stored, chain {manifest.chain}",
                     method=manifest.method, chain=manifest.chain, parent=manifest.parent, key=manifest.key,
                     size=manifest.size, sha256=manifest.sha256)
            return
        req = DumpRequest(source=me, count_max_bytes=cfg.full.count_max_table_mb * MB,
                          target=target, kind=keys.INCREMENTAL, method=incremental.LOGICAL_SNAPSHOT,
                          bucket=cfg.bucket, directory=directory, level=cfg.full.zstd_level,
                          part_size=cfg.part_size_mb * MB, bin_dir=cfg.bin_dir,
                          statement_timeout_s=step.statement_timeout_s(),
                          lock_timeout_s=step.cfg.postgres.lock_timeout_seconds,
                          details={"method": incremental.LOGICAL_SNAPSHOT},
                          extra_args=encryption.upload_args(cfg), uploads_prefix=date_dir)
        with locked(step, pg):
            manifest = dump_to_s3(pg, client, req)
            attempts.retire_others(client, cfg.bucket, cfg.prefix, manifest, directory)
        act.done(f"NOT incremental: PostgreSQL {major} has no incremental backup (needs "
                 f"{incremental.NATIVE_MAJOR}+); took a full logical snapshot (pg_dump) instead, "
                 f"{manifest.size / MB:.1f} MB stored, kept "
                 f"{cfg.incremental.retention_days} days{standby.standby_note(role, 'pg_dump')}",
                 method=incremental.LOGICAL_SNAPSHOT, key=manifest.key, size=manifest.size, sha256=manifest.sha256)


def copy_uploads(step: Step, dry_run: bool = False) -> None:
    """backup.uploads_copy: enforce versioning + noncurrent expiry on the uploads bucket, then copy every
    new version server-side to the backup bucket (sha256 verified). Off when ``backups.uploads`` is unset."""
    cfg = step.cfg.backups
    ucfg = cfg.uploads
    if ucfg is None:
        with step.action(uploads.COPY, "uploads", why="user uploads copy (docs/areas/backups.md)") as act:
            act.skipped("not configured: backups.uploads is unset (off)", not_configured=True)
        return
    with step.action(uploads.COPY, ucfg.bucket, why="copy new upload versions to the backup bucket",
                     destination=f"s3://{cfg.bucket}/{uploads.ROOT}{ucfg.bucket}/") as act:
        client = step.clients.s3(cfg.conn_id)
        now = datetime.now(UTC)
        last = uploads.last_copy(client, cfg.bucket, ucfg.bucket)
        if last is not None and (now - last).total_seconds() < ucfg.copy_every_hours * 3600 * 0.9:
            act.skipped(f"last copy {last.isoformat()}: every {ucfg.copy_every_hours:g} h (backups.uploads)")
            return
        todo = uploads.uncopied(client, ucfg, cfg.bucket)
        if dry_run:
            act.dry_run(f"would copy {len(todo)} version(s) of {ucfg.bucket} to s3://{cfg.bucket}/{uploads.ROOT}")
            return
        try:  # a role that may not change the bucket's settings still copies; the daily check says so
            changes = uploads.ensure_bucket(client, ucfg)
        except Exception as exc:
            changes = [f"could not enforce versioning/expiry: {type(exc).__name__}: {str(exc)[:200]}"]
        copied, failed, total = 0, [], 0
        for v in todo:
            try:
                uploads.copy_version(client, ucfg, cfg.bucket, v, encryption.upload_args(cfg))
                copied, total = copied + 1, total + v.size
            except Exception as exc:
                failed.append(f"{v.key} ({v.version_id}): {type(exc).__name__}: {str(exc)[:200]}")
        client.put_object(Bucket=cfg.bucket, Key=f"{uploads.ROOT}{ucfg.bucket}/{uploads.STATE}",
                          **encryption.upload_args(cfg),
                          Body=json.dumps({"finished_at": now.isoformat(), "copied": copied}).encode())
        details = {"copied": copied, "bytes": total, "failed": failed[:20], "bucket_changes": changes}
        if failed:
            act.failed(f"{len(failed)} of {len(todo)} upload version(s) not copied: {failed[0]}", **details)
            return
        act.done(f"copied {copied} new upload version(s) ({total / uploads.MB:.1f} MB), sha256 verified"
                 + (f"; {'; '.join(changes)}" if changes else ""), **details)


def verify_backups(step: Step, target: str, now: datetime | None = None) -> None:
    """backup.freshness, backup.integrity (HEAD: size and upload-time ETag), backup.capacity, backup.redundancy
    for one target, over this source's backups only (:func:`.source.readable`)."""
    cfg = step.cfg.backups
    th = step.cfg.thresholds
    client = step.clients.s3(cfg.conn_id)
    moment = now or datetime.now(UTC)
    listing: dict[str, list[Backup]] = {}

    def fetch() -> None:
        for kind in keys.KINDS:
            listing[kind] = catalog.backups_of(client, cfg.bucket, cfg.prefix, kind, target)

    step.check(verify.FRESHNESS, target, fetch)
    if len(listing) != len(keys.KINDS):
        return
    everything = listing[keys.FULL] + listing[keys.INCREMENTAL]
    me, why = source.identify(step.cfg.postgres_target(target).conn_id, step.cfg.timeouts)
    mine = source.readable(everything, me)
    whose = source.describe(me, why)
    if mine is None:
        message = source.ambiguous(everything, why)
        for kind in keys.KINDS:
            step.add(Finding(verify.FRESHNESS, target, Severity.UNKNOWN, message, details={"kind": kind, **whose}))
        step.add(Finding(verify.REDUNDANCY, target, Severity.UNKNOWN, message, details=whose))
        return
    whose["other_sources_backups"] = len(everything) - len(mine)
    limits = {keys.FULL: th.backup_full_age_hours.as_threshold(),
              keys.INCREMENTAL: th.backup_incremental_age_hours.as_threshold()}
    for kind in keys.KINDS:
        latest = catalog.latest_good([b for b in mine if b.kind == kind])
        step.check(verify.FRESHNESS, target,
                   partial(verify.freshness, target, kind, latest, moment, limits[kind], whose))
        if latest is not None:
            step.check(verify.INTEGRITY, target,
                       partial(verify.integrity_of_backup, client, cfg.bucket, target, latest))
            step.check(encryption.CHECK, target, partial(verify.encryption_of, client, cfg, target, latest))
    step.check(verify.CAPACITY, target,
               lambda: verify.capacity(target, mine, th.backup_growth_percent.as_threshold()))
    step.check(verify.REDUNDANCY, target, lambda: verify.redundancy(target, mine, cfg.min_redundancy,
                                                                    partial(verify.verified, client, cfg.bucket),
                                                                    whose))


def check_retention(step: Step) -> None:
    """backup.retention (lifecycle vs config); the uploads checks are :func:`.uploads.daily_checks`."""
    cfg = step.cfg.backups
    client = step.clients.s3(cfg.conn_id)
    step.check(lifecycle.CHECK, cfg.bucket,
               lambda: lifecycle.check(cfg.bucket, cfg, bucket_lifecycle.current_rules(client, cfg.bucket)))


def check_uploads(step: Step) -> None:
    """backup.uploads_versioning and backup.uploads_copy: the uploads bucket keeps versions, and how old the
    oldest version not yet copied to the backup bucket is (both ``not configured`` when unset)."""
    cfg = step.cfg
    client = None if cfg.backups.uploads is None else s3.client(cfg.backups.conn_id, timeouts=cfg.timeouts)
    uploads.daily_checks(step, client)


def reread(step: Step, target: str) -> None:
    """backup.integrity by full re-read: sha256 of every byte of a few backups per day, rotating through
    all of them (least recently verified first), each under a deadline derived from its size."""
    from botocore.exceptions import ClientError

    cfg = step.cfg.backups
    client = step.clients.s3(cfg.conn_id)
    state_key = verify.reread_state_key(cfg.prefix, target)
    backups = [b for kind in keys.KINDS for b in catalog.current(
        catalog.backups_of(client, cfg.bucket, cfg.prefix, kind, target)) if not b.archived]
    if not backups:
        step.add(Finding(verify.INTEGRITY, target, Severity.OK,
                         "no readable backup to re-read (none, or all in Glacier)",
                         details={"how": "reread", "not_configured": False}))
        return
    try:
        last: dict[str, str] = json.loads(client.get_object(Bucket=cfg.bucket, Key=state_key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        last = {}
    ends = time.monotonic() + cfg.reread.budget_seconds
    for done, backup in enumerate(verify.rotation(backups, last)):
        allowed = verify.read_deadline_s(backup.data_size, cfg.reread.mb_per_s)
        if time.monotonic() + allowed > ends:
            if done == 0:
                step.add(Finding(verify.INTEGRITY, target, Severity.WARNING,
                                 f"{backup.prefix}: too big to re-read within backups.reread.budget_seconds "
                                 f"({cfg.reread.budget_seconds:.0f} s; it needs up to {allowed:.0f} s at "
                                 f"{cfg.reread.mb_per_s} MB/s): its objects are checked by HEAD only",
                                 details={"how": "reread", "backup": backup.prefix, "deadline_s": allowed}))
            break
        manifest = catalog.read_manifest(client, cfg.bucket, backup)
        deadline = time.monotonic() + allowed
        for obj in manifest.objects:
            try:
                finding = verify.integrity(target, manifest.kind, obj,
                                           *verify.read_object(client, cfg.bucket, obj.key, deadline))
            except verify.ReadTooSlow as exc:
                finding = Finding(verify.INTEGRITY, target, Severity.WARNING,
                                  f"{exc} ({allowed:.0f} s for {backup.data_size} bytes at {cfg.reread.mb_per_s} MB/s)",
                                  details={"key": obj.key, "deadline_s": allowed})
            finding.details.update(how="reread", backup=backup.prefix)
            step.add(finding)
        last[backup.prefix] = datetime.now(UTC).isoformat()
    client.put_object(Bucket=cfg.bucket, Key=state_key, Body=json.dumps(last, sort_keys=True).encode(),
                      ContentType="application/json", **encryption.upload_args(cfg))


def sample_restore(step: Step, target: str) -> None:
    """backup.sample_restore: schema + the smallest tables of the latest full backup, counts vs manifest
    (a check: findings only, no action)."""
    cfg = step.cfg.backups

    def check() -> Finding:
        k = cfg.sample_restore_tables
        if k == 0:
            return Finding(sample.SAMPLE_RESTORE, target, Severity.OK, "disabled (backups.sample_restore_tables = 0)")
        client = step.clients.s3(cfg.conn_id)
        listed = catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.FULL, target)
        me, why = source.identify(step.cfg.postgres_target(target).conn_id, step.cfg.timeouts)
        mine = source.readable(listed, me)
        if mine is None:
            return Finding(sample.SAMPLE_RESTORE, target, Severity.UNKNOWN, source.ambiguous(listed, why),
                           details=source.describe(me, why))
        latest = catalog.latest_good(mine)
        if latest is None:
            return Finding(sample.SAMPLE_RESTORE, target, Severity.CRITICAL,
                           "no full backup of this source to sample" if listed else "no full backup to sample",
                           details=source.describe(me, why))
        if latest.archived:
            return Finding(sample.SAMPLE_RESTORE, target, Severity.CRITICAL,
                           f"latest full backup {latest.prefix} is in Glacier; cannot sample it",
                           details={"backup": latest.prefix})
        manifest = catalog.read_manifest(client, cfg.bucket, latest)
        chosen = sample.choose_sample(manifest.row_counts, k)
        scratch_db = restore.scratch_name(target, step.run.run_id, step.run.try_number, "sample")
        details: dict[str, Any] = {"key": manifest.key, "backup_finished_at": manifest.finished_at,
                                   "scratch_database": scratch_db,
                                   "tables": {t: manifest.row_counts[t] for t in chosen},
                                   "restore_on": cfg.restore_on, **source.describe(me, why)}
        try:
            with destination.opened(step, target, manifest) as dest:
                details.update(dest.details)
                result = sample.restore_sample(dest.pg, client, cfg.bucket, manifest, chosen, scratch_db=scratch_db,
                                               mark=restore.marker(target, step.run.run_id),
                                               server_major=dest.server_major, bin_dir=cfg.bin_dir,
                                               statement_timeout_ms=millis(step.statement_timeout_s()),
                                               work_dir=cfg.scratch_dir)
        except destination.RestoreRefused as exc:
            return Finding(sample.SAMPLE_RESTORE, target, Severity.CRITICAL, f"sample restore refused: {exc}",
                           details={**details, "estimated_bytes": destination.estimated_bytes(manifest),
                                    "restore_max_bytes": cfg.restore_max_bytes})
        except Exception as exc:
            reason = f"{type(exc).__name__}: {mask(str(exc)).strip()[:300]}"
            return Finding(sample.SAMPLE_RESTORE, target, Severity.CRITICAL,
                           f"sample restore of {', '.join(chosen) or 'the schema'} from {manifest.key} "
                           f"failed: {reason}", details=details)
        details.update(list_s=round(result.list_s, 3), restore_s=round(result.restore_s, 3),
                       verify_s=round(result.verify_s, 3), restored=result.restored)
        return sample.verdict(target, manifest.key, result, details)

    step.check(sample.SAMPLE_RESTORE, target, check)


def backup_config(step: Step, host: str) -> None:
    """config.backup: the host's configuration files backed up on change — a new encrypted version in S3 (sha256
    verified) and a git commit when backups.config_files.git_url is set; the finding lists what changed."""
    cfg: MaintenanceConfig = step.cfg
    target = cfg.host_target(host)
    if not target.config_files:
        step.add(not_configured(config_files.CHECK, host, f"targets.hosts[{host}].config_files is empty: no "
                                "configuration file of this host is backed up"))
        return
    state: dict[str, Any] = {}

    def look() -> Finding:
        client = s3.client(cfg.backups.config_files.conn_id, timeouts=cfg.timeouts)
        contents = config_files.read_files(step.host(host), target.config_files)
        if not contents:
            raise FileNotFoundError(f"no file on {host} matches {target.config_files}")
        hashes = {p: hashlib.sha256(d).hexdigest() for p, d in contents.items()}
        _, before = config_files.last_manifest(client, cfg.backups.bucket,
                                               config_files.host_prefix(cfg.backups.config_files, host))
        previous = None if before is None else {p: f["sha256"] for p, f in before["files"].items()}
        changes = config_files.compare(previous, hashes)
        state.update(client=client, contents=contents, changes=changes, first=before is None)
        return config_files.changes_finding(host, changes, before is None, len(contents))

    step.check(config_files.CHECK, host, look)
    if "changes" not in state or not (state["first"] or state["changes"].any):
        return
    with step.action(config_files.CHECK, host, why="configuration files changed: store a new version") as act:
        config_files.store_changes(cfg, host, state, act)


def restore_test(step: Step, target: str, dry_run: bool = False) -> None:
    """backup.restore_test: the latest good full backup → a scratch database, row counts vs manifest

    (on a scratch server unless ``backups.restore_on: target_server``, see :mod:`.destination`)."""
    cfg = step.cfg.backups
    scratch_db = restore.scratch_name(target, step.run.run_id, step.run.try_number)
    with step.action(RESTORE, target, why="restore verification (plan: test restore procedure)",
                     scratch_database=scratch_db, restore_on=cfg.restore_on) as act:
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
            message = f"would restore {manifest.key} into scratch database {scratch_db} on the {cfg.restore_on}"
            act.dry_run(message)
            return
        try:
            with destination.opened(step, target, manifest) as dest:
                where = dict(dest.details)
                result = restore.restore_and_verify(
                    dest.pg, client, cfg.bucket, manifest, scratch_db=scratch_db,
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
        details = {"key": manifest.key, "backup_finished_at": manifest.finished_at, "scratch_database": scratch_db,
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


def restore_chain_test(step: Step, target: str, dry_run: bool = False) -> None:
    """backup.restore_test of the incremental chain (monthly, PG 17+): combine, pg_verifybackup, start a
    scratch server, prove it reached the backup's consistent point and holds the catalog of backup time."""
    cfg = step.cfg.backups
    with step.action(RESTORE, target, why="monthly restore test of the incremental chain") as act:
        client = step.clients.s3(cfg.conn_id)
        pg = step.clients.pg_params(step.cfg.postgres_target(target).conn_id)
        with pg.connect() as conn:
            me = source.of(conn)
        backups = source.own(catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.INCREMENTAL, target), me)
        members = incremental.good_chain_members(client, cfg.bucket, backups)  # reads each manifest once
        chain = incremental.chain_to_restore(members)
        if not chain:
            if members and all(m.method == incremental.LOGICAL_SNAPSHOT for _, m in members):
                act.skipped("no incremental chain: the server is below PostgreSQL 17 (logical snapshots only); "
                            "the full restore test covers them")
                return
            step.add(Finding(RESTORE, target, Severity.CRITICAL, "no complete incremental chain to restore",
                             details={"scope": "incremental_chain"}))
            act.failed("no complete incremental chain to restore")
            return
        manifests = [m for _, m in chain]
        if dry_run:
            message = f"would combine and start a chain of {len(manifests)} backup(s) ending {chain[-1][0].prefix}"
            act.dry_run(message)
            return
        major = int(manifests[-1].server_version.split(".")[0])
        base = {"scope": "incremental_chain", "chain": manifests[-1].chain, "backups": len(manifests),
                "latest": chain[-1][0].prefix}
        try:
            with scratch.workspace(cfg.scratch_dir, "chain") as tmp:  # its server never outlives the worker
                result = incremental.restore_chain(client, cfg.bucket, manifests, tmp, major, cfg.bin_dir, pg)
        except Exception as exc:  # a corrupt or missing link, pg_combinebackup/pg_verifybackup, a start that fails
            reason = f"{type(exc).__name__}: {mask(str(exc)).strip()[:300]}"
            step.add(Finding(RESTORE, target, Severity.CRITICAL, f"chain restore failed: {reason}", details=base))
            act.failed(f"chain restore failed: {reason}", **base)
            return
        problems = incremental.oracle_problems(result)
        corrupt = proof.amcheck_problem(result["amcheck"])
        if corrupt is not None:  # pg_amcheck on the started copy: heap and B-tree
            problems.append(corrupt)
        differ = incremental.roles_problem(result["globals"])
        if differ is not None:  # roles and grants (globals without passwords), as in the full restore test
            problems.append(differ)
        details = {**base, **result["times"], "consistent_point": result["consistent_point"],
                   "missing_relations": result["missing_relations"], "rows": sum(result["row_counts"].values()),
                   "relations": len(manifests[-1].details.get("relations") or []),
                   "oracle": manifests[-1].details.get("oracle"),
                   "amcheck": proof.amcheck_details(result["amcheck"]), "globals": result["globals"]}
        total = sum(result["times"].values())
        if problems:
            message = "chain restore: " + "; ".join(problems)
            step.add(Finding(RESTORE, target, Severity.CRITICAL, message, details=details))
            act.failed(message, **details)
            return
        step.add(Finding(RESTORE, target, Severity.OK,
                         f"chain of {len(manifests)} backup(s) combined, verified (pg_verifybackup) and started in "
                         f"{total:.1f} s; it reached the backup's consistent point "
                         f"{result['consistent_point']['wal_end_lsn']} and holds all {details['relations']} "
                         "relations of the catalog at backup time; amcheck clean"
                         + ("; roles and grants match" if result["globals"].get("compared") else
                            f"; roles not compared ({result['globals'].get('skipped')})"), value=round(total, 3),
                         details=details))
        act.done(f"chain restore test of {target} passed in {total:.1f} s", **details)
