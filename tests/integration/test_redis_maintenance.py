"""Redis checks and weekly actions against real redis-server processes.

Each test that changes server state gets its own small server (they start in ~50 ms).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mercenary_dev import servers

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.findings import ActionStatus, Severity
from mercenary_maintenance.redis import bodies
from mercenary_maintenance.redis.lock import LOCK_KEY
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step

SECRET = "hunter2-do-not-leak"


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., servers.RedisServer]]:
    started: list[servers.RedisServer] = []

    def start(*args: str, appendonly: bool = True) -> servers.RedisServer:
        server = servers.RedisServer(args=list(args), appendonly=appendonly).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture
def step_for(connections: Callable[[dict[str, str]], None]) -> Callable[..., Step]:
    def make(server: servers.RedisServer, **config: Any) -> Step:
        connections(server.connection_env("maintenance_redis"))
        cfg = parse_config({"targets": {"redis": [{"name": "cache"}]}, **config})
        return Step(cfg, RunInfo(dag_id="test_redis", run_id="run1", task_id="task"))

    return make


def _by_check(step: Step) -> dict[str, Any]:
    return {f.check: f for f in step.findings}


def test_memory_near_small_maxmemory_and_evictions(redis_factory, step_for):
    server = redis_factory("--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru")
    client = server.client()
    for i in range(400):
        client.set(f"key:{i}", "x" * 10_000)
    step = step_for(server)
    bodies.check_redis(step, "cache")
    found = _by_check(step)
    assert not step.errors
    memory = found["redis.memory"]
    assert memory.value > 80
    assert memory.severity in (Severity.WARNING, Severity.CRITICAL)
    assert memory.details["maxmemory"] == 3 * 2**20
    assert found["redis.evictions"].severity is not Severity.OK
    assert found["redis.evictions"].value > 0


def test_counters_are_judged_as_deltas_since_the_previous_run(redis_factory, connections, tmp_path):
    from mercenary_maintenance.report.store import store_for

    server = redis_factory("--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru")
    client = server.client()
    for i in range(400):
        client.set(f"key:{i}", "x" * 10_000)
    connections(server.connection_env("maintenance_redis"))
    # A warning from 10 evicted keys on: the server may evict a key or two on its own between runs.
    cfg = parse_config({"reports": {"url": f"file://{tmp_path}/reports"}, "targets": {"redis": [{"name": "cache"}]},
                        "thresholds": {"redis_evicted_keys": {"warning": 10, "critical": 100_000}}})

    def daily(day: int) -> Step:
        run_id = f"scheduled__2026-12-0{day}T00:30:00+00:00"
        step = Step(cfg, RunInfo(dag_id="maintenance_daily", run_id=run_id, task_id="redis.check_daily"))
        bodies.check_redis(step, "cache")
        assert not step.errors
        store_for(cfg).write_report({"dag_id": "maintenance_daily", "run_id": run_id,
                                     "findings": [f.to_dict() for f in step.findings]}, "")
        return step

    first = _by_check(daily(1))["redis.evictions"]
    assert first.value > 0
    assert first.severity is not Severity.OK
    assert "no previous run" in first.message
    second = _by_check(daily(2))["redis.evictions"]  # nothing evicted since: the old events do not warn forever
    assert second.value < 10
    assert second.severity is Severity.OK
    # The value is the delta of the counter (the server may evict a key or two while over maxmemory).
    assert second.value == second.details["evicted_keys"] - first.details["evicted_keys"]
    for i in range(400, 500):
        client.set(f"key:{i}", "x" * 10_000)
    third = _by_check(daily(3))["redis.evictions"]
    assert third.value == third.details["evicted_keys"] - second.details["evicted_keys"] > 0
    assert third.severity is not Severity.OK
    assert "since the previous run" in third.message


def test_slow_commands_reported_without_secrets(redis_factory, step_for):
    server = redis_factory("--slowlog-log-slower-than", "0")
    client = server.client()
    client.config_set("requirepass", SECRET)
    client.execute_command("AUTH", SECRET)
    client.execute_command("DEBUG", "SLEEP", "0.15")
    client.set("big", "v" * 1000)
    client.config_set("requirepass", "")
    step = step_for(server)
    bodies.check_redis(step, "cache")
    slow = _by_check(step)["redis.slowlog"]
    assert slow.severity is Severity.WARNING
    assert slow.value >= 150
    commands = [e["command"] for e in slow.details["entries"]]
    assert any(c.startswith("DEBUG SLEEP") for c in commands)
    assert "v" * 40 not in str(step.findings)
    assert SECRET not in str([f.to_dict() for f in step.findings])


def test_healthy_server_daily_checks_ok_with_raw_info(redis_factory, step_for):
    server = redis_factory()
    client = server.client()
    client.set("hit", "1")
    for _ in range(1100):
        client.get("hit")
    step = step_for(server)
    bodies.check_redis(step, "cache")
    found = _by_check(step)
    assert {"redis.memory", "redis.slowlog", "redis.persistence", "redis.hit_ratio", "redis.info"} <= set(found)
    assert found["redis.persistence"].severity is Severity.OK
    assert found["redis.persistence"].details["aof_enabled"] == 1
    assert found["redis.hit_ratio"].value == 100.0
    assert found["redis.info"].details["info"]["tcp_port"] == server.port
    assert "redis.replication" not in found


def test_low_hit_ratio_is_critical(redis_factory, step_for):
    server = redis_factory()
    client = server.client()
    for i in range(1200):
        client.get(f"missing:{i}")
    step = step_for(server)
    bodies.check_redis(step, "cache")
    assert _by_check(step)["redis.hit_ratio"].severity is Severity.CRITICAL


def test_server_down_gives_unknown_findings_and_fails_the_step(redis_factory, step_for):
    server = redis_factory()
    server.stop()
    step = step_for(server)
    bodies.check_redis(step, "cache")
    assert step.findings
    assert all(f.severity is Severity.UNKNOWN for f in step.findings)
    assert step.errors


def test_memory_purge_with_jemalloc_records_before_and_after(redis_factory, step_for):
    server = redis_factory()
    client = server.client()
    assert client.info("memory")["mem_allocator"].startswith("jemalloc")
    client.mset({f"k{i}": "x" * 2000 for i in range(3000)})
    client.flushall()
    step = step_for(server)
    bodies.memory_purge(step, "cache")
    (action,) = step.actions
    assert action.status is ActionStatus.DONE, action
    assert action.details["before"]["used_memory_rss"]
    assert action.details["after"]["used_memory_rss"]
    assert client.get(LOCK_KEY) is None  # released


def test_memory_purge_dry_run_changes_nothing(redis_factory, step_for):
    server = redis_factory()
    step = step_for(server)
    bodies.memory_purge(step, "cache", dry_run=True)
    assert step.actions[0].status is ActionStatus.DRY_RUN


def test_bgrewriteaof_with_aof_on_is_confirmed(redis_factory, step_for):
    server = redis_factory(appendonly=True)
    client = server.client()
    for _ in range(50):
        client.set("counter", "1")
    rewrites_before = client.info("persistence")["aof_rewrites"]
    step = step_for(server)
    bodies.bgrewriteaof(step, "cache")
    (action,) = step.actions
    assert action.status is ActionStatus.DONE, action
    assert action.details["aof_last_bgrewrite_status"] == "ok"
    info = client.info("persistence")
    assert info["aof_rewrites"] == rewrites_before + 1
    assert info["aof_rewrite_in_progress"] == 0
    assert action.details["latest_fork_usec"] == client.info("stats")["latest_fork_usec"] > 0
    assert action.details["rewrite_s"] > 0
    [fork] = [f for f in step.findings if f.check == "redis.fork_latency"]
    assert fork.severity is Severity.OK  # a fork of a tiny server is far below redis.max_fork_ms
    assert fork.value == action.details["latest_fork_usec"] / 1000


def test_a_slow_fork_is_a_warning(redis_factory, step_for):
    server = redis_factory(appendonly=True)
    server.client().set("k", "v")
    step = step_for(server, redis={"max_fork_ms": 0.001})
    bodies.bgrewriteaof(step, "cache")
    assert step.actions[0].status is ActionStatus.DONE
    [fork] = [f for f in step.findings if f.check == "redis.fork_latency"]
    assert fork.severity is Severity.WARNING
    assert "> redis.max_fork_ms 0.001" in fork.message


def test_busy_server_makes_bgrewriteaof_wait_then_skip_with_the_figure(redis_factory, step_for):
    import threading

    server = redis_factory(appendonly=True)
    stop = threading.Event()

    def hammer() -> None:
        client = server.client()
        while not stop.is_set():
            client.incr("counter")

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while server.client().info("stats")["instantaneous_ops_per_sec"] <= 300:
            assert time.monotonic() < deadline, "the client loop never reached 300 ops/s"
            time.sleep(0.1)
        step = step_for(server, redis={"load_guard": {"max_ops_per_sec": 200, "wait_seconds": 1,
                                                      "recheck_seconds": 0.4}})
        bodies.bgrewriteaof(step, "cache")
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    action = step.actions[0]
    assert action.status is ActionStatus.SKIPPED, action
    assert "ops/s > max_ops_per_sec 200" in action.message
    [guard] = [f for f in step.findings if f.check == "redis.load_guard"]
    assert guard.severity is Severity.WARNING
    assert guard.value > 200
    assert guard.details["figures"]["connected_clients"] >= 3
    assert 0.7 <= guard.details["waited_s"] <= 1.6  # it re-checked before giving up
    assert server.client().info("persistence")["aof_rewrites"] == 0

    quiet = step_for(server, redis={"load_guard": {"max_ops_per_sec": 200, "wait_seconds": 5}})
    bodies.bgrewriteaof(quiet, "cache")  # the loop has stopped: within a few seconds it runs
    assert quiet.actions[0].status is ActionStatus.DONE, quiet.actions[0]


def test_bgrewriteaof_with_aof_off_is_skipped(redis_factory, step_for):
    server = redis_factory(appendonly=False)
    step = step_for(server)
    bodies.bgrewriteaof(step, "cache")
    assert step.actions[0].status is ActionStatus.SKIPPED
    assert "disabled" in step.actions[0].message
    assert server.client().info("persistence")["aof_rewrites"] == 0


def _slow_rewrite_server(redis_factory: Callable[..., servers.RedisServer]) -> servers.RedisServer:
    # 300 keys x 10 ms per key saved: the rewrite child takes ~3 s.
    server = redis_factory("--rdb-key-save-delay", "10000")
    server.client().mset({f"k{i}": "v" for i in range(300)})
    return server


def test_bgrewriteaof_skipped_when_a_rewrite_is_running(redis_factory, step_for):
    server = _slow_rewrite_server(redis_factory)
    client = server.client()
    client.bgrewriteaof()
    assert client.info("persistence")["aof_rewrite_in_progress"] == 1
    step = step_for(server)
    bodies.bgrewriteaof(step, "cache")
    assert step.actions[0].status is ActionStatus.SKIPPED
    assert "already in progress" in step.actions[0].message


def test_bgrewriteaof_that_outlasts_its_budget_fails(redis_factory, step_for):
    server = _slow_rewrite_server(redis_factory)
    step = step_for(server, redis={"rewrite_timeout_seconds": 0.5, "rewrite_poll_seconds": 0.1})
    started = time.monotonic()
    bodies.bgrewriteaof(step, "cache")
    assert time.monotonic() - started < 2.5
    assert step.actions[0].status is ActionStatus.FAILED
    assert "still running" in step.actions[0].message


def test_heavy_action_fails_when_the_target_lock_is_held(redis_factory, step_for):
    server = redis_factory()
    client = server.client()
    client.set(LOCK_KEY, "other_dag/run/task", px=60_000)
    step = step_for(server, redis={"lock_wait_seconds": 0.3})
    bodies.memory_purge(step, "cache")
    action = step.actions[0]
    assert action.status is ActionStatus.FAILED
    assert "other_dag/run/task" in action.message
    assert client.get(LOCK_KEY) == "other_dag/run/task"  # never released by someone else


def test_bgrewriteaof_without_memory_headroom_is_skipped_naming_the_numbers(redis_factory, step_for):
    server = redis_factory()
    rss = int(server.client().info("memory")["used_memory_rss"])
    rewrites = int(server.client().info("persistence")["aof_rewrites"])
    step = step_for(server, redis={"rewrite_memory_limit_bytes": rss, "rewrite_cow_fraction": 0.5})
    bodies.bgrewriteaof(step, "cache")
    [act] = [a for a in step.actions if a.action == "redis.bgrewriteaof"]
    assert act.status.value == "skipped"
    assert "not enough memory to fork" in act.message
    assert f"> rewrite_memory_limit_bytes {rss} B" in act.message
    assert "expected copy-on-write" in act.message
    [warning] = [f for f in step.findings if f.check == "maintenance.skipped"]
    assert warning.severity.label == "warning"
    assert int(server.client().info("persistence")["aof_rewrites"]) == rewrites, "no fork"
    # with room (the machine's memory): it rewrites
    roomy = step_for(server)
    bodies.bgrewriteaof(roomy, "cache")
    assert [a.status.value for a in roomy.actions if a.action == "redis.bgrewriteaof"] == ["done"]
