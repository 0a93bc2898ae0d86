"""Plan compliance: every item of docs/plan-coverage.md, the tasks that execute it, when they
last ran, their outcome, and whether they are overdue for their DAG's cadence (+ grace)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mercenary_maintenance import packaged, switches
from mercenary_maintenance.config import ConfigError, MaintenanceConfig
from mercenary_maintenance.console.index import RunIndex
from mercenary_maintenance.console.status import iso
from mercenary_maintenance.windows.rules import UTC, WINDOW_DAGS

REF = re.compile(r"`([a-z][a-z0-9_]*)\.([a-z][a-z0-9_.]*)`")
# Fixed-interval DAGs (docs/windows.md); the window DAGs are due once per window.
INTERVALS = {
    "maintenance_daily": timedelta(days=1),
    "backup_full": timedelta(days=1),
    "backup_incremental": timedelta(hours=4),
    "alert_evaluation": timedelta(minutes=5),
}
# Task ids that are the run itself (the report writer is the run's last task).
RUN_TASKS = {"write_report"}


@dataclass
class TaskCompliance:
    dag_id: str
    task_id: str
    last_run_id: str | None = None
    last_at: str | None = None
    outcome: str | None = None
    cadence: str = "on demand"
    overdue: bool = False
    due_since: str | None = None
    # Switches of mercenary_maintenance.switches that are off for this task: (what, key) — shown as
    # "not configured", never green, whatever the task's last outcome.
    not_configured: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PlanItem:
    section: str
    item: str
    executed_by: str
    tasks: list[TaskCompliance] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        return not self.tasks

    not_configured: list[tuple[str, str]] = field(default_factory=list)  # manual lines: (what, key)

    @property
    def overdue(self) -> bool:
        return any(t.overdue for t in self.tasks)

    @property
    def off(self) -> bool:
        """Some of the item does nothing under the config (a switch is off)."""
        return bool(self.not_configured) or any(t.not_configured for t in self.tasks)


def parse_plan(text: str) -> list[PlanItem]:
    """Rows of the markdown tables under each ``##`` heading.

    >>> [(i.section, i.item, [(t.dag_id, t.task_id) for t in i.tasks]) for i in parse_plan(
    ...     "## Daily\\n| Plan item | Executed by |\\n|---|---|\\n| Disk | `maintenance_daily.health.check_disk` |\\n")]
    [('Daily', 'Disk', [('maintenance_daily', 'health.check_disk')])]
    """
    items: list[PlanItem] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0].lower() == "plan item":
            continue
        executed_by = "|".join(cells[1:])
        tasks = [TaskCompliance(d, t) for d, t in REF.findall(executed_by)]
        items.append(PlanItem(section, cells[0], executed_by, tasks))
    return items


def load_plan(cfg: MaintenanceConfig) -> list[PlanItem]:
    """The configured plan-to-code map, else the one shipped with the package (docs/plan-coverage.md)."""
    if not cfg.console.plan_coverage_file:
        return parse_plan(packaged.plan_coverage_text())
    path = Path(cfg.console.plan_coverage_file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"console.plan_coverage_file: cannot read {path} ({exc.strerror})") from None
    return parse_plan(text)


def due_since(dag_id: str, now: datetime, grace_fraction: float) -> tuple[str, datetime | None]:
    """(cadence label, the moment since which a run must exist) — None when the DAG has no cadence."""
    if dag_id in INTERVALS:
        every = INTERVALS[dag_id]
        return f"every {_span(every)}", now - every * (1 + grace_fraction)
    rule = WINDOW_DAGS.get(dag_id)
    if rule is None:
        return "on demand", None
    # windows_from covers 15 months from the month before its argument: the last two ended windows are in it.
    ended = [w for w in rule.windows_from(now - timedelta(days=200)) if w.end <= now]
    if len(ended) < 2:
        return rule.summary(), None
    gap = ended[-1].start - ended[-2].start
    # The last window counts once its grace has passed; before that the one before it is due.
    due = ended[-1] if now - ended[-1].end >= gap * grace_fraction else ended[-2]
    return rule.summary(), due.start


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day(s)"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def mark_not_configured(items: list[PlanItem], cfg: MaintenanceConfig) -> list[PlanItem]:
    """Attach the switches that are off under ``cfg`` to the tasks (and manual lines) they belong to."""
    off_now = switches.off_switches(cfg)
    for item in items:
        refs = [f"{t.dag_id}.{t.task_id}" for t in item.tasks]
        for s in off_now:
            if not switches.applies(s, item.item, refs):
                continue
            task = next((t for t in item.tasks if f"{t.dag_id}.{t.task_id}" == s.task), None)
            (task.not_configured if task is not None else item.not_configured).append((s.message(), s.key))
    return items


def compliance(index: RunIndex, cfg: MaintenanceConfig, now: datetime) -> list[PlanItem]:
    items = mark_not_configured(load_plan(cfg), cfg)
    tasks = index.task_last()
    runs = {r["dag_id"]: r for r in index.last_runs()}
    for item in items:
        for t in item.tasks:
            t.cadence, since = due_since(t.dag_id, now, cfg.console.grace_fraction)
            last: dict[str, Any] | None
            if t.task_id in RUN_TASKS:
                run = runs.get(t.dag_id)
                last = {"run_id": run["run_id"], "state": run["status"], "ts": run["ts"]} if run else None
            else:
                last = tasks.get((t.dag_id, t.task_id))
            if last is not None:
                t.last_run_id, t.last_at, t.outcome = last["run_id"], iso(last["ts"]), last["state"]
            if since is not None:
                t.due_since = since.astimezone(UTC).isoformat()
                t.overdue = last is None or last["ts"] < since.timestamp()
    return items


def readable_items(items: list[PlanItem], allows: Callable[[str], bool]) -> list[PlanItem]:
    """The plan as one user may see it: tasks of DAGs they may not read left out, and the items
    executed only by such tasks (manual items, which belong to no DAG, stay)."""
    out = []
    for item in items:
        tasks = [t for t in item.tasks if allows(t.dag_id)]
        if tasks or not item.tasks:
            item.tasks = tasks
            out.append(item)
    return out
