"""The last task of every DAG: gather the parts, write report.json/report.md, announce the
findings (what the wiring passes in), fail the run when any task failed (so a failed run never
looks green)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.redact import register_config
from mercenary_maintenance.report.build import build_report, render_markdown
from mercenary_maintenance.report.store import store_for
from mercenary_maintenance.runinfo import from_context
from mercenary_maintenance.windows.rules import UTC

log = logging.getLogger(__name__)


class RunFailed(AirflowFailException):
    """The report is written; the run must still end failed (no retry of this task)."""


def task_states(context: Any, exclude: str) -> dict[str, str]:
    """States of the run's other task instances (mapped ones as ``task[index]``)."""
    dag_run = context["dag_run"]
    raw = context["ti"].get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])
    states = raw.get(dag_run.run_id, {})
    return {task: str(state) for task, state in states.items() if task != exclude and state is not None}


def _attach_planned(store: Any, report: dict[str, Any]) -> None:
    """Window runs: planned vs done against the window's preview. A failure to compare is
    recorded in the report (and logged); it must not cost the run its report."""
    from mercenary_maintenance.report.planned import attach_planned

    try:
        attach_planned(store, report)
    except Exception as exc:
        log.exception("planned vs done could not be computed")
        report["planned_error"] = f"{type(exc).__name__}: {exc}"


# Posts a written report's findings (``alerts.announce.announce_run``, passed in by ``dagkit.write_report``).
Announce = Callable[[MaintenanceConfig, dict[str, Any]], None]


def finalize(context: Any, cfg: MaintenanceConfig, announce: Announce, own_state: str | None = None) -> str:
    """Write the run's report from its parts and task states; announce it; fail if the run failed.

    ``own_state``: the calling task's own outcome, when it is the task that did the work (a DAG
    whose one task writes the report itself); otherwise the caller is ``write_report`` and only
    the other tasks count. ``cfg``: the config the wiring loaded (nothing here reads the file)."""
    register_config(cfg)
    run = from_context(context, cfg.windows.cutoff_minutes.get(context["dag_run"].dag_id))
    store = store_for(cfg)
    dag_run = context["dag_run"]
    started = dag_run.start_date or dag_run.run_after
    report = build_report(
        dag_id=run.dag_id,
        run_id=run.run_id,
        run_type=run.run_type,
        triggered_by=run.triggered_by,
        window={"start": run.window.start.isoformat(), "end": run.window.end.isoformat()} if run.window else None,
        started_at=started.isoformat() if started else None,
        finished_at=datetime.now(UTC).isoformat(),
        parts=store.parts(run.dag_id, run.run_id),
        task_states={**task_states(context, exclude=run.task_id),
                     **({run.task_id: own_state} if own_state is not None else {})},
    )
    _attach_planned(store, report)
    location = store.write_report(report, render_markdown(report))
    log.info("report written: %s (status %s)", location, report["status"])
    announce(cfg, report)
    if report["status"] == "failed":
        raise RunFailed(f"run failed ({', '.join(report['failed_tasks'])}); report: {location}")
    return location
