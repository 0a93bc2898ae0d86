"""A critical emergency run never queues behind the heavy pool (real scheduler, LocalExecutor):
with ``maintenance_heavy`` cut to one slot and that slot held by a long task (a VACUUM retrying
its lock behind a transaction the test keeps open), a critical run acts in ``maintenance_critical``
while the long task is still running."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("mercenary_dev.runtime", reason="the runtime tier (tests/runtime/conftest.py) is not here")

from mercenary_maintenance.wiring.dagkit import CRITICAL_POOL, HEAVY_POOL
from tests.runtime.conftest import wait_for

EMERGENCY = "emergency_maintenance"


def _states(api: Any, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in api.task_instances(EMERGENCY, run_id)}


def _request(**extra: Any) -> dict[str, Any]:
    return {"reason": "pool test", "ticket": "OPS-321", "dry_run": False, **extra}


def test_a_critical_run_acts_while_a_long_task_holds_the_only_heavy_slot(
        api, airflow_runtime, runtime_config, pg, redis_server, reports):
    assert api.pool(CRITICAL_POOL)["slots"] == 1, "the setup step created the critical pool"
    pg.execute("DROP TABLE IF EXISTS pool_hold")
    pg.execute("CREATE TABLE pool_hold AS SELECT g AS id FROM generate_series(1, 1000) g")
    runtime_config({"emergency": {"mode": "notice", "notice_minutes": 0},
                    "postgres": {"lock_budget_seconds": 240}})
    api.set_pool_slots(HEAVY_POOL, 1)
    holder = pg.connect(autocommit=False)
    long_run = ""
    try:
        holder.execute("LOCK TABLE pool_hold IN ACCESS EXCLUSIVE MODE")  # kept until the end of the test
        api.unpause(EMERGENCY)
        vacuum = _request(action="vacuum_analyze", target="main", objects=["public.pool_hold"], severity="non_critical")
        long_run = str(api.trigger(EMERGENCY, conf=vacuum)["dag_run_id"])
        wait_for(lambda: _states(api, long_run).get("act") == "running", 180, "the long VACUUM holding the heavy slot")
        rewrites = int(redis_server.client().info("persistence")["aof_rewrites"])
        started = time.monotonic()
        critical = str(api.trigger(EMERGENCY, conf=_request(
            action="redis_bgrewriteaof", target="cache", severity="critical"))["dag_run_id"])
        assert api.wait_run(EMERGENCY, critical, timeout=180)["state"] == "success"
        took = time.monotonic() - started
        states = _states(api, critical)
        assert (states["act_critical"], states["act"]) == ("success", "skipped")
        assert _states(api, long_run)["act"] == "running", "the heavy slot was still held while the critical run acted"
        assert int(redis_server.client().info("persistence")["aof_rewrites"]) == rewrites + 1
        assert took < 180
        [done] = [a for a in reports(EMERGENCY, critical)["actions"] if a["action"] == "redis.bgrewriteaof"]
        assert done["status"] == "done"
    finally:
        holder.rollback()
        holder.close()
        if long_run:
            api.wait_run(EMERGENCY, long_run, timeout=240)
        api.pause(EMERGENCY)
        api.set_pool_slots(HEAVY_POOL, 2)
        pg.execute("DROP TABLE IF EXISTS pool_hold")
