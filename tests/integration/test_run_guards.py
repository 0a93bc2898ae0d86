"""Run guards across mapped targets with dag.test() and real PostgreSQL servers (docs/configuration.md):
``max_errors`` stops a run acting after the first failed target, a firing P1 alert on a target
stops its heavy actions, a change freeze holds every heavy action back — each target held back
is a ``maintenance.skipped`` warning naming the guard, and nothing is done there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mercenary_dev import servers

from tests.integration.test_approvals import _run

# Only the VACUUM task, its target list and the report run; the rest of the weekly DAG is marked success.
VACUUM_ONLY = {"mark_success_pattern": r"(?!postgres\.(list_postgres_targets|vacuum_analyze)$|write_report$).*"}
DEAD = (1, 3)


@pytest.fixture(autouse=True)
def _migrated(airflow_db: Path) -> None:
    """The Airflow metadata DB (migrated once per session)."""


@pytest.fixture
def five(pg, connections, slack, tmp_path) -> Any:
    """Five PostgreSQL targets db0…db4; db1 and db3 are dead (nothing listens on their port)."""
    made, env = [], {}
    for i in range(5):
        if i in DEAD:
            env[f"AIRFLOW_CONN_PG_DB{i}"] = f"postgresql://postgres:x@127.0.0.1:{servers.free_port()}/postgres"
            continue
        db = pg.create_database(f"guards{i}_" + tmp_path.name[-8:].replace("-", "_"))
        pg.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g", db)
        made.append(db)
        env.update(pg.connection_env(f"pg_db{i}", db))
    connections(env | slack.connection_env("maintenance_slack"))
    yield [{"name": f"db{i}", "conn_id": f"pg_db{i}"} for i in range(5)]
    for db in made:
        pg.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _config(write_config: Any, targets: list[dict[str, Any]], **extra: Any) -> None:
    write_config({"targets": {"postgres": targets, "redis": [], "http": []}, "logs": {"sets": []},
                  "postgres": {"vacuum_all_tables": True, "min_dead_tuples": 0,
                               "load_guard": {"wait_seconds": 0}},
                  "timeouts": {"postgres": {"connect_s": 2}}, **extra})


def _vacuum(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in report["actions"]:
        if a["action"] == "postgres.vacuum_analyze":
            out.setdefault(a["target"], []).append(a)
    return out


def _held(report: dict[str, Any], guard: str) -> set[str]:
    return {f["target"] for f in report["findings"]
            if f["check"] == "maintenance.skipped" and f["details"].get("guard") == guard
            and f["severity"] == "warning" and f"guard {guard}" in f["message"]}


def _firing_p1(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    record = {"check": "services.status", "target": target, "level": "critical", "active_since": since,
              "firing_since": since, "notified": True, "last_notified": since}
    state = {"version": 1, "alerts": {f"services.status|{target}|critical": record}, "outbox": []}
    monkeypatch.setenv("AIRFLOW_VAR_MERCENARY_ALERT_STATE", json.dumps(state))  # the alert state Variable


def test_max_errors_stops_acting_after_the_first_failed_target_and_a_p1_stops_its_target(
        five, write_config, tmp_path, monkeypatch, slack):
    _config(write_config, five, guards={"max_errors": 1, "stop_on_alerts": ["P1"]},
            alerts={"p1_checks": ["services.status"]})
    _firing_p1(monkeypatch, "db4")
    _, report = _run(tmp_path, "maintenance_weekly", None, **VACUUM_ONLY)
    failed_instances = [t for t in report["failed_tasks"] if t.startswith("postgres.vacuum_analyze[")]
    assert failed_instances in (["postgres.vacuum_analyze[1]"], ["postgres.vacuum_analyze[3]"]), "one dead target tried"
    vacuum = _vacuum(report)
    failed = [t for t, acts in vacuum.items() if any(a["status"] == "failed" for a in acts)]
    assert len(failed) == 1, f"the second dead target is never tried: {vacuum}"
    assert failed[0] in ("db1", "db3")
    first_failure = min(a["details"]["finished_at"] for a in vacuum[failed[0]] if a["status"] == "failed")
    # (dag.test runs the mapped instances one at a time, in no promised order: those before the failure act)
    done = {t for t, acts in vacuum.items() if any(a["status"] == "done" for a in acts)}
    assert all(a["details"]["started_at"] < first_failure for t in done for a in vacuum[t] if a["status"] == "done")
    # db4 has a firing P1: held back by stop_on_alerts (checked before max_errors), never touched
    assert _held(report, "stop_on_alerts") == {"db4"}
    assert [a["status"] for a in vacuum["db4"]] == ["skipped"]
    held = _held(report, "max_errors")
    assert held, "targets after the failure are held back naming max_errors"
    assert held | done | set(failed) | {"db4"} == {f"db{i}" for i in range(5)}
    for target in held:
        assert [a["status"] for a in vacuum[target]] == ["skipped"]


def test_a_freeze_holds_back_every_heavy_action(five, write_config, tmp_path, slack):
    now = datetime.now(UTC)
    freeze = {"start": (now - timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=1)).isoformat(),
              "reason": "year-end freeze"}
    _config(write_config, five, guards={"freeze": [freeze]})
    _, report = _run(tmp_path, "maintenance_weekly", None, **VACUUM_ONLY)
    # (other areas' mapped tasks fail to expand behind their marked list tasks: only postgres counts)
    assert not [t for t in report["failed_tasks"] if t.startswith("postgres.")], "held back is no failure"
    assert _held(report, "freeze") == {f"db{i}" for i in range(5)}
    vacuum = _vacuum(report)
    assert {t: [a["status"] for a in acts] for t, acts in vacuum.items()} == {f"db{i}": ["skipped"] for i in range(5)}
    assert all("year-end freeze" in acts[0]["message"] for acts in vacuum.values())
    assert {f["severity"] for f in report["findings"] if f["target"].startswith("db")} == {"warning"}
