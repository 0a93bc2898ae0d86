"""Bodies of the redis tasks that do more than one thing (the task declarations are data)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mercenary_maintenance.findings import ActionStatus, Finding
from mercenary_maintenance.redis import actions, aof, checks
from mercenary_maintenance.report.resolution import AFTER_ACTION

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def _aof_growth(step: Step, target: str) -> Finding:
    found = checks.BY_NAME[aof.CHECK].run(checks.Probe(step, target))
    assert found is not None
    return found


def aof_growth_before(step: Step, target: str) -> None:
    """redis.aof_growth before the rewrite."""
    step.check(aof.CHECK, target, lambda: _aof_growth(step, target))


def aof_growth_after(step: Step, target: str) -> None:
    """After a BGREWRITEAOF done in this step, measure again (``details.after_action``)."""
    if not any(a.action == aof.ACTION and a.target == target and a.status is ActionStatus.DONE
               for a in step.actions):
        return

    def after() -> Finding:
        finding = _aof_growth(step, target)
        finding.details[AFTER_ACTION] = aof.ACTION
        return finding

    step.check(aof.CHECK, target, after)


def weekly_rewrite(step: Step, target: str) -> None:
    """redis.bgrewriteaof: BGREWRITEAOF when AOF is on and idle; waits for ``ok``. redis.aof_growth is
    measured before and after (``resolved_by``)."""
    aof_growth_before(step, target)
    actions.bgrewriteaof(step, target)
    aof_growth_after(step, target)
