"""The task of the alerts area, declared as data."""

from __future__ import annotations

from functools import partial

from mercenary_maintenance.alerts.evaluation import run_evaluation
from mercenary_maintenance.dagkit import ACTING_TASKS, TaskSpec

# Every 5 minutes: the one task also writes the run's report (no second task process per run).
# A maintenance run counts as a window only while one of its acting tasks runs (ACTING_TASKS).
EVALUATE = TaskSpec("evaluate_alerts", partial(run_evaluation, acting=ACTING_TASKS), writes_report=True)

