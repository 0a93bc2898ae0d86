"""Build the preview of the coming windows: probe each target once (with the areas' probes the
task is given, ``registry.PROBES``), then one plan item per (window, target, action) with the
objects, figures, estimate, lock, risk and rollback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from mercenary_maintenance.config import LogSet
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.plan import PlanItem, PostgresProbe, Probes, RedisProbe, TargetState
from mercenary_maintenance.preview.plan import history_durations, make_item
from mercenary_maintenance.preview.timetable import starting_at, upcoming
from mercenary_maintenance.windows.rules import WINDOW_DAGS, Window

if TYPE_CHECKING:
    from mercenary_maintenance.report.store import ReportStore
    from mercenary_maintenance.steps import Step

# What each window DAG changes (read-only checks and reviews are not planned items).
WINDOW_ACTIONS: dict[str, tuple[str, ...]] = {
    "maintenance_weekly": ("postgres.vacuum_analyze", "redis.memory_purge", "redis.bgrewriteaof",
                           "backup.restore_test", "logs.archive"),
    "maintenance_monthly": ("postgres.reindex", "postgres.vacuum_full", "backup.restore_test"),
    "maintenance_quarterly": (),
}
History = Callable[[str], list[dict[str, Any]]]
Probe = TypeVar("Probe", PostgresProbe, RedisProbe)


def windows_to_preview(run_type: str, interval: tuple[datetime | None, datetime | None],
                       now: datetime) -> list[tuple[str, Window]]:
    """Scheduled runs: the windows starting at the interval's end; others: each DAG's next window."""
    start, end = interval
    if run_type == "scheduled" and start is not None and end is not None and end > start:
        found = starting_at(WINDOW_DAGS, end)
        if found:
            return found
    return upcoming(WINDOW_DAGS, now)


def report_history(store: ReportStore, limit: int) -> History:
    """Previous reports of a DAG, newest first (at most ``limit``), read once per DAG."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def history(dag_id: str) -> list[dict[str, Any]]:
        if dag_id not in cache:
            reports = [r for r in (store.read_report(dag_id, run) for run in store.run_ids(dag_id)) if r]
            reports.sort(key=lambda r: str(r.get("finished_at") or ""), reverse=True)
            cache[dag_id] = reports[:limit]
        return cache[dag_id]

    return history


def _postgres_items(step: Step, target: str, dag_id: str, start: str, wanted: tuple[str, ...],
                    probe: PostgresProbe, history: History) -> list[PlanItem]:
    items = []
    groups = {"postgres.vacuum_analyze": probe.vacuum, "postgres.reindex": probe.reindex,
              "postgres.vacuum_full": probe.vacuum_full}
    for action, figures in groups.items():
        if action not in wanted or not figures:
            continue
        missing = [f["object"] for f in figures if f.get("error")]
        items.append(make_item(
            window_dag_id=dag_id, window_start=start, target=target, action=action,
            objects=[f["object"] for f in figures], size_bytes=sum(int(f["size_bytes"]) for f in figures),
            figures=figures, history=history_durations(history(dag_id), action, target), state=probe.state,
            extra_risk=f"not in the catalog, the action will fail on: {missing}" if missing else None))
    if "backup.restore_test" in wanted:
        action = "backup.restore_test"
        items.append(make_item(
            window_dag_id=dag_id, window_start=start, target=target, action=action, objects=[target],
            size_bytes=probe.database_bytes, figures=[{"object": target, "database_bytes": probe.database_bytes}],
            history=history_durations(history(dag_id), action, target), state=probe.state))
    return items


def _redis_items(target: str, dag_id: str, start: str, wanted: tuple[str, ...], probe: RedisProbe,
                 history: History) -> list[PlanItem]:
    items = []
    for action, figures in (("redis.memory_purge", probe.purge), ("redis.bgrewriteaof", probe.rewrite)):
        if action in wanted and figures is not None:
            items.append(make_item(
                window_dag_id=dag_id, window_start=start, target=target, action=action, objects=[target],
                size_bytes=int(figures["size_bytes"]), figures=[figures],
                history=history_durations(history(dag_id), action, target), state=_no_state()))
    return items


def _no_state() -> TargetState:
    return TargetState()


def _log_items(step: Step, dag_id: str, start: str, history: History,
               local_bytes: Callable[[LogSet], int]) -> list[PlanItem]:
    """logs.archive deletes local files after archiving them (when delete_local_after_archive)."""
    if not step.cfg.logs.delete_local_after_archive:
        return []
    items = []
    for log_set in step.cfg.logs.sets:
        size = local_bytes(log_set)
        items.append(make_item(
            window_dag_id=dag_id, window_start=start, target=log_set.name, action="logs.archive",
            objects=list(log_set.paths), size_bytes=size,
            figures=[{"object": log_set.name, "local_bytes": size, "archive_after_days": log_set.archive_after_days}],
            history=history_durations(history(dag_id), "logs.archive", log_set.name), state=_no_state(),
            extra_risk=f"deletes local files older than {log_set.archive_after_days} days after archiving"))
    return items


def build_plan(step: Step, windows: list[tuple[str, Window]], history: History, probes: Probes) -> list[PlanItem]:
    """The plan for ``windows``; a target that cannot be probed is an ``unknown`` finding."""
    needed = {a for dag_id, _ in windows for a in WINDOW_ACTIONS[dag_id]}
    pg_probes: dict[str, PostgresProbe] = {}
    redis_probes: dict[str, RedisProbe] = {}
    if needed & {"postgres.vacuum_analyze", "postgres.reindex", "postgres.vacuum_full", "backup.restore_test"}:
        for t in step.cfg.targets.postgres:
            step.check("preview.target_state", t.name, partial(_keep, pg_probes, t.name, probes.postgres, step))
    if needed & {"redis.memory_purge", "redis.bgrewriteaof"}:
        for r in step.cfg.targets.redis:
            step.check("preview.target_state", r.name, partial(_keep, redis_probes, r.name, probes.redis, step))
    items: list[PlanItem] = []
    for dag_id, window in windows:
        start = window.start.isoformat()
        wanted = WINDOW_ACTIONS[dag_id]
        for name, pg_probe in pg_probes.items():
            items += _postgres_items(step, name, dag_id, start, wanted, pg_probe, history)
        for name, redis_probe in redis_probes.items():
            items += _redis_items(name, dag_id, start, wanted, redis_probe, history)
        if "logs.archive" in wanted:
            items += _log_items(step, dag_id, start, history, probes.log_bytes)
    return items


def _keep(store: dict[str, Probe], name: str, probe: Callable[[Step, str], Probe], step: Step) -> Finding:
    store[name] = probe(step, name)
    return Finding("preview.target_state", name, Severity.OK, "read the target's state for the preview (read-only)")
