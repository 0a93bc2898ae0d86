"""Tasks of the health area, declared as data, and the task groups the DAG files add."""

from __future__ import annotations

from mercenary_maintenance.health import bodies
from mercenary_maintenance.wiring.dagkit import Group, TaskSpec

SERVICES = TaskSpec("check_services", bodies.services_body)
HOST = TaskSpec("check_host", bodies.host_body, over="hosts")
TLS = TaskSpec("check_tls_certificates", bodies.tls_body)
HEADERS = TaskSpec("check_security_headers", bodies.headers_body)
FAILED_LOGINS = TaskSpec("check_failed_logins", bodies.failed_logins_body)
CLOSED_PORTS = TaskSpec("check_closed_ports", bodies.closed_ports_body)
HOST_LOGINS = TaskSpec("check_host_logins", bodies.host_logins_body, over="hosts")


DAILY_GROUP = Group("health", SERVICES, HOST, TLS, HEADERS, FAILED_LOGINS, HOST_LOGINS, CLOSED_PORTS)
