"""docs/plan-coverage.md stays honest: every `dag_id.task_id` it names exists in the DagBag."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "plan-coverage.md"
REF = re.compile(r"`([a-z][a-z0-9_]*)\.([a-z][a-z0-9_.]*)`")


def references() -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in REF.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_task_the_plan_map_names_exists(dagbag: Any) -> None:
    refs = [(d, t) for d, t in references() if d in dagbag.dag_ids]
    assert len(refs) >= 30, "the map should name the tasks that execute the plan"
    missing = [f"{d}.{t}" for d, t in refs if t not in dagbag.dags[d].task_ids]
    assert not missing, f"plan-coverage.md names tasks that do not exist: {missing}"


def test_every_dag_is_referenced_and_no_unknown_dag_is(dagbag: Any) -> None:
    named = {d for d, _ in references()} - {"dag_id"}  # the syntax example in the intro
    unknown = sorted(n for n in named if n not in dagbag.dag_ids)
    assert not unknown, f"unknown DAG ids in plan-coverage.md: {unknown}"
    assert set(dagbag.dag_ids) <= named
