"""Task builders of the redis area (called inside a maintenance DAG; they only wire tasks).

Each task is mapped over the configured Redis targets (read at run time), so one target
down fails its own task instance while the others finish.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task, task_group

from mercenary_maintenance.dagkit import HEAVY_POOL, list_targets


@task(task_id="check_redis")
def check_redis(target: str) -> dict[str, Any]:
    """redis.memory, redis.slowlog, redis.persistence, redis.hit_ratio (+ evictions, replication)."""
    from mercenary_maintenance.redis import checks
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        checks.run_daily(step, target)

    return execute_step(body)


@task(task_id="purge_memory", pool=HEAVY_POOL)
def purge_memory(target: str) -> dict[str, Any]:
    """redis.memory_purge: MEMORY PURGE when the allocator is jemalloc."""
    from mercenary_maintenance.redis import actions
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        actions.memory_purge(step, target)

    return execute_step(body)


@task(task_id="rewrite_aof", pool=HEAVY_POOL, trigger_rule=TriggerRule.ALL_DONE)
def rewrite_aof(target: str) -> dict[str, Any]:
    """redis.bgrewriteaof: BGREWRITEAOF when AOF is on and idle; waits for ``ok``. redis.aof_growth is
    measured before and after (the report's ``resolved_by``)."""
    from mercenary_maintenance.redis import actions, aof
    from mercenary_maintenance.steps import Step, execute_step

    def body(step: Step) -> None:
        aof.check_before(step, target)
        actions.bgrewriteaof(step, target)
        aof.remeasure(step, target)

    return execute_step(body)


def daily() -> Any:
    @task_group(group_id="redis")
    def redis() -> None:
        targets = list_targets.override(task_id="list_redis_targets")("redis")
        check_redis.expand(target=targets)

    return redis()


def weekly() -> Any:
    @task_group(group_id="redis")
    def redis() -> None:
        targets = list_targets.override(task_id="list_redis_targets")("redis")
        # One after the other: both take the target's lock; a failed purge does not stop the rewrite.
        purge_memory.expand(target=targets) >> rewrite_aof.expand(target=targets)

    return redis()
