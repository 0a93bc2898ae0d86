"""Scheduler listener: a maintenance run never waits silently on a missing ``maintenance_heavy``
(or ``maintenance_critical``) pool.

Airflow leaves a task whose pool does not exist in state ``scheduled`` forever, with only a
scheduler warning. When a run of one of this project's DAGs starts and the pool is missing
(a fresh deployment that skipped ``python -m mercenary_maintenance.wiring.setup``), this listener
creates it with the default size, logs an ERROR line naming the pool and the setup step, and
posts a Slack notice (in a thread, bounded by the webhook's timeouts: the scheduler loop
never waits on Slack).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from airflow.listeners import hookimpl

from mercenary_maintenance.wiring.callbacks import notice_door
from mercenary_maintenance.wiring.dagkit import HEAVY_POOL, POOLS
from mercenary_maintenance.wiring.setup import ensure_pool

log = logging.getLogger(__name__)


def _pools_used(dag_run: Any) -> list[str]:
    """This project's pools the run's DAG uses."""
    dag = getattr(dag_run, "dag", None)
    tasks = getattr(dag, "tasks", None) if dag is not None else None
    if not tasks:
        return []
    used = {getattr(t, "pool", None) for t in tasks}
    return [name for name in POOLS if name in used]


def missing_pool_notice(dag_id: str, run_id: str, slots: int, pool: str = HEAVY_POOL) -> str:
    """The Slack text.

    >>> print(missing_pool_notice("maintenance_weekly", "r1", 2))  # doctest: +NORMALIZE_WHITESPACE
    :warning: pool `maintenance_heavy` was missing when *maintenance_weekly* run `r1` started: created it with 2 slots.
    Run `python -m mercenary_maintenance.wiring.setup` when deploying (docs/runbook.md).
    """
    return (f":warning: pool `{pool}` was missing when *{dag_id}* run `{run_id}` started: "
            f"created it with {slots} slots.\nRun `python -m mercenary_maintenance.wiring.setup` when deploying "
            "(docs/runbook.md).")


def _post(text: str) -> None:

    try:
        notice_door().post(text)
    except Exception:
        log.exception("could not post the missing-pool notice to Slack")


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:

    for pool in _pools_used(dag_run):
        slots = POOLS[pool][0]
        try:
            created = ensure_pool(pool, slots)
        except Exception:
            log.exception("could not check/create pool %s for %s", pool, dag_run.dag_id)
            continue
        if created:
            log.error("pool %s did not exist when %s run %s started: created it with %d slots; "
                      "run `python -m mercenary_maintenance.wiring.setup` when deploying",
                      pool, dag_run.dag_id, dag_run.run_id, slots)
            text = missing_pool_notice(dag_run.dag_id, dag_run.run_id, slots, pool)
            threading.Thread(target=_post, args=(text,), name="pool-guard-slack", daemon=True).start()
