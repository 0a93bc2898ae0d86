"""The preview plans from the area probes it is given (``registry.PROBES`` in the DAG; fakes here)."""

from __future__ import annotations

from datetime import datetime

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.findings import Severity
from mercenary_maintenance.plan import PostgresProbe, Probes, RedisProbe
from mercenary_maintenance.preview.collect import build_plan
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step
from mercenary_maintenance.windows.rules import UTC, WEEKLY_WINDOW

CFG = parse_config({
    "targets": {"postgres": [{"name": "main", "conn_id": "pg_main"}],
                "redis": [{"name": "cache", "conn_id": "redis_cache"}, {"name": "down", "conn_id": "redis_down"}],
                "http": []},
    "logs": {"delete_local_after_archive": True, "sets": [{"name": "app", "paths": ["/var/log/app/*.log"]}]},
})


def _redis(step: Step, target: str) -> RedisProbe:
    if target == "down":
        raise ConnectionError("Connection refused")
    return RedisProbe(purge={"object": target, "size_bytes": 3 * 2**20})


PROBES = Probes(
    postgres=lambda step, target: PostgresProbe(
        vacuum=[{"object": "public.events", "size_bytes": 2**20, "dead_tuples": 10}], database_bytes=7 * 2**20),
    redis=_redis,
    log_bytes=lambda log_set: 42,
)


def test_the_weekly_plan_comes_from_the_given_probes() -> None:
    step = Step(CFG, RunInfo(dag_id="maintenance_preview", run_id="r"))
    window = WEEKLY_WINDOW.first_starting_at_or_after(datetime(2026, 12, 2, tzinfo=UTC))
    items = build_plan(step, [("maintenance_weekly", window)], lambda dag_id: [], PROBES)
    by_action = {(i.target, i.action): i for i in items}
    assert set(by_action) == {("main", "postgres.vacuum_analyze"), ("main", "backup.restore_test"),
                              ("cache", "redis.memory_purge"), ("app", "logs.archive")}
    assert by_action[("main", "backup.restore_test")].size_bytes == 7 * 2**20
    assert by_action[("cache", "redis.memory_purge")].size_bytes == 3 * 2**20
    assert by_action[("app", "logs.archive")].figures[0]["local_bytes"] == 42
    # a target that cannot be probed is an unknown finding, and nothing is planned on it
    states = {f.target: f.severity for f in step.findings if f.check == "preview.target_state"}
    assert states == {"main": Severity.OK, "cache": Severity.OK, "down": Severity.UNKNOWN}
