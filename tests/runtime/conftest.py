"""The runtime tier: the production topology (api-server, scheduler, dag-processor, triggerer
as separate processes, LocalExecutor, SQLite metadata) over this project's dags/ and plugins/,
against the same real PostgreSQL, Redis, S3 and a Slack receiver as the integration tier.

One deployment per session (:func:`airflow_runtime`), shared by every runtime test: starting
it costs about a minute on a busy CI machine. Tests that change the deployment's config or
pools put them back (:func:`runtime_config`).
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/runtime/" in str(item.fspath):
            item.add_marker(pytest.mark.runtime)


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


@pytest.fixture(scope="session")
def airflow_runtime(pg: Any, redis_server: Any, s3: Any, runtime_slack: servers.SlackReceiver
                    ) -> Iterator[AirflowRuntime]:
    """api-server, scheduler, dag-processor and triggerer on loopback; deadline alerts on."""
    home = Path(tempfile.mkdtemp(prefix="mm-runtime-"))
    config = home / "maintenance.yaml"
    # libfaketime on every process, real time until a test moves the clock (test_windows.py, last)
    runtime = AirflowRuntime(home, faketime=True)
    config.write_text(yaml.safe_dump(base_config(home) | {"alerts": {"base_url": "http://airflow.test"}}))
    s3.client().create_bucket(Bucket=RUNTIME_BUCKET)
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
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture
def api(airflow_runtime: AirflowRuntime) -> RestClient:
    return airflow_runtime.client()


@pytest.fixture
def runtime_config(airflow_runtime: AirflowRuntime) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Overlay keys on the deployment's maintenance config (read by tasks at run time); restored after."""
    path = Path(airflow_runtime.extra_env["MAINTENANCE_CONFIG"])
    original = path.read_text()

    def overlay(data: dict[str, Any]) -> None:
        merged = yaml.safe_load(original) | data
        path.write_text(yaml.safe_dump(merged))

    yield overlay
    path.write_text(original)


@pytest.fixture
def reports(airflow_runtime: AirflowRuntime) -> Callable[[str, str], dict[str, Any]]:
    def read(dag_id: str, run_id: str) -> dict[str, Any]:
        path = airflow_runtime.home / "reports" / dag_id / run_id / "report.json"
        assert path.exists(), f"no report at {path}"
        return dict(json.loads(path.read_text()))

    return read


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
