"""The runtime tier: the production topology (api-server, scheduler, dag-processor, triggerer
as separate processes, LocalExecutor, PostgreSQL metadata) over this project's dags/ and
plugins/, against the same real PostgreSQL, Redis, S3 and a Slack receiver as the integration tier.

One deployment per session (:func:`airflow_runtime`), shared by every runtime test: starting
it costs about a minute on a busy CI machine. Tests that change the deployment's config or
pools put them back (:func:`runtime_config`). The window test moves the clock, so it has a
deployment of its own under libfaketime (:func:`start_runtime` with ``faketime=True``; SQLite
metadata, so the database's ``now()`` moves with the clock).

Why PostgreSQL for the shared one: on SQLite, eight task starts at once once stalled the
api-server 60 s on the database lock and the scheduler exited ("database is locked").
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mercenary_dev import servers
from mercenary_dev.runtime import AirflowRuntime, RestClient

RUNTIME_BUCKET = "mercenary-runtime-backups"
DOWN_CONN = "maintenance_postgres_down"


@pytest.fixture(scope="session")
def runtime_slack() -> Iterator[servers.SlackReceiver]:
    receiver = servers.SlackReceiver().start()
    yield receiver
    receiver.cleanup()


def base_config(home: Path) -> dict[str, Any]:
    return {
        "reports": {"url": f"file://{home}/reports"},
        "targets": {"postgres": [{"name": "main", "conn_id": "maintenance_postgres"}],
                    "redis": [{"name": "cache", "conn_id": "maintenance_redis"}]},
        "backups": {"conn_id": "maintenance_s3", "bucket": RUNTIME_BUCKET},
        "host": {"paths": ["/"]},
        "emergency": {"notice_minutes": 60},
    }


def start_runtime(pg: Any, redis_server: Any, s3: Any, runtime_slack: servers.SlackReceiver, *,
                  faketime: bool, metadata: str | None) -> AirflowRuntime:
    """A started deployment over the shared servers (``metadata``: an SQLAlchemy URL, or SQLite)."""
    home = Path(tempfile.mkdtemp(prefix="mm-runtime-"))
    config = home / "maintenance.yaml"
    runtime = AirflowRuntime(home, faketime=faketime, sql_alchemy_conn=metadata)
    config.write_text(yaml.safe_dump(base_config(home) | {"alerts": {"base_url": "http://airflow.test"}}))
    client = s3.client()
    if RUNTIME_BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=RUNTIME_BUCKET)
    runtime.extra_env = {
        **pg.connection_env("maintenance_postgres"),
        # a PostgreSQL that is down: nothing listens on this port
        f"AIRFLOW_CONN_{DOWN_CONN.upper()}": f"postgresql://postgres:x@127.0.0.1:{servers.free_port()}/postgres",
        **redis_server.connection_env("maintenance_redis"),
        **s3.connection_env("maintenance_s3"),
        **runtime_slack.connection_env("maintenance_slack"),
        "MAINTENANCE_CONFIG": str(config),
        "MAINTENANCE_RETRY_DELAY_SECONDS": "1",  # retries keep their count, wait 1 s then 2 s
    }
    started = time.monotonic()
    runtime.start()
    runtime.started_in_s = time.monotonic() - started  # type: ignore[attr-defined]
    return runtime


@pytest.fixture(scope="session")
def airflow_runtime(pg: Any, redis_server: Any, s3: Any, runtime_slack: servers.SlackReceiver
                    ) -> Iterator[AirflowRuntime]:
    """api-server, scheduler, dag-processor and triggerer on loopback; deadline alerts on."""
    pg.execute("DROP DATABASE IF EXISTS airflow_runtime_meta")
    pg.execute("CREATE DATABASE airflow_runtime_meta")
    metadata = pg.uri("airflow_runtime_meta").replace("postgresql://", "postgresql+psycopg://")
    runtime = start_runtime(pg, redis_server, s3, runtime_slack, faketime=False, metadata=metadata)
    try:
        yield runtime
    finally:
        runtime.stop()


def config_overlay(runtime: AirflowRuntime) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Overlay keys on the deployment's maintenance config (read by tasks at run time); restored after."""
    path = Path(runtime.extra_env["MAINTENANCE_CONFIG"])
    original = path.read_text()

    def overlay(data: dict[str, Any]) -> None:
        merged = yaml.safe_load(original) | data
        path.write_text(yaml.safe_dump(merged))

    yield overlay
    path.write_text(original)


def report_reader(runtime: AirflowRuntime) -> Callable[[str, str], dict[str, Any]]:
    def read(dag_id: str, run_id: str) -> dict[str, Any]:
        path = runtime.home / "reports" / dag_id / run_id / "report.json"
        assert path.exists(), f"no report at {path}"
        return dict(json.loads(path.read_text()))

    return read


@pytest.fixture
def api(airflow_runtime: AirflowRuntime) -> RestClient:
    return airflow_runtime.client()


@pytest.fixture
def runtime_config(airflow_runtime: AirflowRuntime) -> Iterator[Callable[[dict[str, Any]], None]]:
    yield from config_overlay(airflow_runtime)


@pytest.fixture
def reports(airflow_runtime: AirflowRuntime) -> Callable[[str, str], dict[str, Any]]:
    return report_reader(airflow_runtime)


def slack_texts_about(receiver: servers.SlackReceiver, needle: str) -> list[str]:
    return [str(m.get("text", "")) for m in list(receiver.messages) if needle in str(m.get("text", ""))]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not seen within {timeout:.0f}s")
        time.sleep(interval)
