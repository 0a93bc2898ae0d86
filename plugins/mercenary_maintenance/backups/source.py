"""Source identity: which cluster (``pg_control_system().system_identifier``) and database a backup
comes from, so two deployments sharing a bucket, prefix and target name never touch each other's
backups.

The identity is in the key (the attempt directory ends in ``-s<tag>``, a short hash of system
identifier and database, so a listing tells owners apart without reading a manifest) and in the
manifest (``system_identifier``, ``database``). Retiring attempts, the "already backed up" no-op and
retention consider only backups of the same source; backups of another source — and those written
before identities existed — are left alone, and a prefix holding another source is a
``backup.source`` warning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.manifest import sql_text
from mercenary_maintenance.findings import Finding, Severity

CHECK = "backup.source"


@dataclass(frozen=True)
class Source:
    system_identifier: str
    database: str

    @property
    def tag(self) -> str:
        """
        >>> Source("7312345678901234567", "app").tag
        's9ab47e2cd9'
        """
        return "s" + hashlib.sha256(f"{self.system_identifier}/{self.database}".encode()).hexdigest()[:10]


def of(conn: Any) -> Source:
    row = conn.execute(sql_text("source_identity")).fetchone()
    return Source(str(row[0]), str(row[1]))


def tag_of(backup: Backup) -> str:
    """The source tag in a backup's attempt directory ("" for backups written before identities).

    >>> tag_of(Backup("full", "main", "d1", "p/", attempt="a01-3f9c2b-s9ab47e2cd9"))
    's9ab47e2cd9'
    >>> tag_of(Backup("full", "main", "d1", "p/", attempt="a01-3f9c2b"))
    ''
    """
    parts = backup.attempt.split("-")
    return parts[2] if len(parts) == 3 and parts[2].startswith("s") else ""


def own(backups: list[Backup], me: Source) -> list[Backup]:
    return [b for b in backups if tag_of(b) == me.tag]


def others(target: str, where: str, backups: list[Backup], me: Source) -> Finding:
    """backup.source: does ``where`` hold backups of another source (or of none recorded)?"""
    foreign: dict[str, int] = {}
    for backup in backups:
        tag = tag_of(backup)
        if tag != me.tag:
            foreign[tag or "unrecorded"] = foreign.get(tag or "unrecorded", 0) + 1
    details = {"source": me.tag, "database": me.database, "system_identifier": me.system_identifier,
               "prefix": where, "others": foreign}
    if not foreign:
        return Finding(CHECK, target, Severity.OK, f"{where} holds only backups of this source ({me.tag})",
                       details=details)
    listed = ", ".join(f"{n} of {t}" for t, n in sorted(foreign.items()))
    return Finding(CHECK, target, Severity.WARNING,
                   f"{where} also holds backups of another cluster/database ({listed}); they are left alone "
                   "(not counted, retired or expired) — give each deployment its own prefix or target name",
                   details=details)
