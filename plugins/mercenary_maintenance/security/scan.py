"""The weekly vulnerability scan of one run: manifests, advisories, first-seen state, findings.

The task body is :func:`.bodies.vulnerabilities_body` (the clock, the advisory loader and the command
runner injectable so tests can seed ages and observe ``apt-get``); what it reads and matches is here.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mercenary_maintenance import runner as runner_mod
from mercenary_maintenance.adapters import s3 as s3_adapter
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.security import osv
from mercenary_maintenance.security.manifests import read_manifest
from mercenary_maintenance.security.vulns import (
    os_matches,
    parse_apt_simulation,
    vulnerabilities_finding,
)

if TYPE_CHECKING:
    from mercenary_maintenance.config import MaintenanceConfig
    from mercenary_maintenance.steps import Step

VULNS = "security.vulnerabilities"
SLA = "security.patch_sla"
STATE_NAME = "security_first_seen"
APT_ARGV = ("apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade")


def load_advisories(cfg: MaintenanceConfig) -> osv.Advisories:
    url = cfg.security.advisories
    assert url is not None

    def s3() -> Any:

        return s3_adapter.client(cfg.backups.conn_id, timeouts=cfg.timeouts)

    return osv.load(url, s3)


def _unknown_pair(name: str, reason: str, details: dict[str, Any] | None = None) -> list[Finding]:
    return [Finding(check, name, Severity.UNKNOWN, reason, details=dict(details or {})) for check in (VULNS, SLA)]


def os_upgrades(runner: Callable[..., Any] | None = None, timeout_s: float = 120) -> list[dict[str, str]]:

    kwargs: dict[str, Any] = {"timeout": timeout_s}
    if runner is not None:
        kwargs["runner"] = runner
    proc = runner_mod.run(list(APT_ARGV), **kwargs)
    return parse_apt_simulation(proc.stdout or "")


def manifest_matches(step: Step, db: osv.Advisories) -> dict[str, list[osv.Match]]:
    """Each configured manifest's pinned packages against the advisories: a ``security.vulnerabilities``
    finding per manifest (an unreadable one ``unknown``, with its SLA); the matches by manifest name."""
    found: dict[str, list[osv.Match]] = {}
    for m in step.cfg.security.dependency_manifests:
        try:
            manifest = read_manifest(m.path, m.kind)
        except (OSError, ValueError) as exc:
            step.add(_unknown_pair(m.name, f"manifest {m.path} unreadable: {type(exc).__name__}: {exc}"))
            continue
        matches = [hit for p in manifest.packages for hit in db.match(p.ecosystem, p.name, p.version)]
        found[m.name] = matches
        step.add(vulnerabilities_finding(m.name, m.path, matches, len(manifest.packages), manifest.unpinned,
                                         db.source))
    return found


def os_package_matches(step: Step, runner: Callable[..., Any] | None) -> dict[str, list[osv.Match]]:
    """The worker's pending Debian security upgrades: one ``security.vulnerabilities`` finding (``unknown``,
    with its SLA, when ``apt-get -s upgrade`` fails); the matches under ``host:<hostname>``."""
    host = f"host:{socket.gethostname()}"
    try:
        upgrades = os_upgrades(runner)
    except Exception as exc:
        step.add(_unknown_pair(host, f"apt-get -s upgrade failed: {type(exc).__name__}: {exc}"))
        return {}
    matches = os_matches(upgrades)
    step.add(vulnerabilities_finding(host, "debian packages", matches, len(upgrades), [], "apt (Debian-Security)"))
    return {host: matches}


def advisories_or_unknown(step: Step, load: Callable[[MaintenanceConfig], osv.Advisories]) -> osv.Advisories | None:
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
