"""docker-compose.yaml: the official Airflow stack's shape, this project's mounts, the
maintained targets and the maintenance connections (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from mercenary_maintenance.config import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init"}
TARGET_SERVICES = {"app-postgres", "app-redis", "minio", "minio-init"}
CONNECTIONS = {"MAINTENANCE_POSTGRES", "MAINTENANCE_REDIS", "MAINTENANCE_S3", "MAINTENANCE_SLACK", "AIRFLOW_METADATA"}


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with the defaults (what `docker compose config` gives with no .env)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # anchors and merge keys resolved


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in service.get("environment", {}).items()}


def test_services_are_the_official_shape_plus_targets(services: dict[str, Any]) -> None:
    assert AIRFLOW_SERVICES | TARGET_SERVICES | {"postgres", "redis"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_airflow_services_share_image_executor_and_mounts(services: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        service = services[name]
        env = env_of(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:airflow@postgres/")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
        mounts = {interpolate(v).split(":")[1] for v in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts, name
        assert service["build"] == "."
    commands = {n: services[n].get("command") for n in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                        "airflow-worker": "celery worker"}


def test_mounted_folders_exist_and_config_path_is_inside_include(services: dict[str, Any]) -> None:
    for folder in ("dags", "plugins", "include"):
        assert (ROOT / folder).is_dir()
    env = env_of(services["airflow-worker"])
    path = env["MAINTENANCE_CONFIG"]
    assert path.startswith("/opt/airflow/include/")
    local = ROOT / "include" / path.removeprefix("/opt/airflow/include/")
    cfg = load_config(local)  # valid under the same rules as at task run time
    assert cfg.backups.conn_id == "maintenance_s3"
    assert [t.conn_id for t in cfg.targets.postgres] == ["maintenance_postgres"]
    assert [t.conn_id for t in cfg.targets.redis] == ["maintenance_redis"]
    bucket = cfg.reports.url.removeprefix("s3://").split("/")[0]
    init = "\n".join(services["minio-init"]["command"])
    assert f"local/{cfg.backups.bucket}" in init
    assert f"local/{bucket}" in init


def test_init_migrates_creates_user_and_heavy_pool(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    env = env_of(init)
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    script = "\n".join(init["command"])
    assert "airflow pools set maintenance_heavy" in script
    assert "airflow pools set maintenance_critical 1" in script
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_maintenance_connections_point_at_the_target_services(services: dict[str, Any]) -> None:
    env = env_of(services["airflow-worker"])
    assert {k.removeprefix("AIRFLOW_CONN_") for k in env if k.startswith("AIRFLOW_CONN_")} == CONNECTIONS
    assert "@app-postgres:5432/" in env["AIRFLOW_CONN_MAINTENANCE_POSTGRES"]
    # airflow_db.conn_id: the metadata database Airflow itself uses (same host, user and database).
    metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("://", 1)[1]
    assert env["AIRFLOW_CONN_AIRFLOW_METADATA"] == "postgresql://" + metadata.replace("@postgres/", "@postgres:5432/")
    assert env["AIRFLOW_CONN_MAINTENANCE_REDIS"].startswith("redis://app-redis:6379")
    s3 = json.loads(env["AIRFLOW_CONN_MAINTENANCE_S3"])
    assert s3["conn_type"] == "aws"
    assert s3["extra"]["endpoint_url"] == "http://minio:9000"
    assert s3["login"] == interpolate(services["minio"]["environment"]["MINIO_ROOT_USER"])
    slack = json.loads(env["AIRFLOW_CONN_MAINTENANCE_SLACK"])
    assert slack["conn_type"] == "slackwebhook"
    assert "://" in slack["password"]  # a full webhook URL (the slack-sink stand-in by default)
    assert slack["password"].startswith("http://slack-sink:8080/")
    worker_deps = services["airflow-worker"]["depends_on"]
    assert {"app-postgres", "app-redis", "minio-init"} <= set(worker_deps)


def test_targets_are_configured_like_the_plan_wants(services: dict[str, Any]) -> None:
    redis_cmd = services["app-redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    pg_cmd = " ".join(services["app-postgres"]["command"])
    assert "shared_preload_libraries=pg_stat_statements" in pg_cmd
    assert "summarize_wal=on" in pg_cmd  # incremental backups (PostgreSQL 17+)
    mounts = [v.split(":")[0] for v in services["app-postgres"]["volumes"]]
    assert all((ROOT / m).exists() for m in mounts if m.startswith("./"))


def test_dockerfile_pins_match_pyproject() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert next(line for line in dockerfile.splitlines() if line.startswith("FROM")) == "FROM apache/airflow:3.3.2"
    pinned = set(re.findall(r'"([A-Za-z0-9_.\-\[\]]+[=<>]=?[^"]+)"', dockerfile))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = set(project["dependencies"])
    # the CeleryExecutor's provider: in the dev extra (tests/runtime) and in the image
    celery = {d for d in project["optional-dependencies"]["dev"] if d.startswith("apache-airflow-providers-celery")}
    assert celery
    assert pinned == deps | celery


def compose_cli() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no docker compose CLI (install docker-compose-plugin or Debian's docker-compose)")
    proc = subprocess.run([*cli, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("services:\n", "services:\n  bad: {image: 3}\n  ", 1))
    proc = subprocess.run([*cli, "-f", str(broken), "config", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0  # the CLI really validates
