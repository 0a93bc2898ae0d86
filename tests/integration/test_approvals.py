"""Approval gates with dag.test(): the gate waits in awaiting_input; the test answers it the way
the api-server's PATCH …/hitlDetails does (write the response, resume the task), or the way the
scheduler's timeout sweep does (the defaults, ``timedout``). The real-runtime version of these
paths (REST, scheduler sweep) belongs to tests/runtime/."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATE = "postgres.approve_vacuum_full"
# Only VACUUM FULL, its gate, the target list and the report run; the rest of the monthly DAG is
# marked success. (dag.partial_subset cannot be used: its copy breaks mapped task expansion, and
# other areas' mapped tasks fail to expand behind their marked list tasks: only postgres counts.)
VACUUM_FULL = {"mark_success_pattern":
               r"(?!postgres\.(list_postgres_targets|approve_vacuum_full|vacuum_full_tables)$|write_report$).*"}


def _postgres_ok(report: dict[str, Any]) -> None:
    assert not [t for t in report["failed_tasks"] if t.startswith("postgres.")], report["failed_tasks"]
    assert report["task_states"]["postgres.approve_vacuum_full"] == "success"


class Answerer(threading.Thread):
    """Waits until ``task_id`` is awaiting input, records what it asked, then answers."""

    def __init__(self, task_id: str, chosen: str | None, user: str | None, timeout_s: float = 240) -> None:
        super().__init__(daemon=True)
        self.task_id, self.chosen, self.user, self.timeout_s = task_id, chosen, user, timeout_s
        self.asked: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _run(self) -> None:
        from airflow.models.hitl import HITLDetail  # noqa: F401 - mapped before the query
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.utils import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select
        from sqlalchemy.orm import joinedload

        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            with create_session() as session:
                ti = session.scalars(select(TI).where(TI.task_id == self.task_id,
                                                      TI.state == TaskInstanceState.AWAITING_INPUT)
                                     .options(joinedload(TI.hitl_detail))).first()
                if ti is not None and ti.hitl_detail is not None:
                    detail = ti.hitl_detail
                    self.asked = {"subject": detail.subject, "body": detail.body, "defaults": detail.defaults,
                                  "assigned_users": detail.assigned_users, "options": detail.options,
                                  "timeout": ti.trigger_timeout}
                    timed_out = self.chosen is None
                    detail.chosen_options = list(detail.defaults or []) if timed_out else [self.chosen]
                    detail.responded_by = None if timed_out else {"id": self.user, "name": self.user}
                    detail.responded_at = timezone.utcnow()
                    detail.params_input = {}
                    session.add(detail)
                    handle_event_submit(TriggerEvent(detail.as_resume_event_payload(timedout=timed_out)),
                                        task_instance=ti, session=session)
                    return
            time.sleep(0.5)
        raise AssertionError(f"{self.task_id} never waited for input")


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    for task in dag.tasks:
        task.retries = 0
    return dag


def _run(tmp_path: Path, dag_id: str, answer: Answerer | None, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    from airflow.models import import_all_models
    from sqlalchemy.orm import configure_mappers

    dag = _dag(dag_id)
    # Import and configure every ORM model before a second thread touches them (two threads
    # configuring SQLAlchemy mappers at once deadlock on the import lock).
    import_all_models()
    configure_mappers()
    if answer is not None:
        answer.start()
    dag_run = dag.test(**kwargs)
    if answer is not None:
        answer.join(5)
        assert answer.error is None, answer.error
    [path] = sorted((tmp_path / "reports" / dag_id).glob("*/report.json"))
    return str(dag_run.state), json.loads(path.read_text())


@pytest.fixture(autouse=True)
def _migrated(airflow_db: Path) -> None:
    """The Airflow metadata DB (migrated once per session)."""


@pytest.fixture
def ledger(pg, write_config, connections, slack, tmp_path) -> Iterator[tuple[Any, str]]:
    db = pg.create_database("approvals_" + tmp_path.name[-8:].replace("-", "_"))
    pg.execute("CREATE TABLE ledger (id int, amount numeric)", db)
    pg.execute("INSERT INTO ledger SELECT g, g FROM generate_series(1, 2000) g", db)
    connections({**pg.connection_env("pg_main", db), **slack.connection_env("maintenance_slack")})
    yield pg, db
    pg.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _config(write_config: Any, **extra: Any) -> None:
    write_config({"targets": {"postgres": [{"name": "main", "conn_id": "pg_main",
                                            "vacuum_full_tables": ["public.ledger"]}],
                              "redis": [], "http": []},
                  "logs": {"sets": []}, **extra})


def _seed_preview(tmp_path: Path) -> None:
    """A preview report as maintenance_preview writes it (the gate shows its figures)."""
    from mercenary_maintenance.report.store import open_store

    item = {"window_dag_id": "maintenance_monthly", "window_start": "2026-12-06T01:00:00+00:00", "target": "main",
            "action": "postgres.vacuum_full", "objects": ["public.ledger"], "estimate_s": 42.0,
            "estimate_basis": "history", "lock": "ACCESS EXCLUSIVE (every read and write waits)",
            "risk": "size 96.0 KiB", "rollback": "cancel before it ends", "size_bytes": 98304}
    open_store(f"file://{tmp_path}/reports").write_report(
        {"dag_id": "maintenance_preview", "run_id": "scheduled__2026-12-05T01:00:00+00:00", "plan": [item],
         "previewed_windows": [{"window_dag_id": "maintenance_monthly", "start": item["window_start"],
                                "end": "2026-12-06T05:00:00+00:00"}]}, "")


def _relfilenode(pg: Any, db: str) -> int:
    return int(pg.scalar("SELECT relfilenode FROM pg_class WHERE relname = 'ledger'", db))


def test_approved_vacuum_full_runs_and_the_report_names_the_approver(ledger, write_config, tmp_path, slack):
    pg, db = ledger
    _config(write_config, approvals={"approvers": ["alice"]})
    _seed_preview(tmp_path)
    before = _relfilenode(pg, db)
    answer = Answerer(GATE, "Approve", "alice")
    _, report = _run(tmp_path, "maintenance_monthly", answer, **VACUUM_FULL)
    _postgres_ok(report)
    asked = answer.asked
    assert asked is not None
    assert asked["defaults"] == ["Reject"]
    assert asked["assigned_users"] == [{"id": "alice", "name": "alice"}]
    assert "postgres.vacuum_full" in asked["subject"]
    assert "public.ledger" in asked["body"]
    assert "ACCESS EXCLUSIVE" in asked["body"]
    assert "42 s (history)" in asked["body"]
    assert "pg_cancel_backend" in asked["body"]  # the rollback
    assert "size 96.0 KiB" in asked["body"]  # the preview's risk note
    assert asked["timeout"] is not None  # resolved by the scheduler's sweep in a deployment
    assert _relfilenode(pg, db) != before, "VACUUM FULL rewrote the table"
    [entry] = report["approvals"]
    assert entry["chosen"] == "Approve"
    assert entry["user"] == "alice"
    assert entry["timed_out"] is False
    assert entry["target"] == "main"
    assert any(a["action"] == "postgres.vacuum_full" and a["status"] == "done" for a in report["actions"])
    [text] = [t for t in slack.texts() if "Approval needed" in t]
    assert "required_actions" in text
    assert "## Approvals" in (next((tmp_path / "reports" / "maintenance_monthly").glob("*/report.md")).read_text())


@pytest.mark.parametrize(("chosen", "user", "why"), [("Reject", "bob", "rejected by bob"),
                                                     (None, None, "resolved to Reject")])
def test_rejected_or_unanswered_vacuum_full_is_skipped_and_recorded(ledger, write_config, tmp_path,
                                                                    chosen, user, why):
    pg, db = ledger
    _config(write_config)
    before = _relfilenode(pg, db)
    _, report = _run(tmp_path, "maintenance_monthly", Answerer(GATE, chosen, user), **VACUUM_FULL)
    _postgres_ok(report)
    assert _relfilenode(pg, db) == before, "the table was not rewritten"
    assert report["task_states"]["postgres.vacuum_full_tables"] == "skipped"
    [entry] = report["approvals"]
    assert entry["chosen"] == "Reject"
    assert entry["user"] == user
    assert entry["timed_out"] is (chosen is None)
    [skipped] = [a for a in report["actions"] if a["action"] == "postgres.vacuum_full"]
    assert skipped["status"] == "skipped"
    assert why in skipped["message"]


def test_not_required_gate_does_not_wait(ledger, write_config, tmp_path):
    pg, db = ledger
    _config(write_config, approvals={"required_for": []})
    before = _relfilenode(pg, db)
    _, report = _run(tmp_path, "maintenance_monthly", None, **VACUUM_FULL)
    _postgres_ok(report)
    assert _relfilenode(pg, db) != before
    [entry] = report["approvals"]
    assert entry["chosen"] == "Approve"
    assert entry["user"] is None
    assert "not required" in entry["note"]


def test_non_critical_emergency_with_mode_approval_waits_for_the_approval(
        redis_server, write_config, connections, slack, tmp_path):
    connections({**redis_server.connection_env("maintenance_redis"), **slack.connection_env("maintenance_slack")})
    write_config({"emergency": {"mode": "approval", "notice_minutes": 60}})
    rewrites = int(redis_server.client().info("persistence")["aof_rewrites"])
    conf = {"action": "redis_bgrewriteaof", "target": "cache", "severity": "non_critical",
            "reason": "AOF grew", "ticket": "OPS-7", "dry_run": False}
    answer = Answerer("approve_emergency_non_critical", "Approve", "carol")
    started = time.monotonic()
    state, report = _run(tmp_path, "emergency_maintenance", answer, run_conf=conf)
    assert state == "success", report
    assert answer.asked is not None, "the run waited for an approval"
    assert "OPS-7" in answer.asked["body"]
    assert time.monotonic() - started < 600, "mode approval has no 60 min notice period"
    assert int(redis_server.client().info("persistence")["aof_rewrites"]) == rewrites + 1
    [entry] = report["approvals"]
    assert (entry["chosen"], entry["user"]) == ("Approve", "carol")
    [notice] = [t for t in slack.texts() if "Emergency maintenance" in t]
    assert "waiting for an approval" in notice
