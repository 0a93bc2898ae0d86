"""Bodies of the postgres tasks that do more than one thing (the task declarations are data).

Maintenance is followed by measuring again what it was meant to fix, so the report's finding
carries ``resolved_by`` and the run's status is that after maintenance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mercenary_maintenance.postgres import actions, checks

if TYPE_CHECKING:
    from mercenary_maintenance.steps import Step


def weekly_vacuum(step: Step, target: str) -> None:
    """VACUUM (ANALYZE) of tables above the dead-tuple threshold, then ANALYZE of stale statistics; dead tuples
    are measured again after a VACUUM (``resolved_by``)."""
    actions.vacuum_analyze(step, target)
    actions.analyze(step, target)
    checks.remeasure_dead_tuples(step, target)


def monthly_reindex(step: Step, target: str) -> None:
    """REINDEX INDEX CONCURRENTLY of indexes whose estimated bloat crosses the threshold (invalid leftovers of
    earlier rebuilds dropped first); bloat and invalid indexes are measured again after it (``resolved_by``)."""
    actions.reindex(step, target)
    checks.remeasure_bloat(step, target)
