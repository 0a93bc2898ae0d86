"""Tasks of the reviews area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task_group

from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.reviews import run

PERFORMANCE = TaskSpec("performance_review", run.monthly_review,
                       doc="Monthly: sizes and growth, slow queries, Redis memory, backup storage, access changes.")
CAPACITY_ACCESS = TaskSpec("capacity_access_review", run.quarterly_review,
                           doc="Quarterly: capacity growth over the quarter and roles/privileges changed since the "
                               "last review.")


def monthly() -> Any:
    @task_group(group_id="reviews")
    def reviews() -> None:
        PERFORMANCE.add()

    return reviews()


def quarterly() -> Any:
    @task_group(group_id="reviews")
    def reviews() -> None:
        CAPACITY_ACCESS.add()

    return reviews()
