"""One alert evaluation: measure, probe the services, advance the state machine, notify the
routes (Slack, Alertmanager), save the state.

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

Probes (``alerts.probe_services``): every configured target, through the registry's probe of its
kind (:mod:`~mercenary_maintenance.alerts.probes`). No data is never ``ok``: what stays unknown
for ``alerts.blind_after_minutes`` raises ``monitoring.blind`` — except application metrics
without data while an HTTP probe fails: that silence is the outage, alerted as such.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.adapters.alertmanager import Alertmanager
from mercenary_maintenance.adapters.http import prometheus_query as bounded_query
from mercenary_maintenance.alerts import alertmanager, metrics, probes
from mercenary_maintenance.alerts.message import format_notification
from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import (
    BLIND,
    AlertState,
    Notification,
    Observation,
    with_undelivered,
)
from mercenary_maintenance.alerts.store import StateStore, VariableStateStore
from mercenary_maintenance.config import MaintenanceConfig, TimeoutsConfig
from mercenary_maintenance.delivery import to_slack
from mercenary_maintenance.findings import Finding, Severity, Threshold
from mercenary_maintenance.guards import FiringAlert
from mercenary_maintenance.hosts import transport_for
from mercenary_maintenance.notify import run_link
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows import rules

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
        p4_checks=frozenset(a.p4_checks),
        fire_after={probes.CHECK: a.outage_after_failures, BLIND: 1},
    )


def firing_alerts(cfg: MaintenanceConfig, store: StateStore | None = None) -> list[FiringAlert]:
    """The alerts firing now in the saved alert state, with their incident levels (``guards.stop_on_alerts``)."""
    state = (store or VariableStateStore(cfg.alerts.state_variable)).load()
    policy = policy_of(cfg)
    return [FiringAlert(r.check, r.target, policy.incident_level(r.check, Severity.parse(r.level)).name)
            for r in state.alerts.values() if r.firing_since is not None]


def thresholds_of(cfg: MaintenanceConfig) -> dict[str, Threshold]:
    return {r.threshold: getattr(cfg.thresholds, r.threshold).as_threshold() for r in metrics.RULES}


def prometheus_query(conn_id: str, timeout_s: float, timeouts: TimeoutsConfig) -> Query:
    """``GET /api/v1/query`` through the http provider's hook on ``conn_id`` (bounded: adapters.http)."""
    return bounded_query(conn_id, timeout_s, timeouts=timeouts)


def measure(cfg: MaintenanceConfig, query: Query | None = None,
            host: Callable[[str], Any] | None = None) -> list[tuple[Finding, Threshold]]:
    """Findings of every alert metric, each with the threshold it was evaluated against.

    Host metrics are per host (targets.hosts, or the implicit ``local``): from Prometheus when it is
    configured (node_exporter's ``instance`` = the host's ``prometheus_instance``), otherwise through each
    host's transport (``host``: name → transport, the step's)."""
    thresholds = thresholds_of(cfg)
    conn_id = cfg.alerts.prometheus_conn_id
    if conn_id is None and query is None:
        open_host = host or (lambda name: transport_for(cfg, name))
        found = [f for h in cfg.hosts() for f in metrics.transport_findings(thresholds, open_host(h.name), h.paths)]
        found += metrics.no_prometheus(thresholds)
    else:
        if query is None:
            assert conn_id is not None
            query = prometheus_query(conn_id, cfg.alerts.prometheus_timeout_seconds, cfg.timeouts)
        found = metrics.prometheus_findings(thresholds, metrics.queries(cfg.alerts.queries), query)
        if cfg.targets.hosts:  # the implicit host has no instance: every series stays as Prometheus names it
            found = metrics.by_host(found, {h.name: h.prometheus_instance for h in cfg.targets.hosts}, thresholds)
    by_check = {r.check: thresholds[r.threshold] for r in metrics.RULES}
    return [(f, by_check[f.check]) for f in found]


def annotate(pairs: list[tuple[Finding, Threshold | None]], state: AlertState) -> None:
    """Show in the report which alerts are pending or firing after this evaluation."""
    for finding, _ in pairs:
        for level in ("warning", "critical"):
            record = state.alerts.get(f"{finding.check}|{finding.target}|{level}")
            if record is not None:
                status = "firing" if record.firing_since else f"pending since {record.active_since}"
                finding.details[f"alert_{level}"] = status


# Runs during which maintenance may be under way: the window DAGs and emergency runs.
MAINTENANCE_DAGS = (*rules.WINDOW_DAGS, "emergency_maintenance")


def running_windows(ti: Any, acting: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Maintenance DAGs with a run that is acting now: one of its acting tasks (``acting``: the
    DAG's tasks in the heavy/critical pools, from the registry) is running. A run that merely
    exists — an emergency run waiting out its notice, a dry run, a window still checking — is not
    a maintenance window: alerts then are not downgraded or muted.

    Asked through the task's Execution API client (``ti``: ``step.ti``, handed over by the task's
    wiring). Outside a task (direct calls) there is no run to ask about: no window. If the question
    fails, alerting goes on unannotated (logged): an alert matters more than its annotation.
    """
    if ti is None:
        return []
    try:
        if acting is None:  # no registry handed in: every running run counts (the old rule)
            return [dag_id for dag_id in MAINTENANCE_DAGS if ti.get_dr_count(dag_id=dag_id, states=["running"]) > 0]
        return acting_windows(ti, acting)
    except Exception:
        log.warning("could not list running maintenance windows; alerts are not annotated", exc_info=True)
        return []


def acting_windows(ti: Any, acting: Mapping[str, Sequence[str]]) -> list[str]:
    """The maintenance DAGs one of whose acting tasks is running (``ti``: the Execution API client)."""
    return [dag_id for dag_id in MAINTENANCE_DAGS if acting.get(dag_id)
            and ti.get_ti_count(dag_id=dag_id, task_ids=list(acting[dag_id]), states=["running"]) > 0]


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


def observe(pairs: list[tuple[Finding, Threshold | None]], windows: list[str],
            cfg: MaintenanceConfig) -> list[Observation]:
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


def excuse_outage(observations: list[Observation], pairs: list[tuple[Finding, Threshold | None]],
                  down: list[str]) -> list[Observation]:
    """Application metrics without data while an HTTP probe fails: the outage, not blindness."""
    if not down:
        return observations
    why = f"no data while {', '.join(down)} is down: counted as the outage (services.status), not as blindness"
    out = []
    for obs, (finding, _) in zip(observations, pairs, strict=True):
        if obs.check.startswith("app.") and obs.severity is Severity.UNKNOWN:
            obs = replace(obs, excuse=why)
            finding.details["counted_as"] = why
        out.append(obs)
    return out


def blind_findings(blind: list[Observation]) -> list[Finding]:
    return [Finding(BLIND, o.target, o.severity, o.message, value=o.value, threshold=None,
                    details={"blind_minutes": o.value}) for o in blind if o.severity is not Severity.OK]


def start_probes(cfg: MaintenanceConfig, kinds: Mapping[str, probes.ServiceProbe] | None,
                 ) -> Callable[[], list[Finding]]:
    if not cfg.alerts.probe_services or not kinds:
        return list
    return probes.start(cfg, kinds)


def probes_down(found: list[Finding]) -> list[str]:
    return probes.failing_http(found)


def default_am_client(cfg: MaintenanceConfig) -> alertmanager.Client:
    return Alertmanager(cfg.alerts.alertmanager_conn_id, cfg.timeouts)


def acknowledged_in(client: alertmanager.Client | None) -> frozenset[str]:
    """Our alerts silenced in Alertmanager (acknowledged: not escalated). Unknown when it cannot be
    asked: then nothing counts as acknowledged (escalating once too often beats not at all)."""
    if client is None:
        return frozenset()
    try:
        return alertmanager.acknowledged(client.alerts([f'dag_id="{alertmanager.DAG_ID}"']))
    except Exception:
        log.warning("could not ask Alertmanager for silences; no alert counts as acknowledged", exc_info=True)
        return frozenset()


def post_alertmanager(step: Step, client: alertmanager.Client, state: AlertState, notes: list[Notification],
                      now: datetime, policy: Policy) -> None:
    """Post every firing alert, this run's resolved ones and the watchdog (idempotent: re-sent every run)."""
    cfg = step.cfg
    link = run_link(cfg.alerts.base_url, step.run.dag_id, step.run.run_id)
    alerts = alertmanager.payload(state, notes, policy, now, timedelta(seconds=cfg.alerts.alertmanager_ttl_seconds),
                                  link)
    firing = sum(1 for a in alerts if a["labels"]["alertname"] != alertmanager.WATCHDOG
                 and a["endsAt"] != now.isoformat())
    why = f"{firing} firing alert(s), {len(alerts) - firing - 1} resolved, watchdog"
    with step.action("alerts.alertmanager", cfg.alerts.alertmanager_conn_id, why=why) as act:
        client.post_alerts(alerts)
        act.done(f"posted {why}", firing=firing, alerts=[a["labels"] for a in alerts])


def send_notes(
    step: Step,
    store: StateStore,
    state: AlertState,
    notes: list[Notification],
    *,
    send: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    saved: AlertState | None = None,
) -> None:
    """Save ``state`` with ``notes`` as its outbox, then deliver them one by one (state before send).
    ``saved``: the state as loaded; when nothing changed it is not written again."""
    cfg = step.cfg

    def save(new: AlertState) -> None:
        if saved is None or new.to_dict() != saved.to_dict():
            store.save(new)

    if "slack" not in cfg.alerts.routes:
        save(with_undelivered(state, []))
        return
    pending = list(notes)
    save(with_undelivered(state, pending))
    link = run_link(cfg.alerts.base_url, step.run.dag_id, step.run.run_id)
    deadline = clock() + cfg.alerts.slack_send_budget_seconds
    for note in notes:
        summary = f"{note.kind} {note.severity} {note.check} on {note.target}"
        with step.action("alerts.notify", note.target, why=summary, check=note.check, kind=note.kind) as act:
            result = to_slack(format_notification(note, link), conn_id=cfg.alerts.slack_conn_id,
                              timeouts=cfg.timeouts, timeout_s=cfg.alerts.slack_timeout_seconds,
                              attempts=cfg.alerts.slack_attempts, delay_s=cfg.alerts.slack_retry_delay_seconds,
                              deadline=deadline, send=send, sleep=sleep, clock=clock)
            info = {"check": note.check, "kind": note.kind, "severity": note.severity,
                    "incident": note.incident, "attempts": result.attempts}
            if result.ok:
                pending.remove(note)
                store.save(with_undelivered(state, pending))
                act.done(f"sent: {summary}", **info)
            else:
                act.failed(f"not delivered after {result.attempts} attempts ({result.error}); kept for the next run: "
                           f"{summary}", **info)
