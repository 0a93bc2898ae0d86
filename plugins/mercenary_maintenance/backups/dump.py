"""A logical backup: ``pg_dump -Fc -Z0`` streamed through zstd into S3, manifest last.

Beside the dump, ``globals.sql.zst`` keeps the cluster's roles, memberships, role settings
and tablespaces (``pg_dumpall --globals-only --no-role-passwords``: no password hashes leave
the server), which a dump of one database does not contain and a restore on a new server
needs first.

pg_dump runs in a snapshot exported by a REPEATABLE READ transaction that stays open for
the whole dump. The same transaction counts rows beside the dump — only tables up to
``count_max_bytes`` (bigger ones get the planner's estimate: no second full read of the
database), each count under a savepoint, none after pg_dump ended (the one running then is
cancelled after a short grace) — so the counts are exactly what the dump contains, and a count
that fails (a lock held by a migration, a timeout) leaves that table uncounted, never the backup
failed. pg_dump waits at most ``lock_timeout_s`` for a table lock (``--lock-wait-timeout``).
"""

from __future__ import annotations

import logging
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mercenary_maintenance import runner
from mercenary_maintenance.adapters.postgres import read_deadline
from mercenary_maintenance.backups import binaries, catalog, keys
from mercenary_maintenance.backups.manifest import (
    Manifest,
    StoredObject,
    count_in_snapshot,
    count_large_objects,
    qualified,
    sql_text,
)
from mercenary_maintenance.backups.source import Source
from mercenary_maintenance.backups.stream import MB, abort_stale_uploads, copy_reader, part_size_for, upload_stream
from mercenary_maintenance.pg.params import PgParams
from mercenary_maintenance.pg.session import millis
from mercenary_maintenance.windows.rules import UTC

log = logging.getLogger(__name__)
COUNT_GRACE_S = 5.0
"""How long a count still running when pg_dump ends may finish before it is cancelled."""


@dataclass(frozen=True)
class DumpRequest:
    target: str
    kind: str
    method: str
    bucket: str
    directory: str
    level: int = 3
    part_size: int = 16 * MB
    bin_dir: str | None = None
    statement_timeout_s: float = 3600.0
    lock_timeout_s: float = 5.0
    """How long pg_dump (``--lock-wait-timeout``) and the row counts wait for a table lock: a table
    held ACCESS EXCLUSIVE (a migration) fails the backup quickly instead of queueing behind it."""
    details: dict[str, Any] = field(default_factory=dict)
    extra_args: dict[str, str] = field(default_factory=dict)  # put/upload arguments (encryption)
    source: Source | None = None
    """The cluster and database backed up (recorded in the manifest)."""
    count_max_bytes: int = 256 * MB
    """Tables up to this size are counted exactly in the dump's snapshot; bigger ones get an estimate."""
    uploads_prefix: str = ""
    """Where unfinished multipart uploads of killed earlier attempts are aborted first (the
    date's directory; default: ``directory``)."""


def server_info(conn: Any) -> tuple[str, int, str]:
    row = conn.execute(sql_text("server_info")).fetchone()
    return str(row[0]), int(row[1]), str(row[2])


def size_estimate(conn: Any) -> tuple[int, int]:
    """(bytes of the current database, bytes of the databases we may connect to)."""
    row = conn.execute(sql_text("size_estimate")).fetchone()
    return int(row[0]), int(row[1])


def client_version(path: str, timeout_s: float) -> str:
    return runner.run([path, "--version"], timeout=timeout_s).stdout.strip()


class _Background:
    """Run one function in a thread; ``result()`` joins and re-raises its error."""

    def __init__(self, fn: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Any) -> None:
        try:
            self._value = fn()
        except BaseException as exc:
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the function has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def failed(self) -> BaseException | None:
        """The error, if the function already ended with one (does not wait)."""
        return None if self._thread.is_alive() else self._error


def dump_globals(pg: PgParams, major: int, bin_dir: str | None) -> bytes:
    """Roles, memberships, role settings and tablespaces as SQL (small; no password hashes)."""
    pg_dumpall = binaries.program(major, "pg_dumpall", bin_dir)
    return runner.run([pg_dumpall, "--globals-only", "--no-role-passwords", "--no-password",
                       f"--database={pg.dbname}"], env=pg.env(), timeout=pg.backup_s).stdout.encode()


def store_small(client: Any, bucket: str, key: str, data: bytes, level: int,
                extra_args: dict[str, str] | None = None) -> StoredObject:
    """Compress ``data`` with zstd and store it in one put."""
    import hashlib

    import zstandard

    body = zstandard.ZstdCompressor(level=level).compress(data)
    resp = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/zstd",
                             ChecksumAlgorithm="SHA256", **(extra_args or {}))
    return StoredObject(key, len(body), hashlib.sha256(body).hexdigest(), len(data), etag=resp.get("ETag"),
                        checksum_sha256=resp.get("ChecksumSHA256"))


def _collect(stream: Any) -> _Background:
    return _Background(lambda: stream.read().decode(errors="replace"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=runner.KILL_WAIT_S)


def dump_to_s3(pg: PgParams, client: Any, req: DumpRequest) -> Manifest:
    """Take one dump into ``req.directory``; returns the manifest (already stored)."""
    import psycopg

    started = datetime.now(UTC)
    abort_stale_uploads(client, req.bucket, req.uploads_prefix or req.directory)
    snap = pg.connect(autocommit=False)
    try:
        snap.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snap.read_only = True
        snap.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                     [millis(req.statement_timeout_s), millis(req.lock_timeout_s)])
        version, version_num, database = server_info(snap)
        snapshot = str(snap.execute(sql_text("export_snapshot")).fetchone()[0])
        sized = snap.execute(sql_text("tables_sized")).fetchall()
        tables = [(str(r[0]), str(r[1])) for r in sized if int(r[2]) < req.count_max_bytes]
        estimates = {qualified(str(r[0]), str(r[1])): max(int(r[3]), 0) for r in sized
                     if int(r[2]) >= req.count_max_bytes}
        database_bytes = size_estimate(snap)[0]
        part_size = part_size_for(database_bytes, req.part_size)
        pg_dump = binaries.program(version_num // 10000, "pg_dump", req.bin_dir)
        dump_version = client_version(pg_dump, pg.timeouts.subprocess.default_s)
        cluster_globals = dump_globals(pg, version_num // 10000, req.bin_dir)  # fails before the dump starts
        argv = [pg_dump, "--format=custom", "--compress=0", f"--snapshot={snapshot}", "--no-password",
                f"--lock-wait-timeout={millis(req.lock_timeout_s)}"]
        proc = runner.spawn(argv, env=pg.env(), timeout=pg.backup_s, kill_grace_s=pg.kill_grace_s)
        assert proc.stdout is not None
        assert proc.stderr is not None
        stderr = _collect(proc.stderr)

        dumped = threading.Event()

        def count_beside() -> tuple[dict[str, int], dict[str, str], int | None]:
            """Counts that cannot fail the backup: each table under a savepoint, none after the dump ends."""

            try:  # statement_timeout bounds each count; this all of them, like the pg_dump they go with
                with read_deadline(snap, pg.backup_s, "row counts"):
                    exact, uncounted = count_in_snapshot(snap, tables, dumped.is_set)
                    large = None if dumped.is_set() else count_large_objects(snap)
                    return exact, uncounted, large
            except Exception as exc:
                log.warning("row counts of %s stopped (the backup goes on without them): %s", req.target, exc)
                return {}, {"*": f"{type(exc).__name__}: counts stopped"}, None

        counts = _Background(count_beside)

        def finish() -> None:
            code = proc.wait()  # a runner.Child: never waits past its deadline (CommandTimeout)
            dumped.set()
            if not counts.wait(COUNT_GRACE_S):
                snap.cancel_safe()  # the count still running: the dump's end bounds the counts
            if code != 0:
                raise runner.CommandError(argv, code, stderr.result())
            counts.result()

        key = req.directory + keys.DUMP
        uploaded = upload_stream(client, req.bucket, key, copy_reader(proc.stdout), level=req.level,
                                 part_size=part_size, finish=finish, on_failure=lambda: _stop(proc),
                                 label=f"pg_dump {req.target}", extra_args=req.extra_args,
                                 stall_s=pg.timeouts.subprocess.stall_s)
        row_counts, uncounted, large_objects = counts.result()
        roles = store_small(client, req.bucket, req.directory + keys.GLOBALS, cluster_globals, req.level,
                            req.extra_args)
    except BaseException:
        snap.cancel_safe()  # stop a count still running before closing the session
        raise
    finally:
        snap.close()
    manifest = Manifest(
        target=req.target, kind=req.kind, method=req.method, key=uploaded.key, size=uploaded.size,
        sha256=uploaded.sha256, server_version=version, client_version=dump_version, database=database,
        started_at=started.isoformat(), finished_at=datetime.now(UTC).isoformat(),
        objects=[StoredObject(uploaded.key, uploaded.size, uploaded.sha256, uploaded.raw_size, uploaded.etag,
                              uploaded.checksum_sha256), roles],
        row_counts=row_counts, large_objects=large_objects,
        row_counts_exact=not uncounted and not estimates,
        system_identifier=req.source.system_identifier if req.source else None,
        source=req.source.tag if req.source else None,
        details={**req.details, "snapshot_consistent": True, "raw_size": uploaded.raw_size, "parts": uploaded.parts,
                 "part_size": part_size,
                 "seconds": round(uploaded.seconds, 3),
                 "complete_s": round(uploaded.complete_s, 3), "mb_per_s": round(uploaded.mb_per_s, 1),
                 "compression": f"zstd-{req.level}", "tables": len(sized), "globals": roles.key,
                 "counted_tables": len(row_counts), "uncounted": uncounted, "row_estimates": estimates,
                 "database_bytes": database_bytes},
    )
    catalog.put_manifest(client, req.bucket, req.directory, manifest, req.extra_args)
    return manifest
