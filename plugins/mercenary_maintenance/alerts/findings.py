"""A maintenance run's findings through an alert state (``alerts.stateful_findings``, default
the daily run): a problem that persists day after day is posted once, reminded at
``alerts.findings_repeat_interval_hours``, and a resolved notice goes out when it clears —
instead of the same message every day. What is due is posted as one message per run.

The same state machine as ``alert_evaluation`` (``alerts.state``), one Airflow Variable per
DAG (``<alerts.state_variable>_findings_<dag_id>``), no ``for`` delay (a run's finding is
already confirmed) and no escalation (nobody is paged twice for a daily finding). State
before send: the outbox is saved before Slack is called.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import Notification, Observation, advance, with_undelivered
from mercenary_maintenance.alerts.store import StateStore, VariableStateStore
from mercenary_maintenance.config import MaintenanceConfig
from mercenary_maintenance.delivery import deliver
from mercenary_maintenance.findings import Severity
from mercenary_maintenance.report.resolution import effective_severity
from mercenary_maintenance.runner import mask
from mercenary_maintenance.windows.rules import UTC

_INCLUDED = {"critical": ("critical",), "warning": ("critical", "warning", "unknown"), "none": ()}


def policy(cfg: MaintenanceConfig) -> Policy:
    a = cfg.alerts
    return Policy(for_duration=timedelta(0), repeat_interval=timedelta(hours=a.findings_repeat_interval_hours),
                  primary_oncall=a.primary_oncall, secondary_oncall=a.secondary_oncall,
                  p1_checks=frozenset(a.p1_checks), p4_checks=frozenset(a.p4_checks), escalate=False)


def observations(report: dict[str, Any], level: str) -> list[Observation]:
    """Every finding of the report as an observation; below ``alerts.notify_findings`` it counts as ok
    (so it resolves), an ``unknown`` counts as a warning (nobody knows: somebody should look)."""
    included = _INCLUDED[level]
    out = []
    for f in report["findings"]:
        after = effective_severity(f)  # a finding the run's own maintenance fixed counts as fixed
        if after not in included:
            severity = Severity.OK
        else:
            severity = Severity.CRITICAL if after == "critical" else Severity.WARNING
        value = f.get("value") if isinstance(f.get("value"), (int, float)) else None
        out.append(Observation(f["check"], f["target"], severity, value, None, str(f.get("message", ""))))
    return out


def state_store(cfg: MaintenanceConfig, dag_id: str) -> StateStore:
    return VariableStateStore(f"{cfg.alerts.state_variable}_findings_{dag_id}")


def announce_findings(
    cfg: MaintenanceConfig,
    report: dict[str, Any],
    link: str,
    *,
    store: StateStore | None = None,
    send: Callable[[str], None] | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Advance the DAG's findings state with this run and post what changed as one message
    (undelivered items of earlier runs included); returns the texts sent.

    Raises when the message could not be delivered (its items stay in the outbox)."""
    from mercenary_maintenance.alerts.evaluation import slack_sender

    store = store or state_store(cfg, report["dag_id"])
    state, notes = advance(store.load(), observations(report, cfg.alerts.notify_findings),
                           now or datetime.now(UTC), policy(cfg))
    store.save(with_undelivered(state, notes))  # state before send
    if not notes:
        return []
    send = send or slack_sender(cfg.alerts.slack_conn_id, cfg.timeouts, cfg.alerts.slack_timeout_seconds)
    text = digest(report, notes, link)
    result = deliver(text, send, attempts=cfg.alerts.slack_attempts, delay_s=cfg.alerts.slack_retry_delay_seconds,
                     sleep=sleep, deadline=time.monotonic() + cfg.alerts.slack_send_budget_seconds)
    if not result.ok:
        raise RuntimeError(f"findings notice not delivered ({result.error}); its {len(notes)} item(s) are kept "
                           "for the next run")
    store.save(with_undelivered(state, []))
    return [text]


_KIND = {"firing": "NEW", "repeat": "STILL", "escalation": "STILL", "resolved": "RESOLVED"}


def digest(report: dict[str, Any], notes: list[Notification], link: str, limit: int = 15) -> str:
    """One Slack message per run with what changed: new problems, reminders, resolved ones.

    >>> from mercenary_maintenance.alerts.state import Notification
    >>> n = Notification("firing", "backup.freshness", "main", "critical", None, None, "no good full backup",
    ...                  "P2", "1 h", "t0", "t0")
    >>> r = Notification("resolved", "redis.memory", "cache", "warning", 40, None, "40% of maxmemory", "P3", "4 h",
    ...                  "t0", "t1")
    >>> print(digest({"dag_id": "maintenance_daily", "run_id": "r1", "status": "critical"}, [n, r], "http://x"))
    :rotating_light: *maintenance_daily* run `r1` finished *critical* — 1 new, 0 reminder(s), 1 resolved:
    • NEW critical `backup.freshness` main (P2, respond within 1 h): no good full backup
    • RESOLVED warning `redis.memory` cache (P3, respond within 4 h): 40% of maxmemory
    <http://x|open the run>
    """
    counts = {k: sum(1 for n in notes if _KIND[n.kind] == k) for k in ("NEW", "STILL", "RESOLVED")}
    icon = {"critical": ":rotating_light:", "ok": ":large_green_circle:"}.get(report["status"], ":warning:")
    lines = [f"{icon} *{report['dag_id']}* run `{report['run_id']}` finished *{report['status']}* — "
             f"{counts['NEW']} new, {counts['STILL']} reminder(s), {counts['RESOLVED']} resolved:"]
    order = {"NEW": 0, "STILL": 1, "RESOLVED": 2}
    ranked = sorted(notes, key=lambda n: (order[_KIND[n.kind]], n.severity != "critical", n.check, n.target))
    lines += [f"• {_KIND[n.kind]} {n.severity} `{n.check}` {n.target} ({n.incident}, respond within {n.response}): "
              f"{n.message}" for n in ranked[:limit]]
    if len(ranked) > limit:
        lines.append(f"… and {len(ranked) - limit} more in the report")
    lines.append(f"<{link}|open the run>")
    return mask("\n".join(lines))
