"""The task body of the alerts area: one alert evaluation (what it measures, probes, advances and
sends is :mod:`.evaluation`, the order that makes delivery at-least-once included)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from mercenary_maintenance.alerts import alertmanager, evaluation
from mercenary_maintenance.alerts.probes import ServiceProbe
from mercenary_maintenance.alerts.state import advance, blindness
from mercenary_maintenance.alerts.store import StateStore, VariableStateStore
from mercenary_maintenance.findings import Finding, Severity, Threshold
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC


def evaluate_alerts(
    step: Step,
    *,
    store: StateStore | None = None,
    query: evaluation.Query | None = None,
    send: Callable[[str], None] | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    windows: Callable[[], list[str]] | None = None,
    acting: Mapping[str, Sequence[str]] | None = None,
    probes: Mapping[str, ServiceProbe] | None = None,
    am_client: Callable[[], alertmanager.Client] | None = None,
) -> None:
    """host.cpu, host.memory, host.disk_usage, app.error_rate, app.latency_p95 against the plan's thresholds,
    services.status of every target (probed every run), monitoring.blind, with `for`, dedup, inhibition,
    escalation and resolved notices to Slack and Alertmanager."""
    cfg = step.cfg
    now = now or datetime.now(UTC)
    probing = evaluation.start_probes(cfg, probes)  # in parallel with the metrics (psutil samples 0.5 s)
    pairs: list[tuple[Finding, Threshold | None]] = list(evaluation.measure(cfg, query, host=step.host))
    probed = probing()
    step.add(f for f, _ in pairs)
    step.add(probed)
    pairs += [(f, None) for f in probed]
    store = store or VariableStateStore(cfg.alerts.state_variable)
    loaded = store.load()
    # A running window only changes what is wrong or what resolves: when all is well and nothing is
    # open, the Execution API is not asked (one question per maintenance DAG, 288 runs a day).
    running: list[str] = []
    if loaded.alerts or any(f.severity in (Severity.WARNING, Severity.CRITICAL) for f, _ in pairs):
        running = windows() if windows is not None else evaluation.running_windows(step.ti, acting)
    observed = evaluation.excuse_outage(evaluation.observe(pairs, running, cfg), pairs, evaluation.probes_down(probed))
    state, blind = blindness(loaded, observed, now, timedelta(minutes=cfg.alerts.blind_after_minutes))
    step.add(evaluation.blind_findings(blind))
    client = None
    if "alertmanager" in cfg.alerts.routes:
        client = (am_client or (lambda: evaluation.default_am_client(cfg)))()
    policy = evaluation.policy_of(cfg)
    state, notes = advance(state, observed + blind, now, policy, evaluation.acknowledged_in(client))
    evaluation.annotate(pairs, state)
    if client is not None:
        evaluation.post_alertmanager(step, client, state, notes, now, policy)
    evaluation.send_notes(step, store, state, notes, send=send, sleep=sleep, saved=loaded)
