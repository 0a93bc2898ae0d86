"""The CeleryExecutor topology without Docker — the shape of docker-compose.yaml: PostgreSQL
metadata database, Redis broker, two ``airflow celery worker`` processes, plus api-server,
scheduler, dag-processor and triggerer."""

from __future__ import annotations

import json
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from mercenary_dev.runtime import AirflowRuntime, celery_settings

from tests.runtime.conftest import RUNTIME_BUCKET, base_config, wait_for

ROOT = Path(__file__).resolve().parents[2]
DAILY = "maintenance_daily"


def test_celery_settings_match_docker_compose():
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    ours = celery_settings("redis://127.0.0.1:1/0", "postgresql+psycopg://u:p@127.0.0.1:1/airflow")
    for key, value in ours.items():
        assert key in env, f"{key} set here but not in docker-compose.yaml"
        assert str(env[key]).split("://")[0].split("+")[0] == value.split("://")[0].split("+")[0], key
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert {k for k in env if k.startswith("AIRFLOW__CELERY__")} <= set(ours)


@pytest.fixture(scope="module")
def celery_runtime(pg: Any, redis_server: Any, s3: Any, runtime_slack: Any) -> Iterator[AirflowRuntime]:
    home = Path(tempfile.mkdtemp(prefix="mm-celery-"))
    pg.execute("DROP DATABASE IF EXISTS airflow_meta")
    pg.execute("CREATE DATABASE airflow_meta")
    pg.execute("DROP DATABASE IF EXISTS app_b")
    pg.execute("CREATE DATABASE app_b")
    metadata = pg.uri("airflow_meta").replace("postgresql://", "postgresql+psycopg://")
    config = home / "maintenance.yaml"
    cfg = base_config(home)
    cfg["targets"]["postgres"].append({"name": "second", "conn_id": "maintenance_postgres_b"})
    config.write_text(yaml.safe_dump(cfg))
    env = {
        **celery_settings(f"redis://127.0.0.1:{redis_server.port}/3", metadata),
        **pg.connection_env("maintenance_postgres"), **pg.connection_env("maintenance_postgres_b", "app_b"),
        **redis_server.connection_env("maintenance_redis"), **s3.connection_env("maintenance_s3"),
        **runtime_slack.connection_env("maintenance_slack"),
        "MAINTENANCE_CONFIG": str(config), "MAINTENANCE_RETRY_DELAY_SECONDS": "1",
        # a worker that vanished: its task instance is failed (then retried) after 30 s, not 5 min
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the run this test triggers
    }
    runtime = AirflowRuntime(home, extra_env=env, executor="CeleryExecutor", sql_alchemy_conn=metadata,
                             celery_workers=2)
    client = s3.client()
    if RUNTIME_BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=RUNTIME_BUCKET)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def _worker_running_a_check(runtime: AirflowRuntime, api: Any, run_id: str) -> tuple[str, dict[str, Any]] | None:
    """(worker, task instance id) of a postgres check of the run running right now: the task
    process carries the title ``airflow worker -- <ti id>`` (Task SDK) under its worker."""
    running = {t["id"]: t for t in api.task_instances(DAILY, run_id)
               if t["state"] == "running" and t["task_id"] == "postgres.check_daily"}
    if not running:
        return None
    for name, proc in runtime.procs.items():
        if not name.startswith("celery-worker"):
            continue
        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in descendants:
            try:
                title = " ".join(child.cmdline())
            except psutil.Error:
                continue
            for ti_id in running:
                if ti_id in title:
                    return name, running[ti_id]
    return None


def test_daily_with_two_targets_runs_across_both_workers_and_survives_a_killed_worker(celery_runtime, pg):
    api = celery_runtime.client()
    api.unpause(DAILY)
    run_id = api.trigger(DAILY)["dag_run_id"]
    victim, ti = wait_for(lambda: _worker_running_a_check(celery_runtime, api, run_id), 240,
                             "a postgres check running on a worker", interval=0.3)
    celery_runtime.kill(victim, signal.SIGKILL)  # the machine running it died mid-task
    done = api.wait_run(DAILY, run_id, timeout=420)
    tis = api.task_instances(DAILY, run_id)
    assert done["state"] == "success", {t["task_id"]: t["state"] for t in tis}
    retried = [t for t in tis if t["try_number"] > 1]
    # a new try is a new task instance id: match the task and map index
    [killed] = [t for t in tis if (t["task_id"], t["map_index"]) == (ti["task_id"], ti["map_index"])]
    assert killed["try_number"] > 1, "the task killed with its worker was retried"
    assert killed["state"] == "success"
    for worker in ("celery-worker-1", "celery-worker-2"):  # both workers took tasks of this run
        assert "received" in celery_runtime.log_path(worker).read_text(errors="replace"), worker
    reports = list((celery_runtime.home / "reports" / DAILY).glob("*/report.json"))
    assert [p.parent.name for p in reports] == [run_id], "one report, for this run"
    report = json.loads(reports[0].read_text())
    labels = [t["task"] for t in report["tasks"]]
    assert len(labels) == len(set(labels)), "each task's findings and actions come from one try"
    by_label = {t["task"]: t for t in report["tasks"]}
    for ti in retried:
        label = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
        if label in by_label:
            assert by_label[label]["try_number"] == ti["try_number"], "the report keeps the retry, not the lost try"
    assert {"main", "second"} <= {f["target"] for f in report["findings"] if f["check"].startswith("postgres.")}
    assert not report["actions"] or len({(a["action"], a["target"]) for a in report["actions"]}) == len(
        report["actions"])
