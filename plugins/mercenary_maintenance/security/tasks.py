"""Tasks of the security area, declared as data, and where the DAG files add them."""

from __future__ import annotations

from mercenary_maintenance.security import bodies
from mercenary_maintenance.wiring.dagkit import Group, TaskSpec

SCAN_VULNERABILITIES = TaskSpec("scan_vulnerabilities", bodies.vulnerabilities_body)
CREDENTIAL_AGE = TaskSpec("check_credential_age", bodies.credential_age_body)
SECURITY_GROUPS = TaskSpec("audit_security_groups", bodies.security_groups_body)
FIREWALL_CHANGES = TaskSpec("review_firewall_changes", bodies.firewall_changes_body)
HOST_PACKAGES = TaskSpec("check_host_packages", bodies.host_packages_body, over="hosts")
HOST_FIREWALL = TaskSpec("review_host_firewall", bodies.host_firewall_body, over="hosts")


WEEKLY_GROUP = Group("security", SCAN_VULNERABILITIES, HOST_PACKAGES)
MONTHLY_GROUP = Group("security", SECURITY_GROUPS, CREDENTIAL_AGE, FIREWALL_CHANGES, HOST_FIREWALL)
