"""Task bodies of the monthly security checks (functions of a Step, so tests run them directly)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Finding, Severity, not_configured
from mercenary_maintenance.security import credentials
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def _aws_keys(step: Step, now: datetime) -> Finding:
    conn_id = step.cfg.security.aws_conn_id
    assert conn_id is not None
    region, client = credentials.iam_client(conn_id, step.cfg.timeouts)
    keys = credentials.iam_access_keys(client)
    max_age = step.cfg.security.credential_max_age_days
    return credentials.aws_finding(f"aws:{region}", sum(1 for k in keys if k.get("Status") == "Active"),
                                   credentials.access_key_problems(keys, now, max_age), max_age)


def _pg_roles(step: Step, target: str) -> Finding:
    from mercenary_maintenance.pg.session import open_session

    cfg = step.cfg
    with open_session(cfg.postgres_target(target), purpose="credential age",
                      lock_timeout_s=cfg.postgres.lock_timeout_seconds,
                      statement_timeout_s=cfg.postgres.check_statement_timeout_seconds, timeouts=cfg.timeouts) as s:
        rows = s.rows("credential_age")
    return credentials.role_finding(f"postgres:{target}", rows, cfg.postgres.role_audit_allow)


def credential_age_body(step: Step, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """security.credential_age: IAM access keys older/unused than security.credential_max_age_days; PostgreSQL
    login roles whose password never expires or has expired."""
    if step.cfg.security.aws_conn_id is None:
        step.add(Finding(credentials.CHECK, "aws", Severity.OK, "security.aws_conn_id is not set: no AWS account's "
                         "access keys to check", details={"not_configured": True}))
    else:
        step.check(credentials.CHECK, "aws", partial(_aws_keys, step, now()))
    for target in step.cfg.targets.postgres:
        step.check(credentials.CHECK, f"postgres:{target.name}", partial(_pg_roles, step, target.name))


FIREWALL_STATE = "firewall_snapshot"


def firewall_changes_body(step: Step) -> None:
    """security.firewall_changes: security groups and closed ports diffed against the last snapshot."""
    from mercenary_maintenance.adapters import tcp
    from mercenary_maintenance.adapters.s3 import security_groups
    from mercenary_maintenance.report.state import keeper
    from mercenary_maintenance.security import firewall

    sec = step.cfg.security
    if sec.aws_conn_id is None and not sec.closed_ports:
        step.add(Finding(firewall.CHECK, "aws", Severity.OK, "security.aws_conn_id and security.closed_ports are "
                         "unset: no firewall to review", details={"not_configured": True}))
        return

    def review() -> Finding:
        region, groups = "none", list[dict[str, Any]]()
        if sec.aws_conn_id is not None:
            region, groups = security_groups(sec.aws_conn_id, timeouts=step.cfg.timeouts)
        ports: dict[str, bool] = {}
        for spec in sec.closed_ports:
            host, port = tcp.parse_host_port(spec)
            ports[spec] = tcp.probe_port(host, port, sec.port_timeout_seconds)[0]
        state = keeper(step.cfg, FIREWALL_STATE)
        previous = state.load()
        current = firewall.snapshot(region, groups, ports)
        result = firewall.finding(f"aws:{region}", previous, current)
        result.details["snapshot"] = state.save(current)
        return result

    step.check(firewall.CHECK, "aws", review)


def security_groups_body(step: Step) -> None:
    """security.aws_security_groups: no ingress open to 0.0.0.0/0 or ::/0 on non-web ports."""
    from mercenary_maintenance.security import groups

    conn_id = step.cfg.security.aws_conn_id
    if conn_id is None:
        step.add(not_configured(groups.AWS_GROUPS, "aws", "security.aws_conn_id is not set: no AWS account to audit"))
        return
    audit = partial(groups.audit_groups, conn_id, step.cfg.security.web_ports, step.cfg.timeouts)
    step.check(groups.AWS_GROUPS, "aws", audit)
