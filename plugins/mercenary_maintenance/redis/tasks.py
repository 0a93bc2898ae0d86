"""Tasks of the redis area, declared as data, and the task groups the DAG files add.

Each task is mapped over the configured Redis targets (read at run time), so one target
down fails its own task instance while the others finish.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule

from mercenary_maintenance.redis import bodies
from mercenary_maintenance.wiring.dagkit import Group, TaskSpec

CHECK = TaskSpec("check_redis", bodies.check_redis, over="redis")
# Both under the run guards (guards: freeze, stop_on_alerts, max_errors).
PURGE = TaskSpec("purge_memory", bodies.memory_purge, over="redis", heavy=True, guarded_action="redis.memory_purge")
REWRITE = TaskSpec("rewrite_aof", bodies.weekly_rewrite, over="redis", heavy=True, trigger_rule=TriggerRule.ALL_DONE,
                   guarded_action="redis.bgrewriteaof")


DAILY_GROUP = Group("redis", CHECK)
# One after the other: both take the target's lock; a failed purge does not stop the rewrite.
WEEKLY_GROUP = Group("redis", (PURGE, REWRITE))
