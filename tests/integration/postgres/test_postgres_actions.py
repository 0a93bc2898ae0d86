"""The PostgreSQL actions really happen, give up on locks within lock_timeout, and treat
configured names as identifiers only (PostgreSQL 15 and 18)."""

from __future__ import annotations

from mercenary_maintenance.findings import ActionStatus
from mercenary_maintenance.pg.lock import target_lock
from mercenary_maintenance.postgres import actions, bodies


def _dead_table(server, db, name="events", rows=20000):
    server.execute(f"CREATE TABLE {name} (id int, payload text) WITH (autovacuum_enabled = off)", db)
    server.execute(f"INSERT INTO {name} SELECT g, md5(g::text) FROM generate_series(1, {rows}) g", db)
    server.execute(f"DELETE FROM {name} WHERE id % 4 <> 0", db)


def _stats(server, db, table):
    with server.connect(db) as conn:
        return conn.execute("SELECT n_dead_tup, last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = %s",
                            [table]).fetchone()


def test_vacuum_analyze_removes_dead_tuples_of_tables_above_threshold(server, db, make_step, pgh):
    _dead_table(server, db)
    server.execute("CREATE TABLE quiet (id int)", db)
    server.execute("INSERT INTO quiet SELECT generate_series(1, 10)", db)
    assert _stats(server, db, "events")[0] == 15000
    step = make_step()
    bodies.vacuum_analyze(step, "main")
    actions.analyze(step, "main")

    [vacuum] = pgh.actions(step, "postgres.vacuum_analyze")
    assert vacuum.status is ActionStatus.DONE
    assert '"public"."events"' in vacuum.message
    assert "15000 dead tuples" in vacuum.details["reason"]
    dead, last_vacuum, last_analyze = _stats(server, db, "events")
    assert dead == 0
    assert last_vacuum is not None
    assert last_analyze is not None
    [stats] = pgh.actions(step, "postgres.analyze")
    assert stats.status is ActionStatus.DONE
    assert "public.quiet" in stats.details["tables"]
    assert _stats(server, db, "quiet")[2] is not None


def test_reindex_rebuilds_bloated_index_concurrently(server, db, make_step, pgh):
    _dead_table(server, db, rows=40000)
    server.execute("CREATE INDEX events_payload_idx ON events (payload)", db)
    server.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(40001, 60000) g", db)
    server.execute("DELETE FROM events WHERE id > 40000", db)
    server.execute("VACUUM ANALYZE events", db)
    before = server.scalar("SELECT pg_relation_filenode('events_payload_idx')", db)
    size_before = server.scalar("SELECT pg_relation_size('events_payload_idx')", db)
    step = make_step(postgres={"reindex_min_bytes": 65536})
    bodies.reindex(step, "main")

    [done] = pgh.actions(step, "postgres.reindex")
    assert done.status is ActionStatus.DONE, done
    assert done.details["statement"] == 'REINDEX INDEX CONCURRENTLY "public"."events_payload_idx"'
    assert server.scalar("SELECT pg_relation_filenode('events_payload_idx')", db) != before
    assert server.scalar("SELECT pg_relation_size('events_payload_idx')", db) < size_before / 2


def test_busy_target_lock_makes_heavy_action_skip(server, db, make_step, pgh):
    _dead_table(server, db)
    with server.connect(db) as other, target_lock(other, 1):
        step = make_step(postgres={"target_lock_wait_seconds": 0.3})
        bodies.vacuum_analyze(step, "main")
        holder_pid = other.info.backend_pid
    [busy] = pgh.actions(step, "postgres.vacuum_analyze")
    assert busy.status is ActionStatus.SKIPPED
    assert "target busy" in busy.message
    # Never silent (issue 13 item 5): a warning naming the action, the holder and the time waited.
    warning = pgh.finding(step, "maintenance.skipped")
    assert warning.severity.label == "warning"
    assert warning.details["action"] == "postgres.vacuum_analyze"
    assert warning.details["cause"] == "target_busy"
    assert warning.details["blocker"]["pid"] == holder_pid
    assert warning.value == 0.3
    assert _stats(server, db, "events")[0] == 15000  # nothing was vacuumed


def test_configured_names_are_identifiers_never_sql(server, db, make_step, pgh):
    weird = 'x"; DROP TABLE victim; --'
    server.execute("CREATE TABLE victim (id int)", db)
    server.execute('CREATE TABLE "x""; DROP TABLE victim; --" (id int)', db)
    step = make_step(target={"vacuum_full_tables": [weird, "nope'; DROP TABLE victim; --"]},
                     postgres={"load_guard": {"exclusive_sample_seconds": 1}})
    dry = make_step(target={"vacuum_full_tables": [weird]})
    bodies.vacuum_full(dry, "main", dry_run=True)
    [would] = pgh.actions(dry, "postgres.vacuum_full")
    assert would.status is ActionStatus.DRY_RUN
    filenode = server.scalar("""SELECT pg_relation_filenode('"x""; DROP TABLE victim; --"')""", db)

    bodies.vacuum_full(step, "main")
    [failed] = pgh.actions(step, "postgres.vacuum_full")  # the missing name stops the run before any change
    assert failed.status is ActionStatus.FAILED
    assert "does not exist" in failed.message
    bodies.vacuum_full(step, "main", objects=[weird])
    [_, done] = pgh.actions(step, "postgres.vacuum_full")
    assert done.status is ActionStatus.DONE
    assert done.details["statement"] == 'VACUUM (FULL, ANALYZE) "public"."x""; DROP TABLE victim; --"'
    assert server.scalar("""SELECT pg_relation_filenode('"x""; DROP TABLE victim; --"')""", db) != filenode
    assert server.scalar("SELECT to_regclass('victim') IS NOT NULL", db) is True
