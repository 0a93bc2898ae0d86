"""The weekly vulnerability scan of one run: manifests, advisories, first-seen state, findings.

``run_scan(step)`` is the task body; the clock, the advisory loader and the command runner are
injectable so tests can seed ages and observe ``apt-get``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.security import osv
from mercenary_maintenance.security.manifests import read_manifest
from mercenary_maintenance.security.vulns import (
    SlaPolicy,
    os_matches,
    parse_apt_simulation,
    patch_sla_finding,
    update_first_seen,
    vulnerabilities_finding,
)
from mercenary_maintenance.windows.rules import UTC

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig
    from mercenary_maintenance.report.state import StateKeeper
    from mercenary_maintenance.steps import Step

VULNS = "security.vulnerabilities"
SLA = "security.patch_sla"
STATE_NAME = "security_first_seen"
APT_ARGV = ("apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade")


def load_advisories(cfg: MaintenanceConfig) -> osv.Advisories:
    url = cfg.security.advisories
    assert url is not None

    def s3() -> Any:
        from mercenary_maintenance.adapters import s3 as s3_adapter

        return s3_adapter.client(cfg.backups.conn_id, timeouts=cfg.timeouts)

    return osv.load(url, s3)


def _unknown_pair(name: str, reason: str, details: dict[str, Any] | None = None) -> list[Finding]:
    return [Finding(check, name, Severity.UNKNOWN, reason, details=dict(details or {})) for check in (VULNS, SLA)]


def os_upgrades(runner: Callable[..., Any] | None = None, timeout_s: float = 120) -> list[dict[str, str]]:
    from mercenary_maintenance import runner as runner_mod

    kwargs: dict[str, Any] = {"timeout": timeout_s}
    if runner is not None:
        kwargs["runner"] = runner
    proc = runner_mod.run(list(APT_ARGV), **kwargs)
    return parse_apt_simulation(proc.stdout or "")


def run_scan(
    step: Step,
    *,
    now: datetime | None = None,
    advisories: Callable[[MaintenanceConfig], osv.Advisories] = load_advisories,
    state: StateKeeper | None = None,
    runner: Callable[..., Any] | None = None,
) -> None:
    """security.vulnerabilities and security.patch_sla: pinned Python/npm packages (and pending Debian security
    upgrades) against OSV advisories, with the plan's patch SLAs."""
    cfg, sec = step.cfg, step.cfg.security
    now = now or datetime.now(UTC)
    if not sec.dependency_manifests and not sec.scan_os_packages:
        step.add(Finding(VULNS, "all", Severity.OK, "no manifest configured (security.dependency_manifests) and "
                         "security.scan_os_packages is off: nothing scanned", details={"not_configured": True}))
        return
    db = _advisories_or_unknown(step, advisories) if sec.dependency_manifests else None
    if state is None:
        from mercenary_maintenance.report.state import keeper

        state = keeper(cfg, STATE_NAME)
    seen: dict[str, str] = dict((state.load() or {}).get("first_seen", {}))
    policy = SlaPolicy({str(k): v for k, v in sec.patch_sla_hours.items()})
    found: dict[str, list[osv.Match]] = {}
    if db is not None:
        for m in sec.dependency_manifests:
            try:
                manifest = read_manifest(m.path, m.kind)
            except (OSError, ValueError) as exc:
                step.add(_unknown_pair(m.name, f"manifest {m.path} unreadable: {type(exc).__name__}: {exc}"))
                continue
            matches = [hit for p in manifest.packages for hit in db.match(p.ecosystem, p.name, p.version)]
            found[m.name] = matches
            step.add(vulnerabilities_finding(m.name, m.path, matches, len(manifest.packages), manifest.unpinned,
                                             db.source))
    if sec.scan_os_packages:
        host = f"host:{socket.gethostname()}"
        try:
            upgrades = os_upgrades(runner)
        except Exception as exc:
            step.add(_unknown_pair(host, f"apt-get -s upgrade failed: {type(exc).__name__}: {exc}"))
        else:
            matches = os_matches(upgrades)
            found[host] = matches
            step.add(vulnerabilities_finding(host, "debian packages", matches, len(upgrades), [],
                                             "apt (Debian-Security)"))
    for name, matches in found.items():
        seen = update_first_seen(seen, name, matches, now)
        step.add(patch_sla_finding(name, matches, seen, now, policy))
    if found:
        state.save({"first_seen": seen}, now)


def _advisories_or_unknown(step: Step, load: Callable[[MaintenanceConfig], osv.Advisories]) -> osv.Advisories | None:
    """The advisory database, or None after recording every manifest ``unknown`` with the reason:
    no source, an unreadable one or an empty one is never mistaken for "no vulnerabilities"."""
    sec = step.cfg.security
    reason: str | None = None
    extra: dict[str, Any] = {}
    db: osv.Advisories | None = None
    if sec.advisories is None:
        reason = "no advisory source configured (security.advisories): vulnerabilities cannot be known"
    else:
        try:
            db = load(step.cfg)
        except Exception as exc:
            reason = f"advisory source {sec.advisories} unreadable: {type(exc).__name__}: {exc}"
        else:
            if db.records == 0:
                reason = f"advisory source {db.source} holds no OSV record: vulnerabilities cannot be known"
                extra = {"problems": db.problems[:10]}
    if reason is None:
        return db
    for m in sec.dependency_manifests:
        step.add(_unknown_pair(m.name, reason, extra))
    return None
