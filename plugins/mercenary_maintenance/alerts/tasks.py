"""The task of the alerts area, declared as data (the service probes come from the wiring's
:mod:`~mercenary_maintenance.wiring.service_probes`, not the whole registry: this task runs 288 times a day)."""

from __future__ import annotations

from functools import partial

from mercenary_maintenance.alerts.bodies import evaluate_alerts
from mercenary_maintenance.wiring import service_probes
from mercenary_maintenance.wiring.dagkit import ACTING_TASKS, TaskSpec

# Every 5 minutes: the one task also writes the run's report (no second task process per run).
EVALUATE = TaskSpec("evaluate_alerts",
                    partial(evaluate_alerts, probes=service_probes.SERVICE_PROBES, acting=ACTING_TASKS),
                    writes_report=True)
