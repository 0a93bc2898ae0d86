"""The doctor's built-in probes: one registered function per concern, each read-only and bounded.

PostgreSQL sessions are read-only (``default_transaction_read_only``) with a ``statement_timeout``;
S3 is asked with HEAD/GET/LIST only; Slack and Alertmanager connections are looked at, never
posted to; the pool is read from Airflow's metadata, never created. A probe for a new config key
is one more ``@probe`` function here (or in a module imported by ``doctor.__main__``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mercenary_maintenance import packaged, redact, switches
from mercenary_maintenance.adapters import postgres as pg_adapter
from mercenary_maintenance.adapters import redis as redis_adapter
from mercenary_maintenance.adapters import s3 as s3_adapter
from mercenary_maintenance.adapters.http import connection_get, prometheus_query
from mercenary_maintenance.config import MaintenanceConfig, PostgresTarget
from mercenary_maintenance.console.plan import load_plan
from mercenary_maintenance.doctor import Context, Item, MissingConnection, fix, off, ok, probe
from mercenary_maintenance.hosts import transport_for
from mercenary_maintenance.wiring.dagkit import HEAVY_POOL

MIN_VERSION = 130000  # = pg.sql.MIN_VERSION: servers older than 13 are refused
INCREMENTAL_MAJOR = 17  # pg_basebackup --incremental
OSV_MAX_AGE = timedelta(days=7)


def _missing(item: str, target: str, conn_id: str, kind: str, how: str) -> Item:
    return fix(item, target, f"Airflow connection {conn_id!r} is not defined",
               f"create connection {conn_id} ({kind}; {how}) — UI, `airflow connections add` or AIRFLOW_CONN_"
               f"{conn_id.upper()}")


# ------------------------------------------------------------------------------------------ PostgreSQL


def _pg_row(ctx: Context, target: PostgresTarget) -> dict[str, Any]:
    from psycopg.rows import dict_row


    t = ctx.cfg.timeouts
    conn = pg_adapter.connect(target.conn_id, purpose="doctor", timeouts=t)
    try:
        with pg_adapter.read_deadline(conn, t.postgres.connect_s + t.postgres.read_grace_s, "doctor"):
            conn.execute("SELECT set_config('default_transaction_read_only', 'on', false), "
                         "set_config('statement_timeout', %s, false)", [f"{int(t.postgres.connect_s * 1000)}ms"])
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(packaged.sql_text("doctor", "role"))
                row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        raise RuntimeError("the connected role is not in pg_roles")
    return dict(row)


def postgres_items(cfg: MaintenanceConfig, name: str, row: dict[str, Any]) -> list[Item]:
    """What the maintenance role may do on one server, from the doctor's ``role.sql`` row (pure).

    >>> row = {"version_num": 180001, "version": "18.1", "role": "app", "database": "db", "superuser": False,
    ...        "createdb": False, "replication": False, "pg_monitor": True, "preload": "",
    ...        "pgss_version": None, "summarize_wal": "off"}
    >>> [(i.item, i.status) for i in postgres_items(MaintenanceConfig(), "main", row)]  # doctest: +NORMALIZE_WHITESPACE
    [('postgres.version', 'ok'), ('postgres.privileges', 'ok'), ('postgres.pg_stat_statements', 'fix'),
     ('backup.restore_privileges', 'ok'), ('backup.incremental_prerequisites', 'fix')]
    """
    role, major = row["role"], row["version_num"] // 10000
    quoted = '"' + str(role).replace('"', '""') + '"'
    items: list[Item] = []
    if row["version_num"] < MIN_VERSION:
        items.append(fix("postgres.version", name, f"PostgreSQL {row['version']} is older than 13",
                         "upgrade the server to PostgreSQL 13 or newer (15+ recommended)"))
    else:
        items.append(ok("postgres.version", name, f"PostgreSQL {row['version']}, connected as {role} to "
                        f"{row['database']}"))
    if row["superuser"] or row["pg_monitor"]:
        items.append(ok("postgres.privileges", name, f"{role} is {'superuser' if row['superuser'] else 'in pg_monitor'}"
                        " (reads every session, lock and statistic)"))
    else:
        items.append(fix("postgres.privileges", name, f"role {role} is not a member of pg_monitor: other sessions' "
                         "queries, locks and replication are hidden from the checks",
                         f"GRANT pg_monitor TO {quoted};"))
    hidden = row["preload"] is None
    loaded = "pg_stat_statements" in [p.strip() for p in str(row["preload"] or "").split(",")]
    if (loaded or hidden) and row["pgss_version"]:
        items.append(ok("postgres.pg_stat_statements", name, f"pg_stat_statements {row['pgss_version']} installed"))
    else:
        steps = []
        if hidden:
            steps.append(f"GRANT pg_monitor TO {quoted}; (shared_preload_libraries is hidden from this role)")
        elif not loaded:
            steps.append("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements' (keep libraries "
                         f"already listed: now {row['preload']!r}); restart the server")
        if not row["pgss_version"]:
            steps.append(f"CREATE EXTENSION pg_stat_statements; (in database {row['database']})")
        state = "not installed" if loaded or hidden else "not loaded"
        items.append(fix("postgres.pg_stat_statements", name, f"pg_stat_statements is {state}: slow-query review "
                         "(postgres.slow_queries) has no data", "; then ".join(steps)))
    if cfg.backups.restore_on == "target_server":
        if row["superuser"] or row["createdb"]:
            items.append(ok("backup.restore_privileges", name, f"{role} may create the scratch databases of "
                            "restore tests (restore_on: target_server)"))
        else:
            items.append(fix("backup.restore_privileges", name, f"role {role} lacks CREATEDB, and "
                             "backups.restore_on is target_server: restore tests will fail",
                             f"ALTER ROLE {quoted} CREATEDB;  (or backups.restore_on: scratch_server)"))
    else:
        items.append(ok("backup.restore_privileges", name, "restore tests use a scratch server on the worker "
                        "(backups.restore_on: scratch_server): no CREATEDB needed here"))
    if major >= INCREMENTAL_MAJOR:
        problems, remedies = [], []
        if row["summarize_wal"] != "on":
            problems.append(f"summarize_wal is {row['summarize_wal']!r}")
            remedies.append("ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf();")
        if not (row["superuser"] or row["replication"]):
            problems.append(f"role {role} lacks REPLICATION")
            remedies.append(f"ALTER ROLE {quoted} REPLICATION; and a pg_hba.conf line: host replication {role} "
                            "<worker address> scram-sha-256")
        if problems:
            items.append(fix("backup.incremental_prerequisites", name, "pg_basebackup --incremental cannot run: "
                             + "; ".join(problems), "  ".join(remedies)))
        else:
            items.append(ok("backup.incremental_prerequisites", name, "summarize_wal on and REPLICATION: "
                            "incremental backups with pg_basebackup --incremental"))
    else:
        items.append(ok("backup.incremental_prerequisites", name, f"PostgreSQL {major} < 17: the 4-hourly "
                        "incremental is a logical snapshot (said in each report); 17+ uses pg_basebackup "
                        "--incremental"))
    return items


@probe("postgres")
def postgres_probe(ctx: Context) -> Iterator[Item]:
    """Each PostgreSQL target: reachable, version, pg_monitor, pg_stat_statements, what backups need."""
    for target in ctx.cfg.targets.postgres:
        try:
            ctx.connection(target.conn_id)
        except MissingConnection:
            yield _missing("postgres.reachable", target.name, target.conn_id, "postgres",
                           "host, port, login, password, schema = the database")
            continue
        try:
            row = _pg_row(ctx, target)
        except Exception as exc:
            yield fix("postgres.reachable", target.name, f"cannot connect or query: {redact.first_line(exc)}",
                      f"check connection {target.conn_id}: host, port, credentials, pg_hba.conf")
            continue
        yield ok("postgres.reachable", target.name, f"connection {target.conn_id} answers")
        yield from postgres_items(ctx.cfg, target.name, row)


# ------------------------------------------------------------------------------------------ Redis


@probe("redis")
def redis_probe(ctx: Context) -> Iterator[Item]:
    """Each Redis target answers PING."""

    for target in ctx.cfg.targets.redis:
        try:
            ctx.connection(target.conn_id)
        except MissingConnection:
            yield _missing("redis.reachable", target.name, target.conn_id, "redis", "host, port, password, db")
            continue
        client = redis_adapter.connect(target.conn_id, timeouts=ctx.cfg.timeouts)
        try:
            client.ping()
            version = (client.info("server") or {}).get("redis_version", "?")
        except Exception as exc:
            yield fix("redis.reachable", target.name, f"no answer to PING: {redact.first_line(exc)}",
                      f"check connection {target.conn_id}: host, port, password")
            continue
        finally:
            client.close()
        yield ok("redis.reachable", target.name, f"Redis {version} answers PING")


# ------------------------------------------------------------------------------------------ S3


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def bucket_items(client: Any, bucket: str, sse: str | None, what: str) -> list[Item]:
    """HEAD the bucket, then read its default encryption (never writes)."""
    item = f"s3.{what}"
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:
        code = _error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return [fix(item, bucket, f"bucket {bucket} does not exist",
                        f"create bucket {bucket} (versioning on), or name an existing one in "
                        f"{'backups.bucket' if what == 'bucket' else 'reports.url'}")]
        if code in ("403", "AccessDenied"):
            return [fix(item, bucket, f"access to bucket {bucket} denied",
                        "allow s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject, "
                        "s3:GetLifecycleConfiguration, s3:PutLifecycleConfiguration for the connection's identity")]
        return [fix(item, bucket, f"bucket {bucket} not reachable: {redact.first_line(exc)}",
                    "check the aws connection's endpoint_url/region_name extras and credentials")]
    items = [ok(item, bucket, f"bucket {bucket} reachable")]
    if what != "bucket":
        return items
    try:
        rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else None
    except Exception as exc:
        if _error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            default = f"unknown ({_error_code(exc) or type(exc).__name__})"
        else:
            default = None
    if sse is not None:
        items.append(ok("s3.encryption", bucket, f"every object is stored with {sse} (backups.server_side_encryption)"
                        f"; bucket default: {default or 'none'}"))
    elif default and not str(default).startswith("unknown"):
        items.append(ok("s3.encryption", bucket, f"the bucket's default encryption ({default}) applies "
                        "(backups.server_side_encryption: null)"))
    else:
        items.append(fix("s3.encryption", bucket, f"no encryption at rest is asked for and the bucket's default is "
                         f"{default or 'none'}", "set backups.server_side_encryption: AES256 (or aws:kms with "
                         "kms_key_id), or give the bucket a default encryption"))
    return items


@probe("s3")
def s3_probe(ctx: Context) -> Iterator[Item]:
    """The backup bucket (and an s3:// report location): reachable, encryption at rest."""

    b = ctx.cfg.backups
    try:
        ctx.connection(b.conn_id)
    except MissingConnection:
        yield _missing("s3.bucket", b.bucket, b.conn_id, "aws", "the access key id as login, the secret access key as "
                       "password, extras region_name (and endpoint_url for S3-compatible stores)")
        return
    client = s3_adapter.client(b.conn_id, timeouts=ctx.cfg.timeouts)
    yield from bucket_items(client, b.bucket, b.server_side_encryption, "bucket")
    reports = urlparse(ctx.cfg.reports.url)
    if reports.scheme == "s3" and reports.netloc != b.bucket:
        yield from bucket_items(client, reports.netloc, b.server_side_encryption, "reports")


@probe("reports")
def reports_probe(ctx: Context) -> Iterator[Item]:
    """A file:// report location is writable by this user (looked at, not written)."""
    parsed = urlparse(ctx.cfg.reports.url)
    if parsed.scheme != "file":
        return
    path = Path(parsed.path)
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    if os.access(existing, os.W_OK | os.X_OK):
        where = "exists" if existing == path else f"will be created under {existing}"
        yield ok("reports.url", str(path), f"{where} and is writable by this user (several workers need an s3:// URL)")
    else:
        yield fix("reports.url", str(path), f"{existing} is not writable by this user",
                  "point reports.url at a writable directory (or an s3:// prefix)")


# ------------------------------------------------------------------------------------------ notifications


def _webhook_present(conn: Any) -> bool:
    extra = getattr(conn, "extra_dejson", None) or {}
    return bool(conn.password or conn.host or extra.get("webhook_token"))


@probe("notifications")
def notification_probe(ctx: Context) -> Iterator[Item]:
    """The Slack webhook connection exists and has a URL (nothing is posted); Alertmanager when routed."""
    a = ctx.cfg.alerts
    try:
        conn = ctx.connection(a.slack_conn_id)
    except MissingConnection:
        yield _missing("alerts.slack", a.slack_conn_id, a.slack_conn_id, "slackwebhook",
                       "the webhook URL as password")
    else:
        if _webhook_present(conn):
            yield ok("alerts.slack", a.slack_conn_id, "webhook connection present (not posted to)")
        else:
            yield fix("alerts.slack", a.slack_conn_id, "the connection has no webhook URL",
                      f"set the webhook URL as the password of connection {a.slack_conn_id}")
    routes: Iterable[str] = getattr(a, "routes", None) or ()
    am_conn: str | None = getattr(a, "alertmanager_conn_id", None)
    if "alertmanager" in routes:
        if not am_conn:
            yield fix("alerts.alertmanager", "—", "alerts.routes lists alertmanager but no connection is named",
                      "set alerts.alertmanager_conn_id (an http connection to Alertmanager)")
            return
        yield from _http_answers(ctx, "alerts.alertmanager", am_conn, "api/v2/status")
    else:
        yield off("alerts.alertmanager", "—", "alerts go to Slack only (no Alertmanager route)",
                  "alerts.routes: [slack, alertmanager] + alerts.alertmanager_conn_id")


def _http_answers(ctx: Context, item: str, conn_id: str, path: str) -> Iterator[Item]:
    """GET ``path`` on the http connection ``conn_id`` (bounded by timeouts.http)."""
    try:
        ctx.connection(conn_id)
    except MissingConnection:
        yield _missing(item, conn_id, conn_id, "http", "host = the base URL")
        return

    try:
        status = connection_get(conn_id, path, timeouts=ctx.cfg.timeouts)
    except Exception as exc:
        yield fix(item, conn_id, f"no answer: {redact.first_line(exc)}", f"check connection {conn_id}: host, port")
        return
    if status >= 400:
        yield fix(item, conn_id, f"GET /{path} answered HTTP {status}",
                  f"check connection {conn_id} (its host must be the server's base URL)")
    else:
        yield ok(item, conn_id, f"GET /{path} answered HTTP {status}")


@probe("prometheus")
def prometheus_probe(ctx: Context) -> Iterator[Item]:
    """Prometheus answers a query when alerts.prometheus_conn_id is set (else the plan probe says off)."""
    conn_id = ctx.cfg.alerts.prometheus_conn_id
    if conn_id is None:
        return
    try:
        ctx.connection(conn_id)
    except MissingConnection:
        yield _missing("alerts.prometheus", conn_id, conn_id, "http", "host = Prometheus' base URL")
        return

    try:
        answer = prometheus_query(conn_id, timeouts=ctx.cfg.timeouts)("up")
    except Exception as exc:
        yield fix("alerts.prometheus", conn_id, f"query failed: {redact.first_line(exc)}",
                  f"check connection {conn_id}: host = Prometheus' base URL (http://host:9090)")
        return
    series = answer.get("data", {}).get("result", []) if answer.get("status") == "success" else None
    if series is None:
        yield fix("alerts.prometheus", conn_id, f"unexpected answer to `up`: {str(answer)[:120]}",
                  f"point connection {conn_id} at Prometheus' HTTP API")
    else:
        yield ok("alerts.prometheus", conn_id, f"Prometheus answers: {len(series)} scrape target(s) in `up`")


# ------------------------------------------------------------------------------------------ security data


def _newest_local(root: Path) -> tuple[int, float | None]:
    count, newest = 0, None
    for path in root.rglob("*.json"):
        count += 1
        mtime = path.stat().st_mtime
        newest = mtime if newest is None else max(newest, mtime)
    return count, newest


def _newest_s3(ctx: Context, bucket: str, prefix: str) -> tuple[int, float | None]:

    client = s3_adapter.client(ctx.cfg.backups.conn_id, timeouts=ctx.cfg.timeouts)
    count, newest = 0, None
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".json"):
                count += 1
                stamp = obj["LastModified"].timestamp()
                newest = stamp if newest is None else max(newest, stamp)
    return count, newest


@probe("security")
def osv_probe(ctx: Context) -> Iterator[Item]:
    """OSV records present and fresh (≤ 7 days) and the manifests readable, when a scan is configured."""
    sec = ctx.cfg.security
    if not sec.dependency_manifests:
        return
    for m in sec.dependency_manifests:
        if not os.access(m.path, os.R_OK):
            yield fix("security.manifest", m.name, f"{m.path} is not readable here",
                      f"fix security.dependency_manifests[{m.name}].path (a pinned {m.kind} manifest on the worker)")
    if sec.advisories is None:
        yield fix("security.advisories", "—", "manifests are listed but no advisory source is set",
                  'set security.advisories: "file:///var/lib/osv" (or s3://bucket/prefix) and sync OSV records there')
        return
    parsed = urlparse(sec.advisories)
    if parsed.scheme == "file":
        root = Path(parsed.path)
        if not root.is_dir():
            yield fix("security.advisories", sec.advisories, f"{root} is not a directory",
                      f"create {root} and sync OSV records into it (e.g. the PyPI/npm exports of osv.dev)")
            return
        count, newest = _newest_local(root)
    else:
        count, newest = _newest_s3(ctx, parsed.netloc, parsed.path.lstrip("/"))
    if not count or newest is None:
        yield fix("security.advisories", sec.advisories, "no OSV records (*.json) there",
                  f"sync OSV records into {sec.advisories} (weekly, before the Sunday scan)")
        return
    age = ctx.now.timestamp() - newest
    days = age / 86400
    if age > OSV_MAX_AGE.total_seconds():
        yield fix("security.advisories", sec.advisories, f"{count} OSV record file(s), newest {days:.1f} days old "
                  f"(> {OSV_MAX_AGE.days} days: new advisories are missed)",
                  f"sync OSV records into {sec.advisories} at least weekly (a cron job before the scan)")
    else:
        yield ok("security.advisories", sec.advisories, f"{count} OSV record file(s), newest {days:.1f} days old")


# ------------------------------------------------------------------------------------------ Airflow


@probe("pool")
def pool_probe(ctx: Context) -> Iterator[Item]:
    """The maintenance_heavy pool, read from Airflow's metadata (never created here)."""

    if not ctx.airflow_metadata:
        yield fix("airflow.pool", HEAVY_POOL, "Airflow's metadata database does not exist yet",
                  "airflow db migrate && python -m mercenary_maintenance.wiring.setup")
        return
    from airflow import settings
    from airflow.models.pool import Pool
    from sqlalchemy.orm import Session

    try:
        with Session(bind=settings.engine) as session:
            pool = Pool.get_pool(HEAVY_POOL, session=session)
            slots = None if pool is None else pool.slots
    except Exception as exc:
        yield fix("airflow.pool", HEAVY_POOL, f"cannot read Airflow's metadata: {redact.first_line(exc)}",
                  "airflow db migrate && python -m mercenary_maintenance.wiring.setup")
        return
    if slots is None:
        yield fix("airflow.pool", HEAVY_POOL, "pool missing: heavy tasks would create it at the first run",
                  "python -m mercenary_maintenance.wiring.setup  (creates it with 2 slots)")
    else:
        yield ok("airflow.pool", HEAVY_POOL, f"{slots} slot(s): at most {slots} target(s) maintained at once")


# ------------------------------------------------------------------------------------------ hosts

SUDOERS_HINT = ("connect as a user that may run it, e.g. the `maintenance` user with the sudoers lines of "
                "docs/areas/hosts.md (`maintenance ALL=(root) NOPASSWD: MM_READ, MM_CLEAN`)")


def _hosts_bound(cfg: MaintenanceConfig) -> float:
    """Every host connects (3 × connect_s at most) and runs three short commands, one after another."""
    ssh = cfg.timeouts.ssh
    return max(1, len(cfg.targets.hosts)) * (3 * ssh.connect_s + 3 * min(ssh.command_s, 30.0)) + 5


def _keyscan(conn: Any) -> str:
    port = f" -p {conn.port}" if conn.port and int(conn.port) != 22 else ""
    return (f"`ssh-keyscan -t ed25519{port} {conn.host}` and set the connection's extra host_key to the "
            "\"ssh-ed25519 AAAA…\" part (or add the line to the worker's ~/.ssh/known_hosts)")


def host_key_item(name: str, conn: Any, allow_unknown: bool) -> Item:
    """Is the host key of an SSH connection pinned (pure over the connection)?"""
    import base64
    import binascii

    extra = conn.extra_dejson or {}
    loose = str(extra.get("no_host_key_check", "false")).lower() == "true"
    if loose and not allow_unknown:
        return fix("hosts.host_key", name, "host-key checking is off on the connection: the host is refused",
                   f"pin the key: {_keyscan(conn)}; then drop no_host_key_check")
    if loose:
        return fix("hosts.host_key", name, "host-key checking is off and allow_unknown_host_key is true: a "
                   "man in the middle would not be noticed", f"pin the key: {_keyscan(conn)}")
    key = str(extra.get("host_key") or "").split()
    if key:
        try:
            base64.b64decode(key[-1], validate=True)
        except (binascii.Error, ValueError):
            return fix("hosts.host_key", name, "the connection's host_key extra is not a valid key",
                       f"replace it: {_keyscan(conn)}")
        return ok("hosts.host_key", name, f"host key pinned in the connection ({key[0] if len(key) > 1 else 'key'})")
    known = Path.home() / ".ssh" / "known_hosts"
    wanted = {str(conn.host), f"[{conn.host}]:{conn.port}"}
    if known.exists() and any(line.split(" ", 1)[0] in wanted or any(w in line.split(" ", 1)[0].split(",")
                              for w in wanted) for line in known.read_text().splitlines()):
        return ok("hosts.host_key", name, f"host key pinned in {known}")
    return fix("hosts.host_key", name, "no host key pinned (no host_key extra, no known_hosts entry): the "
               "connection is refused", f"pin the key: {_keyscan(conn)}")


def _denied(text: str) -> bool:
    return "Permission denied" in text or "Operation not permitted" in text


@probe("hosts", bound_s=_hosts_bound)
def hosts_probe(ctx: Context) -> Iterator[Item]:
    """Each host target: its SSH connection defined, its host key pinned, reachable, and the privileged
    commands (open files, firewall ruleset, sshd journal) allowed."""

    if not ctx.cfg.targets.hosts:
        yield off("hosts.configured", "local", "targets.hosts is empty: the server lines of the plan run on the "
                  "Airflow worker itself (reported as host 'local')", "targets.hosts")
        return
    for host in ctx.cfg.targets.hosts:
        if host.transport == "ssh":
            assert host.ssh_conn_id is not None
            try:
                conn = ctx.connection(host.ssh_conn_id)
            except MissingConnection:
                yield _missing("hosts.reachable", host.name, host.ssh_conn_id, "ssh",
                               "host, port, login, extra private_key and host_key")
                continue
            key_item = host_key_item(host.name, conn, host.allow_unknown_host_key)
            yield key_item
            if key_item.status == "fix" and not host.allow_unknown_host_key:
                continue
        transport = transport_for(ctx.cfg, host.name)
        try:
            try:
                transport.run("file_ids", "/")
            except Exception as exc:
                yield fix("hosts.reachable", host.name, f"unreachable: {redact.first_line(exc)}",
                          f"check connection {host.ssh_conn_id}: host, port, login, private_key; the host's sshd")
                continue
            yield ok("hosts.reachable", host.name, f"reachable over {host.transport}")
            yield from _host_privileges(transport, host.name)
        finally:
            transport.close()


def _host_privileges(transport: Any, name: str) -> Iterator[Item]:
    found = transport.run("open_files", check=False)
    fd_errors = [line for line in found.stderr.splitlines() if "/fd" in line and _denied(line)]
    if fd_errors:
        yield fix("hosts.sudo", name, f"the open files of {len(fd_errors)} descriptor(s) cannot be read "
                  f"({fd_errors[0][:80]}): no log or temp file is deleted on this host", SUDOERS_HINT)
    else:
        yield ok("hosts.sudo", name, "every process's open files are readable (/proc/*/fd)")
    nft = transport.run("nft_ruleset", check=False)
    ipt = transport.run("iptables_save", check=False) if nft.returncode != 0 else nft
    if nft.returncode != 0 and ipt.returncode != 0:
        reason = (nft.stderr or ipt.stderr).strip().splitlines()[-1:] or [f"exit {nft.returncode}"]
        remedy = SUDOERS_HINT if _denied(nft.stderr + ipt.stderr) else "install nftables (or iptables) on the host"
        yield fix("hosts.firewall", name, f"the firewall ruleset cannot be read: {reason[0][:120]}", remedy)
    else:
        yield ok("hosts.firewall", name, "the firewall ruleset is readable")
# ------------------------------------------------------------------------------------------ Airflow's metadata


def _airflow_db_rows(ctx: Context, conn_id: str, tables: list[str]) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row


    t = ctx.cfg.timeouts
    conn = pg_adapter.connect(conn_id, purpose="doctor", timeouts=t)
    try:
        with pg_adapter.read_deadline(conn, t.postgres.connect_s + t.postgres.read_grace_s, "doctor airflow_db"):
            conn.execute("SELECT set_config('default_transaction_read_only', 'on', false), "
                         "set_config('statement_timeout', %s, false)", [f"{int(t.postgres.connect_s * 1000)}ms"])
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(packaged.sql_text("airflow_db", "privileges"), {"tables": tables})
                rows = [dict(r) for r in cur.fetchall()]
                role = cur.execute("SELECT current_user AS role").fetchone()
    finally:
        conn.close()
    return [{**r, "role": (role or {}).get("role", "?")} for r in rows]


@probe("airflow_db")
def airflow_db_probe(ctx: Context) -> Iterator[Item]:
    """Airflow's metadata database for ``airflow db clean``: connection, migrated, DELETE on each table."""
    cfg = ctx.cfg.airflow_db
    item, target = "airflow_db.clean", "airflow_db"
    if cfg.conn_id is None:
        yield off(item, target, "Airflow's metadata database is not cleaned (its tables grow without bound)",
                  "airflow_db.conn_id")
        return
    try:
        ctx.connection(cfg.conn_id)
    except MissingConnection:
        yield _missing(item, target, cfg.conn_id, "postgres", "the database of [database] sql_alchemy_conn")
        return
    try:
        rows = _airflow_db_rows(ctx, cfg.conn_id, cfg.tables)
    except Exception as exc:
        yield fix(item, target, f"cannot connect or query: {redact.first_line(exc)}",
                  f"check connection {cfg.conn_id}: host, port, credentials, pg_hba.conf")
        return
    if not rows or not rows[0]["migrated"]:
        yield fix(item, target, f"connection {cfg.conn_id} is not an Airflow metadata database (no alembic_version)",
                  "point airflow_db.conn_id at the database of [database] sql_alchemy_conn")
        return
    missing = [r["table_name"] for r in rows if not r["present"]]
    denied = [r["table_name"] for r in rows if r["present"] and not r["can_delete"]]
    if missing:
        yield fix(item, target, f"tables missing: {', '.join(missing)}", "run `airflow db migrate`, or drop them "
                  "from airflow_db.tables")
    elif denied:
        yield fix(item, target, f"role {rows[0]['role']} may not DELETE from {', '.join(denied)}",
                  f"GRANT DELETE ON {', '.join(denied)} TO \"{rows[0]['role']}\";")
    else:
        yield ok(item, target, f"connection {cfg.conn_id}: Airflow's metadata, DELETE on {len(rows)} table(s); "
                 f"rows older than {cfg.retention_days} days are cleaned weekly")


# ------------------------------------------------------------------------------------------ the plan


@probe("plan", bound_s=lambda cfg: 30.0)
def plan_probe(ctx: Context) -> Iterator[Item]:
    """Every plan item of docs/plan-coverage.md that is inert under this config: ``off`` + the key."""

    off_now = switches.off_switches(ctx.cfg)
    for plan_item in load_plan(ctx.cfg):
        tasks = [f"{t.dag_id}.{t.task_id}" for t in plan_item.tasks]
        found = [s for s in off_now if switches.applies(s, plan_item.item, tasks)]
        if not found:
            continue
        target = ", ".join(dict.fromkeys(s.task.split(".")[-1] for s in found if s.task)) or "manual"
        yield off(f"plan: {plan_item.item}", target, "; ".join(s.message() for s in found),
                  "; ".join(dict.fromkeys(s.fix() for s in found)))
