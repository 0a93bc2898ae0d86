"""Tasks of the redis area, declared as data, and the task groups the DAG files add.

Each task is mapped over the configured Redis targets (read at run time), so one target
down fails its own task instance while the others finish.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task_group

from mercenary_maintenance.dagkit import TaskSpec, targets
from mercenary_maintenance.redis import actions, bodies, checks

CHECK = TaskSpec("check_redis", checks.run_daily, over="redis",
                 doc="redis.memory, redis.slowlog, redis.persistence, redis.hit_ratio (+ evictions, replication).")
PURGE = TaskSpec("purge_memory", actions.memory_purge, over="redis", heavy=True,
                 doc="redis.memory_purge: MEMORY PURGE when the allocator is jemalloc.")
REWRITE = TaskSpec("rewrite_aof", bodies.weekly_rewrite, over="redis", heavy=True, trigger_rule=TriggerRule.ALL_DONE,
                   doc="redis.bgrewriteaof: BGREWRITEAOF when AOF is on and idle; waits for ``ok``. "
                       "redis.aof_growth is measured before and after (``resolved_by``).")


def daily() -> Any:
    @task_group(group_id="redis")
    def redis() -> None:
        CHECK.expand(targets("redis"))

    return redis()


def weekly() -> Any:
    @task_group(group_id="redis")
    def redis() -> None:
        found = targets("redis")
        # One after the other: both take the target's lock; a failed purge does not stop the rewrite.
        PURGE.expand(found) >> REWRITE.expand(found)

    return redis()
