"""Time bounds as policy (docs/reliability.md, issue 13): every task of every DAG has an
``execution_timeout`` (a window DAG's: the window's length), and network clients are made only
by the adapters (``mercenary_maintenance.adapters``), which apply the ``timeouts`` section."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mercenary_maintenance.windows.timetable import MaintenanceWindowTimetable

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "plugins" / "mercenary_maintenance"
CLIENT_FACTORIES = re.compile(
    r"\b(PostgresHook|RedisHook|S3Hook|EC2Hook|AwsBaseHook|SlackWebhookHook|SSHHook)\(|\bpsycopg\.connect\(|\bredis\.Redis\(|\bboto3\.client\("
    r"|\bsocket\.create_connection\("
)
# The adapters are the one place (the dev harness, tools/mercenary_dev, is not in the package).
EXEMPT = {PACKAGE / "adapters"}


def _exempt(path: Path) -> bool:
    return any(path == e or e in path.parents for e in EXEMPT)


def test_every_task_of_every_dag_has_an_execution_timeout(dagbag: Any) -> None:
    missing = [f"{dag.dag_id}.{t.task_id}" for dag in dagbag.dags.values() for t in dag.tasks
               if not t.execution_timeout or t.execution_timeout <= timedelta(0)]
    assert not missing, f"tasks without execution_timeout: {missing}"
    assert dagbag.dags, "no DAG parsed"


def test_window_tasks_are_bounded_by_the_window_and_others_by_their_dag(dagbag: Any) -> None:
    from mercenary_maintenance.wiring.dagkit import TASK_TIMEOUTS

    for dag in dagbag.dags.values():
        if isinstance(dag.timetable, MaintenanceWindowTimetable):
            bound = dag.timetable.rule.duration
        else:
            bound = TASK_TIMEOUTS.get(dag.dag_id, timedelta(hours=1))
        too_long = [t.task_id for t in dag.tasks if t.execution_timeout > bound]
        assert not too_long, f"{dag.dag_id}: tasks allowed longer than {bound}: {too_long}"


def test_task_timeouts_can_be_overridden_per_dag(monkeypatch: pytest.MonkeyPatch) -> None:
    from mercenary_maintenance.wiring.dagkit import TASK_TIMEOUTS_ENV, task_timeout

    assert task_timeout("backup_full") == timedelta(hours=8)
    monkeypatch.setenv(TASK_TIMEOUTS_ENV, '{"backup_full": 60}')
    assert task_timeout("backup_full") == timedelta(seconds=60)


def test_clients_are_made_only_by_the_adapters() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _exempt(path):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if CLIENT_FACTORIES.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "make clients through mercenary_maintenance.adapters:\n" + "\n".join(offenders)


def test_the_policy_pattern_catches_each_factory() -> None:
    for line in ["PostgresHook(postgres_conn_id='x')", "RedisHook(redis_conn_id=c)", "S3Hook(aws_conn_id=c)",
                 "SlackWebhookHook(slack_webhook_conn_id=c)", "psycopg.connect(dsn)", "redis.Redis(host=h)",
                 "boto3.client('s3')", "socket.create_connection((host, port), timeout=t)"]:
        assert CLIENT_FACTORIES.search(line), line
    assert not CLIENT_FACTORIES.search("PostgresHook.get_connection(conn_id)")
    assert (PACKAGE / "adapters" / "postgres.py").exists()
