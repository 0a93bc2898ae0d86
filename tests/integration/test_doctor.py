"""The doctor against real servers (docs/doctor.md): each misconfiguration is a ``fix`` naming the remedy
and exit 1; a configured deployment exits 0; the shipped config lists the inert plan items ``off``;
the doctor changes nothing (database, bucket, Slack receiver) and prints no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.doctor.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def run_doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def doctor_json(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, list[dict[str, str]]]:
    code, out = run_doctor(capsys, "--config", str(config), "--json")
    # In this process the moto server's request log shares stdout: the answer starts at its own line.
    return code, json.loads(out[out.index('{\n  "items"'):])["items"]


def find(items: list[dict[str, str]], item: str, target: str | None = None) -> dict[str, str]:
    hits = [i for i in items if i["item"] == item and (target is None or i["target"] == target)]
    seen = "\n".join(f"{i['status']} {i['item']} {i['target'][:30]} {i['message'][:100]}" for i in items)
    assert len(hits) == 1, seen
    return hits[0]


@pytest.fixture
def server_context(monkeypatch: pytest.MonkeyPatch) -> None:
    # What main() sets for a CLI run, restored after the test.
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")


@pytest.fixture
def osv_dir(tmp_path: Path) -> Callable[[float], Path]:
    """An OSV folder whose records are ``age_days`` old, and a pinned manifest."""

    def make(age_days: float) -> Path:
        root = tmp_path / f"osv-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        record = root / "PYSEC-2099-1.json"
        record.write_text(json.dumps({"id": "PYSEC-2099-1", "affected": []}))
        stamp = time.time() - age_days * 86400
        os.utime(record, (stamp, stamp))
        return root

    return make


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("requests==2.31.0\n")
    return path


def _pg_state(pg: servers.PostgresServer, db: str) -> dict[str, Any]:
    """What a write would change: the database's dump, its write counters, roles, settings, extensions."""
    dump = subprocess.run([str(servers.pg_bin_dir(pg.major) / "pg_dump"), "--schema-only", pg.dsn(db)],
                          check=True, capture_output=True, text=True, timeout=60).stdout
    # pg_dump's \restrict line carries a fresh random key per run.
    dump = "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))
    with pg.connect(db) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()") if pg.major and pg.major >= 15 else None
        counters = conn.execute("SELECT tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
                                "WHERE datname = current_database()").fetchone()
        roles = conn.execute("SELECT rolname, rolsuper, rolcreatedb, rolreplication, rolpassword IS NOT NULL "
                             "FROM pg_authid ORDER BY 1").fetchall()
        settings = conn.execute("SELECT name, setting FROM pg_settings WHERE source NOT IN ('default', 'session', "
                                "'client') ORDER BY 1").fetchall()
        extensions = conn.execute("SELECT extname FROM pg_extension ORDER BY 1").fetchall()
        databases = conn.execute("SELECT datname FROM pg_database ORDER BY 1").fetchall()
    return {"dump": dump, "counters": counters, "roles": roles, "settings": settings, "extensions": extensions,
            "databases": databases}


def _bucket_state(s3: servers.S3Server) -> dict[str, Any]:
    client = s3.client()
    buckets = sorted(b["Name"] for b in client.list_buckets()["Buckets"])
    objects = {b: sorted((o["Key"], o["ETag"], o["Size"]) for o in client.list_objects_v2(Bucket=b).get("Contents", []))
               for b in buckets}
    return {"buckets": buckets, "objects": objects}


@pytest.fixture
def weak_role(pg: servers.PostgresServer) -> Iterator[tuple[str, str, str]]:
    """A login role without CREATEDB, not in pg_monitor, on a database without pg_stat_statements."""
    tag = uuid.uuid4().hex[:6]
    role, password, db = f"doc_weak_{tag}", f"WeakPw{tag}Secret", f"doc_db_{tag}"
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    pg.create_database(db)
    pg.execute(f"CREATE TABLE t (x int); INSERT INTO t VALUES (1); GRANT SELECT ON t TO {role}", db)
    return role, password, db


def test_each_misconfiguration_is_a_fix_naming_the_remedy_and_nothing_changes(
        pg, pg18, s3, slack, airflow_db, weak_role, osv_dir, manifest, write_config, connections, capsys,
        server_context):
    role, password, db = weak_role
    db18 = pg18.create_database(f"doc18_{uuid.uuid4().hex[:6]}")
    connections({
        "AIRFLOW_CONN_MAINTENANCE_POSTGRES": f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/{db}",
        **pg18.connection_env("doctor_pg18", db18),
        **s3.connection_env("maintenance_s3"),
        **slack.connection_env("maintenance_slack"),
    })
    stale = osv_dir(10)
    config = write_config({
        "targets": {"postgres": [{"name": "main"}, {"name": "pg18", "conn_id": "doctor_pg18"}], "redis": []},
        "backups": {"bucket": f"missing-{uuid.uuid4().hex[:6]}", "restore_on": "target_server",
                    "restore_max_bytes": 10**9, "server_side_encryption": "AES256"},
        "security": {"dependency_manifests": [{"name": "api", "path": str(manifest)}],
                     "advisories": f"file://{stale}"},
    })
    pg18.execute("ALTER SYSTEM SET summarize_wal = off")
    pg18.execute("SELECT pg_reload_conf()")
    try:
        before = (_pg_state(pg, db), _bucket_state(s3), list(slack.messages), slack.attempts)
        code, items = doctor_json(capsys, config)
        after = (_pg_state(pg, db), _bucket_state(s3), list(slack.messages), slack.attempts)
    finally:
        pg18.execute("ALTER SYSTEM SET summarize_wal = on")  # as the fixture configured it
        pg18.execute("SELECT pg_reload_conf()")

    assert code == 1
    createdb = find(items, "backup.restore_privileges", "main")
    assert createdb["status"] == "fix"
    assert f'ALTER ROLE "{role}" CREATEDB' in createdb["fix"]
    monitor = find(items, "postgres.privileges", "main")
    assert monitor["status"] == "fix"
    assert f'GRANT pg_monitor TO "{role}"' in monitor["fix"]
    pgss = find(items, "postgres.pg_stat_statements", "main")
    assert pgss["status"] == "fix"
    assert "CREATE EXTENSION pg_stat_statements" in pgss["fix"]
    incremental = find(items, "backup.incremental_prerequisites", "pg18")
    assert incremental["status"] == "fix"
    assert "ALTER SYSTEM SET summarize_wal = on" in incremental["fix"]
    assert "summarize_wal is 'off'" in incremental["message"]
    assert find(items, "backup.incremental_prerequisites", "main")["status"] == "ok"  # PG 15: logical snapshots
    bucket = find(items, "s3.bucket")
    assert bucket["status"] == "fix"
    assert "does not exist" in bucket["message"]
    assert "create bucket" in bucket["fix"]
    osv = find(items, "security.advisories")
    assert osv["status"] == "fix"
    assert "10.0 days old" in osv["message"]
    assert "sync OSV records" in osv["fix"]
    assert find(items, "alerts.slack")["status"] == "ok"
    assert find(items, "airflow.pool")["status"] == "ok"
    assert find(items, "config")["status"] == "ok"

    # Read-only: database (schema, write counters, roles, settings), bucket listing, Slack receiver.
    assert after == before


def test_a_configured_deployment_exits_0(pg18, s3, slack, airflow_db, osv_dir, manifest, tmp_path, redis_server):
    """The real CLI in its own process: every probe ok, plan items off only (off is not a fix)."""
    db = pg18.create_database(f"docok_{uuid.uuid4().hex[:6]}")
    pg18.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db)
    bucket = f"doc-ok-{uuid.uuid4().hex[:6]}"
    s3.client().create_bucket(Bucket=bucket)
    config = tmp_path / "ok.yaml"
    config.write_text(json.dumps({
        "reports": {"url": f"file://{tmp_path}/reports"},
        "targets": {"postgres": [{"name": "main"}], "redis": [{"name": "cache"}]},
        "backups": {"bucket": bucket, "restore_on": "target_server", "restore_max_bytes": 10**9,
                    "server_side_encryption": "AES256"},
        "security": {"dependency_manifests": [{"name": "api", "path": str(manifest)}],
                     "advisories": f"file://{osv_dir(1)}"},
    }))
    env = {**os.environ, **pg18.connection_env("maintenance_postgres", db),
           **redis_server.connection_env("maintenance_redis"), **s3.connection_env("maintenance_s3"),
           **slack.connection_env("maintenance_slack")}
    env.pop("MAINTENANCE_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "mercenary_maintenance.doctor", "--config", str(config), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    items = json.loads(proc.stdout)["items"]
    assert proc.returncode == 0, [i for i in items if i["status"] == "fix"]
    assert {i["status"] for i in items} == {"ok", "off"}
    assert set(items[0]) == {"item", "target", "status", "message", "fix"}
    for name in ("postgres.reachable", "postgres.privileges", "postgres.pg_stat_statements",
                 "backup.restore_privileges", "backup.incremental_prerequisites", "redis.reachable", "s3.bucket",
                 "s3.encryption", "security.advisories", "alerts.slack", "airflow.pool"):
        assert find(items, name)["status"] == "ok", name
    assert slack.messages == []


def test_the_shipped_config_lists_the_inert_plan_items_off(capsys, airflow_db, server_context):
    code, items = doctor_json(capsys, ROOT / "include" / "maintenance.yaml")
    off = {i["item"]: i for i in items if i["status"] == "off"}
    keys = " ".join(i["fix"] for i in off.values())
    for key in ("logs.error_scan", "targets.http", "security.closed_ports", "security.aws_conn_id",
                "security.dependency_manifests", "alerts.prometheus_conn_id", "targets.postgres[].log_file",
                "targets.postgres[].vacuum_full_tables"):
        assert key in keys, key
    assert "uploads" in keys
    assert off["plan: Security headers"]["fix"].startswith("targets.http")
    assert off["plan: SSL certificate expiry (renew 30 days before)"]["target"] == "check_tls_certificates"
    assert "plan: VACUUM ANALYZE, update statistics" not in off  # active under the shipped config
    # Without the servers the connections are missing: fixes naming the connection to create, exit 1.
    assert code == 1
    assert "create connection maintenance_postgres" in find(items, "postgres.reachable")["fix"]


def test_no_secret_of_any_connection_reaches_the_output(pg, s3, slack, tmp_path, write_config, connections, capsys,
                                                         airflow_db, server_context):
    tag = uuid.uuid4().hex[:8]
    secrets = {"postgres": f"PgDoc{tag}Secret", "redis": f"RedisDoc{tag}Secret", "s3": f"S3Doc{tag}Secret",
               "slack": f"SlackDoc{tag}Token", "prometheus": f"PromDoc{tag}Secret"}
    role = f"doc_sec_{tag}"
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{secrets['postgres']}'")
    redis = servers.RedisServer(args=["--requirepass", secrets["redis"]]).start()
    try:
        connections({
            "AIRFLOW_CONN_MAINTENANCE_POSTGRES": f"postgresql://{role}:{secrets['postgres']}@127.0.0.1:{pg.port}/postgres",
            # A second target whose server refuses: its error message must not carry the password either.
            "AIRFLOW_CONN_DOC_DOWN": f"postgresql://{role}:{secrets['postgres']}@127.0.0.1:{servers.free_port()}/x",
            "AIRFLOW_CONN_MAINTENANCE_REDIS": f"redis://:{secrets['redis']}@127.0.0.1:{redis.port}/0",
            "AIRFLOW_CONN_DOC_REDIS_WRONG": f"redis://:{secrets['redis']}x@127.0.0.1:{redis.port}/0",
            "AIRFLOW_CONN_MAINTENANCE_S3": json.dumps({
                "conn_type": "aws", "login": "testing", "password": secrets["s3"],
                "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}),
            "AIRFLOW_CONN_MAINTENANCE_SLACK": json.dumps(
                {"conn_type": "slackwebhook", "password": f"{slack.url}/services/T0DOC/B0DOC/{secrets['slack']}"}),
            "AIRFLOW_CONN_DOC_PROMETHEUS": json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{servers.free_port()}",
                                                       "login": "prom", "password": secrets["prometheus"]}),
        })
        config = write_config({
            "targets": {"postgres": [{"name": "main"}, {"name": "down", "conn_id": "doc_down"}],
                        "redis": [{"name": "cache"}, {"name": "wrong", "conn_id": "doc_redis_wrong"}]},
            "alerts": {"prometheus_conn_id": "doc_prometheus"},
        })
        outputs = [run_doctor(capsys, "--config", str(config))[1],
                   run_doctor(capsys, "--config", str(config), "--json")[1]]
    finally:
        redis.cleanup()
    text, as_json = outputs
    assert "postgres.reachable" in text
    assert json.loads(as_json[as_json.index('{\n  "items"'):])["items"]
    for output in outputs:
        for name, secret in secrets.items():
            assert secret not in output, f"the {name} secret is printed"
    assert slack.messages == []
