"""The daily look at one host target: disk and inode usage of its paths, its services.

``services.status`` of a host service (target ``<host>:<service>``): a process pattern
(``pgrep -f``: at least one match) or a systemd unit (``systemctl is-active``: ``active``).
A host that cannot be reached makes every check of it ``unknown`` with the reason — never ``ok``.
"""

from __future__ import annotations

from mercenary_maintenance.config import HostService
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.hosts import Transport

CHECK = "services.status"


def service_finding(host: str, service: HostService, returncode: int, stdout: str, stderr: str) -> Finding:
    """
    >>> service_finding("app1", HostService(name="api", process="api"), 0, "12\\n40\\n", "").message
    "app1:api is running (process 'api': 2 process(es))"
    >>> service_finding("app1", HostService(name="web", unit="nginx.service"), 3, "inactive\\n", "").severity.label
    'critical'
    """
    target = f"{host}:{service.name}"
    details = {"kind": "host", "host": host, "process": service.process, "unit": service.unit}
    if service.process is not None:
        what = f"process {service.process!r}"
        pids = [p for p in stdout.split() if p.isdigit()]
        if returncode == 0 and pids:
            return Finding(CHECK, target, Severity.OK, f"{target} is running ({what}: {len(pids)} process(es))",
                           value="up", threshold="up", details={**details, "pids": pids[:20]})
        if returncode == 1:
            return Finding(CHECK, target, Severity.CRITICAL, f"{target} is down: no process matches {what}",
                           value="down", threshold="up", details=details)
    else:
        what = f"unit {service.unit}"
        state = stdout.strip() or "unknown"
        if returncode == 0 and state == "active":
            return Finding(CHECK, target, Severity.OK, f"{target} is running ({what} active)",
                           value="up", threshold="up", details=details)
        if state in ("inactive", "failed", "activating", "deactivating"):
            return Finding(CHECK, target, Severity.CRITICAL, f"{target} is down: {what} is {state}",
                           value="down", threshold="up", details=details)
    why = (stderr.strip() or stdout.strip() or f"exit {returncode}").splitlines()[-1][:200]
    return Finding(CHECK, target, Severity.UNKNOWN, f"{target}: {what} could not be checked: {why}",
                   details=details)


def check_service(transport: Transport, service: HostService) -> Finding:
    if service.process is not None:
        result = transport.run("pgrep", service.process, check=False)
    else:
        assert service.unit is not None
        result = transport.run("unit_active", service.unit, check=False)
    return service_finding(transport.host.name, service, result.returncode, result.stdout, result.stderr)
