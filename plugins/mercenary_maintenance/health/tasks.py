"""Tasks of the health area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task_group

from mercenary_maintenance.dagkit import TaskSpec
from mercenary_maintenance.health import bodies

SERVICES = TaskSpec("check_services", bodies.services_body,
                    doc="services.status: every configured PostgreSQL, Redis and HTTP target answers "
                        "(HTTP: status, latency).")
DISK = TaskSpec("check_disk_usage", bodies.disk_body,
                doc="host.disk_usage and host.inode_usage for the configured paths and Airflow's logs folder.")
TLS = TaskSpec("check_tls_certificates", bodies.tls_body,
               doc="tls.certificate_expiry (30/7 days) and tls.certificate_validity of every HTTPS target.")
HEADERS = TaskSpec("check_security_headers", bodies.headers_body,
                   doc="http.security_headers: the plan's seven headers, observatory-style score.")
FAILED_LOGINS = TaskSpec("check_failed_logins", bodies.failed_logins_body,
                         doc="security.failed_logins: failed authentications in each PostgreSQL target's log file.")
CLOSED_PORTS = TaskSpec("check_closed_ports", bodies.closed_ports_body,
                        doc="security.open_ports: every host:port of security.closed_ports refuses connections.")
SECURITY_GROUPS = TaskSpec("audit_security_groups", bodies.security_groups_body,
                           doc="security.aws_security_groups: no ingress open to 0.0.0.0/0 or ::/0 on non-web ports.")


def daily() -> Any:
    @task_group(group_id="health")
    def health() -> None:
        for spec in (SERVICES, DISK, TLS, HEADERS, FAILED_LOGINS, CLOSED_PORTS):
            spec.add()

    return health()


def monthly() -> Any:
    from mercenary_maintenance.security import tasks as more_security

    @task_group(group_id="security")
    def security() -> None:
        SECURITY_GROUPS.add()
        more_security.monthly()

    return security()
