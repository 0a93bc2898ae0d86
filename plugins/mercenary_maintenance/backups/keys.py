"""Where backups live in the bucket.

``<prefix>/<kind>/<target>/<stamp>/<attempt>/<file>``, kind ``full`` or ``incremental``.
The stamp comes from the run's logical date (one logical backup per date); runs without
one (manual, emergency) derive it from the run id. Each attempt (try) writes under its own
``<attempt>`` directory, so a retry never rewrites an object a good backup's manifest
names (see :mod:`.attempts`); its name ends in the source's tag (:mod:`.source`).
Backups written before attempts existed live directly under
``<stamp>/`` (attempt ``""``) and are still read. Kinds come first so one lifecycle rule
per kind covers every target.
"""

from __future__ import annotations

import hashlib
import secrets
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


def attempt_id(try_number: int, source: str = "") -> str:
    """A new attempt's directory name: the try number, a random suffix (never reused) and the source
    tag (:mod:`.source`: which cluster and database).

    >>> a = attempt_id(2, "s0123456789")
    >>> a[:4], len(a), a.endswith("-s0123456789"), a == attempt_id(2, "s0123456789")
    ('a02-', 22, True, False)
    """
    return f"a{max(try_number, 0):02d}-{secrets.token_hex(3)}" + (f"-{source}" if source else "")


def kind_prefix(prefix: str, kind: str) -> str:
    return f"{prefix.strip('/')}/{kind}/"


def target_prefix(prefix: str, kind: str, target: str) -> str:
    return f"{kind_prefix(prefix, kind)}{target}/"


def backup_dir(prefix: str, kind: str, target: str, stamp_: str, attempt: str = "") -> str:
    """The directory of one attempt (``attempt=""``: the stamp's directory, holding all its attempts)."""
    return f"{target_prefix(prefix, kind, target)}{stamp_}/" + (f"{attempt}/" if attempt else "")


@dataclass(frozen=True)
class KeyParts:
    kind: str
    target: str
    stamp: str
    name: str
    attempt: str = ""  # "" for the layout without attempts

    @property
    def dir(self) -> str:
        return f"{self.kind}/{self.target}/{self.stamp}/" + (f"{self.attempt}/" if self.attempt else "")


def parse(prefix: str, key: str) -> KeyParts | None:
    """
    >>> parse("postgres", "postgres/full/main/20260301T010000Z/manifest.json")
    KeyParts(kind='full', target='main', stamp='20260301T010000Z', name='manifest.json', attempt='')
    >>> parse("postgres", "postgres/full/main/20260301T010000Z/a01-3f9c2b/dump.pgc.zst")
    KeyParts(kind='full', target='main', stamp='20260301T010000Z', name='dump.pgc.zst', attempt='a01-3f9c2b')
    >>> parse("postgres", "logs/app/x.gz") is None
    True
    """
    head = prefix.strip("/") + "/"
    if not key.startswith(head):
        return None
    parts = key[len(head):].split("/")
    if len(parts) not in (4, 5) or parts[0] not in KINDS or not all(parts):
        return None
    if len(parts) == 5:
        kind, target, stamp_, attempt, name = parts
        return KeyParts(kind, target, stamp_, name, attempt)
    return KeyParts(*parts)
