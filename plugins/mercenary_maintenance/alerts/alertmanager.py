"""Route ``alertmanager``: the alert state as Alertmanager API v2 alerts (pure payloads + one post).

Like Prometheus, every run re-posts every firing alert with ``endsAt`` ``alerts.alertmanager_ttl_seconds``
ahead: Alertmanager keeps one alert per label set, so re-posting refreshes it, and an alert
whose sender stopped expires on its own. A resolved alert is posted once with ``endsAt`` = now.
Each run also posts ``MercenaryWatchdog``, always firing: route it to a heartbeat receiver
(dead-man's switch) — when it stops arriving, alert_evaluation stopped.

Labels: ``alertname`` (the check), ``target``, ``severity`` (warning|critical), ``level`` (P1–P4),
``dag_id``. Annotations: the message, the response time, the run link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from mercenary_maintenance.alerts.policy import Policy
from mercenary_maintenance.alerts.state import AlertRecord, AlertState, Notification, alert_key
from mercenary_maintenance.findings import Severity

WATCHDOG = "MercenaryWatchdog"
DAG_ID = "alert_evaluation"


class Client(Protocol):
    def post_alerts(self, alerts: Sequence[dict[str, Any]]) -> None: ...
    def alerts(self, filters: Sequence[str] = ()) -> list[dict[str, Any]]: ...


def _labels(check: str, target: str, severity: str, level: str) -> dict[str, str]:
    return {"alertname": check, "target": target, "severity": severity, "level": level, "dag_id": DAG_ID}


def firing(record: AlertRecord, policy: Policy, ends: datetime, link: str) -> dict[str, Any]:
    level = policy.incident_level(record.check, Severity.parse(record.level))
    return {
        "labels": _labels(record.check, record.target, record.level, level.name),
        "annotations": {"summary": record.message[:1000], "response": f"respond within {level.response_text}",
                        "run": link},
        "startsAt": record.firing_since or record.active_since,
        "endsAt": ends.isoformat(),
        "generatorURL": link,
    }


def resolved(note: Notification, now: datetime, link: str) -> dict[str, Any]:
    return {
        "labels": _labels(note.check, note.target, note.severity, note.incident),
        "annotations": {"summary": note.message[:1000], "response": f"respond within {note.response}", "run": link},
        "startsAt": note.since,
        "endsAt": now.isoformat(),
        "generatorURL": link,
    }


def watchdog(now: datetime, ends: datetime, link: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": WATCHDOG, "severity": "none", "dag_id": DAG_ID},
        "annotations": {"summary": "alert_evaluation is running: this alert is always firing. Route it to a "
                                   "heartbeat receiver; when it stops, alert_evaluation stopped.", "run": link},
        "startsAt": now.isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": link,
    }


def payload(state: AlertState, notes: Iterable[Notification], policy: Policy, now: datetime, ttl: timedelta,
            link: str) -> list[dict[str, Any]]:
    """Every firing alert (refreshed; warnings under a firing critical left out), every alert resolved
    in this run, and the watchdog.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = AlertRecord("services.status", "postgres:main", "critical", t.isoformat(), t.isoformat(), message="down")
    >>> p = payload(AlertState({r.key: r}), [], Policy(p1_checks=frozenset({"services.status"})), t,
    ...             timedelta(minutes=15), "http://x")
    >>> [(a["labels"]["alertname"], a["labels"].get("level"), a["endsAt"]) for a in p]
    [('services.status', 'P1', '2026-01-01T00:15:00+00:00'), ('MercenaryWatchdog', None, '2026-01-01T00:15:00+00:00')]
    """
    ends = now + ttl
    live = [r for r in state.alerts.values() if r.firing_since is not None]
    critical = {(r.check, r.target) for r in live if r.level == "critical"}
    # A firing critical alert inhibits the warning of the same check and target (as on Slack).
    out = [firing(r, policy, ends, link) for r in live if r.level == "critical" or (r.check, r.target) not in critical]
    out += [resolved(n, now, link) for n in notes if n.kind == "resolved"]
    out.append(watchdog(now, ends, link))
    return out


def acknowledged(answer: Iterable[dict[str, Any]]) -> frozenset[str]:
    """Keys of our alerts that Alertmanager holds silenced (a person acknowledged them).

    >>> acknowledged([{"labels": {"alertname": "services.status", "target": "redis:cache", "severity": "critical"},
    ...                "status": {"state": "suppressed", "silencedBy": ["s1"]}},
    ...               {"labels": {"alertname": "host.cpu", "target": "db1", "severity": "critical"},
    ...                "status": {"state": "active", "silencedBy": []}}])
    frozenset({'services.status|redis:cache|critical'})
    """
    out = set()
    for alert in answer:
        labels, status = alert.get("labels") or {}, alert.get("status") or {}
        if status.get("silencedBy") and "alertname" in labels:
            out.add(alert_key(labels["alertname"], labels.get("target", ""), labels.get("severity", "")))
    return frozenset(out)
