"""``host.disk_usage`` and ``host.inode_usage`` of paths: the health area's daily disk check and the
logs area's before/after of archival and cleanup measure them here."""

from __future__ import annotations

import os
import socket

from mercenary_maintenance.findings import Finding, Threshold, measured


def disk_findings(path: str, host: str, stat: os.statvfs_result, disk: Threshold, inodes: Threshold) -> list[Finding]:
    """Usage as ``df`` computes it: used / (used + available to non-root)."""
    used_blocks = stat.f_blocks - stat.f_bfree
    usable = used_blocks + stat.f_bavail
    disk_pct = round(100.0 * used_blocks / usable, 2) if usable else None
    used_inodes = stat.f_files - stat.f_ffree
    inode_pct = round(100.0 * used_inodes / stat.f_files, 2) if stat.f_files else None
    target = f"{host}:{path}"
    free_gib = stat.f_bavail * stat.f_frsize / 2**30
    return [
        measured("host.disk_usage", target, disk_pct, disk, f"{path} is {disk_pct}% full ({free_gib:.1f} GiB free)",
                 {"path": path, "free_bytes": stat.f_bavail * stat.f_frsize}),
        measured("host.inode_usage", target, inode_pct, inodes,
                 f"{path} uses {inode_pct}% of its inodes" if inode_pct is not None else f"{path} has no inode limit",
                 {"path": path, "free_inodes": stat.f_ffree}),
    ]


def check_paths(paths: list[str], disk: Threshold, inodes: Threshold) -> list[Finding]:
    host = socket.gethostname()
    out: list[Finding] = []
    for path in paths:
        out.extend(disk_findings(path, host, os.statvfs(path), disk, inodes))
    return out


def existing_parent(path: str) -> str:
    """``path`` or its nearest existing parent (a logs folder may not exist yet)."""
    while not os.path.exists(path) and path not in ("", "/"):
        path = os.path.dirname(path)
    return path or "/"
