"""One alert evaluation: measure, advance the state machine, notify Slack, save the state.

The thin layer around the pure parts (``metrics``, ``state``, ``message``, ``delivery``):
it reads Prometheus through the http provider's ``HttpHook`` and posts through the slack
provider's ``SlackWebhookHook``. Both are injectable so tests can observe them.

Order matters for at-least-once delivery: the measured findings are added to the step
first (they are recorded even if Slack fails), every notification is attempted, and the
new state — with undelivered notifications in its outbox — is saved before the task
fails because of an undelivered one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.alerts import metrics
from mercenary_maintenance.alerts.delivery import deliver
from mercenary_maintenance.alerts.message import format_notification
from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import AlertState, Observation, advance, with_undelivered
from mercenary_maintenance.alerts.store import StateStore, VariableStateStore
from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.findings import Finding, Threshold
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC

Query = Callable[[str], Mapping[str, Any]]


def policy_of(cfg: MaintenanceConfig) -> Policy:
    a = cfg.alerts
    return Policy(
        for_duration=timedelta(seconds=a.for_seconds),
        repeat_interval=timedelta(seconds=a.repeat_interval_seconds),
        primary_oncall=a.primary_oncall,
        secondary_oncall=a.secondary_oncall,
        p1_checks=frozenset(a.p1_checks),
    )


def thresholds_of(cfg: MaintenanceConfig) -> dict[str, Threshold]:
    return {r.threshold: getattr(cfg.thresholds, r.threshold).as_threshold() for r in metrics.RULES}


def prometheus_query(conn_id: str, timeout_s: float) -> Query:
    """``GET /api/v1/query`` through the http provider's hook on ``conn_id`` (bounded: adapters.http)."""
    from mercenary_maintenance.adapters.http import prometheus_query as bounded_query

    return bounded_query(conn_id, timeout_s)


def measure(cfg: MaintenanceConfig, query: Query | None = None) -> list[tuple[Finding, Threshold]]:
    """Findings of every alert metric, each with the threshold it was evaluated against."""
    thresholds = thresholds_of(cfg)
    conn_id = cfg.alerts.prometheus_conn_id
    if conn_id is None and query is None:
        found = metrics.host_findings(thresholds, list(cfg.host.paths)) + metrics.no_prometheus(thresholds)
    else:
        if query is None:
            assert conn_id is not None
            query = prometheus_query(conn_id, cfg.alerts.prometheus_timeout_seconds)
        found = metrics.prometheus_findings(thresholds, metrics.queries(cfg.alerts.queries), query)
    by_check = {r.check: thresholds[r.threshold] for r in metrics.RULES}
    return [(f, by_check[f.check]) for f in found]


def _annotate(pairs: list[tuple[Finding, Threshold]], state: AlertState) -> None:
    """Show in the report which alerts are pending or firing after this evaluation."""
    for finding, _ in pairs:
        for level in ("warning", "critical"):
            record = state.alerts.get(f"{finding.check}|{finding.target}|{level}")
            if record is not None:
                status = "firing" if record.firing_since else f"pending since {record.active_since}"
                finding.details[f"alert_{level}"] = status


def slack_sender(conn_id: str) -> Callable[[str], None]:
    from mercenary_maintenance.notify import post_to_slack

    return lambda text: post_to_slack(conn_id, text)


def run_evaluation(
    step: Step,
    *,
    store: StateStore | None = None,
    query: Query | None = None,
    send: Callable[[str], None] | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    from mercenary_maintenance.notify import run_link

    cfg = step.cfg
    pairs = measure(cfg, query)
    step.add(f for f, _ in pairs)
    store = store or VariableStateStore(cfg.alerts.state_variable)
    state, notes = advance(store.load(), [Observation.from_finding(f, t) for f, t in pairs],
                           now or datetime.now(UTC), policy_of(cfg))
    _annotate(pairs, state)
    send = send or slack_sender(cfg.alerts.slack_conn_id)
    link = run_link(cfg.alerts.base_url, step.run.dag_id, step.run.run_id)
    undelivered = []
    for note in notes:
        summary = f"{note.kind} {note.severity} {note.check} on {note.target}"
        with step.action("alerts.notify", note.target, why=summary, check=note.check, kind=note.kind) as act:
            result = deliver(format_notification(note, link), send, attempts=cfg.alerts.slack_attempts,
                             delay_s=cfg.alerts.slack_retry_delay_seconds, sleep=sleep)
            info = {"check": note.check, "kind": note.kind, "severity": note.severity,
                    "incident": note.incident, "attempts": result.attempts}
            if result.ok:
                act.done(f"sent: {summary}", **info)
            else:
                undelivered.append(note)
                act.failed(f"not delivered after {result.attempts} attempts ({result.error}); kept for the next run: "
                           f"{summary}", **info)
    store.save(with_undelivered(state, undelivered))
