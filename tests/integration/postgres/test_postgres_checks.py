"""The PostgreSQL checks detect real, induced conditions (PostgreSQL 15 and 18)."""

from __future__ import annotations

import time
import uuid

from mercenary_dev.servers import free_port

from mercenary_maintenance.findings import Severity
from mercenary_maintenance.postgres import bodies, checks


def test_daily_reports_blocked_lock_and_idle_transaction(server, db, make_step, pgh):
    server.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)", db)
    holder = server.connect(db, autocommit=False)
    holder.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")  # transaction stays open
    blocked = pgh.Background(server, db, "SELECT count(*) FROM accounts").start()
    idle = server.connect(db, autocommit=False)
    idle.execute("SELECT 1")  # now "idle in transaction"
    try:
        pgh.wait_until(lambda: pgh.waiting_on_lock(server, db, "FROM accounts"))
        time.sleep(1.1)  # older than the 1 s threshold below
        step = make_step(postgres={"long_transaction_seconds": 1})
        bodies.check_daily(step, "main")

        locks = pgh.finding(step, "postgres.blocked_locks")
        assert locks.severity is Severity.WARNING
        assert locks.value >= 1
        pair = next(p for p in locks.details["pairs"] if p["blocked_pid"] == blocked.pid)
        assert pair["blocking_pid"] == holder.info.backend_pid
        assert pair["relation"] == "accounts"
        assert pair["blocked_mode"] == "AccessShareLock"
        assert pair["wait_s"] >= 1.0
        assert "SELECT count(*) FROM accounts" in pair["blocked_statement"]

        txns = pgh.finding(step, "postgres.long_running_transactions")
        by_pid = {s["pid"]: s for s in txns.details["sessions"]}
        assert by_pid[idle.info.backend_pid]["state"] == "idle in transaction"
        assert holder.info.backend_pid in by_pid
        assert by_pid[idle.info.backend_pid]["duration_s"] > 1
        assert txns.severity >= Severity.WARNING
        assert txns.details["idle_in_transaction"] >= 2

        conns = pgh.finding(step, "postgres.connections")
        assert conns.severity is Severity.OK
        assert conns.details["by_database"][db] >= 3
        assert conns.details["max_connections"] == 300
        assert step.errors == []
    finally:
        holder.rollback()
        holder.close()
        idle.close()
        blocked.join()
    assert blocked.error is None


def test_daily_reports_sequence_wraparound_age_and_replication_slot(server, db, make_step, pgh):
    slot = "slot_" + uuid.uuid4().hex[:8]
    server.execute("CREATE TABLE orders (id integer PRIMARY KEY, note text)", db)
    server.execute("CREATE SEQUENCE orders_id_seq AS bigint OWNED BY orders.id", db)
    server.execute("SELECT setval('orders_id_seq', 1800000000)", db)  # 84% of an integer column
    server.execute(f"SELECT pg_create_physical_replication_slot('{slot}', true)", db)
    try:
        server.execute("INSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g", db)
        step = make_step(thresholds={"replication_lag_bytes": {"warning": 1000, "critical": 2**40},
                                     "txid_wraparound_age": {"warning": 1, "critical": 2_000_000_000}})
        bodies.check_daily(step, "main")
    finally:
        server.execute(f"SELECT pg_drop_replication_slot('{slot}')", db)

    seq = pgh.finding(step, "postgres.sequence_exhaustion")
    assert seq.severity is Severity.WARNING
    assert 80 < seq.value < 90
    worst = seq.details["sequences"][0]
    assert (worst["sequence"], worst["table_name"], worst["column_type"]) == ("orders_id_seq", "orders", "integer")

    repl = pgh.finding(step, "postgres.replication")
    assert repl.severity is Severity.WARNING
    assert repl.value > 1000
    assert slot in [s["name"] for s in repl.details["slots"]]
    assert slot in repl.details["inactive_slots"]

    wrap = pgh.finding(step, "postgres.txid_wraparound")
    assert wrap.severity is Severity.WARNING
    assert db in [d["database"] for d in wrap.details["databases"]]


def test_weekly_reports_dead_tuples_and_long_query(server, db, make_step, pgh):
    server.execute("CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off)", db)
    server.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 20000) g", db)
    server.execute("DELETE FROM events WHERE id % 2 = 0", db)  # the session ends: its stats are flushed
    sleeper = pgh.Background(server, db, "SELECT pg_sleep(2.5) /* long one */").start()
    try:
        time.sleep(1.2)
        step = make_step(postgres={"long_query_seconds": 1})
        bodies.check_weekly(step, "main")
    finally:
        sleeper.join()

    dead = pgh.finding(step, "postgres.dead_tuples")
    assert dead.severity is Severity.CRITICAL
    assert 45 <= dead.value <= 55
    table = dead.details["tables"][0]
    assert (table["table_name"], table["dead_tuples"]) == ("events", 10000)
    assert table["last_vacuum"] is None
    assert table["last_autovacuum"] is None

    slow = pgh.finding(step, "postgres.long_running_queries")
    assert slow.severity is Severity.WARNING
    assert [s["pid"] for s in slow.details["sessions"]] == [sleeper.pid]


def test_monthly_reports_index_problems_bloat_roles_and_statements(server, db, make_step, pgh):
    boss, dormant = "boss_" + uuid.uuid4().hex[:6], "dormant_" + uuid.uuid4().hex[:6]
    server.execute("CREATE TABLE items (id int, sku text, note text) WITH (autovacuum_enabled = off)", db)
    server.execute("INSERT INTO items SELECT g, 'sku' || (g % 100), md5(g::text) FROM generate_series(1, 30000) g", db)
    server.execute("CREATE INDEX items_note_idx ON items (note)", db)
    failed_cic = None
    try:  # duplicate skus: the concurrent unique build fails and leaves an invalid index behind
        server.execute("CREATE UNIQUE INDEX CONCURRENTLY items_sku_uniq ON items (sku)", db)
    except Exception as exc:
        failed_cic = exc
    assert failed_cic is not None
    server.execute("DELETE FROM items WHERE id % 5 <> 0", db)
    server.execute("VACUUM ANALYZE items", db)
    server.execute(f"CREATE ROLE {boss} SUPERUSER LOGIN", db)
    server.execute(f"CREATE ROLE {dormant} LOGIN VALID UNTIL '2100-01-01'", db)
    try:
        step = make_step(postgres={"bloat_min_bytes": 65536},
                         thresholds={"slow_query_mean_ms": {"warning": 5, "critical": 100000}})
        bodies.check_monthly(step, "main")
        # pg_stat_statements is preloaded by the harness but not created in this database
        absent = pgh.finding(step, "postgres.slow_queries")
        assert absent.severity is Severity.UNKNOWN
        assert "CREATE EXTENSION pg_stat_statements" in absent.message

        server.execute("CREATE EXTENSION pg_stat_statements", db)
        with server.connect(db) as conn:
            for _ in range(6):
                conn.execute("SELECT pg_sleep(0.02), 'slow one'")
        with_ext = make_step(thresholds={"slow_query_mean_ms": {"warning": 5, "critical": 100000}})
        bodies.check_monthly(with_ext, "main")
    finally:
        server.execute(f"DROP ROLE {boss}", db)
        server.execute(f"DROP ROLE {dormant}", db)

    unused = pgh.finding(step, "postgres.unused_indexes")
    assert "items_note_idx" in [i["index_name"] for i in unused.details["indexes"]]
    assert unused.severity is Severity.WARNING

    invalid = pgh.finding(step, "postgres.invalid_indexes")
    assert [i["index_name"] for i in invalid.details["indexes"]] == ["items_sku_uniq"]
    assert invalid.severity is Severity.WARNING

    bloat = pgh.finding(step, "postgres.bloat")
    bloated = {r["name"]: r for r in bloat.details["relations"]}
    assert bloat.severity is Severity.CRITICAL
    assert bloated["items"]["bloat_percent"] > 60

    roles = {r["role"]: r for r in pgh.finding(step, "postgres.role_audit").details["roles"]}
    assert roles[boss]["flags"] == ["superuser", "login_without_password_expiry"]
    assert roles[dormant]["flags"] == ["possibly_unused"]

    slow = pgh.finding(with_ext, "postgres.slow_queries")
    assert slow.severity is Severity.WARNING
    assert slow.value >= 20
    assert any("pg_sleep" in q["query"] and q["calls"] >= 6 for q in slow.details["queries"])
    assert 0 < pgh.finding(step, "postgres.cache_hit_ratio").value <= 100
    assert step.errors == []
    assert with_ext.errors == []


def test_unreachable_server_makes_every_check_unknown(server, make_step, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PG_AREA_DOWN", f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/postgres")
    step = make_step()
    step.cfg = step.cfg.model_copy(update={"targets": step.cfg.targets.model_copy(update={"postgres": [
        *step.cfg.targets.postgres, step.cfg.targets.postgres[0].model_copy(update={"name": "down",
                                                                                     "conn_id": "pg_area_down"})]})})
    bodies.check_daily(step, "down")
    bodies.check_daily(step, "main")
    down = [f for f in step.findings if f.target == "down"]
    assert sorted(f.check for f in down) == sorted(c.name for c in checks.DAILY_CHECKS)
    assert all(f.severity is Severity.UNKNOWN and "could not run" in f.message for f in down)
    assert all("s3cret-pw" not in f.message for f in down)
    assert len(step.errors) == len(checks.DAILY_CHECKS)  # the task fails after recording
    assert all(f.severity is not Severity.UNKNOWN for f in step.findings if f.target == "main")
