"""The weekly logs/cleanup steps, recorded into a :class:`~mercenary_maintenance.steps.Step`:
``logs.archive`` (with ``logs.lifecycle``), ``logs.retention``, ``tmp.cleanup``, each with a
``host.disk_usage`` finding before and after; and the daily ``logs.errors`` (:mod:`.errors` reads the files).

Each task is mapped over the hosts (``targets.hosts``; the implicit ``local`` when none): a host
reached over SSH is handled through its transport (:mod:`mercenary_maintenance.logs.remote`, targets
``<host>:<set>`` / ``<host>:<root>``); the worker itself (transport ``local``) through ``os`` with the
local safety checks (:mod:`~mercenary_maintenance.logs.archive`, :mod:`~mercenary_maintenance.logs.cleanup`).
Called without a host (tests, the emergency form), a body runs for every host in turn."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mercenary_maintenance import bucket_lifecycle
from mercenary_maintenance.adapters.s3 import upload_args
from mercenary_maintenance.bucket_lifecycle import current_rules
from mercenary_maintenance.config import LogSet
from mercenary_maintenance.disk import check_paths, host_paths
from mercenary_maintenance.findings import Finding, Severity, not_configured
from mercenary_maintenance.hosts import LocalTransport, Transport
from mercenary_maintenance.logs import archive, cleanup, errors, files, remote, retention, s3

if TYPE_CHECKING:
    from mercenary_maintenance.steps import ActionRecorder, Step


def disk_usage(step: Step, paths: list[str], phase: str) -> None:
    """``host.disk_usage``/``host.inode_usage`` of the directories involved, tagged before/after."""

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


def remote_disk_usage(step: Step, t: Transport, paths: list[str], phase: str) -> None:
    """``host.disk_usage``/``host.inode_usage`` of a host's directories (``df`` there), tagged before/after."""

    th = step.cfg.thresholds
    name = t.host.name

    def measure(path: str) -> list[Finding]:
        found = host_paths(t, [path], th.disk_percent.as_threshold(), th.inode_percent.as_threshold())
        for finding in found:
            finding.details["phase"] = phase
            finding.message = f"{phase}: {finding.message}"
        return found

    for path in sorted(set(paths)):
        step.check("host.disk_usage", f"{name}:{path}", functools.partial(measure, path))


def _log_dirs(step: Step, sets: Sequence[LogSet] | None = None) -> list[str]:
    chosen = step.cfg.logs.sets if sets is None else sets
    return [files.base_dir(os.path.expandvars(p)) for s in chosen for p in s.paths]


def host_names(step: Step, host: str | None) -> list[str]:
    """The host of a mapped task, or every host when the body is called without one."""
    return [host] if host is not None else [h.name for h in step.cfg.hosts()]


def sets_on(step: Step, host: str) -> list[LogSet]:
    return [s for s in step.cfg.logs.sets if s.hosts is None or host in s.hosts]


def target_of(step: Step, host: str, name: str) -> str:
    """The implicit host keeps the bare set/root name; any configured host prefixes it: ``app1:app``."""
    return name if step.cfg.host_target(host).implicit else f"{host}:{name}"


def archive_logs(step: Step, host: str | None = None, *,
                 lifecycle_rules: Sequence[bucket_lifecycle.RuleSource]) -> None:
    """logs.archive: compress, upload, verify, then delete old log files on the host (lifecycle rules first).

    The files are read from the host they are on (SFTP over SSH; the worker's own files for ``local``),
    stored in S3, read back and verified by sha256, and only then deleted on that host — never a file
    some process there holds open, and nothing at all when the host's open files cannot be read.
    The lifecycle rules written first are every area's (``lifecycle_rules``: ``registry.LIFECYCLE_RULES``,
    given by the task declaration); disk usage is measured before and after."""
    cfg = step.cfg
    bucket = cfg.backups.bucket
    client = s3.client_for(cfg.backups.conn_id, cfg.timeouts)
    with step.action("logs.lifecycle", bucket, why="archived logs expire by an S3 lifecycle rule per set") as act:
        changes = bucket_lifecycle.ensure(client, cfg, lifecycle_rules)
        if changes:
            act.done(f"lifecycle rules written: {'; '.join(changes)}", changes=changes)
        else:
            act.skipped("lifecycle rules already match the config")
    for name in host_names(step, host):
        sets = sets_on(step, name)
        if not sets:
            step.add(not_configured("logs.archive", f"{name}:*", f"no logs.sets entry names host {name}"))
            continue
        t = step.host(name)
        if isinstance(t, LocalTransport):
            _archive_local(step, client, sets, name)
        else:
            _archive_remote(step, client, t, sets)


def _report(act: ActionRecorder, tally: archive.Tally) -> None:
    summary = (f"{tally.archived} archived ({tally.bytes_in} → {tally.bytes_out} bytes), "
               f"{tally.already_archived} already archived, {tally.deleted} deleted on the host, "
               f"{len(tally.skipped)} skipped")
    if tally.failed:
        act.failed(f"{len(tally.failed)} files not archived (kept); {summary}", **tally.details())
    else:
        act.done(summary, **tally.details())


def _archive_local(step: Step, client: Any, sets: list[LogSet], host: str) -> None:
    cfg = step.cfg
    bucket = cfg.backups.bucket
    disk_usage(step, _log_dirs(step, sets), "before")
    plan = archive.Plan(bucket=bucket, level=cfg.logs.zstd_level, quiet_s=cfg.logs.quiet_minutes * 60.0,
                        delete_local=cfg.logs.delete_local_after_archive,
                        open_paths=frozenset(files.open_files()),
                        extra_args=upload_args(cfg.backups))
    for log_set in sets:
        with step.action("logs.archive", target_of(step, host, log_set.name),
                         why=f"archive {log_set.name} logs older than {log_set.archive_after_days} days to "
                         f"s3://{bucket}/{s3.set_prefix(log_set.name)}") as act:
            _report(act, archive.archive_set(client, plan, log_set))
    disk_usage(step, _log_dirs(step, sets), "after")


def _archive_remote(step: Step, client: Any, t: Transport, sets: list[LogSet]) -> None:
    cfg = step.cfg
    bucket = cfg.backups.bucket
    name = t.host.name
    dirs = [files.base_dir(p) for s in sets for p in s.paths]
    remote_disk_usage(step, t, dirs, "before")
    plan = remote.HostPlan(bucket=bucket, level=cfg.logs.zstd_level, quiet_s=cfg.logs.quiet_minutes * 60.0,
                           delete=cfg.logs.delete_local_after_archive, extra_args=upload_args(cfg.backups))
    for log_set in sets:
        with step.action("logs.archive", f"{name}:{log_set.name}",
                         why=f"archive {log_set.name} logs older than {log_set.archive_after_days} days from host "
                         f"{name} to s3://{bucket}/{s3.set_prefix(log_set.name)}") as act:
            _report(act, remote.archive_set(client, plan, t, log_set))
    remote_disk_usage(step, t, dirs, "after")


def check_retention(step: Step, host: str | None = None) -> None:
    """logs.retention: lifecycle rule per set matches the config; the files left on the host within budget."""
    cfg = step.cfg
    state: dict[str, list[dict[str, object]]] = {}

    def rules() -> list[dict[str, object]]:
        if "rules" not in state:

            state["rules"] = current_rules(s3.client_for(cfg.backups.conn_id, cfg.timeouts), cfg.backups.bucket)
        return state["rules"]

    def judge(name: str, log_set: LogSet) -> Finding:
        t = step.host(name)
        size = retention.local_bytes(log_set) if isinstance(t, LocalTransport) else remote.local_bytes(t, log_set)
        found = retention.check(log_set, rules(), size)
        return dataclasses.replace(found, target=target_of(step, name, log_set.name),
                                   details={**found.details, "host": name})

    for name in host_names(step, host):
        sets = sets_on(step, name)
        if not sets:
            step.add(not_configured(retention.CHECK, f"{name}:*", f"no logs.sets entry names host {name}"))
        for log_set in sets:
            step.check(retention.CHECK, target_of(step, name, log_set.name), functools.partial(judge, name, log_set))


def clean_tmp(step: Step, host: str | None = None, dry_run: bool | None = None) -> None:
    """tmp.cleanup: old files under the configured roots on the host (dry run unless configured).

    Never a symlink's target, never a file a process holds open; on a host whose open files cannot be
    read, nothing is removed."""
    cfg = step.cfg.cleanup
    dry = cfg.dry_run if dry_run is None else dry_run
    chosen = {h.name for h in step.cfg.hosts_for(cfg.hosts)}
    for name in host_names(step, host):
        if name not in chosen:
            step.add(not_configured("tmp.cleanup", f"{name}:*", f"cleanup.hosts does not name host {name}"))
            continue
        t = step.host(name)
        if isinstance(t, LocalTransport):
            _clean_local(step, name, dry)
        else:
            _clean_remote(step, t, dry)


def _clean_local(step: Step, host: str, dry: bool) -> None:
    cfg = step.cfg.cleanup
    disk_usage(step, cfg.roots, "before")
    open_paths = files.open_files()
    _sweep_roots(step, dry, lambda root: target_of(step, host, root), "",
                 lambda root: cleanup.scan(root, cfg.older_than_days * 86400.0, time.time(), open_paths),
                 cleanup.remove)
    if not dry:
        disk_usage(step, cfg.roots, "after")


def _clean_remote(step: Step, t: Transport, dry: bool) -> None:
    cfg = step.cfg.cleanup
    name = t.host.name
    remote_disk_usage(step, t, cfg.roots, "before")
    open_now = remote.open_paths(t)
    _sweep_roots(step, dry, lambda root: f"{name}:{root}", f" on host {name}",
                 lambda root: remote.sweep(t, root, cfg.older_than_days * 86400.0, time.time(), open_now),
                 lambda swept: remote.remove(t, swept))
    if not dry:
        remote_disk_usage(step, t, cfg.roots, "after")


def _sweep_roots(step: Step, dry: bool, target: Callable[[str], str], where: str,
                 scan: Callable[[str], cleanup.Sweep], remove: Callable[[cleanup.Sweep], None]) -> None:
    """One tmp.cleanup action per root, the same on the worker and on a host: scan, then (unless a
    dry run) remove what is still old, closed and unchanged."""
    cfg = step.cfg.cleanup
    for root in cfg.roots:
        with step.action("tmp.cleanup", target(root),
                         why=f"remove files older than {cfg.older_than_days} days{where}") as act:
            swept = scan(root)
            if dry:
                act.dry_run(f"would remove {len(swept.candidates)} files, {swept.candidate_bytes} bytes "
                            "(cleanup.dry_run is true)", **swept.details())
                continue
            remove(swept)
            message = f"removed {swept.deleted} files, {swept.deleted_bytes} bytes; {len(swept.skipped)} skipped"
            if swept.failed:
                act.failed(f"{len(swept.failed)} files could not be removed; {message}", **swept.details())
            else:
                act.done(message, **swept.details())


def scan_errors(step: Step, host: str | None = None) -> None:
    """logs.errors: ERROR/FATAL/PANIC/tracebacks/5xx in the logs.error_scan sets on the host since the last run
    (each line counted once: offsets kept beside the reports, per host)."""
    sets = step.cfg.logs.error_scan
    names = [host] if host is not None else [h.name for h in step.cfg.hosts()]
    if not sets:
        for name in names:
            step.add(Finding(errors.CHECK, "all" if step.cfg.host_target(name).implicit else f"{name}:*", Severity.OK,
                             "no log set configured for error review (logs.error_scan)",
                             details={"not_configured": True}))
        return
    for name in names:
        implicit = step.cfg.host_target(name).implicit
        mine = [s for s in sets if s.hosts is None or name in s.hosts]
        if not mine:
            step.add(Finding(errors.CHECK, f"{name}:*", Severity.OK, f"not configured: no logs.error_scan set names "
                             f"host {name}", details={"not_configured": True}))
        for item in mine:
            target = item.name if implicit else f"{name}:{item.name}"
            step.check(errors.CHECK, target, functools.partial(errors.scan_finding, step, item, name, target, implicit))
