"""The backups' hold on a target's maintenance lock: :func:`mercenary_maintenance.pg.lock.holding_target_lock`
with the wait bounds of ``backups.lock_wait_seconds`` / ``backups.lock_wait_max_seconds`` (never past
the run's remaining time). Used by the full and incremental backups and by a restore onto the target."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mercenary_maintenance.pg.lock import holding_target_lock

if TYPE_CHECKING:
    from mercenary_maintenance.pg.params import PgParams
    from mercenary_maintenance.steps import Step


def lock_wait_s(step: Step) -> float:
    return min(step.cfg.backups.lock_wait_seconds, step.statement_timeout_s())


@contextmanager
def locked(step: Step, pg: PgParams) -> Iterator[None]:
    """Hold the target's maintenance lock on a session of its own, waiting as a backup: heavy
    maintenance yields to it at its next relation (``pg.lock``), and while it does the wait may
    last ``backups.lock_wait_max_seconds``."""

    max_wait = min(step.cfg.backups.lock_wait_max_seconds, step.statement_timeout_s())
    with holding_target_lock(pg, lock_wait_s(step), max_wait):
        yield
