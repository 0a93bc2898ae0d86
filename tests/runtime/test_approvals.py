"""Approvals against the real runtime (api-server, scheduler, dag-processor, triggerer): a
non-critical emergency run with ``emergency.mode: approval`` waits in awaiting_input; approve
over REST → the action runs and the report names the approver; reject → skipped and recorded;
no answer → the scheduler's timeout sweep resolves it to Reject.

Uses the runtime tier's fixtures (tests/runtime/conftest.py, branch ``runtime``)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("mercenary_dev.runtime", reason="the runtime tier (tests/runtime/conftest.py) is not here")

from tests.runtime.conftest import slack_texts_about, wait_for

EMERGENCY = "emergency_maintenance"
GATE = "approve_emergency_non_critical"


def _conf(ticket: str) -> dict[str, Any]:
    return {"action": "redis_bgrewriteaof", "target": "cache", "severity": "non_critical",
            "reason": "AOF grew to 90% of the disk", "ticket": ticket, "dry_run": False}


def _hitl_path(run_id: str) -> str:
    return f"/api/v2/dags/{EMERGENCY}/dagRuns/{quote(run_id, safe='')}/taskInstances/{GATE}/-1/hitlDetails"


def _states(api: Any, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in api.task_instances(EMERGENCY, run_id)}


def _deferral_processed(runtime: Any, run_id: str) -> bool:
    """The scheduler has taken the executor's "success" of the gate's deferring process."""
    wanted = f"task_id='{GATE}', run_id='{run_id}'"
    return any("Received executor event with state success" in line and wanted in line
               for line in runtime.log_path("scheduler").read_text(errors="replace").splitlines())


def _waiting_run(api: Any, runtime: Any, runtime_config: Any, ticket: str, **approvals: Any) -> str:
    runtime_config({"emergency": {"mode": "approval", "notice_minutes": 60}, "approvals": approvals})
    api.unpause(EMERGENCY)
    run_id = str(api.trigger(EMERGENCY, conf=_conf(ticket))["dag_run_id"])
    wait_for(lambda: _states(api, run_id).get(GATE) == "awaiting_input", 240, "the approval gate waiting")
    # Airflow 3.3.2 race, seen here: an answer given before the scheduler has processed the
    # executor's "success" of the deferring process re-queues the task first, and the scheduler then
    # marks it FAILED ("state changed externally"). A person answers later than that (a fixed 5 s
    # sleep was not enough on a loaded machine): wait for the scheduler's own log line, then a loop.
    wait_for(lambda: _deferral_processed(runtime, run_id), 120, "the scheduler processing the deferral")
    time.sleep(2)
    return run_id


def _rewrites(redis_server: Any) -> int:
    return int(redis_server.client().info("persistence")["aof_rewrites"])


def test_approve_over_rest_runs_the_action_and_the_report_names_the_approver(
        api, airflow_runtime, runtime_config, reports, redis_server, runtime_slack):
    before = _rewrites(redis_server)
    # the one API user both triggers and answers here (separation of duties: tests/integration)
    run_id = _waiting_run(api, airflow_runtime, runtime_config, "OPS-901", separation_of_duties=False)
    # mode approval: waiting for the answer, not for a 60-minute notice period; nothing acted yet
    assert _states(api, run_id)["act"] in (None, "none", "scheduled")
    assert _rewrites(redis_server) == before
    detail = api.get(_hitl_path(run_id))
    assert detail["options"] == ["Approve", "Reject"]
    assert detail["defaults"] == ["Reject"]
    assert "OPS-901" in detail["body"]
    assert wait_for(lambda: slack_texts_about(runtime_slack, "Approval needed"), 60, "the Slack request")
    api.patch(_hitl_path(run_id), {"chosen_options": ["Approve"], "params_input": {}})
    assert api.wait_run(EMERGENCY, run_id, timeout=240)["state"] == "success"
    assert _rewrites(redis_server) == before + 1
    report = reports(EMERGENCY, run_id)
    [entry] = report["approvals"]
    assert entry["chosen"] == "Approve"
    assert entry["user"], "the approver is named"
    # the same API user (token) triggered the run and answered the request
    assert entry["user"] == (api.run(EMERGENCY, run_id)["triggering_user_name"] or entry["user"])
    assert entry["timed_out"] is False


def test_reject_over_rest_skips_the_action_and_records_it(api, airflow_runtime, runtime_config, reports, redis_server):
    before = _rewrites(redis_server)
    run_id = _waiting_run(api, airflow_runtime, runtime_config, "OPS-902")
    api.patch(_hitl_path(run_id), {"chosen_options": ["Reject"], "params_input": {}})
    api.wait_run(EMERGENCY, run_id, timeout=240)
    assert _states(api, run_id)["act"] == "skipped"
    assert _rewrites(redis_server) == before
    report = reports(EMERGENCY, run_id)
    [entry] = report["approvals"]
    assert (entry["chosen"], entry["timed_out"]) == ("Reject", False)
    assert any(a["action"] == "redis.bgrewriteaof" and a["status"] == "skipped" and "rejected" in a["message"]
               for a in report["actions"])


def test_no_answer_times_out_to_reject(api, airflow_runtime, runtime_config, reports, redis_server):
    before = _rewrites(redis_server)
    run_id = _waiting_run(api, airflow_runtime, runtime_config, "OPS-903", timeout_minutes=0.1)  # 6 s
    api.wait_run(EMERGENCY, run_id, timeout=240)  # the scheduler's sweep runs every 15 s
    assert _states(api, run_id)["act"] == "skipped"
    assert _rewrites(redis_server) == before
    [entry] = reports(EMERGENCY, run_id)["approvals"]
    assert entry["chosen"] == "Reject"
    assert entry["timed_out"] is True
    assert entry["user"] is None
