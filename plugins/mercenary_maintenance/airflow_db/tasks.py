"""Tasks of the airflow_db area, declared as data, and the task group the DAG files add."""

from __future__ import annotations

from mercenary_maintenance.airflow_db import bodies
from mercenary_maintenance.wiring.dagkit import Group, TaskSpec

CLEAN = TaskSpec("clean_airflow_metadata", bodies.clean_metadata)


WEEKLY_GROUP = Group("airflow_db", CLEAN)
