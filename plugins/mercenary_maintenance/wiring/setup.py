"""One-time setup of a deployment: ``python -m mercenary_maintenance.wiring.setup`` (after ``airflow db migrate``).

Creates the pool ``maintenance_heavy`` that every heavy task (VACUUM, REINDEX, dumps,
restores) runs in, and ``maintenance_critical`` (1 slot) for critical emergency runs. An existing
pool is left as the operator sized it. If a deployment skips this step,
:mod:`mercenary_maintenance.wiring.pool_guard` creates the pools at the first run and says so in the
scheduler log and on Slack — heavy tasks never wait silently on a missing pool.
"""

from __future__ import annotations

import logging
import sys

from mercenary_maintenance.wiring.dagkit import POOLS

log = logging.getLogger(__name__)


def ensure_pools() -> list[str]:
    """Create every missing pool of :data:`~mercenary_maintenance.wiring.dagkit.POOLS`; the names created."""
    return [name for name, (slots, _) in POOLS.items() if ensure_pool(name, slots)]


def ensure_pool(name: str, slots: int) -> bool:
    """Create pool ``name`` if it does not exist; True when it was created.

    Needs metadata-database access (CLI, scheduler), not a task. Uses a session of its own:
    inside the scheduler, the shared scoped session holds the scheduler loop's objects, and
    closing it would detach them (the scheduler then crashes)."""
    from airflow import settings
    from airflow.models.pool import Pool
    from sqlalchemy.orm import Session

    with Session(bind=settings.engine, expire_on_commit=False) as session:
        if Pool.get_pool(name, session=session) is not None:
            return False
        session.add(Pool(pool=name, slots=slots, description=POOLS[name][1], include_deferred=False))
        session.commit()
    return True


def main() -> int:
    created = ensure_pools()
    from airflow.models.pool import Pool

    for name in POOLS:
        pool = Pool.get_pool(name)
        slots = pool.slots if pool is not None else "?"
        print(f"pool {name}: {'created' if name in created else 'exists'} ({slots} slots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
