"""Task builders of the security area (called inside a maintenance DAG; they only wire tasks)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task, task_group


@task(task_id="scan_vulnerabilities")
def scan_vulnerabilities() -> dict[str, Any]:
    """security.vulnerabilities and security.patch_sla: pinned Python/npm packages (and pending
    Debian security upgrades) against OSV advisories, with the plan's patch SLAs."""
    from mercenary_maintenance.security.scan import run_scan
    from mercenary_maintenance.steps import execute_step

    return execute_step(run_scan)


def weekly() -> Any:
    @task_group(group_id="security")
    def security() -> None:
        scan_vulnerabilities()

    return security()
