"""The task of the alerts area, declared as data."""

from __future__ import annotations

from mercenary_maintenance.alerts.evaluation import run_evaluation
from mercenary_maintenance.dagkit import TaskSpec

# Every 5 minutes: the one task also writes the run's report (no second task process per run).
EVALUATE = TaskSpec("evaluate_alerts", run_evaluation, writes_report=True)

