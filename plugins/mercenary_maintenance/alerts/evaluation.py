"""One alert evaluation: measure, advance the state machine, notify Slack, save the state.

The thin layer around the pure parts (``metrics``, ``state``, ``message``, ``delivery``):
it reads Prometheus through the http provider's ``HttpHook`` and posts through the slack
provider's ``SlackWebhookHook``. Both are injectable so tests can observe them.

Order matters for at-least-once delivery (Alertmanager's "state before send"): the measured
findings are added to the step first (they are recorded even if Slack fails); the new state
is saved with *every* notification of this run in its outbox **before Slack is called**;
each delivered notification is then taken out of the outbox and the state saved again. A
task killed while Slack hangs (execution timeout, worker lost) therefore leaves a state
that knows every alert and re-sends what may not have gone out (possibly twice, never
zero times). Each POST is bounded by ``alerts.slack_timeout_seconds`` and all sends of one
evaluation by ``alerts.slack_send_budget_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.alerts import metrics
from mercenary_maintenance.alerts.message import format_notification
from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import AlertState, Notification, Observation, advance, with_undelivered
from mercenary_maintenance.alerts.store import StateStore, VariableStateStore
from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.delivery import deliver
from mercenary_maintenance.findings import Finding, Threshold
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows import rules
from mercenary_maintenance.windows.rules import UTC

Query = Callable[[str], Mapping[str, Any]]
log = logging.getLogger(__name__)


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


def measure(cfg: MaintenanceConfig, query: Query | None = None,
            host: Callable[[str], Any] | None = None) -> list[tuple[Finding, Threshold]]:
    """Findings of every alert metric, each with the threshold it was evaluated against.

    Host metrics are per host (targets.hosts, or the implicit ``local``): from Prometheus when it is
    configured (node_exporter's ``instance`` = the host's ``prometheus_instance``), otherwise through each
    host's transport (``host``: name → transport, the step's)."""
    thresholds = thresholds_of(cfg)
    conn_id = cfg.alerts.prometheus_conn_id
    if conn_id is None and query is None:
        from mercenary_maintenance.hosts import transport_for

        open_host = host or (lambda name: transport_for(cfg, name))
        found = [f for h in cfg.hosts() for f in metrics.transport_findings(thresholds, open_host(h.name), h.paths)]
        found += metrics.no_prometheus(thresholds)
    else:
        if query is None:
            assert conn_id is not None
            query = prometheus_query(conn_id, cfg.alerts.prometheus_timeout_seconds)
        found = metrics.prometheus_findings(thresholds, metrics.queries(cfg.alerts.queries), query)
        if cfg.targets.hosts:  # the implicit host has no instance: every series stays as Prometheus names it
            found = metrics.by_host(found, {h.name: h.prometheus_instance for h in cfg.targets.hosts}, thresholds)
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


def slack_sender(conn_id: str, timeout_s: float | None = None) -> Callable[[str], None]:
    from mercenary_maintenance.notify import post_to_slack

    return lambda text: post_to_slack(conn_id, text, timeout_s)


# Runs during which maintenance is under way: the window DAGs and emergency runs.
MAINTENANCE_DAGS = (*rules.WINDOW_DAGS, "emergency_maintenance")


def running_windows() -> list[str]:
    """Window DAGs with a run in progress now (through the task's Execution API client).

    Outside a task (direct calls) there is no run to ask about: no window. If the question
    fails, alerting goes on unannotated (logged): an alert matters more than its annotation.
    """
    from airflow.sdk import get_current_context

    try:
        ti = get_current_context()["ti"]
    except RuntimeError:
        return []
    try:
        return [dag_id for dag_id in MAINTENANCE_DAGS if ti.get_dr_count(dag_id=dag_id, states=["running"]) > 0]
    except Exception:
        log.warning("could not list running maintenance windows; alerts are not annotated", exc_info=True)
        return []


def window_of(target: str, windows: list[str], window_targets: list[str]) -> str | None:
    """The running window that covers ``target``, if any.

    >>> window_of("db1:9100", ["maintenance_weekly"], ["db1"]), window_of("web1:9100", ["maintenance_weekly"], ["db1"])
    ('maintenance_weekly', None)
    >>> window_of("any", ["maintenance_monthly"], []), window_of("any", [], [])
    ('maintenance_monthly', None)
    """
    if not windows or (window_targets and not any(t in target for t in window_targets)):
        return None
    return windows[0]


def observe(pairs: list[tuple[Finding, Threshold]], windows: list[str], cfg: MaintenanceConfig) -> list[Observation]:
    """Observations of the measured findings, routed per ``alerts.during_window`` inside a window
    (the finding in the report keeps its measured severity and says which window was running)."""
    out = []
    for finding, threshold in pairs:
        obs = Observation.from_finding(finding, threshold)
        window = window_of(finding.target, windows, cfg.alerts.window_targets)
        if window is not None:
            routed = obs.during(window, cfg.alerts.during_window)
            finding.details["during_window"] = window
            if routed.severity is not obs.severity:
                finding.details["alert_severity"] = routed.severity.label
            obs = routed
        out.append(obs)
    return out


def run_evaluation(
    step: Step,
    *,
    store: StateStore | None = None,
    query: Query | None = None,
    send: Callable[[str], None] | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    windows: Callable[[], list[str]] = running_windows,
) -> None:
    """host.cpu, host.memory, host.disk_usage, app.error_rate, app.latency_p95 against the plan's thresholds,
    with `for`, dedup, inhibition, escalation and resolved notices to Slack."""
    cfg = step.cfg
    pairs = measure(cfg, query, host=step.host)
    step.add(f for f, _ in pairs)
    store = store or VariableStateStore(cfg.alerts.state_variable)
    state, notes = advance(store.load(), observe(pairs, windows(), cfg), now or datetime.now(UTC), policy_of(cfg))
    _annotate(pairs, state)
    send_notes(step, store, state, notes, send=send, sleep=sleep)


def send_notes(
    step: Step,
    store: StateStore,
    state: AlertState,
    notes: list[Notification],
    *,
    send: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Save ``state`` with ``notes`` as its outbox, then deliver them one by one (state before send)."""
    from mercenary_maintenance.notify import run_link

    cfg = step.cfg
    pending = list(notes)
    store.save(with_undelivered(state, pending))
    send = send or slack_sender(cfg.alerts.slack_conn_id, cfg.alerts.slack_timeout_seconds)
    link = run_link(cfg.alerts.base_url, step.run.dag_id, step.run.run_id)
    deadline = clock() + cfg.alerts.slack_send_budget_seconds
    for note in notes:
        summary = f"{note.kind} {note.severity} {note.check} on {note.target}"
        with step.action("alerts.notify", note.target, why=summary, check=note.check, kind=note.kind) as act:
            result = deliver(format_notification(note, link), send, attempts=cfg.alerts.slack_attempts,
                             delay_s=cfg.alerts.slack_retry_delay_seconds, sleep=sleep, deadline=deadline,
                             clock=clock)
            info = {"check": note.check, "kind": note.kind, "severity": note.severity,
                    "incident": note.incident, "attempts": result.attempts}
            if result.ok:
                pending.remove(note)
                store.save(with_undelivered(state, pending))
                act.done(f"sent: {summary}", **info)
            else:
                act.failed(f"not delivered after {result.attempts} attempts ({result.error}); kept for the next run: "
                           f"{summary}", **info)
