"""Alerting policy: ``for`` duration, repeat interval, on-call handles and incident levels.

Incident levels are the plan's "Incident Response" table: a critical alert is P1
(15 minutes, complete outage) for the checks listed in ``alerts.p1_checks`` (by default
``services.status`` and ``app.error_rate``) and P2 (1 hour) otherwise; a warning is P3
(4 hours), or P4 (24 hours, cosmetic) for the checks in ``alerts.p4_checks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from mercenary_maintenance.findings import Severity


@dataclass(frozen=True)
class IncidentLevel:
    name: str
    response: timedelta
    meaning: str

    @property
    def response_text(self) -> str:
        minutes = int(self.response.total_seconds() // 60)
        return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


P1 = IncidentLevel("P1", timedelta(minutes=15), "Critical")
P2 = IncidentLevel("P2", timedelta(hours=1), "High")
P3 = IncidentLevel("P3", timedelta(hours=4), "Medium")
P4 = IncidentLevel("P4", timedelta(hours=24), "Low")
LEVELS = (P1, P2, P3, P4)


@dataclass(frozen=True)
class Policy:
    for_duration: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    primary_oncall: str | None = None
    secondary_oncall: str | None = None
    p1_checks: frozenset[str] = field(default_factory=lambda: frozenset({"app.error_rate"}))
    p4_checks: frozenset[str] = frozenset()
    # Checks that fire after this many consecutive holding observations instead of ``for_duration``
    # (service probes: ``alerts.outage_after_failures``; ``monitoring.blind``: at once).
    fire_after: Mapping[str, int] = field(default_factory=dict)
    # Re-send an overdue critical alert to the secondary on-call (off for daily findings).
    escalate: bool = True

    def incident_level(self, check: str, severity: Severity) -> IncidentLevel:
        """>>> Policy().incident_level("host.cpu", Severity.CRITICAL).name
        'P2'
        """
        if severity is Severity.CRITICAL:
            return P1 if check in self.p1_checks else P2
        return P4 if check in self.p4_checks else P3
