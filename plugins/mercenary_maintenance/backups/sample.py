"""Daily ``backup.sample_restore``: restore the schema and a few small tables of the latest full backup.

The plan asks for a daily "test restore procedure on sample data". The sample is the whole
schema plus the ``backups.sample_restore_tables`` smallest non-empty tables by the manifest's
exact row counts. It goes through the same path as the weekly full restore
(:mod:`mercenary_maintenance.backups.restore`): the object is streamed from S3 through zstd
into ``pg_restore --list``, the list is filtered (:func:`filter_toc`), and streamed again into
``pg_restore -L`` connected to a marked scratch database that is always dropped — on a scratch
server unless ``backups.restore_on: target_server`` (:mod:`.destination`).
The restored tables' row counts are then compared with the manifest.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mercenary_maintenance.backups import restore
from mercenary_maintenance.backups.manifest import Manifest, compare_counts, count_rows, list_tables, qualified
from mercenary_maintenance.findings import Finding, Severity
from mercenary_maintenance.pg.params import PgParams

SAMPLE_RESTORE = "backup.sample_restore"
TOC_ENTRY = re.compile(r"^\s*\d+;\s+\d+\s+\d+\s+(?P<rest>.*)$")
# Entries left out of a sample restore: other tables' data, data of views and large objects,
# and foreign keys (a sampled child table's rows would fail against its empty parent).
SKIPPED = ("MATERIALIZED VIEW DATA ", "BLOBS ", "BLOB DATA ", "FK CONSTRAINT ")
TABLE_DATA = "TABLE DATA "


def choose_sample(row_counts: dict[str, int], k: int) -> list[str]:
    """The ``k`` smallest non-empty tables by row count (ties by name).

    >>> choose_sample({"public.a": 5, "public.b": 0, "public.c": 2, "public.d": 2}, 2)
    ['public.c', 'public.d']
    >>> choose_sample({"public.a": 5}, 0)
    []
    """
    if k <= 0:
        return []
    candidates = sorted((rows, name) for name, rows in row_counts.items() if rows > 0)
    return [name for _, name in candidates[:k]]


def split_qualified(name: str) -> tuple[str, str]:
    """Inverse of :func:`manifest.qualified`.

    >>> split_qualified("public.orders")
    ('public', 'orders')
    >>> split_qualified('"we.ird"."x""y"')
    ('we.ird', 'x"y')
    >>> split_qualified('sales."Line Items"')
    ('sales', 'Line Items')
    """
    parts: list[str] = []
    i = 0
    while i <= len(name):
        if name[i:i + 1] == '"':
            j, chars = i + 1, []
            while j < len(name):
                if name[j] == '"':
                    if name[j + 1:j + 2] == '"':
                        chars.append('"')
                        j += 2
                        continue
                    break
                chars.append(name[j])
                j += 1
            parts.append("".join(chars))
            i = j + 2  # past the closing quote and the dot
        else:
            end = name.find(".", i)
            end = len(name) if end < 0 else end
            parts.append(name[i:end])
            i = end + 1
    if len(parts) != 2:
        raise ValueError(f"not a schema-qualified table name: {name!r}")
    return parts[0], parts[1]


def filter_toc(toc: str, tables: set[tuple[str, str]]) -> str:
    """The ``pg_restore -L`` list: every schema entry, data only of ``tables``, no foreign keys.

    Entry lines look like ``3345; 0 16390 TABLE DATA public orders postgres`` (names unquoted, so a
    data entry matches when only the owner follows the name; an owner with a space would leave the
    table's data out, and the row count comparison would then fail loudly, never silently pass).

    >>> toc = ("; header\\n1; 2615 1 SCHEMA - sales o\\n2; 1259 2 TABLE public a o\\n"
    ...        "3; 0 2 TABLE DATA public a o\\n4; 0 3 TABLE DATA sales Line Items o\\n"
    ...        "5; 2606 4 FK CONSTRAINT public a f o\\n")
    >>> print(filter_toc(toc, {("sales", "Line Items")}), end="")
    ; header
    1; 2615 1 SCHEMA - sales o
    2; 1259 2 TABLE public a o
    4; 0 3 TABLE DATA sales Line Items o
    """
    wanted = [f"{schema} {table}" for schema, table in tables]
    kept: list[str] = []
    for line in toc.splitlines():
        entry = TOC_ENTRY.match(line)
        if entry is not None:
            rest = entry["rest"]
            if rest.startswith(SKIPPED):
                continue
            if rest.startswith(TABLE_DATA):
                names = rest[len(TABLE_DATA):]
                # names are unquoted: what follows the table's name must be the owner alone
                if not any(names == w or (names.startswith(w + " ") and " " not in names[len(w) + 1:])
                           for w in wanted):
                    continue
        kept.append(line)
    return "".join(line + "\n" for line in kept)


@dataclass
class SampleResult:
    scratch_db: str
    expected: dict[str, int]
    restored: dict[str, int] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    list_s: float = 0.0
    restore_s: float = 0.0
    verify_s: float = 0.0


def verdict(target: str, key: str, result: SampleResult, details: dict[str, Any]) -> Finding:
    """ok when every sampled table has the manifest's row count and the schema has every table."""
    diff = compare_counts(result.expected, result.restored)
    details = {**details, "count_diff": diff, "missing_tables": result.missing_tables}
    if diff or result.missing_tables:
        problems = []
        if diff:
            problems.append(f"row counts differ from the manifest in {', '.join(sorted(diff))}")
        if result.missing_tables:
            problems.append(f"tables missing after the schema restore: {', '.join(result.missing_tables)}")
        return Finding(SAMPLE_RESTORE, target, Severity.CRITICAL,
                       f"sample restore of {key}: {'; '.join(problems)}", details=details)
    took = result.list_s + result.restore_s + result.verify_s
    if not result.expected:
        return Finding(SAMPLE_RESTORE, target, Severity.OK,
                       f"schema of {key} restored in {took:.1f} s; no non-empty table to sample",
                       value=round(took, 3), details=details)
    return Finding(SAMPLE_RESTORE, target, Severity.OK,
                   f"sample restore of {key} ({', '.join(result.expected)}) in {took:.1f} s; "
                   f"row counts match the manifest", value=round(took, 3), details=details)


def restore_sample(pg: PgParams, client: Any, bucket: str, manifest: Manifest, sample: list[str], *,
                   scratch_db: str, mark: str, server_major: int, bin_dir: str | None, statement_timeout_ms: str,
                   work_dir: str | None) -> SampleResult:
    """Schema + ``sample`` tables into ``scratch_db`` on ``pg``'s server (always dropped), then count
    the sampled rows."""
    result = SampleResult(scratch_db, {t: manifest.row_counts[t] for t in sample})
    wanted = [split_qualified(t) for t in sample]
    with pg.connect() as admin, restore.scratch_database(admin, scratch_db, mark):
        started = time.monotonic()
        toc = restore.pg_restore_list(pg, client.get_object(Bucket=bucket, Key=manifest.key)["Body"],
                                      server_major, bin_dir)
        result.list_s = time.monotonic() - started
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="mm_sample_", dir=work_dir) as tmp:
            list_file = Path(tmp) / "sample.list"
            list_file.write_text(filter_toc(toc, set(wanted)), encoding="utf-8")
            body = client.get_object(Bucket=bucket, Key=manifest.key)["Body"]
            restore.pg_restore_into(pg, body, scratch_db, server_major, bin_dir, list_file=str(list_file))
        result.restore_s = time.monotonic() - started
        started = time.monotonic()
        with pg.connect(scratch_db) as conn:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", [statement_timeout_ms])
            present = {qualified(*t) for t in list_tables(conn)}
            result.missing_tables = sorted(set(manifest.row_counts) - present)
            result.restored = count_rows(conn, [t for t, name in zip(wanted, sample, strict=True) if name in present])
        result.verify_s = time.monotonic() - started
    return result
