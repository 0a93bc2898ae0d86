"""Alert evaluation, routing and notification."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mercenary_maintenance.config.base import StrictModel

# The alert metrics ``alert_evaluation`` measures: the names ``alerts.queries`` may set. The alerts
# area's table (``alerts.metrics.RULES``) has one rule per name (a unit test holds them equal).
ALERT_METRICS = frozenset({"host.cpu", "host.memory", "host.disk_usage", "app.error_rate", "app.latency_p95"})


AlertRoute = Literal["slack", "alertmanager"]


def _slack_only() -> list[AlertRoute]:
    return ["slack"]


class AlertsConfig(StrictModel):
    slack_conn_id: str = "maintenance_slack"
    prometheus_conn_id: str | None = None
    for_seconds: int = Field(300, ge=0)
    repeat_interval_seconds: int = Field(4 * 3600, ge=60)
    primary_oncall: str | None = None
    secondary_oncall: str | None = None
    base_url: str = "http://localhost:8080"
    queries: dict[str, str] = Field(default_factory=dict)
    """PromQL per check (one of ALERT_METRICS); unset ones use the node-exporter / HTTP-histogram defaults of
    alerts.metrics."""
    prometheus_timeout_seconds: float = Field(10, gt=0)
    p1_checks: list[str] = Field(default_factory=lambda: ["app.error_rate", "services.status"])
    """Critical alerts of these checks are P1 (15 min); other critical alerts P2 (1 h); warnings P3 (4 h)."""
    p4_checks: list[str] = Field(default_factory=lambda: ["http.security_headers"])
    """Warnings of these checks are P4 (24 h: cosmetic issues that still need a person), not P3."""
    probe_services: bool = True
    """Every alert_evaluation run probes every configured target (PostgreSQL connect + SELECT 1,
    Redis PING, HTTP GET; hosts once they are targets), bounded by ``timeouts``."""
    outage_after_failures: int = Field(2, ge=1, le=12)
    """Consecutive failed probes of one target before ``services.status`` is a critical P1 alert
    (the ``for`` duration does not apply to probes: the count does)."""
    probe_budget_seconds: float = Field(30, gt=0)
    """All probes of one run, in parallel, end within this; a probe still running then is unknown."""
    blind_after_minutes: float = Field(15, gt=0)
    """A metric or probe that stays unknown this long raises ``monitoring.blind`` (warning, P3)."""
    routes: list[AlertRoute] = Field(default_factory=_slack_only, min_length=1)
    """Where alert_evaluation's alerts go; both may be on."""
    alertmanager_conn_id: str = "maintenance_alertmanager"
    """Airflow http connection of Alertmanager (API v2) for the ``alertmanager`` route."""
    alertmanager_ttl_seconds: int = Field(900, ge=60)
    """``endsAt`` of a firing alert (and the watchdog) this far ahead: each run re-posts them, so they
    expire in Alertmanager only when runs stop."""
    slack_attempts: int = Field(3, ge=1, le=10)
    slack_retry_delay_seconds: float = Field(2, ge=0)
    slack_timeout_seconds: float = Field(10, gt=0)
    """Each webhook POST is bounded by this (connect + read); all sends of one evaluation by the budget — what is
    not delivered within it stays in the saved outbox for the next run."""
    slack_send_budget_seconds: float = Field(60, gt=0)
    state_variable: str = "mercenary_alert_state"
    notify_findings: Literal["critical", "warning", "none"] = "warning"
    """After each maintenance run, post the findings at or above this severity to Slack (one digest per run; a
    failed run is announced by the failure notifier instead)."""
    during_window: Literal["annotate", "downgrade", "mute"] = "annotate"
    """An alert on a target while a maintenance window runs on it (CPU during VACUUM) is annotated, downgraded
    (critical → warning) or muted (no firing notices) — never dropped."""
    window_targets: list[str] = Field(default_factory=list)
    """Substrings of alert targets the maintenance windows act on (e.g. the database host's instance); empty: every
    alert target."""
    stateful_findings: list[str] = Field(default_factory=lambda: ["maintenance_daily"])
    """DAGs whose findings go through an alert state (posted once, reminded at the repeat interval, resolved notice)
    instead of one message per run."""
    findings_repeat_interval_hours: float = Field(168, gt=0)

    @field_validator("queries")
    @classmethod
    def _known_queries(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - ALERT_METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(ALERT_METRICS)}")
        return value
