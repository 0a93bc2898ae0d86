"""The quarterly capacity and access review against real PostgreSQL, Redis, S3 and Slack:
the first run records a baseline, the second reports the grant and role made in between."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "maintenance_quarterly"


def _run(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The review task body with a minimal run context, then the report as write_report builds it.

    (dag.test() of the window DAGs fails in Airflow 3.3.2 on SQLite while loading the
    DeadlineAlert, so the task body runs directly here.)"""
    from types import SimpleNamespace

    from mercenary_maintenance.config import load_config
    from mercenary_maintenance.report.build import build_report, render_markdown
    from mercenary_maintenance.report.store import open_store
    from mercenary_maintenance.reviews.bodies import run_review

    now = datetime.now(UTC)
    run_id = f"manual__{now.isoformat()}"
    context = {"dag_run": SimpleNamespace(dag_id=DAG_ID, run_id=run_id, run_type="manual", logical_date=None,
                                          triggering_user_name="auditor", data_interval_start=None,
                                          data_interval_end=None),
               "ti": SimpleNamespace(task_id="reviews.capacity_access_review", map_index=-1, try_number=1),
               "params": {}, "dag": None}
    state = "success"
    try:
        run_review("quarterly", context=context)
    except Exception:
        state = "failed"
    cfg = load_config()
    store = open_store(cfg.reports.url)
    report = build_report(dag_id=DAG_ID, run_id=run_id, run_type="manual", triggered_by={"user": "auditor"},
                          window=None, started_at=now.isoformat(), finished_at=now.isoformat(),
                          parts=store.parts(DAG_ID, run_id), task_states={})
    store.write_report(report, render_markdown(report))
    return state, report


def test_quarterly_review_reports_access_changes_since_the_last_review(
        tmp_path, pg, redis_server, s3, slack, connections, write_config):
    connections({**pg.connection_env("maintenance_postgres"), **redis_server.connection_env("maintenance_redis"),
                 **s3.connection_env("maintenance_s3"), **slack.connection_env("maintenance_slack")})
    s3.client().create_bucket(Bucket="review-backups")
    s3.client().put_object(Bucket="review-backups", Key="postgres/full/x.dump.zst", Body=b"x" * 4096)
    write_config({"backups": {"bucket": "review-backups"}})
    pg.execute("DROP TABLE IF EXISTS review_orders; DROP ROLE IF EXISTS review_auditor;"
               "CREATE TABLE review_orders (id int)")

    state, first = _run(tmp_path)
    assert state == "success", first
    [access] = [f for f in first["findings"] if f["check"] == "reviews.access_changes"]
    assert access["severity"] == "ok"
    assert "baseline" in access["message"]

    pg.execute("CREATE ROLE review_auditor LOGIN; GRANT SELECT ON review_orders TO review_auditor")
    state, second = _run(tmp_path)
    assert state == "success", second
    assert second["status"] == "warning", "access changed since the last review: someone must confirm it"
    [access] = [f for f in second["findings"] if f["check"] == "reviews.access_changes"]
    assert access["severity"] == "warning"
    assert "- role added: `review_auditor`" in access["details"]["changes"][0]
    assert "review_auditor: SELECT on public.review_orders" in " ".join(access["details"]["changes"])
    [section] = second["sections"]
    assert section["title"] == "Quarterly capacity and access review"
    assert "Database sizes" in section["markdown"]
    assert "4.0 KiB in 1 objects" in section["markdown"]
    md = next(p for p in (tmp_path / "reports" / DAG_ID).glob(f"{second['run_id']}/report.md")).read_text()
    assert "## Quarterly capacity and access review" in md
    summaries = [m["text"] for m in slack.messages if "Quarterly capacity and access review" in m["text"]]
    assert len(summaries) == 2
    assert "1 access changes" not in summaries[0]
    assert "access changes" in summaries[1]
    assert pg.password not in json.dumps(second)
