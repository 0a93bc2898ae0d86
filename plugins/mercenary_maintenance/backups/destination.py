"""Where a restore test restores: never into production unless asked, and then bounded.

``backups.restore_on: scratch_server`` (default): an empty PostgreSQL server is initdb'd on
the worker (:func:`scratch.fresh_server`) with the source's major version (or the oldest
newer one installed; binaries found as for the other backup programs, ``backups.bin_dir``
first), used, then stopped and removed. The production server is not contacted at all.

``backups.restore_on: target_server`` (opt-in): the scratch database is created on the
target's own server, under the target's maintenance lock, only when the backup's estimated
restored size is within ``backups.restore_max_bytes``; leftovers of killed earlier attempts
are dropped first — marked databases of exactly this target (:func:`restore.leftovers`),
never the source.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mercenary_maintenance.backups import binaries, proof, restore, scratch
from mercenary_maintenance.backups.lock import locked
from mercenary_maintenance.backups.manifest import Manifest
from mercenary_maintenance.pg.params import PgParams
from mercenary_maintenance.steps import Step

SCRATCH_SERVER = "scratch_server"
TARGET_SERVER = "target_server"


class RestoreRefused(RuntimeError):
    """The restore would exceed ``backups.restore_max_bytes`` on the target server, or the free
    space where it restores."""

    def __init__(self, message: str, **sizes: int) -> None:
        super().__init__(message)
        self.sizes = sizes


@dataclass
class Destination:
    pg: PgParams  # the server (and its admin database) the scratch database is created on
    server_major: int
    restore_on: str
    details: dict[str, Any] = field(default_factory=dict)
    scratch_dir: Path | None = None  # the scratch server's private directory (None: the target server)
    jobs: int = 1  # pg_restore -j from a local copy (1: streamed)


def estimated_bytes(manifest: Manifest) -> int:
    """What a restore of ``manifest`` may occupy: the database's size at backup time (newer
    manifests), at least the dump's uncompressed size."""
    d = manifest.details
    return max(int(d.get("database_bytes") or 0), int(d.get("raw_size") or 0), manifest.size)


def refusal(manifest: Manifest, max_bytes: int) -> str | None:
    """Why a restore onto the target server is refused, naming the sizes (``None``: allowed).

    >>> m = Manifest("main", "full", "pg_dump", "k", 10, "s", "15.8", "", "db", "", "",
    ...              details={"database_bytes": 3_000_000, "raw_size": 1_000_000})
    >>> refusal(m, 5_000_000) is None
    True
    >>> print(refusal(m, 2_000_000))
    k needs about 3000000 bytes (2.9 MB: database 3000000 bytes at backup time, dump 1000000 bytes \
uncompressed), over backups.restore_max_bytes 2000000 (1.9 MB); not restored onto the target server
    """
    need = estimated_bytes(manifest)
    if need <= max_bytes:
        return None
    d = manifest.details
    return (f"{manifest.key} needs about {need} bytes ({need / 2**20:.1f} MB: database "
            f"{d.get('database_bytes', 'unknown')} bytes at backup time, dump {d.get('raw_size', 'unknown')} bytes "
            f"uncompressed), over backups.restore_max_bytes {max_bytes} ({max_bytes / 2**20:.1f} MB); not restored "
            "onto the target server")


def check_space(where: Path, manifest: Manifest, extra_bytes: int = 0) -> None:
    """Refuse (naming both numbers) when the restore's estimate does not fit in ``where``'s free space."""

    need, free = estimated_bytes(manifest) + extra_bytes, proof.free_bytes(where)
    why = proof.space_problem(where, need, free, manifest.key)
    if why is not None:
        raise RestoreRefused(why, estimated_bytes=need, free_bytes=free)


def local_copy_jobs(where: Path, manifest: Manifest, jobs: int) -> int:
    """``jobs`` when a local copy of the dump (its uncompressed size) fits beside the restore, else 1
    (streamed); refuses when not even the restore fits."""
    raw = int(manifest.details.get("raw_size") or 0) or manifest.size
    if jobs > 1:
        try:
            check_space(where, manifest, extra_bytes=raw)
            return jobs
        except RestoreRefused:
            pass
    check_space(where, manifest)
    return 1


def source_major(manifest: Manifest) -> int:
    """
    >>> source_major(Manifest("t", "full", "pg_dump", "k", 1, "s", "15.8 (Debian 15.8-1)", "", "d", "", ""))
    15
    """
    head = manifest.server_version.split()[0] if manifest.server_version.split() else ""
    digits = head.split(".")[0]
    if not digits.isdigit():
        raise ValueError(f"{manifest.key}: no major version in the manifest's server_version {head!r}")
    return int(digits)


@contextmanager
def opened(step: Step, target: str, manifest: Manifest) -> Iterator[Destination]:
    """The server to restore ``manifest`` into, per ``backups.restore_on`` (see the module doc)."""
    cfg = step.cfg.backups
    if cfg.restore_on == SCRATCH_SERVER:
        major = source_major(manifest)
        bin_dir = binaries.client_dir(major, cfg.bin_dir, "initdb")
        server_major = binaries.major_of(bin_dir, "initdb")
        jobs = local_copy_jobs(scratch.scratch_root(cfg.scratch_dir), manifest, cfg.restore_jobs)
        with scratch.fresh_server(bin_dir, server_major, step.cfg.timeouts, cfg.scratch_dir,
                                  cfg.scratch_server_timeout_seconds) as srv:
            yield Destination(srv.pg, server_major, SCRATCH_SERVER, scratch_dir=srv.base_dir, jobs=jobs, details={
                "restore_on": SCRATCH_SERVER, "dropped_leftovers": [],
                "scratch_server": {"major": server_major, "port": srv.pg.port, "start_s": srv.start_s,
                                   "bin_dir": str(bin_dir), "orphans_removed": list(srv.swept)}})
        return
    assert cfg.restore_max_bytes is not None  # config validation
    why = refusal(manifest, cfg.restore_max_bytes)
    if why is not None:
        raise RestoreRefused(why, estimated_bytes=estimated_bytes(manifest), restore_max_bytes=cfg.restore_max_bytes)
    yield from _on_target(step, target)


def _on_target(step: Step, target: str) -> Iterator[Destination]:

    pg = step.clients.pg_params(step.cfg.postgres_target(target).conn_id)
    with locked(step, pg), pg.connect() as conn:
        server_major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        stale = restore.leftovers(conn, target, source=pg.dbname)
        for name in stale:  # we hold the target's lock: no restore of ours is using them
            restore.drop_db(conn, name, source=pg.dbname)
        yield Destination(pg, server_major, TARGET_SERVER,
                          {"restore_on": TARGET_SERVER, "dropped_leftovers": stale,
                           "restore_max_bytes": step.cfg.backups.restore_max_bytes})
