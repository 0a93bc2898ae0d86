"""The monthly performance review and the quarterly capacity and access review, as a report
section (``report.md``) plus a Slack summary.

Each review measures live (sizes, slow queries, Redis memory, backup storage, roles and
grants), compares with the previous review's snapshot (stored next to its report), adds
the trend of the scheduled checks from past reports, and stores its own snapshot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mercenary_maintenance import delivery
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.notify import run_link
from mercenary_maintenance.report.store import store_for
from mercenary_maintenance.reviews import history, measure
from mercenary_maintenance.reviews.analysis import trend_rows
from mercenary_maintenance.reviews.compose import TREND_CHECKS, compose
from mercenary_maintenance.steps import execute_step
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step

# Reports whose findings feed the trend table.
HISTORY_DAGS = ["maintenance_daily", "maintenance_weekly", "alert_evaluation"]
PERIOD_DAYS = {"monthly": 31, "quarterly": 92}


def review(step: Step, kind: str) -> None:
    """Measure, compare with the previous review and the checks' trend, report, store, post."""

    cfg = step.cfg
    now = datetime.now(UTC)
    snapshot: dict[str, Any] = {"kind": kind, "taken_at": now.isoformat(), "postgres": {}, "redis": {},
                                "backups": None, "unavailable": []}

    def measured(kind: str, name: str, fn: Any, put: Any) -> None:
        def run() -> None:
            put(fn())

        errors = len(step.errors)
        step.check(f"reviews.{kind}_snapshot", name, run)
        if len(step.errors) > errors:
            snapshot["unavailable"].append(f"{kind} `{name}`: {step.errors[-1]}")

    for pg in cfg.targets.postgres:
        measured("postgres", pg.name, lambda name=pg.name: measure.postgres_snapshot(cfg, name),
                 lambda data, name=pg.name: snapshot["postgres"].__setitem__(name, data))
    for rd in cfg.targets.redis:
        measured("redis", rd.name, lambda name=rd.name: measure.redis_snapshot(cfg, name),
                 lambda data, name=rd.name: snapshot["redis"].__setitem__(name, data))
    measured("backups", cfg.backups.bucket, lambda: measure.backup_storage(cfg),
             lambda data: snapshot.__setitem__("backups", data))

    store = store_for(cfg)
    previous = history.previous_snapshot(store, step.run.dag_id, step.run.run_id)
    days = PERIOD_DAYS[kind]
    past = history.reports_since(store, HISTORY_DAGS, now - timedelta(days=days))
    review = compose(kind, snapshot, previous, trend_rows(past, TREND_CHECKS), days)
    step.add(review.findings)
    step.section(review.title, review.markdown, data={"snapshot": snapshot, "previous_taken_at":
                                                        (previous or {}).get("taken_at")})
    with step.action("reviews.snapshot", "store", why="baseline for the next review") as act:
        act.done(f"snapshot stored: {history.save_snapshot(store, step.run.dag_id, step.run.run_id, snapshot)}")
    with step.action("reviews.slack_summary", cfg.alerts.slack_conn_id, why="share the review") as act:
        text = (f"{review.summary}\n<{run_link(cfg.alerts.base_url, step.run.dag_id, step.run.run_id)}"
                f"|full review in the run's report>")
        act.done(f"summary posted ({delivery.post(cfg, text, 'the review summary').attempts} attempt(s))")
    if not review.findings:
        step.add(Finding("reviews.coverage", "all", Severity.WARNING,
                         "no PostgreSQL target reviewed: access review has nothing to compare"))


def monthly_review(step: Step) -> None:
    """Monthly: sizes and growth, slow queries, Redis memory, backup storage, access changes."""
    review(step, "monthly")


def quarterly_review(step: Step) -> None:
    """Quarterly: capacity growth over the quarter and roles/privileges changed since the last review."""
    review(step, "quarterly")


def run_review(kind: str, context: Any = None) -> dict[str, Any]:
    """One review as a task body outside a DAG (tests): ``kind`` monthly | quarterly."""

    return execute_step(lambda step: review(step, kind), context=context)
