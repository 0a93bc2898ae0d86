"""One-time setup of a deployment: ``python -m mercenary_maintenance.setup`` (after ``airflow db migrate``).

Creates the pool ``maintenance_heavy`` that every heavy task (VACUUM, REINDEX, dumps,
restores) runs in. An existing pool is left as the operator sized it. If a deployment skips
this step, :mod:`mercenary_maintenance.pool_guard` creates the pool at the first run and says
so in the scheduler log and on Slack — heavy tasks never wait silently on a missing pool.
"""

from __future__ import annotations

import logging
import sys

from mercenary_maintenance.dagkit import HEAVY_POOL

log = logging.getLogger(__name__)
HEAVY_POOL_SLOTS = 2
HEAVY_POOL_DESCRIPTION = "heavy maintenance (VACUUM, REINDEX, dumps, restores); see docs/runbook.md"


def ensure_heavy_pool(slots: int = HEAVY_POOL_SLOTS) -> bool:
    """Create ``maintenance_heavy`` if it does not exist; True when it was created.

    Needs metadata-database access (CLI, scheduler), not a task. Uses a session of its own:
    inside the scheduler, the shared scoped session holds the scheduler loop's objects, and
    closing it would detach them (the scheduler then crashes)."""
    from airflow import settings
    from airflow.models.pool import Pool
    from sqlalchemy.orm import Session

    with Session(bind=settings.engine, expire_on_commit=False) as session:
        if Pool.get_pool(HEAVY_POOL, session=session) is not None:
            return False
        session.add(Pool(pool=HEAVY_POOL, slots=slots, description=HEAVY_POOL_DESCRIPTION, include_deferred=False))
        session.commit()
    return True


def main() -> int:
    created = ensure_heavy_pool()
    from airflow.models.pool import Pool

    pool = Pool.get_pool(HEAVY_POOL)
    slots = pool.slots if pool is not None else "?"
    print(f"pool {HEAVY_POOL}: {'created' if created else 'exists'} ({slots} slots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
