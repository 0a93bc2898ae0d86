"""``security.aws_security_groups`` (monthly): ingress open to ``0.0.0.0/0`` or ``::/0`` on
anything but the web ports (``security.web_ports``) is critical."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mercenary_maintenance.config import TimeoutsConfig
from mercenary_maintenance.findings import Finding, Severity

AWS_GROUPS = "security.aws_security_groups"
WORLD = ("0.0.0.0/0", "::/0")


def _ranges(perm: Mapping[str, Any]) -> list[str]:
    return [r["CidrIp"] for r in perm.get("IpRanges", []) if r.get("CidrIp") in WORLD] + \
        [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", []) if r.get("CidrIpv6") in WORLD]


def open_ingress(groups: Iterable[Mapping[str, Any]], web_ports: Iterable[int]) -> list[dict[str, Any]]:
    """Ingress rules open to the world on anything but the web ports."""
    web = set(web_ports)
    found = []
    for group in groups:
        for perm in group.get("IpPermissions", []):
            world = _ranges(perm)
            if not world:
                continue
            proto = str(perm.get("IpProtocol", "-1"))
            low, high = perm.get("FromPort"), perm.get("ToPort")
            all_ports = proto == "-1" or low is None or high is None or low == -1
            if not all_ports and set(range(int(low), int(high) + 1)) <= web and proto in ("tcp", "6"):
                continue
            found.append({"group_id": group.get("GroupId"), "group_name": group.get("GroupName"), "protocol": proto,
                          "ports": "all" if all_ports else f"{low}-{high}" if low != high else str(low),
                          "sources": world})
    return found


def security_groups_finding(target: str, groups: int, violations: list[dict[str, Any]]) -> Finding:
    if not violations:
        return Finding(AWS_GROUPS, target, Severity.OK, f"{groups} security groups: no world-open non-web ingress",
                       value=0, threshold=0, details={"groups": groups})
    listed = "; ".join(f"{v['group_id']} ({v['group_name']}) {v['protocol']}/{v['ports']} from {','.join(v['sources'])}"
                       for v in violations[:10])
    return Finding(AWS_GROUPS, target, Severity.CRITICAL,
                   f"{len(violations)} ingress rules open to the world on non-web ports: {listed}",
                   value=len(violations), threshold=0, details={"groups": groups, "open": violations})


def audit_groups(conn_id: str, web_ports: list[int], timeouts: TimeoutsConfig) -> Finding:
    from mercenary_maintenance.adapters.s3 import security_groups

    region, groups = security_groups(conn_id, timeouts=timeouts)
    return security_groups_finding(f"aws:{region}", len(groups), open_ingress(groups, web_ports))
