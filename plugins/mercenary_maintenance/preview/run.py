"""The preview run: plan the coming windows, record the plan in the report, post the summary."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.plan import Probes
from mercenary_maintenance.preview.collect import build_plan, report_history, windows_to_preview
from mercenary_maintenance.preview.plan import render_markdown, slack_summary

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def run_preview(step: Step, interval: tuple[datetime | None, datetime | None], now: datetime, probes: Probes,
                lead_hours: float | None = None) -> None:
    from mercenary_maintenance import delivery
    from mercenary_maintenance.notify import run_link
    from mercenary_maintenance.report.store import store_for

    cfg = step.cfg
    if lead_hours is not None and abs(lead_hours - cfg.preview.lead_hours) > 1e-9:
        step.add(Finding("preview.schedule", "maintenance_preview", Severity.WARNING,
                         f"preview.lead_hours is {cfg.preview.lead_hours:g} in the config but the DAG is scheduled "
                         f"{lead_hours:g} h ahead (fixed when the DAG file is parsed)",
                         value=cfg.preview.lead_hours, threshold=lead_hours))
    windows = windows_to_preview(step.run.run_type, interval, now)
    store = store_for(cfg)
    history = report_history(store, cfg.preview.history_runs)
    plan = [item.to_dict() for item in build_plan(step, windows, history, probes)]
    step.report_keys["plan"] = plan
    step.report_keys["previewed_windows"] = [
        {"window_dag_id": d, "start": w.start.isoformat(), "end": w.end.isoformat()} for d, w in windows]
    step.section("Plan", render_markdown(plan))
    listed = [(d, w.start.isoformat()) for d, w in windows]
    with step.action("preview.plan", "maintenance_preview", why="preview of the coming window(s)") as act:
        act.done(f"{len(plan)} planned item(s) for " + ", ".join(f"{d} {s}" for d, s in listed),
                 items=len(plan), windows=[f"{d} {s}" for d, s in listed])
    report_md = store.backend.location(f"{step.run.dag_id}/{step.run.run_id}/report.md")
    text = slack_summary(plan, listed, run_link(cfg.alerts.base_url, step.run.dag_id, step.run.run_id), report_md)
    with step.action("preview.slack_summary", cfg.alerts.slack_conn_id, why="announce the plan") as act:
        act.done(f"plan summary posted ({delivery.post(cfg, text, 'the plan summary').attempts} attempt(s))")


def preview_body(step: Step, probes: Probes) -> None:
    """Read-only: what the coming window(s) will do on each target, with estimates, risk and rollback.

    The run's data interval and the timetable's lead time come from the step (``step.run``), the
    areas' probes from the task declaration (``registry.PROBES``)."""
    from mercenary_maintenance.windows.rules import UTC

    run_preview(step, step.run.data_interval, datetime.now(UTC), probes, lead_hours=step.run.lead_hours)
