"""The task factory (``dagkit.TaskSpec``/``Gate``/``Group``): groups declared as data make the
tasks and edges the DAGs rely on — shared steps are one task, mapped steps of one kind share one
target list, gates sit right before what they guard, unrelated steps stay independent."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import DAG, TriggerRule

from mercenary_maintenance.wiring.dagkit import START_DATE, Gate, Group, TaskSpec


def check(step: Any, target: str) -> None:
    """Reads a target."""


def act(step: Any, target: str) -> None:
    """Changes a target.

    More words that stay out of the task's documentation."""


def bucket(step: Any) -> None:
    """Once per run."""


def undocumented(step: Any) -> None:
    pass


CHECK = TaskSpec("check", check, over="postgres")
ACT = TaskSpec("act", act, over="postgres", heavy=True, trigger_rule=TriggerRule.ALL_DONE)
BUCKET = TaskSpec("bucket", bucket)
REDIS = TaskSpec("redis_check", check, over="redis")


def build(group: Group) -> dict[str, Any]:
    with DAG("factory_test", schedule=None, start_date=START_DATE) as dag:
        group.add()
    return {t.task_id: t for t in dag.tasks}


def test_a_step_in_two_chains_is_one_task_and_kinds_share_one_target_list() -> None:
    tasks = build(Group("g", (CHECK, ACT), (CHECK, Gate("vacuum_full"), BUCKET), REDIS))
    assert set(tasks) == {"g.check", "g.act", "g.approve_vacuum_full", "g.bucket", "g.redis_check",
                          "g.list_postgres_targets", "g.list_redis_targets"}
    assert tasks["g.act"].upstream_task_ids == {"g.check", "g.list_postgres_targets"}
    assert tasks["g.approve_vacuum_full"].upstream_task_ids == {"g.check"}
    assert tasks["g.bucket"].upstream_task_ids == {"g.approve_vacuum_full"}
    assert tasks["g.redis_check"].upstream_task_ids == {"g.list_redis_targets"}


def test_spec_options_reach_the_task() -> None:
    tasks = build(Group("g", ACT, BUCKET))
    assert tasks["g.act"].pool == "maintenance_heavy"
    assert tasks["g.act"].trigger_rule == TriggerRule.ALL_DONE
    assert tasks["g.bucket"].pool == "default_pool"
    assert tasks["g.bucket"].upstream_task_ids == set()  # independent of act


def test_the_task_doc_is_the_first_paragraph_of_the_body_docstring() -> None:
    assert ACT.doc == "Changes a target."
    import functools

    assert TaskSpec("p", functools.partial(act, target="x")).doc == "Changes a target."
    with pytest.raises(TypeError, match="undocumented has no docstring"):
        _ = TaskSpec("u", undocumented).doc


def test_every_declared_task_of_the_package_has_a_doc() -> None:
    import importlib

    areas = ("postgres", "redis", "backups", "health", "logs", "security", "reviews", "alerts", "preview")
    specs = [v for a in areas for v in vars(importlib.import_module(f"mercenary_maintenance.{a}.tasks")).values()
             if isinstance(v, TaskSpec)]
    assert len(specs) > 30
    assert all(len(s.doc) > 20 for s in specs)


def test_a_mapped_spec_cannot_be_added_unmapped() -> None:
    with DAG("factory_misuse", schedule=None, start_date=START_DATE), pytest.raises(TypeError, match="mapped over"):
        CHECK.add()


def test_a_task_that_writes_the_report_is_the_dags_only_task() -> None:
    from mercenary_maintenance.wiring.dagkit import maintenance_dag

    reporting = TaskSpec("report_itself", bucket, writes_report=True)
    with maintenance_dag("factory_reporting", doc_md="x", tags=[], schedule=None) as dag:
        reporting.add()
    assert [t.task_id for t in dag.tasks] == ["report_itself"]  # no write_report task

    def two_tasks() -> None:
        with maintenance_dag("factory_reporting_two", doc_md="x", tags=[], schedule=None):
            reporting.add()
            BUCKET.add()

    with pytest.raises(ValueError, match="must be the DAG's only task"):
        two_tasks()
    with maintenance_dag("factory_plain", doc_md="x", tags=[], schedule=None) as dag:
        BUCKET.add()
    assert sorted(t.task_id for t in dag.tasks) == ["bucket", "write_report"]
