"""The task of the alerts area, declared as data."""

from __future__ import annotations

from mercenary_maintenance.alerts.evaluation import run_evaluation
from mercenary_maintenance.dagkit import TaskSpec

EVALUATE = TaskSpec("evaluate_alerts", run_evaluation)

