"""The backup manifest (written last) and the row counts it carries.

A manifest exists only for a complete backup: ``manifest.json`` is put after the data
object(s) were completed, so "has a manifest" means "good backup". It records what the
integrity check and the restore oracle compare against: key, size, sha256 of every
stored object, versions, timings, and exact per-table row counts taken in the dump's own
snapshot (``pg_export_snapshot()`` + ``pg_dump --snapshot``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mercenary_maintenance import packaged

FORMAT_VERSION = 1


def sql_text(name: str) -> str:
    return packaged.sql_text("backups", name)


@dataclass
class StoredObject:
    key: str
    size: int
    sha256: str
    raw_size: int | None = None
    etag: str | None = None  # S3's ETag at upload (None: older manifests)
    checksum_sha256: str | None = None  # S3's own SHA-256 checksum at upload (None: older manifests, or none kept)


@dataclass
class Manifest:
    target: str
    kind: str
    method: str  # pg_dump | pg_basebackup_full | pg_basebackup_incremental | logical_snapshot
    key: str  # the main data object
    size: int
    sha256: str
    server_version: str
    client_version: str
    database: str
    started_at: str
    finished_at: str
    objects: list[StoredObject] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    row_counts_exact: bool = True
    large_objects: int | None = None  # count in the dump's snapshot (None: not counted, older manifests)
    chain: str | None = None
    parent: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    system_identifier: str | None = None  # pg_control_system() of the source cluster (None: older manifests)
    source: str | None = None  # the source tag in the key (backups.source)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        raw = json.loads(data)
        raw["objects"] = [StoredObject(**o) for o in raw.get("objects", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


def qualified(schema: str, table: str) -> str:
    """The manifest's table key.

    >>> qualified("public", "orders")
    'public.orders'
    >>> qualified("we.ird", 'x"y')
    '"we.ird"."x""y"'
    """
    def quote(name: str) -> str:
        plain = name.replace("_", "a").isalnum() and name == name.lower() and not name[:1].isdigit()
        return name if plain else '"' + name.replace('"', '""') + '"'

    return f"{quote(schema)}.{quote(table)}"


def list_tables(conn: Any) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(sql_text("tables")).fetchall()]


def count_rows(conn: Any, tables: list[tuple[str, str]]) -> dict[str, int]:
    """Exact ``count(*)`` of each table, in the connection's current transaction/snapshot."""
    from psycopg import sql

    counts: dict[str, int] = {}
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[qualified(schema, table)] = int(conn.execute(query).fetchone()[0])
    return counts


def count_in_snapshot(conn: Any, tables: list[tuple[str, str]], stop: Callable[[], bool],
                      ) -> tuple[dict[str, int], dict[str, str]]:
    """Exact counts in the connection's open transaction, each under a savepoint: a count that fails
    (lock or statement timeout, cancelled) leaves the transaction — and the snapshot pg_dump uses —
    alive and only that table uncounted. Stops counting once ``stop()`` says so."""
    from psycopg import sql

    counts: dict[str, int] = {}
    uncounted: dict[str, str] = {}
    for schema, table in tables:
        name = qualified(schema, table)
        if stop():
            uncounted[name] = "not counted: the dump finished first"
            continue
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        conn.execute("SAVEPOINT mm_count")
        try:
            counts[name] = int(conn.execute(query).fetchone()[0])
            conn.execute("RELEASE SAVEPOINT mm_count")
        except Exception as exc:  # recorded, never the backup's failure
            conn.execute("ROLLBACK TO SAVEPOINT mm_count")
            uncounted[name] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc) else ''}"
    return counts, uncounted


def count_large_objects(conn: Any) -> int:
    return int(conn.execute(sql_text("large_objects")).fetchone()[0])


LARGE_OBJECTS = "large objects"
"""The key of the large-object count among the count differences."""


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> dict[str, Any]:
    """Differences between the manifest's and the restored row counts (empty = match).

    >>> compare_counts({"public.a": 3, "public.b": 1}, {"public.a": 3, "public.b": 2})
    {'public.b': {'expected': 1, 'restored': 2}}
    >>> compare_counts({"public.a": 3}, {})
    {'public.a': {'expected': 3, 'restored': None}}
    """
    diff: dict[str, Any] = {}
    for table, rows in sorted(expected.items()):
        got = actual.get(table)
        if got != rows:
            diff[table] = {"expected": rows, "restored": got}
    return diff
