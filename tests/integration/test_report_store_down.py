"""The S3 report store is down after a successful action: the task fails loudly naming the
store, and what was done is still in the task log (audit lines and the report part)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import BaseHook  # noqa: F401  # Airflow configures logging on import: before our handler
from mercenary_dev import servers

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.steps import ReportStoreError, Step, execute_step


def _context() -> dict[str, Any]:
    return {"dag_run": SimpleNamespace(dag_id="maintenance_weekly", run_id="manual__2026-12-06T02:00:00+00:00",
                                       run_type="manual", logical_date=None, triggering_user_name="ops",
                                       data_interval_start=None, data_interval_end=None, conf={}),
            "ti": SimpleNamespace(task_id="redis.memory_purge", map_index=-1, try_number=1), "params": {}, "dag": None}


@contextmanager
def task_log(path: Path) -> Iterator[Path]:
    """Every log record of the task body at INFO and above, as the task's log handler gets them."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        handler.close()


def _aws_conn(endpoint: str) -> str:
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing-secret-key",
                       "extra": {"endpoint_url": endpoint, "region_name": "us-east-1",
                                 "config_kwargs": {"connect_timeout": 1, "read_timeout": 2,
                                                   "retries": {"mode": "standard", "total_max_attempts": 2}}}})


@pytest.mark.parametrize("store_state", ["refused", "stopped"])
def test_store_down_after_a_successful_action_fails_loudly_and_keeps_the_action_in_the_log(
        store_state: str, redis_server: servers.RedisServer, connections, tmp_path: Path) -> None:
    if store_state == "refused":
        endpoint = f"http://127.0.0.1:{servers.free_port()}"  # nothing listens: connection refused
    else:
        moto = servers.S3Server().start()
        moto.client().create_bucket(Bucket="reports")
        endpoint = moto.endpoint
        moto.stop()  # it was there when the run started; gone when the part is written
    connections({"AIRFLOW_CONN_MAINTENANCE_S3": _aws_conn(endpoint),
                 **redis_server.connection_env("maintenance_redis")})
    cfg = parse_config({"reports": {"url": "s3://reports/audit"}, "targets": {"redis": [{"name": "cache"}]}})
    client = redis_server.client()
    client.set("store-down-probe", "1")

    def body(step: Step) -> None:
        with step.action("redis.memory_purge", "cache", why="test: a real change before the store fails") as act:
            client.delete("store-down-probe")
            act.done("deleted the probe key")

    with task_log(tmp_path / "task.log") as log_file, pytest.raises(ReportStoreError) as failure:
        execute_step(body, context=_context(), cfg=cfg)

    assert client.get("store-down-probe") is None, "the action really ran"
    assert "report store s3://reports/audit unavailable" in str(failure.value)
    assert "testing-secret-key" not in str(failure.value)
    lines = log_file.read_text().splitlines()
    outcome = [line for line in lines if "maintenance.outcome" in line]
    assert outcome, "the audit line of the action is in the task log"
    assert '"status": "done"' in outcome[0]
    assert '"action": "redis.memory_purge"' in outcome[0]
    saved = [line for line in lines if "could not be stored" in line]
    assert saved, "the report part is in the task log"
    assert "deleted the probe key" in saved[0]
    assert saved[0].startswith("ERROR ")


def test_report_task_fails_when_the_store_is_down(connections) -> None:
    """The run's last task cannot read the parts: it fails (the run is failed, not green)."""
    from mercenary_maintenance.report.store import store_for

    connections({"AIRFLOW_CONN_MAINTENANCE_S3": _aws_conn(f"http://127.0.0.1:{servers.free_port()}")})
    cfg = parse_config({"reports": {"url": "s3://reports/audit"}})
    with pytest.raises(Exception, match=r"(?i)connect"):
        store_for(cfg).parts("maintenance_weekly", "manual__x")
