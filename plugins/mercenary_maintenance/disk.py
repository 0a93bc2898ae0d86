"""``host.disk_usage`` and ``host.inode_usage`` of paths: the health area's daily disk check and the
logs area's before/after of archival and cleanup measure them here."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from mercenary_maintenance.findings import Finding, Threshold, measured

if TYPE_CHECKING:
    from mercenary_maintenance.hosts import Transport


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


def parse_df(text: str) -> tuple[int, int, int]:
    """(total, used, available) of the one filesystem in ``df -P`` output (blocks or inodes).

    >>> parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\\ntmpfs 20480 19000 1480 93% /var/log\\n")
    (20480, 19000, 1480)
    >>> parse_df("Filesystem Inodes IUsed IFree IUse% Mounted on\\noverlay - - - - /\\n")
    (0, 0, 0)
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError(f"unexpected df output: {text[:200]!r}")
    fields = lines[-1].split()
    # A long device name wraps onto its own line in some df versions: the numbers are the last five.
    numbers = fields[-5:-2]
    return tuple(int(n) if n.isdigit() else 0 for n in numbers)  # type: ignore[return-value]


def df_findings(host: str, path: str, blocks: tuple[int, int, int], inodes: tuple[int, int, int],
                disk: Threshold, inode_threshold: Threshold) -> list[Finding]:
    """``host.disk_usage`` and ``host.inode_usage`` of ``path`` on ``host`` from ``df -P -k`` / ``df -P -i``,
    computed as df does: used / (used + available to non-root)."""
    _, used, avail = blocks
    usable = used + avail
    disk_pct = round(100.0 * used / usable, 2) if usable else None
    total_i, used_i, free_i = inodes
    inode_pct = round(100.0 * used_i / total_i, 2) if total_i else None
    target = f"{host}:{path}"
    details = {"host": host, "path": path}
    return [
        measured("host.disk_usage", target, disk_pct, disk,
                 f"{path} on {host} is {disk_pct}% full ({avail / 2**20:.1f} GiB free)",
                 {**details, "free_bytes": avail * 1024}),
        measured("host.inode_usage", target, inode_pct, inode_threshold,
                 f"{path} on {host} uses {inode_pct}% of its inodes" if inode_pct is not None
                 else f"{path} on {host} has no inode limit", {**details, "free_inodes": free_i}),
    ]


def host_paths(transport: Transport, paths: list[str], disk: Threshold, inodes: Threshold) -> list[Finding]:
    """Disk and inode usage of each path on the transport's host (``df`` there, one path at a time,
    so a missing path is one error, not the host's)."""
    out: list[Finding] = []
    for path in paths:
        blocks = parse_df(transport.run("df_blocks", path).stdout)
        inode_counts = parse_df(transport.run("df_inodes", path).stdout)
        out.extend(df_findings(transport.host.name, path, blocks, inode_counts, disk, inodes))
    return out
