"""DAG level: the weekly DAG maps the postgres tasks over two targets, one of them down."""

from __future__ import annotations

import json
from typing import Any

from mercenary_dev.servers import free_port


def _run_postgres_part(dagbag: Any, tmp_path: Any, dag_id: str) -> tuple[str, dict[str, Any]]:
    """Run the DAG with the other areas' tasks marked success, and without retries for the
    run (dag.test() would wait out the retry delays of the down target's tasks)."""
    dag = dagbag.get_dag(dag_id)
    saved = {task.task_id: task.retries for task in dag.tasks}
    try:
        for task in dag.tasks:
            task.retries = 0
        dag_run = dag.test(mark_success_pattern=r"(?!postgres\.|write_report$).*")
    finally:
        for task in dag.tasks:
            task.retries = saved[task.task_id]
    [path] = sorted((tmp_path / "reports" / dag_id).glob("*/report.json"))
    return str(dag_run.state), json.loads(path.read_text())


def _run_postgres_only(dagbag: Any, tmp_path: Any, dag_id: str) -> tuple[str, dict[str, Any]]:
    """The DAG's postgres tasks and its report for real; the other areas' work marked success
    (their target lists run, so that their mapped tasks can expand)."""
    dag = dagbag.get_dag(dag_id)
    dag_run = dag.test(mark_success_pattern=r"(?!postgres\.|write_report$|.*\.list_\w+_targets$).*")
    [path] = sorted((tmp_path / "reports" / dag_id).glob("*/report.json"))
    return str(dag_run.state), json.loads(path.read_text())


def test_weekly_dag_maps_targets_and_reports_the_down_one(pg, write_config, connections, dagbag, tmp_path):
    db = pg.create_database("weekly_dag")
    pg.execute("CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off)", db)
    pg.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 20000) g", db)
    pg.execute("DELETE FROM events WHERE id % 4 <> 0", db)
    connections({**pg.connection_env("pg_main", db),
                 "AIRFLOW_CONN_PG_DOWN": f"postgresql://postgres:hidden-pw@127.0.0.1:{free_port()}/postgres"})
    write_config({"targets": {"postgres": [{"name": "main", "conn_id": "pg_main"},
                                           {"name": "down", "conn_id": "pg_down"}],
                              "redis": [], "http": []},
                  "logs": {"sets": []}})
    state, report = _run_postgres_part(dagbag, tmp_path, "maintenance_weekly")

    assert report["status"] == "failed"
    assert {t["task"] for t in report["tasks"]} >= {"postgres.check_weekly[0]", "postgres.check_weekly[1]",
                                                    "postgres.vacuum_analyze[0]", "postgres.vacuum_analyze[1]"}
    assert state == "failed"  # the unreachable target fails its tasks, loudly, after recording
    pg_findings = [f for f in report["findings"] if f["check"].startswith("postgres.")]
    main = {f["check"]: f for f in pg_findings if f["target"] == "main"}
    down = {f["check"]: f for f in pg_findings if f["target"] == "down"}
    assert main["postgres.dead_tuples"]["severity"] == "critical"
    assert main["postgres.dead_tuples"]["details"]["tables"][0]["table_name"] == "events"
    assert set(down) == {"postgres.dead_tuples", "postgres.long_running_queries"}
    assert all(f["severity"] == "unknown" for f in down.values())
    vacuums = {(a["target"], a["status"]) for a in report["actions"] if a["action"] == "postgres.vacuum_analyze"}
    assert ("main", "done") in vacuums
    assert ("down", "failed") in vacuums
    assert pg.scalar("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'events'", db) == 0
    assert "hidden-pw" not in str(report)
    assert pg.password not in str(report)


def test_weekly_run_that_vacuums_the_dead_tuples_it_found_ends_ok_with_resolved_by(
        pg, write_config, connections, dagbag, tmp_path):
    db = pg.create_database("weekly_resolved")
    pg.execute("CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off)", db)
    pg.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 20000) g", db)
    pg.execute("DELETE FROM events WHERE id % 4 <> 0", db)
    connections(pg.connection_env("pg_main", db))
    write_config({"targets": {"postgres": [{"name": "main", "conn_id": "pg_main"}], "redis": [], "http": []},
                  "logs": {"sets": []}})
    state, report = _run_postgres_only(dagbag, tmp_path, "maintenance_weekly")

    assert state == "success", (report["status"], report["failed_tasks"])
    dead = [f for f in report["findings"] if f["check"] == "postgres.dead_tuples"]
    assert len(dead) == 1, dead  # the re-measurement is folded into the finding, not listed twice
    [found] = dead
    assert found["severity"] == "critical"  # what the check found before the VACUUM
    assert found["value"] == 75.0
    assert found["resolved_by"] == {"action": "postgres.vacuum_analyze", "value_after": 0.0}
    assert found["after_maintenance"]["severity"] == "ok"
    assert report["status"] == "ok", [(f["check"], f["severity"]) for f in report["findings"]]
    md = (sorted((tmp_path / "reports" / "maintenance_weekly").glob("*/report.md"))[-1]).read_text()
    assert "resolved postgres.vacuum_analyze: ok, 0.0" in md


def test_weekly_run_whose_vacuum_did_not_fix_it_keeps_the_finding(pg, write_config, connections, dagbag, tmp_path):
    """The table is held by a long transaction's snapshot: VACUUM cannot remove the dead rows."""
    db = pg.create_database("weekly_unresolved")
    pg.execute("CREATE TABLE events (id int, payload text) WITH (autovacuum_enabled = off)", db)
    pg.execute("INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 20000) g", db)
    holder = pg.connect(db, autocommit=False)
    holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT count(*) FROM events").fetchone()  # snapshot taken before the delete
    try:
        pg.execute("DELETE FROM events WHERE id % 4 <> 0", db)
        connections(pg.connection_env("pg_main", db))
        write_config({"targets": {"postgres": [{"name": "main", "conn_id": "pg_main"}], "redis": [], "http": []},
                      "logs": {"sets": []}})
        _, report = _run_postgres_only(dagbag, tmp_path, "maintenance_weekly")
    finally:
        holder.rollback()
        holder.close()
    [found] = [f for f in report["findings"] if f["check"] == "postgres.dead_tuples"]
    assert "resolved_by" not in found
    assert found["after_maintenance"]["severity"] == "critical"
    assert report["status"] == "critical"
