"""Tasks of the security area, declared as data, and where the DAG files add them."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task_group

from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.security import bodies, scan

SCAN_VULNERABILITIES = TaskSpec("scan_vulnerabilities", scan.run_scan,
                                doc="security.vulnerabilities and security.patch_sla: pinned Python/npm packages "
                                    "(and pending Debian security upgrades) against OSV advisories, with the plan's "
                                    "patch SLAs.")
CREDENTIAL_AGE = TaskSpec("check_credential_age", bodies.credential_age_body,
                          doc="security.credential_age: IAM access keys older/unused than "
                              "security.credential_max_age_days; PostgreSQL login roles whose password never "
                              "expires or has expired.")
FIREWALL_CHANGES = TaskSpec("review_firewall_changes", bodies.firewall_changes_body,
                            doc="security.firewall_changes: security groups and closed ports diffed against the "
                                "last snapshot.")


def weekly() -> Any:
    @task_group(group_id="security")
    def security() -> None:
        SCAN_VULNERABILITIES.add()

    return security()


def monthly() -> None:
    """Inside the monthly DAG's ``security`` group (built by ``health.tasks.monthly``)."""
    CREDENTIAL_AGE.add()
    FIREWALL_CHANGES.add()
