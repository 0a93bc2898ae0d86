"""Bodies of the health tasks: services, host, TLS, security headers, security (one per task).

Each is a function of a :class:`~mercenary_maintenance.steps.Step` (integration tests run them
directly); the checks themselves are the pure functions of the modules they call.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from mercenary_maintenance.findings import not_configured

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def services_body(step: Step) -> None:
    """services.status: every configured PostgreSQL, Redis and HTTP target answers (HTTP: status, latency)."""
    from mercenary_maintenance.health import services

    step.check(services.CHECK, "all", partial(services.check_all, step.cfg))


def airflow_logs_folder() -> str | None:
    """Airflow's task-log folder (read at run time), or None when it is not local."""
    from airflow.configuration import conf

    folder = conf.get("logging", "base_log_folder", fallback=None)
    return folder if folder and folder.startswith("/") else None


def host_body(step: Step, host: str) -> None:
    """host.disk_usage and host.inode_usage of the host's paths, and services.status of its services (one host).

    Runs on the host through its transport (SSH, or the worker itself for the implicit host ``local``);
    an unreachable host is ``unknown`` with the reason, within the ``timeouts.ssh`` bounds."""
    from mercenary_maintenance import disk
    from mercenary_maintenance.health import host as host_checks

    target = step.cfg.host_target(host)
    transport = step.host(host)
    th = step.cfg.thresholds
    full, inodes = th.disk_percent.as_threshold(), th.inode_percent.as_threshold()
    paths = list(target.paths)
    if target.implicit:
        logs = airflow_logs_folder()  # the worker's own task logs live here
        if logs:
            paths.append(disk.existing_parent(logs))
    for path in dict.fromkeys(paths):
        step.check("host.disk_usage", f"{host}:{path}", partial(disk.host_paths, transport, [path], full, inodes))
    if not target.services:
        step.add(not_configured(host_checks.CHECK, f"{host}:*",
                                f"targets.hosts[{host}].services is empty: no service of this host is watched"))
    for service in target.services:
        step.check(host_checks.CHECK, f"{host}:{service.name}", partial(host_checks.check_service, transport, service))


def tls_body(step: Step) -> None:
    """tls.certificate_expiry (30/7 days) and tls.certificate_validity of every HTTPS target."""
    from mercenary_maintenance.health import tls

    threshold = step.cfg.thresholds.tls_days_left.as_threshold()
    https = [t for t in step.cfg.targets.http if t.url.startswith("https://")]
    if not https:
        step.add(not_configured(tls.EXPIRY, "all", "targets.http lists no https:// target"))
    for target in https:
        step.check(tls.EXPIRY, target.name, partial(tls.check_target, target, threshold))


def headers_body(step: Step) -> None:
    """http.security_headers: the plan's seven headers, observatory-style score."""
    from mercenary_maintenance.health import headers

    threshold = step.cfg.thresholds.security_headers_score.as_threshold()
    if not step.cfg.targets.http:
        step.add(not_configured(headers.CHECK, "all", "targets.http is empty"))
    for target in step.cfg.targets.http:
        step.check(headers.CHECK, target.name, partial(headers.check_target, target, threshold, step.cfg.timeouts))


def failed_logins_body(step: Step) -> None:
    """security.failed_logins: failed authentications in each PostgreSQL target's log file."""
    from datetime import datetime, timedelta

    from mercenary_maintenance.health import security
    from mercenary_maintenance.windows.rules import UTC

    sec = step.cfg.security
    since = datetime.now(UTC) - timedelta(hours=sec.failed_logins_hours)
    for target in step.cfg.targets.postgres:
        if target.log_file is None:
            step.add(not_configured(security.FAILED_LOGINS, target.name,
                                    f"targets.postgres[{target.name}].log_file is not set: failed logins not counted"))
            continue
        step.check(security.FAILED_LOGINS, target.name,
                   partial(security.check_log, target.name, target.log_file, since, sec))


def closed_ports_body(step: Step) -> None:
    """security.open_ports: every host:port of security.closed_ports refuses connections."""
    from mercenary_maintenance.health import security

    if not step.cfg.security.closed_ports:
        step.add(not_configured(security.OPEN_PORTS, "all", "security.closed_ports is empty"))
    for spec in step.cfg.security.closed_ports:
        step.check(security.OPEN_PORTS, spec,
                   partial(security.check_port, spec, step.cfg.security.port_timeout_seconds))


def host_logins_body(step: Step, host: str) -> None:
    """security.failed_logins on one host: failed SSH logins since the last run, from the host's journal or
    auth.log (through its transport; the PostgreSQL logs are check_failed_logins')."""
    from datetime import datetime

    from mercenary_maintenance.health import host_logins
    from mercenary_maintenance.report.state import keeper
    from mercenary_maintenance.windows.rules import UTC

    sec = step.cfg.security
    if not sec.host_logins:
        step.add(not_configured(host_logins.CHECK, f"{host}:sshd", "security.host_logins is off: failed SSH logins "
                                "on the hosts are not counted"))
        return

    def look() -> object:
        state = keeper(step.cfg, f"host_logins.{host.lower()}")
        finding, new = host_logins.check_host(step.host(host), sec, state.load(), datetime.now(UTC))
        state.save(new)
        return finding

    step.check(host_logins.CHECK, f"{host}:sshd", look)  # type: ignore[arg-type]
