"""Source identity: which cluster (``pg_control_system().system_identifier``) and database a backup
comes from, so two deployments sharing a bucket, prefix and target name never touch each other's
backups.

The identity is in the key (the attempt directory ends in ``-s<tag>``, a short hash of system
identifier and database, so a listing tells owners apart without reading a manifest) and in the
manifest (``system_identifier``, ``database``). Retiring attempts, the "already backed up" no-op and
retention consider only backups of the same source; backups of another source — and those written
before identities existed — are left alone, and a prefix holding another source is a
``backup.source`` warning.

The checks that only read backups (freshness, redundancy, integrity, the sample and full restore
tests) ask the server who it is too (:func:`identify`) and look at :func:`readable` backups only, so
another cluster's fresh backup never makes this one look fresh or redundant.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.manifest import sql_text
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.pg.params import params
from mercenary_maintenance.redact import first_line

if TYPE_CHECKING:
    from mercenary_maintenance.config import TimeoutsConfig

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


def identify(conn_id: str, timeouts: TimeoutsConfig) -> tuple[Source | None, str]:
    """The target's identity, asked of its server (one bounded session), or (None, why not)."""

    try:
        with params(conn_id, timeouts).connect() as conn:
            return of(conn), ""
    except Exception as exc:  # the caller decides from the listing alone, and says so
        return None, first_line(exc)


def readable(backups: list[Backup], me: Source | None) -> list[Backup] | None:
    """The backups read-only checks may take for this source's: those tagged with its tag, plus those
    written before identities when no other source shares the prefix. Without the identity (``me`` None:
    the server could not be asked) the backups of the one source the prefix holds, or None when it
    holds several (which one is this target's cannot be told).

    >>> mk = lambda a: Backup("full", "main", "d", f"p/{a}/", attempt=a)
    >>> me, old, other = mk("a01-000000-" + Source("1", "app").tag), mk("a01-000000"), mk("a01-000000-s0")
    >>> [b.attempt for b in readable([old, me], Source("1", "app"))] == [old.attempt, me.attempt]
    True
    >>> [b.attempt for b in readable([old, other, me], Source("1", "app"))] == [me.attempt]
    True
    >>> readable([other, me], None) is None, len(readable([old, me], None))
    (True, 2)
    """
    tags = {tag_of(b) for b in backups} - {""}
    if me is None:
        return None if len(tags) > 1 else list(backups)
    allowed = {me.tag} if tags - {me.tag} else {me.tag, ""}
    return [b for b in backups if tag_of(b) in allowed]


def ambiguous(backups: list[Backup], why_unknown: str) -> str:
    """Why :func:`readable` could not choose (several sources, server not asked)."""
    tags = sorted({tag_of(b) for b in backups} - {""})
    return (f"cannot tell which of the {len(tags)} sources under this target's prefix ({', '.join(tags)}) is this "
            f"target's: its server could not be asked ({why_unknown})")


def describe(me: Source | None, why_unknown: str) -> dict[str, Any]:
    """What the findings' details say about whose backups were looked at."""
    if me is None:
        return {"source": None, "source_unknown": why_unknown}
    return {"source": me.tag, "database": me.database, "system_identifier": me.system_identifier}


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
