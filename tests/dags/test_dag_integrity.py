"""DAG integrity and policy: every DAG parses, carries the contract's schedule, and
follows the house rules (tags from one enum, owner, retries, docs, a report task that
runs last, failure notifications, window deadlines, no I/O at parse time)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable
from mercenary_maintenance.wiring.dagkit import OWNER, Tag

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
EXPECTED = {
    "maintenance_daily": "30 0 * * *",
    "maintenance_weekly": "every Sunday 02:00–04:00 UTC",
    "maintenance_monthly": "first Sunday of each month 01:00–05:00 UTC",
    "maintenance_quarterly": "first Saturday of Jan/Apr/Jul/Oct 00:00–06:00 UTC",
    "backup_full": "0 1 * * *",
    "backup_incremental": "0 */4 * * *",
    "alert_evaluation": "*/5 * * * *",
    "emergency_maintenance": None,
    "maintenance_preview": "24 h before each maintenance window",
}


def test_exactly_the_contract_dags_parse(dagbag: Any) -> None:
    assert not dagbag.import_errors
    assert set(dagbag.dag_ids) == set(EXPECTED)
    assert {p.stem for p in DAG_FILES} == set(EXPECTED), "one file per DAG, named after its dag_id"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_schedule_matches_the_contract(dagbag: Any, dag_id: str) -> None:
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    dag = dagbag.get_dag(dag_id)
    timetable = decode_timetable(encode_timetable(dag.timetable))
    expected = EXPECTED[dag_id]
    if expected is None:
        assert not timetable.can_be_scheduled
    elif isinstance(timetable, MaintenanceWindowTimetable):
        assert timetable.summary == expected
    else:
        assert timetable.summary == expected


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_house_rules(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.get_dag(dag_id)
    allowed = {t.value for t in Tag}
    assert set(dag.tags) <= allowed, f"tags outside the Tag enum: {set(dag.tags) - allowed}"
    assert Tag.MAINTENANCE.value in dag.tags
    assert dag.doc_md
    assert len(dag.doc_md) > 80
    assert dag.catchup is False
    # One run at a time, except emergencies: a request waiting out its notice must not block a critical one.
    assert dag.max_active_runs == (4 if dag_id == "emergency_maintenance" else 1)
    assert dag.on_failure_callback, "run failures must notify Slack"
    for task in dag.tasks:
        assert task.owner == OWNER
        assert task.retries is not None
        assert re.fullmatch(r"[a-z][a-z0-9_.]*", task.task_id), task.task_id
    # write_report is the single last task and runs whatever happened upstream; alert_evaluation
    # (every 5 minutes) has one task, which writes the report itself.
    leaves = [t for t in dag.tasks if not t.downstream_list]
    if dag_id == "alert_evaluation":
        assert [t.task_id for t in dag.tasks] == ["evaluate_alerts"]
        return
    assert [t.task_id for t in leaves] == ["write_report"]
    assert str(leaves[0].trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")


@pytest.mark.parametrize("dag_id", ["maintenance_weekly", "maintenance_monthly", "maintenance_quarterly"])
def test_window_dags_raise_a_deadline_alert_at_window_end(dag_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from mercenary_maintenance.wiring.dagkit import DEADLINES_ENV

    monkeypatch.setenv(DEADLINES_ENV, "on")  # the session's DagBag is parsed with deadlines off (dag.test bug)
    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    dag = bag.get_dag(dag_id)
    assert isinstance(dag.timetable, MaintenanceWindowTimetable)
    deadlines = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert len(deadlines) == 1
    assert deadlines[0].interval == dag.timetable.rule.duration


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_files_only_wire(path: Path) -> None:
    """A DAG file holds a docstring, imports and one `with maintenance_dag(...)` block."""
    tree = ast.parse(path.read_text())
    body = tree.body
    assert isinstance(body[0], ast.Expr), "module docstring first"
    assert isinstance(body[0].value, ast.Constant), "module docstring first"
    kinds = [type(node).__name__ for node in body[1:]]
    assert set(kinds) <= {"ImportFrom", "Import", "With"}, kinds
    assert kinds.count("With") == 1
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While)), "logic belongs in the package"


NO_IO_PROBE = r"""
import builtins, socket, subprocess, sys, runpy
sys.path.insert(0, sys.argv[1])
# Third-party modules may read files when first imported (croniter runs `file`); warm them.
import airflow.sdk, airflow.sdk.definitions.timetables.trigger, croniter, mercenary_maintenance.wiring.dagkit
import mercenary_maintenance.config as config
import mercenary_maintenance.wiring.dagkit as dagkit

def forbidden(*a, **k):
    raise AssertionError(f"I/O at parse time: {a[:1]}")

builtins.open = forbidden
socket.socket.connect = forbidden
subprocess.Popen.__init__ = forbidden
config.load_config = forbidden
dagkit.load_config = forbidden  # its own binding (imported at its top)
for path in sys.argv[2:]:
    runpy.run_path(path)
    print("clean", path)
"""


def test_no_io_at_parse_time() -> None:
    """Parsing a DAG file opens no file, socket or process and never loads the config."""
    proc = subprocess.run(
        [sys.executable, "-c", NO_IO_PROBE, str(ROOT / "plugins"), *map(str, DAG_FILES)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("clean") == len(DAG_FILES)


def test_acting_tasks_are_exactly_the_tasks_in_the_heavy_and_critical_pools(dagbag: Any) -> None:
    # alert_evaluation counts a maintenance run as a window only while one of these runs
    from mercenary_maintenance.wiring.dagkit import ACTING_TASKS, POOLS

    for dag_id, acting in ACTING_TASKS.items():
        in_pools = sorted(t.task_id for t in dagbag.get_dag(dag_id).tasks if t.pool in POOLS)
        assert sorted(acting) == in_pools, dag_id


def test_a_critical_emergency_run_acts_in_a_pool_of_its_own(dagbag: Any) -> None:
    from mercenary_maintenance.wiring.dagkit import CRITICAL_POOL, HEAVY_POOL, POOLS

    tasks = {t.task_id: t for t in dagbag.get_dag("emergency_maintenance").tasks}
    assert (tasks["act"].pool, tasks["act_critical"].pool) == (HEAVY_POOL, CRITICAL_POOL)
    assert tasks["choose_pool"].downstream_task_ids == {"act", "act_critical"}
    assert POOLS[CRITICAL_POOL][0] == 1
    # only critical runs use it: no other DAG's task competes for its slot
    others = [(d.dag_id, t.task_id) for d in dagbag.dags.values() for t in d.tasks
              if t.pool == CRITICAL_POOL and d.dag_id != "emergency_maintenance"]
    assert others == []
