"""Tasks of the reviews area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from mercenary_maintenance.dagkit import Group, TaskSpec
from mercenary_maintenance.reviews import run

PERFORMANCE = TaskSpec("performance_review", run.monthly_review)
CAPACITY_ACCESS = TaskSpec("capacity_access_review", run.quarterly_review)


MONTHLY_GROUP = Group("reviews", PERFORMANCE)
QUARTERLY_GROUP = Group("reviews", CAPACITY_ACCESS)
