"""Security of each host target, through its transport (SSH, or the worker itself for ``local``); the
task bodies are :mod:`.bodies`.

* ``security.pending_updates`` (weekly, target ``<host>``): ``apt-get -s upgrade`` on the host, with the
  age of its package lists (``/var/lib/apt/lists``): lists older than ``security.apt_lists_max_age_hours``
  — or none at all — make the answer stale, a **warning**, never ``ok`` (an old list knows no new fix).
* ``security.patch_sla`` (weekly, target ``<host>``): the pending Debian security upgrades against the
  plan's patch SLAs, first sightings kept beside the reports per host.
* ``host.package_cache`` (weekly): the size of ``/var/cache/apt/archives``; the opt-in action
  ``host.package_cache_clean`` (``security.package_cache_clean``) runs ``apt-get clean`` there.
* ``security.firewall_changes`` (monthly, target ``<host>:firewall``): the host's ruleset (``nft list
  ruleset``, else ``iptables-save``; counters and handles dropped) diffed against the last snapshot kept
  beside the reports (the report store: S3 in production); every added or removed line is listed.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from datetime import datetime
from typing import TYPE_CHECKING

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.hosts import Transport, listdir, unread_on_the_worker
from mercenary_maintenance.report.state import keeper
from mercenary_maintenance.security.vulns import SlaPolicy, os_matches, patch_sla_finding, update_first_seen

if TYPE_CHECKING:
    from mercenary_maintenance.config import SecurityConfig
    from mercenary_maintenance.steps import Step

PENDING = "security.pending_updates"
SLA = "security.patch_sla"
CACHE = "host.package_cache"
CLEAN = "host.package_cache_clean"
FIREWALL = "security.firewall_changes"
APT_LISTS = "/var/lib/apt/lists"
APT_ARCHIVES = "/var/cache/apt/archives"


def lists_age_hours(t: Transport, now: float) -> float | None:
    """Hours since the host's package lists were last fetched (``None``: it has none)."""
    lists = [e for e in listdir(t, APT_LISTS) if e.is_file and e.name not in ("lock",)]
    return None if not lists else max(0.0, (now - max(e.mtime for e in lists)) / 3600)


def pending_finding(host: str, upgrades: list[dict[str, str]], age_h: float | None, max_age_h: float) -> Finding:
    """
    >>> pending_finding("app1", [], 100.0, 48).severity.label
    'warning'
    >>> pending_finding("app1", [], 2.0, 48).message
    'app1: no pending upgrade (package lists 2.0 h old)'
    """
    security = [u for u in upgrades if u["security"] == "yes"]
    notes: list[str] = []
    severity = Severity.WARNING if security else Severity.OK
    if age_h is None:
        severity = Severity.WARNING
        notes.append(f"no package lists in {APT_LISTS}: apt-get update never ran, pending upgrades cannot be known")
    elif age_h > max_age_h:
        severity = Severity.WARNING
        notes.append(f"package lists are stale ({age_h:.0f} h old, over {max_age_h:g} h): run apt-get update; "
                     "newer fixes are not seen")
    age = "none" if age_h is None else f"{age_h:.1f} h old"
    head = (f"{len(upgrades)} pending upgrade(s), {len(security)} from a security suite: "
            + ", ".join(f"{u['package']} {u['installed']} → {u['candidate']}" for u in security[:10])
            if upgrades else "no pending upgrade")
    message = f"{host}: {head} (package lists {age})" + "".join(f"; {n}" for n in notes)
    return Finding(PENDING, host, severity, message, value=len(upgrades), threshold=0,
                   details={"host": host, "upgrades": upgrades[:100], "security_upgrades": len(security),
                            "lists_age_hours": None if age_h is None else round(age_h, 1),
                            "lists_max_age_hours": max_age_h, "stale": age_h is None or age_h > max_age_h})


def cache_bytes(t: Transport) -> int:
    return sum(e.size for e in listdir(t, APT_ARCHIVES) if e.is_file and e.name.endswith(".deb"))


def cache_finding(host: str, size: int, sec: SecurityConfig) -> Finding:
    mb = size / 2**20
    over = mb > sec.package_cache_warning_mb
    clean = ("host.package_cache_clean runs (security.package_cache_clean)" if sec.package_cache_clean
             else "cleaning is opt-in: security.package_cache_clean")
    return Finding(CACHE, host, Severity.WARNING if over else Severity.OK,
                   f"{host}: the apt package cache holds {mb:.1f} MB (warning above {sec.package_cache_warning_mb:g} "
                   f"MB); {clean}", value=round(mb, 1), threshold=sec.package_cache_warning_mb,
                   details={"host": host, "bytes": size, "path": APT_ARCHIVES})


_VOLATILE = (re.compile(r"\s*# handle \d+"), re.compile(r"counter packets \d+ bytes \d+"),
             re.compile(r"\s\[\d+:\d+\]$"), re.compile(r"^# (Generated|Completed) .*$"))


def normalize(ruleset: str) -> list[str]:
    """The ruleset's lines without counters, handles and dump stamps.

    >>> normalize("table inet f { # handle 3\\n  tcp dport 22 counter packets 5 bytes 300 accept # handle 7\\n}")
    ['table inet f {', 'tcp dport 22 counter accept', '}']
    """
    out = []
    for line in ruleset.splitlines():
        for pattern in _VOLATILE:
            line = pattern.sub("counter" if "counter" in pattern.pattern else "", line)
        line = " ".join(line.split())
        if line:
            out.append(line)
    return out


def ruleset(t: Transport) -> tuple[str, list[str]]:
    """(tool, normalized rules) of the host: nftables, else iptables-save."""
    nft = t.run("nft_ruleset", check=False)
    if nft.returncode == 0:
        return "nft", normalize(nft.stdout)
    ipt = t.run("iptables_save", check=False)
    if ipt.returncode == 0:
        return "iptables-save", normalize(ipt.stdout)
    raise RuntimeError(f"{t.host.name}: neither `nft list ruleset` ({nft.stderr.strip()[:120] or nft.returncode}) nor "
                       f"iptables-save ({ipt.stderr.strip()[:120] or ipt.returncode}) could be run")


def firewall_finding(host: str, tool: str, before: list[str] | None, after: list[str]) -> Finding:
    target = f"{host}:firewall"
    digest = hashlib.sha256("\n".join(after).encode()).hexdigest()
    if before is None:
        return Finding(FIREWALL, target, Severity.OK,
                       f"first snapshot of {host}'s {tool} ruleset ({len(after)} lines): "
                       "the baseline for the next review", value=0, details={"baseline": True, "sha256": digest})
    diff = [line for line in difflib.unified_diff(before, after, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    added = [line[1:] for line in diff if line.startswith("+")]
    removed = [line[1:] for line in diff if line.startswith("-")]
    if not diff:
        return Finding(FIREWALL, target, Severity.OK, f"no change in {host}'s {tool} ruleset since the last review",
                       value=0, details={"sha256": digest})
    shown = "; ".join([f"+ {a}" for a in added[:5]] + [f"- {r}" for r in removed[:5]])
    return Finding(FIREWALL, target, Severity.WARNING, f"{len(added)} rule line(s) added, {len(removed)} removed in "
                   f"{host}'s {tool} ruleset since the last review (document them): {shown}", value=len(diff),
                   details={"added": added[:200], "removed": removed[:200], "sha256": digest, "tool": tool})


def patch_sla(step: Step, host: str, upgrades: list[dict[str, str]], stale: bool, moment: datetime) -> Finding:
    """``security.patch_sla`` of one host's pending security upgrades, first sightings kept beside the
    reports per host; never ``ok`` on stale package lists (an old list knows no new fix)."""
    sec = step.cfg.security
    state = keeper(step.cfg, f"host_patches.{host.lower()}")
    seen: dict[str, str] = dict((state.load() or {}).get("first_seen", {}))
    matches = os_matches(upgrades)
    seen = update_first_seen(seen, host, matches, moment)
    state.save({"first_seen": seen}, moment)
    policy = SlaPolicy({str(k): v for k, v in sec.patch_sla_hours.items()})
    finding = patch_sla_finding(host, matches, seen, moment, policy)
    if stale and finding.severity is Severity.OK:  # an old list knows no new fix: never ok
        finding.severity = Severity.WARNING
        finding.message += "; the package lists are stale or missing: newer security fixes are not seen"
    return finding


def firewall_review(step: Step, host: str) -> Finding:
    """``security.firewall_changes`` of one host: its ruleset against the snapshot kept in the report
    store, the new snapshot saved."""
    state = keeper(step.cfg, f"host_firewall.{host.lower()}")
    previous = state.load()
    transport = step.host(host)
    try:
        tool, rules = ruleset(transport)
    except RuntimeError as exc:
        return unread_on_the_worker(transport, FIREWALL, f"{host}:firewall", exc)
    finding = firewall_finding(host, tool, None if previous is None else list(previous["rules"]), rules)
    state.save({"tool": tool, "rules": rules})
    return finding
