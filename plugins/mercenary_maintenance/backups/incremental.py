"""Incremental backups (every 4 hours) and the monthly chain restore.

PostgreSQL 17+: ``pg_basebackup --incremental=<previous backup_manifest>`` chained to a
physical full backup that this task takes when the chain is missing or older than
``backups.incremental.new_chain_after_hours``. Each backup is one tar stream
(``-D - -Ft -X fetch``: WAL and ``backup_manifest`` inside) compressed into S3; the
``backup_manifest`` is also stored on its own for the next increment. The primary is spared:
a spread checkpoint by default, a temporary replication slot holding the backup's WAL until
``-X fetch`` has collected it, statement and lock timeouts on every session, and no row count.

The monthly test downloads the chain, runs ``pg_combinebackup`` and ``pg_verifybackup``,
starts a scratch server on the result and proves what holds on a database written during the
backup: the server reached the backup's consistent point (``End-LSN`` of its WAL range) and
holds every relation that existed before and after the backup. It never compares with counts
taken after the backup ended.

Below 17 there is no incremental backup in PostgreSQL: the task takes a full *logical
snapshot* (pg_dump) on the same cadence, records it as method ``logical_snapshot`` and
says in its message that it is NOT incremental.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mercenary_maintenance import runner
from mercenary_maintenance.backups import binaries, catalog, encryption, keys, proof, scratch, source
from mercenary_maintenance.backups.catalog import Backup
from mercenary_maintenance.backups.dump import _collect, _stop, dump_globals, server_info, size_estimate, store_small
from mercenary_maintenance.backups.manifest import (
    Manifest,
    StoredObject,
    count_rows,
    list_tables,
    qualified,
    sql_text,
)
from mercenary_maintenance.backups.source import Source
from mercenary_maintenance.backups.stream import (
    MB,
    HashingReader,
    Write,
    abort_stale_uploads,
    part_size_for,
    upload_stream,
)
from mercenary_maintenance.pg.params import PgParams
from mercenary_maintenance.pg.session import millis
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC

log = logging.getLogger(__name__)
ACTION = "backup.incremental"
RESTORE = "backup.restore_test"
NATIVE_MAJOR = 17
PHYSICAL_FULL = "pg_basebackup_full"
PHYSICAL_INCREMENTAL = "pg_basebackup_incremental"
LOGICAL_SNAPSHOT = "logical_snapshot"


class PrerequisiteMissing(RuntimeError):
    """The server is not configured for incremental backups; the message says how to fix it."""


def prerequisites(summarize_wal: str | None, can_replicate: bool, user: str) -> list[str]:
    """
    >>> prerequisites("on", True, "backup")
    []
    >>> prerequisites("off", False, "backup")  # doctest: +NORMALIZE_WHITESPACE
    ["summarize_wal is 'off': set summarize_wal = on (ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf())",
     'role backup lacks REPLICATION: ALTER ROLE backup REPLICATION, and allow it in pg_hba.conf (host replication ...)']
    """
    problems = []
    if summarize_wal != "on":
        problems.append(f"summarize_wal is {summarize_wal!r}: set summarize_wal = on "
                        "(ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf())")
    if not can_replicate:
        problems.append(f"role {user} lacks REPLICATION: ALTER ROLE {user} REPLICATION, "
                        "and allow it in pg_hba.conf (host replication ...)")
    return problems


def next_parent(chain: list[tuple[Backup, Manifest]], now: datetime, max_age: timedelta) -> Manifest | None:
    """The backup the next increment builds on, or None to start a new chain with a physical full."""
    if not chain:
        return None
    latest = chain[-1][1]
    if latest.method not in (PHYSICAL_FULL, PHYSICAL_INCREMENTAL):
        return None
    started = datetime.fromisoformat(latest.details.get("chain_started_at", latest.started_at))
    return None if now - started > max_age else latest


def good_chain_members(client: Any, bucket: str, backups: list[Backup]) -> list[tuple[Backup, Manifest]]:
    return [(b, catalog.read_manifest(client, bucket, b)) for b in backups if b.good]


class _TeeReader:
    """File-like over a pipe that passes every byte read to ``write``."""

    def __init__(self, source: Any, write: Write) -> None:
        self._source, self._write = source, write

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._source.read(n if n and n > 0 else MB)
        if data:
            self._write(data)
        return data


def tar_feed(source: Any, found: dict[str, bytes]) -> Callable[[Write], None]:
    """Copy a tar stream and pick ``backup_manifest`` out of it on the way."""

    def feed(write: Write) -> None:
        tee = _TeeReader(source, write)
        with tarfile.open(fileobj=tee, mode="r|", bufsize=MB) as archive:  # type: ignore[call-overload]
            for member in archive:
                if member.name.lstrip("./") == keys.PG_MANIFEST:
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    found[keys.PG_MANIFEST] = extracted.read()
        while tee.read(MB):
            pass

    return feed


def basebackup_to_s3(pg: PgParams, client: Any, *, bucket: str, directory: str, major: int, bin_dir: str | None,
                     parent_manifest: bytes | None, level: int, part_size: int, label: str,
                     extra_args: dict[str, str], checkpoint: str = "spread",
                     ) -> tuple[Any, bytes, tuple[str | None, str | None]]:
    """One pg_basebackup (full or incremental) as ``base.tar.zst`` + ``backup_manifest`` (and its ETag and
    S3 SHA-256 checksum)."""
    pg_basebackup = binaries.program(major, "pg_basebackup", bin_dir)
    with tempfile.TemporaryDirectory(prefix="mm-incr-") as tmp:
        argv = [pg_basebackup, "-D", "-", "-Ft", "-X", "fetch", f"--checkpoint={checkpoint}", "--no-password",
                f"--label=mercenary {label}"]
        if parent_manifest is not None:
            previous = Path(tmp) / "parent_backup_manifest"
            previous.write_bytes(parent_manifest)
            argv.append(f"--incremental={previous}")
        proc = runner.spawn(argv, env=pg.env(), timeout=pg.backup_s, kill_grace_s=pg.kill_grace_s)
        assert proc.stdout is not None
        assert proc.stderr is not None
        stderr = _collect(proc.stderr)
        found: dict[str, bytes] = {}

        def finish() -> None:
            code = proc.wait()  # a runner.Child: never waits past its deadline (CommandTimeout)
            if code != 0:
                raise runner.CommandError(argv, code, stderr.result())
            if keys.PG_MANIFEST not in found:
                raise RuntimeError("pg_basebackup's tar stream had no backup_manifest")

        feed = tar_feed(proc.stdout, found)

        def feed_or_why(write: Write) -> None:
            try:
                feed(write)
            except tarfile.TarError:  # no tar at all: pg_basebackup failed; its stderr says why
                _stop(proc)  # killed if still running: the wait below is bounded
                if proc.wait(timeout=runner.KILL_WAIT_S) != 0:
                    raise runner.CommandError(argv, proc.returncode, stderr.result()) from None
                raise

        uploaded = upload_stream(client, bucket, directory + keys.BASE_TAR, feed_or_why,
                                 level=level, part_size=part_size, finish=finish, on_failure=lambda: _stop(proc),
                                 label=f"pg_basebackup {label}", extra_args=extra_args,
                                 stall_s=pg.timeouts.subprocess.stall_s)
    resp = client.put_object(Bucket=bucket, Key=directory + keys.PG_MANIFEST, Body=found[keys.PG_MANIFEST],
                             ChecksumAlgorithm="SHA256", **extra_args)
    return uploaded, found[keys.PG_MANIFEST], (resp.get("ETag"), resp.get("ChecksumSHA256"))


def bounded(conn: Any, step: Step) -> Any:
    """Every statement of this session on the primary ends: ``statement_timeout`` and ``lock_timeout``."""
    conn.execute("SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                 [millis(step.statement_timeout_s()), millis(step.cfg.postgres.lock_timeout_seconds)])
    return conn


def relations(conn: Any) -> list[str]:
    """The database's relations as ``"<relkind> <schema>.<name>"`` (the chain restore's catalog oracle)."""
    return [f"{r[2]} {qualified(r[0], r[1])}" for r in conn.execute(sql_text("relations")).fetchall()]


def hold_wal(conn: Any, slot: str) -> None:
    """A temporary physical slot reserving WAL from now until ``conn`` closes: ``-X fetch`` collects the
    backup's WAL at its end, and without the slot a busy primary may have recycled it by then."""
    conn.execute("SELECT pg_catalog.pg_create_physical_replication_slot(%s, true, true)", [slot])


def wal_range(pg_manifest: bytes) -> dict[str, Any]:
    """The backup's WAL range (its consistent point is the end) and system identifier, from backup_manifest.

    >>> wal_range(b'{"System-Identifier": 7, "WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/2000028",'
    ...           b' "End-LSN": "0/2000100"}]}')
    {'wal_start_lsn': '0/2000028', 'wal_end_lsn': '0/2000100', 'timeline': 1, 'system_identifier': '7'}
    """
    import json

    data = json.loads(pg_manifest)
    ranges = data.get("WAL-Ranges") or []
    if not ranges:
        raise RuntimeError("backup_manifest has no WAL range")
    sysid = data.get("System-Identifier")
    return {"wal_start_lsn": ranges[0]["Start-LSN"], "wal_end_lsn": ranges[-1]["End-LSN"],
            "timeline": ranges[-1]["Timeline"], "system_identifier": None if sysid is None else str(sysid)}


def proof_globals_differ(before: bytes, after: bytes) -> bool:
    """Did the roles (as the restore test compares them) change between two globals dumps?"""

    diff = proof.compare_globals(before.decode(errors="replace"), after.decode(errors="replace"), ())
    return bool(diff["missing"] or diff["unexpected"])


def _stamp_of(prefix: str, key: str) -> str:
    parts = keys.parse(prefix, key)
    if parts is None:
        raise ValueError(f"{key} is not a backup key under {prefix}/")
    return parts.stamp


def physical_backup(step: Step, target: str, pg: PgParams, client: Any, directory: str, stamp: str,
                    me: Source) -> Manifest:
    """Check prerequisites, pick the parent, take the backup, write the manifest last."""
    import hashlib

    cfg = step.cfg.backups
    started = datetime.now(UTC)
    with pg.connect() as conn:
        bounded(conn, step)
        version, version_num, database = server_info(conn)
        summarize, can_replicate = conn.execute(sql_text("incremental_prereqs")).fetchone()
        part_size = part_size_for(size_estimate(conn)[1], cfg.part_size_mb * MB)
    problems = prerequisites(summarize, bool(can_replicate), pg.user)
    if problems:
        raise PrerequisiteMissing("incremental backups need: " + "; ".join(problems))
    listing = catalog.backups_of(client, cfg.bucket, cfg.prefix, keys.INCREMENTAL, target)
    if len(source.own(listing, me)) != len(listing):
        step.add(source.others(target, f"s3://{cfg.bucket}/{keys.target_prefix(cfg.prefix, keys.INCREMENTAL, target)}",
                               listing, me))
    # a parent of another cluster would fail pg_basebackup (system identifier mismatch) or worse
    backups = [b for b in source.own(listing, me) if b.stamp != stamp]
    chain = good_chain_members(client, cfg.bucket, backups)
    parent = next_parent(chain, started, timedelta(hours=cfg.incremental.new_chain_after_hours))
    parent_pg_manifest = None
    if parent is not None:
        parent_dir = parent.key.rsplit("/", 1)[0] + "/"
        parent_pg_manifest = client.get_object(Bucket=cfg.bucket, Key=parent_dir + keys.PG_MANIFEST)["Body"].read()
    abort_stale_uploads(client, cfg.bucket, keys.backup_dir(cfg.prefix, keys.INCREMENTAL, target, stamp))
    slot = f"mm_backup_{secrets.token_hex(6)}"
    with pg.connect() as guard:  # held for the backup's duration: the slot lives as long as this session
        bounded(guard, step)
        before = relations(guard)
        roles_before = dump_globals(pg, version_num // 10000, cfg.bin_dir)
        hold_wal(guard, slot)
        uploaded, pg_manifest, pg_manifest_stored = basebackup_to_s3(
            pg, client, bucket=cfg.bucket, directory=directory, major=version_num // 10000, bin_dir=cfg.bin_dir,
            parent_manifest=parent_pg_manifest, level=cfg.full.zstd_level, part_size=part_size,
            label=f"{target} {stamp}", extra_args=encryption.upload_args(cfg), checkpoint=cfg.incremental.checkpoint)
        after = relations(guard)
        roles_after = dump_globals(pg, version_num // 10000, cfg.bin_dir)
    # The roles the copy must hold (globals without passwords), when they did not change during the backup
    # (then the consistent point's roles are not known: the restore test reports them, uncompared).
    roles = store_small(client, cfg.bucket, directory + keys.GLOBALS, roles_after, cfg.full.zstd_level,
                        encryption.upload_args(cfg))
    roles_changed = proof_globals_differ(roles_before, roles_after)
    wal = wal_range(pg_manifest)
    if wal["system_identifier"] not in (None, me.system_identifier):
        raise RuntimeError(f"backup_manifest names system {wal['system_identifier']}, the server said "
                           f"{me.system_identifier}: not storing a backup of another cluster under this source")
    # Relations that existed before and after the backup exist at its consistent point; one created or
    # dropped meanwhile may or may not, so the oracle does not ask for it.
    kept = sorted(set(before) & set(after))
    tool = runner.run([binaries.program(version_num // 10000, "pg_basebackup", cfg.bin_dir), "--version"],
                      timeout=pg.timeouts.subprocess.default_s)
    chain_id = parent.chain if parent is not None and parent.chain else stamp
    chain_started = parent.details.get("chain_started_at") if parent is not None else started.isoformat()
    objects = [StoredObject(uploaded.key, uploaded.size, uploaded.sha256, uploaded.raw_size, uploaded.etag,
                            uploaded.checksum_sha256),
               StoredObject(directory + keys.PG_MANIFEST, len(pg_manifest), hashlib.sha256(pg_manifest).hexdigest(),
                            etag=pg_manifest_stored[0], checksum_sha256=pg_manifest_stored[1]), roles]
    manifest = Manifest(
        target=target, kind=keys.INCREMENTAL, method=PHYSICAL_INCREMENTAL if parent else PHYSICAL_FULL,
        key=uploaded.key, size=uploaded.size, sha256=uploaded.sha256, server_version=version,
        client_version=tool.stdout.strip(), database=database, started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(), objects=objects, row_counts={}, row_counts_exact=False,
        chain=chain_id, parent=_stamp_of(cfg.prefix, parent.key) if parent else None,
        system_identifier=me.system_identifier, source=me.tag,
        details={"chain_started_at": chain_started, "raw_size": uploaded.raw_size,
                 "seconds": round(uploaded.seconds, 3), "mb_per_s": round(uploaded.mb_per_s, 1),
                 "checkpoint": cfg.incremental.checkpoint, "wal_slot": slot, **wal, "relations": kept,
                 "globals": roles.key, "globals_changed_during_backup": roles_changed,
                 "oracle": "the restore must reach wal_end_lsn (the consistent point), hold every relation "
                           "listed and the roles of the globals object (unless they changed during the backup), "
                           "and pass pg_verifybackup; row counts are not compared (the database is written "
                           "during the backup)"},
    )
    catalog.put_manifest(client, cfg.bucket, directory, manifest, encryption.upload_args(cfg))
    return manifest


# ----------------------------------------------------------------------------- monthly chain restore


def chain_to_restore(members: list[tuple[Backup, Manifest]]) -> list[tuple[Backup, Manifest]]:
    """The latest physical backup and its ancestors, base first (empty if the chain is broken)."""
    physical = [(b, m) for b, m in members if m.method in (PHYSICAL_FULL, PHYSICAL_INCREMENTAL)]
    if not physical:
        return []
    by_stamp = {b.stamp: (b, m) for b, m in physical}
    chain = [physical[-1]]
    while chain[0][1].parent is not None:
        parent = by_stamp.get(chain[0][1].parent)
        if parent is None:
            return []
        chain.insert(0, parent)
    return chain


def download_and_extract(client: Any, bucket: str, manifest: Manifest, dest: Path) -> None:
    import zstandard

    body = client.get_object(Bucket=bucket, Key=manifest.key)["Body"]
    reader = HashingReader(body)
    dest.mkdir(parents=True)
    raw_stream: Any = zstandard.ZstdDecompressor().stream_reader(reader, read_size=MB)  # type: ignore[arg-type]
    with raw_stream as raw, tarfile.open(fileobj=raw, mode="r|", bufsize=MB) as archive:  # type: ignore[call-overload]
        archive.extractall(dest, filter="tar")
    reader.drain()
    if (reader.size, reader.sha.hexdigest()) != (manifest.size, manifest.sha256):
        raise RuntimeError(f"{manifest.key}: size/sha256 differ from the manifest")


def restore_chain(client: Any, bucket: str, chain: list[Manifest], work: Path, major: int,
                  bin_dir: str | None, pg: PgParams) -> dict[str, Any]:
    """Download, combine, verify, start and count; returns durations and counts."""

    user, backup_s = pg.user, pg.backup_s
    times: dict[str, float] = {}
    t0 = time.monotonic()
    dirs = []
    for i, manifest in enumerate(chain):
        dirs.append(work / f"{i:03d}")
        download_and_extract(client, bucket, manifest, dirs[-1])
    times["download_s"] = time.monotonic() - t0
    out = work / "combined"
    t0 = time.monotonic()
    runner.run([binaries.program(major, "pg_combinebackup", bin_dir), *map(str, dirs), "-o", str(out)],
               timeout=backup_s, kill_grace_s=pg.kill_grace_s)
    times["combine_s"] = time.monotonic() - t0
    for d in dirs:  # the inputs are no longer needed; free the disk before starting the server
        shutil.rmtree(d)
    t0 = time.monotonic()
    runner.run([binaries.program(major, "pg_verifybackup", bin_dir), str(out)], timeout=backup_s,
               kill_grace_s=pg.kill_grace_s)
    times["verify_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    server_bin = binaries.client_dir(major, bin_dir, "postgres")
    latest = chain[-1]
    with scratch.scratch_server(server_bin, out) as server:
        times["start_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        with server.connect(user, latest.database, pg.timeouts) as conn:  # type: ignore[attr-defined]
            # Bounded like the restore that produced them (the counts scan every table of the copy).
            conn.execute("SELECT set_config('statement_timeout', %s, false)",
                         [f"{round(backup_s * 1000)}ms"])
            end_lsn = latest.details.get("wal_end_lsn")
            point = None
            if end_lsn:
                row = conn.execute(sql_text("replay_point"), {"end_lsn": end_lsn}).fetchone()
                point = {"in_recovery": row[0], "current_lsn": row[1], "reached": bool(row[2]),
                         "backup_end_lsn": row[3], "end_record_required": row[4], "wal_end_lsn": end_lsn}
            present = set(relations(conn))
            counts = count_rows(conn, list_tables(conn))  # reported (what the copy holds), never compared
        times["oracle_s"] = time.monotonic() - t0
        env = proof.socket_env(str(server.socket_dir), server.port, user, latest.database,  # type: ignore[attr-defined]
                               pg.timeouts)
        checked = proof.amcheck(env, latest.database, major, bin_dir, backup_s)
        times["amcheck_s"] = checked.seconds
        roles = compare_roles(client, bucket, latest, env, major, bin_dir, backup_s)
    expected = latest.details.get("relations")
    missing = sorted(set(expected) - present) if expected is not None else None
    return {"times": {k: round(v, 3) for k, v in times.items()}, "row_counts": counts, "consistent_point": point,
            "missing_relations": missing, "amcheck": checked, "globals": roles}


def compare_roles(client: Any, bucket: str, latest: Manifest, env: dict[str, str], major: int,
                  bin_dir: str | None, timeout_s: float) -> dict[str, Any]:
    """The started copy's roles (``pg_dumpall --globals-only --no-role-passwords``) vs those stored with the
    backup: a physical copy carries the cluster's roles, so they must be the same."""
    import zstandard


    key = latest.details.get("globals")
    if not key:
        return {"skipped": "this backup has no globals object (taken before roles were stored with the chain)"}
    expected = zstandard.ZstdDecompressor().decompressobj().decompress(
        client.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    restored = proof.dump_globals(env, major, bin_dir, timeout_s)
    diff = proof.compare_globals(expected, restored, ())
    roles = len([line for line in proof.globals_lines(expected) if line.startswith("CREATE ROLE")])
    if latest.details.get("globals_changed_during_backup"):
        return {"key": key, "roles": roles, "compared": False, **diff,
                "skipped": "the roles changed during the backup: the consistent point's roles are not known"}
    return {"key": key, "roles": roles, "compared": True, **diff}


def roles_problem(roles: dict[str, Any]) -> str | None:
    """
    >>> print(roles_problem({"compared": True, "missing": ["CREATE ROLE a"], "unexpected": []}))
    roles/grants differ from the source's (1 missing, 0 unexpected: CREATE ROLE a)
    >>> roles_problem({"compared": False, "missing": ["CREATE ROLE a"], "unexpected": []}) is None
    True
    """
    if not roles.get("compared") or not (roles["missing"] or roles["unexpected"]):
        return None
    shown = (roles["missing"] + roles["unexpected"])[:5]
    return (f"roles/grants differ from the source's ({len(roles['missing'])} missing, "
            f"{len(roles['unexpected'])} unexpected: {'; '.join(shown)})")


def oracle_problems(result: dict[str, Any]) -> list[str]:
    """What the restored copy fails to prove (empty: it reached the backup's consistent point and holds
    every relation of the catalog at backup time).

    >>> oracle_problems({"consistent_point": {"reached": True, "in_recovery": False, "end_record_required": False},
    ...                  "missing_relations": []})
    []
    >>> oracle_problems({"consistent_point": {"reached": False, "in_recovery": False, "current_lsn": "0/10",
    ...                  "wal_end_lsn": "0/20", "end_record_required": False}, "missing_relations": ["r public.t"]})
    ["restored server is at WAL 0/10, before the backup's consistent point 0/20", 'missing relations: r public.t']
    """
    problems = []
    point = result.get("consistent_point")
    if point is None:
        problems.append("the backup recorded no consistent point (taken before this check existed)")
    else:
        if not point["reached"]:
            problems.append(f"restored server is at WAL {point['current_lsn']}, before the backup's consistent "
                            f"point {point['wal_end_lsn']}")
        if point["in_recovery"] or point["end_record_required"]:
            problems.append("restored server did not finish recovery to the end of the backup")
    missing = result.get("missing_relations")
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        problems.append(f"missing relations: {shown}")
    return problems
