"""Bodies of the redis tasks that do more than one thing (the task declarations are data)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mercenary_maintenance.redis import actions, aof

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def weekly_rewrite(step: Step, target: str) -> None:
    """redis.bgrewriteaof: BGREWRITEAOF when AOF is on and idle; waits for ``ok``. redis.aof_growth is
    measured before and after (``resolved_by``)."""
    aof.check_before(step, target)
    actions.bgrewriteaof(step, target)
    aof.remeasure(step, target)
