"""DAG runs triggered over the REST API and run by the real scheduler, executor and triggerer."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from mercenary_dev.runtime import ApiError

from tests.runtime.conftest import DOWN_CONN, slack_texts_about, wait_for

EMERGENCY = "emergency_maintenance"


def _emergency_conf(**overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {"action": "redis_bgrewriteaof", "target": "cache", "severity": "critical",
                            "reason": "AOF grew to 90% of the disk", "ticket": "OPS-42", "dry_run": False}
    conf.update(overrides)
    return {k: v for k, v in conf.items() if v is not ...}


def test_daily_triggered_over_rest_succeeds_with_its_report(api, reports, runtime_slack):
    api.unpause("maintenance_daily")
    run = api.trigger("maintenance_daily")
    done = api.wait_run("maintenance_daily", run["dag_run_id"], timeout=300)
    assert done["state"] == "success", {t["task_id"]: t["state"] for t in api.task_instances(
        "maintenance_daily", run["dag_run_id"])}
    report = reports("maintenance_daily", run["dag_run_id"])
    assert report["run_type"] == "manual"
    assert report["run_id"] == run["dag_run_id"]
    checks = {(f["check"], f["target"]): f["severity"] for f in report["findings"]}
    assert checks[("services.status", "postgres:main")] == "ok"
    assert checks[("services.status", "redis:cache")] == "ok"
    assert report["status"] in ("ok", "warning", "critical")
    assert not slack_texts_about(runtime_slack, f"run `{run['dag_run_id']}` failed")


def test_emergency_form_without_reason_is_refused_by_the_api(api):
    api.wait_dag(EMERGENCY)
    before = {r["dag_run_id"] for r in api.runs(EMERGENCY)}
    with pytest.raises(ApiError) as refused:
        api.trigger(EMERGENCY, conf=_emergency_conf(reason=...))
    assert refused.value.status in (400, 422)
    assert "reason" in refused.value.body
    assert {r["dag_run_id"] for r in api.runs(EMERGENCY)} == before, "a refused form must create no run"


def test_critical_emergency_run_is_audited_in_report_and_task_log(api, reports, redis_server, runtime_slack):
    api.unpause(EMERGENCY)
    rewrites = int(redis_server.client().info("persistence")["aof_rewrites"])
    run = api.trigger(EMERGENCY, conf=_emergency_conf())
    run_id = run["dag_run_id"]
    assert api.wait_run(EMERGENCY, run_id, timeout=240)["state"] == "success"
    report = reports(EMERGENCY, run_id)
    assert report["triggered_by"] == {"user": run["triggering_user_name"] or "admin",
                                      "reason": "AOF grew to 90% of the disk", "ticket": "OPS-42"}
    assert report["triggered_by"]["user"], "the API user who triggered the run is recorded"
    assert int(redis_server.client().info("persistence")["aof_rewrites"]) == rewrites + 1
    log = api.task_log(EMERGENCY, run_id, "act_critical")  # critical: its own pool's task
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    intents = [e for e in events if "maintenance.intent" in json.dumps(e)]
    outcomes = [e for e in events if "maintenance.outcome" in json.dumps(e)]
    assert intents, log[-2000:]
    assert outcomes, log[-2000:]
    assert "redis.bgrewriteaof" in json.dumps(intents)
    assert "done" in json.dumps(outcomes)
    assert slack_texts_about(runtime_slack, "OPS-42")


def test_failed_run_posts_one_failure_notice_and_retries_post_nothing(api, runtime_config, runtime_slack):
    runtime_config({"targets": {"postgres": [{"name": "main", "conn_id": DOWN_CONN}]}})
    api.unpause("maintenance_daily")
    run_id = api.trigger("maintenance_daily")["dag_run_id"]
    assert api.wait_run("maintenance_daily", run_id, timeout=300)["state"] == "failed"
    tries = {t["task_id"]: t["try_number"] for t in api.task_instances("maintenance_daily", run_id)
             if t["state"] == "failed"}
    assert any(n > 1 for n in tries.values()), f"the failing task was retried: {tries}"
    notices = wait_for(lambda: slack_texts_about(runtime_slack, f"run `{run_id}` failed"), 60,
                       "the failure notice")
    assert "maintenance_daily" in notices[0]
    assert "postgres" in notices[0]
    # the notifier runs once per run, not per try: nothing more arrives
    time.sleep(5)
    assert len(slack_texts_about(runtime_slack, f"run `{run_id}` failed")) == 1
