"""``security.vulnerabilities`` and ``security.patch_sla``: pinned packages of each manifest
matched against OSV advisories, and the age of each vulnerability against the plan's patch
SLAs ("critical patches within 24 hours, high-severity within 7 days").

Pure functions; ``security.tasks`` loads the files, the advisories and the first-seen state.
A vulnerability's age counts from its first sighting (kept across runs, per manifest,
package and advisory id — upgrading to another affected version does not reset it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.security.osv import Match, count_by_severity
from mercenary_maintenance.windows.rules import MONTHLY_WINDOW, UTC  # noqa: F401  (UTC: doctests)

MAX_LISTED = 50


@dataclass(frozen=True)
class SlaPolicy:
    """Hours per severity; severities without one are due at the next monthly window's start."""

    hours: Mapping[str, float]
    next_window: Callable[[datetime], datetime] = lambda t: MONTHLY_WINDOW.first_starting_at_or_after(t).start

    def due(self, severity: str, first_seen: datetime) -> datetime:
        if severity in self.hours:
            return first_seen + timedelta(hours=self.hours[severity])
        return self.next_window(first_seen)


def sla_severity(first_seen: datetime, due: datetime, now: datetime) -> Severity:
    """Warning from half the SLA on, critical past it.

    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [sla_severity(t0, t0 + timedelta(hours=24), t0 + timedelta(hours=h)).label for h in (11.9, 12, 24, 24.1)]
    ['ok', 'warning', 'warning', 'critical']
    """
    if now > due:
        return Severity.CRITICAL
    if now - first_seen >= (due - first_seen) / 2:
        return Severity.WARNING
    return Severity.OK


def seen_key(manifest: str, match: Match) -> str:
    return f"{manifest}|{match.ecosystem}|{match.package.lower()}|{match.id}"


def update_first_seen(state: Mapping[str, str], manifest: str, matches: list[Match], now: datetime) -> dict[str, str]:
    """Keep first sightings of this manifest's current vulnerabilities (new ones at ``now``); drop fixed ones."""
    others = {k: v for k, v in state.items() if not k.startswith(f"{manifest}|")}
    mine = {seen_key(manifest, m): state.get(seen_key(manifest, m), now.isoformat()) for m in matches}
    return others | mine


def _upgrade(m: Match) -> str:
    return f"{m.package} {m.version} → {m.fixed}" if m.fixed else f"{m.package} {m.version} (no fixed version yet)"


def vulnerabilities_finding(name: str, path: str, matches: list[Match], packages: int,
                            unpinned: list[str], source: str) -> Finding:
    counts = count_by_severity(matches)
    if not matches:
        severity = Severity.OK
    elif counts["critical"]:
        severity = Severity.CRITICAL
    else:
        severity = Severity.WARNING
    shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    upgrades = sorted({_upgrade(m) for m in matches})
    message = (f"{len(matches)} known vulnerabilit{'y' if len(matches) == 1 else 'ies'} in {packages} pinned "
               f"package(s) ({shown}); upgrade: {'; '.join(upgrades[:5])}" if matches
               else f"no known vulnerability in {packages} pinned package(s) (advisories: {source})")
    if unpinned:
        message += f"; {len(unpinned)} unpinned requirement(s) not checked"
    return Finding("security.vulnerabilities", name, severity, message, value=len(matches), details={
        "manifest": path, "packages": packages, "counts": counts, "advisory_source": source,
        "vulnerabilities": [m.to_dict() for m in matches[:MAX_LISTED]], "upgrade_to": upgrades[:MAX_LISTED],
        "unpinned": unpinned[:MAX_LISTED]})


def patch_sla_finding(name: str, matches: list[Match], first_seen: Mapping[str, str], now: datetime,
                      policy: SlaPolicy, manifest: str | None = None) -> Finding:
    items: list[dict[str, Any]] = []
    worst = Severity.OK
    for m in matches:
        seen = datetime.fromisoformat(first_seen.get(seen_key(manifest or name, m), now.isoformat()))
        due = policy.due(m.severity, seen)
        state = sla_severity(seen, due, now)
        worst = max(worst, state)
        items.append({"id": m.id, "package": m.package, "version": m.version, "severity": m.severity,
                      "fixed": m.fixed, "first_seen": seen.isoformat(), "due": due.isoformat(),
                      "age_hours": round((now - seen).total_seconds() / 3600, 1), "sla": state.label})
    items.sort(key=lambda i: (-Severity.parse(i["sla"]), i["due"]))
    overdue = [i for i in items if i["sla"] == "critical"]
    half = [i for i in items if i["sla"] == "warning"]
    if not items:
        message = "no open vulnerability: nothing due"
    else:
        def show(i: dict[str, Any]) -> str:
            return f"{i['id']} ({i['severity']}, {i['package']} {i['version']} → {i['fixed'] or '?'}, due {i['due']})"
        message = (f"{len(overdue)} past the patch SLA, {len(half)} past half of it"
                   + (f": {'; '.join(show(i) for i in (overdue + half)[:5])}" if overdue or half else ""))
    return Finding("security.patch_sla", name, worst, message, value=len(overdue),
                   details={"items": items[:MAX_LISTED], "sla_hours": dict(policy.hours),
                            "others_due": "next monthly window"})


_INST = re.compile(r"^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+) ([^\[]*?)(?: \[[^\]]*\])?\)")


def parse_apt_simulation(output: str) -> list[dict[str, str]]:
    """Pending upgrades from ``apt-get -s upgrade``; ``security`` marks those from a security suite.

    >>> out = ('Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])\\n'
    ...        'Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])\\nConf libssl3 (x)')
    >>> [(p["package"], p["security"]) for p in parse_apt_simulation(out)]
    [('libssl3', 'yes'), ('tzdata', 'no')]
    """
    out = []
    for line in output.splitlines():
        match = _INST.match(line)
        if match:
            origin = match.group(4)
            out.append({"package": match.group(1), "installed": match.group(2) or "", "candidate": match.group(3),
                        "origin": origin, "security": "yes" if "security" in origin.lower() else "no"})
    return out


def os_matches(upgrades: list[dict[str, str]]) -> list[Match]:
    """Pending Debian security upgrades as matches (rated high: Debian's DSAs carry no score here)."""
    return [Match(f"DEBIAN-SECURITY:{u['package']}:{u['candidate']}", (), "Debian", u["package"], u["installed"],
                  "high", None, u["candidate"], f"security upgrade pending from {u['origin']}", None)
            for u in upgrades if u["security"] == "yes"]
