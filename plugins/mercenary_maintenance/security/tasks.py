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


@task(task_id="check_credential_age")
def check_credential_age() -> dict[str, Any]:
    """security.credential_age: IAM access keys older/unused than security.credential_max_age_days;
    PostgreSQL login roles whose password never expires or has expired."""
    from mercenary_maintenance.security.bodies import credential_age_body
    from mercenary_maintenance.steps import execute_step

    return execute_step(credential_age_body)


@task(task_id="review_firewall_changes")
def review_firewall_changes() -> dict[str, Any]:
    """security.firewall_changes: security groups and closed ports diffed against the last snapshot."""
    from mercenary_maintenance.security.bodies import firewall_changes_body
    from mercenary_maintenance.steps import execute_step

    return execute_step(firewall_changes_body)


def monthly() -> None:
    """Inside the monthly DAG's ``security`` group (built by ``health.tasks.monthly``)."""
    check_credential_age()
    review_firewall_changes()
