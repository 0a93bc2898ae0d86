"""Where backups live in the bucket.

``<prefix>/<kind>/<target>/<stamp>/<file>``, kind ``full`` or ``incremental``. The stamp
comes from the run's logical date (a retried task writes the same keys, never a
duplicate); runs without one (manual, emergency) derive it from the run id. Kinds come
first so one lifecycle rule per kind covers every target.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from mercenary_maintenance.windows.rules import UTC

FULL = "full"
INCREMENTAL = "incremental"
KINDS = (FULL, INCREMENTAL)
DUMP = "dump.pgc.zst"
GLOBALS = "globals.sql.zst"  # roles and tablespaces (pg_dumpall --globals-only), beside a dump
BASE_TAR = "base.tar.zst"
PG_MANIFEST = "backup_manifest"
MANIFEST = "manifest.json"


def stamp(logical_date: datetime | None, run_id: str) -> str:
    """
    >>> stamp(datetime(2026, 3, 1, 1, 0, tzinfo=UTC), "scheduled__x")
    '20260301T010000Z'
    >>> stamp(None, "manual__2026-03-01T10:11:12.5+00:00")
    '20260301T101112Z-6c4386'
    >>> stamp(None, "emergency-ops-42")[:7]
    'run-fa8'
    """
    if logical_date is not None:
        return logical_date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha1(run_id.encode()).hexdigest()[:6]
    _, _, tail = run_id.partition("__")
    try:
        started = datetime.fromisoformat(tail)
    except ValueError:
        return f"run-{hashlib.sha1(run_id.encode()).hexdigest()[:12]}"
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return f"{started.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{digest}"


def kind_prefix(prefix: str, kind: str) -> str:
    return f"{prefix.strip('/')}/{kind}/"


def target_prefix(prefix: str, kind: str, target: str) -> str:
    return f"{kind_prefix(prefix, kind)}{target}/"


def backup_dir(prefix: str, kind: str, target: str, stamp_: str) -> str:
    return f"{target_prefix(prefix, kind, target)}{stamp_}/"


@dataclass(frozen=True)
class KeyParts:
    kind: str
    target: str
    stamp: str
    name: str

    @property
    def dir(self) -> str:
        return f"{self.kind}/{self.target}/{self.stamp}/"


def parse(prefix: str, key: str) -> KeyParts | None:
    """
    >>> parse("postgres", "postgres/full/main/20260301T010000Z/manifest.json")
    KeyParts(kind='full', target='main', stamp='20260301T010000Z', name='manifest.json')
    >>> parse("postgres", "logs/app/x.gz") is None
    True
    """
    head = prefix.strip("/") + "/"
    if not key.startswith(head):
        return None
    parts = key[len(head):].split("/")
    if len(parts) != 4 or parts[0] not in KINDS or not all(parts):
        return None
    return KeyParts(*parts)
