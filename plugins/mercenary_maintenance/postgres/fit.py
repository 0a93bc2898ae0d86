"""Does a VACUUM FULL fit? Its time (a size-based estimate) against the time left, and the free
space where it writes against what the rewrite needs — checked before it takes ACCESS EXCLUSIVE.

VACUUM FULL writes a new copy of the table and of each of its indexes before the old files go
(and, with ``wal_level`` replica or logical, about as much WAL): approved near the cutoff it holds
its lock until the statement timeout and rolls everything back; on a full disk shared with
``pg_wal`` it can stop the server. The free space is measured with ``statvfs`` on the tablespace's
directory when the server runs on this machine (loopback or socket connection and the directory
visible here; ``pg_wal`` counted when it is on the same file system). A remote server's disk is not
visible from SQL: the target's ``vacuum_full_free_bytes`` says how much may be assumed, and without
it the rewrite is skipped naming that key — never run blind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mercenary_maintenance.plan import ACTIONS

if TYPE_CHECKING:
    from mercenary_maintenance.pg.session import Session
    from mercenary_maintenance.steps import Step

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
MIB = 2**20


@dataclass
class Fit:
    """The figures of one fit check and the reasons it does not fit (empty: it fits)."""

    table_bytes: int
    index_bytes: int
    needed_bytes: int
    free_bytes: int | None
    free_source: str
    estimate_s: float
    time_left_s: float
    problems: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def needed_bytes(table_bytes: int, index_bytes: int, margin_percent: float, wal_on_same_disk: bool) -> int:
    """The new copy (table + indexes), its WAL when ``pg_wal`` shares the disk, plus the margin.

    >>> needed_bytes(100, 50, 20, False), needed_bytes(100, 50, 20, True)
    (180, 330)
    """
    rewrite = table_bytes + index_bytes
    wal = rewrite if wal_on_same_disk else 0
    return int((rewrite + wal) + rewrite * margin_percent / 100)


def problems(fit: Fit, relation: str) -> list[str]:
    """Why the rewrite of ``relation`` must not start now. Pure.

    >>> f = Fit(10 * MIB, 2 * MIB, 15 * MIB, 8 * MIB, "statvfs /data", 600.0, 300.0)
    >>> problems(f, "public.t")  # doctest: +NORMALIZE_WHITESPACE
    ['public.t: estimated 600 s (12.0 MiB at the size-based rate) > 300 s left for the statement',
     'public.t: 8.0 MiB free (statvfs /data) < 15.0 MiB needed (table 10.0 MiB + indexes 2.0 MiB, with WAL and margin)']
    >>> problems(Fit(1, 1, 2, None, "unknown: remote server", 1.0, 60.0), "t")[0]
    't: free space unknown (unknown: remote server): set targets.postgres[].vacuum_full_free_bytes'
    """
    out = []
    size = (fit.table_bytes + fit.index_bytes) / MIB
    if fit.estimate_s > fit.time_left_s:
        out.append(f"{relation}: estimated {fit.estimate_s:.0f} s ({size:.1f} MiB at the size-based rate) > "
                   f"{fit.time_left_s:.0f} s left for the statement")
    if fit.free_bytes is None:
        out.append(f"{relation}: free space unknown ({fit.free_source}): set "
                   "targets.postgres[].vacuum_full_free_bytes")
    elif fit.free_bytes < fit.needed_bytes:
        out.append(f"{relation}: {fit.free_bytes / MIB:.1f} MiB free ({fit.free_source}) < "
                   f"{fit.needed_bytes / MIB:.1f} MiB needed (table {fit.table_bytes / MIB:.1f} MiB + indexes "
                   f"{fit.index_bytes / MIB:.1f} MiB, with WAL and margin)")
    return out


def _is_local(s: Session) -> bool:
    host = s.conn.info.host or ""
    return host.startswith("/") or host in LOCAL_HOSTS


def _local_free(s: Session, row: dict[str, Any]) -> tuple[int | None, str, bool]:
    """Free bytes where the table is written, what measured it, and whether pg_wal shares that disk."""
    data_dir = row.get("data_directory")
    path = row.get("location") or data_dir
    if not _is_local(s):
        return None, f"remote server {s.conn.info.host}: its disk is not visible from here", False
    if not path or not os.path.isdir(path):
        return None, f"tablespace {row['tablespace']} directory not visible here (the role may not read " \
                     "data_directory, or the server runs elsewhere)", False
    st = os.statvfs(path)
    wal = os.path.join(data_dir, "pg_wal") if data_dir else None
    same = bool(wal and os.path.isdir(wal) and os.stat(wal).st_dev == os.stat(path).st_dev)
    return st.f_bavail * st.f_frsize, f"statvfs {path}", same


def check(step: Step, s: Session, relid: int, relation: str, target: str) -> Fit:
    """Measure the fit of a VACUUM FULL of ``relid`` now (``problems`` empty: go)."""
    cfg = step.cfg
    [row] = s.rows("vacuum_full_fit", {"relid": relid})
    table, indexes = int(row["table_bytes"] or 0), int(row["index_bytes"] or 0)
    configured = cfg.postgres_target(target).vacuum_full_free_bytes
    free, source, wal_same = _local_free(s, row)
    if free is None and configured is not None:
        free, source = configured, f"targets.postgres[{target}].vacuum_full_free_bytes ({source})"
    rate = cfg.postgres.vacuum_full_bytes_per_s or ACTIONS["postgres.vacuum_full"].bytes_per_s
    fit = Fit(table, indexes, needed_bytes(table, indexes, cfg.postgres.vacuum_full_space_margin_percent, wal_same),
              free, source, (table + indexes) / rate, step.statement_timeout_s())
    fit.problems = problems(fit, relation)
    return fit


def online_hint(s: Session, relation: str) -> str:
    """The online way to rebuild ``relation`` on this server (short locks only)."""
    if s.version >= 190000:
        return (f"PostgreSQL {s.version // 10000} has REPACK (CONCURRENTLY): `REPACK (CONCURRENTLY) {relation}` "
                "rebuilds it online (one at a time; it uses a replication slot)")
    row = s.conn.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_repack'").fetchone()
    if row:
        return (f"pg_repack {row[0]} is installed: `pg_repack --table {relation}` rebuilds it online "
                "(short locks only) — preferred over VACUUM FULL")
    return ("install pg_repack to rebuild it online (short locks only); PostgreSQL 19's REPACK (CONCURRENTLY) "
            "does it built in")
