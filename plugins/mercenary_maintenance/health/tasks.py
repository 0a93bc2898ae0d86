"""Task builders of the health area (services, host)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task, task_group


@task(task_id="check_services")
def check_services() -> dict[str, Any]:
    """services.status: every configured PostgreSQL, Redis and HTTP target answers."""
    from mercenary_maintenance.health import services
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        step.check(services.CHECK, "all", lambda: services.check_all(step.cfg))

    return execute_step(body)


@task(task_id="check_disk_usage")
def check_disk_usage() -> dict[str, Any]:
    """host.disk_usage and host.inode_usage for the configured paths."""
    from mercenary_maintenance.health import host
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        th = step.cfg.thresholds
        for path in step.cfg.host.paths:
            step.check("host.disk_usage", path, lambda path=path: host.check_paths(
                [path], th.disk_percent.as_threshold(), th.inode_percent.as_threshold()))

    return execute_step(body)


def daily() -> Any:
    @task_group(group_id="health")
    def health() -> None:
        check_services()
        check_disk_usage()

    return health()
