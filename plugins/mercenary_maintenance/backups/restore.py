"""Restore a full backup into a scratch database and check it against the manifest.

The object is streamed from S3 (sha256 and size recomputed on the way), decompressed and
piped into ``pg_restore`` connected to a scratch database ``mm_restore_<target>_<suffix>``
(unique per run) — on a scratch server started on the worker by default, on the target
server only when ``backups.restore_on: target_server`` (:mod:`.destination`); never the
source database. Each scratch database carries a marker (``COMMENT ON DATABASE``, see
:func:`marker`); leftovers of killed attempts are found by that marker, for this target
exactly, never by a name pattern. Then the restored tables' exact row counts are
compared with the manifest's (taken in the dump's snapshot) and sample queries run. The
scratch database is dropped in a ``finally``: a failed drop fails the test, and a failed
restore is never hidden by the drop.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mercenary_maintenance import runner
from mercenary_maintenance.backups import binaries, proof
from mercenary_maintenance.backups.dump import _Background, _collect, _stop
from mercenary_maintenance.backups.manifest import (
    LARGE_OBJECTS,
    Manifest,
    compare_counts,
    count_large_objects,
    count_rows,
    list_tables,
    qualified,
    sql_text,
)
from mercenary_maintenance.backups.scratch import FRESH_USER
from mercenary_maintenance.backups.stream import MB, HashingReader
from mercenary_maintenance.pg.params import PgParams

log = logging.getLogger(__name__)
SCRATCH_PREFIX = "mm_restore_"
SAMPLE_TABLES = 5
SAMPLE_ROWS = 10


@dataclass
class RestoreResult:
    scratch_db: str
    restore_s: float = 0.0
    verify_s: float = 0.0
    size: int = 0
    sha256: str = ""
    row_counts: dict[str, int] = field(default_factory=dict)
    count_diff: dict[str, Any] = field(default_factory=dict)
    invalid_indexes: int = 0
    samples: dict[str, int] = field(default_factory=dict)
    amcheck: dict[str, Any] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, float | None] = field(default_factory=dict)
    """Seconds of each phase: globals, download, restore, post_data, verify (``None``: not separate —
    a streamed restore downloads while it restores, and builds indexes in the same pass)."""
    jobs: int = 1
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What was not proven without anything being wrong (pg_amcheck not allowed on the target server)."""

    @property
    def restore_seconds(self) -> float:
        """What a real restore of this backup would take: every phase (the RTO measure)."""
        return round(sum(v for v in self.phases.values() if v), 3)

    @property
    def ok(self) -> bool:
        return not self.problems


def scratch_name(target: str, run_id: str, try_number: int, purpose: str = "") -> str:
    """A unique name per run, try and purpose (plus a random part: never an earlier run's database).

    >>> name = scratch_name("main", "manual__2026-01-01", 1)
    >>> name[:22], len(name)
    ('mm_restore_main_91095a', 26)
    >>> name != scratch_name("main", "manual__2026-01-01", 1)
    True
    >>> len(scratch_name("x" * 63, "r", 1)) <= 63
    True
    """
    ident = f"{run_id}/{try_number}" + (f"/{purpose}" if purpose else "")
    suffix = hashlib.sha1(ident.encode()).hexdigest()[:6] + secrets.token_hex(2)
    return f"{SCRATCH_PREFIX}{target[:63 - len(SCRATCH_PREFIX) - 11]}_{suffix}"


MARKER_HEAD = "mercenary-maintenance scratch: "
_MARKER = re.compile(r"^mercenary-maintenance scratch: target=(?P<target>[a-z0-9_]+) run=(?P<run>.*)$", re.S)


def marker(target: str, run_id: str) -> str:
    """The comment that marks a scratch database as ours, of ``target``.

    >>> marker("main", "scheduled__2026-03-01T01:00:00+00:00")
    'mercenary-maintenance scratch: target=main run=scheduled__2026-03-01T01:00:00+00:00'
    """
    return f"{MARKER_HEAD}target={target} run={run_id}"


def marked_target(comment: str | None) -> str | None:
    """The target a marker names (``None``: not a marker).

    >>> marked_target(marker("main_eu", "r 1")), marked_target("main"), marked_target(None)
    ('main_eu', None, None)
    """
    found = _MARKER.match(comment or "")
    return found["target"] if found else None


def leftovers(admin: Any, target: str, source: str) -> list[str]:
    """Marked scratch databases of exactly ``target`` (never ``source`` nor another target's)."""
    rows = admin.execute(sql_text("scratch_databases"), {"head": MARKER_HEAD.replace("_", "\\_") + "%"}).fetchall()
    return [name for name, comment in rows if marked_target(comment) == target and name != source]


def create_db(admin: Any, name: str, mark: str) -> None:
    """Create ``name`` from template0 and mark it (dropped again if the mark cannot be set)."""
    from psycopg import sql

    admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(mark)))
    except BaseException:
        drop_db(admin, name)
        raise


def drop_db(admin: Any, name: str, source: str | None = None) -> None:
    from psycopg import sql

    if name == source:
        raise RuntimeError(f"refusing to drop {name}: it is the source database")
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_restore_into(pg: PgParams, body: Any, scratch_db: str, server_major: int, bin_dir: str | None,
                    list_file: str | None = None, owners_and_grants: bool = False) -> HashingReader:
    """Stream ``body`` (zstd-compressed custom-format dump) into pg_restore; raise on failure.

    With ``list_file`` only the entries of that list are restored (``pg_restore -L``); pg_restore
    then stops reading after the last selected entry, so the rest of the object is not read.
    ``owners_and_grants``: restore ownership and privileges too (a scratch server that has the
    source's roles); otherwise ``--no-owner --no-privileges``.
    """
    pg_restore = binaries.program(server_major, "pg_restore", bin_dir)
    # --no-tablespaces: a scratch server has none of the source's, and on the target server the copy
    # must not fill a production tablespace
    argv = [pg_restore, f"--dbname={scratch_db}", "--no-tablespaces", "--exit-on-error", "--no-password"]
    if not owners_and_grants:
        argv[2:2] = ["--no-owner", "--no-privileges"]
    if list_file is not None:
        argv.append(f"--use-list={list_file}")
    reader, _ = _pipe_into(argv, pg.env(scratch_db), body, reads_all=list_file is None, pg=pg)
    return reader


def pg_restore_list(pg: PgParams, body: Any, server_major: int, bin_dir: str | None) -> str:
    """The archive's table of contents (``pg_restore --list``), streamed like a restore."""
    pg_restore = binaries.program(server_major, "pg_restore", bin_dir)
    _, toc = _pipe_into([pg_restore, "--list"], pg.env(), body, reads_all=False, pg=pg)
    return toc


def _pipe_into(argv: list[str], env: dict[str, str], body: Any, *, reads_all: bool,
               pg: PgParams) -> tuple[HashingReader, str]:
    """Decompress ``body`` into ``argv``'s stdin; returns the reader and the program's stdout.

    ``reads_all=False``: the program may exit (successfully) before the end of the stream.
    """
    import zstandard

    proc = runner.spawn(argv, env=env, timeout=pg.backup_s, kill_grace_s=pg.kill_grace_s, stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL if reads_all else subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stderr is not None
    stderr = _collect(proc.stderr)
    stdout = _collect(proc.stdout) if proc.stdout is not None else None
    reader = HashingReader(body)

    def feed() -> None:
        assert proc.stdin is not None
        try:
            zstandard.ZstdDecompressor().copy_stream(reader, proc.stdin, read_size=MB,  # type: ignore[arg-type]
                                                      write_size=MB)
            reader.drain()
        except BrokenPipeError:
            if reads_all:
                raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                if reads_all:
                    raise

    feeder = _Background(feed)
    try:
        code = proc.wait()  # a runner.Child: never waits past its deadline (CommandTimeout)
        if code != 0:
            raise runner.CommandError(argv, code, stderr.result())
        feeder.result()
    except BaseException:
        _stop(proc)
        raise
    finally:
        if not reads_all:
            _close(body)
    return reader, stdout.result() if stdout is not None else ""


def _close(body: Any) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


@contextmanager
def scratch_database(admin: Any, name: str, mark: str) -> Iterator[None]:
    """Create ``name`` (from template0, marked) and always drop it; a failed drop never hides an error."""
    create_db(admin, name, mark)
    failing = True
    try:
        yield
        failing = False
    finally:
        _teardown(admin, name, failing)


def verify_restored(pg: PgParams, scratch_db: str, manifest: Manifest, result: RestoreResult,
                    statement_timeout_ms: str) -> None:
    """Row counts vs manifest, invalid indexes, and a sample read of the largest tables."""
    from psycopg import sql

    with pg.connect(scratch_db) as conn:
        conn.execute("SELECT set_config('statement_timeout', %s, false)", [statement_timeout_ms])
        tables = list_tables(conn)
        result.row_counts = count_rows(conn, tables)
        result.count_diff = compare_counts(manifest.row_counts, result.row_counts)
        if manifest.large_objects is not None:
            restored_lo = count_large_objects(conn)
            if restored_lo != manifest.large_objects:
                result.count_diff[LARGE_OBJECTS] = {"expected": manifest.large_objects, "restored": restored_lo}
        if result.count_diff:
            names = sorted(result.count_diff)
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            result.problems.append(f"counts differ from the manifest for {', '.join(names[:5])}{more}")
        result.invalid_indexes = int(conn.execute(sql_text("invalid_indexes")).fetchone()[0])
        if result.invalid_indexes:
            result.problems.append(f"{result.invalid_indexes} invalid index(es) after restore")
        by_size = sorted(tables, key=lambda t: -result.row_counts.get(_q(t), 0))[:SAMPLE_TABLES]
        for schema, table in by_size:
            query = sql.SQL("SELECT * FROM {}.{} LIMIT {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Literal(SAMPLE_ROWS))
            got = len(conn.execute(query).fetchall())
            result.samples[_q((schema, table))] = got
            if got != min(SAMPLE_ROWS, result.row_counts.get(_q((schema, table)), 0)):
                result.problems.append(f"sample read of {_q((schema, table))} returned {got} rows")


def _q(table: tuple[str, str]) -> str:

    return qualified(*table)


def restore_and_verify(pg: PgParams, client: Any, bucket: str, manifest: Manifest, *, scratch_db: str, mark: str,
                       server_major: int, bin_dir: str | None, statement_timeout_ms: str,
                       scratch_dir: Path | None = None, jobs: int = 1) -> RestoreResult:
    """Create the scratch database on ``pg``'s server, restore, verify, and always drop it.

    ``scratch_dir`` (a scratch server's private directory; ``None`` on the target server): the
    source's roles are replayed first and compared and the restore keeps owners and grants (we are
    its superuser there). ``pg_amcheck`` checks the restored copy on either server. With ``jobs`` > 1 there,
    the dump is first downloaded to a seekable local file and restored with ``pg_restore -j``
    (data, then post-data: indexes and constraints), each phase timed; otherwise it is streamed."""
    result = RestoreResult(scratch_db)
    with pg.connect() as admin:
        if scratch_dir is not None:
            started = time.monotonic()
            _restore_globals(pg, client, bucket, manifest, server_major, bin_dir, scratch_dir, result)
            result.phases["globals"] = round(time.monotonic() - started, 3)
        with scratch_database(admin, scratch_db, mark):
            owners = bool(result.globals.get("applied"))
            if scratch_dir is not None and jobs > 1:
                reader = _restore_parallel(pg, client, bucket, manifest, scratch_db, server_major, bin_dir,
                                           scratch_dir / "dump.pgc", jobs, owners, result)
            else:
                started = time.monotonic()
                body = client.get_object(Bucket=bucket, Key=manifest.key)["Body"]
                reader = pg_restore_into(pg, body, scratch_db, server_major, bin_dir, owners_and_grants=owners)
                result.phases.update(download=None, restore=round(time.monotonic() - started, 3), post_data=None)
            result.restore_s = sum(result.phases.get(k) or 0.0 for k in ("download", "restore", "post_data"))
            result.size, result.sha256 = reader.size, reader.sha.hexdigest()
            if (result.size, result.sha256) != (manifest.size, manifest.sha256):
                result.problems.append("restored object's size/sha256 differ from the manifest")
            started = time.monotonic()
            verify_restored(pg, scratch_db, manifest, result, statement_timeout_ms)
            if scratch_dir is not None:
                _amcheck(pg, scratch_db, server_major, bin_dir, result)
            else:
                _amcheck_on_target(pg, scratch_db, server_major, bin_dir, result)
            result.verify_s = time.monotonic() - started
            result.phases["verify"] = round(result.verify_s, 3)
    return result


def download_to_file(client: Any, bucket: str, key: str, path: Path) -> HashingReader:
    """The object, decompressed, into ``path`` (a seekable archive pg_restore -j can read)."""
    import zstandard

    reader = HashingReader(client.get_object(Bucket=bucket, Key=key)["Body"])
    with path.open("wb") as out:
        zstandard.ZstdDecompressor().copy_stream(reader, out, read_size=MB, write_size=MB)  # type: ignore[arg-type]
    reader.drain()
    return reader


def pg_restore_file(pg: PgParams, path: Path, scratch_db: str, server_major: int, bin_dir: str | None, *,
                    jobs: int, sections: tuple[str, ...], owners_and_grants: bool) -> None:
    argv = [binaries.program(server_major, "pg_restore", bin_dir), f"--dbname={scratch_db}", "--no-tablespaces",
            "--exit-on-error", "--no-password", f"--jobs={jobs}", *(f"--section={s}" for s in sections)]
    if not owners_and_grants:
        argv += ["--no-owner", "--no-privileges"]
    runner.run([*argv, str(path)], env=pg.env(scratch_db), timeout=pg.backup_s)


def _restore_parallel(pg: PgParams, client: Any, bucket: str, manifest: Manifest, scratch_db: str,
                      server_major: int, bin_dir: str | None, local: Path, jobs: int, owners: bool,
                      result: RestoreResult) -> HashingReader:
    result.jobs = jobs
    try:
        started = time.monotonic()
        reader = download_to_file(client, bucket, manifest.key, local)
        result.phases["download"] = round(time.monotonic() - started, 3)
        if (reader.size, reader.sha.hexdigest()) != (manifest.size, manifest.sha256):
            raise RuntimeError(f"{manifest.key}: downloaded size/sha256 differ from the manifest")
        for phase, sections in (("restore", ("pre-data", "data")), ("post_data", ("post-data",))):
            started = time.monotonic()
            pg_restore_file(pg, local, scratch_db, server_major, bin_dir, jobs=jobs, sections=sections,
                            owners_and_grants=owners)
            result.phases[phase] = round(time.monotonic() - started, 3)
    finally:
        local.unlink(missing_ok=True)
    return reader


def _amcheck(pg: PgParams, scratch_db: str, server_major: int, bin_dir: str | None, result: RestoreResult) -> None:

    checked = proof.amcheck(pg.env(scratch_db), scratch_db, server_major, bin_dir, pg.backup_s)
    result.amcheck = proof.amcheck_details(checked)
    problem = proof.amcheck_problem(checked)
    if problem is not None:
        result.problems.append(problem)


AMCHECK_FIX = ("run restore tests as a superuser, or install amcheck in template1 (CREATE EXTENSION amcheck) "
               "and GRANT EXECUTE ON FUNCTION bt_index_check, bt_index_parent_check and verify_heapam to the role")


def _amcheck_on_target(pg: PgParams, scratch_db: str, server_major: int, bin_dir: str | None,
                       result: RestoreResult) -> None:
    """``pg_amcheck`` on the copy restored onto the target server. There the connection's role may not be a
    superuser, and amcheck is not a trusted extension: it is installed into the copy only by a superuser,
    else it must come from template1 with EXECUTE granted. Not allowed to run: a warning naming the fix;
    corruption found: critical naming the relation (as on the scratch server)."""

    with pg.connect(scratch_db) as conn:
        superuser, installed, executable = conn.execute(sql_text("amcheck_ready")).fetchone()
    if not superuser and not (installed and executable):
        why = ("amcheck is not installed in the restored copy" if not installed
               else "the role may not execute amcheck's functions")
        result.amcheck = {"skipped": f"{why} and {pg.user} is not a superuser", "fix": AMCHECK_FIX}
        result.warnings.append(f"pg_amcheck not run on the restored copy: {why} and {pg.user} is not a superuser "
                               f"({AMCHECK_FIX})")
        return
    checked = proof.amcheck(pg.env(scratch_db), scratch_db, server_major, bin_dir, pg.backup_s,
                            install=bool(superuser))
    result.amcheck = proof.amcheck_details(checked)
    problem = proof.amcheck_problem(checked)
    if checked.relations and problem is not None:
        result.problems.append(problem)
    elif problem is not None:  # it could not run (a grant, a missing library): unproven, not corrupt
        result.warnings.append(f"{problem} ({AMCHECK_FIX})")


def _restore_globals(pg: PgParams, client: Any, bucket: str, manifest: Manifest, server_major: int,
                     bin_dir: str | None, scratch_dir: Path, result: RestoreResult) -> None:
    """Replay the source's roles into the scratch server and compare them (see :mod:`.proof`)."""
    import zstandard


    key = manifest.details.get("globals")
    if not key:
        result.globals = {"skipped": "this backup has no globals object (older manifest)"}
        return
    expected = zstandard.ZstdDecompressor().decompressobj().decompress(
        client.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    env, timeout_s = pg.env(), pg.backup_s
    errors = proof.apply_globals(env, expected, scratch_dir, server_major, bin_dir, timeout_s)
    diff = proof.compare_globals(expected, proof.dump_globals(env, server_major, bin_dir, timeout_s), (FRESH_USER,))
    result.globals = {"applied": True, "key": key, "roles": len([line for line in proof.globals_lines(
        expected, (FRESH_USER,)) if line.startswith("CREATE ROLE")]), "errors": errors, **diff}
    if diff["missing"] or diff["unexpected"]:
        shown = (diff["missing"] + diff["unexpected"])[:5]
        result.problems.append(f"roles/grants differ from the source's ({len(diff['missing'])} missing, "
                               f"{len(diff['unexpected'])} unexpected: {'; '.join(shown)})")


def _teardown(admin: Any, scratch_db: str, failing: bool) -> None:
    try:
        drop_db(admin, scratch_db)
    except Exception:
        if not failing:
            raise  # the restore worked but the scratch database is left: that is a failure too
        # The restore already failed and that error is propagating; do not replace it.
        log.exception("could not drop scratch database %s after a failed restore", scratch_db)
