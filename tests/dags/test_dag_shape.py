"""The DAGs' shape — task ids, pools, trigger rules, upstreams, execution timeouts — against a
recorded snapshot (``dag_shape.json``), so a change to the wiring shows as a deliberate diff.

Re-record after an intended change: ``RECORD_DAG_SHAPE=1 pytest tests/dags/test_dag_shape.py``
and commit the JSON with the change that explains it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("dag_shape.json")


def dag_shape(dagbag: Any) -> dict[str, Any]:
    shape: dict[str, Any] = {}
    for dag_id in sorted(dagbag.dag_ids):
        dag = dagbag.get_dag(dag_id)
        tasks = {}
        for task in sorted(dag.tasks, key=lambda t: t.task_id):
            timeout = task.execution_timeout
            tasks[task.task_id] = {
                "pool": task.pool,
                "trigger_rule": str(getattr(task.trigger_rule, "value", task.trigger_rule)),
                "upstream": sorted(task.upstream_task_ids),
                "execution_timeout_s": timeout.total_seconds() if timeout is not None else None,
                "mapped": type(task).__name__ == "MappedOperator",
            }
        shape[dag_id] = tasks
    return shape


def test_dag_shape_matches_the_recorded_snapshot(dagbag: Any) -> None:
    current = dag_shape(dagbag)
    if os.environ.get("RECORD_DAG_SHAPE"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    for dag_id in sorted(set(recorded) | set(current)):
        assert current.get(dag_id) == recorded.get(dag_id), (
            f"{dag_id}: the DAG's tasks differ from tests/dags/dag_shape.json; if intended, re-record "
            "with RECORD_DAG_SHAPE=1 and commit the diff")
