"""Emergency runs keep the guards (dag.test, real PostgreSQL and Slack receiver): a critical
VACUUM FULL acts only on the target's opt-in tables and only after an approver said yes; it acts in
the critical pool's task; the user who triggered a run may not approve it (separation of duties)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_approvals import Answerer, _config, _relfilenode, _run, ledger  # noqa: F401

EMERGENCY = "emergency_maintenance"
GATE = "approve_emergency_non_critical"


@pytest.fixture(autouse=True)
def _migrated(airflow_db: Any) -> None:
    """The Airflow metadata DB (migrated once per session)."""


def _conf(objects: list[str], severity: str = "critical") -> dict[str, Any]:
    return {"action": "vacuum_full", "target": "main", "objects": objects, "severity": severity,
            "reason": "table rewrite after a mass delete", "ticket": "OPS-77", "dry_run": False}


def test_a_critical_vacuum_full_of_a_table_not_opted_in_is_refused(ledger, write_config, tmp_path):  # noqa: F811
    pg, db = ledger
    pg.execute("CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 100) g", db)
    _config(write_config)
    before = int(pg.scalar("SELECT relfilenode FROM pg_class WHERE relname = 'orders'", db))
    state, report = _run(tmp_path, EMERGENCY, None, run_conf=_conf(["public.orders"]))
    assert state == "failed"
    assert int(pg.scalar("SELECT relfilenode FROM pg_class WHERE relname = 'orders'", db)) == before
    [refused] = [a for a in report["actions"] if a["action"] == "emergency.request"]
    assert refused["status"] == "failed"
    assert "not in target 'main'" in refused["message"]
    assert "vacuum_full_tables" in refused["message"]
    assert report["task_states"]["act_critical"] in ("upstream_failed", "skipped")
    assert not [a for a in report["actions"] if a["action"] == "postgres.vacuum_full"]


def test_a_critical_vacuum_full_waits_for_an_approver_then_acts_in_the_critical_pool(
        ledger, write_config, tmp_path, slack):  # noqa: F811
    pg, db = ledger
    _config(write_config, approvals={"approvers": ["carol"]})
    before = _relfilenode(pg, db)
    answer = Answerer(GATE, "Approve", "carol")
    state, report = _run(tmp_path, EMERGENCY, answer, run_conf=_conf(["ledger"]))
    assert state == "success", report
    assert answer.asked is not None, "the critical run waited for an approval"
    assert answer.asked["assigned_users"] == [{"id": "carol", "name": "carol"}]
    assert "ACCESS EXCLUSIVE" in answer.asked["body"]
    assert _relfilenode(pg, db) != before, "approved: VACUUM FULL rewrote the table"
    assert (report["task_states"]["act_critical"], report["task_states"]["act"]) == ("success", "skipped")
    [entry] = report["approvals"]
    assert (entry["chosen"], entry["user"]) == ("Approve", "carol")
    [notice] = [t for t in slack.texts() if "Emergency maintenance" in t]
    assert "starting on approval" in notice


def test_the_user_who_triggered_the_run_may_not_approve_it(ledger, write_config, tmp_path):  # noqa: F811
    pg, db = ledger
    _config(write_config)  # approvers empty: anyone may answer, except the one who triggered the run
    before = _relfilenode(pg, db)
    # dag.test() triggers as "dag_test": the same person answers Approve
    state, report = _run(tmp_path, EMERGENCY, Answerer(GATE, "Approve", "dag_test"), run_conf=_conf([]))
    assert report["triggered_by"]["user"] == "dag_test"
    assert _relfilenode(pg, db) == before, "a self-approval must not rewrite the table"
    assert report["task_states"]["act_critical"] == "skipped"
    [entry] = report["approvals"]
    assert (entry["chosen"], entry["user"]) == ("Reject", "dag_test")
    assert "separation_of_duties" in entry["note"]
    assert state == "success", "a refused approval is a decision, not a failure"
