"""The task of the alerts area, declared as data."""

from __future__ import annotations

from typing import Any

from mercenary_maintenance.alerts.evaluation import run_evaluation
from mercenary_maintenance.dagkit import TaskSpec

EVALUATE = TaskSpec("evaluate_alerts", run_evaluation,
                    doc="host.cpu, host.memory, host.disk_usage, app.error_rate, app.latency_p95 against the plan's "
                        "thresholds, with `for`, dedup, inhibition, escalation and resolved notices to Slack.")


def evaluate() -> Any:
    return EVALUATE.add()
