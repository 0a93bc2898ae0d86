"""The last task of every DAG: gather the parts, write report.json/report.md, fail the run
when any task failed (so a failed run never looks green)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from mercenary_maintenance.config import MaintenanceConfig, load_config
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


# DAGs that notify through the alert state machine (for-duration, dedup, escalation) instead.
SELF_ALERTING = frozenset({"alert_evaluation"})


def announce(cfg: MaintenanceConfig, report: dict[str, Any]) -> None:
    """Post the run's findings that need attention to Slack (after the report is safe).

    Delivery is retried; if Slack stays down the task fails and its retry posts again
    (the report itself is already written, a retry only adds an attempt file)."""
    from mercenary_maintenance.alerts.delivery import deliver
    from mercenary_maintenance.notify import findings_notice, post_to_slack, run_link

    if report["dag_id"] in SELF_ALERTING:
        return
    if report["dag_id"] in cfg.alerts.stateful_findings:
        if report["status"] != "failed":  # a failed run is announced by the failure notifier
            from mercenary_maintenance.alerts.findings import announce_findings

            announce_findings(cfg, report, run_link(cfg.alerts.base_url, report["dag_id"], report["run_id"]))
        return
    text = findings_notice(report, cfg.alerts.notify_findings,
                           run_link(cfg.alerts.base_url, report["dag_id"], report["run_id"]))
    if text is None:
        return
    import time

    result = deliver(text, lambda t: post_to_slack(cfg.alerts.slack_conn_id, t, cfg.alerts.slack_timeout_seconds),
                     attempts=cfg.alerts.slack_attempts, delay_s=cfg.alerts.slack_retry_delay_seconds,
                     deadline=time.monotonic() + cfg.alerts.slack_send_budget_seconds)
    if not result.ok:
        raise RuntimeError(f"Slack notice of the run's findings not delivered: {result.error}")


def _attach_planned(store: Any, report: dict[str, Any]) -> None:
    """Window runs: planned vs done against the window's preview. A failure to compare is
    recorded in the report (and logged); it must not cost the run its report."""
    from mercenary_maintenance.report.planned import attach_planned

    try:
        attach_planned(store, report)
    except Exception as exc:
        log.exception("planned vs done could not be computed")
        report["planned_error"] = f"{type(exc).__name__}: {exc}"


def finalize(context: Any) -> str:
    cfg = load_config()
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
        task_states=task_states(context, exclude=run.task_id),
    )
    _attach_planned(store, report)
    location = store.write_report(report, render_markdown(report))
    log.info("report written: %s (status %s)", location, report["status"])
    announce(cfg, report)
    if report["status"] == "failed":
        raise RunFailed(f"run failed ({', '.join(report['failed_tasks'])}); report: {location}")
    return location
