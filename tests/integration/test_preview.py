"""maintenance_preview on a seeded database (dead tuples in two tables, one bloated index, one
VACUUM FULL table) lists exactly those items with their figures; the weekly window run
afterwards reports them planned-and-done."""

from __future__ import annotations

from typing import Any

import pytest


def seed(pg: Any) -> str:
    db = pg.create_database("preview_seed")
    for table in ("events", "orders"):
        pg.execute(f"CREATE TABLE {table} (id int, payload text) WITH (autovacuum_enabled = off)", db)
        pg.execute(f"INSERT INTO {table} SELECT g, md5(g::text) FROM generate_series(1, 20000) g", db)
        pg.execute(f"DELETE FROM {table} WHERE id % 4 <> 0", db)
    # A bloated index: 100k keys, 90% deleted and vacuumed: the index keeps its pages.
    pg.execute("CREATE TABLE bloaty (id int) WITH (autovacuum_enabled = off)", db)
    pg.execute("INSERT INTO bloaty SELECT g FROM generate_series(1, 100000) g", db)
    pg.execute("CREATE INDEX bloaty_id_idx ON bloaty (id)", db)
    pg.execute("DELETE FROM bloaty WHERE id % 10 <> 0", db)
    pg.execute("VACUUM ANALYZE bloaty", db)
    pg.execute("CREATE TABLE ledger (id int, amount numeric) WITH (autovacuum_enabled = off)", db)
    pg.execute("INSERT INTO ledger SELECT g, g FROM generate_series(1, 5000) g", db)
    pg.execute("ANALYZE ledger", db)
    return db


@pytest.fixture
def seeded(pg, write_config, connections, slack) -> str:
    db = seed(pg)
    connections({**pg.connection_env("pg_main", db), **slack.connection_env("maintenance_slack")})
    write_config({"targets": {"postgres": [{"name": "main", "conn_id": "pg_main",
                                            "vacuum_full_tables": ["public.ledger"]}],
                              "redis": [], "http": []},
                  "logs": {"sets": []}})
    return db


def by_action(plan: list[dict[str, Any]], dag_id: str) -> dict[str, dict[str, Any]]:
    items = [p for p in plan if p["window_dag_id"] == dag_id]
    assert len({p["action"] for p in items}) == len(items), items
    return {p["action"]: p for p in items}


def test_preview_lists_exactly_the_seeded_items_then_the_window_reports_them_done(
        pg, seeded, run_dag, dagbag, tmp_path, slack):
    state, report = run_dag("maintenance_preview")
    assert state == "success", report
    assert report is not None
    plan = report["plan"]
    weekly, monthly = by_action(plan, "maintenance_weekly"), by_action(plan, "maintenance_monthly")
    assert not [p for p in plan if p["window_dag_id"] == "maintenance_quarterly"]
    assert set(weekly) == {"postgres.vacuum_analyze", "backup.restore_test"}
    assert set(monthly) == {"postgres.reindex", "postgres.vacuum_full", "backup.restore_test"}

    vacuum = weekly["postgres.vacuum_analyze"]
    assert sorted(vacuum["objects"]) == ["public.events", "public.orders"]
    assert {f["object"]: f["dead_tuples"] for f in vacuum["figures"]} == {"public.events": 15000,
                                                                          "public.orders": 15000}
    assert all(f["size_bytes"] > 0 for f in vacuum["figures"])
    assert vacuum["estimate_basis"] == "size"
    assert vacuum["estimate_s"] >= 2.0
    assert vacuum["lock"].startswith("SHARE UPDATE EXCLUSIVE")

    reindex = monthly["postgres.reindex"]
    assert reindex["objects"] == ["public.bloaty_id_idx"]
    [fig] = reindex["figures"]
    assert fig["bloat_percent"] >= 80
    assert fig["size_bytes"] >= 2**20
    full = monthly["postgres.vacuum_full"]
    assert full["objects"] == ["public.ledger"]
    assert full["lock"].startswith("ACCESS EXCLUSIVE")
    assert full["figures"][0]["size_bytes"] > 0
    for item in plan:
        assert item["risk"]
        assert item["rollback"]
        assert item["estimate_s"] > 0
    # The preview changed nothing.
    assert pg.scalar("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'events'", seeded) == 15000
    [text] = [t for t in slack.texts() if "Maintenance preview" in t]
    assert "postgres.vacuum_full" in text
    assert "maintenance_preview/runs/" in text

    # The weekly window afterwards: its postgres part runs, the other areas are marked success.
    dag = dagbag.get_dag("maintenance_weekly")
    saved = {t.task_id: t.retries for t in dag.tasks}
    try:
        for t in dag.tasks:
            t.retries = 0
        dag.test(mark_success_pattern=r"(?!postgres\.|write_report$).*")
    finally:
        for t in dag.tasks:
            t.retries = saved[t.task_id]
    import json

    [path] = sorted((tmp_path / "reports" / "maintenance_weekly").glob("*/report.json"))
    weekly_report = json.loads(path.read_text())
    assert weekly_report["planned_from"]["run_id"] == report["run_id"]
    planned = {p["action"]: p for p in weekly_report["planned"]}
    assert planned["postgres.vacuum_analyze"]["outcome"] == "done", planned
    assert sorted(planned["postgres.vacuum_analyze"]["objects"]) == ["public.events", "public.orders"]
    assert planned["backup.restore_test"]["outcome"] == "not_run"  # marked success: it recorded nothing
    assert weekly_report["not_planned"] == []
    assert "Planned vs done" in path.with_name("report.md").read_text()

    # New dead tuples in one table: the next preview estimates its VACUUM from the weekly run's timings.
    pg.execute("DELETE FROM events WHERE id % 8 <> 0", seeded)
    _, again = run_dag("maintenance_preview")
    assert again is not None
    done = sorted(a["duration_s"] for a in weekly_report["actions"]
                  if a["action"] == "postgres.vacuum_analyze" and a["status"] == "done")
    assert len(done) == 2
    vacuum_again = by_action(again["plan"], "maintenance_weekly")["postgres.vacuum_analyze"]
    assert vacuum_again["objects"] == ["public.events"]
    assert vacuum_again["estimate_basis"] == "history"
    assert vacuum_again["estimate_s"] == pytest.approx(max(0.01, (done[0] + done[1]) / 2), abs=0.01)
    restore = by_action(again["plan"], "maintenance_weekly")["backup.restore_test"]
    assert restore["estimate_basis"] == "size"  # the restore test never ran: no history
