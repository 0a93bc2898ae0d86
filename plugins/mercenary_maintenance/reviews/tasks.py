"""Tasks of the reviews area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from mercenary_maintenance.reviews import bodies
from mercenary_maintenance.wiring.dagkit import Group, TaskSpec

PERFORMANCE = TaskSpec("performance_review", bodies.monthly_review)
CAPACITY_ACCESS = TaskSpec("capacity_access_review", bodies.quarterly_review)


MONTHLY_GROUP = Group("reviews", PERFORMANCE)
QUARTERLY_GROUP = Group("reviews", CAPACITY_ACCESS)
