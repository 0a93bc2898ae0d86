"""Task bodies of the security area (functions of a Step, so tests run them directly); what they read and
judge stays in the area's other modules (:mod:`.scan`, :mod:`.hosts`, :mod:`.credentials`, …)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.adapters import tcp
from mercenary_maintenance.adapters.s3 import security_groups
from mercenary_maintenance.findings import Finding, Severity, not_configured
from mercenary_maintenance.pg.session import open_session
from mercenary_maintenance.report.state import keeper
from mercenary_maintenance.security import credentials, firewall, groups, hosts, osv, scan
from mercenary_maintenance.security.vulns import (
    SlaPolicy,
    parse_apt_simulation,
    patch_sla_finding,
    update_first_seen,
)
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig
    from mercenary_maintenance.report.state import StateKeeper
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

    conn_id = step.cfg.security.aws_conn_id
    if conn_id is None:
        step.add(not_configured(groups.AWS_GROUPS, "aws", "security.aws_conn_id is not set: no AWS account to audit"))
        return
    audit = partial(groups.audit_groups, conn_id, step.cfg.security.web_ports, step.cfg.timeouts)
    step.check(groups.AWS_GROUPS, "aws", audit)


def vulnerabilities_body(
    step: Step,
    *,
    now: datetime | None = None,
    advisories: Callable[[MaintenanceConfig], osv.Advisories] = scan.load_advisories,
    state: StateKeeper | None = None,
    runner: Callable[..., Any] | None = None,
) -> None:
    """security.vulnerabilities and security.patch_sla: pinned Python/npm packages (and pending Debian security
    upgrades) against OSV advisories, with the plan's patch SLAs."""
    cfg, sec = step.cfg, step.cfg.security
    now = now or datetime.now(UTC)
    if not sec.dependency_manifests and not sec.scan_os_packages:
        step.add(Finding(scan.VULNS, "all", Severity.OK, "no manifest configured (security.dependency_manifests) and "
                         "security.scan_os_packages is off: nothing scanned", details={"not_configured": True}))
        return
    db = scan.advisories_or_unknown(step, advisories) if sec.dependency_manifests else None
    if state is None:
        state = keeper(cfg, scan.STATE_NAME)
    seen: dict[str, str] = dict((state.load() or {}).get("first_seen", {}))
    policy = SlaPolicy({str(k): v for k, v in sec.patch_sla_hours.items()})
    found: dict[str, list[osv.Match]] = {}
    if db is not None:
        found.update(scan.manifest_matches(step, db))
    if sec.scan_os_packages:
        found.update(scan.os_package_matches(step, runner))
    for name, matches in found.items():
        seen = update_first_seen(seen, name, matches, now)
        step.add(patch_sla_finding(name, matches, seen, now, policy))
    if found:
        state.save({"first_seen": seen}, now)


def host_packages_body(step: Step, host: str, *, now: datetime | None = None) -> None:
    """security.pending_updates, security.patch_sla and host.package_cache of one host (apt there, with the age of
    its package lists: stale lists are a warning); host.package_cache_clean when opted in."""
    sec = step.cfg.security
    moment = now or datetime.now(UTC)
    t = step.host(host)
    found: dict[str, Any] = {}

    def pending() -> Finding:
        upgrades = parse_apt_simulation(t.run("apt_simulate").stdout)
        found["upgrades"] = upgrades
        finding = hosts.pending_finding(host, upgrades, hosts.lists_age_hours(t, time.time()),
                                        sec.apt_lists_max_age_hours)
        found["stale"] = finding.details["stale"]
        return finding

    step.check(hosts.PENDING, host, pending)
    if "upgrades" in found:
        step.check(hosts.SLA, host, lambda: hosts.patch_sla(step, host, found["upgrades"], found["stale"], moment))
    step.check(hosts.CACHE, host, lambda: hosts.cache_finding(host, hosts.cache_bytes(t), sec))
    if sec.package_cache_clean:
        with step.action(hosts.CLEAN, host, why="remove downloaded .deb files (security.package_cache_clean)") as act:
            before = hosts.cache_bytes(t)
            t.run("apt_clean")
            after = hosts.cache_bytes(t)
            act.done(f"apt-get clean on {host}: {before - after} bytes freed ({after} left)",
                     freed_bytes=before - after, left_bytes=after)


def host_firewall_body(step: Step, host: str) -> None:
    """security.firewall_changes of one host: its nftables/iptables ruleset diffed against the last snapshot (kept
    in the report store)."""
    if not step.cfg.security.firewall_hosts:
        step.add(not_configured(hosts.FIREWALL, f"{host}:firewall", "security.firewall_hosts is off: host rulesets are "
                                "not reviewed"))
        return
    step.check(hosts.FIREWALL, f"{host}:firewall", lambda: hosts.firewall_review(step, host))
