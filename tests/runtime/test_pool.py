"""A deployment whose ``maintenance_heavy`` pool is missing: heavy tasks must not wait forever
in silence. The pool guard (scheduler listener) creates it at the first run and says so."""

from __future__ import annotations

import pytest
from mercenary_dev.runtime import ApiError

from mercenary_maintenance.wiring.dagkit import HEAVY_POOL
from tests.runtime.conftest import slack_texts_about, wait_for


def test_missing_heavy_pool_is_created_at_first_run_with_log_line_and_slack_notice(
        airflow_runtime, api, runtime_slack):
    api.delete_pool(HEAVY_POOL)
    with pytest.raises(ApiError) as gone:
        api.pool(HEAVY_POOL)
    assert gone.value.status == 404
    api.unpause("emergency_maintenance")
    conf = {"action": "redis_bgrewriteaof", "target": "cache", "severity": "critical",
            "reason": "pool test", "ticket": "OPS-7"}  # dry run (the default): `act` runs in the heavy pool
    run_id = api.trigger("emergency_maintenance", conf=conf)["dag_run_id"]
    done = api.wait_run("emergency_maintenance", run_id, timeout=180)
    assert done["state"] == "success", "the heavy task ran instead of waiting on a missing pool"
    assert api.pool(HEAVY_POOL)["slots"] == 2
    [notice] = wait_for(lambda: slack_texts_about(runtime_slack, f"pool `{HEAVY_POOL}` was missing"), 30,
                        "the missing-pool notice")
    assert run_id in notice
    assert "python -m mercenary_maintenance.wiring.setup" in notice
    log = airflow_runtime.log_path("scheduler").read_text(errors="replace")
    assert f"pool {HEAVY_POOL} did not exist when emergency_maintenance run {run_id} started" in log
