"""The emergency DAG end to end with dag.test(): real Redis (BGREWRITEAOF is the observable
action), a real Slack receiver, reports on disk and on S3 (moto)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

DAG_ID = "emergency_maintenance"
ROOT = Path(__file__).resolve().parents[2]


def _rewrites(redis_server: Any) -> int:
    return int(redis_server.client().info("persistence")["aof_rewrites"])


def _conf(**overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {"action": "redis_bgrewriteaof", "target": "cache", "severity": "critical",
                            "reason": "AOF grew to 90% of the disk", "ticket": "OPS-42", "dry_run": False}
    conf.update(overrides)
    return {k: v for k, v in conf.items() if v is not ...}


def _fresh_dag() -> Any:
    """A freshly parsed DAG: dag.test() runs tasks in this process, and a run's conf is merged
    into the DAG object's params in place, so a shared (session) DAG would leak one test's
    params into the next test's defaults."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{DAG_ID}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(DAG_ID)


def _run(dagbag: Any, tmp_path: Path, conf: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    dag_run = _fresh_dag().test(run_conf=conf)
    found = sorted((tmp_path / "reports" / DAG_ID).glob("*/report.json"))
    return str(dag_run.state), (json.loads(found[-1].read_text()) if found else None)


def _part(tmp_path: Path, task_id: str) -> dict[str, Any]:
    [path] = (tmp_path / "reports" / DAG_ID).glob(f"*/parts/{task_id}.try*.json")
    return dict(json.loads(path.read_text()))


@pytest.fixture
def stack(redis_server: Any, slack: Any, connections: Any, write_config: Any) -> Any:
    connections({**redis_server.connection_env("maintenance_redis"), **slack.connection_env("maintenance_slack")})
    return write_config


def _actions(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["action"]: a for a in report["actions"]}


def test_critical_request_acts_at_once_and_is_audited(dagbag, tmp_path, stack, redis_server, slack):
    stack({"emergency": {"notice_minutes": 60}})
    before = _rewrites(redis_server)
    state, report = _run(dagbag, tmp_path, _conf())
    assert state == "success", report
    assert _rewrites(redis_server) == before + 1, "BGREWRITEAOF ran through the redis area's implementation"
    actions = _actions(report)
    assert actions["redis.bgrewriteaof"]["status"] == "done"
    assert actions["emergency.notice"]["status"] == "done"
    # No notice period: the action started right after the notice, not 60 minutes later.
    notice_done = datetime.fromisoformat(_part(tmp_path, "post_notice")["finished_at"])
    acted = datetime.fromisoformat(_part(tmp_path, "act_critical")["started_at"])
    assert (acted - notice_done).total_seconds() < 120
    assert report["task_states"]["act"] == "skipped", "a critical request acts in its own pool's task"
    assert report["task_states"]["wait_notice_period"] == "success"
    assert report["triggered_by"] == {"user": "dag_test", "reason": "AOF grew to 90% of the disk", "ticket": "OPS-42"}
    assert report["run_type"] == "manual"
    assert any("starting now" in m["text"] and "OPS-42" in m["text"] for m in slack.messages)
    md = next((tmp_path / "reports" / DAG_ID).glob("*/report.md")).read_text()
    assert "triggered by: dag_test; reason: AOF grew to 90% of the disk; ticket: OPS-42" in md


def test_non_critical_request_posts_notice_then_waits_deferred(dagbag, tmp_path, stack, redis_server, slack):
    stack({"emergency": {"notice_minutes": 0.1, "mode": "notice"}})  # 6 s; approvals: test_approvals.py
    before = _rewrites(redis_server)
    state, report = _run(dagbag, tmp_path, _conf(severity="non_critical"))
    assert state == "success", report
    notice = _actions(report)["emergency.notice"]
    act_after = datetime.fromisoformat(notice["details"]["act_after"])
    acted = datetime.fromisoformat(_part(tmp_path, "act")["started_at"])
    assert acted >= act_after, "the action must not start before the notice period ends"
    posted = datetime.fromisoformat(_part(tmp_path, "post_notice")["finished_at"])
    assert (act_after - posted).total_seconds() > 5
    assert _rewrites(redis_server) == before + 1
    [text] = [m["text"] for m in slack.messages if "Emergency maintenance" in m.get("text", "")]
    assert "scheduled at" in text
    assert "wait_notice_period" in text
    assert "OPS-42" in text


def test_non_critical_notice_is_retried_and_without_it_nothing_acts(dagbag, tmp_path, stack, redis_server, slack):
    stack({"emergency": {"notice_minutes": 0.01, "mode": "notice"},
           "alerts": {"slack_attempts": 3, "slack_retry_delay_seconds": 0.05}})
    before = _rewrites(redis_server)
    slack.fail_next = [500]  # Slack hiccups once: the second attempt posts the notice
    state, report = _run(dagbag, tmp_path, _conf(severity="non_critical"))
    assert state == "success", report
    assert slack.attempts == 2
    assert len([m for m in slack.messages if "Emergency maintenance" in m.get("text", "")]) == 1
    assert _rewrites(redis_server) == before + 1

    # Slack down for every attempt: no notice, so no action (the notice is a non-critical run's safety).
    for old in (tmp_path / "reports" / DAG_ID).glob("*"):
        shutil.rmtree(old)
    slack.fail_next = [500] * 3
    state, report = _run(dagbag, tmp_path, _conf(severity="non_critical"))
    assert state == "failed"
    assert report is not None
    assert "post_notice" in report["failed_tasks"]
    assert report["task_states"]["act"] != "success"
    assert _rewrites(redis_server) == before + 1, "nothing acted without the notice"


def test_dry_run_is_the_default_and_performs_nothing(dagbag, tmp_path, stack, redis_server, slack):
    stack({})  # default notice period (60 min): a dry run does not wait for it
    before = _rewrites(redis_server)
    state, report = _run(dagbag, tmp_path, _conf(severity="non_critical", dry_run=...))
    assert state == "success", report
    assert _rewrites(redis_server) == before
    actions = _actions(report)
    assert actions["redis.bgrewriteaof"]["status"] == "dry_run"
    assert actions["emergency.notice"]["status"] == "dry_run"
    assert slack.messages == []


def test_ticket_not_matching_the_configured_pattern_is_rejected_and_reported(
        dagbag, tmp_path, stack, redis_server, slack):
    stack({"emergency": {"ticket_pattern": r"^INC-[0-9]{4}$"}})
    before = _rewrites(redis_server)
    state, report = _run(dagbag, tmp_path, _conf(ticket="OPS-42"))
    assert state == "failed"
    assert _rewrites(redis_server) == before
    assert report is not None, "a failed run still writes its report"
    assert report["status"] == "failed"
    assert report["triggered_by"]["user"] == "dag_test"
    assert report["triggered_by"]["ticket"] == "OPS-42"
    request = _actions(report)["emergency.request"]
    assert request["status"] == "failed"
    assert "ticket" in request["message"]
    assert "INC-" in request["message"]
    assert report["task_states"]["act_critical"] == "upstream_failed"
    assert "redis.bgrewriteaof" not in _actions(report)
    assert not any("Emergency maintenance" in m.get("text", "") for m in slack.messages), "no notice posted"


@pytest.mark.parametrize(("field", "override"), [
    ("reason", {"reason": ""}),
    ("objects", {"action": "vacuum_analyze", "target": "main", "objects": ["users; DROP TABLE users"]}),
    ("action", {"action": "drop_database"}),
])
def test_form_schema_rejects_before_a_run_exists(dagbag, tmp_path, stack, redis_server, field, override):
    from airflow.sdk.exceptions import ParamValidationError

    stack({})
    before = _rewrites(redis_server)
    with pytest.raises(ParamValidationError, match=field):
        _fresh_dag().test(run_conf=_conf(**override))
    assert _rewrites(redis_server) == before
    assert not (tmp_path / "reports" / DAG_ID).exists(), "nothing ran, nothing was recorded"


def test_reports_on_s3_are_written_once(dagbag, tmp_path, stack, s3, connections, redis_server):
    from mercenary_maintenance.report.store import open_store

    connections(s3.connection_env("maintenance_s3"))
    s3.client().create_bucket(Bucket="audit-reports")
    stack({"reports": {"url": "s3://audit-reports/maintenance"}})
    state, _ = _run(dagbag, tmp_path, _conf(dry_run=True))
    assert state == "success"
    store = open_store("s3://audit-reports/maintenance", client=s3.client())
    [run_id] = store.run_ids(DAG_ID)
    first = store.read_report(DAG_ID, run_id)
    assert first is not None
    assert first["triggered_by"]["ticket"] == "OPS-42"
    # A retried write_report writes an attempt file; the original object is never replaced.
    again = dict(first, status="failed")
    location = store.write_report(again, "# rewritten\n")
    assert "/attempts/report.json.2" in location
    raw = s3.client().get_object(Bucket="audit-reports", Key=f"maintenance/{DAG_ID}/{run_id}/report.json")
    assert json.loads(raw["Body"].read()) == first
    assert store.read_report(DAG_ID, run_id)["status"] == "failed", "readers take the newest attempt"
