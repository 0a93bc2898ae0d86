"""AOF growth found before BGREWRITEAOF and measured again after it: resolved by the rewrite."""

from __future__ import annotations

from mercenary_dev import servers

from mercenary_maintenance.config import parse_config
from mercenary_maintenance.redis import bodies
from mercenary_maintenance.report.resolution import fold_remeasured
from mercenary_maintenance.runinfo import RunInfo
from mercenary_maintenance.steps import Step


def test_aof_growth_is_resolved_by_the_rewrite(connections):
    server = servers.RedisServer(appendonly=True).start()
    try:
        client = server.client()
        for _ in range(2000):
            client.set("counter", "x" * 50)  # one key rewritten 2000 times: a rewrite shrinks it to one
        connections(server.connection_env("maintenance_redis"))
        cfg = parse_config({"targets": {"redis": [{"name": "cache"}]}, "redis": {"aof_min_bytes": 4096}})
        step = Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="r", task_id="redis.rewrite_aof"))
        bodies.aof_growth_before(step, "cache")
        bodies.bgrewriteaof(step, "cache")
        bodies.aof_growth_after(step, "cache")
        before, after = [f for f in step.findings if f.check == "redis.aof_growth"]
        assert before.severity.label == "critical", before.message
        assert after.severity.label == "ok", after.message
        # (the rewrite also reports redis.fork_latency; the AOF growth is folded into one finding)
        folded_all = fold_remeasured([f.to_dict() for f in step.findings])
        [folded] = [f for f in folded_all if f["check"] == "redis.aof_growth"]
        assert folded["resolved_by"] == {"action": "redis.bgrewriteaof", "value_after": after.value}
        assert after.value < 5  # only what was written after the rewrite (the target lock release)
    finally:
        server.cleanup()


def test_aof_off_is_ok_and_not_remeasured(connections):
    server = servers.RedisServer(appendonly=False).start()
    try:
        connections(server.connection_env("maintenance_redis"))
        cfg = parse_config({"targets": {"redis": [{"name": "cache"}]}})
        step = Step(cfg, RunInfo(dag_id="maintenance_weekly", run_id="r", task_id="redis.rewrite_aof"))
        bodies.aof_growth_before(step, "cache")
        bodies.bgrewriteaof(step, "cache")  # skipped: AOF off
        bodies.aof_growth_after(step, "cache")
        [found] = step.findings
        assert (found.severity.label, found.details["aof_enabled"]) == ("ok", False)
    finally:
        server.cleanup()
