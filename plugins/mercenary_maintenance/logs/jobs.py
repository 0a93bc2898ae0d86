"""The weekly logs/cleanup steps, recorded into a :class:`~mercenary_maintenance.steps.Step`:
``logs.archive`` (with ``logs.lifecycle``), ``logs.retention``, ``tmp.cleanup``, each with a
``host.disk_usage`` finding before and after."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mercenary_maintenance import bucket_lifecycle
from mercenary_maintenance.adapters.s3 import upload_args
from mercenary_maintenance.config import LogSet
from mercenary_maintenance.findings import Finding
from mercenary_maintenance.logs import archive, cleanup, files, retention, s3

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def disk_usage(step: Step, paths: list[str], phase: str) -> None:
    """``host.disk_usage``/``host.inode_usage`` of the directories involved, tagged before/after."""
    from mercenary_maintenance.disk import check_paths

    th = step.cfg.thresholds
    existing = sorted({p for p in paths if os.path.isdir(p)})

    def measure() -> list[Finding]:
        found = check_paths(existing, th.disk_percent.as_threshold(), th.inode_percent.as_threshold())
        for finding in found:
            finding.details["phase"] = phase
            finding.message = f"{phase}: {finding.message}"
        return found

    if existing:
        step.check("host.disk_usage", phase, measure)


def _log_dirs(step: Step) -> list[str]:
    return [files.base_dir(os.path.expandvars(p)) for s in step.cfg.logs.sets for p in s.paths]


def archive_logs(step: Step, lifecycle_rules: Sequence[bucket_lifecycle.RuleSource]) -> None:
    """logs.archive: compress, upload, verify, then delete old log files (lifecycle rules first).

    The lifecycle rules written first are every area's (``lifecycle_rules``: ``registry.LIFECYCLE_RULES``,
    given by the task declaration); disk usage is measured before and after."""
    cfg = step.cfg
    bucket = cfg.backups.bucket
    disk_usage(step, _log_dirs(step), "before")
    client = s3.client_for(cfg.backups.conn_id, cfg.timeouts)
    with step.action("logs.lifecycle", bucket, why="archived logs expire by an S3 lifecycle rule per set") as act:
        changes = bucket_lifecycle.ensure(client, cfg, lifecycle_rules)
        if changes:
            act.done(f"lifecycle rules written: {'; '.join(changes)}", changes=changes)
        else:
            act.skipped("lifecycle rules already match the config")
    plan = archive.Plan(bucket=bucket, level=cfg.logs.zstd_level, quiet_s=cfg.logs.quiet_minutes * 60.0,
                        delete_local=cfg.logs.delete_local_after_archive,
                        open_paths=frozenset(files.open_files()),
                        extra_args=upload_args(cfg.backups))
    for log_set in cfg.logs.sets:
        with step.action("logs.archive", log_set.name, why=f"archive {log_set.name} logs older than "
                         f"{log_set.archive_after_days} days to s3://{bucket}/{s3.set_prefix(log_set.name)}") as act:
            tally = archive.archive_set(client, plan, log_set)
            summary = (f"{tally.archived} archived ({tally.bytes_in} → {tally.bytes_out} bytes), "
                       f"{tally.already_archived} already archived, {tally.deleted} deleted locally, "
                       f"{len(tally.skipped)} skipped")
            if tally.failed:
                act.failed(f"{len(tally.failed)} files not archived (kept locally); {summary}", **tally.details())
            else:
                act.done(summary, **tally.details())
    disk_usage(step, _log_dirs(step), "after")


def check_retention(step: Step) -> None:
    """logs.retention: lifecycle rule per set matches the config; local size within budget."""
    cfg = step.cfg
    state: dict[str, list[dict[str, object]]] = {}

    def rules() -> list[dict[str, object]]:
        if "rules" not in state:
            from mercenary_maintenance.bucket_lifecycle import current_rules

            state["rules"] = current_rules(s3.client_for(cfg.backups.conn_id, cfg.timeouts), cfg.backups.bucket)
        return state["rules"]

    def judge(log_set: LogSet) -> Finding:
        return retention.check(log_set, rules(), retention.local_bytes(log_set))

    for log_set in cfg.logs.sets:
        step.check(retention.CHECK, log_set.name, functools.partial(judge, log_set))


def clean_tmp(step: Step, dry_run: bool | None = None) -> None:
    """tmp.cleanup: old files under the configured roots (dry run unless configured)."""
    cfg = step.cfg.cleanup
    dry = cfg.dry_run if dry_run is None else dry_run
    disk_usage(step, cfg.roots, "before")
    open_paths = files.open_files()
    for root in cfg.roots:
        with step.action("tmp.cleanup", root, why=f"remove files older than {cfg.older_than_days} days") as act:
            sweep = cleanup.scan(root, cfg.older_than_days * 86400.0, time.time(), open_paths)
            if dry:
                message = (f"would remove {len(sweep.candidates)} files, {sweep.candidate_bytes} bytes "
                           "(cleanup.dry_run is true)")
                act.dry_run(message, **sweep.details())
                continue
            cleanup.remove(sweep)
            message = f"removed {sweep.deleted} files, {sweep.deleted_bytes} bytes; {len(sweep.skipped)} skipped"
            if sweep.failed:
                act.failed(f"{len(sweep.failed)} files could not be removed; {message}", **sweep.details())
            else:
                act.done(message, **sweep.details())
    if not dry:
        disk_usage(step, cfg.roots, "after")
