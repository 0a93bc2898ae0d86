"""``security.firewall_changes`` (monthly): the plan's "review firewall rules, document all changes".

A snapshot of the audited security groups (every ingress rule as ``proto/ports from source``)
and of the ports that must stay closed is kept beside the reports, one per run; the finding is
the diff against the previous snapshot, by group. A new ingress from ``0.0.0.0/0`` or ``::/0``
is critical, any other change a warning (to be documented), no change ok.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.security.groups import WORLD

CHECK = "security.firewall_changes"


def _ports(perm: Mapping[str, Any]) -> str:
    proto = str(perm.get("IpProtocol", "-1"))
    low, high = perm.get("FromPort"), perm.get("ToPort")
    if proto == "-1" or low is None or high is None or low == -1:
        return "all"
    return f"{proto}/{low}" if low == high else f"{proto}/{low}-{high}"


def rules_of(group: Mapping[str, Any]) -> list[str]:
    """Ingress rules as sorted strings.

    >>> rules_of({"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
    ...   "IpRanges": [{"CidrIp": "10.0.0.0/8"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
    ...   "UserIdGroupPairs": [{"GroupId": "sg-1"}]}]})
    ['tcp/22 from 10.0.0.0/8', 'tcp/22 from ::/0', 'tcp/22 from sg-1']
    """
    out: set[str] = set()
    for perm in group.get("IpPermissions", []):
        ports = _ports(perm)
        sources = [r["CidrIp"] for r in perm.get("IpRanges", [])] + \
            [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])] + \
            [p.get("GroupId", "?") for p in perm.get("UserIdGroupPairs", [])] + \
            [p.get("PrefixListId", "?") for p in perm.get("PrefixListIds", [])]
        out.update(f"{ports} from {source}" for source in sources)
    return sorted(out)


def snapshot(region: str, groups: Iterable[Mapping[str, Any]], closed_ports: Mapping[str, bool]) -> dict[str, Any]:
    return {"region": region,
            "groups": {str(g["GroupId"]): {"name": g.get("GroupName"), "vpc": g.get("VpcId"), "ingress": rules_of(g)}
                       for g in groups},
            "closed_ports": {spec: ("open" if is_open else "closed") for spec, is_open in closed_ports.items()}}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Changes by group: group added/removed, rule added/removed; port opened/closed."""
    changes: list[dict[str, Any]] = []
    old, new = before.get("groups", {}), after.get("groups", {})
    for gid in sorted(set(old) | set(new)):
        name = (new.get(gid) or old.get(gid) or {}).get("name")
        was, now = set((old.get(gid) or {}).get("ingress", [])), set((new.get(gid) or {}).get("ingress", []))
        if gid not in old:
            changes.append({"group_id": gid, "group_name": name, "change": "group added"})
        elif gid not in new:
            changes.append({"group_id": gid, "group_name": name, "change": "group removed"})
        changes += [{"group_id": gid, "group_name": name, "change": "rule added", "rule": r} for r in sorted(now - was)]
        changes += [{"group_id": gid, "group_name": name, "change": "rule removed", "rule": r}
                    for r in sorted(was - now)]
    ports_before, ports_after = before.get("closed_ports", {}), after.get("closed_ports", {})
    for spec in sorted(set(ports_before) | set(ports_after)):
        if spec in ports_before and ports_before.get(spec) != ports_after.get(spec):
            now = ports_after.get(spec, "unchecked")
            changes.append({"port": spec, "change": f"port {ports_before[spec]} → {now}"})
    for change in changes:
        rule = change.get("rule", "")
        world = change["change"] == "rule added" and any(rule.endswith(f" from {w}") for w in WORLD)
        opened = change["change"].endswith("→ open")
        change["severity"] = "critical" if world or opened else "warning"
    return changes


def finding(target: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Finding:
    groups = len(after.get("groups", {}))
    if before is None:
        return Finding(CHECK, target, Severity.OK, f"first snapshot of {groups} security group(s): the baseline for "
                       "the next review", value=0, details={"baseline": True, "groups": groups})
    changes = diff(before, after)
    worst = max((Severity.parse(c["severity"]) for c in changes), default=Severity.OK)
    shown = "; ".join(f"{c.get('group_id') or c.get('port')} ({c.get('group_name') or ''}) {c['change']}"
                      + (f" {c['rule']}" if c.get("rule") else "") for c in changes[:10])
    message = (f"{len(changes)} firewall change(s) since the last review: {shown}" if changes
               else f"no change in {groups} security group(s) since the last review")
    return Finding(CHECK, target, worst, message, value=len(changes), details={"changes": changes, "groups": groups})
