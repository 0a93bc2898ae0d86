"""Resolved by the run: the check measured again after the action that should fix it."""

from __future__ import annotations

from mercenary_maintenance.postgres import bodies, checks
from mercenary_maintenance.report.resolution import fold_remeasured


def test_bloat_found_then_reindexed_is_resolved_by_the_reindex(server, db, make_step, pgh):
    server.execute("CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off)", db)
    server.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 20000) g", db)
    server.execute("CREATE INDEX events_payload_idx ON events (payload)", db)
    # Rows added then deleted at the table's end: VACUUM gives the table's pages back, not the index's.
    server.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(20001, 80000) g", db)
    server.execute("DELETE FROM events WHERE id > 20000", db)
    server.execute("VACUUM ANALYZE events", db)
    sections = {"postgres": {"reindex_min_bytes": 65536, "bloat_min_bytes": 65536}}
    check = make_step(**sections)
    checks.run_checks(check, "main", [checks.BY_NAME["postgres.bloat"]], "test")
    before = pgh.finding(check, "postgres.bloat")
    assert before.severity.label in ("warning", "critical"), before.to_dict()

    act = make_step(**sections)
    bodies.reindex(act, "main")
    checks.remeasure_bloat(act, "main")
    after = pgh.finding(act, "postgres.bloat")
    assert after.details["after_action"] == "postgres.reindex"

    [folded] = fold_remeasured([before.to_dict(), after.to_dict()])
    assert folded["severity"] == before.severity.label
    assert folded["after_maintenance"]["severity"] == after.severity.label
    assert after.severity.label == "ok", after.to_dict()
    assert folded["resolved_by"] == {"action": "postgres.reindex", "value_after": after.value}


def test_no_remeasure_when_the_action_did_nothing(server, db, make_step):
    server.execute("CREATE TABLE small (id int)", db)
    step = make_step()
    bodies.vacuum_analyze(step, "main")  # nothing above the threshold: skipped
    checks.remeasure_dead_tuples(step, "main")
    assert [f.check for f in step.findings] == []
